"""AimCLR's energy-based attention-guided drop module (EADM): two readings of it.

Guo, Liu, Wang, Liang, Wei, Yang, "Contrastive Learning from Extremely Augmented Skeleton
Sequences for Self-supervised Action Recognition" (AimCLR), AAAI 2022: "we use the
parameter-free SimAM energy function to find the important features, then drop them" —
spatially (joints) and temporally, and rescale what is kept.

* :class:`ThresholdAttentionDrop` is what the released code does (``net/att_drop.py`` of the
  authors' repository, with ``keep_prob=0.7`` from its ``net/st_gcn.py``): deterministic, it
  zeroes the joints whose SimAM attention averaged over channels and frames reaches
  ``keep_prob``, then every (channel, frame, joint) position whose attention reaches it, each
  time rescaling by (entries / kept entries) over the whole batch. The drop of every AimCLR
  recipe. (Another version of that file in the repository's history sets the
  dropped entries back to 1 with its second mask assignment, so that nothing is dropped; this
  follows the version that drops, as the paper describes.)
* :class:`EnergyAttentionDrop` is an earlier reading of the paper, written before the released
  code was consulted (DropGraph-style: random seeds weighted by attention, a dropped joint takes
  its graph neighbours, frames dropped in 7-frame blocks, target keep fraction ``keep_prob``).
  The ``aimclr-nwucla-xview`` entries before ``cad7ab51eaa0`` were trained with it
  (``--set model.attention_drop=sampled --set model.drop_keep_prob=0.9``).

MsMCLR's encoder carries an unused module of this name; MsMCLR replaces the drop by the
multi-scale motion attention (``models.msm_attention``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["simam_attention", "ThresholdAttentionDrop", "EnergyAttentionDrop", "attention_drop"]


def simam_attention(x: torch.Tensor, e_lambda: float = 1e-4) -> torch.Tensor:
    """SimAM (Yang et al., ICML 2021): ``sigmoid(1 / energy)`` per position, ``(R, C, T, V)``."""
    n = x.shape[2] * x.shape[3] - 1
    d = (x - x.mean(dim=(2, 3), keepdim=True)).pow(2)
    y = d / (4 * (d.sum(dim=(2, 3), keepdim=True) / max(n, 1) + e_lambda)) + 0.5
    return torch.sigmoid(y)


class ThresholdAttentionDrop(nn.Module):
    """The released AimCLR drop: zero what SimAM finds most important; ``(R, C, T, V) -> same``.

    With ``a = simam_attention(x)`` (values in ``(sigmoid(0.5), 1)``, about 0.62 to 1):

    1. joints: ``keep_v[r, v] = mean_{c,t} a[r, c, t, v] < keep_prob``;
       ``x' = x * keep_v * (R*V / sum keep_v)``;
    2. positions: ``keep[r, c, t, v] = a[r, c, t, v] < keep_prob``;
       ``out = x' * keep * (R*C*T*V / sum keep)``.

    The attention is of ``x`` itself (step 2 does not recompute it on ``x'``), and the masks
    carry no gradient. If everything were dropped the original would divide by zero; here the
    output is then zero.

    Args:
        keep_prob: The attention threshold (the released code's name and value, 0.7).
    """

    def __init__(self, keep_prob: float = 0.7) -> None:
        super().__init__()
        self.keep_prob = keep_prob

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``generator`` is accepted for the common interface and unused (nothing is random)."""
        with torch.no_grad():
            att = simam_attention(x)
            keep_v = (att.mean(dim=(1, 2)) < self.keep_prob).to(x.dtype)  # (R, V)
            keep = (att < self.keep_prob).to(x.dtype)  # (R, C, T, V)
            scale_v = keep_v.numel() / keep_v.sum().clamp_min(1.0)
            scale = keep.numel() / keep.sum().clamp_min(1.0)
        return x * (keep_v[:, None, None, :] * scale_v) * (keep * scale)


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


def attention_drop(kind: str, adjacency: torch.Tensor, keep_prob: float) -> nn.Module:
    """The drop a method config names: ``"threshold"`` (the released code's) or ``"sampled"``.

    Args:
        kind: ``MethodConfig.attention_drop``.
        adjacency: ``(V, V)`` graph (used by ``"sampled"``: a dropped joint takes its neighbours).
        keep_prob: ``MethodConfig.drop_keep_prob``.
    """
    if kind == "threshold":
        return ThresholdAttentionDrop(keep_prob)
    if kind == "sampled":
        return EnergyAttentionDrop(adjacency, keep_prob=keep_prob)
    raise ValueError(f"unknown attention drop {kind!r}; use 'threshold' (the released AimCLR's) or 'sampled'")
