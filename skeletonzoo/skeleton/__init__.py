"""Skeleton layouts, joint groupings and ST-GCN graph partitions (pure data, no training)."""

from .graph import build_adjacency, hop_distance
from .groupings import (
    CROSSCALE_PARTS_10,
    GROUPINGS,
    MSMCLR_BODIES_5,
    MSMCLR_PARTS_10,
    JointGrouping,
)
from .layouts import (
    COARSE5,
    COARSE10,
    COCO17,
    LAYOUTS,
    NTU25,
    NWUCLA20,
    OPENPOSE18,
    Layout,
    get_layout,
)

__all__ = [
    "Layout",
    "get_layout",
    "LAYOUTS",
    "NTU25",
    "NWUCLA20",
    "COARSE10",
    "COARSE5",
    "OPENPOSE18",
    "COCO17",
    "JointGrouping",
    "GROUPINGS",
    "MSMCLR_PARTS_10",
    "MSMCLR_BODIES_5",
    "CROSSCALE_PARTS_10",
    "build_adjacency",
    "hop_distance",
]
