"""The original normalisation (stage 2): hand-computed cases, a literal reference, properties."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from skeletonzoo.data import Preprocess, align_shoulders, center_joints, resize_time, valid_lengths
from skeletonzoo.data.preprocess import clip_lengths


def reference_position(sample: np.ndarray, num_frames: int = 50) -> np.ndarray:
    """``shared/specs/data-pipeline.md`` stage 2 written out literally for one (C, T, V, M) sample,
    in float64, with OpenCV's INTER_LINEAR source mapping and per-frame rotation matrices."""
    c, t, v, m = sample.shape
    length = sum(1 for k in range(t) if np.any(sample[:, k, 0, 0] != 0))  # step 1
    rel = sample - sample[:, :, 20:21, :]  # step 2
    out = np.zeros((c, num_frames, v, m))
    for p in range(m):  # step 3, person 1 with person 0's length
        if length == 0:
            continue
        img = rel[:, :length, :, p].transpose(1, 2, 0)  # T x V x C image
        for k in range(num_frames):
            fx = (k + 0.5) * length / num_frames - 0.5
            sx = math.floor(fx)
            fx -= sx
            if sx < 0:
                sx, fx = 0, 0.0
            if sx >= length - 1:
                sx, fx = length - 1, 0.0
            nxt = min(sx + 1, length - 1)
            out[:, k, :, p] = (img[sx] * (1 - fx) + img[nxt] * fx).T
    for p in range(m):  # step 4
        vec = out[:, :, 8, p] - out[:, :, 4, p]  # (3, T)
        vec[1] = 0
        angles = np.degrees(np.arccos(vec[0] / (np.linalg.norm(vec, axis=0) + 1e-4)))
        if vec[2].sum() >= 0:
            angles = -angles
        for k in range(num_frames):
            a = np.radians(angles[k])
            rot = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
            out[:, k, :, p] = rot @ out[:, k, :, p]
    return out


def _random_batch(rng: np.random.Generator, n: int = 6, t: int = 40) -> tuple[np.ndarray, list[int]]:
    """Skeleton-like NTU batch, zero-padded in time, some second persons absent."""
    x = np.zeros((n, 3, t, 25, 2))
    lengths = []
    for i in range(n):
        length = int(rng.integers(1, t + 1))
        lengths.append(length)
        for p in range(1 if i % 2 else 2):
            base = rng.normal(0, 0.3, size=(3, 1, 25)) + np.array([0.0, 0.0, 3.0])[:, None, None]
            x[i, :, :length, :, p] = base + rng.normal(0, 0.05, size=(3, length, 25)).cumsum(axis=1)
    return x, lengths


def test_matches_literal_reference():
    x, _ = _random_batch(np.random.default_rng(0))
    ours = Preprocess()(torch.from_numpy(x)).numpy()
    for i in range(len(x)):
        np.testing.assert_allclose(ours[i], reference_position(x[i]), rtol=0, atol=1e-9)


def test_float32_matches_reference_to_float_precision():
    x, _ = _random_batch(np.random.default_rng(1))
    ours = Preprocess()(torch.from_numpy(x).float()).numpy()
    assert ours.dtype == np.float32
    for i in range(len(x)):
        np.testing.assert_allclose(ours[i], reference_position(x[i].astype(np.float32).astype(np.float64)),
                                   atol=2e-5)  # fmt: skip


def test_batch_composition_does_not_matter():
    x, _ = _random_batch(np.random.default_rng(2), n=5)
    xt = torch.from_numpy(x).float()
    whole = Preprocess()(xt)
    for i in range(len(x)):
        torch.testing.assert_close(Preprocess()(xt[i : i + 1]), whole[i : i + 1], rtol=0, atol=0)


def test_resize_hand_computed():
    # length 2 -> 4 frames: sources -0.25 (clamped), 0.25, 0.75, 1.25 (clamped)
    a, b = 1.0, 5.0
    x = torch.zeros(1, 1, 3, 1, 1, dtype=torch.float64)
    x[0, 0, :2, 0, 0] = torch.tensor([a, b])
    out = resize_time(x, torch.tensor([2]), 4)[0, 0, :, 0, 0]
    torch.testing.assert_close(out, torch.tensor([a, 0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b, b], dtype=torch.float64))
    # length 5 -> 2 frames: sources 0.75 and 3.25 (plain linear, no averaging)
    y = torch.tensor([0.0, 10.0, 20.0, 40.0, 80.0], dtype=torch.float64).view(1, 1, 5, 1, 1)
    out = resize_time(y, torch.tensor([5]), 2)[0, 0, :, 0, 0]
    torch.testing.assert_close(out, torch.tensor([0.25 * 0 + 0.75 * 10, 0.75 * 40 + 0.25 * 80], dtype=torch.float64))


def test_resize_single_and_empty_frames():
    x = torch.zeros(2, 3, 4, 25, 2)
    x[0, :, 0] = torch.arange(150.0).view(3, 25, 2)
    x[0, :, 1:] = 99.0  # beyond the length: never read
    out = resize_time(x, torch.tensor([1, 0]), 50)
    assert torch.equal(out[0], x[0, :, :1].expand(3, 50, 25, 2))
    assert torch.equal(out[1], torch.zeros(3, 50, 25, 2))


def test_person_one_is_resized_with_person_zeros_length():
    x = torch.zeros(1, 3, 6, 25, 2, dtype=torch.float64)
    x[0, :, :3, :, 0] = 1.0 + torch.arange(3.0, dtype=torch.float64).view(1, 3, 1)  # 3 valid frames
    x[0, 0, :, 0, 1] = torch.arange(1.0, 7.0, dtype=torch.float64)  # 6 frames of data: cut at 3
    out = Preprocess(align=False, num_frames=3)(x)
    torch.testing.assert_close(out[0, 0, :, 0, 1], torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
    assert torch.equal(out[0, :, :, :, 0], torch.zeros(3, 3, 25, dtype=torch.float64))  # centred constant body


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 60), st.integers(1, 80), st.integers(0, 10_000))
def test_resize_full_length_equals_interpolate(t, num_frames, seed):
    x = torch.randn(2, 3, t, 4, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    ours = resize_time(x, torch.tensor([t, t]), num_frames)
    # (N, C, T, V, M) -> (N, C*V*M, T) for 1-D interpolation along time
    flat = x.permute(0, 1, 3, 4, 2).reshape(2, -1, t)
    ref = F.interpolate(flat, size=num_frames, mode="linear", align_corners=False)
    ref = ref.reshape(2, 3, 4, 2, num_frames).permute(0, 1, 4, 2, 3)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 100), st.integers(1, 80), st.floats(-5, 5), st.floats(-2, 2))
def test_resize_keeps_a_linear_motion_linear(length, num_frames, offset, slope):
    x = torch.zeros(1, 1, 100, 1, 1, dtype=torch.float64)
    x[0, 0, :length, 0, 0] = offset + slope * torch.arange(length, dtype=torch.float64)
    out = resize_time(x, torch.tensor([length]), num_frames)[0, 0, :, 0, 0]
    src = ((torch.arange(num_frames, dtype=torch.float64) + 0.5) * length / num_frames - 0.5).clamp(0, length - 1)
    torch.testing.assert_close(out, offset + slope * src, rtol=1e-9, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_centring_zeroes_the_centre_joint(seed):
    x = torch.randn(3, 3, 7, 25, 2, generator=torch.Generator().manual_seed(seed))
    out = center_joints(x, 20)
    assert torch.equal(out[:, :, :, 20], torch.zeros(3, 3, 7, 2))
    torch.testing.assert_close(out[:, :, :, 3] - out[:, :, :, 7], x[:, :, :, 3] - x[:, :, :, 7])


def _shoulders(vx: np.ndarray, vy: np.ndarray, vz: np.ndarray) -> torch.Tensor:
    """A (1, 3, T, 25, 1) batch whose right - left shoulder vector is (vx, vy, vz) per frame."""
    t = len(vx)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 3, t, 25, 1)))
    x[0, :, :, 8, 0] = x[0, :, :, 4, 0] + torch.from_numpy(np.stack([vx, vy, vz]))
    return x


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(0.01, 1)), min_size=1, max_size=8),
    st.booleans(),
)
def test_rotation_makes_the_shoulders_parallel_to_x(vectors, flip):
    vx, vy, vz = (np.array(c) for c in zip(*vectors))
    if flip:  # every frame's z of one sign: the sequence-wide sign decision fits all of them
        vz = -vz
    x = _shoulders(vx, vy, vz)
    out = align_shoulders(x, 4, 8, eps=0.0)
    vec = out[0, :, :, 8, 0] - out[0, :, :, 4, 0]
    norm = torch.from_numpy(np.hypot(vx, vz))
    torch.testing.assert_close(vec[2], torch.zeros_like(vec[2]), rtol=0, atol=1e-7)  # z -> 0
    torch.testing.assert_close(vec[1], torch.from_numpy(vy), rtol=0, atol=1e-12)  # y untouched
    torch.testing.assert_close(vec[0], norm, rtol=0, atol=1e-7)  # along +x
    # a rotation about y: every joint keeps its y and its distance from the y axis
    torch.testing.assert_close(out[:, 1], x[:, 1])
    torch.testing.assert_close(out[:, 0] ** 2 + out[:, 2] ** 2, x[:, 0] ** 2 + x[:, 2] ** 2)


def test_rotation_with_zero_y_leaves_shoulder_y_and_z_at_zero():
    vx, vz = np.array([0.3, -0.2, 0.25, 0.1]), np.array([0.1, 0.2, 0.05, 0.3])
    out = align_shoulders(_shoulders(vx, np.zeros(4), vz), 4, 8, eps=0.0)
    vec = out[0, :, :, 8, 0] - out[0, :, :, 4, 0]
    assert vec[1].abs().max() == 0
    assert vec[2].abs().max() < 1e-12


def test_rotation_hand_computed_with_the_original_epsilon():
    # shoulder vector (3, 0, 4): norm 5, z sum >= 0 so the angle is negated
    x = _shoulders(np.array([3.0]), np.array([0.0]), np.array([4.0]))
    out = align_shoulders(x, 4, 8)
    theta = -math.acos(3 / (5 + 1e-4))
    vec = out[0, :, 0, 8, 0] - out[0, :, 0, 4, 0]
    expected = [math.cos(theta) * 3 - math.sin(theta) * 4, 0.0, math.sin(theta) * 3 + math.cos(theta) * 4]
    torch.testing.assert_close(vec, torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-12)
    assert abs(vec[0].item() - 5) < 1e-3 and abs(vec[2].item()) < 0.02  # nearly aligned, not exactly


def test_rotation_sign_is_one_per_sequence():
    # PARITY: frame 1's z is negative but the sum is positive, so it is turned the wrong way
    vx, vz = np.array([0.3, 0.3]), np.array([0.2, -0.1])
    out = align_shoulders(_shoulders(vx, np.zeros(2), vz), 4, 8, eps=0.0)
    vec = out[0, :, :, 8, 0] - out[0, :, :, 4, 0]
    assert abs(vec[2, 0].item()) < 1e-12
    theta = -math.acos(0.3 / math.hypot(0.3, 0.1))
    assert vec[2, 1].item() == pytest.approx(math.sin(theta) * 0.3 + math.cos(theta) * -0.1)
    assert abs(vec[2, 1].item()) > 0.1


def test_valid_lengths_counts_frames_with_joint_zero_of_person_zero():
    x = torch.zeros(3, 3, 10, 25, 2)
    x[0, 1, :4, 0, 0] = 1.0
    x[1, :, :, 0, 1] = 1.0  # person 1 only: length 0
    x[2, 2, [0, 1, 5], 0, 0] = -2.0  # a gap still counts 3 frames (the prefix is then used)
    assert valid_lengths(x).tolist() == [4, 0, 3]


def test_clip_lengths_run_to_the_last_frame_holding_data():
    x = torch.zeros(4, 3, 10, 25, 2)
    x[0, 1, :4, 3, 0] = 1.0  # joint 0 never set: still 4 frames
    x[1, 0, 7, 2, 1] = -1.0  # only person 1, only frame 7: 8 frames
    x[2, 2, [0, 5], 0, 0] = 2.0  # a gap inside the clip counts: 6 frames
    assert clip_lengths(x).tolist() == [4, 8, 6, 0]
    assert clip_lengths(torch.zeros(2, 3, 0, 25, 2)).tolist() == [0, 0]


def test_the_length_rule_follows_the_input_layout_unless_set():
    assert Preprocess().resolved_length_rule() == "joint0"
    nwucla = Preprocess(layout="ntu25", input_layout="nwucla20", num_persons=1)
    assert nwucla.resolved_length_rule() == "clip"
    assert nwucla.resolved_length_rule("ntu25") == "joint0"  # NTU data given to an NW-UCLA model
    assert Preprocess(length_rule="clip").resolved_length_rule() == "clip"
    x = torch.randn(1, 3, 12, 25, 2)
    x[:, :, 3, 0, 0] = 0  # joint 0 of person 0 at the origin in frame 3
    counted, every = Preprocess()(x), Preprocess(length_rule="clip")(x)
    torch.testing.assert_close(counted, Preprocess(length_rule="clip")(x, lengths=torch.tensor([11])))
    assert not torch.allclose(counted, every)
    # the joint0 rule counts joint-0 frames within the lengths passed (all 12 frames: the same count)
    torch.testing.assert_close(Preprocess()(x, lengths=torch.tensor([12])), counted)
    # ... and only within them: the first 6 frames hold 5 joint-0 frames, as x[:, :, :6] alone does
    torch.testing.assert_close(Preprocess()(x, lengths=torch.tensor([6])), Preprocess()(x[:, :, :6]))
    assert valid_lengths(x, within=torch.tensor([6])).tolist() == [5]
    with pytest.raises(ValueError, match=r"no frames \(T=0\)"):
        Preprocess()(torch.zeros(1, 3, 0, 25, 2))
    # unset, the rule is not written: metadata made before the field existed reads and writes back the same
    assert "length_rule" not in Preprocess().to_dict()
    assert Preprocess.from_dict(Preprocess(length_rule="clip").to_dict()).length_rule == "clip"


def test_serialisable_and_validated():
    p = Preprocess(layout="ntu25", input_layout="nwucla20", num_persons=1, num_frames=64)
    data = json.loads(json.dumps(p.to_dict()))
    assert Preprocess.from_dict(data) == p
    with pytest.raises(ValueError, match="num_frame"):
        Preprocess.from_dict({**data, "num_frame": 50})
    with pytest.raises(ValueError):
        Preprocess(num_frames=0)


def test_shoulders_and_centre_come_from_the_layout():
    assert Preprocess().resolved_shoulders() == (4, 8)
    assert Preprocess().resolved_center() == 20
    assert Preprocess(layout="nwucla20").resolved_center() == 2
    assert Preprocess(layout="coco17").resolved_shoulders() == (5, 6)
    with pytest.raises(ValueError, match="no shoulder"):
        Preprocess(layout="coarse5").resolved_shoulders()


def test_fit_persons():
    p = Preprocess(num_persons=2)
    one = torch.ones(2, 3, 5, 25, 1)
    assert torch.equal(p.fit_persons(one)[..., 1], torch.zeros(2, 3, 5, 25))
    three = torch.zeros(2, 3, 5, 25, 3)
    assert p.fit_persons(three).shape[-1] == 2
    three[..., 2] = 1.0
    with pytest.raises(ValueError, match="select the persons"):
        p.fit_persons(three)


def test_input_checks():
    with pytest.raises(ValueError, match="N, C, T, V, M"):
        Preprocess()(torch.zeros(3, 50, 25, 2))
