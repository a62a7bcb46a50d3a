"""Training augmentations as batched torch operations with explicit generators.

Each augmentation is a small class with two halves:

* ``sample(x, generator)`` draws the per-sample parameters of a batch ``(N, C, T, V, M)``;
* ``apply(x, **params)`` is a pure function of the batch and those parameters.

The split is what makes the parity tests possible: ``tests/test_parity_augment.py`` feeds
the parameters the original code drew (``shared/parity/aug_cases.json``) into ``apply`` and
compares with the original outputs (``aug.npz``). Everything runs on the batch's device.

The original (AimCLR/MsMCLR ``feeder/tools.py``, CrosScale's ``shear``/``temperal_crop``)
works per sample in NumPy; three of its augmentations are defective, and the paper-parity recipes
reproduce them (``# PARITY:``) while a ``corrected`` option gives the intended behaviour:

* the spatial flip re-indexes left/right joints **without mirroring** the coordinates
  (``mirror=True`` also negates x);
* the Gaussian blur kernel is **not normalised**, so it scales coordinates by ``sum(w)``
  (up to 5x; ``normalize=True`` divides by it);
* the joint noise touches only the first 50 frames and 2 persons, hard-coded (the same as all
  of them for the training clips; ``JointNoise(None, None)`` touches every one).

Shear, rotation, Gaussian noise and joint noise compute in float64 by default, as the original's NumPy does
(``precise``); the training views (:mod:`skeletonzoo.pretrain.views`) compute in the batch's
dtype, float32, for speed.

(The original's edge-cut defects, cuts drawn once per run and one-directional, are in ``pretrain.edge_cut``.)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "Augmentation",
    "TemporalCrop",
    "Shear",
    "SpatialFlip",
    "Rotate",
    "GaussianNoise",
    "GaussianBlur",
    "AxisMask",
    "JointNoise",
    "Compose",
    "NTU_FLIP_INDEX",
    "crop_source",
    "gather_points",
    "linear_map",
    "joint_range",
]

# Left/right limb swap of the NTU 25-joint layout (the original ``random_spatial_flip``).
NTU_FLIP_INDEX = (0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22)


def _uniform(n: int, low: float, high: float, g: torch.Generator, device: torch.device, *shape: int) -> torch.Tensor:
    return low + (high - low) * torch.rand((n, *shape), generator=g, device=device, dtype=torch.float64)


def _require_xyz(x: torch.Tensor, step: str) -> None:
    """Shear and rotation are 3-D maps: raise a clear error for other coordinate counts."""
    if x.dim() != 5 or x.shape[1] != 3:
        raise ValueError(
            f"{step} acts on 3-D skeletons (N, 3, T, V, M) with x, y, z coordinates; got shape "
            f"{tuple(x.shape)}. Lift 2-D keypoints to 3-D first (z = 0), e.g. with "
            f"skeletonzoo.data.adapt_layout (docs/data.md)"
        )


def linear_map(x: torch.Tensor, matrix: torch.Tensor, precise: bool = False) -> torch.Tensor:
    """``p' = R_n p`` for every point of sample ``n``: ``(N, C, T, V, M)``, ``(N, C, C)`` -> same shape.

    In ``x``'s dtype; ``precise=True`` computes in the wider of the two dtypes, as NumPy's
    promotion does in the original (float64 matrices on float32 data give float64).
    """
    n = x.shape[0]
    if precise:
        x = x.to(torch.promote_types(x.dtype, matrix.dtype))
    if matrix.shape != (n, x.shape[1], x.shape[1]):
        raise ValueError(f"a batch of shape {tuple(x.shape)} needs (N, C, C) = {(n, x.shape[1], x.shape[1])} "
                         f"matrices, got {tuple(matrix.shape)}")  # fmt: skip
    return torch.bmm(matrix.to(x.dtype), x.reshape(n, x.shape[1], -1)).view(x.shape)


# A point (its M persons' coordinates) moved as one machine word: M * itemsize bytes.
_POINT_WORDS = {4: torch.int32, 8: torch.int64, 16: torch.complex128}


def gather_points(x: torch.Tensor, frames: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
    """``out[n, c, t, v] = x[n, c, frames[n, t], joints[n, v]]`` (every person): an exact copy.

    ``x`` ``(N, C, T, V, M)``, ``frames`` ``(N, T')`` and ``joints`` ``(N, V')`` indices ->
    ``(N, C, T', V', M)``. The M coordinates of a point are gathered as one word (an int64 for
    two float32 persons): a gather of 2-float rows is several times slower.
    """
    n, c, t, v, m = x.shape
    t_out, v_out = frames.shape[1], joints.shape[1]
    # int32 positions (half the index traffic of int64) unless the batch is too large for them
    itype = torch.int32 if x.numel() < 2**31 else torch.int64
    rows = torch.arange(n * c, device=x.device, dtype=itype).view(n, c, 1) * t
    base = (rows + frames.to(itype).view(n, 1, t_out)) * v
    index = (base.unsqueeze(-1) + joints.to(itype).view(n, 1, 1, v_out)).view(-1)  # (N * C * T' * V',)
    x = x.contiguous()
    word = _POINT_WORDS.get(m * x.element_size())
    if word is None:
        return x.view(-1, m).index_select(0, index).view(n, c, t_out, v_out, m)
    return x.view(-1).view(word).index_select(0, index).view(x.dtype).view(n, c, t_out, v_out, m)


def joint_range(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(N, C, T, V, M) -> (N, C, T, M)`` minimum and maximum over the joints.

    Folds the joint axis in halves with elementwise ``minimum``/``maximum`` on contiguous
    half-blocks: with the persons innermost, ``torch.aminmax(x, dim=3)`` walks M-float runs and
    was about 2x slower on the benchmark machine. Both folds run level by level, so each
    half-block is read while it is in cache.
    """
    n, c, t, v, m = x.shape
    low = high = x.reshape(n * c * t, v, m)
    leftovers = []
    while low.shape[1] > 1:
        half = low.shape[1] // 2
        if low.shape[1] % 2:
            leftovers.append((low[:, 2 * half], high[:, 2 * half]))
        low, high = (torch.minimum(low[:, :half], low[:, half : 2 * half]),
                     torch.maximum(high[:, :half], high[:, half : 2 * half]))  # fmt: skip
    low, high = low[:, 0], high[:, 0]
    for rest_low, rest_high in leftovers:
        low, high = torch.minimum(low, rest_low), torch.maximum(high, rest_high)
    return low.view(n, c, t, m), high.view(n, c, t, m)


def _flag(n: int, p: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device, dtype=torch.float64) < p


class Augmentation:
    """Base: ``x -> apply(x, **sample(x, generator))``."""

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Draw the per-sample parameters for the batch ``x`` ``(N, C, T, V, M)``.

        Reads ``x``'s shape, device and dtype, not its values. Returns parameter name -> tensor
        on ``x``'s device, first dimension ``N`` (or one row per selected sample): the keyword
        arguments of :meth:`apply`.
        """
        raise NotImplementedError

    def apply(self, x: torch.Tensor, **params: torch.Tensor) -> torch.Tensor:
        """Augment ``x`` ``(N, C, T, V, M)`` with ``params`` (as :meth:`sample` returns them).

        A pure function: ``x`` is not modified (it may be returned as is when nothing changes).
        Returns the same shape, in ``x``'s dtype, or the wider parameters' dtype where a
        ``precise`` option says so.
        """
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(x, **self.sample(x, generator))

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({fields})"


class TemporalCrop(Augmentation):
    """Mirror-pad ``T // ratio`` frames at both ends, then take ``T`` frames from a random start.

    Original ``temperal_crop(x, padding_ratio=6)``: start ``~ randint(0, 2 * pad + 1)``.
    """

    def __init__(self, ratio: int = 6) -> None:
        self.ratio = ratio

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``start (N,)`` int64: the crop start in the padded sequence, in ``[0, 2 * (T // ratio)]``."""
        pad = x.shape[2] // self.ratio
        start = torch.randint(0, 2 * pad + 1, (x.shape[0],), generator=generator, device=x.device)
        return {"start": start}

    def apply(self, x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        n, c, t, v, m = x.shape
        pad = t // self.ratio
        if pad == 0:
            return x
        source = crop_source(start, t, pad)  # (N, T)
        # one index_select of (V*M)-long rows: out[n, c, i] = x[n, c, source[n, i]]
        rows = (torch.arange(n * c, device=x.device).view(n, c, 1) * t + source.view(n, 1, t)).view(-1)
        return x.reshape(n * c * t, v * m).index_select(0, rows).view(n, c, t, v, m)


def crop_source(start: torch.Tensor, num_frames: int, pad: int) -> torch.Tensor:
    """``(N,)`` crop starts -> ``(N, T)`` frame of ``x`` read by each output frame.

    Output frame ``i`` is frame ``start + i`` of the mirror-padded sequence (frames
    ``pad-1..0`` in front, ``T-1..T-pad`` behind), read straight from ``x`` without building
    the padded copy.
    """
    p = start.view(-1, 1) + torch.arange(num_frames, device=start.device).view(1, -1) - pad
    return torch.where(p < 0, -1 - p, torch.where(p >= num_frames, 2 * num_frames - 1 - p, p))


class Shear(Augmentation):
    """``p' = S p`` with ``S = [[1, a0, b0], [a1, 1, b1], [a2, b2, 1]]``, ``a, b ~ U(-r, r)``.

    Args:
        r: Amplitude of the draws.
        precise: Compute in float64 as the original does (its float64 matrices promote float32
            data: float32 in, float64 out). ``False`` computes in the batch's dtype, about 1e-7
            from that for float32: what the training views do, for speed.
    """

    def __init__(self, r: float = 0.5, precise: bool = True) -> None:
        self.r = r
        self.precise = precise

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``matrix (N, 3, 3)`` float64: the shear matrices (see :meth:`matrix`)."""
        _require_xyz(x, "Shear")
        n = x.shape[0]
        # one draw of 6N numbers: the first 3N are a, the next 3N b, as two draws of 3N would give
        a, b = _uniform(2, -self.r, self.r, generator, x.device, n, 3).unbind(0)
        return {"matrix": self.matrix(a, b)}

    @staticmethod
    def matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``(N, 3)`` draws ``a`` (the original's s1) and ``b`` (s2) -> ``(N, 3, 3)``."""
        a, b = a.to(torch.float64), b.to(torch.float64)  # the original's draws are float64
        one = torch.ones_like(a[:, 0])
        (a0, a1, a2), (b0, b1, b2) = a.unbind(1), b.unbind(1)
        # row-major [[1, a0, b0], [a1, 1, b1], [a2, b2, 1]] in one stack (runs for every view)
        return torch.stack([one, a0, b0, a1, one, b1, a2, b2, one], 1).view(-1, 3, 3)

    def apply(self, x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return linear_map(x, matrix, self.precise)


class SpatialFlip(Augmentation):
    """With probability ``p``, swap left and right limbs.

    # PARITY: the original re-indexes the joints only, so the coordinates are not mirrored and
    # the result is a skeleton whose left arm sits where the right arm was. ``mirror=True``
    # also negates x, which makes it a true mirror image.
    """

    def __init__(self, p: float = 0.5, index: Sequence[int] = NTU_FLIP_INDEX, mirror: bool = False) -> None:
        self.p = p
        self.index = tuple(index)
        self.mirror = mirror

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``flip (N,)`` bool: which samples are flipped."""
        return {"flip": _flag(x.shape[0], self.p, generator, x.device)}

    def check_joints(self, num_joints: int) -> None:
        """Raise ``ValueError`` unless the flip index is for ``num_joints`` joints."""
        if num_joints != len(self.index):
            raise ValueError(f"flip index has {len(self.index)} joints, batch has V={num_joints}; pass the "
                             f"batch layout's index, e.g. flip_index=get_layout('nwucla20').mirror_index "
                             f"(skeletonzoo.skeleton)")  # fmt: skip

    def apply(self, x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        self.check_joints(x.shape[3])
        chosen = flip.nonzero().view(-1)
        if chosen.numel() == 0:
            return x
        subset = x.index_select(0, chosen)
        k, _, t, v, _ = subset.shape
        frames = torch.arange(t, device=x.device).expand(k, t)
        flipped = gather_points(subset, frames, torch.tensor(self.index, device=x.device).expand(k, v))
        if self.mirror:
            flipped[:, 0].neg_()
        return x.index_copy(0, chosen, flipped)


def rotation_matrices(degrees: torch.Tensor) -> torch.Tensor:
    """``(N, 3)`` angles about x, y, z (degrees) -> ``(N, 3, 3)`` = ``R_z R_y R_x``.

    ``R_x = [[1,0,0],[0,c,s],[0,-s,c]]``, ``R_y = [[c,0,-s],[0,1,0],[s,0,c]]``,
    ``R_z = [[c,s,0],[-s,c,0],[0,0,1]]``; applied in the order x, then y, then z.
    """
    rad = degrees.to(torch.float64) * (math.pi / 180.0)  # the original's angles are float64
    (cx, cy, cz), (sx, sy, sz) = torch.cos(rad).unbind(1), torch.sin(rad).unbind(1)
    # R_y R_x, then R_z times it, written out: 9 entries from a few products instead of two
    # batched 3x3 products of assembled matrices (this runs for every strong view)
    sysx, sycx = sy * sx, sy * cx
    rows = [
        cz * cy, cz * sysx + sz * cx, sz * sx - cz * sycx,
        -sz * cy, cz * cx - sz * sysx, sz * sycx + cz * sx,
        sy, -cy * sx, cy * cx,
    ]  # fmt: skip
    return torch.stack(rows, 1).view(-1, 3, 3)


class Rotate(Augmentation):
    """Rotate about all three axes: one random main axis by ``U(0, 30)`` degrees, the others
    by ``U(0, 1)`` degrees (the original ``random_rotate``).

    Args:
        main_degrees: Upper bound of the main axis' angle.
        other_degrees: Upper bound of the other two.
        precise: Compute in float64 as the original does (its float64 matrices promote float32
            data: float32 in, float64 out). ``False`` computes in the batch's dtype, about 1e-7
            from that for float32: what the training views do, for speed.
    """

    def __init__(self, main_degrees: float = 30.0, other_degrees: float = 1.0, precise: bool = True) -> None:
        self.main_degrees = main_degrees
        self.other_degrees = other_degrees
        self.precise = precise

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``matrix (N, 3, 3)`` float64: the rotation matrices (see :func:`rotation_matrices`)."""
        _require_xyz(x, "Rotate")
        n = x.shape[0]
        main = torch.randint(0, 3, (n,), generator=generator, device=x.device)
        u = torch.rand((n, 3), generator=generator, device=x.device, dtype=torch.float64)
        is_main = F.one_hot(main, 3).to(torch.bool)
        degrees = torch.where(is_main, u * self.main_degrees, u * self.other_degrees)
        return {"matrix": rotation_matrices(degrees)}

    def apply(self, x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return linear_map(x, matrix, self.precise)


class GaussianNoise(Augmentation):
    """With probability ``p``, add ``N(0, std^2)`` noise to every coordinate.

    Like the original ``gaus_noise``, the coin is drawn first and noise only for the samples
    that get it: ``noise`` is ``(K, C, T, V, M)`` for the ``K`` samples where ``apply_noise``
    is true, in batch order (drawing it for the whole batch would double the cost of the
    strong view's most expensive draw).

    Args:
        p: Probability of noise, per sample.
        std: Standard deviation of the noise.
        precise: Draw the noise in float64 and add it in float64, as the original's float64
            ``np.random.normal`` noise promotes a float32 clip (the result is float64); the
            training views pass ``False``: noise and sum in the batch's dtype.
    """

    def __init__(self, p: float = 0.5, std: float = 0.01, precise: bool = True) -> None:
        self.p = p
        self.std = std
        self.precise = precise

    def _dtype(self, x: torch.Tensor) -> torch.dtype:
        return torch.promote_types(x.dtype, torch.float64) if self.precise else x.dtype

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``apply_noise (N,)`` bool; ``noise (K, C, T, V, M)``, one row per true flag, float64 (``precise``)
        or ``x``'s dtype."""
        apply_noise = _flag(x.shape[0], self.p, generator, x.device)
        k = int(apply_noise.sum())
        noise = torch.randn((k, *x.shape[1:]), generator=generator, device=x.device, dtype=self._dtype(x))
        return {"apply_noise": apply_noise, "noise": noise.mul_(self.std)}

    def apply(self, x: torch.Tensor, apply_noise: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        chosen = apply_noise.nonzero().view(-1)
        if noise.shape != (chosen.numel(), *x.shape[1:]):
            raise ValueError(f"noise has shape {tuple(noise.shape)}; expected {(chosen.numel(), *x.shape[1:])} "
                             f"(one row per sample with apply_noise)")  # fmt: skip
        dtype = torch.promote_types(self._dtype(x), noise.dtype) if self.precise else x.dtype
        return x.to(dtype).index_add(0, chosen, noise.to(dtype))


class GaussianBlur(Augmentation):
    """With probability ``p``, convolve every (channel, joint, person) series along time with
    ``w[k] = exp(-k^2 / 2 sigma^2)``, ``k = -radius..radius``, zero-padded, ``sigma ~ U(0.1, 2)``.

    # PARITY: the original kernel is not normalised, so blurred coordinates are scaled by
    # ``sum(w)`` (1.27 at sigma 0.5, about sigma * sqrt(2 pi) above 1). ``normalize=True``
    # divides the kernel by its sum (a true low-pass filter).
    """

    def __init__(self, p: float = 0.5, sigma: tuple[float, float] = (0.1, 2.0), radius: int = 7,
                 normalize: bool = False) -> None:  # fmt: skip
        self.p = p
        self.sigma = sigma
        self.radius = radius
        self.normalize = normalize

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``sigma (N,)`` float64, the kernel widths; ``blur (N,)`` bool, which samples are blurred."""
        n = x.shape[0]
        sigma = _uniform(n, *self.sigma, generator, x.device)
        return {"sigma": sigma, "blur": _flag(n, self.p, generator, x.device)}

    def kernels(self, sigma: torch.Tensor) -> torch.Tensor:
        """``(N,)`` sigmas -> ``(N, 2 * radius + 1)`` kernels."""
        k = torch.arange(-self.radius, self.radius + 1, device=sigma.device, dtype=torch.float64)
        w = torch.exp(-(k[None, :] ** 2) / (2 * sigma[:, None].to(torch.float64) ** 2))
        if self.normalize:
            w = w / w.sum(dim=1, keepdim=True)
        return w

    def band_matrices(self, sigma: torch.Tensor, num_frames: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``(N,)`` sigmas -> ``(N, T, T)`` matrices ``B[n, t, s] = w_n[s - t]`` for ``|s - t| <= radius``.

        ``B_n @ series`` is the zero-padded convolution of a length-``T`` series with ``w_n``.
        """
        w = self.kernels(sigma)  # (N, 2 * radius + 1)
        # in ``dtype`` straight away: each entry is one kernel tap (times 1), so nothing is rounded twice
        return (w.to(dtype) @ _band_taps(num_frames, self.radius, w.device, dtype)).view(-1, num_frames, num_frames)

    def apply(self, x: torch.Tensor, sigma: torch.Tensor, blur: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        chosen = blur.nonzero().view(-1)
        if chosen.numel() == 0:
            return x
        return x.index_copy(0, chosen, self.blurred(x.index_select(0, chosen), sigma.index_select(0, chosen)))

    def blurred(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Blur every sample of ``x`` ``(K, C, T, V, M)`` with its ``sigma`` ``(K,)``."""
        k, c, t, v, m = x.shape
        # The convolution along time as one banded (T, T) matrix per sample applied to the
        # (T, V*M) block of each channel: no permutes, 4-5x faster than a depthwise conv1d with
        # one group per (sample, channel, joint, person) series (benchmarks/bench_training_ops.py).
        band = self.band_matrices(sigma, t, x.dtype).unsqueeze(1).expand(k, c, t, t)  # (K, C, T, T)
        return torch.bmm(band.reshape(k * c, t, t), x.reshape(k * c, t, v * m)).view(k, c, t, v, m)


@functools.lru_cache(maxsize=16)
def _band_taps(num_frames: int, radius: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``(2 * radius + 1, T * T)`` in ``dtype``: ``taps[k, t * T + s] = 1`` where ``s - t = k - radius``.

    Each entry of ``w @ taps`` is then one ``w[k]`` (or 0), exactly.
    """
    frames = torch.arange(num_frames, device=device)
    offset = (frames.view(1, -1) - frames.view(-1, 1)).view(-1)  # [t, s] = s - t, flattened
    taps = F.one_hot((offset + radius).clamp(0, 2 * radius), 2 * radius + 1)
    return (taps * (offset.abs() <= radius).unsqueeze(1)).t().to(dtype).contiguous()


class AxisMask(Augmentation):
    """With probability ``p``, set one random coordinate axis (x, y or z) to zero."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``mask (N,)`` bool, which samples are masked; ``axis (N,)`` int64 in ``[0, C)``, the axis zeroed."""
        n = x.shape[0]
        mask = _flag(n, self.p, generator, x.device)
        axis = torch.randint(0, x.shape[1], (n,), generator=generator, device=x.device)
        return {"mask": mask, "axis": axis}

    def apply(self, x: torch.Tensor, mask: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x * self.keep(mask, axis, x.shape[1]).to(x.dtype).view(x.shape[0], x.shape[1], 1, 1, 1)

    @staticmethod
    def keep(mask: torch.Tensor, axis: torch.Tensor, channels: int) -> torch.Tensor:
        """``(N, C)`` float64: 0 for the masked axis of a masked sample, else 1."""
        zero = F.one_hot(axis, channels).to(torch.bool) & mask.view(-1, 1)
        return (~zero).to(torch.float64)


class JointNoise(Augmentation):
    """Replace one random joint, in every frame of every present person, by a uniform draw
    between the minimum and maximum over the joints of that frame (per coordinate).

    The original ``noise_joint_fix`` skips a person whose coordinates in that frame sum to
    exactly 0; no skip is needed here: in a zero-padded frame the minimum and the maximum are
    0, so the drawn value is 0, the coordinate it replaces. (The two differ only for a person
    whose non-zero coordinates sum to exactly 0.)

    Args:
        max_frames: Only frames ``t < max_frames`` are touched; ``None``: every frame.
        max_persons: Only persons ``m < max_persons``; ``None``: every person.
        precise: Draw the values in float64, then store them in the batch's dtype, as the
            original does. ``False`` computes them in the batch's dtype (float32: within an ulp
            or two): what the strong view does, for speed.
    """

    def __init__(self, max_frames: int | None = 50, max_persons: int | None = 2, precise: bool = True) -> None:
        # PARITY: the original loops over t < 50 and m < 2, hard-coded, whatever the clip's
        # shape (the same as every frame and person for the 50-frame, 2-person training
        # clips); the corrected strong view passes None for both
        self.max_frames = max_frames
        self.max_persons = max_persons
        self.precise = precise

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``joint (N,)`` int64, the joint replaced; ``u (N, T, M, C)`` float64 in ``[0, 1)``, its draws."""
        n, c, t, _, m = x.shape
        joint = torch.randint(0, x.shape[3], (n,), generator=generator, device=x.device)
        u = torch.rand((n, t, m, c), generator=generator, device=x.device, dtype=torch.float64)
        return {"joint": joint, "u": u}

    def apply(self, x: torch.Tensor, joint: torch.Tensor, u: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.apply_(x.clone(memory_format=torch.contiguous_format), joint, u)

    def apply_(self, x: torch.Tensor, joint: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """In place on ``x`` (contiguous; returned): the strong view owns its intermediate."""
        if not x.is_contiguous():
            raise ValueError("JointNoise.apply_ writes into x in place and needs it contiguous")
        n, c, t, v, m = x.shape
        frames = t if self.max_frames is None else min(t, self.max_frames)
        persons = m if self.max_persons is None else min(m, self.max_persons)
        low, high = joint_range(x)  # (N, C, T, M)
        if self.precise:
            low, high = low.to(torch.float64), high.to(torch.float64)
        value = (low + u.permute(0, 3, 1, 2).to(low.dtype) * (high - low)).to(x.dtype)  # (N, C, T, M)
        # flat position of (n, c, t, joint[n], m): one put of N*C*T*M values
        rows = torch.arange(n * c * t, device=x.device).view(n, c, t, 1) * (v * m)
        positions = rows + (joint.view(n, 1, 1, 1) * m + torch.arange(m, device=x.device).view(1, 1, 1, m))
        if (frames, persons) != (t, m):
            value, positions = value[:, :, :frames, :persons], positions[:, :, :frames, :persons]
        x.view(-1).index_copy_(0, positions.reshape(-1), value.reshape(-1))
        return x


class Compose:
    """Apply augmentations in order, each with its own draws from one generator."""

    def __init__(self, augmentations: Sequence[Augmentation]) -> None:
        self.augmentations = list(augmentations)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for aug in self.augmentations:
            x = aug(x, generator)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(map(repr, self.augmentations)) + ")"
