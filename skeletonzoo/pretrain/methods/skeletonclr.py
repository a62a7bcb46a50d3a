"""SkeletonCLR and SGCLR: MoCo on skeletons, and its random edge-cutting variant.

SkeletonCLR — Li, Xu, Zhang, Hu, Zhou, "3D Human Action Representation Learning via
Cross-View Consistency Pursuit" (CrosSCLR), CVPR 2021, single-view baseline. Loss:

    q = n(g_q(f_q(x_q))),  k = n(g_k(f_k(x_k))),  logits = [q.k, q.Queue] / T
    L = CE(logits, 0)                                  (InfoNCE)

``f_k, g_k`` follow ``f_q, g_q`` by momentum; ``k`` enters the queue after the step.

SGCLR — the single-scale model of CrosScale-SGCLR (Journal of Yanshan University 47(2),
2023): the same loss, with the key encoder's graph randomly edge-cut at construction
(``pretrain.edge_cut``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..edge_cut import cut_key_graph_
from ..losses import contrastive_logits, info_nce
from ..moco import gather_keys
from .base import MethodConfig, MethodOutput, SingleBranchMethod, build_encoder_with_head

__all__ = ["SkeletonCLR", "SGCLR"]


class SkeletonCLR(SingleBranchMethod):
    """MoCo with a key queue on two normal views."""

    name = "skeletonclr"
    views = ("normal", "normal")
    has_mining_phase = False  # ``mining`` is ignored (SGCLR too)

    def __init__(self, config: MethodConfig, generator: torch.Generator | None = None) -> None:
        super().__init__(config)
        self.encoder_q = build_encoder_with_head(config)
        self.encoder_k = self._make_key(self.encoder_q)
        self._cut_key_graph(generator)
        self.queue = self._make_queue(generator)
        self._init_weights(generator)
        #: Source of per-step randomness (edge cuts with ``edge_cut_every_step``); the trainer sets it.
        self.generator: torch.Generator | None = None

    def _cut_key_graph(self, generator: torch.Generator | None) -> None:
        """SkeletonCLR keeps the full graph; SGCLR overrides this."""

    def forward(self, views: Sequence[torch.Tensor], mining: bool = False) -> MethodOutput:
        """InfoNCE of the query view against its key and the queue.

        Args:
            views: ``(im_q, im_k)``, two normal views, each ``(N, C, T, V, M)``.
            mining: Ignored.

        Returns:
            ``terms``: ``infonce``; ``extras``: ``logits (N, 1 + K)``.
        """
        im_q, im_k = views
        q = self.encoder_q(im_q)
        with torch.no_grad():
            self.momentum_update()
            if self.config.edge_cut_every_step:
                self._cut_key_graph(self.generator)
            k = self.encoder_k(im_k)
        # clone: the enqueue below writes the queue in place, and autograd keeps it for q's grad
        logits = contrastive_logits(q, k, self.queue.queue.clone(), self.config.temperature)
        loss = info_nce(logits)
        self.queue.enqueue(gather_keys(k))
        return MethodOutput(loss, {"infonce": loss.detach()}, {"logits": logits.detach()})


class SGCLR(SkeletonCLR):
    """SkeletonCLR whose key encoder sees a randomly edge-cut graph.

    # PARITY: the cut is drawn once at construction and deletes one direction of each edge
    # (``edge_cut_both_directions=True`` cuts both; ``edge_cut_every_step=True`` redraws it
    # before every key forward).
    """

    name = "sgclr"

    def _cut_key_graph(self, generator: torch.Generator | None) -> None:
        cut_key_graph_(
            self.encoder_k.backbone,
            generator if generator is not None else torch.default_generator,
            self.config.max_edge_cuts,
            self.config.edge_cut_both_directions,
        )
