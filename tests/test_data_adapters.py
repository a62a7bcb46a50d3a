"""Layout adapters: the NW-UCLA mapping of the README, NTU -> NW-UCLA, 2D keypoints -> NTU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skeletonzoo.data import Preprocess
from skeletonzoo.data.adapters import ADAPTERS, adapt_layout, adapter_matrix
from skeletonzoo.skeleton import COCO17, NTU25, NWUCLA20, OPENPOSE18


def _ucla(seed: int = 0) -> torch.Tensor:
    return torch.randn(2, 3, 4, 20, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_nwucla_to_ntu_interpolate_follows_the_readme():
    x = _ucla()
    out = adapt_layout(x, "nwucla20", "ntu25")
    j = lambda i: x[..., i, :]  # noqa: E731
    torch.testing.assert_close(out[..., 0, :], j(0))
    torch.testing.assert_close(out[..., 1, :], j(0) + 0.57 * (j(2) - j(0)))  # SpineMid
    torch.testing.assert_close(out[..., 2, :], j(2) + 0.36 * (j(3) - j(2)))  # Neck
    torch.testing.assert_close(out[..., 3, :], j(3))
    for v in range(4, 20):
        torch.testing.assert_close(out[..., v, :], j(v))
    torch.testing.assert_close(out[..., 20, :], j(2))  # SpineShoulder <- ShoulderCenter
    for v, src in ((21, 7), (22, 7), (23, 11), (24, 11)):
        torch.testing.assert_close(out[..., v, :], j(src))


def test_nwucla_to_ntu_copy_is_the_readme_gather():
    x = _ucla(1)
    gather = [0, 1, 2, 3, *range(4, 20), 2, 7, 7, 11, 11]
    torch.testing.assert_close(adapt_layout(x, "nwucla20", "ntu25", "copy"), x[..., gather, :], rtol=0, atol=0)


def test_ntu_to_nwucla():
    x = torch.randn(1, 3, 3, 25, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    out = adapt_layout(x, "ntu25", "nwucla20")
    assert out.shape == (1, 3, 3, 20, 2)
    torch.testing.assert_close(out[..., 2, :], x[..., 20, :])  # ShoulderCenter <- SpineShoulder
    torch.testing.assert_close(out[..., 1, :], x[..., 0, :] + 0.15 * (x[..., 20, :] - x[..., 0, :]))
    torch.testing.assert_close(out[..., 4:, :], x[..., 4:20, :])
    copy = adapt_layout(x, "ntu25", "nwucla20", "copy")
    torch.testing.assert_close(copy[..., 1, :], x[..., 1, :])


def test_copy_round_trip_nwucla_ntu_nwucla_is_identity():
    x = _ucla(3)
    back = adapt_layout(adapt_layout(x, "nwucla20", "ntu25", "copy"), "ntu25", "nwucla20", "copy")
    torch.testing.assert_close(back, x, rtol=0, atol=0)


@pytest.mark.parametrize("pair", sorted(ADAPTERS))
def test_every_adapter_is_affine(pair):
    for mode, w in ADAPTERS[pair].items():
        np.testing.assert_allclose(w.sum(axis=1), 1.0, err_msg=f"{pair} {mode}")
        assert w.shape == (len(_layout(pair[1]).joint_names), len(_layout(pair[0]).joint_names))


def _layout(name: str):  # noqa: ANN202
    return {"ntu25": NTU25, "nwucla20": NWUCLA20, "coco17": COCO17, "openpose18": OPENPOSE18}[name]


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.floats(-2, 2), st.floats(-2, 2), st.floats(-2, 2))
def test_3d_adapters_commute_with_translation(seed, dx, dy, dz):
    x = _ucla(seed)
    shift = torch.tensor([dx, dy, dz], dtype=torch.float64).view(1, 3, 1, 1, 1)
    for mode in ("interpolate", "copy"):
        a = adapt_layout(x + shift, "nwucla20", "ntu25", mode)
        torch.testing.assert_close(a, adapt_layout(x, "nwucla20", "ntu25", mode) + shift)


def test_coco_to_ntu_best_effort():
    kp = torch.randn(1, 3, 2, 17, 1, generator=torch.Generator().manual_seed(4), dtype=torch.float64)  # x, y, score
    out = adapt_layout(kp, "coco17", "ntu25")
    xy = lambda name: torch.stack([kp[:, 0, ..., COCO17.index(name), :], -kp[:, 1, ..., COCO17.index(name), :]], 1)  # noqa: E731
    torch.testing.assert_close(out[:, :2, ..., NTU25.index("ShoulderLeft"), :], xy("left_shoulder"))
    torch.testing.assert_close(out[:, :2, ..., NTU25.index("WristRight"), :], xy("right_wrist"))
    torch.testing.assert_close(out[:, :2, ..., NTU25.index("Head"), :], xy("nose"))
    spine_shoulder = 0.5 * (xy("left_shoulder") + xy("right_shoulder"))
    spine_base = 0.5 * (xy("left_hip") + xy("right_hip"))
    torch.testing.assert_close(out[:, :2, ..., 20, :], spine_shoulder)
    torch.testing.assert_close(out[:, :2, ..., 0, :], spine_base)
    torch.testing.assert_close(out[:, :2, ..., 1, :], 0.5 * (spine_base + spine_shoulder))
    torch.testing.assert_close(out[:, :2, ..., 2, :], 0.64 * spine_shoulder + 0.36 * xy("nose"))
    assert torch.equal(out[:, 2], torch.zeros_like(out[:, 2]))  # z = 0, score dropped
    torch.testing.assert_close(adapt_layout(kp[:, :2], "coco17", "ntu25"), out)  # C=2 works too


def test_openpose_neck_is_spine_shoulder():
    kp = torch.randn(1, 2, 2, 18, 1, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    out = adapt_layout(kp, "openpose18", "ntu25")
    neck = OPENPOSE18.index("Neck")
    torch.testing.assert_close(out[:, 0, ..., 20, :], kp[:, 0, ..., neck, :])
    torch.testing.assert_close(out[:, 1, ..., 20, :], -kp[:, 1, ..., neck, :])


def test_identity_and_refusals():
    assert np.array_equal(adapter_matrix("ntu25", "ntu-rgb+d"), np.eye(25))
    with pytest.raises(ValueError, match="no adapter from layout 'coco17' to 'nwucla20'"):
        adapter_matrix("coco17", "nwucla20")
    with pytest.raises(ValueError, match="modes"):
        adapter_matrix("coco17", "ntu25", "copy")
    with pytest.raises(ValueError, match="V=20"):
        adapt_layout(torch.zeros(1, 3, 2, 25, 1), "nwucla20", "ntu25")
    with pytest.raises(ValueError, match="C=2"):
        adapt_layout(torch.zeros(1, 4, 2, 17, 1), "coco17", "ntu25")


def test_preprocess_adapts_before_normalising():
    x = _ucla(6).float() + torch.tensor([0.0, 0.0, 3.0]).view(1, 3, 1, 1, 1)
    pre = Preprocess(layout="ntu25", input_layout="nwucla20", num_persons=1)
    direct = Preprocess(layout="ntu25", num_persons=1)(adapt_layout(x, "nwucla20", "ntu25"))
    torch.testing.assert_close(pre(x), direct, rtol=0, atol=0)
    assert pre(x).shape == (2, 3, 50, 25, 1)
    # the caller may name the input layout per call, e.g. NTU data into the same model
    ntu = torch.randn(2, 3, 4, 25, 1)
    direct_ntu = Preprocess(layout="ntu25", num_persons=1)(ntu)
    torch.testing.assert_close(pre(ntu, input_layout="ntu25"), direct_ntu)
    assert direct_ntu.shape == (2, 3, 50, 25, 1)
    torch.testing.assert_close(pre.adapt(ntu, "ntu25"), ntu)
