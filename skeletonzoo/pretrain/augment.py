"""Training augmentations as batched torch operations with explicit generators.

Each augmentation is a small class with two halves:

* ``sample(x, generator)`` draws the per-sample parameters of a batch ``(N, C, T, V, M)``;
* ``apply(x, **params)`` is a pure function of the batch and those parameters.

The split is what makes the parity tests possible: ``tests/test_parity_augment.py`` feeds
the parameters the original code drew (``shared/parity/aug_cases.json``) into ``apply`` and
compares with the original outputs (``aug.npz``). Everything runs on the batch's device.

The original (AimCLR/MsMCLR ``feeder/tools.py``, CrosScale's ``shear``/``temperal_crop``)
works per sample in NumPy; three of its functions are defective, and the paper-parity recipes
reproduce them (``# PARITY:``) while a ``corrected`` option gives the intended behaviour:

* the spatial flip re-indexes left/right joints **without mirroring** the coordinates
  (``mirror=True`` also negates x);
* the Gaussian blur kernel is **not normalised**, so it scales coordinates by ``sum(w)``
  (up to 5x; ``normalize=True`` divides by it);
* (graph edge cuts are in ``pretrain.edge_cut``.)
"""

from __future__ import annotations

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
    "normal_view",
    "strong_view",
    "NTU_FLIP_INDEX",
]

# Left/right limb swap of the NTU 25-joint layout (the original ``random_spatial_flip``).
NTU_FLIP_INDEX = (0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22)


def _uniform(n: int, low: float, high: float, g: torch.Generator, device: torch.device, *shape: int) -> torch.Tensor:
    return low + (high - low) * torch.rand((n, *shape), generator=g, device=device, dtype=torch.float64)


def _flag(n: int, p: float, g: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device, dtype=torch.float64) < p


class Augmentation:
    """Base: ``x -> apply(x, **sample(x, generator))``."""

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def apply(self, x: torch.Tensor, **params: torch.Tensor) -> torch.Tensor:
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
        pad = x.shape[2] // self.ratio
        start = torch.randint(0, 2 * pad + 1, (x.shape[0],), generator=generator, device=x.device)
        return {"start": start}

    def apply(self, x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        n, c, t, v, m = x.shape
        pad = t // self.ratio
        if pad == 0:
            return x
        # Position in x of each output frame of the padded sequence (frames pad-1..0 in front,
        # T-1..T-pad behind), read straight from x without building the padded copy.
        p = start.view(n, 1) + torch.arange(t, device=x.device).view(1, t) - pad  # (N, T)
        source = torch.where(p < 0, -1 - p, torch.where(p >= t, 2 * t - 1 - p, p))
        # one indexed copy of (V*M)-long rows: out[n, c, i] = x[n, c, source[n, i]]
        rows = torch.arange(n, device=x.device).view(n, 1, 1)
        channels = torch.arange(c, device=x.device).view(1, c, 1)
        return x.reshape(n, c, t, v * m)[rows, channels, source.view(n, 1, t)].view(n, c, t, v, m)


class Shear(Augmentation):
    """``p' = S p`` with ``S = [[1, a0, b0], [a1, 1, b1], [a2, b2, 1]]``, ``a, b ~ U(-r, r)``."""

    def __init__(self, r: float = 0.5) -> None:
        self.r = r

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        n = x.shape[0]
        a = _uniform(n, -self.r, self.r, generator, x.device, 3)
        b = _uniform(n, -self.r, self.r, generator, x.device, 3)
        return {"matrix": self.matrix(a, b)}

    @staticmethod
    def matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``(N, 3)`` draws ``a`` (the original's s1) and ``b`` (s2) -> ``(N, 3, 3)``."""
        one = torch.ones_like(a[:, 0])
        rows = [
            torch.stack([one, a[:, 0], b[:, 0]], -1),
            torch.stack([a[:, 1], one, b[:, 1]], -1),
            torch.stack([a[:, 2], b[:, 2], one], -1),
        ]
        return torch.stack(rows, 1)

    def apply(self, x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.einsum("nij,njtvm->nitvm", matrix.to(x.dtype), x)


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
        return {"flip": _flag(x.shape[0], self.p, generator, x.device)}

    def apply(self, x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if x.shape[3] != len(self.index):
            raise ValueError(f"flip index has {len(self.index)} joints, batch has V={x.shape[3]}")
        flipped = x.index_select(3, torch.tensor(self.index, device=x.device))
        if self.mirror:
            flipped = flipped * torch.tensor([-1.0, 1.0, 1.0], dtype=x.dtype, device=x.device).view(1, 3, 1, 1, 1)
        return torch.where(flip.view(-1, 1, 1, 1, 1), flipped, x)


def rotation_matrices(degrees: torch.Tensor) -> torch.Tensor:
    """``(N, 3)`` angles about x, y, z (degrees) -> ``(N, 3, 3)`` = ``R_z R_y R_x``.

    ``R_x = [[1,0,0],[0,c,s],[0,-s,c]]``, ``R_y = [[c,0,-s],[0,1,0],[s,0,c]]``,
    ``R_z = [[c,s,0],[-s,c,0],[0,0,1]]``; applied in the order x, then y, then z.
    """
    rad = degrees * (math.pi / 180.0)
    c, s = torch.cos(rad), torch.sin(rad)
    one, zero = torch.ones_like(c[:, 0]), torch.zeros_like(c[:, 0])

    def mat(rows: list[list[torch.Tensor]]) -> torch.Tensor:
        return torch.stack([torch.stack(r, -1) for r in rows], 1)

    rx = mat([[one, zero, zero], [zero, c[:, 0], s[:, 0]], [zero, -s[:, 0], c[:, 0]]])
    ry = mat([[c[:, 1], zero, -s[:, 1]], [zero, one, zero], [s[:, 1], zero, c[:, 1]]])
    rz = mat([[c[:, 2], s[:, 2], zero], [-s[:, 2], c[:, 2], zero], [zero, zero, one]])
    return rz @ ry @ rx


class Rotate(Augmentation):
    """Rotate about all three axes: one random main axis by ``U(0, 30)`` degrees, the others
    by ``U(0, 1)`` degrees (the original ``random_rotate``)."""

    def __init__(self, main_degrees: float = 30.0, other_degrees: float = 1.0) -> None:
        self.main_degrees = main_degrees
        self.other_degrees = other_degrees

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        n = x.shape[0]
        main = torch.randint(0, 3, (n,), generator=generator, device=x.device)
        u = torch.rand((n, 3), generator=generator, device=x.device, dtype=torch.float64)
        is_main = F.one_hot(main, 3).to(torch.bool)
        degrees = torch.where(is_main, u * self.main_degrees, u * self.other_degrees)
        return {"matrix": rotation_matrices(degrees)}

    def apply(self, x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.einsum("nij,njtvm->nitvm", matrix.to(x.dtype), x)


class GaussianNoise(Augmentation):
    """With probability ``p``, add ``N(0, std^2)`` noise to every coordinate."""

    def __init__(self, p: float = 0.5, std: float = 0.01) -> None:
        self.p = p
        self.std = std

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype) * self.std
        return {"apply_noise": _flag(x.shape[0], self.p, generator, x.device), "noise": noise}

    def apply(self, x: torch.Tensor, apply_noise: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.addcmul(x, noise.to(x.dtype), apply_noise.to(x.dtype).view(-1, 1, 1, 1, 1))


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

    def band_matrices(self, sigma: torch.Tensor, num_frames: int) -> torch.Tensor:
        """``(N,)`` sigmas -> ``(N, T, T)`` matrices ``B[n, t, s] = w_n[s - t]`` for ``|s - t| <= radius``.

        ``B_n @ series`` is the zero-padded convolution of a length-``T`` series with ``w_n``.
        """
        w = self.kernels(sigma)  # (N, 2 * radius + 1)
        frames = torch.arange(num_frames, device=sigma.device)
        offset = frames.view(1, -1) - frames.view(-1, 1)  # [t, s] = s - t
        band = w[:, (offset + self.radius).clamp(0, 2 * self.radius)]
        return band * (offset.abs() <= self.radius)

    def apply(self, x: torch.Tensor, sigma: torch.Tensor, blur: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        n, c, t, v, m = x.shape
        # The convolution along time as one banded (T, T) matrix per sample applied to the
        # (T, V*M) block of each channel: no permutes, 4-5x faster than a depthwise conv1d with
        # one group per (sample, channel, joint, person) series (benchmarks/bench_training_ops.py).
        # A sample that is not blurred gets the identity matrix, which returns it exactly.
        eye = torch.eye(t, dtype=torch.float64, device=x.device)
        band = torch.where(blur.view(-1, 1, 1), self.band_matrices(sigma, t), eye).to(x.dtype)  # (N, T, T)
        return torch.matmul(band.unsqueeze(1), x.reshape(n, c, t, v * m)).view(n, c, t, v, m)


class AxisMask(Augmentation):
    """With probability ``p``, set one random coordinate axis (x, y or z) to zero."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        n = x.shape[0]
        mask = _flag(n, self.p, generator, x.device)
        axis = torch.randint(0, x.shape[1], (n,), generator=generator, device=x.device)
        return {"mask": mask, "axis": axis}

    def apply(self, x: torch.Tensor, mask: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        zero = F.one_hot(axis, x.shape[1]).to(torch.bool) & mask.view(-1, 1)  # (N, C)
        return x.masked_fill(zero.view(x.shape[0], x.shape[1], 1, 1, 1), 0.0)


class JointNoise(Augmentation):
    """Replace one random joint, in every frame of every present person, by a uniform draw
    between the minimum and maximum over the joints of that frame (per coordinate).

    The original ``noise_joint_fix`` loops over ``t < 50`` and ``m < 2`` (hard-coded) and skips
    a person whose coordinates in that frame sum to exactly 0; here every frame and person.
    """

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        n, c, t, _, m = x.shape
        joint = torch.randint(0, x.shape[3], (n,), generator=generator, device=x.device)
        u = torch.rand((n, t, m, c), generator=generator, device=x.device, dtype=torch.float64)
        return {"joint": joint, "u": u}

    def apply(self, x: torch.Tensor, joint: torch.Tensor, u: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        low, high = torch.aminmax(x, dim=3)  # (N, C, T, M)
        value = low + u.permute(0, 3, 1, 2).to(x.dtype) * (high - low)  # (N, C, T, M)
        present = x.sum(dim=(1, 3)) != 0  # (N, T, M): the original's ``sum() == 0`` skip
        rows = torch.arange(x.shape[0], device=x.device)
        out = x.clone()
        # only the chosen joint of each sample is written: (N, C, T, M) values
        out[rows, :, :, joint] = torch.where(present.unsqueeze(1), value, x[rows, :, :, joint])
        return out


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


def normal_view(shear: float = 0.5, crop_ratio: int = 6) -> Compose:
    """The normal view of every method here: temporal crop then shear."""
    return Compose([TemporalCrop(crop_ratio), Shear(shear)])


def strong_view(
    shear: float = 0.5,
    crop_ratio: int = 6,
    flip_index: Sequence[int] = NTU_FLIP_INDEX,
    corrected: bool = False,
) -> Compose:
    """AimCLR/MsMCLR's extreme view: crop, shear, flip, rotate, noise, blur, axis mask, joint noise.

    ``corrected=True`` mirrors on flip and normalises the blur kernel (see the module doc).
    """
    return Compose([
        TemporalCrop(crop_ratio),
        Shear(shear),
        SpatialFlip(0.5, flip_index, mirror=corrected),
        Rotate(),
        GaussianNoise(),
        GaussianBlur(normalize=corrected),
        AxisMask(),
        JointNoise(),
    ])  # fmt: skip
