"""The spectral temporal convolution: the direct convolution's function, values and gradients."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from skeletonzoo.models.spectral_conv import spectral_plan, spectral_temporal_conv
from skeletonzoo.models.stgcn import (
    SPECTRAL_MAX_FRAMES,
    SPECTRAL_MIN_CHANNELS,
    SkeletonEncoder,
    TemporalConv,
    set_temporal_conv,
)


def _direct(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride: int) -> torch.Tensor:
    return F.conv2d(x, w, b, stride=(stride, 1), padding=(w.shape[2] // 2, 0))


def _both(
    shape: tuple[int, int, int, int],
    c_out: int,
    k: int,
    stride: int,
    bias: bool,
    dtype: torch.dtype,
    seed: int,
    channels_last: bool = True,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Output and (x, w, b) gradients of the direct and the spectral convolution on the same data."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(c_out, shape[1], k, 1, generator=g, dtype=dtype) / (shape[1] * k) ** 0.5
    b = torch.randn(c_out, generator=g, dtype=dtype) if bias else None
    t_out = -(-shape[2] // stride)
    grad = torch.randn(shape[0], c_out, t_out, shape[3], generator=g, dtype=dtype)
    results = []
    for conv in (_direct, spectral_temporal_conv):
        leaves = [x.detach().requires_grad_(), w.detach().requires_grad_()]
        leaves += [b.detach().requires_grad_()] if b is not None else []
        y = conv(leaves[0], leaves[1], leaves[2] if b is not None else None, stride)
        y.backward(grad)
        results.append([y.detach()] + [leaf.grad for leaf in leaves])  # type: ignore[misc]
    return results[0], results[1]


@pytest.mark.parametrize(
    ("shape", "c_out", "k", "stride", "bias"),
    [
        ((3, 5, 13, 4), 5, 9, 1, True),  # odd cyclic length (L = 17)
        ((2, 4, 12, 3), 6, 9, 1, True),  # even L = 16: a second real bin
        ((2, 3, 25, 2), 3, 9, 2, False),  # stride 2, no bias
        ((2, 3, 7, 5), 4, 3, 3, True),  # another kernel and stride
        ((1, 2, 1, 3), 2, 9, 1, True),  # one frame
        ((2, 3, 4, 2), 3, 9, 1, True),  # fewer frames than taps
    ],
)
def test_float64_equals_direct_convolution(
    shape: tuple[int, int, int, int], c_out: int, k: int, stride: int, bias: bool
) -> None:
    direct, spectral = _both(shape, c_out, k, stride, bias, torch.float64, seed=sum(shape) + k)
    assert spectral[0].shape == direct[0].shape
    assert spectral[0].is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(spectral, direct):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_float32_within_rounding_and_any_input_layout() -> None:
    """The papers' last block's shape class (fewer samples): a few 1e-6 of the largest entry."""
    for channels_last in (True, False):
        direct, spectral = _both((6, 64, 13, 25), 64, 9, 1, True, torch.float32, seed=3, channels_last=channels_last)
        for a, b in zip(spectral, direct):  # output; input, weight and bias gradients
            assert float((a - b).abs().max()) <= 5e-6 * float(b.abs().max())


def test_gradcheck() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 6, 2, generator=g, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    w = torch.randn(4, 3, 5, 1, generator=g, dtype=torch.float64)
    b = torch.randn(4, generator=g, dtype=torch.float64)
    inputs = tuple(t.requires_grad_() for t in (x, w, b))
    for stride in (1, 2):
        assert torch.autograd.gradcheck(lambda x, w, b, s=stride: spectral_temporal_conv(x, w, b, s), inputs)


def test_plan_inverts_the_transform() -> None:
    """Synthesis after analysis returns the frames (the cyclic length leaves room for the kernel)."""
    for frames in (1, 4, 13, 50):
        plan = spectral_plan(frames, 9, 1, torch.float64, torch.device("cpu"))
        assert plan.analysis.shape == (frames + 4, frames)
        torch.testing.assert_close(plan.synthesis @ plan.analysis, torch.eye(frames, dtype=torch.float64))


def test_bad_shapes_are_refused() -> None:
    x = torch.zeros(1, 4, 5, 3)
    with pytest.raises(ValueError, match="odd"):
        spectral_temporal_conv(x, torch.zeros(4, 4, 8, 1), None)
    with pytest.raises(ValueError, match="input channels"):
        spectral_temporal_conv(x, torch.zeros(4, 3, 9, 1), None)


def test_where_the_encoder_uses_it() -> None:
    tcn = TemporalConv(SPECTRAL_MIN_CHANNELS, 9, 1, 0.0)
    x = torch.zeros(1, SPECTRAL_MIN_CHANNELS, 4, 2)
    assert not tcn.uses_spectral(x)  # direct unless asked
    tcn.algorithm = "spectral"
    assert tcn.uses_spectral(x)
    assert tcn.uses_spectral(x.double())
    assert not tcn.uses_spectral(x.half())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not tcn.uses_spectral(x)  # bf16 blocks keep oneDNN's bf16 kernels
    narrow = TemporalConv(SPECTRAL_MIN_CHANNELS - 1, 9, 1, 0.0)
    strided = TemporalConv(SPECTRAL_MIN_CHANNELS, 9, 2, 0.0)
    narrow.algorithm = strided.algorithm = "spectral"
    assert not narrow.uses_spectral(torch.zeros(1, SPECTRAL_MIN_CHANNELS - 1, 4, 2))
    assert not strided.uses_spectral(x)
    assert tcn.uses_spectral(torch.zeros(1, SPECTRAL_MIN_CHANNELS, SPECTRAL_MAX_FRAMES, 2))
    assert not tcn.uses_spectral(torch.zeros(1, SPECTRAL_MIN_CHANNELS, SPECTRAL_MAX_FRAMES + 1, 2))
    with pytest.raises(ValueError, match="unknown temporal convolution algorithm"):
        set_temporal_conv(tcn, "fft")


def test_encoder_training_step_matches_direct(spectral_calls: list[tuple[int, ...]]) -> None:
    """A training-mode encoder (dropout on, same seed) gives the same output and gradients with
    either algorithm (float64: to 1e-10), and the spectral blocks are really taken."""
    torch.manual_seed(0)
    direct = SkeletonEncoder(hidden_channels=8, hidden_dim=64)
    spectral = set_temporal_conv(copy.deepcopy(direct), "spectral")
    x = torch.randn(4, 3, 20, 25, 2).cumsum(2) * 0.05
    outs = []
    for encoder in (direct, spectral):
        encoder.train().double()
        torch.manual_seed(1)
        y = encoder(x.double())
        y.square().sum().backward()
        outs.append((y.detach(), [p.grad for p in encoder.parameters()]))
    # hidden_channels 8: temporal convolutions of 8, 16, 32 and 64 channels; the stride-1 ones of
    # at least 32 (blocks 8 and 9, 5 frames after two strides) are spectral, only in that encoder
    assert spectral_calls == [(8, 32, 5, 25), (8, 64, 5, 25)]
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-10, atol=1e-10)
    for a, b in zip(outs[1][1], outs[0][1]):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-8)
