"""Data: readers, the original preprocessing, streams, layout adapters and datasets.

Readers: :mod:`.ntu` (NTU RGB+D ``.skeleton``), :mod:`.pkummd`, :mod:`.nwucla`,
:mod:`.original` (the original pipeline's ``*_position.npy`` / ``*_data.npy`` + ``*_label.pkl``),
:func:`.datasets.load_positions` (plain ``(N, C, T, V, M)`` arrays). Splits and official counts:
:mod:`.splits`. Preparing raw datasets: :mod:`.prepare` (``skeletonzoo prepare``). Synthetic raw
files for tests and benchmarks: :mod:`.synthetic`. The formats are described in docs/data.md.
"""

from .adapters import adapt_layout, adapter_matrix
from .datasets import ArrayDataset, ClipBatch, ClipDataset, collate_clips, load_positions
from .ntu import read_ntu_skeleton
from .original import open_original, read_label_pkl
from .pkummd import read_pku_labels, read_pku_skeleton, read_pku_split
from .prepared import (
    PreparedData,
    PreparedDataset,
    PreparedMeta,
    PreparedSplit,
    open_prepared,
    read_prepared_meta,
    write_prepared,
)
from .prepared_writer import PreparedWriter
from .preprocess import Preprocess, align_shoulders, center_joints, clip_lengths, resize_time, valid_lengths
from .splits import NTUSample, missing_skeletons, ntu_official_counts, ntu_split, parse_ntu_name
from .streams import STREAMS, bone, motion, to_stream

__all__ = [
    "PreparedSplit",
    "PreparedData",
    "PreparedDataset",
    "PreparedMeta",
    "PreparedWriter",
    "write_prepared",
    "open_prepared",
    "read_prepared_meta",
    "Preprocess",
    "valid_lengths",
    "clip_lengths",
    "center_joints",
    "resize_time",
    "align_shoulders",
    "STREAMS",
    "to_stream",
    "motion",
    "bone",
    "adapt_layout",
    "adapter_matrix",
    "ArrayDataset",
    "ClipDataset",
    "ClipBatch",
    "collate_clips",
    "load_positions",
    "read_ntu_skeleton",
    "read_pku_skeleton",
    "read_pku_labels",
    "read_pku_split",
    "read_label_pkl",
    "open_original",
    "NTUSample",
    "parse_ntu_name",
    "ntu_split",
    "missing_skeletons",
    "ntu_official_counts",
]
