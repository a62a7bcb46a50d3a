"""Augmentations against the original feeder/tools.py, with the original's random draws pinned.

The fixture (shared/parity/aug.npz + aug_cases.json, SPEC §8) records every random call of
the original in call order; each test turns those draws into our ``apply`` parameters.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import shared_file

from skeletonzoo.pretrain.augment import (
    AxisMask,
    GaussianBlur,
    GaussianNoise,
    JointNoise,
    Rotate,
    Shear,
    SpatialFlip,
    TemporalCrop,
    rotation_matrices,
)
from skeletonzoo.pretrain.views import StrongView


@pytest.fixture(scope="module")
def aug():
    with np.load(shared_file("parity/aug.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    cases = json.loads(shared_file("parity/aug_cases.json").read_text())
    return arrays, cases


class Draws:
    """Consume a case's recorded draws in order."""

    def __init__(self, case: dict, arrays: dict, name: str) -> None:
        self.draws = list(case["draws"])
        self.arrays = arrays
        self.name = name
        self.u = list(arrays.get(f"{name}/u", []))

    def take(self, fn: str) -> float:
        draw = self.draws.pop(0)
        assert draw["fn"] == fn, (draw, fn)
        return draw["value"]

    def peek(self) -> str | None:
        return self.draws[0]["fn"] if self.draws else None


def _batch(a: np.ndarray) -> torch.Tensor:
    """The case's input as a batch of one, in its own dtype (float32 cases stay float32: the
    augmentations promote like the original's NumPy)."""
    return torch.from_numpy(a.copy())[None]


def _params_crop(d: Draws) -> dict:
    return {"start": torch.tensor([int(d.take("randint"))])}


def _crop(d: Draws, num_frames: int) -> TemporalCrop:
    """The crop whose padding the case's draw was made with: ``randint(0, 2 * pad + 1)``."""
    pad = (int(d.draws[0]["args"][1]) - 1) // 2
    ratio = num_frames // pad if pad else num_frames + 1
    assert num_frames // ratio == pad, (num_frames, pad)
    return TemporalCrop(ratio)


def _params_shear(d: Draws) -> dict:
    v = torch.tensor([d.take("uniform") for _ in range(6)], dtype=torch.float64)
    return {"matrix": Shear.matrix(v[None, :3], v[None, 3:])}


def _params_flip(d: Draws) -> dict:
    return {"flip": torch.tensor([d.take("random") < 0.5])}


def _params_rotate(d: Draws) -> dict:
    d.take("randint")
    degrees = torch.tensor([[d.take("uniform") for _ in range(3)]], dtype=torch.float64)
    return {"matrix": rotation_matrices(degrees)}


def _params_noise(d: Draws, x: torch.Tensor) -> dict:
    apply = d.take("random") < 0.5
    noise = torch.zeros((0, *x.shape[1:]), dtype=x.dtype)  # one row per noised sample: none
    if apply:
        d.take("normal")
        noise = _batch(d.arrays[f"{d.name}/noise"])
    return {"apply_noise": torch.tensor([apply]), "noise": noise}


def _params_blur(d: Draws) -> dict:
    sigma = d.take("uniform")
    return {"sigma": torch.tensor([sigma], dtype=torch.float64), "blur": torch.tensor([d.take("random_sample") < 0.5])}


def _params_mask(d: Draws) -> dict:
    mask = d.take("random") < 0.5
    axis = int(d.take("randint")) if mask else 0
    return {"mask": torch.tensor([mask]), "axis": torch.tensor([axis])}


def _params_joint(d: Draws, x: torch.Tensor) -> dict:
    joint = int(d.take("choice"))
    _, c, t, _, m = x.shape
    u = torch.zeros(1, t, m, c, dtype=torch.float64)
    for ti in range(min(t, 50)):  # the original's loops: t < 50, m < 2, hard-coded (JointNoise's defaults)
        for mi in range(min(m, 2)):
            if x[0, :, ti, :, mi].sum() == 0:
                continue
            for ci in range(c):
                d.take("uniform")
                u[0, ti, mi, ci] = float(d.u.pop(0))
    return {"joint": torch.tensor([joint]), "u": u}


def _check(out: torch.Tensor, expected: np.ndarray) -> None:
    np.testing.assert_allclose(out[0].numpy(), expected, atol=1e-9, rtol=0)


@pytest.mark.parametrize("case", ["shear_0", "shear_1"])
def test_shear(aug, case):
    arrays, cases = aug
    d = Draws(cases[case], arrays, case)
    x = _batch(arrays[cases[case]["input"]])
    out = Shear().apply(x, **_params_shear(d))
    assert out.dtype == torch.float64  # SPEC: the output is float64 (float64 matrices promote float32)
    _check(out, arrays[f"{case}/out"])


@pytest.mark.parametrize("case", ["temperal_crop_first", "temperal_crop_mid", "temperal_crop_last"])
def test_temporal_crop_is_an_exact_copy(aug, case):
    arrays, cases = aug
    x = torch.from_numpy(arrays[cases[case]["input"]])[None]  # its dtype stays
    d = Draws(cases[case], arrays, case)
    out = _crop(d, x.shape[2]).apply(x, **_params_crop(d))
    assert out.dtype == x.dtype
    np.testing.assert_array_equal(out[0].numpy(), arrays[f"{case}/out"])


@pytest.mark.parametrize(
    "case, aug_cls, params",
    [
        ("random_spatial_flip_yes", SpatialFlip, _params_flip),
        ("random_spatial_flip_no", SpatialFlip, _params_flip),
        ("random_rotate_main0", Rotate, _params_rotate),
        ("random_rotate_main1", Rotate, _params_rotate),
        ("random_rotate_main2", Rotate, _params_rotate),
        ("gaus_filter_a", GaussianBlur, _params_blur),
        ("gaus_filter_b", GaussianBlur, _params_blur),
        ("gaus_filter_skip", GaussianBlur, _params_blur),
        ("axis_mask_axis0", AxisMask, _params_mask),
        ("axis_mask_axis1", AxisMask, _params_mask),
        ("axis_mask_axis2", AxisMask, _params_mask),
        ("axis_mask_no", AxisMask, _params_mask),
    ],
)
def test_single_augmentations(aug, case, aug_cls, params):
    arrays, cases = aug
    d = Draws(cases[case], arrays, case)
    x = _batch(arrays[cases[case]["input"]])
    _check(aug_cls().apply(x, **params(d)), arrays[f"{case}/out"])
    assert not d.draws


@pytest.mark.parametrize("case", ["gaus_noise_yes", "gaus_noise_no"])
def test_gaussian_noise(aug, case):
    arrays, cases = aug
    d = Draws(cases[case], arrays, case)
    x = _batch(arrays[cases[case]["input"]])
    _check(GaussianNoise().apply(x, **_params_noise(d, x)), arrays[f"{case}/out"])


def test_gaussian_noise_on_float32_clips_adds_in_float64(aug):
    """The original adds float64 ``np.random.normal`` noise, so a float32 clip comes out float64 at
    full precision (NumPy's promotion, computed here on the fixture's own clip and noise)."""
    arrays, cases = aug
    d = Draws(cases["gaus_noise_yes"], arrays, "gaus_noise_yes")
    x = _batch(arrays["in_A_f32"])
    params = _params_noise(d, x)
    out = GaussianNoise().apply(x, **params)
    assert out.dtype == torch.float64
    expected = arrays["in_A_f32"].astype(np.float64) + arrays["gaus_noise_yes/noise"]
    np.testing.assert_array_equal(out[0].numpy(), expected)
    # the training views' setting: noise and sum in the batch's dtype
    assert GaussianNoise(precise=False).apply(x, **params).dtype == torch.float32


@pytest.mark.parametrize("case", ["noise_joint_fix_A", "noise_joint_fix_B"])
def test_joint_noise(aug, case):
    arrays, cases = aug
    d = Draws(cases[case], arrays, case)
    x = _batch(arrays[cases[case]["input"]])
    _check(JointNoise().apply(x, **_params_joint(d, x)), arrays[f"{case}/out"])
    assert not d.u  # every pinned draw used: the skipped (empty) person drew nothing


@pytest.mark.parametrize("case", ["strong_aug_chain_0", "strong_aug_chain_1", "normal_aug_chain"])
def test_whole_chains(aug, case):
    arrays, cases = aug
    d = Draws(cases[case], arrays, case)
    x0 = x = _batch(arrays[cases[case]["input"]])
    crop = _crop(d, x.shape[2])
    params = [_params_crop(d)]
    x = crop.apply(x, **params[-1])
    params.append(_params_shear(d))
    x = Shear().apply(x, **params[-1])
    strong = d.peek() is not None
    if strong:
        for aug_cls, make in [(SpatialFlip, _params_flip), (Rotate, _params_rotate), (GaussianNoise, _params_noise),
                              (GaussianBlur, _params_blur), (AxisMask, _params_mask), (JointNoise, _params_joint)]:
            params.append(make(d, x) if make in (_params_noise, _params_joint) else make(d))
            x = aug_cls().apply(x, **params[-1])
    assert not d.draws
    assert x.dtype == torch.float64  # promoted by the shear, as in the original
    _check(x, arrays[f"{case}/out"])
    if strong:  # the one-pass strong view (the batch's dtype throughout), on the same draws, given float64
        _check(StrongView(crop_ratio=crop.ratio).apply(x0.double(), params), arrays[f"{case}/out"])
