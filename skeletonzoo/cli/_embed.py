"""``skeletonzoo embed``."""

from __future__ import annotations

import argparse
import time
import zipfile
from pathlib import Path
from typing import Any


def read_input(path: Path, key: str | None) -> Any:
    """The samples in an ``.npy`` (memory-mapped) or ``.npz`` file.

    ``.npz``: the array ``key``; else its only array; else, if every array is one sample
    ``(C, T_i, V, M)``, the list of them in file order.
    """
    import numpy as np

    if path.is_dir() and (path / "meta.json").is_file():  # a prepared dataset: its positions are normalised
        splits = sorted(p.name for p in path.glob("*_position.npy"))
        raise FileNotFoundError(
            f"{str(path)!r} is a prepared dataset folder, not a file; embed one of its splits' positions, which "
            f"are normalised already: {path / (splits[0] if splits else 'SPLIT_position.npy')} --no-preprocess"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no input file at {str(path)!r}")
    if path.suffix == ".npy":
        if key is not None:
            raise ValueError("--key selects an array of an .npz file; this is an .npy file")
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:  # truncated, object arrays, not NumPy
            raise ValueError(f"{path}: cannot read it as a NumPy array of numbers ({exc}); write it with "
                             "np.save(path, float32_array)") from None  # fmt: skip
    if path.suffix != ".npz":
        raise ValueError(f"{path}: INPUT must be a .npy or .npz file (got {path.suffix or 'no extension'!r})")
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is not None:
                if key not in names:
                    raise ValueError(f"{path} has no array {key!r}; it holds {names}")
                return archive[key]
            if len(names) == 1:
                return archive[names[0]]
            arrays = [archive[n] for n in names]
    except (OSError, EOFError, zipfile.BadZipFile) as exc:  # missing pieces, truncated, not a zip
        raise ValueError(f"{path}: cannot read it as an .npz archive ({exc})") from None
    except ValueError as exc:
        if str(exc).startswith(str(path)):  # ours, above
            raise
        raise ValueError(f"{path}: cannot read it as an .npz archive of numbers ({exc})") from None
    if arrays and all(a.ndim == 4 for a in arrays):
        return arrays
    shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
    raise ValueError(f"{path} holds several arrays ({shapes}); choose one with --key NAME")


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from .._files import atomic_write, check_output
    from ..api import embed, load

    output = Path(args.output)
    if output.suffix != ".npy":
        raise ValueError(f"-o/--output must end in .npy, got {str(output)!r}")
    check_output(output, overwrite=args.overwrite, inputs=[args.input])
    data = read_input(Path(args.input), args.key)
    start = time.perf_counter()
    model = load(args.name, device=args.device, cache_dir=args.cache_dir, revision=args.revision)
    features = embed(model, data, batch_size=args.batch_size, preprocess=not args.no_preprocess, layout=args.layout)
    atomic_write(output, lambda f: np.save(f, features, allow_pickle=False))
    seconds = time.perf_counter() - start
    print(
        f"wrote {output}: {features.shape[0]} x {features.shape[1]} float32 features from "
        f"{getattr(model, 'model_name', args.name)} ({seconds:.1f} s)",
    )
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed",
        help="turn skeleton sequences into feature vectors",
        description="Embed skeleton sequences with a zoo model and the preprocessing it was trained with. "
        "INPUT is an .npy array (N, C, T, V, M) or (C, T, V, M), or an .npz holding one such array (or "
        "several (C, T_i, V, M) samples of different lengths); zero frames are padding.",
    )
    p.add_argument("name", help="model name (e.g. msmclr-nwucla-xview) or path to a .safetensors checkpoint")
    p.add_argument("input", help=".npy or .npz file of skeleton sequences")
    p.add_argument("-o", "--output", required=True, help="destination .npy file (N, num_features) float32")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT file")
    p.add_argument("--key", help="array of the .npz file to embed")
    p.add_argument("--layout", help="layout the input is in, when not the model's (e.g. nwucla20, coco17)")
    p.add_argument(
        "--no-preprocess",
        action="store_true",
        help="input is already-normalised positions (e.g. the original code's *_position.npy)",
    )
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default cpu)")
    p.add_argument("--revision", help="which published weights (>= 7 characters of the Hub commit or sha256)")
    p.add_argument("--cache-dir", help="download cache (default $SKELETONZOO_CACHE or $HF_HOME/skeletonzoo)")
    p.set_defaults(handler=_run)
