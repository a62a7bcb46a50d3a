"""Skeleton layouts as data: joint names, graph edges, bone parents and the centre joint.

A :class:`Layout` is everything the rest of the library needs to know about a joint set:

* ``joint_names`` fix the joint axis ``V`` of every ``(N, C, T, V, M)`` tensor;
* ``edges`` are the undirected links of the ST-GCN graph, **in the orientation and order the
  original ``graph.py`` lists them** (the random edge cutting of SGCLR deletes exactly one
  direction of a listed pair, so orientation is part of the definition);
* ``parents`` give the bone stream: ``bone[v] = joint[v] - joint[parents[v]]`` (a root maps to
  itself, so its bone is zero);
* ``center`` is the joint the spatial partition measures distances to;
* :attr:`Layout.mirror_index` (derived from the names' left/right markers) maps each joint to
  its mirror-image joint, for the spatial-flip augmentation.

The layouts the papers use: NTU RGB+D (Kinect v2, 25 joints), NW-UCLA (Kinect v1, 20 joints),
the coarse 10-node and 5-node graphs of CrosScale-SGCLR, OpenPose-18 (the ST-GCN Kinetics
graph) and COCO-17 (for the 2D-keypoint adapter).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "Layout",
    "NTU25",
    "NWUCLA20",
    "COARSE10",
    "COARSE5",
    "OPENPOSE18",
    "COCO17",
    "LAYOUTS",
    "get_layout",
]


@dataclass(frozen=True)
class Layout:
    """A skeleton's joint set and graph.

    Attributes:
        name: Registry name (``"ntu25"``, ``"nwucla20"``, ...).
        joint_names: One name per joint, in tensor order.
        edges: Undirected graph links ``(i, j)`` (0-based) in the original code's orientation.
        parents: ``parents[v]`` is the joint whose position is subtracted to form bone ``v``.
        center: Centre joint of the ST-GCN spatial partition (and of centring, for body layouts).
        description: One line on where the layout comes from.
    """

    name: str
    joint_names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    parents: tuple[int, ...]
    center: int
    description: str = ""
    aliases: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        v = len(self.joint_names)
        if len(self.parents) != v:
            raise ValueError(f"layout {self.name!r}: {len(self.parents)} parents for {v} joints")
        for i, j in self.edges:
            if not (0 <= i < v and 0 <= j < v) or i == j:
                raise ValueError(f"layout {self.name!r}: bad edge ({i}, {j}) for {v} joints")
        if not 0 <= self.center < v:
            raise ValueError(f"layout {self.name!r}: centre {self.center} out of range")

    @property
    def num_joints(self) -> int:
        """Number of joints ``V``."""
        return len(self.joint_names)

    @property
    def mirror_index(self) -> tuple[int, ...]:
        """``mirror_index[v]``: the joint that takes joint ``v``'s place in a mirror image.

        Derived from the joint names: ``Left``/``Right``, ``left``/``right`` and OpenPose's
        ``L``/``R`` prefix (``LShoulder``) swap; a joint without a side (spine, head, nose)
        maps to itself. For ``ntu25`` this is exactly the original ``random_spatial_flip``
        re-indexing (``pretrain.augment.NTU_FLIP_INDEX``).

        Raises:
            ValueError: if a sided joint has no counterpart in the layout.
        """
        names = {name: i for i, name in enumerate(self.joint_names)}
        index = []
        for name in self.joint_names:
            mirrored = _mirror_name(name)
            if mirrored not in names:
                raise ValueError(f"layout {self.name!r}: joint {name!r} has no mirror joint {mirrored!r}")
            index.append(names[mirrored])
        return tuple(index)

    def index(self, joint_name: str) -> int:
        """Index of a joint by name (raises ``KeyError`` listing the names)."""
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise KeyError(
                f"layout {self.name!r} has no joint {joint_name!r}; joints: {list(self.joint_names)}"
            ) from None

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, V={self.num_joints})"


_SIDE = {"Left": "Right", "Right": "Left", "left": "right", "right": "left"}
# Left/Right anywhere (NTU "HandTipLeft", COCO "left_eye"), or an L/R prefix before a capital
# (OpenPose "LShoulder", "REye")
_SIDE_PATTERN = re.compile(r"Left|Right|left|right|^[LR](?=[A-Z])")


def _mirror_name(name: str) -> str:
    """``"ElbowLeft" -> "ElbowRight"``, ``"left_eye" -> "right_eye"``, ``"LEye" -> "REye"``."""
    return _SIDE_PATTERN.sub(lambda m: _SIDE.get(m.group(), "R" if m.group() == "L" else "L"), name)


def _one_based(pairs: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    return tuple((i - 1, j - 1) for i, j in pairs)


# --- NTU RGB+D, Kinect v2 ---------------------------------------------------------------
# Pairs (joint, parent), 1-based, exactly as ST-GCN's ``graph.py`` ('ntu-rgb+d') lists them.
def _parents(child_parent: Iterable[tuple[int, int]], num_joints: int, root: int) -> list[int]:
    """Parent of every joint from 0-based ``(child, parent)`` pairs; the root is its own parent."""
    parents = [root] * num_joints
    for child, parent in child_parent:
        parents[child] = parent
    parents[root] = root
    return parents


# The bone stream of the original feeders uses the same list plus the root pair (21, 21).
_NTU_PAIRS = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
]  # fmt: skip
_NTU_PARENTS = _parents(((v - 1, u - 1) for v, u in _NTU_PAIRS), 25, root=20)

NTU25 = Layout(
    name="ntu25",
    joint_names=(
        "SpineBase", "SpineMid", "Neck", "Head",
        "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
        "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
        "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
        "HipRight", "KneeRight", "AnkleRight", "FootRight",
        "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
    ),  # fmt: skip
    edges=_one_based(_NTU_PAIRS),
    parents=tuple(_NTU_PARENTS),
    center=20,
    description="NTU RGB+D 60/120 and PKU-MMD (Kinect v2, 25 joints); ST-GCN 'ntu-rgb+d' graph",
    aliases=("ntu-rgb+d", "ntu", "kinect_v2"),
)

# --- NW-UCLA, Kinect v1 -----------------------------------------------------------------
# (joint, parent) pairs, 1-based, from CTR-GCN's ``graph/ucla.py`` (inward links).
# The tree is rooted at ShoulderCenter (index 2), which is also the bone stream's root.
_UCLA_PAIRS = [
    (1, 2), (2, 3), (4, 3), (5, 3), (6, 5), (7, 6), (8, 7), (9, 3), (10, 9), (11, 10),
    (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
]  # fmt: skip
_UCLA_PARENTS = _parents(((v - 1, u - 1) for v, u in _UCLA_PAIRS), 20, root=2)

NWUCLA20 = Layout(
    name="nwucla20",
    joint_names=(
        "HipCenter", "Spine", "ShoulderCenter", "Head",
        "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
        "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
        "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
        "HipRight", "KneeRight", "AnkleRight", "FootRight",
    ),  # fmt: skip
    edges=_one_based(_UCLA_PAIRS),
    parents=tuple(_UCLA_PARENTS),
    # ShoulderCenter plays the role of NTU's SpineShoulder (centre of the spatial partition
    # and of the centring step of the preprocessing).
    center=2,
    description="Northwestern-UCLA Multiview Action 3D (Kinect v1 / SDK 1.x order, 20 joints)",
    aliases=("ucla", "nw-ucla", "kinect_v1"),
)

# --- CrosScale-SGCLR's coarse graphs ----------------------------------------------------
# 10 body parts; node i is the mean of the NTU joints in CROSSCALE_PARTS_10[i]
# (see skeleton.groupings). Edges as CrosScale's graph.py ('coarse') lists them.
_COARSE10_EDGES = ((0, 1), (1, 2), (2, 3), (1, 4), (4, 5), (0, 6), (6, 7), (0, 8), (8, 9))
COARSE10 = Layout(
    name="coarse10",
    joint_names=(
        "Spine", "NeckHead", "UpperArmLeft", "HandLeft", "UpperArmRight", "HandRight",
        "ThighLeft", "FootLeft", "ThighRight", "FootRight",
    ),
    edges=_COARSE10_EDGES,
    parents=(0, 0, 1, 2, 1, 4, 0, 6, 0, 8),
    center=0,
    description="CrosScale-SGCLR 10-part graph (25 NTU joints reduced by CROSSCALE_PARTS_10)",
)

COARSE5 = Layout(
    name="coarse5",
    joint_names=("Trunk", "ArmLeft", "ArmRight", "LegLeft", "LegRight"),
    edges=((0, 1), (0, 2), (0, 3), (0, 4)),
    parents=(0, 0, 0, 0, 0),
    center=0,
    description="CrosScale-SGCLR 5-part star graph ('coarses'), centre node 0",
)

# --- OpenPose 18 (ST-GCN 'openpose' graph, Kinetics-skeleton) ------------------------------
_OPENPOSE_EDGES = (
    (4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2),
    (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14),
)  # fmt: skip
_OPENPOSE_PARENTS = _parents(_OPENPOSE_EDGES, 18, root=1)
OPENPOSE18 = Layout(
    name="openpose18",
    joint_names=(
        "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
        "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    ),
    edges=_OPENPOSE_EDGES,
    parents=tuple(_OPENPOSE_PARENTS),
    center=1,
    description="OpenPose BODY-18 keypoints (ST-GCN 'openpose' graph, Kinetics-skeleton)",
    aliases=("openpose", "kinetics"),
)

# --- COCO 17 (2D keypoints; used by the layout adapter, not by any zoo model) -------------
# COCO has no neck: shoulders hang from the nose and hips from the shoulders, so the tree
# follows the usual COCO drawing links.
_COCO_EDGES = (
    (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7), (10, 8),
    (11, 5), (12, 6), (13, 11), (14, 12), (15, 13), (16, 14),
)  # fmt: skip
_COCO_PARENTS = _parents(_COCO_EDGES, 17, root=0)
COCO17 = Layout(
    name="coco17",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear",
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),  # fmt: skip
    edges=_COCO_EDGES,
    parents=tuple(_COCO_PARENTS),
    center=0,
    description="COCO-17 2D keypoints (drawing links as a tree rooted at the nose)",
    aliases=("coco",),
)

LAYOUTS: dict[str, Layout] = {
    lay.name: lay for lay in (NTU25, NWUCLA20, COARSE10, COARSE5, OPENPOSE18, COCO17)
}
_ALIASES = {alias: lay for lay in LAYOUTS.values() for alias in lay.aliases}


def get_layout(layout: str | Layout) -> Layout:
    """Return the :class:`Layout` for a name (or alias), or the layout itself.

    Raises:
        KeyError: for an unknown name, listing the known ones.
    """
    if isinstance(layout, Layout):
        return layout
    key = layout.lower()
    if key in LAYOUTS:
        return LAYOUTS[key]
    if key in _ALIASES:
        return _ALIASES[key]
    raise KeyError(f"unknown layout {layout!r}; known layouts: {sorted(LAYOUTS)}")
