"""``skeletonzoo``: the zoo's command line.

Each subcommand lives in a small ``_add_*`` function that declares its arguments and binds a
handler; handlers only parse, call the library, and print.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ..exceptions import SkeletonZooError

Handler = Callable[[argparse.Namespace], int]


def _cmd_convert(args: argparse.Namespace) -> int:
    from ..checkpoint import read_metadata
    from ..convert import convert_to_safetensors

    out = convert_to_safetensors(args.source, args.method, args.output, stream=args.stream)
    meta = read_metadata(out)
    parts = ", ".join(
        f"{name} ({spec.config.layout}, {spec.config.num_features} features)"
        for name, spec in meta.components.items()
    )
    print(f"wrote {out}: {parts}; source sha256 {meta.provenance['source_sha256']}")
    return 0


def _add_convert(sub: argparse._SubParsersAction) -> None:
    from ..convert import REFERENCE_METHODS

    p = sub.add_parser(
        "convert",
        help="convert an original research checkpoint to a skeletonzoo .safetensors file",
        description="Convert a checkpoint saved by the original MsMCLR / CrosScale-SGCLR / "
        "AimCLR / SkeletonCLR code (torch.save of the model state dict). The file is read "
        "with weights_only=True: pickled code is refused, never run.",
    )
    p.add_argument("source", help="original checkpoint (.pt / .pth)")
    p.add_argument("--method", required=True, choices=sorted(REFERENCE_METHODS))
    p.add_argument("-o", "--output", required=True, help="destination .safetensors file")
    p.add_argument(
        "--stream", default="joint", choices=["joint", "motion", "bone"],
        help="input stream the model was trained on (the original files do not record it)",
    )
    p.set_defaults(handler=_cmd_convert)


# Subcommand builders, in the order `skeletonzoo --help` lists them.
SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_convert]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skeletonzoo",
        description="Self-supervised skeleton action encoders: list, load, embed, convert.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``skeletonzoo``; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (SkeletonZooError, FileNotFoundError, ValueError) as exc:
        print(f"skeletonzoo {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
