"""Pretraining throughput: skeletonzoo's training step against a straightforward eager one.

Two measurements, each against a baseline written below the way the original code computes:

* **Training step** (samples/s) of MsMCLR and CrosScale-SGCLR: augmentation of the views,
  forward, backward, SGD step, momentum update and enqueue, on NTU-shaped batches
  ``(64, 3, 50, 25, 2)`` with half of the samples single-person, and on NW-UCLA-shaped batches
  ``(128, 3, 50, 25, 1)``. The eager baseline is structured like the original code
  (``nn.Sequential`` temporal block with ``nn.Dropout``, einsum graph convolution, the original
  permutes, a per-parameter momentum loop, the augmentations sample by sample in plain torch)
  and loads the same weights. Before timing, both compute the loss on the same views in eval
  mode (dropout off) and must agree. Ours is timed in float32 as the papers' float32 recipes
  train (``temporal_conv: spectral``), in float32 with the direct temporal convolution, and,
  separately labelled, with the ST-GCN blocks in bfloat16 (recipes' ``amp: bf16``,
  ``SkeletonEncoder.compute_dtype``).
* **Augmentations** (normal and strong views of a batch of 64): the batched torch pipeline
  against a per-sample NumPy implementation of ``shared/parity/SPEC.md`` §8 (float64, as the
  original), compared on pinned parameters first.

Baseline and ours alternate in one process; the medians are reported with their ratio.
Where CUDA is available the step cases also run on the GPU (``--devices cuda``: there alone,
recorded in a section of their own; ``benchmarks/gpu_step.sh`` runs that on a GPU machine).

    python benchmarks/bench_pretrain.py [--repeats 3] [--cases msmclr-ntu,...] [--devices cpu,cuda] [--write]

``--write`` records the tables in docs/benchmarks.md. By default the process first calls
``skeletonzoo._malloc.retain_freed_memory()`` (as a CPU training run should), which speeds up
both sides; ``--default-allocator`` measures without it.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import json
import math
import os
import random
import shlex
import sys
import time
import unittest.mock
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import alternate, machine, median, write_section  # noqa: E402

from skeletonzoo._machine import cpu_has_bf16_kernels  # noqa: E402
from skeletonzoo.convert import reference_encoder_key  # noqa: E402
from skeletonzoo.models import SkeletonEncoder  # noqa: E402
from skeletonzoo.models.spectral_conv import spectral_temporal_conv  # noqa: E402
from skeletonzoo.models.stgcn import TemporalConv, set_temporal_conv  # noqa: E402
from skeletonzoo.pretrain.augment import (  # noqa: E402
    NTU_FLIP_INDEX,
    AxisMask,
    GaussianBlur,
    GaussianNoise,
    JointNoise,
    Rotate,
    Shear,
    SpatialFlip,
    TemporalCrop,
)
from skeletonzoo.pretrain.methods import METHODS, ContrastiveMethod, MethodConfig  # noqa: E402
from skeletonzoo.pretrain.views import normal_view, strong_view  # noqa: E402
from skeletonzoo.skeleton.groupings import CROSSCALE_PARTS_10, MSMCLR_BODIES_5, MSMCLR_PARTS_10  # noqa: E402

QUEUE_SIZE = 32768  # the papers' K
LOAD_AT_START = os.getloadavg()[0]  # other processes on a shared machine
CASES = {
    # name: (method, batch, persons)
    "msmclr-ntu": ("msmclr", 64, 2),
    "crosscale-ntu": ("crosscale-sgclr", 64, 2),
    "msmclr-nwucla": ("msmclr", 128, 1),
    "crosscale-nwucla": ("crosscale-sgclr", 128, 1),
}


# =============================================================================================
# Eager baseline model, module for module as the original net/st_gcn.py, net/m2a.py, aimclr.py
# =============================================================================================
class EagerGraphConv(nn.Module):
    """The original ``ConvTemporalGraphical``: 1x1 conv to K*C_out, then einsum with A."""

    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__()
        self.kernel_size = k
        self.conv = nn.Conv2d(c_in, c_out * k, 1)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        n, kc, t, v = x.size()
        x = x.view(n, self.kernel_size, kc // self.kernel_size, t, v)
        return torch.einsum("nkctv,kvw->nctw", (x, a)).contiguous()


class EagerBlock(nn.Module):
    """The original ``st_gcn`` unit: tcn as ``nn.Sequential`` ending in ``nn.Dropout``."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, dropout: float, residual: bool) -> None:
        super().__init__()
        self.gcn = EagerGraphConv(c_in, c_out, k)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(c_out), nn.Dropout(dropout, inplace=True),
        )  # fmt: skip
        self.residual_kind = "none" if not residual else ("identity" if c_in == c_out and stride == 1 else "conv")
        if self.residual_kind == "conv":
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        res: torch.Tensor | int = 0
        if self.residual_kind == "identity":
            res = x
        elif self.residual_kind == "conv":
            res = self.residual(x)
        return self.relu(self.tcn(self.gcn(x, a)) + res)


class EagerM2A(nn.Module):
    """The original motion-aware attention (SPEC §5.4), written out plainly."""

    def __init__(self, c: int = 256, r: int = 8) -> None:
        super().__init__()
        self.conv_down = nn.Conv2d(c, c // r, 1)
        self.conv_up = nn.Conv2d(c // r, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        down = self.conv_down(x)
        ln = F.layer_norm(down, down.shape[-1:], eps=1e-5)
        dt = torch.cat([ln[:, :, 1:], torch.zeros_like(ln[:, :, :1])], 2) - ln
        dv = torch.cat([ln[:, :, :, 1:], torch.zeros_like(ln[:, :, :, :1])], 3) - ln
        motion = (dt + dv) / 2
        b, c, t, v = motion.shape
        q = motion.view(-1, 8, c * t * v)
        att = torch.softmax(torch.bmm(q, q.transpose(1, 2)) / math.sqrt(c * t * v), dim=-1)
        y = torch.bmm(att, q).view(b, c, t, v) + down
        return torch.sigmoid(self.conv_up(y)) * x + x


class EagerSTGCN(nn.Module):
    """The original ``Model``: data_bn, 10 blocks, pooling, mean over M, MLP head ``fc``.

    With ``m2a``, ``forward(x, drop=True)`` is MsMCLR's strong branch (SPEC §5.2).
    """

    def __init__(self, a: torch.Tensor, dropout: float, m2a: bool, h: int = 16, d: int = 256) -> None:
        super().__init__()
        self.register_buffer("A", a.clone())
        v, c = a.shape[1], 3
        self.data_bn = nn.BatchNorm1d(c * v)
        plan = [(c, h, 1, False), (h, h, 1, True), (h, h, 1, True), (h, h, 1, True),
                (h, 2 * h, 2, True), (2 * h, 2 * h, 1, True), (2 * h, 2 * h, 1, True),
                (2 * h, 4 * h, 2, True), (4 * h, 4 * h, 1, True), (4 * h, d, 1, True)]  # fmt: skip
        self.st_gcn_networks = nn.ModuleList(
            EagerBlock(i, o, a.shape[0], s, 0.0 if index == 0 else dropout, r)
            for index, (i, o, s, r) in enumerate(plan)
        )
        self.edge_importance = nn.ParameterList(nn.Parameter(torch.ones_like(a)) for _ in plan)
        self.fc: nn.Module = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 128))
        self.m2a = EagerM2A(d) if m2a else None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.size()
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(n * m, v * c, t)
        x = self.data_bn(x)
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)
        for gcn, importance in zip(self.st_gcn_networks, self.edge_importance):
            x = gcn(x, self.A * importance)
        return x

    @staticmethod
    def pool(x: torch.Tensor, n: int, m: int) -> torch.Tensor:
        x = F.avg_pool2d(x, x.size()[2:])
        return x.view(n, m, -1).mean(dim=1)

    def forward(self, x: torch.Tensor, drop: bool = False) -> torch.Tensor | list[torch.Tensor]:
        n, m = x.shape[0], x.shape[-1]
        f = self.features(x)
        if not drop:
            return self.fc(self.pool(f, n, m))
        assert self.m2a is not None
        scales = [f, divide(f, MSMCLR_PARTS_10.groups, 3), divide(f, MSMCLR_BODIES_5.groups, 3)]
        return [self.fc(self.pool(self.m2a(s), n, m)) for s in scales]


class EagerScaleSTGCN(EagerSTGCN):
    """CrosScale's 10-part encoder: head ``Linear -> ReLU -> the joint encoder's fc``."""

    def __init__(self, a: torch.Tensor, dropout: float, shared_fc: nn.Module) -> None:
        super().__init__(a, dropout, m2a=False)
        self.fc = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), shared_fc)


def divide(x: torch.Tensor, groups: Sequence[Sequence[int]], dim: int) -> torch.Tensor:
    """Mean of each joint group along ``dim`` (the original's ``divide_s`` / inline reduction)."""
    return torch.stack([x.index_select(dim, torch.tensor(g, device=x.device)).mean(dim) for g in groups], dim)


def _momentum_loop(q: nn.Module, k: nn.Module, m: float) -> None:
    """The original ``_momentum_update_key_encoder``."""
    for param_q, param_k in zip(q.parameters(), k.parameters()):
        param_k.data = param_k.data * m + param_q.data * (1.0 - m)


class EagerMsMCLR(nn.Module):
    """The original AimCLR wrapper with MsMCLR's encoder, and the processor's loss."""

    def __init__(self, a: torch.Tensor, dropout: float) -> None:
        super().__init__()
        self.encoder_q = EagerSTGCN(a, dropout, m2a=True)
        self.encoder_k = EagerSTGCN(a, dropout, m2a=True)
        for p in self.encoder_k.parameters():
            p.requires_grad = False
        self.register_buffer("queue", F.normalize(torch.randn(128, QUEUE_SIZE), dim=0))
        self.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))
        self.t, self.m = 0.07, 0.999

    def logits(self, z: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        l_pos = torch.einsum("nc,nc->n", [z, k]).unsqueeze(-1)
        l_neg = torch.einsum("nc,ck->nk", [z, self.queue.clone().detach()])
        return torch.cat([l_pos, l_neg], dim=1) / self.t

    def forward(self, im_q_extreme: torch.Tensor, im_q: torch.Tensor, im_k: torch.Tensor) -> torch.Tensor:
        q = F.normalize(self.encoder_q(im_q), dim=1)
        strong = [F.normalize(z, dim=1) for z in self.encoder_q(im_q_extreme, drop=True)]
        with torch.no_grad():
            _momentum_loop(self.encoder_q, self.encoder_k, self.m)
            k = F.normalize(self.encoder_k(im_k), dim=1)
        logits = self.logits(q, k)
        strong_p = [F.softmax(self.logits(z, k), dim=1) for z in strong]
        labels_ddm = F.softmax(logits.clone().detach(), dim=1)
        labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
        loss = F.cross_entropy(logits, labels)
        ddm = [-torch.mean(torch.sum(labels_ddm * torch.log(p), dim=1)) for p in strong_p]
        self._enqueue(k)
        return loss + sum(ddm) / 3

    @torch.no_grad()
    def _enqueue(self, k: torch.Tensor) -> None:
        ptr = int(self.queue_ptr)
        self.queue[:, ptr : ptr + k.shape[0]] = k.T
        self.queue_ptr[0] = (ptr + k.shape[0]) % QUEUE_SIZE


class EagerCrosScale(nn.Module):
    """The original CrosScale-SGCLR wrapper (plain phase) and its processor's loss."""

    def __init__(self, a: torch.Tensor, a_k: torch.Tensor, a_s: torch.Tensor, a_ks: torch.Tensor,
                 dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.encoder_q = EagerSTGCN(a, dropout, m2a=False)
        self.encoder_k = EagerSTGCN(a_k, dropout, m2a=False)
        self.encoder_q_scale = EagerScaleSTGCN(a_s, dropout, self.encoder_q.fc)
        self.encoder_k_scale = EagerScaleSTGCN(a_ks, dropout, self.encoder_k.fc)
        for enc in (self.encoder_k, self.encoder_k_scale):
            for p in enc.parameters():
                p.requires_grad = False
        for suffix in ("", "_scale"):
            self.register_buffer("queue" + suffix, F.normalize(torch.randn(128, QUEUE_SIZE), dim=0))
            self.register_buffer("queue_ptr" + suffix, torch.zeros(1, dtype=torch.long))
        self.t, self.m = 0.07, 0.999

    def forward(self, im_q: torch.Tensor, im_k: torch.Tensor) -> torch.Tensor:
        im_q_scale = divide(im_q, CROSSCALE_PARTS_10.groups, 3)
        im_k_scale = divide(im_k, CROSSCALE_PARTS_10.groups, 3)
        q = F.normalize(self.encoder_q(im_q), dim=1)
        qs = F.normalize(self.encoder_q_scale(im_q_scale), dim=1)
        with torch.no_grad():
            _momentum_loop(self.encoder_q, self.encoder_k, self.m)
            _momentum_loop(self.encoder_q_scale, self.encoder_k_scale, self.m)
            k = F.normalize(self.encoder_k(im_k), dim=1)
            ks = F.normalize(self.encoder_k_scale(im_k_scale), dim=1)
        loss = 0.0
        for z, key, queue in ((q, k, self.queue), (qs, ks, self.queue_scale)):
            l_pos = torch.einsum("nc,nc->n", [z, key]).unsqueeze(-1)
            l_neg = torch.einsum("nc,ck->nk", [z, queue.clone().detach()])
            logits = torch.cat([l_pos, l_neg], dim=1) / self.t
            labels = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
            loss = loss + F.cross_entropy(logits, labels)
        for key, queue, ptr in ((k, self.queue, self.queue_ptr), (ks, self.queue_scale, self.queue_ptr_scale)):
            with torch.no_grad():
                p = int(ptr)
                queue[:, p : p + key.shape[0]] = key.T
                ptr[0] = (p + key.shape[0]) % QUEUE_SIZE
        return loss  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
def _copy_encoder(eager: EagerSTGCN, side: nn.Module) -> None:
    """Load our ``EncoderWithHead`` (backbone, head, attention) into an eager encoder."""
    state = {reference_encoder_key(k): v for k, v in side.backbone.state_dict().items()}
    head = side.head
    if hasattr(head, "pre"):  # CrosScale's 10-part head: pre, then the shared joint head
        state.update({"fc.0.weight": head.pre.weight, "fc.0.bias": head.pre.bias})
        head = head.shared
        prefix = "fc.2."
    else:
        prefix = "fc."
    state.update({f"{prefix}0.weight": head.fc1.weight, f"{prefix}0.bias": head.fc1.bias,
                  f"{prefix}2.weight": head.fc2.weight, f"{prefix}2.bias": head.fc2.bias})  # fmt: skip
    if side.attention is not None:
        state.update({f"m2a.{k}": v for k, v in side.attention.state_dict().items()})
    missing, unexpected = eager.load_state_dict(state, strict=False)
    assert not unexpected and not [k for k in missing if not k.startswith("fc.2.")], (missing, unexpected)


def eager_from_ours(ours: ContrastiveMethod) -> nn.Module:
    """An eager baseline holding exactly our method's weights, buffers and queues."""
    dropout = ours.config.encoder.dropout
    if ours.name == "msmclr":
        eager: nn.Module = EagerMsMCLR(ours.encoder_q.backbone.A, dropout)
        pairs = [(eager.encoder_q, ours.encoder_q), (eager.encoder_k, ours.encoder_k)]
        queues = [("queue", "queue_ptr", ours.queue)]
    else:
        eager = EagerCrosScale(ours.encoder_q.backbone.A, ours.encoder_k.backbone.A,
                               ours.encoder_q_second.backbone.A, ours.encoder_k_second.backbone.A, dropout)  # fmt: skip
        pairs = [(eager.encoder_q, ours.encoder_q), (eager.encoder_k, ours.encoder_k),
                 (eager.encoder_q_scale, ours.encoder_q_second),
                 (eager.encoder_k_scale, ours.encoder_k_second)]  # fmt: skip
        queues = [("queue", "queue_ptr", ours.queue), ("queue_scale", "queue_ptr_scale", ours.queue_second)]
    with torch.no_grad():
        for e, o in pairs:
            _copy_encoder(e, o)
        for q, p, src in queues:
            getattr(eager, q).copy_(src.queue)
            getattr(eager, p).copy_(src.ptr)
    return eager


def build_ours(method: str, seed: int = 0) -> ContrastiveMethod:
    """Our method with non-trivial weights: variance-preserving random parameters, keys != queries."""
    ours = METHODS[method](MethodConfig(queue_size=QUEUE_SIZE), torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if "edge_importance" in name:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif name.endswith("weight") and p.dim() == 1:  # BN
                p.copy_(torch.rand(p.shape, generator=g) * 0.8 + 0.6)
            else:
                scale = 0.1 if p.dim() == 1 else 1.0 / max(1, p[0].numel()) ** 0.5
                p.copy_(torch.randn(p.shape, generator=g) * scale)
        for name, b in ours.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    return ours


# =============================================================================================
# Eager per-sample augmentation in torch (the original feeder's order and draws, SPEC §8)
# =============================================================================================
def _u(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))


def _rotate3(x: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """``p' = R p`` for every point of ``(3, T, V, M)``, as the original ``np.dot`` on xyz last."""
    return (x.permute(1, 2, 3, 0) @ r.t().to(x.dtype)).permute(3, 0, 1, 2)


def eager_crop(x: torch.Tensor, g: torch.Generator, ratio: int = 6) -> torch.Tensor:
    t = x.shape[1]
    pad = t // ratio
    x = torch.cat([x[:, :pad].flip(1), x, x[:, t - pad :].flip(1)], 1)
    s = int(torch.randint(0, 2 * pad + 1, (), generator=g))
    return x[:, s : s + t]


def eager_shear(x: torch.Tensor, g: torch.Generator, r: float = 0.5) -> torch.Tensor:
    s1 = [_u(g, -r, r) for _ in range(3)]
    s2 = [_u(g, -r, r) for _ in range(3)]
    m = torch.tensor([[1, s1[0], s2[0]], [s1[1], 1, s2[1]], [s1[2], s2[2], 1]], dtype=torch.float64)
    return _rotate3(x, m)


def eager_strong(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    x = eager_shear(eager_crop(x, g), g)
    if float(torch.rand((), generator=g)) < 0.5:
        x = x[:, :, list(NTU_FLIP_INDEX)]
    main = int(torch.randint(0, 3, (), generator=g))
    for axis in range(3):
        a = math.radians(_u(g, 0, 30) if axis == main else _u(g, 0, 1))
        c, s = math.cos(a), math.sin(a)
        r = [[[1, 0, 0], [0, c, s], [0, -s, c]], [[c, 0, -s], [0, 1, 0], [s, 0, c]],
             [[c, s, 0], [-s, c, 0], [0, 0, 1]]][axis]  # fmt: skip
        x = _rotate3(x, torch.tensor(r, dtype=torch.float64))
    if float(torch.rand((), generator=g)) < 0.5:
        x = x + torch.randn(x.shape, generator=g, dtype=x.dtype) * 0.01
    sigma = _u(g, 0.1, 2.0)
    if float(torch.rand((), generator=g)) < 0.5:
        k = torch.arange(-7, 8, dtype=x.dtype)
        w = torch.exp(-(k**2) / (2 * sigma**2))
        c_, t, v, m = x.shape
        series = x.permute(0, 2, 3, 1).reshape(c_ * v * m, 1, t)
        x = F.conv1d(series, w.view(1, 1, -1), padding=7).view(c_, v, m, t).permute(0, 3, 1, 2)
    if float(torch.rand((), generator=g)) < 0.5:
        x = x.clone()
        x[int(torch.randint(0, 3, (), generator=g))] = 0
    x = x.clone()
    j = int(torch.randint(0, x.shape[2], (), generator=g))
    for t in range(x.shape[1]):
        for m in range(x.shape[3]):
            if x[:, t, :, m].sum() == 0:
                continue
            for c in range(3):
                lo, hi = x[c, t, :, m].min(), x[c, t, :, m].max()
                x[c, t, j, m] = lo + float(torch.rand((), generator=g)) * (hi - lo)
    return x


def eager_normal(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return eager_shear(eager_crop(x, g), g)


def eager_views(kinds: Sequence[str], x: torch.Tensor, g: torch.Generator, device: torch.device) -> list[torch.Tensor]:
    """The feeder's views of CPU samples, one by one, stacked and moved to ``device``."""
    return [torch.stack([(eager_strong if k == "strong" else eager_normal)(s, g) for s in x]).to(device) for k in kinds]


# =============================================================================================
# Per-sample NumPy augmentations from SPEC §8, with explicit parameters or np.random draws
# =============================================================================================
def np_crop(x: np.ndarray, start: int, ratio: int = 6) -> np.ndarray:
    t = x.shape[1]
    pad = t // ratio
    x = np.concatenate([x[:, :pad][:, ::-1], x, x[:, t - pad :][:, ::-1]], axis=1)
    return x[:, start : start + t]


def np_linear(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``p' = R p`` on xyz, as the original: ``np.dot(x.transpose([1, 2, 3, 0]), R.T)``."""
    return np.dot(x.transpose([1, 2, 3, 0]), r.transpose()).transpose(3, 0, 1, 2)


def np_shear_matrix(s1: Sequence[float], s2: Sequence[float]) -> np.ndarray:
    return np.array([[1, s1[0], s2[0]], [s1[1], 1, s2[1]], [s1[2], s2[2], 1]])


def np_rotation(degrees: Sequence[float]) -> list[np.ndarray]:
    out = []
    for axis, d in enumerate(degrees):
        a = math.radians(d)
        c, s = math.cos(a), math.sin(a)
        out.append(np.array([[[1, 0, 0], [0, c, s], [0, -s, c]], [[c, 0, -s], [0, 1, 0], [s, 0, c]],
                             [[c, s, 0], [-s, c, 0], [0, 0, 1]]][axis]))  # fmt: skip
    return out


def np_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    w = np.exp(-(np.arange(-7, 8) ** 2) / (2 * sigma**2))
    t = x.shape[1]
    padded = np.pad(x, ((0, 0), (7, 7), (0, 0), (0, 0)))
    return sum(w[k] * padded[:, k : k + t] for k in range(15))


def np_joint_noise(
    x: np.ndarray, joint: int | np.ndarray, uniform: Callable[[float, float, int, int, int], float | np.ndarray]
) -> np.ndarray:
    """``noise_joint_fix``: per frame and person, skip empty ones, redraw joint ``joint`` (an index,
    or the original's one-element array with ``(1, 1)`` values)."""
    x = x.copy()
    for t in range(x.shape[1]):
        for m in range(x.shape[3]):
            if x[:, t, :, m].sum() == 0:
                continue
            for c in range(3):
                x[c, t, joint, m] = uniform(x[c, t, :, m].min(), x[c, t, :, m].max(), t, m, c)
    return x


def np_strong_pinned(x: np.ndarray, p: dict[str, np.ndarray], i: int) -> np.ndarray:
    """Sample ``i``'s strong view with the parameters our batched pipeline drew (``p``)."""
    x = np_linear(np_crop(x, int(p["start"][i])), p["shear"][i])
    if p["flip"][i]:
        x = x[:, :, list(NTU_FLIP_INDEX)]
    x = np_linear(x, p["rotate"][i])
    if p["apply_noise"][i]:  # noise has one row per noised sample
        x = x + p["noise"][int(p["apply_noise"][:i].sum())]
    if p["blur"][i]:
        x = np_blur(x, float(p["sigma"][i]))
    if p["mask"][i]:
        x = x.copy()
        x[int(p["axis"][i])] = 0
    u = p["u"][i]  # (T, M, C)
    return np_joint_noise(x, int(p["joint"][i]), lambda lo, hi, t, m, c: lo + u[t, m, c] * (hi - lo))


class VectorisedDraws:
    """The per-sample chains' random draws from ``np.random``, vectorised where it can (the
    leaner per-sample baseline). Each method is one step's draw, in the chain's call order."""

    def crop_start(self, high: int) -> int:
        return int(np.random.randint(0, high))

    def shear(self) -> tuple[Sequence[float], Sequence[float]]:
        return np.random.uniform(-0.5, 0.5, 3), np.random.uniform(-0.5, 0.5, 3)

    def coin(self) -> float:  # flip, noise and axis-mask coins
        return float(np.random.random_sample())

    def main_axis(self) -> int:
        return int(np.random.randint(0, 3))

    def angle(self, high: float) -> float:
        return float(np.random.uniform(0, high))

    def add_noise(self, x: np.ndarray) -> np.ndarray:
        return x + np.random.normal(0, 0.01, x.shape)

    def sigma(self) -> float:
        return float(np.random.uniform(0.1, 2))

    def blur_coin(self) -> float:
        return float(np.random.random_sample())

    def mask_axis(self) -> int:
        return int(np.random.randint(0, 3))

    def joint(self, num_joints: int) -> int | np.ndarray:
        return int(np.random.choice(num_joints))

    def joint_value(self, low: float, high: float) -> float | np.ndarray:
        return float(np.random.uniform(low, high))


class OriginalDraws(VectorisedDraws):
    """The original's calls, one by one as ``aug_cases.json`` records them: Python ``random``
    for its ``py`` draws, ``np.random`` with the recorded arguments for its ``np`` draws
    (``choice(25, 1)``, ``uniform(lo, hi, (1, 1))`` per joint-noise value)."""

    def shear(self) -> tuple[Sequence[float], Sequence[float]]:
        return [random.uniform(-0.5, 0.5) for _ in range(3)], [random.uniform(-0.5, 0.5) for _ in range(3)]

    def coin(self) -> float:
        return random.random()

    def main_axis(self) -> int:
        return random.randint(0, 2)

    def angle(self, high: float) -> float:
        return random.uniform(0, high)

    def add_noise(self, x: np.ndarray) -> np.ndarray:
        return x.copy() + np.random.normal(0, 0.01, size=x.shape)

    def sigma(self) -> float:
        return random.uniform(0.1, 2)

    def mask_axis(self) -> int:
        return random.randint(0, 2)

    def joint(self, num_joints: int) -> int | np.ndarray:
        return np.random.choice(num_joints, 1)  # an array of one index, as the original

    def joint_value(self, low: float, high: float) -> float | np.ndarray:
        return np.random.uniform(low, high, (1, 1))


def np_strong(x: np.ndarray, draws: VectorisedDraws) -> np.ndarray:
    """The strong view of one sample (SPEC §8 order) with ``draws``' random calls. The blur is the
    NumPy sum of shifted copies (the original runs a torch ``conv2d`` per sample)."""
    t = x.shape[1]
    x = np_linear(np_crop(x, draws.crop_start(2 * (t // 6) + 1)), np_shear_matrix(*draws.shear()))
    if draws.coin() < 0.5:
        x = x[:, :, list(NTU_FLIP_INDEX)]
    main = draws.main_axis()
    for r in np_rotation([draws.angle(30) if a == main else draws.angle(1) for a in range(3)]):
        x = np_linear(x, r)
    if draws.coin() < 0.5:
        x = draws.add_noise(x)
    sigma = draws.sigma()
    if draws.blur_coin() < 0.5:
        x = np_blur(x, sigma)
    if draws.coin() < 0.5:
        x = x.copy()
        x[draws.mask_axis()] = 0
    joint = draws.joint(x.shape[2])
    return np_joint_noise(x, joint, lambda lo, hi, t, m, c: draws.joint_value(lo, hi))


def np_normal(x: np.ndarray, draws: VectorisedDraws) -> np.ndarray:
    """The normal view of one sample: crop, shear."""
    x = np_crop(x, draws.crop_start(2 * (x.shape[1] // 6) + 1))
    return np_linear(x, np_shear_matrix(*draws.shear()))


def check_original_calls(parity: Path) -> float | None:
    """Replay the draws ``aug_cases.json`` recorded from the original through
    ``np_strong``/``np_normal`` with ``OriginalDraws`` (every call must come in the recorded order,
    and every draw be used) and return the largest difference from ``aug.npz``; ``None``
    without the fixture."""
    if not (parity / "aug_cases.json").exists():
        return None
    cases = json.loads((parity / "aug_cases.json").read_text())
    worst = 0.0
    with np.load(parity / "aug.npz") as arrays:
        for case in ("strong_aug_chain_0", "strong_aug_chain_1", "normal_aug_chain"):
            draws = list(cases[case]["draws"])
            u = list(arrays[f"{case}/u"]) if f"{case}/u" in arrays.files else []
            noise = arrays[f"{case}/noise"] if f"{case}/noise" in arrays.files else None

            def replay(stream: str, fn: str, *args: object, case: str = case, draws: list = draws,  # type: ignore[type-arg]
                       u: list = u, noise: np.ndarray | None = noise, **_: object) -> object:  # type: ignore[type-arg]  # fmt: skip
                d = draws.pop(0)
                if (d["stream"], d["fn"]) != (stream, fn):
                    raise SystemExit(f"{case}: the baseline calls {stream}.{fn}, the original {d['stream']}.{d['fn']}")
                if fn == "normal":
                    return noise
                if fn == "choice":
                    return np.array([d["value"]])
                if stream == "np" and fn == "uniform":  # uniform(lo, hi, (1, 1)) with the pinned u
                    lo, hi = float(args[0]), float(args[1])  # type: ignore[arg-type]
                    return np.array([[lo + float(u.pop(0)) * (hi - lo)]])
                return d["value"]

            fakes = {(random, "uniform"): "py", (random, "random"): "py", (random, "randint"): "py",
                     (np.random, "randint"): "np", (np.random, "normal"): "np", (np.random, "uniform"): "np",
                     (np.random, "random_sample"): "np", (np.random, "choice"): "np"}  # fmt: skip
            with contextlib.ExitStack() as stack:
                for (module, name), stream in fakes.items():
                    fake = functools.partial(replay, stream, name)
                    stack.enter_context(unittest.mock.patch.object(module, name, fake))
                fn = np_normal if case.startswith("normal") else np_strong
                out = fn(arrays[cases[case]["input"]].astype(np.float64), OriginalDraws())
            if draws or u:
                raise SystemExit(f"{case}: {len(draws)} recorded draws not used by the baseline")
            worst = max(worst, float(np.abs(out - arrays[f"{case}/out"]).max()))
    return worst


def ours_strong_pinned(x: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """Our strong view, returning the parameters it drew (per sample) for the NumPy check."""
    params: dict[str, np.ndarray] = {}
    steps = [("crop", TemporalCrop()), ("shear", Shear()), ("flip", SpatialFlip()), ("rotate", Rotate()),
             ("noise", GaussianNoise()), ("blur", GaussianBlur()), ("mask", AxisMask()),
             ("joint", JointNoise())]  # fmt: skip
    for name, aug in steps:
        drawn = aug.sample(x, g)
        x = aug.apply(x, **drawn)
        for key, value in drawn.items():
            params[{"matrix": name}.get(key, key)] = value.numpy()
    return x, params


# =============================================================================================
def _sync(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def _batch(n: int, m: int, device: torch.device, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 50, 25, m, generator=g).cumsum(2) * 0.05  # random-walk skeletons
    if m == 2:
        x[n // 2 :, ..., 1] = 0  # half of the samples have one person
    return x.to(device)


def _set_blocks_dtype(method: nn.Module, dtype: torch.dtype | None) -> None:
    for module in method.modules():
        if isinstance(module, SkeletonEncoder):
            module.compute_dtype = dtype


def check_step_equivalence(
    ours: ContrastiveMethod, eager: nn.Module, views: list[torch.Tensor]
) -> tuple[float, float, float]:
    """Eval mode (dropout off), same views: the two losses, and the largest difference between
    the normalised query projections of the first normal view (every query encoder)."""
    ours.eval()
    eager.eval()
    im_q = views[ours.views.index("normal")]
    with torch.no_grad():
        proj_diff = float((ours.encoder_q(im_q) - F.normalize(eager.encoder_q(im_q), dim=1)).abs().max())
        if hasattr(ours, "encoder_q_second"):
            im_s = ours.second_input(im_q)
            diff_s = ours.encoder_q_second(im_s) - F.normalize(eager.encoder_q_scale(im_s), dim=1)
            proj_diff = max(proj_diff, float(diff_s.abs().max()))
    loss_ours = float(ours(views).loss.detach())
    loss_eager = float(eager(*views).detach())
    return loss_ours, loss_eager, proj_diff


def last_block_conv_seconds(
    model: nn.Module, forward: Callable[[], object], device: torch.device, repeats: int
) -> tuple[float, float]:
    """The last ST-GCN block's temporal convolution (256 -> 256 channels, 9x1) alone, at the
    shapes and memory format one step of ``model`` gives it, computed as that step computes it
    (oneDNN's direct convolution, or ours' spectral one where the recipe's ``temporal_conv``
    takes it): forward, plus backward where the step needs gradients (query encoders).
    Returns (median seconds per step, GFLOP/s of the direct algorithm's products).

    It is the largest computation of every step: with the direct algorithm in both, it bounds
    how far the rest can move the whole step's ratio.
    """
    # (weight, bias, stride, padding, input shape, memory format, gradients?, spectral?)
    calls: list[tuple[torch.Tensor, torch.Tensor | None, int, int, torch.Size, torch.memory_format, bool, bool]] = []

    def fmt_of(x: torch.Tensor) -> torch.memory_format:
        return torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous() \
            else torch.contiguous_format

    def record_conv(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        x = inputs[0]
        grad = torch.is_grad_enabled() and module.weight.requires_grad  # type: ignore[union-attr]
        calls.append((module.weight, module.bias, module.stride[0], module.padding[0], x.shape, fmt_of(x), grad, False))  # type: ignore[arg-type,index]

    def record_tcn(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        assert isinstance(module, TemporalConv)
        x, conv = inputs[0], module.conv  # the conv's input has x's shape (BatchNorm, ReLU)
        grad = torch.is_grad_enabled() and conv.weight.requires_grad
        calls.append((conv.weight, conv.bias, conv.stride[0], conv.padding[0], x.shape, torch.channels_last, grad,  # type: ignore[arg-type]
                      module.uses_spectral(x)))  # fmt: skip

    tcns = [m for m in model.modules() if isinstance(m, TemporalConv) and m.conv.in_channels == 256]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (9, 1)
             and m.in_channels == 256 and not any(m is t.conv for t in tcns)]  # fmt: skip
    hooks = [m.register_forward_hook(record_tcn) for m in tcns] + [m.register_forward_hook(record_conv) for m in convs]
    try:
        forward()
    finally:
        for h in hooks:
            h.remove()
    g = torch.Generator(device=device).manual_seed(0)
    prepared = []
    flops = 0.0
    for weight, bias, stride, pad, shape, fmt, grad, spectral in calls:
        x = torch.randn(shape, generator=g, device=device).contiguous(memory_format=fmt).requires_grad_(grad)
        w = weight.detach().clone().contiguous(memory_format=fmt).requires_grad_(grad)
        b = None if bias is None else bias.detach().clone().requires_grad_(grad)
        prepared.append((x, w, b, stride, pad, grad, spectral))
        r, c, t, v = shape
        k = w.shape[2]
        t_out = (t + 2 * pad - k) // stride + 1
        flops += 2.0 * r * t_out * v * c * w.shape[0] * k * (3 if grad else 1)  # backward: 2x forward

    def run() -> None:
        for x, w, b, stride, pad, grad, spectral in prepared:
            if spectral:
                y = spectral_temporal_conv(x, w, b, stride)
            else:
                y = F.conv2d(x, w, b, (stride, 1), (pad, 0))
            if grad:
                torch.autograd.grad(y, [x, w] + ([b] if b is not None else []), torch.ones_like(y))

    seconds = median(alternate({"conv": run}, repeats, _sync(device))["conv"])
    return seconds, flops / seconds / 1e9


# aten operators that do the dense products of a step (convolutions, matrix products); their
# self time is the part of a step that runs in oneDNN / BLAS kernels in both implementations
DENSE_OPS = frozenset({"aten::mkldnn_convolution", "aten::convolution_backward", "aten::mm", "aten::bmm",
                       "aten::addmm", "aten::baddbmm", "aten::baddbmm_", "aten::addbmm", "aten::_convolution",
                       "aten::cudnn_convolution", "aten::cudnn_convolution_backward"})  # fmt: skip


def dense_product_seconds(step: Callable[[], None], device: torch.device, steps: int = 2) -> tuple[float, float]:
    """``steps`` steps, each under ``torch.profiler``: (seconds of self time in :data:`DENSE_OPS`,
    seconds of the profiled step), of the step whose wall time was shortest (one profiled step
    alone was sometimes 1.7x slower than the unprofiled ones). CPU only (on CUDA the kernels run
    asynchronously): ``(nan, nan)``.

    Why: a step can be at most ``eager step / ours' dense seconds`` times faster than eager's
    without computing fewer products; this is that bound, measured.
    """
    if device.type != "cpu":
        return math.nan, math.nan
    from torch.profiler import ProfilerActivity, profile

    runs = []
    for _ in range(steps):
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            step()
            wall = time.perf_counter() - start
        dense_us = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in DENSE_OPS)
        runs.append((wall, dense_us / 1e6))
    wall, dense = min(runs)
    return dense, wall


def bench_step(case: str, device: torch.device, repeats: int, bf16: bool = True) -> dict[str, object]:
    """One case on ``device``: eager, ours in float32 and (``bf16``) ours with bf16 blocks."""
    method, n, m = CASES[case]
    ours = build_ours(method).to(device)
    eager = eager_from_ours(ours).to(device)
    # fp32 as the papers' float32 recipes train (temporal_conv: spectral); "fp32-direct" with
    # oneDNN's direct temporal convolution, as before that option
    set_temporal_conv(ours, "spectral")
    x = _batch(n, m, device, seed=n + m)
    g_views = torch.Generator(device=device).manual_seed(0)
    views = [(strong_view() if k == "strong" else normal_view())(x, g_views) for k in ours.views]
    if device.type == "cuda":  # exact float32 for the check: no TF32
        tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    # each check on a copy: a forward moves the key encoder and the queue
    loss_ours, loss_eager, proj_diff = check_step_equivalence(copy.deepcopy(ours), copy.deepcopy(eager), views)
    ours_direct = set_temporal_conv(copy.deepcopy(ours), "direct")
    loss_direct, _, proj_diff_direct = check_step_equivalence(ours_direct, copy.deepcopy(eager), views)
    del ours_direct
    loss_bf16 = proj_diff_bf16 = math.nan
    if bf16:
        ours_bf16 = copy.deepcopy(ours)
        _set_blocks_dtype(ours_bf16, torch.bfloat16)
        loss_bf16, _, proj_diff_bf16 = check_step_equivalence(ours_bf16, copy.deepcopy(eager), views)
        del ours_bf16
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    for label, loss, diff in (("spectral", loss_ours, proj_diff), ("direct", loss_direct, proj_diff_direct)):
        if abs(loss - loss_eager) > 1e-4 * max(1.0, abs(loss_eager)) or diff > 1e-4:
            raise SystemExit(f"{case}: ours ({label} temporal convolutions) differs from the eager baseline: "
                             f"loss {loss} vs {loss_eager}, projections by {diff:.1e}")  # fmt: skip
    ours.train()
    eager.train()

    def sgd(model: nn.Module) -> torch.optim.SGD:  # the papers' optimiser
        return torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9,
                               weight_decay=1e-4)  # fmt: skip

    opt_ours, opt_eager = sgd(ours), sgd(eager)
    augs = {"strong": strong_view(), "normal": normal_view()}
    g_ours = torch.Generator(device=device).manual_seed(1)
    # the original's feeder draws views on the CPU, sample by sample
    x_cpu, g_eager = x.cpu(), torch.Generator().manual_seed(2)

    view_times: dict[str, list[float]] = {"eager": [], "fp32": [], "fp32-direct": [], "bf16": []}

    def timed_views(name: str, make: Callable[[], list[torch.Tensor]]) -> list[torch.Tensor]:
        start = time.perf_counter()
        views = make()
        _sync(device)()
        view_times[name].append(time.perf_counter() - start)
        return views

    def step_eager() -> None:
        loss = eager(*timed_views("eager", lambda: eager_views(ours.views, x_cpu, g_eager, device)))
        opt_eager.zero_grad()
        loss.backward()
        opt_eager.step()

    def step_ours(dtype: torch.dtype | None, algorithm: str = "spectral") -> Callable[[], None]:
        name = "bf16" if dtype is not None else "fp32" if algorithm == "spectral" else "fp32-direct"

        def run() -> None:
            _set_blocks_dtype(ours, dtype)
            set_temporal_conv(ours, algorithm)
            out = ours(timed_views(name, lambda: [augs[k](x, g_ours) for k in ours.views]))
            opt_ours.zero_grad()
            out.loss.backward()
            opt_ours.step()

        return run

    fns = {"eager": step_eager, "fp32": step_ours(None), "fp32-direct": step_ours(None, "direct")}
    if bf16:
        fns["bf16"] = step_ours(torch.bfloat16)
    times = alternate(fns, repeats, _sync(device))
    _set_blocks_dtype(ours, None)
    set_temporal_conv(ours, "spectral")
    t = {k: median(v) for k, v in times.items()}
    t.setdefault("bf16", math.nan)
    view_times["bf16"] = view_times["bf16"] or [math.nan]
    # the last block's temporal convolution alone (copies: a forward moves keys and queues)
    conv_views = [augs[k](x, g_ours) for k in ours.views]
    ours_copy, eager_copy = copy.deepcopy(ours), copy.deepcopy(eager)
    conv_ours, gflops_ours = last_block_conv_seconds(ours_copy, lambda: ours_copy(conv_views), device, repeats)
    conv_eager, gflops_eager = last_block_conv_seconds(eager_copy, lambda: eager_copy(*conv_views), device, repeats)
    # the dense products of one more step of each (profiled: not in the timings above)
    dense_eager, profiled_eager = dense_product_seconds(step_eager, device)
    dense_ours, profiled_ours = dense_product_seconds(step_ours(None), device)
    row = {"case": case, "device": device.type, "n": n, "m": m, "loss": loss_eager,
           "diff": abs(loss_ours - loss_eager), "bf16_diff": abs(loss_bf16 - loss_eager),
           "direct_diff": abs(loss_direct - loss_eager), "proj_diff_direct": proj_diff_direct,
           "proj_diff": proj_diff, "proj_diff_bf16": proj_diff_bf16,
           **{f"{k}_sps": n / v for k, v in t.items()},
           **{f"{k}_views_s": median(v) for k, v in view_times.items()},
           "conv_ours_s": conv_ours, "conv_eager_s": conv_eager, "conv_ours_gflops": gflops_ours,
           "conv_eager_gflops": gflops_eager,
           "rest_ratio": (t["eager"] - conv_eager) / (t["fp32"] - conv_ours),
           "dense_eager_s": dense_eager, "dense_ours_s": dense_ours,
           "dense_share_eager": dense_eager / profiled_eager, "dense_share_ours": dense_ours / profiled_ours,
           "dense_bound": t["eager"] / dense_ours, "eager_n_s": t["eager"], "fp32_n_s": t["fp32"],
           "profiled_eager_s": profiled_eager, "profiled_ours_s": profiled_ours}  # fmt: skip
    print(f"{case} [{device.type}] N={n} M={m}: eager {n / t['eager']:.1f} samples/s, "
          f"ours fp32 {n / t['fp32']:.1f} ({t['eager'] / t['fp32']:.2f}x; with direct temporal convolutions "
          f"{n / t['fp32-direct']:.1f}, {t['eager'] / t['fp32-direct']:.2f}x), "
          f"ours bf16 blocks {n / t['bf16']:.1f} ({t['eager'] / t['bf16']:.2f}x); "
          f"eval-mode loss {loss_eager:.6f}, |ours - eager| {row['diff']:.1e} (projections {proj_diff:.1e}; "
          f"direct {row['direct_diff']:.1e}, {proj_diff_direct:.1e}), "
          f"|bf16 - eager| {row['bf16_diff']:.1e} (projections {proj_diff_bf16:.1e}); "
          f"step s eager {t['eager']:.2f}, fp32 {t['fp32']:.2f}, bf16 {t['bf16']:.2f}, of which views "
          f"{row['eager_views_s']:.2f} / {row['fp32_views_s']:.3f} / {row['bf16_views_s']:.3f}; "
          f"last block's temporal conv alone eager {conv_eager:.2f} s ({gflops_eager:.0f} GFLOP/s), "
          f"ours {conv_ours:.2f} s ({gflops_ours:.0f} GFLOP/s); the rest of the step {row['rest_ratio']:.2f}x; "
          f"dense products (one profiled step) eager {dense_eager:.2f} s ({row['dense_share_eager']:.0%}), "
          f"ours fp32 {dense_ours:.2f} s ({row['dense_share_ours']:.0%}): at most {row['dense_bound']:.2f}x",
          flush=True)  # fmt: skip
    return row


def bench_augment(repeats: int, n: int = 64, batches: int = 8) -> dict[str, float]:
    """Samples/s of the MsMCLR feeder's three views, in steady state: one timing covers the
    ``n`` samples of a batch one by one (NumPy) or ``batches`` consecutive batches (ours), so
    neither side is timed on a single cold call."""
    x = _batch(n, 2, torch.device("cpu"), seed=3)
    # 1. outputs on pinned parameters: our draws fed to the NumPy implementation, float64
    x64 = x.double()
    g = torch.Generator().manual_seed(5)
    strong, params = ours_strong_pinned(x64, g)
    expected = np.stack([np_strong_pinned(s, params, i) for i, s in enumerate(x64.numpy())])
    strong_diff = float(np.abs(strong.numpy() - expected).max())
    normal = normal_view()
    crop, shear = normal.augmentations
    drawn_c, drawn_s = crop.sample(x64, g), None
    cropped = crop.apply(x64, **drawn_c)
    drawn_s = shear.sample(cropped, g)
    ours_normal = shear.apply(cropped, **drawn_s)
    expected_normal = np.stack([np_linear(np_crop(s, int(drawn_c["start"][i])), drawn_s["matrix"][i].numpy())
                                for i, s in enumerate(x64.numpy())])  # fmt: skip
    normal_diff = float(np.abs(ours_normal.numpy() - expected_normal).max())
    if max(strong_diff, normal_diff) > 1e-9:
        raise SystemExit(f"augmentations differ from the NumPy reference: strong {strong_diff}, normal {normal_diff}")

    shared = Path(os.environ.get("SKELETONZOO_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
    original_diff = check_original_calls(shared / "parity")
    if original_diff is not None and original_diff > 1e-9:
        raise SystemExit(f"the original-calls baseline differs from aug.npz by {original_diff}")

    # 2. timing: one strong and two normal views of the batch (the MsMCLR feeder's triple)
    xs = x.numpy()
    np.random.seed(0)
    random.seed(0)
    g = torch.Generator().manual_seed(6)
    sv, nv = strong_view(), normal_view()
    original, vectorised = OriginalDraws(), VectorisedDraws()

    def run_original() -> None:
        for s in xs:
            np_strong(s.astype(np.float64), original)
            np_normal(s.astype(np.float64), original)
            np_normal(s.astype(np.float64), original)

    def run_numpy() -> None:
        for s in xs:
            np_strong(s.astype(np.float64), vectorised)
            np_normal(s.astype(np.float64), vectorised)
            np_normal(s.astype(np.float64), vectorised)

    def run_ours() -> None:
        for _ in range(batches):
            sv(x, g)
            nv(x, g)
            nv(x, g)

    def run_draws() -> None:  # ours' random draws alone (the same three views)
        for _ in range(batches):
            sv.sample(x, g)
            for step in nv.augmentations:
                step.sample(x, g)

    k_noise = n // 2  # the expected number of noised samples
    noise_shape = (k_noise, *x.shape[1:])

    def run_noise() -> None:  # the Gaussian noise draw alone
        for _ in range(batches):
            torch.randn(noise_shape, generator=g)

    fns = {"original": run_original, "numpy": run_numpy, "ours": run_ours, "draws": run_draws, "noise": run_noise}
    times = alternate(fns, repeats)
    t_orig, t_np = median(times["original"]), median(times["numpy"])
    t_ours = median(times["ours"]) / batches  # seconds per batch of n
    t_draws, t_noise = median(times["draws"]) / batches, median(times["noise"]) / batches
    per_repeat = [o * batches / u for o, u in zip(times["original"], times["ours"])]  # this machine's spread
    print(f"augment N={n}: per-sample NumPy with the original's calls {n / t_orig:.0f} samples/s, "
          f"with vectorised draws {n / t_np:.0f} samples/s, batched torch {n / t_ours:.0f} samples/s; "
          f"ratios {t_orig / t_ours:.1f}x / {t_np / t_ours:.1f}x; max |diff| on pinned parameters: "
          f"strong {strong_diff:.1e}, normal {normal_diff:.1e}", flush=True)  # fmt: skip
    return {"original_sps": n / t_orig, "numpy_sps": n / t_np, "ours_sps": n / t_ours,
            "ratio_original": t_orig / t_ours, "ratio": t_np / t_ours, "batches": batches,
            "ratio_original_range": (min(per_repeat), max(per_repeat)), "repeats": repeats,
            "ours_ms": 1e3 * t_ours, "draws_ms": 1e3 * t_draws, "noise_ms": 1e3 * t_noise, "k_noise": k_noise,
            "original_diff": original_diff,
            "strong_diff": strong_diff, "normal_diff": normal_diff}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--no-augment", action="store_true", help="skip the augmentation benchmark")
    parser.add_argument("--no-cuda", action="store_true", help="CPU only even when CUDA is available")
    parser.add_argument("--devices", default="auto",
                        help="comma-separated step devices: cpu, cuda (auto: the CPU, and CUDA where available); "
                             "'cuda' alone fits a short GPU lease, and --write then records the section "
                             "pretrain-cuda, leaving the CPU tables")  # fmt: skip
    parser.add_argument("--default-allocator", action="store_true",
                        help="do not call skeletonzoo._malloc.retain_freed_memory()")  # fmt: skip
    parser.add_argument("--threads", type=int, default=min(torch.get_num_threads(), 16),
                        help="torch CPU threads (default: all cores, at most 16)")  # fmt: skip
    parser.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                        help="time ours with bf16 blocks; auto: where the device has bfloat16 kernels "
                             "(CUDA, a CPU with AVX-512), not on an AVX2 CPU (one emulated step takes "
                             "minutes there)")  # fmt: skip
    parser.add_argument("--write", action="store_true", help="record results in docs/benchmarks.md")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")
    allocator = "glibc default"
    if not args.default_allocator:
        from skeletonzoo._malloc import retain_freed_memory

        allocator = "retain_freed_memory()" if retain_freed_memory() else "glibc default (not glibc)"
    torch.set_num_threads(args.threads)
    if args.devices == "auto":
        devices = [torch.device("cpu")]
        if torch.cuda.is_available() and not args.no_cuda:
            devices.append(torch.device("cuda"))
    else:
        names = [d for d in args.devices.split(",") if d]
        if not names or any(d not in ("cpu", "cuda") for d in names):
            parser.error(f"--devices takes cpu, cuda or both (comma-separated), not {args.devices!r}")
        if "cuda" in names and not torch.cuda.is_available():
            parser.error(f"--devices {args.devices}: CUDA is not available to torch {torch.__version__} here")
        devices = [torch.device(d) for d in names]
    # a CUDA-only run (a short GPU lease) records its own section and keeps the CPU tables
    cuda_only = all(d.type == "cuda" for d in devices)

    def with_bf16(device: torch.device) -> bool:
        if args.bf16 != "auto":
            return args.bf16 == "on"
        return torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_bf16_kernels()

    rows = [bench_step(case, device, args.repeats, with_bf16(device)) for device in devices for case in cases]
    aug = None if args.no_augment else bench_augment(args.repeats)

    command = f"`python {shlex.join(sys.argv)}`"
    machine_line = (f"Machine: {machine()}; 1-minute load average {LOAD_AT_START:.1f} when the run started. "
                    f"Allocator: {allocator}.")  # fmt: skip
    lines = [
        f"## Pretraining step{' on the GPU' if cuda_only else ''} (`benchmarks/bench_pretrain.py`)",
        "",
        machine_line,
        f"Command: {command}; median of the repeats, eager and ours alternating in one process.",
        "One step = augmentation of the views + forward + backward + SGD step + momentum update + "
        f"enqueue, queue K={QUEUE_SIZE}, non-mining phase. Eager: written like the original code "
        "(nn.Sequential tcn with nn.Dropout, einsum graph conv, per-parameter momentum loop, views "
        "sample by sample). fp32: ours in float32 as the papers' float32 recipes train it (`temporal_conv: "
        "spectral`: stride-1 temporal convolutions of 32+ channels in the frequency domain, "
        "`models/spectral_conv.py`); fp32, direct tconv: the same with oneDNN's direct temporal "
        "convolution everywhere (`temporal_conv: direct`). bf16 blocks: ours with the ST-GCN blocks in "
        "bfloat16 autocast (recipe `amp: bf16`). Checked first, in eval mode (dropout off) on the same "
        "views: loss and normalised query projections (every query encoder) against eager.",
        "",
        "| case | device | N, M | eager samples/s | ours fp32 samples/s | ratio | ours fp32, direct tconv "
        "samples/s | ratio | ours bf16 blocks samples/s | ratio | views s/step eager / ours "
        "| loss diff fp32 / direct / bf16 | projection diff fp32 / direct / bf16 "
        "| last tconv s/step eager / ours (GFLOP/s) | fp32 ratio without it |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    def bf16_cell(value: object, spec: str, unit: str = "") -> str:  # "-" where --bf16 left it out
        return "-" if math.isnan(value) else format(value, spec) + unit  # type: ignore[arg-type]

    for r in rows:
        lines.append(
            f"| {r['case']} | {r['device']} | {r['n']}, {r['m']} | {r['eager_sps']:.1f} | {r['fp32_sps']:.1f} "
            f"| {r['fp32_sps'] / r['eager_sps']:.2f}x | {r['fp32-direct_sps']:.1f} "
            f"| {r['fp32-direct_sps'] / r['eager_sps']:.2f}x | {bf16_cell(r['bf16_sps'], '.1f')} "
            f"| {bf16_cell(r['bf16_sps'] / r['eager_sps'], '.2f', 'x')} "
            f"| {r['eager_views_s']:.2f} / {r['fp32_views_s']:.3f} "
            f"| {r['diff']:.1e} / {r['direct_diff']:.1e} / {bf16_cell(r['bf16_diff'], '.1e')} "
            f"| {r['proj_diff']:.1e} / {r['proj_diff_direct']:.1e} / {bf16_cell(r['proj_diff_bf16'], '.1e')} "
            f"| {r['conv_eager_s']:.2f} ({r['conv_eager_gflops']:.0f}) / {r['conv_ours_s']:.2f} "
            f"({r['conv_ours_gflops']:.0f}) | {r['rest_ratio']:.2f}x |"
        )
    if any(math.isnan(r["bf16_sps"]) for r in rows):  # type: ignore[arg-type]
        lines += ["", "*-*: bf16 blocks not timed (`--bf16 auto` on a CPU without oneDNN's bfloat16 kernels, "
                      "where autocast runs emulated paths; `--bf16 on` times them)."]  # fmt: skip
    if rows:
        lines += [
            "",
            "*last tconv*: the last block's 256 -> 256 (9x1) temporal convolution timed alone at the "
            "shapes and memory format the step gives it, computed as the fp32 step computes it (eager: "
            "oneDNN's direct convolution; ours: spectral), forward, and backward for the query encoders "
            "(`last_block_conv_seconds`); GFLOP/s counts the direct algorithm's products for both, so "
            "ours' figure is an effective rate. It is the largest computation of the step: *fp32 ratio "
            "without it* is (eager step - its tconv) / (ours - its tconv).",
        ]
    profiled = [r for r in rows if not math.isnan(r["dense_ours_s"])]  # type: ignore[arg-type]
    if any(r["device"] == "cuda" for r in rows):
        lines += [
            "",
            "On the GPU the eager step draws its views on the CPU, sample by sample, as the original's "
            "feeder does (in its DataLoader workers, beside the GPU): *views s/step* says how much of "
            "eager's step that is.",
        ]
    if profiled:
        lines += [
            "",
            "Where the float32 steps' time goes: two more steps of each under `torch.profiler`, the "
            "faster of the two (`dense_product_seconds`), the self time of the operators that do the "
            "dense products (all convolutions and matrix products, forward and backward, in oneDNN / "
            "BLAS kernels; ours' are fewer: its graph convolution aggregates over joints on the "
            "narrower input channels, `stgcn.GraphConv`, and its wide temporal convolutions are "
            "products per frequency, `spectral_conv`). A float32 step computing ours' products cannot "
            "be more than *eager step / ours' dense products* faster than eager's, however fast "
            "everything else becomes.",
            "",
            "| case | device | dense products s/step eager / ours fp32 | share of the profiled step eager / ours "
            "| fp32 ratio if the rest took no time | fp32 ratio of the rest (profiled step minus dense products) |",
            "|---|---|---|---|---|---|",
        ]
        for r in profiled:
            # both from the profiled steps (one step each: the profiled wall time moves between runs)
            rest_eager = r["profiled_eager_s"] - r["dense_eager_s"]  # type: ignore[operator]
            rest_ours = r["profiled_ours_s"] - r["dense_ours_s"]  # type: ignore[operator]
            lines.append(
                f"| {r['case']} | {r['device']} | {r['dense_eager_s']:.2f} / {r['dense_ours_s']:.2f} "
                f"| {r['dense_share_eager']:.0%} / {r['dense_share_ours']:.0%} | {r['dense_bound']:.2f}x "
                f"| {rest_eager / rest_ours:.2f}x |"
            )
    if aug is not None:
        aug_lines = [
            "### Augmentations (`benchmarks/bench_pretrain.py`)",
            "",
            machine_line,
            f"Command: {command}; median of the repeats, baselines and ours alternating in one process.",
            "One strong and two normal views of a (64, 3, 50, 25, 2) batch (the MsMCLR "
            "feeder's triple), in steady state: one timing is the 64 samples one by one (NumPy) or "
            f"{aug['batches']} consecutive batches (ours). Baselines, float64 per sample (SPEC §8): *the "
            "original's calls* makes every random call as `aug_cases.json` recorded it (Python `random` "
            "for its draws, `np.random.choice(25, 1)`, one `np.random.uniform(lo, hi, (1, 1))` per "
            "joint-noise value; "
            + ("replaying the recorded draws reproduces `aug.npz`'s three chains to "
               f"{aug['original_diff']:.1e}" if aug["original_diff"] is not None else
               "not checked against `aug.npz` in this run: ../shared absent")
            + "); *vectorised draws* is the same computation with `np.random` vector draws (this "
            "benchmark's baseline before). Ours: `views.strong_view()` / `normal_view()` in float32, "
            "checked to float64 rounding against the NumPy computation on pinned parameters first.",
            "",
            "| baseline | baseline samples/s | batched torch samples/s | ratio | max abs diff (strong / normal) |",
            "|---|---|---|---|---|",
            f"| per-sample NumPy, the original's calls | {aug['original_sps']:.0f} | {aug['ours_sps']:.0f} "
            f"| {aug['ratio_original']:.1f}x | {aug['strong_diff']:.1e} / {aug['normal_diff']:.1e} |",
            f"| per-sample NumPy, vectorised draws | {aug['numpy_sps']:.0f} | {aug['ours_sps']:.0f} "
            f"| {aug['ratio']:.1f}x | |",
            "",
            f"Against the original's calls, the {aug['repeats']} repeats' own ratios spread over "
            f"{aug['ratio_original_range'][0]:.1f}-{aug['ratio_original_range'][1]:.1f}x (the cores are shared).",
            "",
            f"Where ours' {aug['ours_ms']:.2f} ms per batch go (same run): the random draws of the three "
            f"views take {aug['draws_ms']:.2f} ms, of which {aug['noise_ms']:.2f} ms is the Gaussian noise "
            f"of {aug['k_noise']} samples alone (`torch.randn` on torch's CPU generator); the rest is the "
            "arithmetic. At the 50x target the whole triple would have to take "
            f"{1e3 * 64 / aug['original_sps'] / 50:.2f} ms.",
        ]
    # two sections, so that `--cases ''` re-measures the augmentations alone
    sections = {
        "pretrain-cuda" if cuda_only else "pretrain": lines if rows else None,
        "pretrain-augment": aug_lines if aug is not None else None,
    }
    for name, section in sections.items():
        if section is None:
            continue
        text = "\n".join(section)
        if args.write:
            write_section(name, text)
        print(text)


if __name__ == "__main__":
    main()
