"""``skeletonzoo demo``: the zoo end to end on bundled data, offline.

It loads ``msmclr-nwucla-xview`` from the weights bundled in the package (sha256 checked by the
hub), embeds a handful of bundled NW-UCLA clips from the camera held out of training
(view 3; raw Kinect v1 joints, normalised by the model's own preprocessing through
:func:`skeletonzoo.embed`), and prints for each clip its true action, the action predicted by
a linear classifier trained on the frozen features of the training views (1 and 2), its
nearest training clip by cosine similarity, and the time taken.

The demo's assets (``skeletonzoo/samples/``):

* ``nwucla_clips.npz`` — the sample clips (``joints`` ``(frames, 20, 3)`` float32 with
  ``offsets``, ``names``, ``labels``, ``class_names``), taken unchanged from the NW-UCLA
  dataset (see ``samples/README.md`` for attribution and terms);
* ``<model>.demo.safetensors`` — the linear head (``head.weight``, ``head.bias``) and the
  feature bank of the training clips (``bank.features``, L2-normalised float16, ``bank.labels``),
  with the names, class names, how the head was trained and the sha256 of the encoder weights
  they were computed with in its metadata;
* ``demo.json`` — the sha256 of both files, checked before anything is used.

:func:`build_demo_assets` makes them (``skeletonzoo demo --build-assets``).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO, cast

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file

from ._files import sha256_file
from .exceptions import ChecksumError, SkeletonZooError

__all__ = ["DEMO_MODEL", "SAMPLES_DIR", "DemoRow", "DemoResult", "run_demo", "build_demo_assets"]

DEMO_MODEL = "msmclr-nwucla-xview"
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
CLIPS_FILE = "nwucla_clips.npz"
INDEX_FILE = "demo.json"


@dataclass
class DemoRow:
    """One clip's line of the demo."""

    name: str
    true_label: int
    predicted: int
    confidence: float
    neighbour: str
    neighbour_label: int
    similarity: float


@dataclass
class DemoResult:
    """Everything the demo printed, for tests and callers."""

    model: str
    class_names: list[str]
    rows: list[DemoRow]
    load_seconds: float
    embed_seconds: float

    @property
    def correct(self) -> int:
        return sum(r.predicted == r.true_label for r in self.rows)


def _assets(samples_dir: Path, model: str) -> tuple[Path, Path, dict[str, Any]]:
    index_path = samples_dir / INDEX_FILE
    if not index_path.is_file():
        raise SkeletonZooError(
            f"{samples_dir} has no {INDEX_FILE}: the demo assets are missing from this installation; "
            "reinstall skeletonzoo, or build them with `skeletonzoo demo --build-assets`"
        )
    index = json.loads(index_path.read_text())
    if index.get("model") != model:
        raise SkeletonZooError(f"the demo assets in {samples_dir} were made for {index.get('model')!r}, not {model!r}")
    paths = {}
    for name, expected in index["files"].items():
        path = samples_dir / name
        if not path.is_file():
            raise SkeletonZooError(f"demo asset {path} is missing; reinstall skeletonzoo")
        found = sha256_file(path)
        if found != expected:
            raise ChecksumError(f"demo asset {path} has sha256 {found}, expected {expected}; reinstall skeletonzoo")
        paths[name] = path
    return paths[CLIPS_FILE], paths[f"{model}.demo.safetensors"], index


def _read_clips(path: Path) -> tuple[list[np.ndarray], list[str], np.ndarray, list[str]]:
    with np.load(path, allow_pickle=False) as z:
        joints, offsets = z["joints"], z["offsets"]
        names = [str(n) for n in z["names"]]
        labels = z["labels"].astype(np.int64)
        class_names = [str(c) for c in z["class_names"]]
    # (T_i, 20, 3) -> (C=3, T_i, V=20, M=1): the layout of skeletonzoo.embed's list input
    clips = [joints[offsets[i] : offsets[i + 1]].transpose(2, 0, 1)[..., None] for i in range(len(names))]
    return clips, names, labels, class_names


def run_demo(
    *,
    model: str = DEMO_MODEL,
    samples_dir: Path = SAMPLES_DIR,
    device: str = "cpu",
    file: TextIO | None = None,
) -> DemoResult:
    """Run the demo and print its table to ``file`` (default stdout)."""
    from .api import embed, load

    out = file or sys.stdout
    clips_path, head_path, _ = _assets(samples_dir, model)
    start = time.perf_counter()
    encoder = load(model, device=device, local_files_only=True)
    load_seconds = time.perf_counter() - start
    with safe_open(str(head_path), framework="pt") as f:
        meta = json.loads(f.metadata()["skeletonzoo_demo"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    published = getattr(encoder, "published", None)
    if published is not None and meta["weights_sha256"] != published.sha256:
        raise SkeletonZooError(
            f"the demo's head and feature bank were computed with weights {meta['weights_sha256'][:12]}, but "
            f"{model} loaded {published.sha256[:12]}; rebuild them with `skeletonzoo demo --build-assets`"
        )
    clips, names, labels, class_names = _read_clips(clips_path)

    start = time.perf_counter()
    features = embed(encoder, clips, layout="nwucla20", device=device)
    embed_seconds = time.perf_counter() - start

    feats = torch.from_numpy(features)
    probs = torch.softmax(feats @ tensors["head.weight"].float().t() + tensors["head.bias"].float(), dim=1)
    confidence, predicted = probs.max(dim=1)
    similarity = F.normalize(feats, dim=1) @ tensors["bank.features"].float().t()
    best, neighbour = similarity.max(dim=1)
    bank_names, bank_labels = meta["bank_names"], tensors["bank.labels"]
    rows = [
        DemoRow(names[i], int(labels[i]), int(predicted[i]), float(confidence[i]), bank_names[int(neighbour[i])],
                int(bank_labels[int(neighbour[i])]), float(best[i]))
        for i in range(len(names))
    ]  # fmt: skip
    result = DemoResult(model, class_names, rows, load_seconds, embed_seconds)
    _print(result, meta, out)
    return result


def _print(result: DemoResult, meta: dict[str, Any], out: TextIO) -> None:
    names = result.class_names
    width = max(len(n) for n in names)
    print(
        f"{result.model}: weights bundled with skeletonzoo (sha256 verified), loaded in {result.load_seconds:.2f} s.\n"
        f"{len(result.rows)} NW-UCLA clips from view 3, the camera held out of training (but this release's "
        "view-3 clips of 'pick up with two hands' and 'drop trash' are copies of their view-2 takes, training "
        "clips: cos 1.000 below); linear head trained on the frozen features of views 1-2 "
        f"({meta['head_protocol']}).\n",
        file=out,
    )
    header = f"{'clip':<17} {'true action':<{width}}  {'predicted (confidence)':<{width + 9}}  nearest training clip"
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in result.rows:
        mark = "ok" if r.predicted == r.true_label else "--"
        predicted = f"{names[r.predicted]} ({r.confidence:.2f})"
        print(f"{r.name:<17} {names[r.true_label]:<{width}}  {predicted:<{width + 9}} {mark}  "
              f"{r.neighbour} ({names[r.neighbour_label]}, cos {r.similarity:.3f})", file=out)  # fmt: skip
    per_clip = 1000 * result.embed_seconds / max(len(result.rows), 1)
    print(
        f"\n{result.correct}/{len(result.rows)} predicted correctly. Embedding took {result.embed_seconds:.2f} s "
        f"({per_clip:.0f} ms per clip, preprocessing included) on the CPU.",
        file=out,
    )


def build_demo_assets(
    data: str | Path,
    raw: str | Path,
    *,
    model: str = DEMO_MODEL,
    out_dir: Path = SAMPLES_DIR,
    clips_per_class: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """Make the demo's assets from the published weights of ``model``.

    Args:
        data: The prepared NW-UCLA directory (``skeletonzoo prepare nwucla``): features of its
            ``train`` split make the bank and train the head (the papers' linear protocol, last
            epoch), its ``test`` split scores the head.
        raw: ``nwucla.npz`` (or the JSON folder), the source of the raw sample clips.
        model: The zoo model (its published weights must resolve).
        out_dir: Where to write the assets.
        clips_per_class: Sample clips per class, drawn (seeded) from the test view.
        seed: Seeds the draw and the linear head.

    Returns:
        The ``demo.json`` index written.
    """
    from .api import load
    from .data.nwucla import read_nwucla_json_dir, read_nwucla_npz
    from .data.prepared import open_prepared
    from .evaluate.linear import linear_probe
    from .features import extract_features
    from .manifest import PublishedWeights

    encoder = load(model, local_files_only=True)
    # an attribute load() attaches (see skeletonzoo.api), untyped on nn.Module
    published = cast("PublishedWeights | None", encoder.published)
    if published is None:
        raise SkeletonZooError(f"{model} has no published weights to build the demo from")
    train, test = open_prepared(data, "train"), open_prepared(data, "test")
    stream = str(encoder.stream)
    train_feats = extract_features(encoder, train.positions, stream=stream)
    test_feats = extract_features(encoder, test.positions, stream=stream)
    probe = linear_probe(train_feats, train.labels, test_feats, test.labels, num_classes=train.meta.num_classes,
                         seed=seed)  # fmt: skip
    head = probe.classifier.fc
    bank = F.normalize(torch.from_numpy(train_feats), dim=1).to(torch.float16)

    source = Path(raw)
    clips = read_nwucla_npz(source) if source.is_file() else read_nwucla_json_dir(source)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    test_view = clips.split_indices("test")
    for label in range(len(clips.class_names)):
        candidates = [i for i in test_view if clips.labels[i] == label]
        chosen += sorted(rng.choice(candidates, size=min(clips_per_class, len(candidates)), replace=False).tolist())
    sequences = [clips.sequences[i] for i in chosen]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sequences])]).astype(np.int64)

    out_dir.mkdir(parents=True, exist_ok=True)
    clips_path = out_dir / CLIPS_FILE
    with open(clips_path, "wb") as f:
        np.savez_compressed(
            f, joints=np.concatenate(sequences).astype(np.float32), offsets=offsets,
            names=np.array([clips.names[i] for i in chosen]), labels=clips.labels[chosen].astype(np.int64),
            class_names=np.array(clips.class_names),
        )  # fmt: skip
    r = probe.result
    meta = {
        "model": model,
        "weights_sha256": published.sha256,
        "bank_names": train.names,
        "class_names": list(clips.class_names),
        "head_protocol": f"papers' linear protocol, last of {r.epochs} epochs, {r.top1_last:.1f} % top-1 on view 3",
        "head_top1_last": r.top1_last,
        "data_fingerprint": train.fingerprint(),
    }
    head_path = out_dir / f"{model}.demo.safetensors"
    save_file(
        {"head.weight": head.weight.detach().contiguous(), "head.bias": head.bias.detach().contiguous(),
         "bank.features": bank.contiguous(), "bank.labels": torch.from_numpy(np.asarray(train.labels, np.int64))},
        str(head_path), metadata={"skeletonzoo_demo": json.dumps(meta)},
    )  # fmt: skip
    index = {"model": model, "files": {CLIPS_FILE: sha256_file(clips_path), head_path.name: sha256_file(head_path)}}
    (out_dir / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    return index
