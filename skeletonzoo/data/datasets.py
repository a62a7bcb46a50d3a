"""Torch datasets for training and evaluation, over memory-mapped arrays.

* :class:`~skeletonzoo.data.prepared.PreparedDataset` (``open_prepared(...).dataset()``):
  fixed-length prepared positions ``(C, T, V, M)``;
* :class:`ArrayDataset`: any ``(N, C, T, V, M)`` array (``.npy`` memory map, numpy, torch),
  optionally with labels and a per-sample transform;
* :class:`ClipDataset`: variable-length raw clips stored ragged, as one ``(F, C, V, M)``
  array of all frames plus ``offsets`` (clip ``i`` is ``frames[offsets[i]:offsets[i+1]]``),
  with :func:`collate_clips`, which zero-pads a batch and returns its lengths, for
  :class:`~skeletonzoo.data.preprocess.Preprocess` (``preprocess(batch.x, batch.lengths)``).

All are map-style with ``__len__``, so ``torch.utils.data.DistributedSampler`` (and any other
sampler) splits them across processes; memory maps are pickled as references to their files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ..exceptions import DataFormatError
from .prepared import memmap_reference, resolve_memmap_reference

__all__ = ["ArrayDataset", "ClipDataset", "ClipBatch", "collate_clips", "load_positions"]


def load_positions(path: str | Path, *, mmap: bool = True) -> np.ndarray:
    """Open a plain ``(N, C, T, V, M)`` positions ``.npy`` file (memory-mapped by default).

    Raises:
        DataFormatError: the file is not a 5-dimensional float array (or needs unpickling).
    """
    path = Path(path)
    try:
        x = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        raise DataFormatError(f"{path}: not a plain .npy array ({exc})") from None
    if x.ndim != 5:
        raise DataFormatError(f"{path}: shape {x.shape}; positions are (N, C, T, V, M), e.g. (N, 3, 50, 25, 2)")
    if x.dtype.kind != "f":
        raise DataFormatError(f"{path}: dtype {x.dtype}; positions are floating point")
    return x


class ArrayDataset(torch.utils.data.Dataset):
    """Map-style dataset over ``(N, C, T, V, M)`` positions.

    Args:
        positions: numpy (possibly memory-mapped) or torch array.
        labels: ``(N,)`` class ids, or ``None`` (items are then positions alone).
        transform: Applied to each ``(C, T, V, M)`` float32 tensor.
    """

    def __init__(
        self,
        positions: np.ndarray | torch.Tensor,
        labels: np.ndarray | Sequence[int] | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if positions.ndim != 5:
            raise ValueError(f"positions must be (N, C, T, V, M), got shape {tuple(positions.shape)}")
        if labels is not None and len(labels) != len(positions):
            raise ValueError(f"{len(positions)} samples but {len(labels)} labels")
        self.positions = positions
        self.labels = None if labels is None else np.asarray(labels, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, index: int) -> Any:
        x = self.positions[index]
        x = x.float() if isinstance(x, torch.Tensor) else torch.from_numpy(np.array(x, dtype=np.float32))
        if self.transform is not None:
            x = self.transform(x)
        return x if self.labels is None else (x, int(self.labels[index]))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "positions": memmap_reference(self.positions)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "positions": resolve_memmap_reference(state["positions"])})


class ClipBatch(NamedTuple):
    """A padded batch of clips: ``x`` ``(N, C, T_max, V, M)``, ``lengths`` ``(N,)``, ``labels`` ``(N,)``."""

    x: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor


class ClipDataset(torch.utils.data.Dataset):
    """Variable-length clips stored ragged; item ``i`` is ``(clip (C, T_i, V, M) float32, label)``.

    Args:
        frames: ``(F, C, V, M)`` all frames of all clips, in order (may be memory-mapped).
        offsets: ``(N + 1,)`` increasing; clip ``i`` is ``frames[offsets[i]:offsets[i+1]]``.
        labels: ``(N,)`` class ids.
        names: Optional clip names.
    """

    def __init__(
        self,
        frames: np.ndarray,
        offsets: np.ndarray | Sequence[int],
        labels: np.ndarray | Sequence[int],
        names: Sequence[str] | None = None,
    ) -> None:
        offsets = np.asarray(offsets, dtype=np.int64)
        if frames.ndim != 4:
            raise ValueError(f"frames must be (F, C, V, M), got shape {frames.shape}")
        if offsets.ndim != 1 or len(offsets) != len(labels) + 1 or offsets[0] != 0 or offsets[-1] != len(frames):
            raise ValueError(f"offsets must run from 0 to {len(frames)} with one entry per clip plus one")
        if (np.diff(offsets) < 0).any():
            raise ValueError("offsets must not decrease")
        self.frames = frames
        self.offsets = offsets
        self.labels = np.asarray(labels, dtype=np.int64)
        self.names = list(names) if names is not None else None

    @classmethod
    def from_clips(cls, clips: Sequence[np.ndarray], labels: Sequence[int], names: Sequence[str] | None = None
                   ) -> ClipDataset:  # fmt: skip
        """Build from ``(C, T_i, V, M)`` arrays (stored ragged, ``(F, C, V, M)``)."""
        if not clips:
            raise ValueError("no clips")
        # (C, T_i, V, M) -> (T_i, C, V, M), then all clips' frames end to end
        frames = np.concatenate([np.moveaxis(np.asarray(c, dtype=np.float32), 1, 0) for c in clips])
        offsets = np.concatenate([[0], np.cumsum([c.shape[1] for c in clips])])
        return cls(frames, offsets, labels, names)

    def __len__(self) -> int:
        return len(self.labels)

    def length(self, index: int) -> int:
        """Frames of clip ``index``."""
        return int(self.offsets[index + 1] - self.offsets[index])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        start, end = self.offsets[index], self.offsets[index + 1]
        clip = np.array(self.frames[start:end], dtype=np.float32)  # (T_i, C, V, M)
        return torch.from_numpy(np.ascontiguousarray(clip.transpose(1, 0, 2, 3))), int(self.labels[index])

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "frames": memmap_reference(self.frames)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({**state, "frames": resolve_memmap_reference(state["frames"])})


def collate_clips(batch: Sequence[tuple[torch.Tensor, int]]) -> ClipBatch:
    """Zero-pad ``(C, T_i, V, M)`` clips to the longest: a :class:`ClipBatch` with the lengths."""
    if not batch:
        raise ValueError("empty batch")
    c, _, v, m = batch[0][0].shape
    lengths = torch.tensor([clip.shape[1] for clip, _ in batch], dtype=torch.long)
    x = batch[0][0].new_zeros(len(batch), c, max(1, int(lengths.max())), v, m)
    for i, (clip, _) in enumerate(batch):
        if clip.shape[0] != c or clip.shape[2:] != (v, m):
            raise ValueError(f"clip {i} has shape {tuple(clip.shape)}, expected ({c}, T, {v}, {m})")
        x[i, :, : clip.shape[1]] = clip
    return ClipBatch(x, lengths, torch.tensor([label for _, label in batch], dtype=torch.long))
