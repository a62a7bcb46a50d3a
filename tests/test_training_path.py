"""The fast training path: random-byte dropout, channels_last blocks, batched groupings,
bf16 autocast through every method, the allocator setting.

The parity tests (test_parity_*.py) check the training path's numbers against the original
code in eval mode; these check what they cannot see: train-mode dropout and BatchNorm, memory
formats, and autocast.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import randomize_

from skeletonzoo.models import EncoderConfig, MotionAttention, SkeletonEncoder
from skeletonzoo.models.msm_attention import group_features
from skeletonzoo.models.stgcn import GraphConv, STGCNBlock, dropout_add, keep_mask
from skeletonzoo.pretrain.methods import METHODS, MethodConfig
from skeletonzoo.skeleton.groupings import MSMCLR_BODIES_5, MSMCLR_PARTS_10

CL = torch.channels_last


# -- dropout -----------------------------------------------------------------------------------
@pytest.mark.parametrize("keep", [0.5, 0.75, 0.7, 0.1])  # 0.5, 0.75: random bytes; 0.7, 0.1: float draws
def test_keep_mask_is_bernoulli_with_the_keep_probability(keep):
    like = torch.empty(64, 32, 25, 25).contiguous(memory_format=CL)
    g = torch.Generator().manual_seed(0)
    mask = keep_mask(like, keep, g)
    assert mask.shape == like.shape and mask.dtype == like.dtype and mask.stride() == like.stride()
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    n = mask.numel()
    sigma = (keep * (1 - keep) / n) ** 0.5
    assert abs(float(mask.mean()) - keep) < 5 * sigma
    # independence of neighbours in memory and across channels: P(both kept) = keep^2
    flat = mask.permute(0, 2, 3, 1).reshape(-1)
    both = float((flat[1:] * flat[:-1]).mean())
    assert abs(both - keep**2) < 5 * (keep**2 * (1 - keep**2) / n) ** 0.5
    # a new draw each call, reproducible from the generator
    again = keep_mask(like, keep, g)
    assert not torch.equal(mask, again)
    assert torch.equal(keep_mask(like, keep, torch.Generator().manual_seed(0)), mask)


def test_keep_mask_edge_probabilities_and_dtypes():
    like = torch.empty(3, 5, 7, dtype=torch.bfloat16)
    assert keep_mask(like, 1.0).eq(1).all() and keep_mask(like, 0.0).eq(0).all()
    assert keep_mask(like, 0.5).dtype == torch.bfloat16
    odd = torch.empty(13, 7, 3)  # numel not a multiple of 8
    assert keep_mask(odd, 0.5).shape == odd.shape


def test_dropout_add_matches_dropout_semantics():
    g = torch.Generator().manual_seed(1)
    x = (torch.rand(200_000, generator=g) + 0.5).requires_grad_()
    res = torch.randn(200_000, generator=g).requires_grad_()
    # eval mode and p = 0 are the plain sum
    assert torch.equal(dropout_add(x, res, 0.5, training=False), x + res)
    assert torch.equal(dropout_add(x, res, 0.0, training=True), x + res)
    assert torch.equal(dropout_add(x, None, 0.5, training=False), x)
    out = dropout_add(x, res, 0.5, training=True, generator=g)
    kept = (out - res).detach() / x.detach()  # 0 where dropped, 1/(1-p) = 2 where kept
    assert torch.allclose(kept[kept > 1], torch.tensor(2.0)) and torch.allclose(kept[kept < 1], torch.tensor(0.0))
    assert abs(float((kept > 1).float().mean()) - 0.5) < 0.005
    out.sum().backward()
    assert torch.equal(res.grad, torch.ones_like(res))
    assert torch.equal(x.grad, (kept > 1).float() * 2)  # gradient through the same mask
    # no residual: dropout alone, same scaling; p = 0.3 goes through the float draws
    alone = dropout_add(x.detach(), None, 0.3, training=True, generator=g) / x.detach()
    kept3 = alone[alone > 0]
    assert torch.allclose(kept3, torch.tensor(1 / 0.7)) and abs(kept3.numel() / alone.numel() - 0.7) < 0.005
    assert abs(float(alone.mean()) - 1.0) < 0.01  # E[dropout(x)] = x


def _reference_block(block: STGCNBlock, x: torch.Tensor, a: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The original st_gcn unit: conv-then-einsum gcn, BN -> ReLU -> conv -> BN -> dropout, + res."""
    k = a.shape[0]
    g = block.gcn.conv(x)
    n, kc, t, v = g.shape
    y = torch.einsum("nkctv,kvw->nctw", g.view(n, k, kc // k, t, v), a)
    tcn = block.tcn
    h = tcn.norm_out(tcn.conv(F.relu(tcn.norm_in(y))))
    if mask is not None:
        h = h * mask / (1 - tcn.dropout.p)
    if block.residual is not None:
        h = h + block.residual(x)
    elif block.residual_kind == "identity":
        h = h + x
    return F.relu(h)


@pytest.mark.parametrize("c_in, c_out, stride, residual", [(16, 16, 1, "identity"), (16, 32, 2, "projection")])
def test_block_in_train_mode_equals_the_original_unit(c_in, c_out, stride, residual):
    torch.manual_seed(0)
    block = randomize_(STGCNBlock(c_in, c_out, 3, stride, residual, dropout=0.5), seed=3).double().train()
    ref_block = randomize_(STGCNBlock(c_in, c_out, 3, stride, residual, dropout=0.5), seed=3).double().train()
    # channels_last input, as the encoder's blocks get it from normalize_input
    x = torch.randn(6, c_in, 20, 25, dtype=torch.float64).contiguous(memory_format=CL)
    a = torch.rand(3, 25, 25, dtype=torch.float64)
    torch.manual_seed(7)
    out = block(x, a)
    # the same mask: the block draws it from the default generator in the layout of its BN output
    torch.manual_seed(7)
    t_out = (20 - 1) // stride + 1
    mask = keep_mask(torch.empty(6, c_out, t_out, 25, dtype=torch.float64).contiguous(memory_format=CL), 0.5)
    expected = _reference_block(ref_block, x, a, mask)
    assert out.is_contiguous(memory_format=CL)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-12)
    # train-mode BN statistics updated identically
    torch.testing.assert_close(block.tcn.norm_out.running_var, ref_block.tcn.norm_out.running_var)
    assert 0.3 < float((out == 0).double().mean()) < 0.8  # dropout and ReLU did act


@pytest.mark.parametrize("layout", [torch.contiguous_format, CL])
def test_graph_conv_equals_conv_then_einsum(layout):
    gcn = randomize_(GraphConv(8, 24, 3), seed=1).double()
    x = torch.randn(4, 8, 11, 25, dtype=torch.float64).contiguous(memory_format=layout)
    a = torch.rand(3, 25, 25, dtype=torch.float64)
    g = gcn.conv(x).view(4, 3, 24, 11, 25)
    expected = torch.einsum("nkctv,kvw->nctw", g, a)
    out = gcn(x, a)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert out.is_contiguous(memory_format=CL)


def test_normalize_input_equals_the_original_data_bn_in_train_mode():
    enc = randomize_(SkeletonEncoder(), seed=2).train()
    ref = randomize_(SkeletonEncoder(), seed=2).train()
    x = torch.randn(6, 3, 30, 25, 2)
    x[::2, ..., 1] = 0
    out = enc.normalize_input(x)
    n, c, t, v, m = x.shape
    # the original: (N*M, V*C, T) BatchNorm1d, then back to (N*M, C, T, V)
    y = ref.data_bn(x.permute(0, 4, 3, 1, 2).contiguous().view(n * m, v * c, t))
    expected = y.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(enc.data_bn.running_mean, ref.data_bn.running_mean)
    torch.testing.assert_close(enc.data_bn.running_var, ref.data_bn.running_var)
    assert out.is_contiguous(memory_format=CL)


@pytest.mark.parametrize("grouping", [MSMCLR_PARTS_10, MSMCLR_BODIES_5], ids=lambda g: g.name)
def test_group_features_equals_the_grouping_means(grouping):
    maps = torch.randn(4, 16, 5, 25, dtype=torch.float64).contiguous(memory_format=CL).requires_grad_()
    out = group_features(maps, grouping)
    expected = grouping.apply(maps.detach(), dim=-1)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    assert out.is_contiguous(memory_format=CL)
    out.sum().backward()  # each joint's gradient is 1/|its group|
    sizes = torch.zeros(25, dtype=torch.float64)
    for members in grouping.groups:
        sizes[list(members)] = 1.0 / len(members)
    torch.testing.assert_close(maps.grad[0, 0, 0], sizes)


def test_motion_attention_same_numbers_in_both_memory_formats():
    att = randomize_(MotionAttention(64), seed=4)
    x = torch.randn(16, 64, 6, 10)
    plain = att(x)
    cl = att(x.contiguous(memory_format=CL))
    torch.testing.assert_close(cl, plain, rtol=1e-5, atol=1e-6)
    assert cl.is_contiguous(memory_format=CL)


# -- bf16 autocast through every method --------------------------------------------------------
def _views(kinds, n: int = 8, t: int = 16, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, t, 25, 2, generator=g)
    x[::2, ..., 1] = 0
    return [x + 0.01 * torch.randn(x.shape, generator=g) for _ in kinds]


@pytest.mark.parametrize("mining", [False, True], ids=["plain", "mining"])
@pytest.mark.parametrize("name", sorted(METHODS))
def test_whole_step_bf16_autocast_keeps_losses_float32_and_close(name, mining):
    """``torch.autocast("cpu", bfloat16)`` around the whole forward: logits, losses, queues float32,
    finite gradients, and the loss close to float32 on a fixed batch (eval mode: no dropout)."""
    cfg = MethodConfig(encoder=EncoderConfig(hidden_channels=8, hidden_dim=32), feature_dim=16, queue_size=32)
    results = {}
    for amp in (False, True):
        method = randomize_(METHODS[name](cfg, torch.Generator().manual_seed(0)), seed=2).eval()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = method(_views(method.views), mining=mining)
        assert out.loss.dtype == torch.float32 and torch.isfinite(out.loss)
        for key, value in out.extras.items():
            if value.is_floating_point():
                assert value.dtype == torch.float32, key
        for buffer_name, buffer in method.named_buffers():
            if buffer_name.endswith("queue"):
                assert buffer.dtype == torch.float32
        out.loss.backward()
        grads = {n: p.grad for n, p in method.named_parameters() if p.grad is not None}
        assert grads and all(torch.isfinite(g).all() for g in grads.values())
        results[amp] = (float(out.loss.detach()), out.extras["logits"], grads)
    (loss32, logits32, grads32), (loss16, logits16, grads16) = results[False], results[True]
    assert loss16 == pytest.approx(loss32, rel=0.02)
    assert float((logits16 - logits32).abs().max()) < 0.05 * float(logits32.abs().max())
    assert grads16.keys() == grads32.keys()


def test_queue_products_stay_float32_under_autocast():
    from skeletonzoo.pretrain.losses import contrastive_logits, queue_similarity

    g = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(8, 16, generator=g), dim=1)
    queue = F.normalize(torch.randn(16, 64, generator=g), dim=0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sim = queue_similarity(q, queue)
        logits = contrastive_logits(q.bfloat16(), q, queue, 0.07)
        plain_product = q @ queue  # what autocast would otherwise do
    assert sim.dtype == logits.dtype == torch.float32 and plain_product.dtype == torch.bfloat16
    torch.testing.assert_close(sim, q @ queue, rtol=0, atol=1e-6)


def test_bf16_train_mode_step_runs_channels_last():
    """Full MsMCLR step in train mode (dropout on) under autocast, at the papers' widths."""
    method = METHODS["msmclr"](MethodConfig(queue_size=64), torch.Generator().manual_seed(0)).train()
    views = _views(method.views, n=4, t=20)
    torch.manual_seed(5)  # the same dropout masks in both precisions
    with torch.no_grad():
        reference = copy.deepcopy(method)(views)  # float32, on a copy: a step enqueues and updates keys
    torch.manual_seed(5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = method(views)
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.no_grad():
        maps = method.encoder_q.backbone.forward_maps(_views(["normal"], n=4, t=20)[0])
    assert maps.dtype == torch.bfloat16 and maps.is_contiguous(memory_format=CL)
    # the same step to bfloat16 precision (8 bits of mantissa in the blocks), term by term
    for name, value in reference.terms.items():
        torch.testing.assert_close(out.terms[name].float(), value, rtol=2e-3, atol=2e-3)
    out.loss.backward()
    assert torch.isfinite(out.loss) and all(
        torch.isfinite(p.grad).all() for p in method.parameters() if p.grad is not None
    )


# -- allocator ---------------------------------------------------------------------------------
_RSS_AFTER_FREE = """
import json, os, torch
from skeletonzoo._malloc import retain_freed_memory

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def held_and_kept():  # resident bytes a 64 MiB tensor adds, and those left once it is freed
    base = rss()
    x = torch.ones(16 << 20)  # every page written; above glibc's 32 MiB ceiling of the mmap threshold
    held = rss() - base
    del x
    return held, rss() - base

default = held_and_kept()
assert retain_freed_memory() is True
retained = held_and_kept()
torch.randn(4_000_000).relu()  # large allocations still work afterwards
print(json.dumps({"default": default, "retained": retained}))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt and /proc/self/statm: Linux with glibc only")  # fmt: skip
def test_retain_freed_memory_takes_effect_on_glibc():
    """In a fresh process (the setting is process-wide and would outlive this test): glibc gives a
    freed 64 MiB tensor back to the system by default, and keeps it resident once asked."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", _RSS_AFTER_FREE], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    rss = json.loads(run.stdout.splitlines()[-1])
    mib = 1 << 20
    assert all(held >= 60 * mib for held, _ in rss.values()), rss  # the tensor's pages were resident
    assert rss["default"][1] <= 8 * mib, rss  # unmapped on free
    assert rss["retained"][1] >= 60 * mib, rss  # kept for reuse
