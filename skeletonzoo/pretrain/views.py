"""The training views: the normal view (crop, shear) and AimCLR/MsMCLR's strong view.

``strong_view()`` returns a :class:`StrongView`: the eight augmentations of MsMCLR's chain
(seven in AimCLR's, which has no joint noise) of
:mod:`skeletonzoo.pretrain.augment` with the same draws, in the same order, from the same
generator, computed in one pass instead of eight. ``Compose(view.augmentations)`` is the
step-by-step definition it is tested against (``tests/test_pretrain_views.py``); the steps
themselves are tested against the original code (``tests/test_parity_augment.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .augment import (
    NTU_FLIP_INDEX,
    AxisMask,
    Compose,
    GaussianBlur,
    GaussianNoise,
    JointNoise,
    Rotate,
    Shear,
    SpatialFlip,
    TemporalCrop,
    crop_source,
    gather_points,
    linear_map,
)

__all__ = ["StrongView", "normal_view", "strong_view"]


class StrongView(Compose):
    """Crop, shear, flip, rotate, Gaussian noise, Gaussian blur, axis mask, then joint noise
    (MsMCLR's chain; ``joint_noise=False`` stops at the axis mask, AimCLR's).

    Why one pass gives the same result: the crop and the flip only move points, and every
    step up to the joint noise acts on each point (shear, rotation), each time series (blur)
    or each axis (mask) alone, so

    ``mask(blur(R F S P x + e)) = blur(K R F S (P x) + K e)``

    where ``P x`` is one gather of the cropped, flipped points, ``S``/``F``/``R``/``K`` are
    the per-sample 3x3 shear, mirror (identity unless ``corrected``), rotation and axis-keep
    matrices, folded into one, and ``e`` the noise. Results equal the step-by-step chain up to
    floating-point rounding (the matrices are multiplied first).
    """

    def __init__(self, shear: float = 0.5, crop_ratio: int = 6, flip_index: Sequence[int] = NTU_FLIP_INDEX,
                 corrected: bool = False, joint_noise: bool = True) -> None:  # fmt: skip
        self.crop = TemporalCrop(crop_ratio)
        self.flip = SpatialFlip(0.5, flip_index, mirror=corrected)
        self.blur = GaussianBlur(normalize=corrected)
        self.joint_noise: JointNoise | None = None
        if joint_noise:  # the corrected view's reaches every frame and person
            self.joint_noise = JointNoise(None, None, precise=False) if corrected else JointNoise(precise=False)
        steps = [self.crop, Shear(shear, precise=False), self.flip, Rotate(precise=False),
                 GaussianNoise(precise=False), self.blur, AxisMask(),
                 *([self.joint_noise] if self.joint_noise else [])]  # fmt: skip
        super().__init__(steps)

    def sample(self, x: torch.Tensor, generator: torch.Generator) -> list[dict[str, torch.Tensor]]:
        """Every step's draws, in the chain's order (so the generator ends where the chain's does)."""
        return [aug.sample(x, generator) for aug in self.augmentations]

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.apply(x, self.sample(x, generator))

    def apply(self, x: torch.Tensor, params: Sequence[dict[str, Any]]) -> torch.Tensor:
        """``x`` ``(N, C, T, V, M)`` with the draws of :meth:`sample` -> the strong view, same shape."""
        p_crop, p_shear, p_flip, p_rotate, p_noise, p_blur, p_mask, *p_joint = params
        n, c, t, v, _ = x.shape
        self.flip.check_joints(v)
        device = x.device

        # 1. where each output point comes from: the crop's frame, the flip's joint (exact copies)
        pad = t // self.crop.ratio
        frames = crop_source(p_crop["start"], t, pad) if pad else torch.arange(t, device=device).expand(n, t)
        flipped = p_flip["flip"].view(n, 1)
        swap = torch.tensor(self.flip.index, device=device)
        joints = torch.where(flipped, swap.view(1, v), torch.arange(v, device=device).view(1, v))
        points = gather_points(x, frames, joints)

        # 2. one per-sample matrix: keep-axes * rotation * mirror * shear (float64, then x's dtype)
        keep = AxisMask.keep(p_mask["mask"], p_mask["axis"], c)  # (N, C)
        mirror = torch.ones(n, c, dtype=torch.float64, device=device)
        if self.flip.mirror:
            mirror[:, 0] = torch.where(flipped.view(n), -1.0, 1.0)
        matrix = keep.unsqueeze(2) * (p_rotate["matrix"] @ (mirror.unsqueeze(2) * p_shear["matrix"]))
        z = linear_map(points, matrix)  # a new tensor: the steps below write into it

        # 3. noise, with the masked axis of a masked sample zeroed (the mask comes after it)
        noisy = p_noise["apply_noise"].nonzero().view(-1)
        if noisy.numel():
            noise = p_noise["noise"].to(z.dtype) * keep.index_select(0, noisy).to(z.dtype).view(-1, c, 1, 1, 1)
            z.index_add_(0, noisy, noise)

        # 4. blur (linear along time: commutes with the per-point matrix)
        blurred = p_blur["blur"].nonzero().view(-1)
        if blurred.numel():
            sigma = p_blur["sigma"].index_select(0, blurred)
            z.index_copy_(0, blurred, self.blur.blurred(z.index_select(0, blurred), sigma))

        # 5. joint noise on the finished coordinates (MsMCLR's chain; AimCLR's ends with the mask)
        if self.joint_noise is None:
            return z
        return self.joint_noise.apply_(z, p_joint[0]["joint"], p_joint[0]["u"])


def normal_view(shear: float = 0.5, crop_ratio: int = 6) -> Compose:
    """The normal view of every method here: temporal crop then shear."""
    return Compose([TemporalCrop(crop_ratio), Shear(shear, precise=False)])


def strong_view(
    shear: float = 0.5,
    crop_ratio: int = 6,
    flip_index: Sequence[int] = NTU_FLIP_INDEX,
    corrected: bool = False,
    joint_noise: bool = True,
) -> StrongView:
    """The extreme view: crop, shear, flip, rotate, noise, blur, axis mask, then joint noise.

    ``joint_noise=False`` ends the chain at the axis mask: AimCLR's released feeder
    (``Feeder_triple``); MsMCLR's feeder added the joint noise (``noise_joint_fix``).
    ``corrected=True`` mirrors on flip, normalises the blur kernel and lets the joint noise
    reach every frame and person (see :mod:`skeletonzoo.pretrain.augment`).
    """
    return StrongView(shear, crop_ratio, flip_index, corrected, joint_noise)
