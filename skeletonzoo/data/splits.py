"""NTU RGB+D sample names, benchmark splits, missing-skeleton lists and official counts.

An NTU sample is named ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer, replication, action;
1-based, ``label = action - 1``). The benchmarks (``shared/specs/data-pipeline.md``):

* NTU-60 ``xsub``: training performers 1, 2, 4, 5, 8, 9, 13-19, 25, 27, 28, 31, 34, 35, 38;
* NTU-60 ``xview``: training cameras 2 and 3;
* NTU-120 ``xsub``: the NTU-60 list plus 33 more performers (:data:`NTU120_XSUB_TRAIN`);
* NTU-120 ``xset``: training setups 2, 4, ..., 32 (the even ones).

Everything else is the test split (``"val"`` in the original code, ``"test"`` here). NTU-60 is
setups 1-17 (actions 1-60); NTU-120 adds setups 18-32 (actions 61-120).

Samples on the official "samples with missing skeletons" lists (302 in NTU-60, 535 in NTU-120,
which includes the 302) are skipped; the lists ship in ``data/resources``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import PurePath

from ..exceptions import DataFormatError

__all__ = [
    "NTUSample",
    "parse_ntu_name",
    "NTU_DATASETS",
    "NTU_BENCHMARKS",
    "NTU60_XSUB_TRAIN",
    "NTU120_XSUB_TRAIN",
    "ntu_split",
    "ntu_in_dataset",
    "missing_skeletons",
    "ntu_class_names",
    "OfficialCounts",
    "ntu_official_counts",
]

NTU_DATASETS = ("ntu60", "ntu120")
NTU_BENCHMARKS: dict[str, tuple[str, ...]] = {"ntu60": ("xsub", "xview"), "ntu120": ("xsub", "xset")}
NTU60_XSUB_TRAIN = frozenset((1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38))
NTU120_XSUB_TRAIN = NTU60_XSUB_TRAIN | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92,
     93, 94, 95, 97, 98, 100, 103)
)  # fmt: skip
NTU60_XVIEW_TRAIN_CAMERAS = frozenset((2, 3))
NTU60_MAX_SETUP = 17

_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


@dataclass(frozen=True)
class NTUSample:
    """The ids encoded in an NTU sample name (all 1-based)."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    @property
    def label(self) -> int:
        """Class id ``action - 1``."""
        return self.action - 1

    @property
    def name(self) -> str:
        return (
            f"S{self.setup:03d}C{self.camera:03d}P{self.performer:03d}"
            f"R{self.replication:03d}A{self.action:03d}"
        )


def parse_ntu_name(name: str) -> NTUSample:
    """Parse ``SsssCcccPpppRrrrAaaa`` (a path or a ``.skeleton`` suffix is fine).

    Raises:
        DataFormatError: the file stem of ``name`` is not exactly an NTU sample name.
    """
    m = _NAME.fullmatch(PurePath(name).stem)
    if m is None:
        raise DataFormatError(f"{name!r} is not an NTU sample name (SsssCcccPpppRrrrAaaa, e.g. S001C002P003R002A013)")
    setup, camera, performer, replication, action = (int(g) for g in m.groups())
    return NTUSample(setup, camera, performer, replication, action)


def ntu_in_dataset(sample: NTUSample, dataset: str) -> bool:
    """Whether a sample belongs to ``"ntu60"`` (setups 1-17) or ``"ntu120"`` (all)."""
    if dataset == "ntu60":
        return sample.setup <= NTU60_MAX_SETUP
    if dataset == "ntu120":
        return True
    raise ValueError(f"unknown NTU dataset {dataset!r}; use one of {NTU_DATASETS}")


def ntu_split(sample: NTUSample, dataset: str, benchmark: str) -> str:
    """``"train"`` or ``"test"`` of ``sample`` in ``dataset``'s ``benchmark``."""
    if benchmark not in NTU_BENCHMARKS.get(dataset, ()):
        raise ValueError(f"{dataset!r} has benchmarks {NTU_BENCHMARKS.get(dataset)}, not {benchmark!r}")
    if benchmark == "xsub":
        train = NTU60_XSUB_TRAIN if dataset == "ntu60" else NTU120_XSUB_TRAIN
        is_train = sample.performer in train
    elif benchmark == "xview":
        is_train = sample.camera in NTU60_XVIEW_TRAIN_CAMERAS
    else:  # xset
        is_train = sample.setup % 2 == 0
    return "train" if is_train else "test"


_MISSING_FILES = {
    "ntu60": "NTU_RGBD60_samples_with_missing_skeletons.txt",
    "ntu120": "NTU_RGBD120_samples_with_missing_skeletons.txt",
}


@cache
def missing_skeletons(dataset: str) -> frozenset[str]:
    """The official list of ``dataset``'s samples with missing skeletons (names, no suffix)."""
    if dataset not in _MISSING_FILES:
        raise ValueError(f"unknown NTU dataset {dataset!r}; use one of {NTU_DATASETS}")
    text = resources.files(__package__).joinpath("resources").joinpath(_MISSING_FILES[dataset]).read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


@cache
def ntu_class_names(dataset: str = "ntu120") -> tuple[str, ...]:
    """Action names from the NTU RGB+D website, in label order (60 or 120)."""
    names = resources.files(__package__).joinpath("resources").joinpath("ntu120_classes.txt").read_text().splitlines()
    return tuple(names[: 60 if dataset == "ntu60" else 120])


@dataclass(frozen=True)
class OfficialCounts:
    """Sample counts a complete preparation must reproduce.

    Attributes:
        total: Samples after skipping the missing-skeleton list (``None``: no official number).
        splits: ``{split: count}`` when published per split (else empty).
        source: Where the numbers come from.
    """

    total: int | None
    splits: dict[str, int]
    source: str


# Files in the released archives, and the per-split counts the NTU RGB+D paper gives
# (Shahroudy et al., CVPR 2016, Sec. 4 "Benchmark Evaluations"; counted with the missing samples).
_NTU_FILES = {"ntu60": 56_880, "ntu120": 114_480}
_NTU60_PAPER_SPLITS = {"xsub": {"train": 40_320, "test": 16_560}, "xview": {"train": 37_920, "test": 18_960}}


def ntu_official_counts(dataset: str, benchmark: str) -> OfficialCounts:
    """The counts a complete ``dataset`` / ``benchmark`` preparation has.

    The total is the number of released files minus the missing-skeleton list (56,880 - 302 =
    56,578 for NTU-60; 114,480 - 535 = 113,945 for NTU-120). For NTU-60 the per-split numbers
    are the paper's minus the listed samples that fall in each split; the NTU-120 paper's
    per-split numbers are not reproduced here, so only the total (and that the splits
    partition it) is checked.
    """
    missing = missing_skeletons(dataset)
    total = _NTU_FILES[dataset] - len(missing)
    splits: dict[str, int] = {}
    source = f"{_NTU_FILES[dataset]:,} released files - {len(missing)} on the official missing-skeleton list"
    if dataset == "ntu60":
        removed = {"train": 0, "test": 0}
        for name in missing:
            removed[ntu_split(parse_ntu_name(name), dataset, benchmark)] += 1
        splits = {s: n - removed[s] for s, n in _NTU60_PAPER_SPLITS[benchmark].items()}
        source += "; splits: Shahroudy et al. (CVPR 2016) counts minus the listed samples in each split"
    return OfficialCounts(total=total, splits=splits, source=source)
