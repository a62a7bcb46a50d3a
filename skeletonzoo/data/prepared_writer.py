"""The resumable writer of prepared datasets (``skeletonzoo prepare``'s long preparations).

:class:`PreparedWriter` pre-allocates each split's positions as ``.S_position.npy.partial``,
records which rows were written in ``.S_written.npy.partial`` and its progress in
``.prepare-journal.json`` after every chunk, and refuses to finish while any row is unwritten;
finishing writes the same files as :func:`~skeletonzoo.data.prepared.write_prepared`
(``meta.json`` last). The on-disk format itself is :mod:`skeletonzoo.data.prepared`'s.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from .._files import atomic_write_text
from ..exceptions import PrepareError
from .prepared import (
    PreparedMeta,
    finish_split,
    read_prepared_meta,
    refuse_unknown_files,
    split_files,
    verify_prepared,
    write_meta,
)

__all__ = ["JOURNAL", "PreparedWriter", "unfinished_run", "continue_as"]

JOURNAL = ".prepare-journal.json"
JOURNAL_FORMAT = "skeletonzoo.prepare-journal/1"


class _Journal(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = JOURNAL_FORMAT
    run_id: str
    sample_shape: tuple[int, ...]
    splits: dict[str, int]
    progress: int = 0
    finishing: bool = False


def _read_journal(root: Path) -> _Journal | None:
    """The journal of the unfinished preparation in ``root``; ``None`` when there is none (or it is
    not a journal this code wrote)."""
    path = root / JOURNAL
    if not path.is_file():
        return None
    try:
        return _Journal.model_validate(json.loads(path.read_text()))
    except (ValidationError, json.JSONDecodeError):
        return None


def _write_journal(root: Path, journal: _Journal) -> None:
    atomic_write_text(root / JOURNAL, journal.model_dump_json() + "\n")


def unfinished_run(root: str | Path) -> tuple[str, int] | None:
    """``(run_id, progress)`` of the unfinished preparation in ``root``; ``None`` when there is none."""
    journal = _read_journal(Path(root))
    return None if journal is None else (journal.run_id, journal.progress)


def continue_as(root: str | Path, run_id: str) -> None:
    """Relabel the unfinished preparation in ``root`` as run ``run_id``, so that a
    :class:`PreparedWriter` with that id continues it. Only for a caller that has checked the
    work done so far is the same under both ids (what :func:`skeletonzoo.data.prepare.run_plan`
    does when raw files not reached yet changed).

    Raises:
        PrepareError: ``root`` holds no unfinished preparation.
    """
    journal = _read_journal(Path(root))
    if journal is None:
        raise PrepareError(f"{root} holds no unfinished preparation to continue")
    _write_journal(Path(root), journal.model_copy(update={"run_id": run_id}))


class PreparedWriter:
    """Resumable writer of one prepared directory, filled in chunks.

    Typical use (what ``skeletonzoo prepare`` does)::

        writer = PreparedWriter(root, {"train": (names, labels), ...}, (3, 50, 25, 2), run_id=plan_hash)
        if not writer.complete:
            for chunk in work[writer.progress:]:          # resume where the last run stopped
                writer.write("train", rows, positions)    # any rows, any order
                writer.commit(progress=...)               # flush, then record progress
            writer.finish(dataset=..., benchmark=..., layout=..., num_classes=...)

    ``run_id`` identifies the input and options (e.g. a hash of the sample list and the
    preprocessing): an unfinished directory is only continued, and a finished one only
    accepted as already done, by a run with the same id. Anything else raises
    :class:`~skeletonzoo.exceptions.PrepareError` unless ``overwrite``.

    Attributes:
        complete: ``root`` already holds this run's finished output (nothing to do).
        progress: The caller's progress value of the last :meth:`commit` (0 when new).
    """

    def __init__(
        self,
        root: str | Path,
        splits: dict[str, tuple[list[str], np.ndarray]],
        sample_shape: tuple[int, ...],
        *,
        run_id: str,
        overwrite: bool = False,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.sample_shape = tuple(sample_shape)
        self.names = {s: list(n) for s, (n, _) in splits.items()}
        self.labels = {s: np.asarray(y, dtype=np.int64) for s, (_, y) in splits.items()}
        for split, names in self.names.items():
            if len(names) != len(self.labels[split]):
                raise ValueError(f"split {split!r}: {len(names)} names but {len(self.labels[split])} labels")
            if any("\n" in name for name in names):
                raise ValueError(f"split {split!r}: sample names must not contain newlines")
        self.complete = False
        self.progress = 0
        self._positions: dict[str, np.memmap] = {}
        self._written: dict[str, np.memmap] = {}
        self._finishing = False
        meta_path = self.root / "meta.json"
        if meta_path.is_file():
            meta = read_prepared_meta(self.root)
            if meta.source.get("run_id") == run_id and not overwrite:
                verify_prepared(self.root)  # finished before: only if its files are still whole
                self.complete = True
                return
            if not overwrite:
                raise PrepareError(
                    f"{self.root} already holds a prepared dataset ({meta.dataset} {meta.benchmark}) made from "
                    "other input or options; pass --overwrite (overwrite=True) to replace it, or choose another --out"
                )
            meta_path.unlink()
        journal = _read_journal(self.root)
        if journal is not None and journal.run_id == run_id and not overwrite and self._reopen(journal):
            self.progress = journal.progress
            self._finishing = journal.finishing
            return
        if journal is not None and journal.run_id != run_id and not overwrite:
            raise PrepareError(
                f"{self.root} holds an unfinished preparation of other input or options (a raw file fixed or "
                "re-extracted since counts as other input when the stopped run had already written it: its size "
                "changed); pass --overwrite (overwrite=True) to discard it and start again, or choose another --out"
            )
        if journal is None:
            refuse_unknown_files(self.root, self.names, overwrite)
        self._create()

    # -- state files ------------------------------------------------------------------
    def _partial(self, split: str) -> Path:
        return self.root / f".{split}_position.npy.partial"

    def _bitmap(self, split: str) -> Path:
        return self.root / f".{split}_written.npy.partial"

    def _write_journal(self) -> None:
        _write_journal(self.root, _Journal(run_id=self.run_id, sample_shape=self.sample_shape,
                                           splits={s: len(n) for s, n in self.names.items()},
                                           progress=self.progress, finishing=self._finishing))  # fmt: skip

    def _reopen(self, journal: _Journal) -> bool:
        """Re-open the partial files of a matching journal; ``False`` if they do not fit."""
        if journal.sample_shape != self.sample_shape or journal.splits != {s: len(n) for s, n in self.names.items()}:
            return False
        try:
            for split, names in self.names.items():
                path = self._partial(split)
                if not path.is_file() and journal.finishing:
                    path = self.root / split_files(split)["position"]  # renamed by the interrupted finish
                positions = np.load(path, mmap_mode="r+", allow_pickle=False)
                written = np.load(self._bitmap(split), mmap_mode="r+", allow_pickle=False)
                if positions.shape != (len(names), *self.sample_shape) or written.shape != (len(names),):
                    return False
                self._positions[split], self._written[split] = positions, written
        except (OSError, ValueError):
            self._positions, self._written = {}, {}
            return False
        return True

    def _create(self) -> None:
        for path in [self.root / JOURNAL, *self.root.glob(".*.partial")]:
            path.unlink(missing_ok=True)
        for split, names in self.names.items():
            n = len(names)
            self._positions[split] = np.lib.format.open_memmap(
                self._partial(split), mode="w+", dtype=np.float32, shape=(n, *self.sample_shape)
            )
            self._written[split] = np.lib.format.open_memmap(self._bitmap(split), mode="w+", dtype=np.bool_, shape=(n,))
        self.progress = 0
        self._write_journal()

    # -- writing ----------------------------------------------------------------------
    def write(self, split: str, rows: np.ndarray | list[int], positions: np.ndarray) -> None:
        """Store ``positions`` ``(len(rows), *sample_shape)`` at ``rows`` of ``split``."""
        if split not in self._positions:
            raise KeyError(f"no split {split!r}; splits: {sorted(self._positions)}")
        rows = np.asarray(rows, dtype=np.int64)
        self._positions[split][rows] = positions
        self._written[split][rows] = True

    def commit(self, progress: int) -> None:
        """Flush everything written so far to disk, then record ``progress`` in the journal."""
        for split in self._positions:
            self._positions[split].flush()
            self._written[split].flush()
        self.progress = int(progress)
        self._write_journal()

    def missing_rows(self, split: str) -> int:
        """Rows of ``split`` not written yet."""
        return int((~np.asarray(self._written[split])).sum())

    def finish(
        self,
        *,
        dataset: str,
        benchmark: str,
        layout: str,
        num_classes: int,
        class_names: list[str] | tuple[str, ...] = (),
        preprocessing: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
    ) -> PreparedMeta:
        """Check every row was written, move the files into place and write ``meta.json`` last.

        Raises:
            PrepareError: some row was never written (the output would be short).
        """
        if self.complete:
            return read_prepared_meta(self.root)
        for split in self._positions:
            missing = self.missing_rows(split)
            if missing:
                raise PrepareError(
                    f"{self.root}: {missing} of {len(self.names[split])} samples of split {split!r} were never "
                    "written; run the preparation again to complete it"
                )
        self._finishing = True
        self.commit(self.progress)
        infos = {}
        for split, names in self.names.items():
            self._positions[split].flush()
            del self._positions[split]
            if self._partial(split).is_file():
                os.replace(self._partial(split), self.root / split_files(split)["position"])
            infos[split] = finish_split(self.root, split, self.labels[split], names)
        meta = write_meta(
            self.root, self.names, {**(source or {}), "run_id": self.run_id}, dataset=dataset, benchmark=benchmark,
            layout=layout, num_classes=num_classes, class_names=list(class_names), preprocessing=preprocessing,
            splits=infos,
        )  # fmt: skip
        for split in list(self._written):
            del self._written[split]
            self._bitmap(split).unlink(missing_ok=True)
        (self.root / JOURNAL).unlink(missing_ok=True)
        self.complete = True
        return meta
