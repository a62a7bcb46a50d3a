"""AimCLR and MsMCLR: extreme augmentation, distributional divergence, nearest-neighbour mining.

AimCLR — Guo et al., AAAI 2022. Three views: an extreme (strong) view ``x_e`` and two normal
views ``x_q, x_k``. With ``p_z = softmax([z.k, z.Queue] / T)`` and the normal view's
distribution ``p_q`` (detached) as the target:

    L = CE([q.k, q.Queue] / T, 0) + 1/|Z| sum_{z in Z} mean_n(-sum_j p_q log p_z)

with ``Z = {q_e, q_ed}`` (the extreme view, and the extreme view after the attention drop,
``attention_drop``: the released code's threshold drop by default).
From the mining epoch on, the InfoNCE term takes as extra positives the top-``k`` queue
entries of each of ``q, z in Z`` (nearest-neighbour mining):
``L1 = mean_n(-sum_j mask log_softmax(logits) / sum_j mask)`` with ``mask = [1, OR of top-k]``.

MsMCLR — Multimedia Systems 30:267 (2024), doi 10.1007/s00530-024-01463-0. The same loss
with ``Z = {joint, part, body}``: the extreme view's last feature map pooled after the
multi-scale motion attention at joint, part (10) and body (5) scale (``models.msm_attention``);
the DDM terms are "supervised by the normal view's distribution". In the original code
MsMCLR's encoders also hold AimCLR's drop module, unused; it is left out here (it never
receives gradients and never affects an output).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ...models import MotionAttention, MultiScaleMotionBranch
from ...skeleton.groupings import MSMCLR_BODIES_5, MSMCLR_PARTS_10
from ..attention_drop import attention_drop
from ..losses import (
    contrastive_logits,
    distribution_divergence,
    info_nce,
    mined_info_nce,
    queue_similarity,
    top_k_mask,
)
from ..moco import gather_keys
from .base import (
    EncoderWithHead,
    MethodConfig,
    MethodOutput,
    SingleBranchMethod,
    build_encoder_with_head,
    normalized_projection,
)

__all__ = ["AimCLR", "MsMCLR"]


class AimCLR(SingleBranchMethod):
    """Extreme view + attention drop, DDM loss, nearest-neighbour mining."""

    name = "aimclr"
    views = ("strong", "normal", "normal")

    def __init__(self, config: MethodConfig, generator: torch.Generator | None = None) -> None:
        super().__init__(config)
        self.encoder_q = self._build_query()
        self.encoder_k = self._make_key(self.encoder_q)
        self.queue = self._make_queue(generator)
        self._init_weights(generator)
        adjacency = self.encoder_q.backbone.A.sum(0)
        #: The attention drop of the extreme view; ``None`` in MsMCLR, which does not use it.
        self.drop: nn.Module | None = attention_drop(config.attention_drop, adjacency, config.drop_keep_prob)
        #: Source of the (sampled) attention drop's randomness; the trainer sets (and checkpoints) it.
        self.generator: torch.Generator | None = None

    def _build_query(self) -> EncoderWithHead:
        return build_encoder_with_head(self.config)

    def strong_projections(self, im_e: torch.Tensor) -> list[torch.Tensor]:
        """Normalised projections of the extreme view: ``[q_e, q_ed]``."""
        enc = self.encoder_q
        assert self.drop is not None  # AimCLR always has one
        maps = enc.backbone.forward_maps(im_e)
        m = im_e.shape[-1]
        plain = enc.backbone.pool(maps, m)
        dropped = enc.backbone.pool(self.drop(maps, self.generator), m)
        return [normalized_projection(enc.head, p) for p in (plain, dropped)]

    def forward(self, views: Sequence[torch.Tensor], mining: bool = False) -> MethodOutput:
        """InfoNCE (nearest-neighbour mined when ``mining``) plus the mean of one DDM term per strong projection.

        Args:
            views: ``(im_e, im_q, im_k)``: the extreme view, then two normal views, each ``(N, C, T, V, M)``.
            mining: Use the mined positives (from the mining epoch on).

        Returns:
            ``terms``: ``infonce`` (``nnm`` when mining) and ``ddm_0`` .. ``ddm_{S-1}``, one per strong
            projection (``S = 2`` for AimCLR: plain and dropped; 3 for MsMCLR: joint, part, body).
            ``extras``, each ``(N, 1 + K)``: ``logits``; ``labels_ddm``, their softmax (the DDM target);
            ``strong_softmax_i``, the softmax of strong projection ``i``'s logits; when mining ``pos_mask``.
        """
        im_e, im_q, im_k = views
        t = self.config.temperature
        q = self.encoder_q(im_q)
        strong = self.strong_projections(im_e)
        with torch.no_grad():
            self.momentum_update()
            k = self.encoder_k(im_k)
        queue = self.queue.queue.clone()  # read before the enqueue below
        logits = contrastive_logits(q, k, queue, t)
        strong_logits = [contrastive_logits(z, k, queue, t) for z in strong]
        target = torch.softmax(logits.detach(), dim=1)
        ddm = [distribution_divergence(z, target) for z in strong_logits]
        extras: dict[str, torch.Tensor] = {"logits": logits.detach(), "labels_ddm": target}
        if mining:
            with torch.no_grad():
                negatives = [queue_similarity(z, queue) for z in [q, *strong]]
                mined = torch.stack([top_k_mask(s, self.config.topk) for s in negatives]).amax(0)
                mask = torch.cat([torch.ones_like(mined[:, :1]), mined], dim=1)
            contrast = mined_info_nce(logits, mask)
            extras["pos_mask"] = mask
        else:
            contrast = info_nce(logits)
        loss = contrast + sum(ddm) / len(ddm)
        self.queue.enqueue(gather_keys(k))
        terms = {"nnm" if mining else "infonce": contrast.detach()}
        terms.update({f"ddm_{i}": d.detach() for i, d in enumerate(ddm)})
        for i, z in enumerate(strong_logits):
            extras[f"strong_softmax_{i}"] = torch.softmax(z.detach(), dim=1)
        return MethodOutput(loss, terms, extras)


class MsMCLR(AimCLR):
    """AimCLR with the strong branch replaced by multi-scale motion attention."""

    name = "msmclr"
    joint_groupings = (MSMCLR_PARTS_10, MSMCLR_BODIES_5)  # the part and body scales

    def __init__(self, config: MethodConfig, generator: torch.Generator | None = None) -> None:
        super().__init__(config, generator)
        self.drop = None

    def _build_query(self) -> EncoderWithHead:
        enc = build_encoder_with_head(self.config)
        enc.attention = MotionAttention(self.config.encoder.hidden_dim)
        return enc

    def strong_projections(self, im_e: torch.Tensor) -> list[torch.Tensor]:
        """Normalised ``[joint, part, body]`` projections of the extreme view."""
        enc = self.encoder_q
        assert enc.attention is not None
        branch = MultiScaleMotionBranch(enc.attention)
        return [normalized_projection(enc.head, p) for p in branch.pooled(enc.backbone, im_e)]
