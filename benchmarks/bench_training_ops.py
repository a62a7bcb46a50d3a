"""Each training-path optimisation on its own: the previous/original computation against ours.

Every row times forward + backward (where there is one) of one operation at the shapes of an
MsMCLR step at batch 64 with two persons (R = N*M = 128 rows), the two alternating in one
process, after checking that they compute the same numbers (dropout: the same distribution).
By default one thread and per-thread CPU time (``time.thread_time``), which other processes
on a shared machine disturb much less than wall time; ``--wall`` times wall-clock instead.

    python benchmarks/bench_training_ops.py [--repeats 10] [--threads 1] [--wall] [--write]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median, write_section  # noqa: E402

from skeletonzoo.models.msm_attention import group_features  # noqa: E402
from skeletonzoo.models.spectral_conv import spectral_temporal_conv  # noqa: E402
from skeletonzoo.models.stgcn import SPECTRAL_MIN_CHANNELS, GraphConv, SkeletonEncoder, dropout_add  # noqa: E402
from skeletonzoo.pretrain.augment import GaussianBlur, JointNoise, SpatialFlip, TemporalCrop  # noqa: E402
from skeletonzoo.skeleton.groupings import MSMCLR_PARTS_10  # noqa: E402

CL = torch.channels_last
LOAD_AT_START = os.getloadavg()[0]  # other processes on a shared machine


def _fwd_bwd(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Forward and backward of ``fn`` on fresh leaf copies of ``inputs`` (floating ones need grad)."""

    def run() -> torch.Tensor:
        leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in inputs]
        out = fn(*leaves)
        if out.requires_grad:
            out.backward(torch.ones_like(out))
        return out.detach()

    return run


def time_pair(
    before: Callable[[], object], after: Callable[[], object], repeats: int, wall: bool
) -> tuple[float, float]:
    clock = time.perf_counter if wall else time.thread_time
    before()
    after()
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(repeats):
        for name, fn in (("before", before), ("after", after)):
            start = clock()
            fn()
            times[name].append(clock() - start)
    return median(times["before"]), median(times["after"])


def cases() -> list[tuple[str, str, Callable[[], object], Callable[[], object], Callable[[], float]]]:
    """(name, shape, before, after, check) with ``check()`` the max difference to report."""
    g = torch.Generator().manual_seed(0)
    rows: list = []

    # 1. dropout + residual + ReLU of block 9 (train mode)
    h = torch.randn(128, 256, 13, 25, generator=g).contiguous(memory_format=CL)
    res = torch.randn(h.shape, generator=g).contiguous(memory_format=CL)
    drop = nn.Dropout(0.5, inplace=True)

    def original_dropout(h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return F.relu(drop(h * 1.0) + r)  # nn.Sequential(..., BN, Dropout(inplace)) + res, ReLU

    def fused_dropout(h: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        return F.relu_(dropout_add(h, r, 0.5, training=True))

    def dropout_check() -> float:  # kept fraction of both, difference from 1/2
        a, b = original_dropout(h, res * 0), fused_dropout(h, res * 0)
        pos = h > 0
        return max(abs(float((a[pos] > 0).float().mean()) - 0.5), abs(float((b[pos] > 0).float().mean()) - 0.5))

    rows.append(("dropout(p=0.5) + residual + ReLU", "(128, 256, 13, 25)",
                 _fwd_bwd(original_dropout, h, res), _fwd_bwd(fused_dropout, h, res), dropout_check))  # fmt: skip

    # 2. graph convolution, original conv-then-einsum against ours, blocks 1 and 9
    for c_in, c_out, t in ((16, 16, 50), (64, 256, 13)):
        gcn = GraphConv(c_in, c_out, 3)
        a = torch.rand(3, 25, 25, generator=g)
        x = torch.randn(128, c_in, t, 25, generator=g)

        def einsum_gcn(x: torch.Tensor, a: torch.Tensor, gcn: GraphConv = gcn) -> torch.Tensor:
            y = gcn.conv(x)
            n, kc, t_, v = y.shape
            return torch.einsum("nkctv,kvw->nctw", y.view(n, 3, kc // 3, t_, v), a).contiguous()

        def ours_gcn(x: torch.Tensor, a: torch.Tensor, gcn: GraphConv = gcn) -> torch.Tensor:
            return gcn(x, a)

        x_cl = x.contiguous(memory_format=CL)

        def gcn_check(f=einsum_gcn, o=ours_gcn, x=x, x_cl=x_cl, a=a) -> float:  # type: ignore[no-untyped-def]
            return float((f(x, a) - o(x_cl, a)).abs().max())

        rows.append((f"graph conv {c_in}->{c_out}, T={t} (grad for A too)", f"(128, {c_in}, {t}, 25)",
                     _fwd_bwd(einsum_gcn, x, a), _fwd_bwd(ours_gcn, x_cl, a), gcn_check))  # fmt: skip

    # 3. data BatchNorm with the original's permutes (train mode)
    enc = SkeletonEncoder().train()
    bn = enc.data_bn
    inp = torch.randn(64, 3, 50, 25, 2, generator=g)

    def original_data_bn(x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        y = bn(x.permute(0, 4, 3, 1, 2).contiguous().view(n * m, v * c, t))
        return y.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)

    rows.append(("data BatchNorm + layout", "(64, 3, 50, 25, 2)", _fwd_bwd(original_data_bn, inp),
                 _fwd_bwd(enc.normalize_input, inp),
                 lambda: float((original_data_bn(inp) - enc.normalize_input(inp)).abs().max())))  # fmt: skip

    # 4. temporal conv of block 9 in NCHW against channels_last, float32 and bf16 autocast
    conv = nn.Conv2d(256, 256, (9, 1), padding=(4, 0))
    m9 = torch.randn(128, 256, 13, 25, generator=g)
    for dtype in (torch.float32, torch.bfloat16):

        def tconv(x: torch.Tensor, dtype: torch.dtype = dtype) -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
                return conv(x)

        label = "float32" if dtype == torch.float32 else "bf16 autocast"
        rows.append((f"temporal conv 256->256 9x1, {label}: NCHW -> channels_last", "(128, 256, 13, 25)",
                     _fwd_bwd(tconv, m9), _fwd_bwd(tconv, m9.contiguous(memory_format=CL)),
                     lambda t=tconv: float((t(m9) - t(m9.contiguous(memory_format=CL))).abs().max())))  # fmt: skip
    rows.append(("temporal conv 256->256 9x1, channels_last: float32 -> bf16 autocast", "(128, 256, 13, 25)",
                 rows[-2][3], rows[-1][3],
                 lambda: float((conv(m9) - tconv(m9.contiguous(memory_format=CL))).abs().max())))  # fmt: skip

    # 4b. every temporal convolution of the encoder (hidden 16): direct (oneDNN, channels_last)
    # against the spectral algorithm, float32; where ours applies it: stride 1, 32+ channels
    for channels, frames, stride in ((16, 50, 1), (32, 50, 2), (32, 25, 1), (64, 25, 2), (64, 13, 1), (256, 13, 1)):
        w = torch.randn(channels, channels, 9, 1, generator=g) / (9 * channels) ** 0.5
        b = torch.randn(channels, generator=g) * 0.1
        xt = torch.randn(128, channels, frames, 25, generator=g).contiguous(memory_format=CL)

        def direct(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, s: int = stride) -> torch.Tensor:
            return F.conv2d(x, w, b, stride=(s, 1), padding=(4, 0))

        def spectral(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, s: int = stride) -> torch.Tensor:
            return spectral_temporal_conv(x, w, b, s)

        used = "used" if stride == 1 and channels >= SPECTRAL_MIN_CHANNELS else "not used"
        def conv_check(d=direct, f=spectral, x=xt, w=w, b=b) -> float:  # type: ignore[no-untyped-def]
            return float((d(x, w, b) - f(x, w, b)).abs().max())

        rows.append((f"temporal conv {channels}->{channels} 9x1 stride {stride}: direct -> spectral ({used})",
                     f"(128, {channels}, {frames}, 25)", _fwd_bwd(direct, xt, w, b), _fwd_bwd(spectral, xt, w, b),
                     conv_check))  # fmt: skip

    # 5. MsMCLR's 10-part feature grouping: one gather per group against one batched product
    maps = torch.randn(128, 256, 13, 25, generator=g).contiguous(memory_format=CL)
    def gathered(x: torch.Tensor) -> torch.Tensor:
        return MSMCLR_PARTS_10.apply(x, dim=-1)

    def batched(x: torch.Tensor) -> torch.Tensor:
        return group_features(x, MSMCLR_PARTS_10)

    rows.append(("feature grouping 25 -> 10 parts", "(128, 256, 13, 25)", _fwd_bwd(gathered, maps),
                 _fwd_bwd(batched, maps), lambda: float((gathered(maps) - batched(maps)).abs().max())))  # fmt: skip

    # 6. augmentations: the previous batched implementations against the current ones
    x = torch.randn(64, 3, 50, 25, 2, generator=g)
    n, c, t, v, mm = x.shape
    crop, blur, flip, joint = TemporalCrop(), GaussianBlur(), SpatialFlip(), JointNoise(precise=False)
    pc, pb, pf, pj = crop.sample(x, g), blur.sample(x, g), flip.sample(x, g), joint.sample(x, g)

    def crop_before() -> torch.Tensor:
        pad = t // 6
        padded = torch.cat([x[:, :, :pad].flip(2), x, x[:, :, t - pad :].flip(2)], dim=2)
        index = (pc["start"].view(n, 1) + torch.arange(t).view(1, t)).view(n, 1, t, 1, 1).expand(n, c, t, v, mm)
        return torch.gather(padded, 2, index)

    def blur_before() -> torch.Tensor:
        w = blur.kernels(pb["sigma"]).to(x.dtype)
        series = x.permute(0, 1, 3, 4, 2).reshape(1, n * c * v * mm, t)
        out = F.conv1d(series, w.repeat_interleave(c * v * mm, 0).unsqueeze(1), padding=7, groups=n * c * v * mm)
        return torch.where(pb["blur"].view(-1, 1, 1, 1, 1), out.view(n, c, v, mm, t).permute(0, 1, 4, 2, 3), x)

    def flip_before() -> torch.Tensor:
        return torch.where(pf["flip"].view(-1, 1, 1, 1, 1), x[:, :, :, list(flip.index)], x)

    def joint_before() -> torch.Tensor:
        low, high = x.amin(dim=3), x.amax(dim=3)
        value = low + pj["u"].permute(0, 3, 1, 2).to(x.dtype) * (high - low)
        present = x.sum(dim=(1, 3)) != 0
        replace = F.one_hot(pj["joint"], v).to(torch.bool).view(n, 1, 1, v, 1) & present.view(n, 1, t, 1, mm)
        return torch.where(replace, value.unsqueeze(3), x)

    previous = [("temporal crop", crop_before, crop, pc), ("Gaussian blur", blur_before, blur, pb),
                ("spatial flip", flip_before, flip, pf), ("joint noise", joint_before, joint, pj)]  # fmt: skip
    for name, before, aug, params in previous:
        after = lambda aug=aug, params=params: aug.apply(x, **params)  # noqa: E731
        rows.append((f"augmentation: {name}", "(64, 3, 50, 25, 2)", before, after,
                     lambda b=before, a=after: float((b() - a()).abs().max())))  # fmt: skip
    return rows


def layout_step_row(repeats: int, wall: bool) -> tuple[float, float]:
    """A whole MsMCLR float32 training step (batch 64, M=2) with the temporal convolutions run in
    NCHW (copies in and out) against the channels_last step: the layout choice as a whole."""
    from skeletonzoo.models import stgcn
    from skeletonzoo.pretrain.methods import METHODS, MethodConfig
    from skeletonzoo.pretrain.views import normal_view, strong_view

    g = torch.Generator().manual_seed(0)
    method = METHODS["msmclr"](MethodConfig(queue_size=4096), g).train()
    opt = torch.optim.SGD([p for p in method.parameters() if p.requires_grad], lr=0.01, momentum=0.9)
    x = torch.randn(64, 3, 50, 25, 2, generator=g)
    x[32:, ..., 1] = 0
    views = [(strong_view() if k == "strong" else normal_view())(x, g) for k in method.views]
    channels_last = stgcn.TemporalConv.forward

    def nchw_conv(self: stgcn.TemporalConv, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        h = self.conv(F.relu_(self.norm_in(x)).contiguous()).contiguous(memory_format=CL)
        return stgcn.dropout_add(self.norm_out(h), residual, self.dropout.p, self.dropout.training)

    def step(forward: Callable[..., torch.Tensor]) -> Callable[[], None]:
        def run() -> None:
            stgcn.TemporalConv.forward = forward  # type: ignore[method-assign]
            out = method(views)
            opt.zero_grad()
            out.loss.backward()
            opt.step()

        return run

    try:
        return time_pair(step(nchw_conv), step(channels_last), repeats, wall)
    finally:
        stgcn.TemporalConv.forward = channels_last  # type: ignore[method-assign]


def allocator_rows(repeats: int, wall: bool) -> tuple[float, float]:
    """A fresh 42 MB ReLU output, before and after ``retain_freed_memory()`` (cannot alternate:
    the setting is one-way for the process)."""
    from skeletonzoo._malloc import retain_freed_memory

    x = torch.randn(128, 256, 13, 25)
    clock = time.perf_counter if wall else time.thread_time

    def timed() -> float:
        torch.relu(x)
        out = []
        for _ in range(repeats):
            start = clock()
            torch.relu(x)
            out.append(clock() - start)
        return median(out)

    before = timed()
    if not retain_freed_memory():
        return before, float("nan")
    return before, timed()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of per-thread CPU time")
    parser.add_argument("--no-step", action="store_true", help="skip the whole-step layout comparison (slow)")
    parser.add_argument("--write", action="store_true", help="record results in docs/benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.threads > 1 and not args.wall:
        parser.error("per-thread CPU time only measures one thread: use --wall with --threads > 1")
    # the allocator first, while glibc still has its default setting; every op row after it
    alloc_before, alloc_after = allocator_rows(args.repeats, args.wall)
    print(f"fresh 42 MB ReLU output: {1e3 * alloc_before:.1f} ms, after retain_freed_memory() "
          f"{1e3 * alloc_after:.1f} ms", flush=True)  # fmt: skip
    table = []
    for name, shape, before, after, check in cases():
        with torch.no_grad():
            diff = check()
        b, a = time_pair(before, after, args.repeats, args.wall)
        table.append((name, shape, b, a, diff))
        print(f"{name} {shape}: {1e3 * b:.1f} -> {1e3 * a:.1f} ms ({b / a:.2f}x), check {diff:.1e}", flush=True)
    if not args.no_step:
        step_nchw, step_cl = layout_step_row(max(3, args.repeats // 3), args.wall)
        table.append(("whole MsMCLR float32 step (batch 64, M=2): temporal convs NCHW -> all channels_last",
                      "(64, 3, 50, 25, 2)", step_nchw, step_cl, 0.0))  # fmt: skip
        print(f"step: {step_nchw:.2f} -> {step_cl:.2f} s", flush=True)
    clock = "wall-clock" if args.wall else "per-thread CPU time"
    lines = [
        "## Training-path operations (`benchmarks/bench_training_ops.py`)",
        "",
        f"Machine: {machine()}; 1-minute load average {LOAD_AT_START:.1f} when the run started. "
        f"Command: `python {' '.join(sys.argv)}`; {clock}, median of the "
        "repeats, before and after alternating in one process, forward + backward unless noted. "
        "Before: the original computation (or this repository's previous implementation, for the "
        "augmentations); after: the current code. Check: largest difference of the outputs "
        "(dropout: largest deviation of either kept fraction from 1/2).",
        "",
        "| operation | input | before ms | after ms | speed-up | check |",
        "|---|---|---|---|---|---|",
        f"| fresh ReLU output, glibc default vs `retain_freed_memory()` (forward only) | (128, 256, 13, 25) "
        f"| {1e3 * alloc_before:.1f} | {1e3 * alloc_after:.1f} | {alloc_before / alloc_after:.1f}x | exact |",
    ]
    lines += [f"| {n} | {s} | {1e3 * b:.1f} | {1e3 * a:.1f} | {b / a:.2f}x | {d:.1e} |" for n, s, b, a, d in table]
    if not args.no_step:
        lines[-1] = lines[-1].rsplit("|", 2)[0] + "| same maths |"
    text = "\n".join(lines)
    if args.write:
        write_section("training-ops", text)
    print(text)


if __name__ == "__main__":
    main()
