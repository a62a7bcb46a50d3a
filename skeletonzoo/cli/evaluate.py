"""``skeletonzoo-eval``: run the evaluation protocols on a checkpoint and a prepared dataset.

Argument parsing only; the work is :func:`skeletonzoo.evaluate.evaluate_model`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from pydantic import ValidationError

from .._files import check_output
from .._machine import usable_device
from .._version import __version__
from ..evaluate import MSMCLR_FINETUNE_RECIPE, FinetuneRecipe
from ..evaluate.run import PROTOCOLS
from ..exceptions import SkeletonZooError
from .main import exit_quietly

if TYPE_CHECKING:
    from ..data.prepared import PreparedMeta

PROTOCOL_CHOICES = (*PROTOCOLS, "all")  # "all": every protocol


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skeletonzoo-eval",
        description="Evaluate a skeletonzoo encoder on a prepared dataset (train split -> test split): "
        "linear probe on frozen features, kNN, fine-tuning, semi-supervised 1 % / 10 % labels. "
        "Accuracies are in %; trained protocols report the last epoch (honest) and the best test epoch "
        "(what the original code reports). See docs/evaluation.md.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument(
        "model", nargs="?", metavar="MODEL",
        help="zoo model name (e.g. msmclr-nwucla-xview) or skeletonzoo .safetensors checkpoint; its 'joint' "
        "encoder is evaluated",
    )  # fmt: skip
    p.add_argument(
        "--revision", metavar="REV",
        help="which published weights of MODEL: a prefix of their sha256 or Hub commit (default: the newest)",
    )  # fmt: skip
    p.add_argument("--data", required=True, help="prepared dataset directory (skeletonzoo prepare)")
    p.add_argument(
        "--protocol", nargs="+", default=["linear", "knn"], choices=PROTOCOL_CHOICES, metavar="PROTOCOL",
        help="one or more of linear, knn, finetune, semi, all (default: linear knn)",
    )  # fmt: skip
    p.add_argument(
        "--random-init", nargs="?", const="reference", choices=["reference", "pytorch"], metavar="INIT",
        help="evaluate a randomly initialised encoder (MODEL's architecture if given, else the default "
        "ST-GCN on the data's layout), seeded with --seed: the floor baseline. INIT: 'reference' (default; "
        "the original pretraining's N(0, 0.02) init, what training starts from) or 'pytorch' (PyTorch's "
        "default init)",
    )  # fmt: skip
    p.add_argument("--stream", choices=["joint", "motion", "bone"], help="stream of a --random-init encoder")
    p.add_argument("--seed", type=int, default=0, help="seeds initialisations, shuffles, subsets (default 0)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument(
        "--threads", type=int, metavar="N",
        help="torch CPU threads (default: torch's, one per core). The trained probes' last digits depend on it "
        "(float32 sums split over threads round differently and the papers' lr-3.0 probe amplifies that), so "
        "the recorded command always names it",
    )  # fmt: skip
    p.add_argument("--json", metavar="OUT", help="write the metric records and full results to this file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.add_argument("--batch-size", type=int, default=256, help="samples per forward pass when extracting")
    p.add_argument(
        "--ignore-preprocessing", action="store_true",
        help="evaluate even if the data was prepared with another preprocessing than the model's",
    )  # fmt: skip
    p.add_argument(
        "--test-copies", choices=["keep", "drop"], default="keep",
        help="test samples that are exact copies of training samples (NW-UCLA has 95 of 464): score them with the "
        "rest (keep, default: the benchmark's test set) or leave them out (drop)",
    )  # fmt: skip
    g = p.add_argument_group("linear probe (defaults: the papers' protocol but for --head-init)")
    g.add_argument("--linear-epochs", type=int, default=100)
    g.add_argument("--linear-lr", type=float, default=3.0)
    g.add_argument("--linear-lr-drops", type=int, nargs="*", default=[80], help="0-based epochs of lr x0.1")
    g.add_argument("--head-init", choices=["default", "reference"],
                   help="linear and fine-tuning heads: PyTorch's nn.Linear init or the original N(0, 0.02) "
                   "(default: PyTorch's; the original's with --finetune-recipe msmclr)")
    g.add_argument("--eval-interval", type=int, metavar="N",
                   help="score the test set every N epochs and after the last, in every trained protocol "
                   "(default: 5; 3 for --semi-mode finetune)")
    g = p.add_argument_group("kNN")
    g.add_argument("--k", type=int, default=20, help="neighbours (default 20)")
    g.add_argument("--knn-weighting", choices=["similarity", "majority"], default="similarity",
                   help="similarity: votes weighted exp(cos/T) (default); majority: one vote each")
    g.add_argument("--knn-temperature", type=float, default=0.07, help="T of the similarity weighting")
    g = p.add_argument_group(
        "fine-tuning (defaults: --finetune-recipe's); these also set --semi-mode finetune's, which starts "
        "from HiCLR's semi-supervised recipe whatever --finetune-recipe says"
    )
    g.add_argument("--finetune-recipe", choices=["hiclr", "msmclr"], default="hiclr",
                   help="the recipe the options below change: hiclr (default; HiCLR's, encoder in train mode) or "
                   "msmclr (MsMCLR's released one: encoder in eval mode, lr 3.0, 100 epochs; docs/evaluation.md)")
    g.add_argument("--finetune-epochs", type=int, metavar="E",
                   help="default 70 (msmclr: 100; 60 for --semi-mode finetune)")
    g.add_argument("--finetune-lr", type=float, metavar="LR", help="default 0.1 (msmclr: 3.0)")
    g.add_argument("--finetune-lr-drops", type=int, nargs="*", metavar="EPOCH",
                   help="0-based epochs of lr x0.1 (default 29 54; msmclr: 80; 14 29 for --semi-mode finetune)")
    g = p.add_argument_group("semi-supervised")
    g.add_argument("--semi-fraction", type=float, nargs="+", default=[0.01, 0.1], help="label fractions")
    g.add_argument("--semi-mode", choices=["linear", "finetune"], default="linear",
                   help="linear classifier on frozen features (default) or fine-tuning on the subset")
    return p


# (settings model, field) -> the option that sets it, for one-line validation errors
_OPTION_OF = {
    ("LinearRecipe", "epochs"): "--linear-epochs", ("LinearRecipe", "lr"): "--linear-lr",
    ("LinearRecipe", "lr_drops_at"): "--linear-lr-drops", ("LinearRecipe", "eval_interval"): "--eval-interval",
    ("LinearRecipe", "head_init"): "--head-init", ("KNNConfig", "k"): "--k",
    ("KNNConfig", "weighting"): "--knn-weighting", ("KNNConfig", "temperature"): "--knn-temperature",
    ("FinetuneRecipe", "epochs"): "--finetune-epochs", ("FinetuneRecipe", "lr"): "--finetune-lr",
    ("FinetuneRecipe", "lr_drops_at"): "--finetune-lr-drops", ("FinetuneRecipe", "head_init"): "--head-init",
    ("FinetuneRecipe", "eval_interval"): "--eval-interval",
    ("EvalSettings", "semi_fractions"): "--semi-fraction", ("EvalSettings", "batch_size"): "--batch-size",
    ("EvalSettings", "semi_mode"): "--semi-mode", ("EvalSettings", "seed"): "--seed",
}  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``skeletonzoo-eval``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        parser.error(f"--threads must be at least 1, not {args.threads}")
    threads_before = torch.get_num_threads()
    try:
        if args.threads is not None:
            torch.set_num_threads(args.threads)
        return exit_quietly("skeletonzoo-eval", lambda: _evaluate(args, argv))
    finally:
        torch.set_num_threads(threads_before)  # main() may be called from Python: leave the process as it was


def recorded_command(argv: Sequence[str], *, revision: str | None, threads: int | None) -> str:
    """The ``skeletonzoo-eval`` command line a metric record keeps, made to re-measure the same thing.

    ``argv`` is what was typed; ``revision`` and ``threads`` are what it left out (``None``: it
    gave them, in any spelling argparse accepts). ``--revision`` (the loaded weights' sha256
    prefix) keeps a zoo name's command naming these weights after newer ones are published.
    """
    words = list(argv)
    if revision is not None:
        words += ["--revision", revision]
    if threads is not None:
        words += ["--threads", str(threads)]
    return shlex.join(["skeletonzoo-eval", *words])


_FINETUNE_RECIPES = {"hiclr": FinetuneRecipe(), "msmclr": MSMCLR_FINETUNE_RECIPE}  # --finetune-recipe


def _given(**options: object) -> dict[str, object]:
    """The options the command line set (``None``: left to the recipe's default)."""
    return {name: value for name, value in options.items() if value is not None}


def _semi_finetune_recipe(given: dict[str, object], meta: PreparedMeta) -> FinetuneRecipe:
    """Semi-supervised fine-tuning's recipe with the given fine-tuning options over its defaults;
    each epoch as long as the whole training split (its size from ``meta.json``), as with the defaults."""
    from ..evaluate.semi import SEMI_FINETUNE_RECIPE

    if "train" not in meta.splits:
        raise KeyError(f"the prepared data has no 'train' split to fine-tune on; splits: {sorted(meta.splits)}")
    return SEMI_FINETUNE_RECIPE.with_changes(**given, epoch_length=meta.splits["train"].num_samples)


def _evaluate(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        from ..data.prepared import read_prepared_meta
        from ..evaluate import EvalSettings, KNNConfig, LinearRecipe, evaluate_model, load_eval_model

        if args.json:  # before hours of evaluation, not after
            check_output(args.json, overwrite=args.overwrite, flag="--overwrite")
        chosen = PROTOCOLS if "all" in args.protocol else args.protocol
        protocols = tuple(dict.fromkeys(chosen))
        device = usable_device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        meta = read_prepared_meta(args.data)
        layout = meta.layout
        model = load_eval_model(
            args.model, random_init=args.random_init is not None, init=args.random_init or "reference",
            seed=args.seed, layout=layout, stream=args.stream, device=device, revision=args.revision,
        )  # fmt: skip
        # the fine-tuning options given, for fine-tuning and semi-supervised fine-tuning alike
        finetune = _given(
            epochs=args.finetune_epochs, lr=args.finetune_lr, head_init=args.head_init,
            lr_drops_at=None if args.finetune_lr_drops is None else tuple(args.finetune_lr_drops),
            eval_interval=args.eval_interval,
        )  # fmt: skip
        settings = EvalSettings(
            protocols=protocols,
            seed=args.seed,
            linear=LinearRecipe(
                epochs=args.linear_epochs, lr=args.linear_lr, lr_drops_at=tuple(args.linear_lr_drops),
                **_given(head_init=args.head_init, eval_interval=args.eval_interval),
            ),
            knn=KNNConfig(k=args.k, weighting=args.knn_weighting, temperature=args.knn_temperature),
            finetune=_FINETUNE_RECIPES[args.finetune_recipe].with_changes(**finetune),
            semi_finetune=_semi_finetune_recipe(finetune, meta) if finetune else None,
            semi_fractions=tuple(args.semi_fraction),
            semi_mode=args.semi_mode,
            batch_size=args.batch_size,
            ignore_preprocessing=args.ignore_preprocessing,
            test_copies=args.test_copies,
        )  # fmt: skip
        published = getattr(model.encoder, "published", None)  # set by load() for a zoo name
        revision = published.sha256[:12] if published is not None and args.revision is None else None
        threads = torch.get_num_threads() if args.threads is None else None
        command = recorded_command(argv, revision=revision, threads=threads)
        report = evaluate_model(model, args.data, settings, device=device, command=command)
    except ValidationError as exc:  # an option out of range: name the option, in one line
        problems = "; ".join(f"{_OPTION_OF.get((exc.title, str(e['loc'][0])), exc.title)}: {e['msg']}"
                             for e in exc.errors())  # fmt: skip
        print(f"skeletonzoo-eval: error: {problems}", file=sys.stderr)
        return 2
    except (SkeletonZooError, FileNotFoundError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"skeletonzoo-eval: error: {message}", file=sys.stderr)
        return 2
    print(report.table())
    if args.json:
        report.write_json(args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
