"""AimCLR's energy-based attention-guided drop module (EADM), from the paper's description.

Guo, Liu, Wang, Liang, Wei, Yang, "Contrastive Learning from Extremely Augmented Skeleton
Sequences for Self-supervised Action Recognition" (AimCLR), AAAI 2022: "we use the
parameter-free SimAM energy function to find the important features, then drop them" —
spatially (joints, together with their graph neighbours) and temporally (blocks of frames),
and rescale what is kept.

This module is written from that description; the released code's exact constants are not
available here and no parity fixture covers it, so the constants below (keep probability,
seed rate ``(1 - keep) / (1 + 1.92)`` of DropGraph, temporal block of 7 frames) are documented
choices, not reproductions. MsMCLR's encoder carries an unused copy of the module; MsMCLR
replaces it by the multi-scale motion attention (``models.msm_attention``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["simam_attention", "EnergyAttentionDrop"]


def simam_attention(x: torch.Tensor, e_lambda: float = 1e-4) -> torch.Tensor:
    """SimAM (Yang et al., ICML 2021): ``sigmoid(1 / energy)`` per position, ``(R, C, T, V)``."""
    n = x.shape[2] * x.shape[3] - 1
    d = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
    y = d / (4 * (d.sum(dim=(2, 3), keepdim=True) / max(n, 1) + e_lambda)) + 0.5
    return torch.sigmoid(y)


class EnergyAttentionDrop(nn.Module):
    """Drop the joints and frames SimAM finds most important; ``(R, C, T, V) -> (R, C, T, V)``.

    Args:
        adjacency: ``(V, V)`` 0/1 graph; a dropped joint takes its neighbours with it.
        keep_prob: Target fraction of kept positions.
        block: Temporal drop block length (frames).
    """

    adjacency: torch.Tensor  # (V, V) buffer, registered in __init__

    def __init__(self, adjacency: torch.Tensor, keep_prob: float = 0.9, block: int = 7) -> None:
        super().__init__()
        self.register_buffer("adjacency", (adjacency > 0).float(), persistent=False)
        self.keep_prob = keep_prob
        self.block = block

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.keep_prob >= 1.0:
            return x
        with torch.no_grad():
            weighted = (x * simam_attention(x)).abs()
            gamma = (1.0 - self.keep_prob) / (1.0 + 1.92)
            # spatial: importance per joint, normalised to mean 1 per row
            joint = weighted.mean(dim=(1, 2))  # (R, V)
            joint = joint / joint.mean(dim=1, keepdim=True).clamp_min(1e-12)
            seed = torch.bernoulli((joint * gamma).clamp(max=1.0), generator=generator)
            drop_v = (seed @ self.adjacency).clamp(max=1.0)  # neighbours dropped too
            keep_v = 1.0 - drop_v
            # temporal: importance per frame, seeds grown into blocks
            frame = weighted.mean(dim=(1, 3))  # (R, T)
            frame = frame / frame.mean(dim=1, keepdim=True).clamp_min(1e-12)
            seed_t = torch.bernoulli((frame * gamma / self.block).clamp(max=1.0), generator=generator)
            drop_t = F.max_pool1d(seed_t[:, None], self.block, stride=1, padding=self.block // 2)[:, 0]
            keep_t = 1.0 - drop_t[:, : x.shape[2]]
            mask = keep_t[:, None, :, None] * keep_v[:, None, None, :]  # (R, 1, T, V)
            scale = mask.numel() / mask.sum().clamp_min(1.0)
        return x * mask * scale
