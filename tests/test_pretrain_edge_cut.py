"""SGCLR-family key graphs: the original's once-per-run one-directional cut, and the corrected options."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skeletonzoo.models import EncoderConfig
from skeletonzoo.pretrain.methods import METHODS, MethodConfig
from skeletonzoo.skeleton.graph import build_adjacency


def _method(name: str, **config):
    cfg = MethodConfig(encoder=EncoderConfig(hidden_channels=4, hidden_dim=16), feature_dim=8, queue_size=16,
                       max_edge_cuts=6, **config)  # fmt: skip
    method = METHODS[name](cfg, torch.Generator().manual_seed(3))
    method.generator = torch.Generator().manual_seed(4)
    return method


def _key_graphs(method) -> list[torch.Tensor]:
    keys = [method.encoder_k] + ([method.encoder_k_second] if hasattr(method, "encoder_k_second") else [])
    return [k.backbone.A.clone() for k in keys]


def _steps(method, n: int = 6) -> list[list[torch.Tensor]]:
    x = torch.randn(8, 3, 12, 25, 1, generator=torch.Generator().manual_seed(0))
    graphs = []
    for _ in range(n):
        method([x, x], mining=False)
        graphs.append(_key_graphs(method))
    return graphs


@pytest.mark.parametrize("name", ["sgclr", "crosscale-sgclr"])
def test_original_cut_is_drawn_once(name):
    method = _method(name)
    before = _key_graphs(method)
    for graphs in _steps(method):
        assert all(torch.equal(a, b) for a, b in zip(before, graphs))


@pytest.mark.parametrize("name", ["sgclr", "crosscale-sgclr"])
def test_corrected_cut_is_redrawn_every_step_and_is_a_real_cut(name):
    method = _method(name, edge_cut_every_step=True, edge_cut_both_directions=True)
    history = _steps(method)
    assert len({tuple(g[0].flatten().tolist()) for g in history}) > 2
    for encoder in [method.encoder_k.backbone]:
        cfg = encoder.config
        expected = build_adjacency(cfg.layout, cfg.graph_strategy, cfg.max_hop, removed=cfg.removed_edges)
        np.testing.assert_allclose(encoder.A.numpy(), expected, atol=1e-7)
        full = build_adjacency(cfg.layout).sum(0)
        cut = encoder.A.sum(0).numpy()
        # symmetric support: every removed entry's mirror is removed as well
        assert ((cut > 0) == (cut.T > 0)).all()
        assert ((cut > 0) <= (full > 0)).all()
    # the query graph is never cut
    assert torch.equal(method.encoder_q.backbone.A, torch.tensor(build_adjacency("ntu25"), dtype=torch.float32))
