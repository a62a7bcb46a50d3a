"""``skeletonzoo-pretrain``: run a pretraining recipe (also under ``torchrun --nproc_per_node=N``).

    skeletonzoo-pretrain RECIPE_OR_MODEL_NAME --data PREPARED_DIR [--out DIR] [--resume]
                         [--set key=value ...] [--device D]
    skeletonzoo-pretrain --list
    skeletonzoo-pretrain RECIPE --show [--set ...]

Argument parsing only; the work is ``skeletonzoo.pretrain.trainer.Trainer``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..exceptions import SkeletonZooError

if TYPE_CHECKING:
    from ..pretrain.recipe import Recipe


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="skeletonzoo-pretrain",
        description="Pretrain a skeleton encoder with a recipe (a bundled recipe name = the zoo model "
        "name it produces, or a YAML file). Runs under torchrun for multi-GPU/multi-process training.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("recipe", nargs="?", help="bundled recipe / zoo model name, or a recipe YAML file")
    p.add_argument("--data", help="prepared dataset directory (`skeletonzoo prepare ...`); its train split is used")
    p.add_argument("--out", help="output directory (default: runs/RECIPE)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a recipe field, dotted for nested ones (e.g. --set epochs=100 --set optimizer.lr=0.05)",
    )  # fmt: skip
    p.add_argument("--device", help="torch device (default: cuda:LOCAL_RANK if available, else cpu)")
    p.add_argument(
        "--threads", type=int,
        help="CPU threads per process (torch.set_num_threads); 1 when several runs share a small machine",
    )  # fmt: skip
    p.add_argument(
        "--export-only", action="store_true",
        help="export the run's last checkpoint (OUT/checkpoints/last.pt) without training further; the "
        "export records the epochs actually run (for a run stopped early)",
    )  # fmt: skip
    p.add_argument("--list", action="store_true", help="list the bundled recipes and exit")
    p.add_argument("--show", action="store_true", help="print the resolved recipe and exit")
    return p


def _recipe_with_overrides(out: Path, saved: dict[str, Any], named: str, overrides: list[str]) -> Recipe:
    """The recipe the run in ``out`` was started with (``saved``, its ``recipe.json``, ``--set``
    flags included) with this command's ``overrides`` on top, so ``--resume`` and
    ``--export-only`` need no flags repeated (``--resume --set epochs=400`` extends the run as it was)."""
    from ..pretrain.recipe import recipe_from_mapping
    from ..pretrain.trainer import RECIPE_FILE

    if saved.get("name") != named:
        raise ValueError(f"{out} holds a run of recipe {saved.get('name')!r}, not {named!r}; give that "
                         "recipe, or another --out")  # fmt: skip
    return recipe_from_mapping(saved, overrides, source=str(out / RECIPE_FILE))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``skeletonzoo-pretrain``; returns the exit status."""
    from .main import exit_quietly

    try:
        return exit_quietly("skeletonzoo-pretrain", lambda: _main(argv))
    finally:
        _close_process_group()


def _close_process_group() -> None:
    """Under torchrun: leave the process group before exiting, failed or not (gloo's threads
    otherwise abort the process at exit, and torchrun reports a crash over the real message)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from ..pretrain.recipe import list_recipes, load_recipe, recipe_name
    from ..pretrain.trainer import Trainer, TrainingInterrupted, saved_run_recipe

    try:
        if args.list:
            if args.recipe:
                parser.error("--list lists every bundled recipe; give no RECIPE with it (--show prints one)")
            print("\n".join(list_recipes()))
            return 0
        if not args.recipe:
            parser.error("a recipe (name or YAML file) is required")
        continuing = args.resume or args.export_only
        # the recipe's name (a --set name=... included): the run's default folder, and what a run there must be
        named = recipe_name(args.recipe, args.overrides)
        out = Path(args.out or f"runs/{named}")
        saved = saved_run_recipe(out) if continuing else None
        if saved is not None:
            # the run's own recipe (its --set flags included), this command's --set on top
            recipe = _recipe_with_overrides(out, saved, named, args.overrides)
        else:
            recipe = load_recipe(args.recipe, args.overrides)
        if args.show:  # what this command would run: with --resume, the run's own recipe
            print(recipe.model_dump_json(indent=2))
            return 0
        if not args.data:
            if args.export_only:  # the export records the data's preprocessing and checks its fingerprint
                parser.error("--export-only needs --data PREPARED_DIR too: the run's data, whose preprocessing the "
                             "export records and whose fingerprint must match the checkpoint's")  # fmt: skip
            parser.error("--data PREPARED_DIR is required to train")
        if args.threads is not None and args.threads < 1:
            parser.error(f"--threads must be at least 1, not {args.threads}")
        if args.threads is not None:
            import torch

            torch.set_num_threads(args.threads)
        from .._malloc import retain_freed_memory

        # a training process reuses each step's large activations (see skeletonzoo._malloc)
        retain_freed_memory()
        words = argv if argv is not None else sys.argv[1:]
        command = "skeletonzoo-pretrain " + " ".join(shlex.quote(a) for a in words)
        trainer = Trainer(
            recipe, args.data, out, resume=args.resume or args.export_only, device=args.device, command=command,
        )  # fmt: skip
        if args.export_only:
            result = trainer.export_trained()
            if result.weights is not None:  # rank 0 (the others write nothing)
                print(f"wrote {result.weights} ({result.epochs_run} of {recipe.epochs} epochs)")
            return 0
        if trainer.is_main:
            print(recipe.summary(), file=sys.stderr, flush=True)
        result = trainer.run()
        if trainer.is_main and result.weights is not None:
            print(f"wrote {result.weights} ({result.epochs_run} epochs, {result.wall_time_s:.0f} s), "
                  f"model card {result.model_card}, manifest entry {result.manifest_entry}")  # fmt: skip
        return 0
    except TrainingInterrupted as exc:
        _say(f"skeletonzoo-pretrain: {exc}")
        return 130
    except (SkeletonZooError, FileNotFoundError, FileExistsError, ValueError, KeyError) as exc:
        _say(f"skeletonzoo-pretrain: error: {exc}")
        return 2


def _say(message: str) -> None:
    """Print to stderr. Under torchrun every process stops with the same message and each prints
    it: torchrun ends the others as soon as one exits, so one printing process could be cut off."""
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
