"""SGCLR's random edge cutting of the key encoder's graph.

The original draws 0, 1 or 2 entries from the layout's edge list (self-links included in the
draw but skipped) once, when the model is built, and deletes **one direction** ``adj[i, j]`` of
each drawn edge ``(i, j)`` before normalising (``shared/parity/SPEC.md`` §3.2). The realised
graph is saved in the checkpoint.

Both are defects against the paper's description of a *random* augmentation of the graph, and
both have a corrected option (``MethodConfig``): ``edge_cut_both_directions`` deletes ``(j, i)``
too, keeping the graph symmetric, and ``edge_cut_every_step`` draws new cuts before every key
forward instead of once per run.
"""

from __future__ import annotations

import torch

from ..models import SkeletonEncoder
from ..skeleton.graph import build_adjacency
from ..skeleton.layouts import get_layout

__all__ = ["draw_edge_cuts", "set_removed_edges_", "cut_key_graph_"]


def draw_edge_cuts(
    layout: str,
    generator: torch.Generator,
    max_cuts: int = 2,
    both_directions: bool = False,
) -> tuple[tuple[int, int], ...]:
    """Draw the directed adjacency entries to delete.

    Args:
        layout: Layout name.
        generator: Source of randomness.
        max_cuts: The number of draws is uniform in ``0..max_cuts``.
        both_directions: Corrected behaviour: delete ``(j, i)`` too, keeping the graph symmetric.

    Returns:
        Entries ``(row, col)`` for ``build_adjacency(..., removed=...)``.
    """
    lay = get_layout(layout)
    # PARITY: self-links are part of the pool the original draws from, then skipped.
    pool = [(v, v) for v in range(lay.num_joints)] + list(lay.edges)
    count = int(torch.randint(0, max_cuts + 1, (1,), generator=generator))
    picks = torch.randperm(len(pool), generator=generator)[:count].tolist()
    removed: list[tuple[int, int]] = []
    for p in picks:
        i, j = pool[p]
        if i == j:
            continue
        removed.append((i, j))
        if both_directions:
            removed.append((j, i))
    return tuple(removed)


def set_removed_edges_(encoder: SkeletonEncoder, removed: tuple[tuple[int, int], ...]) -> None:
    """Rebuild ``encoder.A`` (and its config) with the directed entries ``removed`` deleted."""
    cfg = encoder.config.model_copy(update={"removed_edges": removed})
    adjacency = build_adjacency(cfg.layout, cfg.graph_strategy, cfg.max_hop, removed=removed)
    encoder.config = cfg
    encoder.A.copy_(torch.as_tensor(adjacency, dtype=encoder.A.dtype))


def cut_key_graph_(
    encoder: SkeletonEncoder, generator: torch.Generator, max_cuts: int = 2, both_directions: bool = False
) -> tuple[tuple[int, int], ...]:
    """Draw new cuts for a key encoder's graph and apply them; returns the removed entries."""
    removed = draw_edge_cuts(encoder.config.layout, generator, max_cuts, both_directions)
    set_removed_edges_(encoder, removed)
    return removed
