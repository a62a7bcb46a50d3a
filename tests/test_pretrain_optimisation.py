"""A real optimisation step of every method: the loss on a fixed batch goes down.

The key side and the queue are held fixed (momentum 1, queue restored after each step) so that
the loss is a function of the query parameters only, and SGD on it must lower it. The queues are
first filled with the keys of other batches, as in training.
The weights are randomised with a variance-preserving scale (``conftest.randomize_``): the
original's N(0, 0.02) init makes a tiny network's projections so small that L2 normalisation
turns any step into a jump.
"""

from __future__ import annotations

import pytest
import torch
from conftest import randomize_

from skeletonzoo.models import EncoderConfig
from skeletonzoo.pretrain.methods import METHODS, MethodConfig


def _views(kinds, n: int = 8, seed: int = 1) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 12, 25, 1, generator=g)
    return [x + 0.01 * torch.randn(x.shape, generator=g) for _ in kinds]


# every method, and AimCLR with the released code's threshold drop (its paper recipes' drop)
CASES = [(name, {}) for name in sorted(METHODS)] + [("aimclr", {"attention_drop": "threshold", "drop_keep_prob": 0.7})]


@pytest.mark.parametrize("mining", [False, True], ids=["plain", "mining"])
@pytest.mark.parametrize("name, fields", CASES, ids=[n + ("-threshold-drop" if f else "") for n, f in CASES])
def test_loss_on_a_fixed_batch_decreases(name, fields, mining):
    cfg = MethodConfig(encoder=EncoderConfig(hidden_channels=4, hidden_dim=16, dropout=0.0), feature_dim=8,
                       queue_size=16, momentum=1.0, **fields)  # fmt: skip
    method = METHODS[name](cfg, torch.Generator().manual_seed(0))
    randomize_(method, seed=2)
    method.eval()  # BN on running statistics: the loss is a deterministic function of the weights
    views = _views(method.views)
    with torch.no_grad():  # fill the 16-key queues with the keys of 2 other batches of 8
        for seed in (7, 8):
            method(_views(method.views, seed=seed), mining=mining)
    queues = {n: (b.queue.clone(), b.ptr.clone()) for n, b in method.named_modules() if hasattr(b, "enqueue")}
    opt = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.2)
    losses = []
    for _ in range(6):
        out = method(views, mining=mining)
        losses.append(float(out.loss.detach()))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        for n, (q, p) in queues.items():
            module = method.get_submodule(n)
            module.queue.copy_(q)
            module.ptr.copy_(p)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < losses[0] - 1e-3, losses
    grads = [p.grad for p in method.parameters() if p.requires_grad]
    assert all(g is not None for g in grads), "every query parameter gets a gradient"


@pytest.mark.parametrize("name", sorted(METHODS))
def test_bf16_blocks_keep_losses_float32_and_close(name):
    """``compute_dtype=bfloat16`` (recipe ``amp: bf16``): the ST-GCN blocks compute in bfloat16, the
    loss differs from float32's only to bf16 accuracy, float32 terms, finite gradients."""
    from skeletonzoo.models import SkeletonEncoder
    from skeletonzoo.models.stgcn import STGCNBlock

    cfg = MethodConfig(encoder=EncoderConfig(hidden_channels=4, hidden_dim=16, dropout=0.0), feature_dim=8,
                       queue_size=16)  # fmt: skip
    losses = {}
    for dtype in (None, torch.bfloat16):
        method = randomize_(METHODS[name](cfg, torch.Generator().manual_seed(0)), seed=2).eval()
        for module in method.modules():
            if isinstance(module, SkeletonEncoder):
                module.compute_dtype = dtype  # as the trainer does for amp: bf16
        seen: set[torch.dtype] = set()  # the dtypes the blocks' graph convolutions and outputs came in
        for module in method.modules():
            if isinstance(module, STGCNBlock):
                for part in (module, module.gcn.conv):
                    part.register_forward_hook(lambda _m, _i, out, seen=seen: seen.add(out.dtype))
        out = method(_views(method.views), mining=True)
        assert seen == {dtype or torch.float32}, seen
        assert out.loss.dtype == torch.float32
        assert all(v.dtype == torch.float32 for v in out.extras.values() if v.is_floating_point())
        out.loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in method.parameters() if p.grad is not None)
        losses[dtype] = float(out.loss.detach())
    assert losses[torch.bfloat16] == pytest.approx(losses[None], rel=0.02)
    assert losses[torch.bfloat16] != losses[None]  # bf16 rounding did reach the loss
