"""Heads on top of the pooled encoder representation.

* :class:`ProjectionHead`: the contrastive projection of every method here (MoCo-v2 style MLP
  ``Linear -> ReLU -> Linear``, or one ``Linear`` when ``mlp=False``).
* :class:`ScaleProjectionHead`: CrosScale-SGCLR's 10-part head, ``Linear -> ReLU`` followed by
  the joint encoder's whole projection head, which it shares (the same module object).
* :class:`LinearClassifier`: the linear-evaluation / fine-tuning classifier.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ProjectionHead", "ScaleProjectionHead", "LinearClassifier"]


class ProjectionHead(nn.Module):
    """``(N, in_features) -> (N, out_features)``, not normalised.

    Args:
        in_features: Encoder ``num_features`` (256).
        out_features: Projection size (the papers' ``feature_dim``, 128).
        mlp: Two layers with a ReLU (``fc1``, ``fc2``); one ``Linear`` (``fc2``) otherwise.
    """

    def __init__(self, in_features: int = 256, out_features: int = 128, mlp: bool = True) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.fc1: nn.Linear | None = nn.Linear(in_features, in_features) if mlp else None
        self.fc2 = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fc1 is not None:
            x = F.relu(self.fc1(x))
        return self.fc2(x)


class ScaleProjectionHead(nn.Module):
    """CrosScale-SGCLR's 10-part projection: ``shared(ReLU(pre(x)))``.

    # PARITY: ``shared`` is the joint encoder's ProjectionHead object itself, so its
    # parameters receive gradients from both scales and are momentum-updated once per
    # encoder pair (see ``pretrain.methods.crosscale_sgclr``).
    """

    def __init__(self, shared: ProjectionHead, in_features: int = 256) -> None:
        super().__init__()
        self.pre = nn.Linear(in_features, shared.in_features)
        self.shared = shared
        self.out_features = shared.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shared(F.relu(self.pre(x)))


class LinearClassifier(nn.Module):
    """``(N, num_features) -> (N, num_classes)`` logits."""

    def __init__(self, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(num_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)
