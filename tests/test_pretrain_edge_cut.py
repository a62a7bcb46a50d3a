"""SGCLR-family key graphs: the original's once-per-run one-directional cut, and the corrected options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from pretrain_helpers import stop_after_steps, tiny_prepared, tiny_recipe

from skeletonzoo.models import EncoderConfig
from skeletonzoo.pretrain.methods import METHODS, MethodConfig
from skeletonzoo.skeleton.graph import build_adjacency


def _method(name: str, seed: int = 3, **config):
    """``seed`` seeds the construction generator, which draws the original's once-per-run cut."""
    cfg = MethodConfig(encoder=EncoderConfig(hidden_channels=4, hidden_dim=16), feature_dim=8, queue_size=16,
                       max_edge_cuts=6, **config)  # fmt: skip
    method = METHODS[name](cfg, torch.Generator().manual_seed(seed))
    method.generator = torch.Generator().manual_seed(4)
    return method


def _key_graphs(method) -> list[torch.Tensor]:
    return [k.backbone.A.clone() for k in _key_encoders(method)]


def _steps(method, n: int = 6) -> list[list[torch.Tensor]]:
    x = torch.randn(8, 3, 12, 25, 1, generator=torch.Generator().manual_seed(0))
    graphs = []
    for _ in range(n):
        method([x, x], mining=False)
        graphs.append(_key_graphs(method))
    return graphs


def _key_encoders(method) -> list:  # type: ignore[type-arg]
    return [method.encoder_k] + ([method.encoder_k_second] if hasattr(method, "encoder_k_second") else [])


def _check_graph(encoder, symmetric: bool) -> tuple[tuple[int, int], ...]:  # type: ignore[no-untyped-def]
    """The encoder's A is its layout's graph without its recorded cuts, every cut is a real edge,
    and the cuts are mirrored (corrected) or one-directional (original); returns the cuts."""
    cfg = encoder.backbone.config
    removed = cfg.removed_edges
    expected = build_adjacency(cfg.layout, cfg.graph_strategy, cfg.max_hop, removed=removed)
    np.testing.assert_allclose(encoder.backbone.A.numpy(), expected, atol=1e-7)
    full = build_adjacency(cfg.layout).sum(0)
    assert all(full[i, j] > 0 and i != j for i, j in removed)
    pairs = set(removed)
    assert all(((j, i) in pairs) == symmetric for i, j in removed)
    return removed


@pytest.mark.parametrize("name", ["sgclr", "crosscale-sgclr"])
def test_original_cut_is_drawn_once(name):
    # construction seed 0 cuts every key graph: sgclr's and crosscale's joint graph (13, 12), and
    # crosscale's part graph (2, 3), (0, 6) (seeds 1-5 leave one of the three uncut)
    method = _method(name, seed=0)
    before = _key_graphs(method)
    cuts = [_check_graph(encoder, symmetric=False) for encoder in _key_encoders(method)]
    assert all(cuts), cuts
    for graphs in _steps(method, n=2):
        assert all(torch.equal(a, b) for a, b in zip(before, graphs))
    assert [_check_graph(encoder, symmetric=False) for encoder in _key_encoders(method)] == cuts


def test_the_original_cuts_are_drawn_and_one_directional():
    """Over several seeds every key graph gets cut at least once (so the checks above ran on real
    cuts), and never in both directions."""
    cut = {"joint": 0, "second": 0}
    for seed in range(6):
        cfg = MethodConfig(encoder=EncoderConfig(hidden_channels=4, hidden_dim=16), feature_dim=8, queue_size=16,
                           max_edge_cuts=6)  # fmt: skip
        method = METHODS["crosscale-sgclr"](cfg, torch.Generator().manual_seed(seed))
        first, second = _key_encoders(method)
        cut["joint"] += bool(_check_graph(first, symmetric=False))
        cut["second"] += bool(_check_graph(second, symmetric=False))
    assert cut["joint"] and cut["second"]


@pytest.mark.parametrize("name", ["sgclr", "crosscale-sgclr"])
def test_corrected_cut_is_redrawn_every_step_and_is_a_real_cut(name):
    method = _method(name, edge_cut_every_step=True, edge_cut_both_directions=True)
    history = _steps(method)
    for k, encoder in enumerate(_key_encoders(method)):
        assert len({tuple(g[k].flatten().tolist()) for g in history}) > 2  # new cuts, step after step
        _check_graph(encoder, symmetric=True)
    # the query graph is never cut
    assert torch.equal(method.encoder_q.backbone.A, torch.tensor(build_adjacency("ntu25"), dtype=torch.float32))


def test_cuts_redrawn_every_step_are_the_uninterrupted_runs_after_a_resume(tmp_path: Path, monkeypatch):
    """``edge_cut_every_step`` through the trainer: the method generator draws a new cut step after
    step, and a resume restores it (the checkpoint's "method" RNG state), so the resumed run cuts
    as the uninterrupted one does."""
    from skeletonzoo.pretrain.recipe import load_recipe
    from skeletonzoo.pretrain.trainer import Trainer, TrainingInterrupted

    data = tiny_prepared(tmp_path / "data")
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "sgclr", epochs=1, **{
        "model.edge_cut_every_step": True, "model.max_edge_cuts": 6, "optimizer.lr_steps": []}))  # fmt: skip
    cuts: list[tuple[tuple[int, int], ...]] = []  # the key graph's cut in each step
    original_step = Trainer.step

    def step(self, index, epoch):  # type: ignore[no-untyped-def]
        values = original_step(self, index, epoch)
        cuts.append(self.method.encoder_k.backbone.config.removed_edges)
        return values

    monkeypatch.setattr(Trainer, "step", step)
    Trainer(recipe, data, tmp_path / "straight", progress=False).run()
    straight = list(cuts)
    assert len(straight) == 3 and len(set(straight)) == 3, straight  # 24 clips / batch 8; a new cut each step
    cuts.clear()
    stop_after_steps(monkeypatch, 2)  # step 2 of 3
    with pytest.raises(TrainingInterrupted):
        Trainer(recipe, data, tmp_path / "resumed", progress=False).run()
    monkeypatch.setattr(Trainer, "step", step)
    Trainer(recipe, data, tmp_path / "resumed", resume=True, progress=False).run()
    assert cuts == straight  # steps 1-2, then step 3 drawn by the restored generator
    a, b = (torch.load(tmp_path / f"{run}/checkpoints/last.pt", weights_only=True)["model"]
            for run in ("straight", "resumed"))  # fmt: skip
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
