"""Data: readers, the original preprocessing, streams, layout adapters and datasets."""

from .prepared import (
    PreparedData,
    PreparedDataset,
    PreparedMeta,
    PreparedSplit,
    open_prepared,
    read_prepared_meta,
    write_prepared,
)
from .preprocess import Preprocess, align_shoulders, center_joints, resize_time, valid_lengths
from .streams import STREAMS, bone, motion, to_stream

__all__ = [
    "PreparedSplit",
    "PreparedData",
    "PreparedDataset",
    "PreparedMeta",
    "write_prepared",
    "open_prepared",
    "read_prepared_meta",
    "Preprocess",
    "valid_lengths",
    "center_joints",
    "resize_time",
    "align_shoulders",
    "STREAMS",
    "to_stream",
    "motion",
    "bone",
]
