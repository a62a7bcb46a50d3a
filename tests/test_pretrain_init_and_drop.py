"""What the NW-UCLA recipes switch on (``key_init: copy``, ``queue_init: keys``) and AimCLR's
energy-based attention drop, checked by value."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from pretrain_helpers import tiny_prepared, tiny_recipe

from skeletonzoo.models import EncoderConfig
from skeletonzoo.pretrain.attention_drop import EnergyAttentionDrop, ThresholdAttentionDrop, simam_attention
from skeletonzoo.pretrain.methods import METHODS, MethodConfig
from skeletonzoo.pretrain.recipe import load_recipe
from skeletonzoo.pretrain.trainer import Trainer
from skeletonzoo.skeleton import build_adjacency


def _config(**fields: object) -> MethodConfig:
    return MethodConfig(encoder=EncoderConfig(hidden_channels=4, hidden_dim=16), feature_dim=8, queue_size=16,
                        **fields)  # fmt: skip


@pytest.mark.parametrize("name", sorted(METHODS))
def test_only_methods_with_a_mining_phase_are_ever_mining(name):
    method = METHODS[name](_config(mining_epoch=0), torch.Generator().manual_seed(0))
    assert method.is_mining(1) == method.has_mining_phase == (name not in ("skeletonclr", "sgclr"))


@pytest.mark.parametrize("name", sorted(METHODS))
def test_momentum_update_is_m_old_plus_1_minus_m_new_and_leaves_buffers(name):
    """Closed form: every key parameter becomes ``m * old + (1 - m) * query``, paired by name
    across each branch; the key side's BatchNorm running statistics do not move."""
    method = METHODS[name](_config(momentum=0.9), torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in method.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    for query, key in method.branch_pairs():
        old = {n: p.detach().double().clone() for n, p in key.named_parameters()}
        buffers = {n: b.clone() for n, b in key.named_buffers()}
        method.momentum_update([(query, key)])
        new = dict(query.named_parameters())
        assert old and set(old) == set(new)
        for n, p in key.named_parameters():
            expected = 0.9 * old[n] + 0.1 * new[n].detach().double()
            torch.testing.assert_close(p.detach().double(), expected, rtol=0, atol=1e-6, msg=n)
            assert not torch.equal(p.detach().double(), old[n]), n
        assert buffers and all(torch.equal(b, buffers[n]) for n, b in key.named_buffers())


@pytest.mark.parametrize("name", sorted(METHODS))
def test_key_init_copy_starts_every_key_branch_equal_to_its_query(name):
    copied = METHODS[name](_config(key_init="copy"), torch.Generator().manual_seed(0))
    independent = METHODS[name](_config(), torch.Generator().manual_seed(0))
    for query, key in copied.branch_pairs():
        assert all(torch.equal(pq, pk) for pq, pk in zip(query.parameters(), key.parameters()))
    # PARITY default: the original re-initialises after copying, so the key side's random
    # tensors differ (biases start at 0 and edge importances at 1 on both sides)
    differs = [not torch.equal(pq, pk) for q, k in independent.branch_pairs()
               for pq, pk in zip(q.parameters(), k.parameters()) if pq.numel() > 1 and pq.std() > 0]  # fmt: skip
    assert all(differs) and differs


@pytest.mark.parametrize("name", sorted(METHODS))
def test_fill_queues_enqueues_the_key_projections(name):
    method = METHODS[name](_config(), torch.Generator().manual_seed(0)).eval()
    x = torch.randn(6, 3, 12, 25, 1, generator=torch.Generator().manual_seed(1))
    before = {id(q): (q.queue.clone(), int(q.ptr)) for q, _ in method.key_queues(x)}
    expected = [keys.clone() for _, keys in method.key_queues(x)]
    method.fill_queues(x)
    for (queue, _), keys in zip(method.key_queues(x), expected):
        old, ptr = before[id(queue)]
        torch.testing.assert_close(queue.queue[:, ptr : ptr + 6], keys.t())
        torch.testing.assert_close(keys.norm(dim=1), torch.ones(6))  # unit projections
        assert torch.equal(queue.queue[:, ptr + 6 :], old[:, ptr + 6 :]) and int(queue.ptr) == ptr + 6


def test_queue_init_keys_replaces_every_random_entry_before_the_first_step(tmp_path, monkeypatch):
    data = tiny_prepared(tmp_path / "data", n=24)
    overrides = {"model.queue_init": "keys", "model.queue_size": 20, "optimizer.lr_steps": []}
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=1, **overrides))
    trainer = Trainer(recipe, data, tmp_path / "run", progress=False)
    random_init = trainer.method.queue.queue.clone()
    filled = {}

    def stop_before_training(epoch, fault_step):  # type: ignore[no-untyped-def]
        filled["queue"], filled["ptr"] = trainer.method.queue.queue.clone(), int(trainer.method.queue.ptr)

    monkeypatch.setattr(trainer, "_run_epoch", stop_before_training)
    trainer.run()
    # ceil(20 / 8) = 3 batches of 8: every one of the 20 slots written, the last 4 twice
    assert filled["ptr"] == 24 % 20
    assert (filled["queue"] != random_init).all(dim=0).all()
    torch.testing.assert_close(filled["queue"].norm(dim=0), torch.ones(20))
    events = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"event": "queue_init", "global_step": 0, "batches": 3, "samples": 24}.items() <= next(
        e for e in events if e.get("event") == "queue_init").items()


def _drop(keep_prob: float = 0.9) -> EnergyAttentionDrop:
    return EnergyAttentionDrop(torch.tensor(build_adjacency("ntu25", "spatial", 1)).sum(0), keep_prob=keep_prob)


def test_attention_drop_removes_whole_joints_with_their_neighbours_and_whole_frame_blocks():
    drop = _drop(0.7)
    x = torch.randn(64, 4, 30, 25, generator=torch.Generator().manual_seed(0)).abs() + 0.1  # no zeros
    out = drop(x, torch.Generator().manual_seed(1))
    kept = out != 0
    # one mask per (row, frame, joint), the same for every channel, and one rescale for all
    assert (kept == kept[:, :1]).all()
    scale = out[kept] / x[kept]
    torch.testing.assert_close(scale, torch.full_like(scale, scale[0].item()))
    mask = kept[:, 0].float()  # (R, T, V)
    assert scale[0].item() == pytest.approx(mask.numel() / mask.sum().item(), rel=1e-6)
    dropped_joints = ~kept[:, 0].any(dim=1)  # (R, V): joints dropped in every frame
    dropped_frames = ~kept[:, 0].any(dim=2)  # (R, T)
    # every dropped position is a dropped joint or a dropped frame
    assert ((~kept[:, 0]) == (dropped_joints[:, None, :] | dropped_frames[:, :, None])).all()
    assert dropped_joints.any() and dropped_frames.any()
    # a dropped joint's seed is itself or a neighbour, whose whole neighbourhood is dropped: so
    # every dropped joint has a neighbour (or itself) whose neighbours are all dropped
    neighbours = drop.adjacency.bool()
    for r in range(x.shape[0]):
        gone = dropped_joints[r]
        closed = torch.stack([gone[neighbours[j]].all() for j in range(25)])  # j's whole neighbourhood gone
        assert all(closed[neighbours[:, j]].any() for j in torch.nonzero(gone).view(-1).tolist())
    # frame drops come in blocks of 7 (shorter only at the ends of the sequence)
    for r in range(x.shape[0]):
        runs = torch.diff(F.pad(dropped_frames[r].int(), (1, 1)))
        starts, ends = torch.nonzero(runs == 1).view(-1), torch.nonzero(runs == -1).view(-1)
        for s, e in zip(starts.tolist(), ends.tolist()):
            assert e - s >= drop.block or s == 0 or e == x.shape[2]


def test_attention_drop_targets_the_joints_simam_finds_important():
    """A joint whose activations stand out (high SimAM energy) is dropped far more often."""
    x = torch.randn(4000, 4, 20, 25, generator=torch.Generator().manual_seed(0)) * 0.1
    x[..., 7] += 3.0  # joint 7 stands out in every row
    assert simam_attention(x)[..., 7].mean() > simam_attention(x)[..., 12].mean()
    out = _drop(0.9)(x, torch.Generator().manual_seed(2))
    dropped = (out == 0).all(dim=(1, 2)).double().mean(dim=0)  # (V,) fraction of rows dropping it
    far = torch.nonzero(~_drop().adjacency.bool()[7]).view(-1)  # joints not next to 7
    assert dropped[7] > 5 * dropped[far].mean()


def test_attention_drop_keep_prob_one_is_the_identity_and_it_is_seeded():
    x = torch.randn(8, 4, 20, 25)
    assert _drop(1.0)(x) is x
    a = _drop(0.8)(x, torch.Generator().manual_seed(5))
    b = _drop(0.8)(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, _drop(0.8)(x, torch.Generator().manual_seed(6)))


def _threshold_drop_by_hand(x: torch.Tensor, keep_prob: float, e_lambda: float = 1e-4) -> torch.Tensor:
    """The released AimCLR drop re-derived entry by entry, in float64 (net/att_drop.py's description)."""
    r, c, t, v = x.shape
    x = x.double()
    att = torch.empty_like(x)
    for i in range(r):
        for ch in range(c):
            plane = x[i, ch]
            d = (plane - plane.mean()) ** 2
            att[i, ch] = torch.sigmoid(d / (4 * (d.sum() / (t * v - 1) + e_lambda)) + 0.5)
    keep_v = torch.tensor([[float(att[i, :, :, j].mean() < keep_prob) for j in range(v)] for i in range(r)],
                          dtype=torch.float64)
    out = x * keep_v.view(r, 1, 1, v) * (r * v / keep_v.sum())
    keep = (att < keep_prob).double()
    return out * keep * (keep.numel() / keep.sum())


def test_threshold_drop_is_the_released_codes_by_value():
    """Joints whose mean SimAM attention reaches keep_prob, then positions whose attention does, are
    zeroed; each mask rescales by entries / kept over the batch; nothing random, gradient through x."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(3, 4, 6, 5, generator=g, dtype=torch.float64)
    x[1, :, :, 2] += 4.0  # joint 2 of row 1 stands out in every channel: dropped as a joint
    drop = ThresholdAttentionDrop(0.7)
    out = drop(x)
    torch.testing.assert_close(out, _threshold_drop_by_hand(x, 0.7), rtol=1e-12, atol=1e-12)
    assert (out[1, :, :, 2] == 0).all() and not (out[0] == 0).all(dim=(0, 1)).any()
    dropped = float((out == 0).double().mean())
    assert 0.05 < dropped < 0.5
    assert torch.equal(drop(x, torch.Generator().manual_seed(9)), out)  # deterministic
    leaf = x.clone().requires_grad_(True)
    drop(leaf).sum().backward()
    torch.testing.assert_close(leaf.grad, out / x, rtol=1e-9, atol=1e-12)  # the masks carry no gradient
    assert torch.equal(ThresholdAttentionDrop(1.0)(x), x)  # attention < 1 everywhere: nothing dropped


def test_aimclr_recipes_take_the_released_drop_and_earlier_runs_keep_theirs():
    assert isinstance(METHODS["aimclr"](_config(attention_drop="threshold")).drop, ThresholdAttentionDrop)
    assert isinstance(METHODS["aimclr"](_config()).drop, EnergyAttentionDrop)  # recipes from before the field
    for name in ("aimclr-ntu60-xsub", "aimclr-nwucla-xview"):
        model = load_recipe(name).model
        assert (model.attention_drop, model.drop_keep_prob) == ("threshold", 0.7)
        assert json.loads(model.model_dump_json())["attention_drop"] == "threshold"
    # the earlier NW-UCLA entries' settings: at the old behaviour the field is not written, so their
    # recipes dump as they did
    earlier = load_recipe("aimclr-nwucla-xview", ["model.attention_drop=sampled", "model.drop_keep_prob=0.9"])
    assert "attention_drop" not in json.loads(earlier.model_dump_json())["model"]


def test_an_original_aimclr_checkpoint_trains_with_the_released_drop(tmp_path):
    """method_from_reference rebuilds an original-code run: its drop is the released code's, and its
    graph convolutions contract in the original's order."""
    from reference_files import write_reference_checkpoint

    from skeletonzoo.models.stgcn import GraphConv
    from skeletonzoo.pretrain.reference import method_from_reference

    path = tmp_path / "aimclr.pt"
    write_reference_checkpoint(path, "aimclr")
    method = method_from_reference(path, "aimclr")
    assert isinstance(method.drop, ThresholdAttentionDrop) and method.drop.keep_prob == 0.7
    assert all(m.original_order for m in method.modules() if isinstance(m, GraphConv))
    sampled = method_from_reference(path, "aimclr", attention_drop="sampled", original_order=False)
    assert isinstance(sampled.drop, EnergyAttentionDrop)
    assert not any(m.original_order for m in sampled.modules() if isinstance(m, GraphConv))
