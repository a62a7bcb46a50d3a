"""Prepared datasets on disk: normalised positions, labels and names per split, memory-mapped.

This is what ``skeletonzoo prepare`` writes and what pretraining and evaluation read. A
prepared directory holds, for every split ``S`` of one benchmark:

* ``S_position.npy`` — float32 ``(N, 3, T, V, M)``, the model-ready positions (for the NTU
  pipeline ``T = 50``, ``V = 25``, ``M = 2``), opened memory-mapped;
* ``S_label.npy`` — int64 ``(N,)`` class ids;
* ``S_names.txt`` — one sample name per line;

and one ``meta.json`` (:class:`PreparedMeta`) naming the dataset, benchmark, layout, classes,
the :class:`~skeletonzoo.data.preprocess.Preprocess` that produced the positions, and the
sha256 of every file, so a training run can record exactly which data it saw
(:meth:`PreparedData.fingerprint`). ``meta.json`` is written last: a directory without it is
an unfinished preparation, never mistaken for a complete one.

Two writers: :func:`write_prepared` here, for splits held in memory, and
:class:`~skeletonzoo.data.prepared_writer.PreparedWriter` for long, chunked preparations
(``skeletonzoo prepare``) that must survive an interruption; both finish a split and write
``meta.json`` through the same functions here.

Nothing here is pickled.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._files import atomic_write, atomic_write_text, sha256_file
from ..exceptions import DataFormatError, DuplicateSampleWarning, PrepareError

__all__ = [
    "PREPARED_FORMAT",
    "SplitInfo",
    "PreparedMeta",
    "PreparedSplit",
    "PreparedData",
    "PreparedDataset",
    "write_prepared",
    "copies_of_train",
    "open_prepared",
    "read_prepared_meta",
    "refuse_unknown_files",
    "verify_prepared",
]

PREPARED_FORMAT = "skeletonzoo.prepared/1"


class SplitInfo(BaseModel):
    """Size and checksums of one split's files."""

    model_config = ConfigDict(extra="forbid")

    num_samples: int = Field(ge=0)
    shape: tuple[int, ...]
    sha256: dict[str, str] = Field(description="file name -> sha256 of its bytes")


class PreparedMeta(BaseModel):
    """``meta.json`` of a prepared directory."""

    model_config = ConfigDict(extra="forbid")

    format: str = PREPARED_FORMAT
    dataset: str = Field(description="'ntu60', 'ntu120', 'pkummd1', 'pkummd2', 'nwucla', ... (the registry's names)")
    benchmark: str = Field(description="'xsub', 'xview', 'xset', ...")
    layout: str = Field(description="joint layout of the stored positions")
    num_classes: int = Field(ge=1)
    class_names: list[str] = Field(default_factory=list)
    preprocessing: dict[str, Any] | None = Field(
        None, description="Preprocess.to_dict() of the normalisation applied (None: raw)"
    )
    splits: dict[str, SplitInfo]
    source: dict[str, Any] = Field(
        default_factory=dict,
        description="where the raw data came from; 'copies_of_train': split -> {sample: the 'train' sample its "
        "positions equal bit for bit} for every split but 'train' (absent: prepared before this check)",
    )

    @field_validator("dataset")
    @classmethod
    def _registry_name(cls, name: str) -> str:
        # data prepared before this rename says "pkummd" for PKU-MMD phase I; the registry and recipes say "pkummd1"
        return "pkummd1" if name == "pkummd" else name


@dataclass
class PreparedSplit:
    """One split in memory: what :func:`write_prepared` takes.

    Attributes:
        positions: ``(N, 3, T, V, M)`` float32.
        labels: ``(N,)`` int64.
        names: Sample names.
    """

    positions: np.ndarray
    labels: np.ndarray
    names: list[str]

    def __post_init__(self) -> None:
        if self.positions.ndim != 5:
            raise ValueError(f"positions must be (N, C, T, V, M), got shape {self.positions.shape}")
        n = len(self.positions)
        if len(self.labels) != n or len(self.names) != n:
            raise ValueError(
                f"{n} samples but {len(self.labels)} labels and {len(self.names)} names"
            )


def _save_array(path: Path, array: np.ndarray) -> None:
    """``np.save`` atomically (whole or absent, fsynced: ``meta.json`` is only written after)."""
    atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))


def _save_names(path: Path, names: list[str]) -> None:
    atomic_write_text(path, "".join(f"{n}\n" for n in names))


def finish_split(root: Path, split: str, labels: np.ndarray, names: list[str]) -> SplitInfo:
    """Write a split's labels and names beside its positions file (already in place); its info."""
    files = split_files(split)
    _save_array(root / files["label"], labels)
    _save_names(root / files["names"], names)
    shape = np.load(root / files["position"], mmap_mode="r").shape
    return SplitInfo(num_samples=len(names), shape=tuple(shape),
                     sha256={name: sha256_file(root / name) for name in files.values()})  # fmt: skip


def write_meta(root: Path, names: dict[str, list[str]], source: dict[str, Any], **fields: Any) -> PreparedMeta:
    """``meta.json``, written last (a folder without it is an unfinished preparation), with the
    splits' copies of training samples added to ``source``."""
    meta = PreparedMeta(source={**source, **_copies_record(root, names)}, **fields)
    atomic_write_text(root / "meta.json", meta.model_dump_json(indent=2) + "\n")
    return meta


def copies_of_train(train: np.ndarray, other: np.ndarray, chunk: int = 1024) -> list[tuple[int, int]]:
    """Samples of ``other`` whose positions equal a training sample's bit for bit.

    Such a sample is not held out: a model pretrained or fitted on ``train`` has seen it (the
    NW-UCLA release, for one, holds view-3 test clips that are copies of view-2 training clips).
    All-zero samples (clips without a skeleton, warned about when prepared) are not copies of
    anything. Samples are compared by a 128-bit hash of their bytes, and each hash match is
    confirmed byte for byte.

    Args:
        train: ``(N_train, C, T, V, M)`` positions (memory-mapped arrays are read in chunks).
        other: ``(N, C, T, V, M)`` positions of another split.
        chunk: Samples read at a time.

    Returns:
        ``(index in other, index of the first equal sample of train)`` pairs, in ``other``'s order.
    """

    def digests(array: np.ndarray) -> Iterable[bytes | None]:
        for start in range(0, len(array), chunk):
            for sample in np.ascontiguousarray(array[start : start + chunk]):
                yield hashlib.blake2b(sample.tobytes(), digest_size=16).digest() if sample.any() else None

    first: dict[bytes, int] = {}
    for i, digest in enumerate(digests(train)):
        if digest is not None:
            first.setdefault(digest, i)
    pairs = []
    for i, digest in enumerate(digests(other)):
        j = first.get(digest) if digest is not None else None
        if j is not None and np.ascontiguousarray(other[i]).tobytes() == np.ascontiguousarray(train[j]).tobytes():
            pairs.append((i, j))
    return pairs


def _copies_record(root: Path, names: dict[str, list[str]]) -> dict[str, Any]:
    """``{"copies_of_train": ...}`` for ``meta.json``'s ``source``, of the splits just written to
    ``root`` (nothing without a 'train' split); warns when a split holds copies."""
    if "train" not in names:
        return {}

    def load(split: str) -> np.ndarray:
        return np.load(root / split_files(split)["position"], mmap_mode="r")

    train = load("train")
    record: dict[str, dict[str, str]] = {}
    for split in sorted(set(names) - {"train"}):
        pairs = copies_of_train(train, load(split))
        record[split] = {names[split][i]: names["train"][j] for i, j in pairs}
        if pairs:
            shown = ", ".join(f"{a} = {b}" for a, b in list(record[split].items())[:5])
            warnings.warn(
                f"{root}: {len(pairs)} of the {len(names[split])} {split!r} samples are exact copies of 'train' "
                f"samples ({shown}{', ...' if len(pairs) > 5 else ''}): a model trained on 'train' has seen them. "
                f"meta.json lists them (source.copies_of_train); skeletonzoo-eval says how many it scores and "
                "--test-copies drop leaves them out",
                DuplicateSampleWarning,
                stacklevel=3,
            )
    return {"copies_of_train": record}


def split_files(split: str) -> dict[str, str]:
    """The file names of a split: ``{"position": ..., "label": ..., "names": ...}``."""
    return {"position": f"{split}_position.npy", "label": f"{split}_label.npy", "names": f"{split}_names.txt"}


def refuse_unknown_files(root: str | Path, splits: Iterable[str], overwrite: bool) -> None:
    """Raise :class:`PrepareError` when ``root`` has no ``meta.json`` but already holds files a
    preparation would write (a user's own arrays, or a killed run's): they are only replaced
    with ``overwrite``."""
    root = Path(root)
    if overwrite or (root / "meta.json").is_file():
        return
    found = [name for split in splits for name in split_files(split).values() if (root / name).exists()]
    if found:
        raise PrepareError(
            f"{root} holds {', '.join(found)} but no meta.json, so they are not a finished skeletonzoo "
            "preparation; pass --overwrite (overwrite=True) to replace them, or choose another --out"
        )


def write_prepared(
    root: str | Path,
    splits: dict[str, PreparedSplit],
    *,
    dataset: str,
    benchmark: str,
    layout: str,
    num_classes: int,
    class_names: list[str] | tuple[str, ...] = (),
    preprocessing: dict[str, Any] | None = None,
    source: dict[str, Any] | None = None,
) -> PreparedMeta:
    """Write ``splits`` to ``root`` (created if needed); ``meta.json`` last.

    Returns:
        The metadata written.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    infos = {}
    for split, data in splits.items():
        if any("\n" in name for name in data.names):
            raise ValueError(f"split {split!r}: sample names must not contain newlines")
        _save_array(root / split_files(split)["position"], np.ascontiguousarray(data.positions, dtype=np.float32))
        infos[split] = finish_split(root, split, np.asarray(data.labels, dtype=np.int64), data.names)
    return write_meta(
        root, {split: data.names for split, data in splits.items()}, source or {}, dataset=dataset,
        benchmark=benchmark, layout=layout, num_classes=num_classes, class_names=list(class_names),
        preprocessing=preprocessing, splits=infos,
    )  # fmt: skip


def read_prepared_meta(root: str | Path) -> PreparedMeta:
    """Read and validate ``meta.json`` of a prepared directory."""
    root = Path(root)
    path = root / "meta.json"
    if not path.is_file():
        if root.is_dir():
            hint = "no meta.json (an unfinished `skeletonzoo prepare`? run it again to complete it)"
        elif root.exists():
            hint = (f"it is a file; a prepared dataset is the folder `skeletonzoo prepare` writes (for a raw "
                    f"file: `skeletonzoo prepare DATASET --raw {root} --out DIR`, docs/data.md)")  # fmt: skip
        else:
            hint = ("the directory does not exist; make one from the raw dataset with "
                    "`skeletonzoo prepare DATASET --raw RAW --out DIR` (docs/data.md)")
        raise FileNotFoundError(f"{root} is not a prepared dataset: {hint}")
    try:
        meta = PreparedMeta.model_validate(json.loads(path.read_text()))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{path}: invalid prepared-dataset metadata: {exc}") from None
    if meta.format != PREPARED_FORMAT:
        raise DataFormatError(f"{path}: format {meta.format!r}, expected {PREPARED_FORMAT!r}")
    return meta


@dataclass
class PreparedData:
    """One split of a prepared directory, opened.

    Attributes:
        root: The directory.
        split: Split name.
        meta: The directory's metadata.
        positions: ``(N, 3, T, V, M)`` float32, memory-mapped (read-only) unless loaded.
        labels: ``(N,)`` int64.
        names: Sample names.
    """

    root: Path
    split: str
    meta: PreparedMeta
    positions: np.ndarray
    labels: np.ndarray
    names: list[str] = field(repr=False)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def layout(self) -> str:
        return self.meta.layout

    def fingerprint(self) -> str:
        """sha256 over the split's file checksums: identifies exactly the data a run saw."""
        info = self.meta.splits[self.split]
        text = json.dumps({"format": self.meta.format, "split": self.split, "sha256": info.sha256}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def verify(self) -> None:
        """Recompute every file's sha256; raise :class:`DataFormatError` on a mismatch."""
        _verify_split(self.root, self.meta, self.split)

    def dataset(self) -> PreparedDataset:
        """A map-style torch dataset over this split (works with any sampler)."""
        return PreparedDataset(self.positions, self.labels)


def _verify_split(root: Path, meta: PreparedMeta, split: str) -> None:
    for name, expected in meta.splits[split].sha256.items():
        found = sha256_file(root / name)
        if found != expected:
            raise DataFormatError(
                f"{root / name}: sha256 {found} does not match meta.json ({expected}); "
                "the file changed after preparation; prepare the dataset again (skeletonzoo prepare ... "
                "--overwrite)"
            )


def verify_prepared(root: str | Path) -> PreparedMeta:
    """Check every split's files of a prepared directory against ``meta.json``'s sha256.

    Returns:
        The metadata.

    Raises:
        DataFormatError: a file changed after preparation.
    """
    root = Path(root)
    meta = read_prepared_meta(root)
    for split in meta.splits:
        _verify_split(root, meta, split)
    return meta


def open_prepared(root: str | Path, split: str, *, mmap: bool = True) -> PreparedData:
    """Open one split of a prepared directory.

    Args:
        root: Directory written by :func:`write_prepared` / ``skeletonzoo prepare``.
        split: ``"train"``, ``"test"``, ...
        mmap: Memory-map the positions (default) instead of reading them into memory.

    Raises:
        FileNotFoundError: ``root`` is not a (complete) prepared directory.
        KeyError: ``split`` is not one of its splits (the message lists them).
        DataFormatError: a file does not match the metadata.
    """
    root = Path(root)
    meta = read_prepared_meta(root)
    if split not in meta.splits:
        raise KeyError(f"{root} has no split {split!r}; splits: {sorted(meta.splits)}")
    info = meta.splits[split]
    files = split_files(split)
    try:
        positions = np.load(root / files["position"], mmap_mode="r" if mmap else None, allow_pickle=False)
        labels = np.load(root / files["label"], allow_pickle=False)
        names = (root / files["names"]).read_text().splitlines()
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{root}: cannot read split {split!r} ({exc})") from None
    if tuple(positions.shape) != tuple(info.shape) or positions.dtype != np.float32:
        raise DataFormatError(
            f"{root / files['position']}: {positions.dtype} {tuple(positions.shape)}, meta.json says "
            f"float32 {tuple(info.shape)}"
        )
    if len(labels) != info.num_samples or len(names) != info.num_samples:
        raise DataFormatError(
            f"{root}: split {split!r} has {len(labels)} labels and {len(names)} names for "
            f"{info.num_samples} samples"
        )
    return PreparedData(root, split, meta, positions, labels.astype(np.int64, copy=False), names)


class PreparedDataset(torch.utils.data.Dataset):
    """Map-style dataset: item ``i`` is ``(positions (C, T, V, M) float32 tensor, label int)``.

    Works with any sampler (``DistributedSampler`` included). A memory-mapped ``positions``
    is pickled as a reference to its file, not as its data, so DataLoader workers started by
    ``spawn``/``forkserver`` re-open the map instead of receiving a copy of the array.
    """

    def __init__(self, positions: np.ndarray, labels: np.ndarray) -> None:
        if len(positions) != len(labels):
            raise ValueError(f"{len(positions)} samples but {len(labels)} labels")
        self.positions = positions
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(np.array(self.positions[index], dtype=np.float32)), int(self.labels[index])

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["positions"] = memmap_reference(self.positions)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["positions"] = resolve_memmap_reference(state["positions"])
        self.__dict__.update(state)


def memmap_reference(array: Any) -> Any:
    """``array`` itself, or, for a memory map of a whole file, a small picklable reference to it."""
    if isinstance(array, np.memmap) and getattr(array, "filename", None) and array.base is not None:
        if isinstance(array.base, mmap.mmap) and array.flags.c_contiguous:
            return ("skeletonzoo.memmap", str(array.filename), int(array.offset), array.dtype.str, array.shape)
    return array


def resolve_memmap_reference(ref: Any) -> Any:
    """Inverse of :func:`memmap_reference`: re-open the memory map (read-only)."""
    if isinstance(ref, tuple) and len(ref) == 5 and ref[0] == "skeletonzoo.memmap":
        _, filename, offset, dtype, shape = ref
        return np.memmap(filename, dtype=np.dtype(dtype), mode="r", offset=offset, shape=tuple(shape))
    return ref
