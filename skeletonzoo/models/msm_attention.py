"""MsMCLR's multi-scale motion attention (the original ``M2A`` block) and strong-view branch.

MsMCLR (Multimedia Systems 30:267, 2024, doi 10.1007/s00530-024-01463-0) adds to AimCLR a
branch that reweights the last ST-GCN feature map by its motion at three scales: joints (25),
parts (10) and bodies (5). In the original code this is ``encoder_q(x, drop=True)``:

    joint = head(poolM(M2A(F)))
    part  = head(poolM(M2A(G10(F))))
    body  = head(poolM(M2A(G5(F))))

with ``F`` the block-9 map ``(N*M, 256, T', 25)``, ``G10``/``G5`` the feature groupings
``MSMCLR_PARTS_10``/``MSMCLR_BODIES_5``, and one M2A module and one head shared by all three.

Quirks of the original that are reproduced (``# PARITY:``): the attention runs across groups
of 8 consecutive rows of the batch, i.e. 4 samples x 2 persons, so features mix across
different samples and ``N*M`` must be divisible by 8; layer norm is over the last axis only;
the temporal difference at the last frame is ``-Ln``; the skip adds the ``conv_down`` output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..skeleton.groupings import MSMCLR_BODIES_5, MSMCLR_PARTS_10, JointGrouping
from .heads import ProjectionHead
from .stgcn import SkeletonEncoder

__all__ = ["MotionAttention", "MultiScaleMotionBranch", "motion_difference", "group_features"]

# PARITY: the reference views the batch as (-1, 8, d) regardless of N and M.
ATTENTION_GROUP = 8


def _memory_format(x: torch.Tensor) -> torch.memory_format:
    """``channels_last`` when ``x`` (4-D) is stored that way (ST-GCN training maps), else contiguous."""
    if x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    return torch.contiguous_format


def _at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` upcast from a half type (autocast's output) to float32; float32/64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def motion_difference(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``x[i+1] - x[i]`` along ``dim``, with a zero slice shifted in at the end (so ``-x[-1]``)."""
    # PARITY: the original pads with zeros at the end, so the last difference is -x[-1], not 0
    shifted = torch.cat([x.narrow(dim, 1, x.shape[dim] - 1), torch.zeros_like(x.narrow(dim, 0, 1))], dim)
    return shifted - x


def group_features(maps: torch.Tensor, grouping: JointGrouping) -> torch.Tensor:
    """Mean of each group's joints: ``(B, C, T', V) -> (B, C, T', G)`` (``channels_last``).

    The same means as ``grouping.apply(maps, dim=-1)``, as one batched product with the
    ``(G, V)`` averaging matrix on the ``(B, T', V, C)`` storage of a ``channels_last`` map
    instead of one gather per group (and one scatter per group in the backward): 10x faster
    forward and backward on the (128, 256, 13, 25) training map.
    """
    b, c, t, v = maps.shape
    average = grouping.matrix(v, maps.dtype).t().to(maps.device)  # (G, V), 1/|g| entries
    # (B, C, T', V) -> (B*T', V, C): a free view of a channels_last map
    rows = maps.permute(0, 2, 3, 1).reshape(b * t, v, c)
    # an explicit bmm over the expanded matrix: torch.matmul would copy the map to fold it
    grouped = torch.bmm(average.expand(b * t, *average.shape), rows)
    # (B*T', G, C) -> (B, C, T', G) with channels_last strides
    return grouped.view(b, t, -1, c).permute(0, 3, 1, 2)


class MotionAttention(nn.Module):
    """Motion-aware attention (``M2A``): ``sigmoid(up(Att + down(X))) * X + X``.

    Args:
        channels: ``C`` of the input map (256).
        reduction: ``C / r`` channels inside (8 -> 32).
    """

    def __init__(self, channels: int = 256, reduction: int = 8) -> None:
        super().__init__()
        inner = channels // reduction
        self.conv_down = nn.Conv2d(channels, inner, kernel_size=1)
        self.conv_up = nn.Conv2d(inner, channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, T', V') -> (B, C, T', V')``; ``B`` must be a multiple of 8."""
        b = x.shape[0]
        if b % ATTENTION_GROUP:
            raise ValueError(
                f"MotionAttention needs the number of rows N*M={b} to be a multiple of "
                f"{ATTENTION_GROUP} (the original attends within groups of 8 rows); "
                "use a batch size that is a multiple of 4 with M=2"
            )
        # The attention core works on the narrow (C/8 channels) map, in float32 even under
        # autocast: its softmax over dot products of 10400-long tokens is too sensitive for
        # bf16. Contiguous (c, t, v) order there, as the original flattens its tokens.
        down = self.conv_down(x)
        with torch.autocast(x.device.type, enabled=False):
            down32 = _at_least_float32(down).contiguous()
            # PARITY: layer norm over the last (node) axis only, no affine.
            ln = F.layer_norm(down32, down32.shape[-1:], eps=1e-5)
            motion = (motion_difference(ln, 2) + motion_difference(ln, 3)) / 2
            # (B, c, T', V') -> (B/8, 8, c*T'*V'): tokens are whole rows, attention across rows
            tokens = motion.view(b // ATTENTION_GROUP, ATTENTION_GROUP, -1)
            scores = torch.softmax(tokens @ tokens.transpose(1, 2) / math.sqrt(tokens.shape[-1]), -1)
            # PARITY: the skip adds the conv_down output, not the normalised one.
            skip = (scores @ tokens).view_as(down32) + down32
        # back in x's memory format, so that the wide (C channels) ops below stay contiguous
        gate = torch.sigmoid_(self.conv_up(skip.contiguous(memory_format=_memory_format(x))))
        # sigmoid(gate) * x + x in one pass; in-place sigmoid: conv's backward needs no output
        return torch.addcmul(x, gate.to(x.dtype), x)


class MultiScaleMotionBranch(nn.Module):
    """The strong-view branch: motion attention at joint, part and body scale.

    Holds no parameters of its own; it composes the encoder, the shared attention and head.
    """

    def __init__(
        self,
        attention: MotionAttention,
        parts: JointGrouping = MSMCLR_PARTS_10,
        bodies: JointGrouping = MSMCLR_BODIES_5,
    ) -> None:
        super().__init__()
        self.attention = attention
        self.parts = parts
        self.bodies = bodies

    def scale_maps(self, maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, C, T', 25)`` -> joint, part ``(B, C, T', 10)`` and body ``(B, C, T', 5)`` maps."""
        return maps, group_features(maps, self.parts), group_features(maps, self.bodies)

    def pooled(
        self, encoder: SkeletonEncoder, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pooled ``(N, C)`` features of the three scales after motion attention."""
        maps = encoder.forward_maps(x)
        m = x.shape[-1]
        joint, part, body = (SkeletonEncoder.pool(self.attention(s), m) for s in self.scale_maps(maps))
        return joint, part, body

    def forward(
        self, encoder: SkeletonEncoder, head: ProjectionHead, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(N, C, T, V, M)`` -> the three ``(N, out_features)`` projections (joint, part, body)."""
        joint, part, body = self.pooled(encoder, x)
        return head(joint), head(part), head(body)
