"""Streams derived from positions: joint, motion, bone (parents from every layout)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skeletonzoo.data import STREAMS, bone, motion, to_stream
from skeletonzoo.skeleton import LAYOUTS

# The spec's NTU (joint, parent) pairs, 1-based, typed from shared/specs/data-pipeline.md.
_SPEC_NTU_PAIRS = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
    (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (21, 21),
    (22, 23), (23, 8), (24, 25), (25, 12),
]  # fmt: skip


def test_motion_hand_computed():
    p = torch.tensor([0.0, 1.0, 4.0, 9.0]).view(1, 1, 4, 1, 1)
    assert motion(p).flatten().tolist() == [1.0, 3.0, 5.0, 0.0]


def test_ntu_bone_matches_the_spec_pairs():
    x = torch.randn(2, 3, 5, 25, 2, generator=torch.Generator().manual_seed(0))
    out = bone(x, "ntu25")
    for v, u in _SPEC_NTU_PAIRS:
        torch.testing.assert_close(out[..., v - 1, :], x[..., v - 1, :] - x[..., u - 1, :], rtol=0, atol=0)
    assert torch.equal(out[..., 20, :], torch.zeros(2, 3, 5, 2))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_bone_of_every_layout(layout):
    lay = LAYOUTS[layout]
    x = torch.randn(1, 3, 4, lay.num_joints, 1, generator=torch.Generator().manual_seed(1))
    out = to_stream(x, "bone", layout)
    for v, u in enumerate(lay.parents):
        torch.testing.assert_close(out[..., v, :], x[..., v, :] - x[..., u, :], rtol=0, atol=0)
    roots = [v for v, u in enumerate(lay.parents) if u == v]
    assert roots and all(torch.equal(out[..., r, :], torch.zeros_like(out[..., r, :])) for r in roots)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(-3, 3))
def test_motion_and_bone_ignore_a_global_translation(seed, shift):
    x = torch.randn(2, 3, 6, 25, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    for stream in ("motion", "bone"):
        torch.testing.assert_close(to_stream(x + shift, stream), to_stream(x, stream))


def test_joint_is_identity_and_unknown_streams_fail():
    x = torch.randn(1, 3, 2, 25, 1)
    assert to_stream(x, "joint") is x
    assert set(STREAMS) == {"joint", "motion", "bone"}
    with pytest.raises(ValueError, match="unknown stream"):
        to_stream(x, "velocity")
    with pytest.raises(ValueError, match="V=20"):
        bone(x, "nwucla20")
