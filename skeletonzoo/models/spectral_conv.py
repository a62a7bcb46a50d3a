"""The temporal convolution computed in the frequency domain: same function, fewer products.

ST-GCN's temporal convolution is a ``(K, 1)`` convolution over frames with zero padding
``K // 2`` (``K = 9``): for every sample ``r`` and joint ``v``,

    ``y[t] = b + sum_k W_k x[t*s + k - K//2]``  (``W_k``: ``C_out x C_in``, ``x[t]``: a channel vector)

The direct algorithm (oneDNN) spends ``K * T_out`` channel-mixing products per (sample, joint).
Here the frames are first mapped to a real discrete Fourier basis of cyclic length
``L = T + K//2`` (long enough that the circular convolution equals the zero-padded one on
every output frame), where the convolution becomes one ``C_in x C_out`` product per frequency:
``Y[f] = X[f] H[f]`` with ``H[f] = sum_k W_k^T e^{-2 pi i f (K//2 - k) / L}``. A real signal of
length ``L`` has ``L`` real Fourier coefficients: one or two real bins (0 and, for even ``L``,
``L/2``) and ``(L-1)//2`` complex ones, and each complex product takes three real matrix products
(the 3M form of complex multiplication, below) instead of four. For the papers' last block
(``T = 13``, ``L = 17``: ``1 + 3*8 = 25`` products against ``9 * 13 = 117``) forward and
backward together run about 3x faster than oneDNN's direct convolution on one core
(docs/benchmarks.md). The transforms themselves are small matrix products over frames.

The numbers are the convolution's to float rounding (float32: a few 1e-6 of the largest
output or gradient entry; float64: 1e-14), not bit for bit: that is why recipes choose it
(``temporal_conv: spectral``) and published runs that did not keep the direct algorithm.

Layout: inputs are read and outputs written in ``channels_last`` memory (logical
``(R, C, T, V)`` stored ``(R, T, V, C)``), the encoder's training layout. CPU float32 is where
this was measured to pay; :meth:`skeletonzoo.models.stgcn.TemporalConv.uses_spectral` decides
per call.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, NamedTuple

import torch
from torch.autograd.function import once_differentiable

__all__ = ["spectral_temporal_conv", "SpectralPlan", "spectral_plan"]


class SpectralPlan(NamedTuple):
    """The fixed matrices of one (frames, kernel, stride) case.

    Frequency rows are ordered ``[Re of complex bins 1..n, Im of the same bins, real bins]``, so
    every part is a contiguous slice of the leading axis.

    Attributes:
        analysis: ``(L, T)``: frames -> Fourier coefficients of the zero-extended signal.
        synthesis: ``(T_out, L)``: coefficients -> the output frames ``0, s, 2s, ...`` (the inverse
            transform at those frames only, so the stride costs nothing).
        kernel: ``(L, K)``: kernel taps -> the spectrum ``H`` (the shift by ``K // 2`` included).
        num_complex: ``n``, the number of complex bins.
    """

    analysis: torch.Tensor
    synthesis: torch.Tensor
    kernel: torch.Tensor
    num_complex: int


@lru_cache(maxsize=64)
def spectral_plan(frames: int, kernel_size: int, stride: int, dtype: torch.dtype, device: torch.device) -> SpectralPlan:
    """The :class:`SpectralPlan` for ``frames`` input frames (built in float64, cached)."""
    pad = kernel_size // 2
    length = frames + pad  # cyclic length: output frames never wrap onto input frames
    n = (length - 1) // 2
    real_bins = [0] + ([length // 2] if length % 2 == 0 else [])
    bins = torch.tensor(list(range(1, n + 1)) + real_bins, dtype=torch.float64)

    def basis(positions: torch.Tensor) -> torch.Tensor:  # (L, len(positions)): cos / -sin / cos rows
        angle = 2 * math.pi * torch.outer(bins, positions) / length
        return torch.cat([torch.cos(angle[:n]), -torch.sin(angle[:n]), torch.cos(angle[n:])])

    analysis = basis(torch.arange(frames, dtype=torch.float64))
    # inverse real DFT: x[t] = (X_0 + 2 sum_complex (Re cos - Im sin) [+ X_{L/2} cos]) / L
    weights = torch.tensor([2.0] * (2 * n) + [1.0] * len(real_bins), dtype=torch.float64)
    synthesis = (basis(torch.arange(0, frames, stride, dtype=torch.float64)) * weights[:, None]).T / length
    # y[t] = sum_k W_k x[t + k - pad] is a circular convolution with the tap at lag (pad - k)
    kernel = basis(pad - torch.arange(kernel_size, dtype=torch.float64))
    return SpectralPlan(analysis.to(dtype=dtype, device=device), synthesis.to(dtype=dtype, device=device),
                        kernel.to(dtype=dtype, device=device), n)  # fmt: skip


def _complex_product(
    a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor, real: torch.Tensor, imag: torch.Tensor
) -> None:
    """``real + i imag = (a + i b) @ (c + i d)`` for batches of matrices, in three products.

    ``k1 = (a + b) c``, ``k2 = a (d - c)``, ``k3 = b (c + d)``; real ``k1 - k3``, imaginary
    ``k1 + k2`` (the order of the factors is kept, so it holds for matrices).
    """
    torch.bmm(a + b, c, out=real)
    imag.copy_(real).baddbmm_(a, d - c)
    real.baddbmm_(b, c + d, alpha=-1)


class _SpectralTemporalConv(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int
    ) -> torch.Tensor:
        r, c_in, t, v = x.shape
        c_out, _, k, _ = weight.shape
        plan = spectral_plan(t, k, stride, x.dtype, x.device)
        n = plan.num_complex
        length, t_out = plan.analysis.shape[0], plan.synthesis.shape[0]
        # coefficients laid out (L, R*V, C_in): one matrix of rows (sample, joint) per frequency row
        coeffs = x.new_empty(length, r, v * c_in)
        frames_in = x.permute(0, 2, 3, 1).reshape(r, t, v * c_in)  # a view when x is channels_last
        torch.bmm(plan.analysis.expand(r, length, t), frames_in, out=coeffs.transpose(0, 1))
        coeffs = coeffs.view(length, r * v, c_in)
        # (C_out, C_in, K, 1) -> (K, C_in * C_out) -> spectrum (L, C_in, C_out)
        spectrum = torch.mm(plan.kernel, weight[..., 0].permute(2, 1, 0).reshape(k, c_in * c_out))
        spectrum = spectrum.view(length, c_in, c_out)
        out = x.new_empty(length, r * v, c_out)
        _complex_product(coeffs[:n], coeffs[n : 2 * n], spectrum[:n], spectrum[n : 2 * n], out[:n], out[n : 2 * n])
        torch.bmm(coeffs[2 * n :], spectrum[2 * n :], out=out[2 * n :])
        y = x.new_empty(r, t_out, v * c_out)
        torch.bmm(plan.synthesis.expand(r, t_out, length), out.view(length, r, v * c_out).transpose(0, 1), out=y)
        y = y.view(r, t_out, v, c_out)  # (R, T_out, V*C_out) -> (R, T_out, V, C_out): bias broadcasts on C_out
        if bias is not None:
            y.add_(bias)
        # each gradient needs one of them: keep only what backward will read
        need_x, need_weight = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        ctx.save_for_backward(coeffs if need_weight else None, spectrum if need_x else None)
        ctx.shape = (r, c_in, t, v, c_out, k, stride)
        ctx.has_bias = bias is not None
        return y.permute(0, 3, 1, 2)  # (R, C_out, T_out, V), channels_last

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        coeffs, spectrum = ctx.saved_tensors
        r, c_in, t, v, c_out, k, stride = ctx.shape
        plan = spectral_plan(t, k, stride, grad.dtype, grad.device)
        n = plan.num_complex
        length, t_out = plan.analysis.shape[0], plan.synthesis.shape[0]
        # the synthesis is linear: its adjoint takes the output gradient to the coefficients'
        grad_out = grad.new_empty(length, r, v * c_out)
        # (R, C_out, T_out, V) -> (R, T_out, V*C_out): a view when grad is channels_last
        frames_out = grad.permute(0, 2, 3, 1).reshape(r, t_out, v * c_out)
        torch.bmm(plan.synthesis.T.expand(r, length, t_out), frames_out, out=grad_out.transpose(0, 1))
        grad_out = grad_out.view(length, r * v, c_out)
        g_re, g_im, g_real = grad_out[:n], grad_out[n : 2 * n], grad_out[2 * n :]
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            # dL/dX = dL/dY conj(H)^T, per frequency
            grad_coeffs = grad.new_empty(length, r * v, c_in)
            s_re, s_im = spectrum[:n].transpose(1, 2), spectrum[n : 2 * n].transpose(1, 2)
            _complex_product(g_re, g_im, s_re, -s_im, grad_coeffs[:n], grad_coeffs[n : 2 * n])
            torch.bmm(g_real, spectrum[2 * n :].transpose(1, 2), out=grad_coeffs[2 * n :])
            grad_x = grad.new_empty(r, t, v * c_in)
            grad_rows = grad_coeffs.view(length, r, v * c_in).transpose(0, 1)
            torch.bmm(plan.analysis.T.expand(r, t, length), grad_rows, out=grad_x)
            grad_x = grad_x.view(r, t, v, c_in).permute(0, 3, 1, 2)  # (R, T, V*C_in) -> (R, C_in, T, V), channels_last
        if ctx.needs_input_grad[1]:
            # dL/dH = conj(X)^T dL/dY, summed over (sample, joint), then back to the K taps
            grad_spectrum = grad.new_empty(length, c_in, c_out)
            x_re, x_im = coeffs[:n].transpose(1, 2), coeffs[n : 2 * n].transpose(1, 2)
            _complex_product(x_re, -x_im, g_re, g_im, grad_spectrum[:n], grad_spectrum[n : 2 * n])
            torch.bmm(coeffs[2 * n :].transpose(1, 2), g_real, out=grad_spectrum[2 * n :])
            taps = torch.mm(plan.kernel.T, grad_spectrum.view(length, c_in * c_out))  # (K, C_in*C_out)
            grad_weight = taps.view(k, c_in, c_out).permute(2, 1, 0).unsqueeze(-1).contiguous()
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2, 3))
        return grad_x, grad_weight, grad_bias, None


def spectral_temporal_conv(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int = 1
) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, stride=(stride, 1), padding=(K // 2, 0))``, in the frequency domain.

    Args:
        x: ``(R, C_in, T, V)``; read fastest when ``channels_last``.
        weight: ``(C_out, C_in, K, 1)`` with ``K`` odd.
        bias: ``(C_out,)`` or ``None``.
        stride: Temporal stride ``s``.

    Returns:
        ``(R, C_out, ceil(T / s), V)`` in ``channels_last`` memory; differentiable once (in
        ``x``, ``weight`` and ``bias``): the gradients it returns are not differentiable again, and
        a second backward through them raises; nothing here needs one.
    """
    if x.dim() != 4 or weight.dim() != 4 or weight.shape[3] != 1 or weight.shape[2] % 2 == 0:
        raise ValueError(
            f"spectral_temporal_conv takes x (R, C, T, V) and an odd (K, 1) kernel; got x {tuple(x.shape)}, "
            f"weight {tuple(weight.shape)}"
        )
    if weight.shape[1] != x.shape[1]:
        raise ValueError(f"weight expects {weight.shape[1]} input channels, x has {x.shape[1]}")
    out: torch.Tensor = _SpectralTemporalConv.apply(x, weight, bias, stride)
    return out
