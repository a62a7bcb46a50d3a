"""Layouts, groupings and ST-GCN adjacency partitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import parity_array_file

from skeletonzoo.skeleton import (
    CROSSCALE_PARTS_10,
    LAYOUTS,
    MSMCLR_BODIES_5,
    MSMCLR_PARTS_10,
    build_adjacency,
    get_layout,
    hop_distance,
)


@pytest.fixture(scope="module")
def graphs() -> dict[str, np.ndarray]:
    with np.load(parity_array_file("graphs.npz")) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize(
    "key, layout",
    [
        ("ntu_rgbd", "ntu25"),
        ("coarse_ntu_rgbd", "coarse10"),
        ("coarses_ntu_rgbd", "coarse5"),
        ("openpose", "openpose18"),
    ],
)
def test_spatial_graph_equals_reference_exactly(graphs, key, layout):
    assert np.array_equal(build_adjacency(layout, "spatial"), graphs[f"A_{key}_spatial"])
    assert np.array_equal(hop_distance(layout), graphs[f"hopdis_{key}_spatial"])


def test_ntu_spatial_partition_counts(graphs):
    # SPEC §3.1: with max_hop=1, A[1] holds 40 of the 48 edge entries, A[2] only 8.
    a = build_adjacency("ntu25")
    assert (a[1] > 0).sum() == 40 and (a[2] > 0).sum() == 8 and (a[0] > 0).sum() == 25


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_strategies_are_partitions_of_the_normalised_adjacency(layout):
    uniform = build_adjacency(layout, "uniform")[0]
    # every target column is normalised
    np.testing.assert_allclose(uniform.sum(0), 1.0)
    for strategy, k in (("distance", 2), ("spatial", 3)):
        parts = build_adjacency(layout, strategy)
        assert parts.shape[0] == k
        np.testing.assert_array_equal(parts.sum(0), uniform)
        # partitions never overlap
        assert ((parts > 0).sum(0) <= 1).all()
    dist = build_adjacency(layout, "distance")
    np.testing.assert_array_equal(dist[0], np.diag(np.diag(uniform)))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layout_is_a_tree_of_its_edges(layout):
    lay = get_layout(layout)
    roots = [v for v, p in enumerate(lay.parents) if p == v]
    assert len(roots) == 1
    # every non-root bone is a graph edge, and following parents reaches the root
    edges = {frozenset(e) for e in lay.edges}
    for v, p in enumerate(lay.parents):
        if v != p:
            assert frozenset((v, p)) in edges
        seen = set()
        while lay.parents[v] != v:
            assert v not in seen
            seen.add(v)
            v = lay.parents[v]
    assert len(lay.joint_names) == lay.num_joints == len(set(lay.joint_names))


def test_ntu_bone_parents_match_the_original_pipeline():
    # data-pipeline.md: (v, u) 1-based parent pairs, joint 21 its own parent.
    pairs = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
             (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
             (18, 17), (19, 18), (20, 19), (21, 21), (22, 23), (23, 8), (24, 25), (25, 12)]  # fmt: skip
    assert get_layout("ntu25").parents == tuple(u - 1 for _, u in pairs)


def test_nwucla_bones_match_its_readme():
    # README: 0-1, 1-2, 3-2, 4-2, 5-4, 6-5, 7-6, 8-2, 9-8, ... plus the root on 2
    lay = get_layout("nwucla20")
    assert lay.parents[:9] == (1, 2, 2, 2, 2, 4, 5, 6, 2)
    assert lay.parents[12] == 0 and lay.parents[16] == 0 and lay.center == 2
    assert lay.joint_names[2] == "ShoulderCenter"


def test_edge_cut_graph_deletes_one_direction():
    full = build_adjacency("ntu25")
    cut = build_adjacency("ntu25", removed=[(13, 12)])
    assert cut[:, 13, 12].sum() == 0 and cut[:, 12, 13].sum() > 0
    # column 12 lost one neighbour: its remaining entries are renormalised to 1/2
    assert cut[0, 12, 12] == pytest.approx(0.5) and full[0, 12, 12] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="self-loop"):
        build_adjacency("ntu25", removed=[(3, 3)])


def test_unknown_layout_and_strategy_errors():
    with pytest.raises(KeyError, match="known layouts"):
        get_layout("ntu26")
    with pytest.raises(ValueError, match="unknown graph strategy"):
        build_adjacency("ntu25", "radial")  # type: ignore[arg-type]
    assert get_layout("NTU-RGB+D").name == "ntu25"


def test_groupings_cover_every_joint_once():
    for grouping in (MSMCLR_PARTS_10, MSMCLR_BODIES_5, CROSSCALE_PARTS_10):
        members = sorted(j for g in grouping.groups for j in g)
        assert members == list(range(25)), grouping.name
    # the two 10-part groupings really differ (SPEC §10.10)
    assert MSMCLR_PARTS_10.groups != CROSSCALE_PARTS_10.groups


def test_grouping_apply_is_the_group_mean():
    x = torch.arange(2 * 25, dtype=torch.float64).view(2, 25)
    out = CROSSCALE_PARTS_10.apply(x, dim=1)
    assert out.shape == (2, 10)
    assert out[0, 3].item() == pytest.approx((6 + 7 + 21 + 22) / 4)
    p = CROSSCALE_PARTS_10.matrix(25, torch.float64)
    torch.testing.assert_close(x @ p, out)
    body = MSMCLR_BODIES_5.apply(x, dim=-1)
    assert body[1, 4].item() == pytest.approx(25 + (0 + 1 + 2 + 3 + 20) / 5)


# joints without a side (spine, head, neck, nose), which a mirror image leaves in place
_CENTRE_JOINTS = {
    "ntu25": {"SpineBase", "SpineMid", "Neck", "Head", "SpineShoulder"},
    "nwucla20": {"HipCenter", "Spine", "ShoulderCenter", "Head"},
    "coarse10": {"Spine", "NeckHead"},
    "coarse5": {"Trunk"},
    "openpose18": {"Nose", "Neck"},
    "coco17": {"nose"},
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_mirror_index_swaps_left_and_right(layout):
    lay = get_layout(layout)
    mirror = lay.mirror_index
    assert sorted(mirror) == list(range(lay.num_joints))
    assert all(mirror[mirror[v]] == v for v in range(lay.num_joints))  # an involution
    fixed = {name for v, name in enumerate(lay.joint_names) if mirror[v] == v}
    assert fixed == _CENTRE_JOINTS[layout]
    for v, name in enumerate(lay.joint_names):  # a sided joint goes to the other side's same joint
        if name not in fixed:
            other = lay.joint_names[mirror[v]]
            assert other.lower().replace("right", "left") == name.lower().replace("right", "left") or (
                {name[0], other[0]} == {"L", "R"} and name[1:] == other[1:]
            ), (name, other)
    # a mirror image of the skeleton is the same graph: every edge maps onto an edge
    edges = {frozenset(e) for e in lay.edges}
    assert {frozenset((mirror[i], mirror[j])) for i, j in lay.edges} == edges


def test_ntu_mirror_index_is_the_original_flip():
    from skeletonzoo.pretrain.augment import NTU_FLIP_INDEX

    assert get_layout("ntu25").mirror_index == NTU_FLIP_INDEX
    assert get_layout("openpose18").mirror_index[2] == get_layout("openpose18").index("LShoulder")
