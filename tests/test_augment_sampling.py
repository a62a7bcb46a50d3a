"""The random halves of the augmentations: each ``sample()`` draws from the distribution of the
original ``feeder/tools.py`` (SPEC §8).

The parity tests feed the original's recorded draws into ``apply()``; these check the
distributions our own draws come from, on a large batch from a fixed generator (deterministic:
the tolerances are many standard errors wide, and the seed never changes).
"""

from __future__ import annotations

import math

import pytest
import torch

from skeletonzoo.pretrain.augment import (
    AxisMask,
    GaussianBlur,
    GaussianNoise,
    JointNoise,
    Rotate,
    Shear,
    SpatialFlip,
    TemporalCrop,
)

N, T, V, M = 20000, 50, 25, 2


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.zeros(N, 3, T, V, M)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _frequency_close(flags: torch.Tensor, p: float) -> None:
    """``flags`` ``(N,)`` bool: the fraction set is ``p`` within 5 standard errors."""
    se = math.sqrt(p * (1 - p) / flags.numel())
    assert abs(flags.double().mean().item() - p) < 5 * se, (flags.double().mean().item(), p)


def _uniform_ints(values: torch.Tensor, low: int, high: int) -> None:
    """``values`` cover ``low..high`` (inclusive) exactly, each about equally often."""
    counts = torch.bincount(values.view(-1) - low, minlength=high - low + 1)
    assert values.min().item() == low and values.max().item() == high
    for count in counts:
        _frequency_close(torch.arange(values.numel()) < count, 1 / (high - low + 1))


def _uniform_floats(values: torch.Tensor, low: float, high: float) -> None:
    """``values`` lie in ``[low, high)`` with the mean and variance of ``U(low, high)``."""
    values = values.double().view(-1)
    assert values.min().item() >= low and values.max().item() < high
    assert values.min().item() < low + (high - low) * 1e-3 and values.max().item() > high - (high - low) * 1e-3
    n, width = values.numel(), high - low
    assert abs(values.mean().item() - (low + high) / 2) < 5 * width / math.sqrt(12 * n)
    assert abs(values.var().item() - width**2 / 12) < 5 * width**2 / (12 * math.sqrt(n / 1.25))


def test_crop_start_is_uniform_over_the_mirror_padding(batch):
    start = TemporalCrop(6).sample(batch, _gen())["start"]  # pad T // 6 = 8 frames each side
    assert start.shape == (N,)
    _uniform_ints(start, 0, 2 * (T // 6))


def test_shear_draws_six_uniform_entries_around_a_unit_diagonal(batch):
    matrix = Shear(0.5).sample(batch, _gen())["matrix"]
    assert matrix.shape == (N, 3, 3)
    eye = torch.eye(3, dtype=torch.bool)
    assert (matrix[:, eye] == 1).all()
    _uniform_floats(matrix[:, ~eye], -0.5, 0.5)
    # the six entries are independent draws
    off = matrix[:, ~eye].T
    assert torch.corrcoef(off).sub(torch.eye(6, dtype=off.dtype)).abs().max() < 0.05


def test_flip_noise_blur_and_mask_coins_are_fair(batch):
    _frequency_close(SpatialFlip(0.5).sample(batch, _gen(1))["flip"], 0.5)
    _frequency_close(GaussianNoise(0.5).sample(batch[:, :, :2], _gen(2))["apply_noise"], 0.5)
    _frequency_close(GaussianBlur(0.5).sample(batch, _gen(3))["blur"], 0.5)
    _frequency_close(AxisMask(0.5).sample(batch, _gen(4))["mask"], 0.5)
    _frequency_close(SpatialFlip(0.2).sample(batch, _gen(5))["flip"], 0.2)


def _angles(matrix: torch.Tensor) -> torch.Tensor:
    """``(N, 3, 3)`` ``R_z R_y R_x`` -> ``(N, 3)`` angles about x, y, z in degrees (all under 90)."""
    x = torch.atan2(-matrix[:, 2, 1], matrix[:, 2, 2])
    y = torch.asin(matrix[:, 2, 0].clamp(-1, 1))
    z = torch.atan2(-matrix[:, 1, 0], matrix[:, 0, 0])
    return torch.stack([x, y, z], 1).rad2deg()


def test_rotation_turns_one_random_axis_by_up_to_30_degrees_and_the_others_by_up_to_1(batch):
    matrix = Rotate().sample(batch, _gen())["matrix"]
    torch.testing.assert_close(matrix @ matrix.transpose(1, 2), torch.eye(3, dtype=matrix.dtype).expand(N, 3, 3))
    angles = _angles(matrix)
    assert (angles >= -1e-9).all()
    main = angles.argmax(1)
    _uniform_ints(main, 0, 2)
    main_angle = angles.gather(1, main.view(-1, 1)).view(-1)
    others = angles[torch.nn.functional.one_hot(main, 3) == 0].view(N, 2)
    assert others.max().item() < 1.0 + 1e-6
    # the main angle is U(0, 30): where it is above 1 degree it is the largest, so argmax finds it
    above = main_angle > 1.0
    _frequency_close(above, 29 / 30)
    _uniform_floats(main_angle[above], 1.0, 30.0)
    _uniform_floats(others[above], 0.0, 1.0)


def test_gaussian_noise_has_std_0_01_for_the_chosen_samples(batch):
    params = GaussianNoise(0.5, std=0.01).sample(batch[:400], _gen())
    k = int(params["apply_noise"].sum())
    noise = params["noise"].double()
    assert noise.shape == (k, 3, T, V, M)
    assert abs(noise.mean().item()) < 5 * 0.01 / math.sqrt(noise.numel())
    assert abs(noise.std().item() - 0.01) < 1e-4
    kurtosis = (noise / 0.01).pow(4).mean().item()  # 3 for a normal distribution
    assert abs(kurtosis - 3) < 0.05


def test_blur_sigma_is_uniform_between_0_1_and_2(batch):
    sigma = GaussianBlur().sample(batch, _gen())["sigma"]
    _uniform_floats(sigma, 0.1, 2.0)


def test_axis_mask_picks_each_axis_equally(batch):
    axis = AxisMask().sample(batch, _gen())["axis"]
    _uniform_ints(axis, 0, 2)


def test_joint_noise_picks_a_uniform_joint_and_uniform_positions(batch):
    params = JointNoise().sample(batch, _gen())
    _uniform_ints(params["joint"], 0, V - 1)
    assert params["u"].shape == (N, T, M, 3)
    _uniform_floats(params["u"][:2000], 0.0, 1.0)
