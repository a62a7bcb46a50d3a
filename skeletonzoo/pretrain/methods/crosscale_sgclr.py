"""CrosScale-SGCLR and CrosView-SGCLR: two encoder pairs, cross-branch positive mining.

CrosScale-SGCLR — Journal of Yanshan University 47(2):164-174 (2023), built on CrosSCLR
(Li et al., CVPR 2021). A 25-joint pair and a 10-part pair (the input reduced by
``CROSSCALE_PARTS_10``), each with a key queue and a randomly edge-cut key graph.

Before the cross epoch, two independent InfoNCE losses:

    L = CE([q.k, q.Q] / T, 0) + CE([q_s.k_s, q_s.Q_s] / T, 0)

After it ("cross-scale positive mining with context"), with ``l = q.Q`` and ``l_s = q_s.Q_s``:

    logits   = [q.k,     l,   l * l_s] / T    positives: 1 + top-k of l_s   (both copies)
    logits_s = [q_s.k_s, l_s, l * l_s] / T    positives: 1 + top-k of l
    L = mined_InfoNCE(logits) + mined_InfoNCE(logits_s)

(without context the ``l * l_s`` block is omitted). Each branch learns which queue entries
are positives from the other branch's similarities.

Reproduced quirks (``# PARITY:``): the 10-part head ends in the joint head itself, so the
joint head gets gradients from both losses and is momentum-updated through both pairs (twice
per step before the cross epoch); in the cross phase the original calls only the scale pair's
momentum update, so the 25-joint key backbone stays frozen from then on.

CrosView-SGCLR — the same two-branch structure with a motion-stream pair instead of the
10-part pair (CrosSCLR's joint/motion cross-view mining), and the same quirks in the released
``net/crosview_sgclr.py``: the motion head ends in the joint head, and the cross phase
momentum-updates only the motion pair. There is no parity fixture for this variant.

In both, the heads are shared only with the MLP head (``mlp: true``, every recipe): with a
single ``Linear`` head the released code gives the second encoder its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from ...data.streams import motion
from ...models import EncoderConfig, ProjectionHead, ScaleProjectionHead, SkeletonEncoder
from ...skeleton.groupings import CROSSCALE_PARTS_10, JointGrouping
from ..edge_cut import cut_key_graph_
from ..losses import contrastive_logits, info_nce, mined_info_nce, queue_similarity, top_k_mask
from ..moco import KeyQueue, gather_keys
from .base import (
    ContrastiveMethod,
    EncoderWithHead,
    MethodConfig,
    MethodOutput,
    build_encoder_with_head,
)

__all__ = ["CrosScaleSGCLR", "CrosViewSGCLR"]


class CrosScaleSGCLR(ContrastiveMethod):
    """25-joint + 10-part encoder pairs with cross-scale positive mining."""

    name = "crosscale-sgclr"
    views = ("normal", "normal")
    second = "scale"
    joint_groupings: ClassVar[tuple[JointGrouping, ...]] = (CROSSCALE_PARTS_10,)  # the second encoder's input

    def __init__(self, config: MethodConfig, generator: torch.Generator | None = None) -> None:
        super().__init__(config)
        self.encoder_q = build_encoder_with_head(config)
        self.encoder_q_second = self._build_second()
        self.encoder_k = self._make_key(self.encoder_q)
        self.encoder_k_second = self._make_key(self.encoder_q_second)
        if isinstance(self.encoder_k_second.head, ScaleProjectionHead):
            # PARITY: the key side shares its head the same way (k_scale.fc.2 is k.fc).
            assert isinstance(self.encoder_k.head, ProjectionHead)  # a copy of build_encoder_with_head's
            self.encoder_k_second.head.shared = self.encoder_k.head
        self._cut_key_graphs(generator)
        self.queue = self._make_queue(generator)
        self.queue_second = self._make_queue(generator)
        self._init_weights(generator)
        #: Source of per-step randomness (edge cuts with ``edge_cut_every_step``); the trainer sets it.
        self.generator: torch.Generator | None = None

    def _cut_key_graphs(self, generator: torch.Generator | None) -> None:
        gen = generator if generator is not None else torch.default_generator
        for key in (self.encoder_k, self.encoder_k_second):
            cut_key_graph_(key.backbone, gen, self.config.max_edge_cuts, self.config.edge_cut_both_directions)

    def _second_encoder_config(self) -> EncoderConfig:
        return self.config.encoder.model_copy(update={"layout": "coarse10"})

    def _build_second(self) -> EncoderWithHead:
        enc = self._second_encoder_config()
        backbone = SkeletonEncoder(enc)
        if not self.config.mlp:  # the released code shares the head only inside `if mlp:`
            return EncoderWithHead(backbone, ProjectionHead(enc.hidden_dim, self.config.feature_dim, mlp=False))
        # PARITY: Linear -> ReLU -> the joint encoder's whole head (the same module object).
        assert isinstance(self.encoder_q.head, ProjectionHead)  # made by build_encoder_with_head
        head = ScaleProjectionHead(self.encoder_q.head, enc.hidden_dim)
        return EncoderWithHead(backbone, head)

    def second_input(self, x: torch.Tensor) -> torch.Tensor:
        """The second branch's input: ``(N, C, T, 25, M) -> (N, C, T, 10, M)``."""
        return CROSSCALE_PARTS_10.apply(x, dim=3)

    def branch_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.encoder_q, self.encoder_k), (self.encoder_q_second, self.encoder_k_second)]

    def query_components(self) -> dict[str, tuple[SkeletonEncoder, nn.Module]]:
        return {
            "joint": (self.encoder_q.backbone, self.encoder_q.head),
            self.second: (self.encoder_q_second.backbone, self.encoder_q_second.head),
        }

    def component_inputs(self) -> dict[str, str]:
        return {"joint": "identity", "scale": "grouping:crosscale_parts10"}

    def key_queues(self, im_k: torch.Tensor) -> list[tuple[KeyQueue, torch.Tensor]]:
        return [(self.queue, self.encoder_k(im_k)), (self.queue_second, self.encoder_k_second(self.second_input(im_k)))]

    def cross_phase_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        # PARITY: the original's cross phase calls only the scale pair's momentum update.
        return [(self.encoder_q_second, self.encoder_k_second)]

    def forward(self, views: Sequence[torch.Tensor], mining: bool = False) -> MethodOutput:
        """Two InfoNCE losses, with cross-branch mined positives when ``mining``.

        Args:
            views: ``(im_q, im_k)``, two normal views, each ``(N, C, T, V, M)`` (``V = 25`` for
                CrosScale); the second branch derives its own input from them.
            mining: The cross phase (from the cross epoch on).

        Returns:
            ``terms``: ``joint`` and the second branch's (``scale`` or ``motion``). ``extras``:
            ``logits`` and ``logits_scale`` (the second branch's, so named for CrosView too), each
            ``(N, 1 + K)``, or ``(N, 1 + 2K)`` in the cross phase with ``context``; in the cross phase
            also ``pos_mask`` and ``pos_mask_scale`` of the same shapes.
        """
        im_q, im_k = views
        t = self.config.temperature
        q = self.encoder_q(im_q)
        qs = self.encoder_q_second(self.second_input(im_q))
        with torch.no_grad():
            self.momentum_update(self.cross_phase_pairs() if mining else None)
            if self.config.edge_cut_every_step:
                self._cut_key_graphs(self.generator)
            k = self.encoder_k(im_k)
            ks = self.encoder_k_second(self.second_input(im_k))
        queue, queue_s = self.queue.queue.clone(), self.queue_second.queue.clone()
        extras: dict[str, torch.Tensor] = {}
        if not mining:
            logits = contrastive_logits(q, k, queue, t)
            logits_s = contrastive_logits(qs, ks, queue_s, t)
            loss_joint, loss_second = info_nce(logits), info_nce(logits_s)
        else:
            l_pos = (q * k).sum(1, keepdim=True)
            l_pos_s = (qs * ks).sum(1, keepdim=True)
            l_neg, l_neg_s = queue_similarity(q, queue), queue_similarity(qs, queue_s)
            with torch.no_grad():
                mined = top_k_mask(l_neg_s, self.config.topk)  # joint positives from the other branch
                mined_s = top_k_mask(l_neg, self.config.topk)
            ones = torch.ones_like(l_pos)
            if self.config.context:
                context = l_neg * l_neg_s
                logits = torch.cat([l_pos, l_neg, context], 1) / t
                logits_s = torch.cat([l_pos_s, l_neg_s, context], 1) / t
                mask = torch.cat([ones, mined, mined], 1)
                mask_s = torch.cat([ones, mined_s, mined_s], 1)
            else:
                logits = torch.cat([l_pos, l_neg], 1) / t
                logits_s = torch.cat([l_pos_s, l_neg_s], 1) / t
                mask = torch.cat([ones, mined], 1)
                mask_s = torch.cat([ones, mined_s], 1)
            loss_joint, loss_second = mined_info_nce(logits, mask), mined_info_nce(logits_s, mask_s)
            extras.update(pos_mask=mask, pos_mask_scale=mask_s)
        self.queue.enqueue(gather_keys(k))
        self.queue_second.enqueue(gather_keys(ks))
        extras.update(logits=logits.detach(), logits_scale=logits_s.detach())
        terms = {"joint": loss_joint.detach(), self.second: loss_second.detach()}
        return MethodOutput(loss_joint + loss_second, terms, extras)


class CrosViewSGCLR(CrosScaleSGCLR):
    """Joint + motion encoder pairs with cross-view positive mining (CrosSCLR-style)."""

    name = "crosview-sgclr"
    second = "motion"
    joint_groupings = ()  # the second input is the motion stream: any layout
    # the motion branch takes the motion of the input: of joints, as CrosSCLR's joint/motion pair (and
    # as its export records it); another input stream would train a branch the checkpoint misnames
    streams = ("joint",)

    def _second_encoder_config(self) -> EncoderConfig:
        return self.config.encoder  # the joint encoder's architecture, on the motion stream

    def second_input(self, x: torch.Tensor) -> torch.Tensor:
        return motion(x)

    def component_inputs(self) -> dict[str, str]:
        return {"joint": "identity", "motion": "stream:motion"}
