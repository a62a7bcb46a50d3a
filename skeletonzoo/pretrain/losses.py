"""Contrastive losses as pure functions of tensors.

Shapes: ``q, k (N, D)`` L2-normalised; ``queue (D, K)`` with unit-norm columns; logits
``(N, 1 + K)`` with the positive in column 0.

Everything here is computed in float32 (or float64) even inside ``torch.autocast``: autocast
would run the queue product in bf16, whose 8-bit mantissa can move a logit ``q.k / 0.07``
(up to 14.3) by 14.3 * 2^-8 = 0.056 and change which queue entry a top-k mining step picks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "queue_similarity",
    "contrastive_logits",
    "info_nce",
    "distribution_divergence",
    "top_k_mask",
    "mined_info_nce",
]


def _full_precision(x: torch.Tensor) -> torch.Tensor:
    """Half-precision (autocast) tensors upcast to float32; float32/float64 unchanged."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def queue_similarity(q: torch.Tensor, queue: torch.Tensor) -> torch.Tensor:
    """``q @ queue``: ``(N, D) x (D, K) -> (N, K)`` in full precision, also under autocast.

    The queue is a buffer (detached); gradients flow to ``q``.
    """
    with torch.autocast(q.device.type, enabled=False):
        return _full_precision(q) @ _full_precision(queue.detach())


def contrastive_logits(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float) -> torch.Tensor:
    """``[q.k, q.queue] / T``: ``q, k (N, D)``, ``queue (D, K)`` -> logits ``(N, 1 + K)``, positive in column 0."""
    q, k = _full_precision(q), _full_precision(k)
    positive = (q * k).sum(dim=1, keepdim=True)
    negative = queue_similarity(q, queue)
    return torch.cat([positive, negative], dim=1) / temperature


def info_nce(logits: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of ``logits (N, 1 + K)`` with the positive in column 0: a scalar, the batch mean."""
    labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    return F.cross_entropy(logits, labels)


def distribution_divergence(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """AimCLR's distributional divergence minimisation: ``mean_n(-sum_j target * log p)``, a scalar.

    ``p = softmax(logits)`` with ``logits (N, 1 + K)`` of an extreme view; ``target (N, 1 + K)``
    is the normal view's (detached) distribution, rows summing to 1.

    # PARITY: the original takes ``log`` of the softmax, not ``log_softmax``; a probability
    # that underflows to 0 then gives -inf (0 * -inf = nan) where log_softmax would not.
    """
    return -(target * torch.log(torch.softmax(logits, dim=1))).sum(dim=1).mean()


def top_k_mask(similarity: torch.Tensor, k: int) -> torch.Tensor:
    """``similarity (N, K)`` -> mask of its shape and dtype: 1 at each row's ``k`` largest entries, else 0."""
    _, index = similarity.topk(k, dim=1)
    return torch.zeros_like(similarity).scatter_(1, index, 1.0)


def mined_info_nce(logits: torch.Tensor, positive_mask: torch.Tensor) -> torch.Tensor:
    """InfoNCE with several positives: ``mean_n(-sum_j mask * log_softmax / sum_j mask)``, a scalar.

    ``logits (N, L)`` (``L = 1 + K``, or ``1 + 2K`` with CrosScale's context block);
    ``positive_mask (N, L)`` float, 1 at the positives (column 0 and the mined entries), else 0.
    """
    return (-(F.log_softmax(logits, dim=1) * positive_mask).sum(dim=1) / positive_mask.sum(dim=1)).mean()
