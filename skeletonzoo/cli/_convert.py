"""``skeletonzoo convert``."""

from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from .._files import check_output
    from ..checkpoint import read_metadata
    from ..convert import convert_to_safetensors

    check_output(args.output, overwrite=args.overwrite, inputs=[args.source])
    out = convert_to_safetensors(args.source, args.method, args.output, stream=args.stream)
    meta = read_metadata(out)
    parts = ", ".join(
        f"{name} ({spec.config.layout}, {spec.config.num_features} features)"
        for name, spec in meta.components.items()
    )
    print(f"wrote {out}: {parts}; source sha256 {meta.provenance['source_sha256']}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")
    p.add_argument(
        "--stream", default="joint", choices=["joint", "motion", "bone"],
        help="input stream the model was trained on (the original files do not record it)",
    )
    p.set_defaults(handler=_run)
