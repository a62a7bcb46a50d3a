"""Batched feature extraction: normalised positions in, pooled encoder features out.

The one loop every consumer shares — ``skeletonzoo.embed`` (after validation and
preprocessing), the evaluation protocols and the demo — so they all compute the same numbers:
positions are moved to the device a batch at a time, the model's stream is derived from them
(``data.streams``: the stream belongs to the model, not the data), and the encoder runs in eval
mode under ``torch.inference_mode`` (its fused path: BatchNorm folded, padded persons computed
once).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ._machine import usable_device
from .data.streams import to_stream

__all__ = ["extract_features"]


def extract_features(
    encoder: nn.Module,
    positions: np.ndarray | torch.Tensor,
    *,
    stream: str = "joint",
    layout: str = "ntu25",
    batch_size: int = 256,
    device: str | torch.device | None = None,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: bool | None = None,
    desc: str = "embedding",
) -> np.ndarray:
    """Pooled features of already-normalised positions.

    Args:
        encoder: Module mapping ``(B, C, T, V, M)`` to ``(B, D)`` (a ``SkeletonEncoder``).
            It is put in eval mode for the call and restored afterwards.
        positions: ``(N, C, T, V, M)`` positions (numpy, possibly memory-mapped, or torch).
        stream: ``"joint"``, ``"motion"`` or ``"bone"``, derived from the positions per batch.
        layout: Layout of the joint axis (for the bone stream's parents).
        batch_size: Samples per forward pass.
        device: Where to run; default the encoder's device.
        transform: Optional extra map applied after the stream (e.g. a joint grouping).
        progress: Show a progress bar; default when stderr is a terminal and there is more
            than one batch.
        desc: Progress bar label.

    Returns:
        float32 ``(N, D)`` numpy array (``(0, D)`` for empty input when ``D`` is known).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if device is None:
        first = next(iter(encoder.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    device = usable_device(device)
    n = len(positions)
    num_features = getattr(encoder, "num_features", None)
    if n == 0:
        if num_features is None:
            raise ValueError("empty input and the encoder has no num_features attribute")
        return np.zeros((0, int(num_features)), dtype=np.float32)
    if progress is None:
        progress = sys.stderr.isatty() and n > batch_size
    was_training = encoder.training
    encoder.eval()
    chunks: list[np.ndarray] = []
    try:
        with torch.inference_mode():
            starts = range(0, n, batch_size)
            for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
                batch = positions[start : start + batch_size]
                if isinstance(batch, torch.Tensor):
                    x = batch.to(device=device, dtype=torch.float32)
                else:  # copy: memory-mapped input is read-only
                    x = torch.from_numpy(np.array(batch, dtype=np.float32)).to(device)
                x = to_stream(x, stream, layout)
                if transform is not None:
                    x = transform(x)
                chunks.append(encoder(x).float().cpu().numpy())
    finally:
        encoder.train(was_training)
    return np.concatenate(chunks).astype(np.float32, copy=False)
