"""The one-pass strong view against the step-by-step chain it stands for, and its helpers."""

from __future__ import annotations

import pytest
import torch

from skeletonzoo.pretrain.augment import (
    Compose,
    GaussianNoise,
    JointNoise,
    Rotate,
    Shear,
    gather_points,
    joint_range,
    linear_map,
)
from skeletonzoo.pretrain.views import StrongView, normal_view, strong_view

UCLA_FLIP = tuple(range(20))  # any permutation of the batch's joints will do for these tests


def _batch(n: int, m: int, dtype: torch.dtype, seed: int = 0, v: int = 25) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, 3, 50, v, m, generator=g, dtype=torch.float64).cumsum(2) * 0.05).to(dtype)
    if m == 2:
        x[n // 2 :, ..., 1] = 0  # single-person samples: a zero-padded second person
    x[0, :, 40:] = 0  # trailing zero frames, as padded clips have
    return x


@pytest.mark.parametrize("corrected", [False, True])
@pytest.mark.parametrize("m", [1, 2])
def test_strong_view_equals_the_chain_of_its_steps(corrected, m):
    x = _batch(16, m, torch.float64)
    view = strong_view(corrected=corrected)
    g_view, g_chain = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    fused = view(x, g_view)
    chained = Compose(view.augmentations)(x, g_chain)
    torch.testing.assert_close(fused, chained, rtol=0, atol=1e-12)
    # the same draws: both generators end in the same state
    assert torch.equal(g_view.get_state(), g_chain.get_state())
    # and the branches were taken: the view is not the identity nor a copy of the input
    assert (fused - x).abs().max() > 0.1
    assert torch.equal(x, _batch(16, m, torch.float64)), "the input must not be modified"


def test_strong_view_in_float32_matches_the_float64_chain():
    x = _batch(32, 2, torch.float64, seed=1)
    view = strong_view()
    params = view.sample(x.float(), torch.Generator().manual_seed(3))  # float32 noise
    fused = view.apply(x.float(), params)
    chained = x
    for step, drawn in zip(view.augmentations, params):  # the same draws, in float64
        chained = step.apply(chained, **drawn)
    assert fused.dtype == torch.float32
    scale = float(chained.abs().max())
    torch.testing.assert_close(fused.double(), chained, rtol=0, atol=2e-6 * scale)


def test_strong_view_other_layouts_and_flip_index():
    # NW-UCLA's 20 joints need their own flip index; a wrong one is refused with the sizes
    x = _batch(8, 1, torch.float32, v=20)
    with pytest.raises(ValueError, match="flip index has 25 joints, batch has V=20; .*mirror_index"):
        strong_view()(x, torch.Generator().manual_seed(0))
    flip = (0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15)
    view = strong_view(flip_index=flip)
    out = view(x, torch.Generator().manual_seed(0))
    chained = Compose(view.augmentations)(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(out, chained, rtol=0, atol=1e-5)


def test_every_branch_is_exercised_by_the_chain_test():
    # a fixed seed where each coin of the strong view falls both ways in a batch of 16
    x = _batch(16, 2, torch.float64)
    params = StrongView().sample(x, torch.Generator().manual_seed(7))
    names = {"flip": 2, "apply_noise": 4, "blur": 5, "mask": 6}
    for name, step in names.items():
        flags = params[step][name]
        assert 0 < int(flags.sum()) < 16, name


def test_normal_view_draws_and_result():
    x = _batch(4, 2, torch.float64)
    view = normal_view()
    g = torch.Generator().manual_seed(0)
    out = view(x, g)
    crop, shear = view.augmentations
    g = torch.Generator().manual_seed(0)
    start = crop.sample(x, g)["start"]
    matrix = shear.sample(x, g)["matrix"]
    for i in range(4):  # sample by sample: mirror-pad 8 frames, take 50 from start, shear
        padded = torch.cat([x[i, :, :8].flip(1), x[i], x[i, :, 42:].flip(1)], dim=1)
        cropped = padded[:, int(start[i]) : int(start[i]) + 50]
        expected = torch.einsum("ij,jtvm->itvm", matrix[i], cropped)
        torch.testing.assert_close(out[i], expected, rtol=0, atol=1e-12)


def test_shear_draws_s1_then_s2_from_the_generator():
    """The shear's matrix from one draw of 6N uniforms: a (the original's s1) is the first 3N,
    b (s2) the next 3N, so the stream is the one that two draws of 3N made before."""
    from skeletonzoo.pretrain.augment import Shear

    x = _batch(5, 2, torch.float64)
    g = torch.Generator().manual_seed(4)
    matrix = Shear(0.3).sample(x, g)["matrix"]
    g2 = torch.Generator().manual_seed(4)
    a = torch.rand((5, 3), generator=g2, dtype=torch.float64) * 0.6 - 0.3
    b = torch.rand((5, 3), generator=g2, dtype=torch.float64) * 0.6 - 0.3
    expected = torch.ones(5, 3, 3, dtype=torch.float64)
    expected[:, 0, 1], expected[:, 0, 2], expected[:, 1, 0] = a[:, 0], b[:, 0], a[:, 1]
    expected[:, 1, 2], expected[:, 2, 0], expected[:, 2, 1] = b[:, 1], a[:, 2], b[:, 2]
    torch.testing.assert_close(matrix, expected, rtol=0, atol=1e-15)
    assert torch.equal(g.get_state(), g2.get_state())  # the generator ends where two draws leave it


@pytest.mark.parametrize(
    "dtype, m",
    [(torch.float32, 1), (torch.float32, 2), (torch.float64, 1), (torch.float64, 2), (torch.float32, 3),
     (torch.bfloat16, 2)],
)  # fmt: skip
def test_gather_points_is_an_exact_copy(dtype, m):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 7, 5, m, generator=g).to(dtype)
    frames = torch.randint(0, 7, (3, 6), generator=g)
    joints = torch.randint(0, 5, (3, 4), generator=g)
    out = gather_points(x, frames, joints)
    rows = torch.arange(3).view(3, 1, 1, 1)
    chans = torch.arange(2).view(1, 2, 1, 1)
    expected = x[rows, chans, frames.view(3, 1, 6, 1), joints.view(3, 1, 1, 4)]
    assert out.shape == (3, 2, 6, 4, m)
    assert torch.equal(out, expected)


def test_joint_range_matches_amin_amax():
    for v in (1, 2, 3, 20, 25, 31):
        x = torch.randn(2, 3, 4, v, 2, generator=torch.Generator().manual_seed(v))
        low, high = joint_range(x)
        assert torch.equal(low, x.amin(3)) and torch.equal(high, x.amax(3)), v


def test_linear_map_is_the_per_sample_matrix_product():
    g = torch.Generator().manual_seed(0)
    x, r = torch.randn(4, 3, 5, 6, 2, generator=g), torch.randn(4, 3, 3, generator=g, dtype=torch.float64)
    expected = torch.einsum("nij,njtvm->nitvm", r.float(), x)
    torch.testing.assert_close(linear_map(x, r), expected, rtol=1e-6, atol=1e-6)


def test_gaussian_noise_draws_only_for_the_noised_samples():
    x = torch.zeros(10, 3, 4, 5, 2)
    noise = GaussianNoise(p=0.5, std=0.01)
    params = noise.sample(x, torch.Generator().manual_seed(0))
    k = int(params["apply_noise"].sum())
    assert 0 < k < 10 and params["noise"].shape == (k, 3, 4, 5, 2)
    out = noise.apply(x, **params)
    assert torch.equal(out[params["apply_noise"]], params["noise"])
    assert not out[~params["apply_noise"]].any()
    assert 0.005 < float(params["noise"].std()) < 0.015
    with pytest.raises(ValueError, match="one row per sample with apply_noise"):
        noise.apply(x, params["apply_noise"], torch.zeros(10, 3, 4, 5, 2))


def test_joint_noise_leaves_zero_padded_persons_at_zero():
    x = _batch(4, 2, torch.float32)  # samples 2, 3: second person all zero
    params = JointNoise().sample(x, torch.Generator().manual_seed(0))
    out = JointNoise().apply(x, **params)
    assert not out[2:, ..., 1].any()
    assert not out[0, :, 40:].any()  # zero frames stay zero
    # the chosen joint got values inside each frame's range; the other joints are untouched
    for i in range(4):
        j = int(params["joint"][i])
        others = [k for k in range(25) if k != j]
        assert torch.equal(out[i][:, :, others], x[i][:, :, others])
        low, high = x[i].amin(2), x[i].amax(2)
        assert bool(((out[i][:, :, j] >= low) & (out[i][:, :, j] <= high)).all())
    assert not torch.equal(out[0, :, :40], x[0, :, :40])


def test_joint_noise_on_a_non_contiguous_batch():
    x = _batch(3, 2, torch.float32).transpose(3, 4).contiguous().transpose(3, 4)  # same values, other strides
    params = JointNoise().sample(x, torch.Generator().manual_seed(1))
    out = JointNoise().apply(x, **params)
    torch.testing.assert_close(out, JointNoise().apply(x.contiguous(), **params), rtol=0, atol=0)
    with pytest.raises(ValueError, match="needs it contiguous"):
        JointNoise().apply_(x, params["joint"], params["u"])


def test_joint_noise_reaches_only_the_originals_50_frames_and_2_persons_unless_corrected():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 3, 64, 25, 3, generator=g, dtype=torch.float64)
    params = JointNoise().sample(x, g)
    parity, every = JointNoise().apply(x, **params), JointNoise(None, None).apply(x, **params)
    # the same values where the original writes (t < 50, m < 2), the input elsewhere
    torch.testing.assert_close(parity[:, :, :50, :, :2], every[:, :, :50, :, :2], rtol=0, atol=0)
    assert torch.equal(parity[:, :, 50:], x[:, :, 50:]) and torch.equal(parity[..., 2], x[..., 2])
    assert not torch.equal(every[:, :, 50:], x[:, :, 50:]) and not torch.equal(every[..., 2], x[..., 2])
    # the strong view takes the original's limits, and the corrected one every frame and person
    for corrected, touched in ((False, False), (True, True)):
        view = strong_view(crop_ratio=10**6, corrected=corrected)  # no crop padding: frames stay put
        draws = view.sample(x, torch.Generator().manual_seed(3))
        draws[1]["matrix"] = torch.eye(3, dtype=torch.float64).expand(3, 3, 3)  # no shear
        draws[2]["flip"][:] = False
        draws[3]["matrix"] = torch.eye(3, dtype=torch.float64).expand(3, 3, 3)  # no rotation
        draws[4]["apply_noise"][:] = False
        draws[4]["noise"] = draws[4]["noise"][:0]
        draws[5]["blur"][:] = False
        draws[6]["mask"][:] = False
        out = view.apply(x, draws)
        assert torch.equal(out[:, :, 50:], x[:, :, 50:]) is not touched


def test_precise_augmentations_compute_like_the_originals_numpy():
    """Default: float64 maths as the original (shear and rotation promote float32 input to float64,
    joint noise draws in float64 and stores in the batch's dtype); the training views' precise=False
    stays in the batch's dtype, within float32 rounding of that."""
    g = torch.Generator().manual_seed(5)
    x = torch.randn(4, 3, 50, 25, 2, generator=g)
    for aug in (Shear(), Rotate()):
        draws = aug.sample(x, g)
        precise, fast = aug.apply(x, **draws), type(aug)(precise=False).apply(x, **draws)
        assert precise.dtype == torch.float64 and fast.dtype == torch.float32
        torch.testing.assert_close(precise, type(aug)().apply(x.double(), **draws), rtol=0, atol=0)
        assert 0 < float((fast.double() - precise).abs().max()) < 1e-5
    draws = JointNoise().sample(x, g)
    precise = JointNoise().apply(x, **draws)
    assert precise.dtype == torch.float32
    torch.testing.assert_close(precise, JointNoise().apply(x.double(), **draws).float(), rtol=0, atol=0)
    fast = JointNoise(precise=False).apply(x, **draws)
    assert 0 < float((fast - precise).abs().max()) < 1e-5


def test_views_refuse_2d_coordinates_with_what_to_do():
    x = torch.zeros(2, 2, 10, 25, 1)  # x, y only
    g = torch.Generator().manual_seed(0)
    for view in (strong_view(), normal_view()):
        with pytest.raises(ValueError, match=r"3-D skeletons .* got shape \(2, 2, 10, 25, 1\).*adapt_layout"):
            view(x, g)
    with pytest.raises(ValueError, match=r"needs \(N, C, C\) = \(2, 3, 3\) matrices, got \(2, 2, 2\)"):
        linear_map(torch.zeros(2, 3, 4, 5, 1), torch.eye(2).expand(2, 2, 2))
