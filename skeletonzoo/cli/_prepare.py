"""``skeletonzoo prepare``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _stamp(out: str | Path) -> int | None:
    """When ``out``'s ``meta.json`` was last written (``None``: not there)."""
    path = Path(out) / "meta.json"
    return path.stat().st_mtime_ns if path.is_file() else None


def _summary(out: object, meta: object, stamp: int | None = None) -> str:
    """One prepared output in two lines; ``stamp`` (:func:`_stamp` before the work) tells a
    preparation that was finished already (its ``meta.json`` untouched) from a new one."""
    from ..data.prepared import PreparedMeta

    assert isinstance(meta, PreparedMeta)
    splits = ", ".join(f"{s} {i.num_samples:,} {tuple(i.shape[1:])}" for s, i in meta.splits.items())
    done = " (prepared before: nothing to do)" if stamp is not None and stamp == _stamp(str(out)) else ""
    counts = meta.source.get("count_check") or "not checked (the input's own split)"
    return f"{out}: {meta.dataset} {meta.benchmark}: {splits}{done}\n  counts: {counts}"


def _positive(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    try:
        return _prepare(args)
    except KeyboardInterrupt:
        if args.dataset == "nwucla":  # seconds of work, not resumable: the generic message
            raise
        # --overwrite discards an unfinished preparation: continuing is the command without it
        again = "the same command again without --overwrite" if args.overwrite else "the same command again"
        print(f"skeletonzoo prepare: interrupted; the clips written so far are kept in {args.out}: run {again} "
              "to continue", file=sys.stderr)  # fmt: skip
        return 130


def _prepare(args: argparse.Namespace) -> int:
    from ..data import prepare as p

    raw = args.raw
    missing = [path for path in raw if not Path(path).exists()]
    if missing:
        raise FileNotFoundError(f"--raw {missing[0]}: no such file or folder; give the raw data's folder (or, for "
                                "nwucla, nwucla.npz)")  # fmt: skip
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise ValueError(f"--out {args.out} is a file; give the folder to write the prepared dataset into")
    if args.dataset == "nwucla":
        if len(raw) != 1:
            raise ValueError("nwucla takes one --raw: nwucla.npz or a folder of the per-clip JSON files")
        if args.benchmark and set(args.benchmark) != {"xview"}:
            raise ValueError(f"NW-UCLA has one benchmark here, xview (views 1, 2 train, view 3 test); "
                             f"got --benchmark {' '.join(args.benchmark)}")  # fmt: skip
        stamp = _stamp(args.out)
        meta = p.prepare_nwucla_dataset(raw[0], args.out, overwrite=args.overwrite)
        print(_summary(args.out, meta, stamp))
        return 0
    if args.dataset == "original":
        if len(raw) != 1 or not args.as_dataset or not args.benchmark or len(args.benchmark) != 1:
            raise ValueError("original takes one --raw folder, --as DATASET and one --benchmark")
        stamp = _stamp(args.out)
        meta = p.prepare_original(raw[0], args.out, dataset=args.as_dataset, benchmark=args.benchmark[0],
                                  num_classes=args.num_classes, overwrite=args.overwrite)  # fmt: skip
        print(_summary(args.out, meta, stamp))
        return 0
    if args.dataset in ("ntu60", "ntu120"):
        plan = p.plan_ntu(raw, args.dataset, args.benchmark)
    else:
        plan = p.plan_pkummd(raw, p.PKU_PHASES[args.dataset], args.benchmark, allow_incomplete=args.allow_incomplete)
    verdicts = p.check_counts(plan, allow_incomplete=args.allow_incomplete)
    outs = p.output_dirs(args.out, plan.benchmarks)
    stamps = {b: _stamp(out) for b, out in outs.items()}
    metas = p.run_plan(plan, outs, workers=args.workers, batch_size=args.batch_size, overwrite=args.overwrite,
                       verdicts=verdicts)  # fmt: skip
    for b, meta in metas.items():
        print(_summary(outs[b], meta, stamps[b]))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..data.prepare import DATASETS

    p = sub.add_parser(
        "prepare",
        help="prepare a raw skeleton dataset (NTU RGB+D, PKU-MMD, NW-UCLA) for training and evaluation",
        description="Read the raw files, normalise them exactly like the original research pipeline "
        "(centre, resize to 50 frames, align the shoulders) and write every split of the benchmark as "
        "memory-mapped (N, 3, 50, V, M) float32 arrays with labels, names and meta.json. An interrupted "
        "run continues where it stopped when started again with the same arguments. See docs/data.md.",
    )
    p.add_argument("dataset", choices=[*DATASETS, "pkummd", "original"],
                   help="ntu60 / ntu120 (.skeleton files), pkummd1 / pkummd2 (PKU-MMD phase I / II; pkummd is "
                   "pkummd1), nwucla "
                   "(nwucla.npz or the per-clip JSON folder), original (the original pipeline's "
                   "{train,val}_{position,data}.npy + _label.pkl)")  # fmt: skip
    p.add_argument("--raw", action="append", required=True, metavar="PATH",
                   help="raw data folder (searched recursively; repeat for NTU-120's two archives) "
                   "or file")  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output: the prepared directory when one benchmark is prepared, else "
                   "DIR/<benchmark>/")  # fmt: skip
    p.add_argument("--benchmark", action="append", metavar="NAME",
                   help="xsub, xview (NTU-60, PKU-MMD), xset (NTU-120); repeatable; default: all of "
                   "the dataset's")  # fmt: skip
    p.add_argument("--workers", type=_positive, default=None, help="parsing processes (default: the CPU count)")
    p.add_argument("--batch-size", type=_positive, default=256,
                   help="clips per normalisation batch and progress record")  # fmt: skip
    p.add_argument("--allow-incomplete", action="store_true",
                   help="prepare a raw folder whose sample counts differ from the official ones")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace another preparation found in --out")
    p.add_argument("--as", dest="as_dataset", metavar="DATASET", help="original: the dataset the files hold")
    p.add_argument("--num-classes", type=int, help="original: classes, for datasets other than ntu60/ntu120")
    p.set_defaults(handler=_run)
