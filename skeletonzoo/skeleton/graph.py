"""ST-GCN adjacency partitions computed from a :class:`~skeletonzoo.skeleton.layouts.Layout`.

This is ST-GCN's ``Graph`` (Yan et al., AAAI 2018, "Spatial Temporal Graph Convolutional
Networks for Skeleton-Based Action Recognition"), as used unchanged by AimCLR, MsMCLR,
CrosSCLR and CrosScale-SGCLR:

1. ``adj[j, i] = 1`` where the hop distance is at most ``max_hop`` (self-loops included);
2. column-normalise: ``An[j, i] = adj[j, i] / sum_j adj[j, i]``;
3. split by strategy. ``uniform``: one partition, ``An``. ``distance``: one partition per hop.
   ``spatial``: hop 0 (the diagonal), then for each hop >= 1 the entries whose source ``j`` is
   at least as far from the centre as the target ``i`` ("root + centripetal"), and the others
   ("centrifugal").

``j`` is the source (row) and ``i`` the target (column), matching the graph convolution
``y[..., w] = sum_k sum_v g[k, ..., v] * A[k, v, w]``.

SGCLR's random edge cutting deletes **one direction** of listed edges before normalising; pass
those as ``removed`` (directed ``(row, column)`` entries).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np

from .layouts import Layout, get_layout

__all__ = ["Strategy", "hop_distance", "build_adjacency"]

Strategy = Literal["uniform", "distance", "spatial"]


def _adjacency_matrix(
    num_joints: int, edges: Iterable[tuple[int, int]], removed: Iterable[tuple[int, int]]
) -> np.ndarray:
    adj = np.zeros((num_joints, num_joints))
    for i, j in edges:
        adj[i, j] = 1.0
        adj[j, i] = 1.0
    for i, j in removed:
        adj[i, j] = 0.0
    return adj


def hop_distance(
    layout: str | Layout,
    max_hop: int = 1,
    removed: Iterable[tuple[int, int]] = (),
) -> np.ndarray:
    """Hop distances ``(V, V)`` up to ``max_hop``; ``inf`` beyond it.

    Note that with the papers' ``max_hop=1`` almost every node is at distance ``inf`` from the
    centre, so the spatial partition puts most edges into the "root" partition. That is the
    reference behaviour and the parity fixtures depend on it.
    """
    lay = get_layout(layout)
    v = lay.num_joints
    adj = _adjacency_matrix(v, lay.edges, removed)
    hop = np.full((v, v), np.inf)
    reach = [np.linalg.matrix_power(adj, d) > 0 for d in range(max_hop + 1)]
    reach[0] = np.eye(v, dtype=bool)
    for d in range(max_hop, -1, -1):
        hop[reach[d]] = d
    return hop


def build_adjacency(
    layout: str | Layout,
    strategy: Strategy = "spatial",
    max_hop: int = 1,
    dilation: int = 1,
    removed: Iterable[tuple[int, int]] = (),
) -> np.ndarray:
    """Build the ST-GCN adjacency partitions of a layout.

    Args:
        layout: Layout or its name.
        strategy: ``"uniform"`` (K=1), ``"distance"`` (K=max_hop+1) or ``"spatial"``
            (K=1+2*max_hop).
        max_hop: Largest neighbourhood distance (the papers use 1).
        dilation: Hop step between partitions (ST-GCN's ``dilation``; the papers use 1).
        removed: Directed entries ``(row, col)`` of the 0/1 adjacency to delete before
            normalising (random edge cutting). Self-loops cannot be removed.

    Returns:
        float64 array ``(K, V, V)``; ``A[k, j, i]`` weighs source joint ``j`` into target ``i``.
    """
    lay = get_layout(layout)
    removed = [(int(i), int(j)) for i, j in removed]
    for i, j in removed:
        if i == j:
            raise ValueError(f"cannot remove the self-loop of joint {i}")
    v = lay.num_joints
    hop = hop_distance(lay, max_hop, removed)
    valid_hops = range(0, max_hop + 1, dilation)
    adj = np.zeros((v, v))
    for h in valid_hops:
        adj[hop == h] = 1.0
    col_sum = adj.sum(axis=0)
    # A @ diag(1/colsum): normalise each target column (ST-GCN's ``normalize_digraph``).
    norm = adj / np.where(col_sum > 0, col_sum, 1.0)[None, :]

    if strategy == "uniform":
        return norm[None]
    if strategy == "distance":
        parts = np.zeros((len(valid_hops), v, v))
        for k, h in enumerate(valid_hops):
            parts[k][hop == h] = norm[hop == h]
        return parts
    if strategy == "spatial":
        c = lay.center
        dist_to_center = hop[:, c]
        parts_list = []
        for h in valid_hops:
            on_hop = hop == h
            # j: source row, i: target column.
            # PARITY: inf == inf counts as "root", so with max_hop=1 most edges land in the root
            # partition (SPEC §3: the fixtures depend on it)
            d_j = dist_to_center[:, None]
            d_i = dist_to_center[None, :]
            root = on_hop & (d_j == d_i)
            close = on_hop & (d_j > d_i)
            further = on_hop & (d_j < d_i)
            if h == 0:
                parts_list.append(np.where(root, norm, 0.0))
            else:
                parts_list.append(np.where(root | close, norm, 0.0))
                parts_list.append(np.where(further, norm, 0.0))
        return np.stack(parts_list)
    raise ValueError(f"unknown graph strategy {strategy!r}; use 'uniform', 'distance' or 'spatial'")
