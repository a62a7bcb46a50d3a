"""MoCo machinery shared by every method: the key queue and the momentum update.

(The original's weight init, ``reference_init_``, lives in :mod:`skeletonzoo.models.init`,
shared with evaluation's random-init floor; it is re-exported here.)

He et al., "Momentum Contrast for Unsupervised Visual Representation Learning", CVPR 2020,
as SkeletonCLR/AimCLR/MsMCLR/CrosSCLR/CrosScale-SGCLR use it on skeletons.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..models.init import reference_init_

__all__ = ["KeyQueue", "momentum_update_", "reference_init_", "gather_keys"]


class KeyQueue(nn.Module):
    """A FIFO of ``size`` unit-norm key vectors stored as the columns of a ``(dim, size)`` buffer.

    Args:
        dim: Key size (the projection ``feature_dim``, 128).
        size: Number of keys ``K`` (32768 in the papers).
        generator: Draws the initial queue, column-normalised ``N(0, 1)`` as the original.
    """

    # buffers, registered in __init__
    queue: torch.Tensor  # (dim, size)
    ptr: torch.Tensor  # (1,) int64, the next column to write

    def __init__(self, dim: int, size: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.register_buffer("queue", F.normalize(torch.randn(dim, size, generator=generator), dim=0))
        self.register_buffer("ptr", torch.zeros(1, dtype=torch.long))

    @property
    def size(self) -> int:
        return self.queue.shape[1]

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Write ``keys (N, dim)`` at the pointer (wrapping around) and advance it by ``N``.

        The original requires ``K % N == 0`` and writes one contiguous slice; wrapping gives
        the same result in that case and also handles a last, smaller batch.
        """
        n = keys.shape[0]
        if n > self.size:
            raise ValueError(f"cannot enqueue {n} keys into a queue of {self.size}")
        ptr = int(self.ptr)
        index = (torch.arange(n, device=keys.device) + ptr) % self.size
        self.queue[:, index] = keys.detach().t().to(self.queue.dtype)
        self.ptr[0] = (ptr + n) % self.size


@torch.no_grad()
def momentum_update_(
    key_params: Iterable[torch.Tensor], query_params: Iterable[torch.Tensor], momentum: float
) -> None:
    """``theta_k <- m * theta_k + (1 - m) * theta_q`` for parameters paired in order.

    Only parameters move: BatchNorm running statistics (buffers) of the key encoder are left to
    its own forward passes, as in MoCo and the original code.
    """
    keys, queries = list(key_params), list(query_params)
    if len(keys) != len(queries):
        raise ValueError(f"momentum update pairs {len(keys)} key with {len(queries)} query tensors")
    for k, q in zip(keys, queries):
        if k.shape != q.shape:
            raise ValueError(f"momentum update pairs shapes {tuple(k.shape)} and {tuple(q.shape)}")
    torch._foreach_mul_(keys, momentum)
    torch._foreach_add_(keys, queries, alpha=1.0 - momentum)


@torch.no_grad()
def gather_keys(keys: torch.Tensor) -> torch.Tensor:
    """Concatenate ``keys (N, D)`` from every rank (rank order) when distributed; else as is.

    Every rank then enqueues the same ``world_size * N`` keys, so an N-process run keeps the
    queue semantics of one process with the whole batch.
    """
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return keys
    gathered = [torch.empty_like(keys) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, keys.contiguous())
    return torch.cat(gathered, dim=0)
