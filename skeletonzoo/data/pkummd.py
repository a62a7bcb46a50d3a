"""PKU-MMD (Phase I and II) skeletons, labels and splits.

PKU-MMD's long videos are cut into action clips with their label files, then prepared like
NTU RGB+D (``shared/specs/data-pipeline.md``). The released files:

* skeleton file ``{video}.txt`` (``Skeleton.7z`` / ``Skeleton_v2.7z``): one line per frame
  of 150 numbers, two persons x 25 Kinect v2 joints x (x, y, z); a missing second person is
  zeros;
* label file ``{video}.txt`` (``Label_PKUMMD.7z`` / ``Label_PKUMMD_v2.7z``): one line per
  action ``action_id, start_frame, end_frame, confidence`` (ids 1-based, label = id - 1);
* split files ``cross-subject.txt`` and ``cross-view.txt`` (Phase II: ``cross_subject_v2.txt``
  and ``cross_view_v2.txt``): a ``Training videos:`` line, the comma-separated training
  videos, a ``Validataion videos:`` line (sic) and the comma-separated test videos.

A clip is frames ``start..end`` of its video, 1-based and both included (``frames[start - 1:end]``,
as the original pipeline cuts them), truncated to 300 frames at stage 1 like every clip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..exceptions import DataFormatError

__all__ = [
    "PKU_BENCHMARKS",
    "PKU_NUM_CLASSES",
    "PKUAction",
    "read_pku_skeleton",
    "read_pku_labels",
    "read_pku_split",
    "PKUFiles",
    "find_pku_files",
]

PKU_BENCHMARKS = ("xsub", "xview")
PKU_NUM_CLASSES = 51  # both phases use the 51 action ids of Phase I
_VALUES_PER_FRAME = 150
_FIX_LABEL = "correct or delete that line, or extract the label archive again"


@dataclass(frozen=True)
class PKUAction:
    """One labelled action of a video: ``label`` 0-based, frames ``start..end`` as the label file
    numbers them (1-based, both included), its label-file line."""

    label: int
    start: int
    end: int
    confidence: int
    line: int = 0


def read_pku_skeleton(path: str | Path) -> np.ndarray:
    """Read a skeleton file: float32 ``(3, T, 25, 2)``.

    Raises:
        DataFormatError: a line does not hold 150 numbers (the message names it).
    """
    path = Path(path)
    text = path.read_text(encoding="ascii", errors="replace")
    lines = text.rstrip().splitlines()
    try:
        # one numpy conversion for the whole file; exact line checks only if it does not fit
        values = np.array(text.split(), dtype=np.float64)
        ok = values.size == len(lines) * _VALUES_PER_FRAME and bool(np.isfinite(values).all())
    except ValueError:
        ok = False
    if not ok:
        for k, line in enumerate(lines, start=1):
            fields = line.split()
            if len(fields) != _VALUES_PER_FRAME:
                cut = len(fields) < _VALUES_PER_FRAME and k == len(lines)  # a short last line: cut mid-line
                problem = f"expected {_VALUES_PER_FRAME} numbers (2 persons x 25 joints x xyz), found {len(fields)}"
                raise DataFormatError.damaged(path, k, problem, "truncated" if cut else "corrupt")
            try:
                row = np.array(fields, dtype=np.float64)
            except ValueError:
                raise DataFormatError.damaged(path, k, f"non-numeric value in {line.strip()[:60]!r}...") from None
            if not np.isfinite(row).all():
                raise DataFormatError.damaged(path, k, "non-finite coordinate")
        raise DataFormatError(f"{path}: malformed PKU-MMD skeleton file")  # pragma: no cover
    # (T, 150) -> (T, M=2, V=25, C=3) -> (C, T, V, M)
    return values.reshape(len(lines), 2, 25, 3).transpose(3, 0, 2, 1).astype(np.float32)


def read_pku_labels(path: str | Path, num_classes: int = PKU_NUM_CLASSES) -> list[PKUAction]:
    """Read a label file (``action_id, start, end, confidence`` per line)."""
    path = Path(path)
    actions = []
    for k, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f.strip() for f in re.split(r"[,\s]+", line.strip()) if f.strip()]
        try:  # integers, also written as "12.0"; "12.7" is no frame number or action id
            values = [float(f) for f in fields]
            numbers = [int(v) for v in values if v.is_integer()]
        except ValueError:
            values, numbers = [], []
        if len(numbers) != len(values) or len(numbers) not in (3, 4):
            what = "whole numbers" if len(values) in (3, 4) else "'action_id, start_frame, end_frame, confidence'"
            raise DataFormatError(f"{path}, line {k}: expected {what}, found {line.strip()!r}; {_FIX_LABEL}")
        action, start, end = numbers[:3]
        if not 1 <= action <= num_classes:
            raise DataFormatError(f"{path}, line {k}: action id {action} outside 1..{num_classes}; {_FIX_LABEL}")
        if not 1 <= start <= end:
            raise DataFormatError(
                f"{path}, line {k}: frame range {start}..{end} is empty or starts before frame 1 (PKU-MMD numbers "
                f"frames from 1 and an action ends at or after its start); {_FIX_LABEL}"
            )
        actions.append(PKUAction(action - 1, start, end, numbers[3] if len(numbers) == 4 else 0, k))
    return actions


def read_pku_split(path: str | Path) -> dict[str, list[str]]:
    """Read a split file: ``{"train": [videos], "test": [videos]}``."""
    path = Path(path)
    parts: dict[str, list[str]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        header = line.strip().lower()
        if header.startswith("training"):
            current = "train"
        elif header.startswith(("validataion", "validation", "testing", "test")):
            current = "test"
        elif line.strip():
            if current is None:
                raise DataFormatError(f"{path}: video list before a 'Training videos:' line")
            parts.setdefault(current, []).extend(v for v in re.split(r"[,\s]+", line.strip()) if v)
    if set(parts) != {"train", "test"}:
        raise DataFormatError(
            f"{path}: expected 'Training videos:' and 'Validataion videos:' sections, found {sorted(parts)}"
        )
    overlap = set(parts["train"]) & set(parts["test"])
    if overlap:
        raise DataFormatError(f"{path}: {len(overlap)} videos on both sides, e.g. {sorted(overlap)[:3]}")
    return parts


@dataclass(frozen=True)
class PKUFiles:
    """Where a PKU-MMD raw tree keeps its parts."""

    skeleton_dir: Path
    label_dir: Path
    split_files: dict[str, Path]  # benchmark -> split file


_SPLIT_NAMES = {
    1: {"xsub": ("cross-subject.txt", "cross_subject.txt"), "xview": ("cross-view.txt", "cross_view.txt")},
    2: {"xsub": ("cross_subject_v2.txt", "cross-subject_v2.txt"), "xview": ("cross_view_v2.txt", "cross-view_v2.txt")},
}


def find_pku_files(raw: list[Path], phase: int) -> PKUFiles:
    """Locate the skeleton folder, label folder and split files under the ``raw`` folders.

    The split files are found by name anywhere. The skeleton folder is the one whose name
    contains ``skeleton`` and the label folder the one whose name contains ``label``
    (case-insensitive; e.g. ``PKU_Skeleton_Renew`` and ``Train_Label_PKU_final`` of the
    release) among the folders holding ``{video}.txt`` files of videos the split files list:
    a folder with only split files in it (such as a ``--raw`` folder named
    ``PKUMMD_skeleton_data``) or macOS ``._{video}.txt`` twins does not count.
    """
    dirs = [p for root in raw for p in [root, *root.rglob("*")] if p.is_dir()]

    def pick(word: str, videos: set[str]) -> Path:
        found = sorted({d for d in dirs if word in d.name.lower() and videos & {f.stem for f in d.glob("*.txt")}})
        if len(found) != 1:
            what = ", ".join(map(str, found)) + "; pass the folder of just one copy as --raw"
            if not found:
                what = "none; extract the phase's archives there"
            raise DataFormatError(
                f"need exactly one folder named like '*{word}*' holding PKU-MMD phase {phase} {word} files "
                f"({{video}}.txt of the split files' videos) under {', '.join(map(str, raw))}; found {what}"
            )
        return found[0]

    splits = {}
    for benchmark, names in _SPLIT_NAMES[phase].items():
        hits = sorted({p for root in raw for n in names for p in root.rglob(n)})
        if len(hits) > 1:
            raise DataFormatError(f"several {benchmark} split files: {', '.join(map(str, hits))}")
        if hits:
            splits[benchmark] = hits[0]
    if not splits:
        raise DataFormatError(
            f"no PKU-MMD phase {phase} split file ({' or '.join(n for ns in _SPLIT_NAMES[phase].values() for n in ns)})"
            f" under {', '.join(map(str, raw))}"
        )
    videos = {v for path in splits.values() for part in read_pku_split(path).values() for v in part}
    return PKUFiles(pick("skeleton", videos), pick("label", videos), splits)
