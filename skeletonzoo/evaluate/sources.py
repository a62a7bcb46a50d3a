"""Where a frozen-encoder protocol gets its features: a cache, or the encoder itself.

The linear protocol of the papers runs the frozen encoder (eval mode, un-augmented input) on
every batch of every epoch. Because nothing about that computation changes between epochs,
the features can be extracted once and indexed instead (:class:`CachedFeatures`);
:class:`EncoderFeatures` runs the encoder on each requested batch, as the original code does,
and exists so that the equivalence can be tested and benchmarked. Both compute the features
through :func:`skeletonzoo.features.extract_features`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from torch import nn

from .._machine import usable_device
from ..features import extract_features
from ..models.ensemble import num_features_of

__all__ = ["FeatureSource", "CachedFeatures", "EncoderFeatures"]


class FeatureSource(Protocol):
    """Maps sample indices to their ``(B, num_features)`` float32 features."""

    num_features: int

    def __len__(self) -> int: ...

    def __call__(self, indices: torch.Tensor) -> torch.Tensor: ...


class CachedFeatures:
    """Features computed once: ``(N, D)`` rows indexed on the training device.

    Args:
        features: ``(N, D)`` array or tensor.
        device: Where the rows live (and the classifier trains).
    """

    def __init__(self, features: np.ndarray | torch.Tensor, device: str | torch.device = "cpu") -> None:
        tensor = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features)
        if tensor.dim() != 2:
            raise ValueError(f"features must be (N, D), got shape {tuple(tensor.shape)}")
        self.features = tensor.to(device=usable_device(device), dtype=torch.float32)
        self.num_features = int(tensor.shape[1])

    def __len__(self) -> int:
        return len(self.features)

    def __call__(self, indices: torch.Tensor) -> torch.Tensor:
        return self.features[indices.to(self.features.device)]


class EncoderFeatures:
    """Runs the frozen ``encoder`` on the requested samples at every call.

    Args:
        encoder: ``(B, C, T, V, M) -> (B, D)`` module; run in eval mode without gradients.
        positions: ``(N, C, T, V, M)`` normalised positions (memory-mapped is fine).
        stream: Stream derived from the positions inside the encoder call.
        layout: Joint layout (for the bone stream).
        device: Where the encoder runs and the features are returned.
        batch_size: Largest forward pass.
    """

    def __init__(
        self,
        encoder: nn.Module,
        positions: np.ndarray,
        *,
        stream: str = "joint",
        layout: str = "ntu25",
        device: str | torch.device = "cpu",
        batch_size: int = 256,
    ) -> None:
        self.encoder = encoder
        self.positions = positions
        self.stream = stream
        self.layout = layout
        self.device = usable_device(device)
        self.batch_size = batch_size
        self.num_features = num_features_of(encoder)

    def __len__(self) -> int:
        return len(self.positions)

    def __call__(self, indices: torch.Tensor) -> torch.Tensor:
        batch = self.positions[indices.cpu().numpy()]
        out = extract_features(
            self.encoder, batch, stream=self.stream, layout=self.layout, batch_size=self.batch_size,
            device=self.device, progress=False,
        )  # fmt: skip
        return torch.from_numpy(out).to(self.device)

    def extract_all(self, *, progress: bool | None = None, desc: str = "features") -> np.ndarray:
        """Features of every sample, ``(N, D)`` float32, reading the positions batch by batch."""
        return extract_features(
            self.encoder, self.positions, stream=self.stream, layout=self.layout, batch_size=self.batch_size,
            device=self.device, progress=progress, desc=desc,
        )  # fmt: skip
