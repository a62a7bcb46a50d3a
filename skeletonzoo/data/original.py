"""The original research pipeline's files: ``{part}_data.npy`` / ``{part}_position.npy`` + ``{part}_label.pkl``.

``{part}_data.npy`` is stage 1 (``(N, 3, 300, 25, 2)``, zero-padded raw positions),
``{part}_position.npy`` stage 2 (``(N, 3, 50, 25, 2)``, normalised; what the pretraining and
linear-evaluation configs read). ``{part}_label.pkl`` is a pickle of the tuple
``(sample_names, labels)``; ``part`` is ``train`` or ``val``.

The label pickle is read with a restricted unpickler that only builds plain containers,
strings, numbers and numpy scalars/arrays: anything else (a class, a function, ``os.system``)
is refused with :class:`~skeletonzoo.exceptions.DataFormatError` before it is imported, so a
tampered file cannot run code. The arrays are memory-mapped.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import DataFormatError

__all__ = ["read_label_pkl", "OriginalPart", "open_original", "ORIGINAL_PARTS"]

# skeletonzoo split name -> the original code's part name
ORIGINAL_PARTS = {"train": "train", "test": "val"}

# The only globals a label pickle may name: numpy's array and scalar reconstructors, a few
# containers, and _codecs.encode, which protocol 2 uses to store bytes (numpy scalar data).
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),  # protocol 5 arrays
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str) -> None:
        super().__init__(file, encoding="latin1")  # latin1: numpy arrays pickled by Python 2
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key not in _ALLOWED_GLOBALS:
            raise DataFormatError(
                f"{self.source}: refusing to unpickle {module}.{name}; a label file holds only "
                "(sample_names, labels) as lists, strings, numbers and numpy arrays. The file is not "
                "an original-pipeline label file, or it was tampered with"
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise DataFormatError(f"{self.source}: refusing a pickle with persistent ids")


def read_label_pkl(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read ``(sample_names, labels)`` from an original ``*_label.pkl``, safely.

    Returns:
        The names and the int64 ``(N,)`` labels.

    Raises:
        DataFormatError: the pickle names anything but plain data, or is not a
        ``(names, labels)`` pair of equal lengths with integer labels.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            obj = _RestrictedUnpickler(f, str(path)).load()
    except DataFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise DataFormatError(f"{path}: not a readable label pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, (tuple, list)) or len(obj) != 2:
        raise DataFormatError(f"{path}: expected the tuple (sample_names, labels), found {type(obj).__name__}")
    names_obj, labels_obj = obj
    names = [n.decode() if isinstance(n, bytes) else n for n in list(names_obj)]
    if not all(isinstance(n, (str, np.str_)) for n in names):
        raise DataFormatError(f"{path}: sample names must be strings")
    labels = np.asarray(labels_obj)
    if labels.ndim != 1 or len(labels) != len(names):
        raise DataFormatError(f"{path}: {len(names)} names but labels of shape {labels.shape}")
    if labels.size and (labels.dtype.kind not in "iuf" or not np.array_equal(labels, np.round(labels))):
        raise DataFormatError(f"{path}: labels must be integers, found dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise DataFormatError(f"{path}: negative label {labels.min()}")
    return [str(n) for n in names], labels.astype(np.int64)


@dataclass
class OriginalPart:
    """One part of an original-pipeline dataset, memory-mapped.

    Attributes:
        positions: ``(N, 3, T, V, M)`` float32 (read-only memory map).
        labels: ``(N,)`` int64.
        names: Sample names as stored (e.g. ``S001C001P001R001A001.skeleton``).
        normalised: ``True`` for ``*_position.npy`` (stage 2), ``False`` for ``*_data.npy``.
        path: The array file.
    """

    positions: np.ndarray
    labels: np.ndarray
    names: list[str] = field(repr=False)
    normalised: bool
    path: Path

    def __len__(self) -> int:
        return len(self.labels)


def open_original(root: str | Path, part: str, *, prefer: str = "position") -> OriginalPart:
    """Open ``{part}_position.npy`` (or ``{part}_data.npy``) with ``{part}_label.pkl`` in ``root``.

    Args:
        root: Folder holding the original files.
        part: ``"train"`` or ``"val"`` (``"test"`` is accepted for ``"val"``).
        prefer: ``"position"`` (stage 2) or ``"data"`` (stage 1) when both exist.
    """
    root = Path(root)
    part = ORIGINAL_PARTS.get(part, part)
    order = ("position", "data") if prefer == "position" else ("data", "position")
    array_path = next((root / f"{part}_{kind}.npy" for kind in order if (root / f"{part}_{kind}.npy").is_file()), None)
    label_path = root / f"{part}_label.pkl"
    if array_path is None or not label_path.is_file():
        raise FileNotFoundError(
            f"{root}: need {part}_position.npy (or {part}_data.npy) and {part}_label.pkl from the original pipeline"
        )
    try:
        positions = np.load(array_path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise DataFormatError(f"{array_path}: not a plain .npy array ({exc})") from None
    if positions.ndim != 5 or positions.shape[1] != 3:
        raise DataFormatError(f"{array_path}: shape {positions.shape}, expected (N, 3, T, V, M)")
    if positions.dtype != np.float32:
        raise DataFormatError(f"{array_path}: dtype {positions.dtype}, expected float32")
    names, labels = read_label_pkl(label_path)
    if len(names) != len(positions):
        raise DataFormatError(f"{label_path}: {len(names)} samples but {array_path.name} has {len(positions)}")
    return OriginalPart(positions, labels, names, array_path.name.endswith("_position.npy"), array_path)
