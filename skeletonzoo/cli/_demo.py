"""``skeletonzoo demo``: the README's main job, offline on bundled weights and clips."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from ..demo import build_demo_assets, run_demo

    if args.build_assets:
        if not (args.data and args.raw):
            raise ValueError("--build-assets needs --data PREPARED_NWUCLA_DIR and --raw nwucla.npz")
        index = build_demo_assets(args.data, args.raw, model=args.model)
        print(f"wrote the demo assets: {', '.join(index['files'])}")
        return 0
    if args.data or args.raw:
        raise ValueError("--data and --raw are for --build-assets (maintainers); the demo itself runs on the "
                         "bundled clips: `skeletonzoo demo`")  # fmt: skip
    run_demo(model=args.model, device=args.device)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..demo import DEMO_MODEL

    p = sub.add_parser(
        "demo",
        help="embed bundled NW-UCLA clips with the bundled msmclr-nwucla-xview weights (offline)",
        description="Load the bundled msmclr-nwucla-xview weights (sha256 checked), embed NW-UCLA clips "
        "from the camera held out of training, and print each clip's true action, the action a linear "
        "head trained on the other cameras predicts, its nearest training clip, and the time taken. "
        "Needs no network.",
    )
    p.add_argument("--model", default=DEMO_MODEL, help=argparse.SUPPRESS)
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--build-assets", action="store_true", help="(maintainers) rebuild the demo's head, bank and clips")
    p.add_argument("--data", help="with --build-assets: the prepared NW-UCLA directory")
    p.add_argument("--raw", help="with --build-assets: nwucla.npz or the per-clip JSON folder")
    p.set_defaults(handler=_run)
