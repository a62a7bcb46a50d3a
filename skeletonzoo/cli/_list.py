"""``skeletonzoo list``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..registry import ModelInfo


def _paper_top1(info: ModelInfo) -> str:
    metrics = [m for m in info.paper_metrics if m.name == "linear_top1_best"]
    return f"{metrics[0].value:.1f}" if metrics else "-"


def _run(args: argparse.Namespace) -> int:
    from ..registry import list_models, model_info

    pretrained = True if args.pretrained else None
    names = list_models(args.pattern, pretrained=pretrained)
    if not names:
        hint = " with published weights" if args.pretrained else ""
        wider = f"*{args.pattern}*"
        if not any(c in args.pattern for c in "*?[") and list_models(wider, pretrained=pretrained):
            print(f"no model{hint} is named {args.pattern!r}; the pattern is matched whole: try "
                  f"`skeletonzoo list '{wider}'`")  # fmt: skip
        else:
            print(f"no model{hint} matches {args.pattern!r}; `skeletonzoo list` shows them all")
        return 1
    infos = [model_info(n) for n in names]
    if args.json:
        print(json.dumps([i.model_dump(mode="json") for i in infos], indent=2))
        return 0
    rows = [("NAME", "STREAM", "FEATURES", "WEIGHTS", "PAPER TOP-1")]
    rows += [(i.name, i.stream, str(i.num_features), "yes" if i.pretrained else "-", _paper_top1(i)) for i in infos]
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    published = sum(i.pretrained for i in infos)
    print(
        f"\n{len(infos)} models, {published} with published weights; PAPER TOP-1: linear evaluation, "
        "best epoch, quoted from the paper (`skeletonzoo info NAME` for details)"
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="list the zoo's models",
        description="List registered model names ({method}-{dataset}-{split}[-{stream}]), with their stream, "
        "embedding size, whether weights are published, and the paper's linear-evaluation top-1.",
    )
    p.add_argument("pattern", nargs="?", default="*", help="fnmatch pattern, e.g. 'msmclr-*' (default: all)")
    p.add_argument("--pretrained", action="store_true", help="only models whose weights are published")
    p.add_argument("--json", action="store_true", help="print every entry as JSON")
    p.set_defaults(handler=_run)
