"""Linear evaluation: features cached once against the frozen encoder run at every epoch.

Both variants train the same classifier with the papers' recipe (SGD lr 3.0, momentum 0.9,
batch 128, last incomplete batch dropped, test scored every 5 epochs and after the last) for
the same number of epochs, from the same seed, on the same data:

* per-epoch: the frozen encoder (eval mode, no gradients) runs on every training batch of
  every epoch and on the test set at every evaluation, as the original code does;
* cached: ``extract_features`` runs once over the training and test sets, then the
  classifier trains on the cached rows.

Nothing is extrapolated: both sides run ``--epochs`` epochs, and the classifiers must come out
bit-identical (their weights are compared with ``torch.equal``).

    python benchmarks/bench_eval.py [--epochs 5] [--data DIR] [--model NAME_OR_CKPT] [--write]

``--data`` is a prepared directory (default: synthetic NTU-shaped clips, 1024 train / 512 test,
``(3, 50, 25, 2)`` with half of the second persons empty). ``--write`` records the table in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_section  # noqa: E402

from skeletonzoo.data import open_prepared  # noqa: E402
from skeletonzoo.evaluate import (  # noqa: E402
    CachedFeatures,
    EncoderFeatures,
    LinearRecipe,
    load_eval_model,
    train_linear_classifier,
)


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 50, 25, 2, generator=g) * 0.3
    x[n // 2 :, ..., 1] = 0  # half of the samples have one person
    return x.numpy(), (torch.arange(n) % 60).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs of BOTH variants (default 5)")
    parser.add_argument("--data", default=None, help="prepared dataset directory (default: synthetic NTU-shaped)")
    parser.add_argument("--model", default=None,
                        help="zoo name or skeletonzoo checkpoint (default: random-init encoder)")  # fmt: skip
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--write", action="store_true", help="record results in docs/benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(min(torch.get_num_threads(), 16))
    load = os.getloadavg()[0]

    model = load_eval_model(args.model, random_init=args.model is None, seed=0, device=args.device)
    if args.data:
        train, test = open_prepared(args.data, "train"), open_prepared(args.data, "test")
        x_train, y_train, x_test, y_test = train.positions, train.labels, test.positions, test.labels
        num_classes, layout = train.meta.num_classes, train.meta.layout
        data = f"{train.meta.dataset} {train.meta.benchmark} (prepared at {args.data})"
    else:
        (x_train, y_train), (x_test, y_test) = synthetic(1024, 0), synthetic(512, 1)
        num_classes, layout = 60, "ntu25"
        data = "synthetic NTU-shaped clips (3, 50, 25, 2), half single-person"
    recipe = LinearRecipe(epochs=args.epochs)
    sources = {
        name: EncoderFeatures(model.encoder, x, stream=model.stream, layout=layout, device=args.device)
        for name, x in (("train", x_train), ("test", x_test))
    }

    sources["train"](torch.arange(8))  # warm-up (first-call allocations) outside the timings

    start = time.perf_counter()
    per_epoch = train_linear_classifier(
        sources["train"], y_train, sources["test"], y_test, num_classes=num_classes, recipe=recipe,
        device=args.device, progress=False,
    )  # fmt: skip
    t_per_epoch = time.perf_counter() - start

    start = time.perf_counter()
    cached_train = CachedFeatures(sources["train"].extract_all(progress=False), args.device)
    cached_test = CachedFeatures(sources["test"].extract_all(progress=False), args.device)
    t_extract = time.perf_counter() - start
    cached = train_linear_classifier(
        cached_train, y_train, cached_test, y_test, num_classes=num_classes, recipe=recipe, device=args.device,
        progress=False,
    )  # fmt: skip
    t_cached = time.perf_counter() - start
    t_cached_train = t_cached - t_extract

    same = torch.equal(per_epoch.classifier.fc.weight, cached.classifier.fc.weight) and torch.equal(
        per_epoch.classifier.fc.bias, cached.classifier.fc.bias
    )
    # Features of a clip can differ in the last bits between batch compositions (the encoder
    # runs on batches of 128 per epoch, of batch_size when cached); report how far that carries.
    weight_diff = float((per_epoch.classifier.fc.weight - cached.classifier.fc.weight).abs().max())
    weight_scale = float(per_epoch.classifier.fc.weight.abs().max())
    a, b = per_epoch.result, cached.result
    same_scores = a.history == b.history
    e = args.epochs
    print(f"per-epoch: {t_per_epoch:.2f} s for {e} epochs ({t_per_epoch / e:.3f} s/epoch)")
    print(f"cached:    {t_cached:.2f} s for {e} epochs: extraction {t_extract:.2f} s once + training "
          f"{t_cached_train:.3f} s ({1000 * t_cached_train / e:.2f} ms/epoch)")  # fmt: skip
    print(f"ratio {t_per_epoch / t_cached:.1f}x total, {t_per_epoch / t_cached_train:.0f}x per training epoch; "
          f"classifier identical: {same}; scores identical: {same_scores} "
          f"(top-1 {a.top1_last:.2f} / {b.top1_last:.2f})")  # fmt: skip

    table = [
        "## Linear evaluation: cached features vs. the frozen encoder every epoch (`benchmarks/bench_eval.py`)",
        "",
        f"Machine: {machine()}; 1-minute load average {load:.1f} when the run started (the cores are shared).",
        f"Command: `python {' '.join(sys.argv)}`; encoder: {model.description}, {model.stream} stream; data: {data}, "
        f"{len(y_train)} train / {len(y_test)} test samples.",
        f"Both variants ran the papers' linear recipe for the same {e} epochs from the same seed (nothing "
        "extrapolated). Per-epoch: the frozen encoder runs on every training batch and on the test set at every "
        "evaluation (as the original code does). Cached: `extract_features` once over both splits, then the "
        "classifier trains on the cached rows.",
        "",
        "| variant | total (s) | one-time extraction (s) | per epoch, after the extraction | ratio (total) |",
        "|---|---|---|---|---|",
        f"| per-epoch encoder | {t_per_epoch:.2f} | – | {t_per_epoch / e:.3f} s | 1.0x |",
        f"| cached features | {t_cached:.2f} | {t_extract:.2f} | {1000 * t_cached_train / e:.2f} ms | "
        f"{t_per_epoch / t_cached:.1f}x |",
        "",
        f"Same result: classifier weights bit-identical: **{same}** (largest difference {weight_diff:.1e}, "
        f"largest weight {weight_scale:.2f}); test scores at every evaluated epoch identical: "
        f"**{same_scores}** (top-1 after epoch {e}: {a.top1_last:.2f} % per-epoch, {b.top1_last:.2f} % cached). "
        f"Per training epoch the cached variant is {t_per_epoch / t_cached_train:.0f}x faster; the total ratio "
        f"grows with the number of epochs because the extraction is paid once (the papers' protocol runs 100).",
    ]
    if args.write:
        write_section("eval", "\n".join(table))
    print("\n".join(table))


if __name__ == "__main__":
    main()
