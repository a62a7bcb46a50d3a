"""Input handling of :func:`skeletonzoo.embed`: what users pass in (a batch, one sample, a
list of clips of different lengths; numpy, torch, memory-mapped), checked before any
computation and handed to feature extraction a batch at a time.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .exceptions import InputWarning

__all__ = ["ArrayLike", "Samples", "PreparedBatches", "as_samples", "check_values", "numeric", "warn_if_normalised"]

ArrayLike = np.ndarray | torch.Tensor


def _tensor(part: ArrayLike) -> torch.Tensor:
    """A tensor as it is, or numpy data as a float32 copy (memory-mapped files are read-only,
    and float64 input becomes float32 here)."""
    return part if isinstance(part, torch.Tensor) else torch.from_numpy(np.array(part, dtype=np.float32))


@dataclass
class Samples:
    """The input as ``n`` samples ``(C, T_i, V, M)``: one padded array, or a list of clips."""

    array: ArrayLike | None
    clips: Sequence[ArrayLike] | None
    n: int
    shape: tuple[int, int, int]  # (C, V, M)

    def raw(self, start: int, stop: int) -> list[ArrayLike] | ArrayLike:
        return self.array[start:stop] if self.array is not None else list(self.clips[start:stop])  # type: ignore[index]

    def lengths_equal(self) -> bool:
        return self.clips is None or len({int(c.shape[1]) for c in self.clips}) <= 1

    def batch(self, start: int, stop: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Samples ``start:stop`` as a zero-padded float32 ``(B, C, T, V, M)`` and their lengths."""
        if self.array is not None:
            return _tensor(self.array[start:stop]).to(device=device, dtype=torch.float32), None
        assert self.clips is not None
        clips = [_tensor(c) for c in self.clips[start:stop]]
        lengths = torch.tensor([c.shape[1] for c in clips])
        c, v, m = self.shape
        out = torch.zeros(len(clips), c, int(lengths.max()), v, m, device=device)
        for i, clip in enumerate(clips):
            out[i, :, : clip.shape[1]] = clip.to(device=device, dtype=torch.float32)
        return out, lengths


def numeric(array: np.ndarray | torch.Tensor, what: str) -> np.ndarray | torch.Tensor:
    """``array`` if it holds real numbers (a tensor detached from autograd); else a clear error."""
    if isinstance(array, torch.Tensor):
        if array.dtype == torch.bool or array.is_complex():
            raise ValueError(f"{what} has dtype {array.dtype}; coordinates are real numbers (float32 is best)")
        return array.detach()
    if array.dtype == object:
        raise ValueError(f"{what} is an object array (clips of different lengths?); pass them as a list of "
                         "(C, T_i, V, M) arrays")  # fmt: skip
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ValueError(f"{what} has dtype {array.dtype}; coordinates are real numbers (float32 is best)")
    return array


def as_samples(data: Any) -> Samples:
    """``embed``'s input as :class:`Samples`: a batch ``(N, C, T, V, M)``, one sample
    ``(C, T, V, M)`` or a list of ``(C, T_i, V, M)`` clips (numpy, torch or nested lists).

    Raises:
        TypeError: a file name instead of the clips.
        ValueError: another shape, clips that differ in C, V or M, no frames, or values that
            are not real numbers.
    """
    if isinstance(data, (str, bytes, os.PathLike)):
        raise TypeError(
            f"embed takes the clips themselves (an array, a tensor or a list of samples), not a file name ({data!r}); "
            "load the file first, e.g. np.load(path), or use `skeletonzoo embed MODEL FILE.npy|.npz -o OUT.npy`"
        )
    if isinstance(data, (list, tuple)) and data and not any(isinstance(c, (np.ndarray, torch.Tensor)) for c in data):
        # nested lists of C = 2 or 3 coordinates, each (T, V, M) with a few persons: one (C, T, V, M)
        # sample, not a list of C samples (a list of (C, T, V) clips without M still gets the list's error)
        try:
            head = np.asarray(data[0], dtype=np.float32)
            one_sample = len(data) in (2, 3) and head.ndim == 3 and head.shape[-1] <= 4
        except (ValueError, TypeError):  # ragged inside: left to the checks below
            one_sample = False
        if one_sample:
            return as_samples(np.asarray(data, dtype=np.float32))
    if isinstance(data, (list, tuple)):
        clips = [numeric(c if isinstance(c, (np.ndarray, torch.Tensor)) else np.asarray(c, dtype=np.float32),
                          f"sample {i}") for i, c in enumerate(data)]  # fmt: skip
        if not clips:
            return Samples(None, [], 0, (0, 0, 0))
        first = tuple(clips[0].shape)
        for i, clip in enumerate(clips):
            if clip.ndim != 4:
                raise ValueError(f"sample {i} has shape {tuple(clip.shape)}; a list takes (C, T_i, V, M) samples")
            if (clip.shape[0], clip.shape[2], clip.shape[3]) != (first[0], first[2], first[3]):
                raise ValueError(
                    f"sample {i} has shape {tuple(clip.shape)} but sample 0 has {first}; all samples need the "
                    "same C, V and M (only the length T_i may differ)"
                )
            if clip.shape[1] < 1:
                raise ValueError(f"sample {i} has no frames (T=0)")
        return Samples(None, clips, len(clips), (first[0], first[2], first[3]))
    if not isinstance(data, (np.ndarray, torch.Tensor)):
        data = np.asarray(data, dtype=np.float32)
    data = numeric(data, "the input")
    if data.ndim == 4:
        # one sample is one clip: all its frames are its own (a batch's trailing all-zero frames
        # are padding), as when it comes in a list
        return as_samples([data])
    if data.ndim != 5:
        raise ValueError(
            f"expected a batch (N, C, T, V, M), one sample (C, T, V, M) or a list of (C, T_i, V, M) samples; "
            f"got shape {tuple(data.shape)}"
        )
    if data.shape[2] < 1 and data.shape[0] > 0:
        raise ValueError(f"input has no frames (T=0): shape {tuple(data.shape)}")
    return Samples(data, None, int(data.shape[0]), (int(data.shape[1]), int(data.shape[3]), int(data.shape[4])))


# Kinect camera-space coordinates are metres, a few at most: far larger ones are another unit
LARGEST_METRES = 50.0


def check_values(samples: Samples, num_persons: int | None, chunk: int = 256) -> None:
    """Reject NaN/inf, and persons beyond ``num_persons`` that hold data, naming the samples;
    warn about all-zero samples and coordinates too large to be metres."""
    bad: list[int] = []
    crowded: list[int] = []
    empty: list[int] = []
    padded: list[int] = []  # clips given one by one that end in all-zero frames
    largest = 0.0
    for start in range(0, samples.n, chunk):
        raw = samples.raw(start, min(start + chunk, samples.n))
        items = [raw] if not isinstance(raw, list) else [c[None] for c in raw]
        offset = start
        for part in items:
            x = _tensor(part)
            flat = x.reshape(x.shape[0], -1)
            bad += (offset + torch.nonzero(~torch.isfinite(flat).all(dim=1)).flatten()).tolist()
            if flat.numel():
                empty += (offset + torch.nonzero(flat.eq(0).all(dim=1)).flatten()).tolist()
                if isinstance(raw, list) and x.shape[2] > 1 and not x[0, :, -1].any() and x[0].any():
                    padded.append(offset)
                largest = max(largest, float(flat.nan_to_num(0.0, 0.0, 0.0).abs().max()))
            if num_persons is not None and x.shape[-1] > num_persons:
                extra = x[..., num_persons:].reshape(x.shape[0], -1)
                crowded += (offset + torch.nonzero(extra.ne(0).any(dim=1)).flatten()).tolist()
            offset += x.shape[0]

    def show(indices: list[int]) -> str:
        return ", ".join(map(str, indices[:10])) + (f", ... ({len(indices)} in all)" if len(indices) > 10 else "")

    def which(indices: list[int], verb: str, verb_one: str) -> str:
        return f"samples {show(indices)} {verb}" if len(indices) > 1 else f"sample {indices[0]} {verb_one}"

    if bad:
        raise ValueError(f"{which(bad, 'contain', 'contains')} NaN or inf values; clean or drop them before embedding")
    if crowded:
        raise ValueError(
            f"{which(crowded, 'have', 'has')} data in persons beyond the {num_persons} the model was trained with "
            f"(M={samples.shape[2]}); select the persons to embed first"
        )
    if empty:
        theirs = "their features describe" if len(empty) > 1 else "its features describe"
        warnings.warn(f"{which(empty, 'are', 'is')} all zeros (padding only): {theirs} no motion", InputWarning,
                      stacklevel=3)  # fmt: skip
    if padded:
        warnings.warn(
            f"{which(padded, 'end', 'ends')} in all-zero frames, counted as frames of the clip: a clip given on its "
            "own (one (C, T, V, M) sample, or in a list) is all its frames, and only a padded batch's trailing "
            "all-zero frames are padding; if these are padding (a row cut from a padded batch), embed the batch, "
            "or trim each clip to its real length first", InputWarning, stacklevel=3,
        )  # fmt: skip
    if largest > LARGEST_METRES:
        warnings.warn(f"coordinates reach {largest:g}: the models were trained on metres (Kinect camera space); "
                      "if these are millimetres, divide by 1000 first", InputWarning, stacklevel=3)  # fmt: skip


def warn_if_normalised(samples: Samples, centre: int, n: int = 64) -> None:
    """Warn when the first samples look already normalised (their centre joint at the origin in
    every frame, as after the pipeline's centring): preprocessing them again changes them."""
    raw = samples.raw(0, min(n, samples.n))
    clips = [c[None] for c in raw] if isinstance(raw, list) else [raw]
    found = False
    for clip in clips:
        x = _tensor(clip)
        person = x[..., 0]  # (N, C, T, V): the first person
        present = person.ne(0).any(dim=1).any(dim=-1)  # (N, T): frames holding data
        if not present.any():
            continue
        centre_at_origin = person[:, :, :, centre].abs().amax(dim=1).lt(1e-6)  # (N, T)
        if not centre_at_origin[present].all():
            return
        found = True
    if found:
        warnings.warn(
            "the input's centre joint sits at the origin in every frame, as in already-normalised positions "
            "(e.g. the original code's *_position.npy or a prepared dataset); they are normalised again. Pass "
            "preprocess=False (--no-preprocess on the command line) if they are", InputWarning, stacklevel=3,
        )


class PreparedBatches:
    """Sliceable view handing :func:`~skeletonzoo.features.extract_features` model-ready batches.

    ``extract_features`` takes ``positions[start:stop]`` one batch at a time; this view
    preprocesses each slice as it is taken, so raw input is never normalised all at once.
    """

    def __init__(
        self,
        samples: Samples,
        step: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
        device: torch.device,
    ) -> None:
        self.samples, self.step, self.device = samples, step, device

    def __len__(self) -> int:
        return self.samples.n

    def __getitem__(self, index: slice) -> torch.Tensor:
        start, stop, _ = index.indices(self.samples.n)
        x, lengths = self.samples.batch(start, stop, self.device)
        return self.step(x, lengths)
