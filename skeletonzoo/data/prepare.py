"""``skeletonzoo prepare``: raw dataset files to prepared directories, resumably.

The pipeline is the original's (``shared/specs/data-pipeline.md``): stage 1 reads each clip
(x, y, z of the first two bodies, zero-padded; at most 300 frames), stage 2 is
:class:`~skeletonzoo.data.preprocess.Preprocess` (centre, resize to 50 frames, align), and
every split of every requested benchmark is written as a prepared directory
(:mod:`skeletonzoo.data.prepared`).

How it runs: a *plan* lists every sample (name, label, split per benchmark) and the *jobs*
that read them (one NTU file, or one PKU-MMD video and its clips). Jobs are parsed in worker
processes (``workers``; parsing dominates the cost), stage 2 runs in the main process on
batches of ``batch_size`` clips as torch operations, and each batch is written to every
benchmark's output with :class:`~skeletonzoo.data.prepared_writer.PreparedWriter`, which records
its progress after every batch. A run that is interrupted continues where it stopped when
started again with the same input and options; the output is only declared complete
(``meta.json``) once every row is written. Before any work the sample counts are checked
against the official ones (:func:`~skeletonzoo.data.splits.ntu_official_counts`): a raw
folder that is incomplete stops the run unless ``allow_incomplete``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._files import sha256_file
from ..exceptions import DataFormatError, EmptySampleWarning, PrepareError
from ..skeleton.layouts import get_layout
from .ntu import read_ntu_skeleton
from .nwucla import NWUCLA_CLASSES, NWUCLA_PREPROCESS, prepare_nwucla, read_nwucla_json_dir, read_nwucla_npz
from .original import OriginalPart, open_original
from .pkummd import PKU_BENCHMARKS, PKU_NUM_CLASSES, find_pku_files, read_pku_labels, read_pku_skeleton, read_pku_split
from .prepared import PreparedMeta, read_prepared_meta, refuse_unknown_files, verify_prepared, write_prepared
from .prepared_writer import JOURNAL, PreparedWriter, continue_as, unfinished_run
from .preprocess import Preprocess
from .splits import (
    NTU_BENCHMARKS,
    OfficialCounts,
    missing_skeletons,
    ntu_class_names,
    ntu_in_dataset,
    ntu_official_counts,
    ntu_split,
    parse_ntu_name,
)

__all__ = [
    "MAX_FRAMES",
    "DATASETS",
    "PKU_PHASES",
    "Job",
    "Plan",
    "plan_ntu",
    "plan_pkummd",
    "check_counts",
    "run_plan",
    "output_dirs",
    "prepare_ntu",
    "prepare_pkummd",
    "prepare_nwucla_dataset",
    "prepare_original",
]

MAX_FRAMES = 300  # stage 1 pads (and truncates) every clip to 300 frames
DATASETS = ("ntu60", "ntu120", "pkummd1", "pkummd2", "nwucla")
# PKU-MMD phase of each dataset name; "pkummd" is the earlier name of phase I (kept for old commands)
PKU_PHASES = {"pkummd1": 1, "pkummd": 1, "pkummd2": 2}


@dataclass(frozen=True)
class Job:
    """One unit of parsing work: a file and the clips cut from it.

    Attributes:
        reader: ``"ntu"`` (the whole file is one clip) or ``"pku"`` (clips ``ranges``).
        path: The skeleton file.
        ranges: PKU-MMD ``(start, end)`` frame ranges as the label files give them (1-based,
            both ends included), one per clip.
        label_path, lines: Where each range is defined (for error messages).
    """

    reader: str
    path: str
    ranges: tuple[tuple[int, int], ...] = ()
    label_path: str = ""
    lines: tuple[int, ...] = ()

    @property
    def num_samples(self) -> int:
        return len(self.ranges) if self.reader == "pku" else 1


def load_job(job: Job) -> list[np.ndarray]:
    """Stage 1 of a job: its clips as float32 ``(3, T <= 300, 25, 2)`` arrays."""
    if job.reader == "ntu":
        return [read_ntu_skeleton(job.path)[:, :MAX_FRAMES]]
    video = read_pku_skeleton(job.path)
    clips = []
    for (start, end), line in zip(job.ranges, job.lines):
        if start > video.shape[1]:
            raise DataFormatError(
                f"{job.label_path}, line {line}: action starts at frame {start} but its skeleton file {job.path} "
                f"has {video.shape[1]} frames; the label and skeleton files do not match — extract both archives "
                "of the same PKU-MMD phase again"
            )
        # PARITY: frames start..end, 1-based and both included, as the original pipeline cuts them
        # (AimCLR's tools/pku_part1_skeleton.py takes frames[start - 1:end]); an end past the video is cut
        clips.append(np.ascontiguousarray(video[:, start - 1 : end][:, :MAX_FRAMES]))
    return clips


@dataclass
class Plan:
    """Everything a preparation will do, known before any file is parsed.

    Attributes:
        dataset: ``"ntu60"``, ``"ntu120"``, ``"pkummd1"`` or ``"pkummd2"`` (the registry's names).
        jobs: Parsing work, in sample order.
        names, labels: One per sample, in job order.
        splits: ``{benchmark: split of each sample}`` (``None``: not in that benchmark).
        official: ``{benchmark: counts}`` to check against.
        preprocess: Stage 2.
        class_names, num_classes, layout: Recorded in ``meta.json``.
        source: Facts about the raw input (recorded in ``meta.json``).
        sizes: Byte size of each job's files (part of the run id).
    """

    dataset: str
    jobs: list[Job]
    names: list[str]
    labels: np.ndarray
    splits: dict[str, list[str | None]]
    official: dict[str, OfficialCounts]
    preprocess: Preprocess
    class_names: tuple[str, ...]
    num_classes: int
    layout: str = "ntu25"
    source: dict[str, Any] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)

    @property
    def benchmarks(self) -> list[str]:
        return list(self.splits)

    def counts(self, benchmark: str) -> dict[str, int]:
        """Samples per split of ``benchmark``."""
        out: dict[str, int] = {}
        for split in self.splits[benchmark]:
            if split is not None:
                out[split] = out.get(split, 0) + 1
        return dict(sorted(out.items(), reverse=True))  # train before test

    def run_id(self, benchmark: str) -> str:
        """Hash of the input and options of ``benchmark``'s output (what resuming must match)."""
        return self._identity(benchmark, with_sizes=True)

    def structure_id(self, benchmark: str) -> str:
        """:meth:`run_id` without the raw files' sizes: the same samples, labels, splits and options."""
        return self._identity(benchmark, with_sizes=False)

    def _identity(self, benchmark: str, *, with_sizes: bool) -> str:
        digest = hashlib.sha256()
        head = {"dataset": self.dataset, "benchmark": benchmark, "preprocess": self.preprocess.to_dict(),
                "max_frames": MAX_FRAMES, "format": 1}  # fmt: skip
        if any(j.reader == "pku" for j in self.jobs):
            # clips were cut [start, end) before: a half-done preparation of that kind is not resumed
            head["pku_frames"] = "1-based, both ends included"
        digest.update(json.dumps(head, sort_keys=True).encode())
        for name, label, split in zip(self.names, self.labels.tolist(), self.splits[benchmark]):
            digest.update(f"{name}\t{label}\t{split}\n".encode())
        # file names, not paths: the same raw files reached by another path are the same input
        digest.update(json.dumps([(Path(j.path).name, j.ranges) for j in self.jobs]).encode())
        if with_sizes:
            digest.update(json.dumps(self.sizes).encode())
        return digest.hexdigest()


def _paths(raw: str | Path | Sequence[str | Path]) -> list[Path]:
    roots = [Path(raw)] if isinstance(raw, (str, Path)) else [Path(r) for r in raw]
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"raw data folder {root} does not exist")
    return roots


def _is_macos_metadata(path: Path) -> bool:
    """Whether ``path`` is one of the files macOS adds to archives: an AppleDouble ``._name``
    twin (resource fork, binary) or anything under ``__MACOSX/``."""
    return path.name.startswith("._") or "__MACOSX" in path.parts


def plan_ntu(
    raw: str | Path | Sequence[str | Path],
    dataset: str,
    benchmarks: Sequence[str] | None = None,
    *,
    preprocess: Preprocess | None = None,
) -> Plan:
    """Plan an NTU RGB+D preparation from the ``.skeleton`` files under ``raw`` (searched
    recursively; NTU-120's two archives may be two folders; macOS ``._*`` and ``__MACOSX``
    files are ignored). Samples on the official missing-skeleton list are skipped; for ``ntu60``
    only setups 1-17 are used."""
    if dataset not in NTU_BENCHMARKS:
        raise ValueError(f"unknown NTU dataset {dataset!r}; use one of {sorted(NTU_BENCHMARKS)}")
    benchmarks = list(dict.fromkeys(benchmarks or NTU_BENCHMARKS[dataset]))
    for b in benchmarks:
        if b not in NTU_BENCHMARKS[dataset]:
            raise ValueError(f"{dataset} has benchmarks {NTU_BENCHMARKS[dataset]}, not {b!r}")
    roots = _paths(raw)
    missing = missing_skeletons(dataset)
    found: dict[str, Path] = {}
    skipped = other = 0
    for root in roots:
        for path in sorted(root.rglob("*.skeleton")):
            if _is_macos_metadata(path.relative_to(root)):
                continue
            try:
                sample = parse_ntu_name(path.name)
            except DataFormatError as exc:
                raise PrepareError(f"{path}: {exc}; remove or rename the file") from None
            if not ntu_in_dataset(sample, dataset):
                other += 1
                continue
            if sample.name in found:
                raise PrepareError(f"sample {sample.name} found twice: {found[sample.name]} and {path}; keep one "
                                   "(remove the other file, or give each --raw folder once)")  # fmt: skip
            if sample.name in missing:
                skipped += 1
                continue
            found[sample.name] = path
    if not found:
        raise PrepareError(f"no {dataset} .skeleton files under {', '.join(map(str, roots))}")
    names = sorted(found)
    samples = [parse_ntu_name(n) for n in names]
    jobs = [Job("ntu", str(found[n])) for n in names]
    return Plan(
        dataset=dataset,
        jobs=jobs,
        names=names,
        labels=np.array([s.label for s in samples], dtype=np.int64),
        splits={b: [ntu_split(s, dataset, b) for s in samples] for b in benchmarks},
        official={b: ntu_official_counts(dataset, b) for b in benchmarks},
        preprocess=preprocess or Preprocess(),
        class_names=ntu_class_names(dataset),
        num_classes=60 if dataset == "ntu60" else 120,
        source={
            "raw": [str(r) for r in roots],
            "skeleton_files": len(found) + skipped,
            "skipped_missing_skeletons": skipped,
            "ignored_other_dataset": other,
        },
        sizes=[found[n].stat().st_size for n in names],
    )


def plan_pkummd(
    raw: str | Path | Sequence[str | Path],
    phase: int = 1,
    benchmarks: Sequence[str] | None = None,
    *,
    preprocess: Preprocess | None = None,
    allow_incomplete: bool = False,
) -> Plan:
    """Plan a PKU-MMD preparation: every action of every video in the split files is a clip.

    A video of the split files without its skeleton or label file stops the plan, unless
    ``allow_incomplete``: then it is left out and counted in the plan's ``source``.
    """
    roots = _paths(raw)
    files = find_pku_files(roots, phase)
    benchmarks = list(dict.fromkeys(benchmarks or [b for b in PKU_BENCHMARKS if b in files.split_files]))
    parts = {}
    for b in benchmarks:
        if b not in files.split_files:
            raise PrepareError(f"PKU-MMD phase {phase}: no split file for {b!r} under {', '.join(map(str, roots))}")
        parts[b] = read_pku_split(files.split_files[b])
    videos = sorted({v for p in parts.values() for vs in p.values() for v in vs})
    absent = [v for v in videos if not (files.skeleton_dir / f"{v}.txt").is_file()
              or not (files.label_dir / f"{v}.txt").is_file()]  # fmt: skip
    if absent and not allow_incomplete:
        raise PrepareError(
            f"{len(absent)} of the {len(videos)} videos in the split files have no skeleton or label file in "
            f"{files.skeleton_dir} / {files.label_dir}, e.g. {absent[:3]}; extract the archives completely, or "
            "pass --allow-incomplete (allow_incomplete=True) to prepare the videos that are there"
        )
    listed = len(videos)
    left_out = set(absent)
    videos = [v for v in videos if v not in left_out]
    split_of = {b: {v: s for s, vs in p.items() for v in vs} for b, p in parts.items()}
    jobs, names, labels, sizes = [], [], [], []
    splits: dict[str, list[str | None]] = {b: [] for b in benchmarks}
    for video in videos:
        label_path = files.label_dir / f"{video}.txt"
        actions = read_pku_labels(label_path)
        skeleton = files.skeleton_dir / f"{video}.txt"
        jobs.append(Job("pku", str(skeleton), tuple((a.start, a.end) for a in actions), str(label_path),
                        tuple(a.line for a in actions)))  # fmt: skip
        sizes.append(skeleton.stat().st_size + label_path.stat().st_size)
        for k, action in enumerate(actions):
            names.append(f"{video}_{k}")
            labels.append(action.label)
            for b in benchmarks:
                splits[b].append(split_of[b].get(video))
    dataset = "pkummd1" if phase == 1 else "pkummd2"  # the registry's and the recipes' names
    source = f"PKU-MMD phase {phase}: every action of every video listed in the split files"
    return Plan(
        dataset=dataset,
        jobs=jobs,
        names=names,
        labels=np.array(labels, dtype=np.int64),
        splits=splits,
        official={b: OfficialCounts(None, {}, source) for b in benchmarks},
        preprocess=preprocess or Preprocess(),
        class_names=(),
        num_classes=PKU_NUM_CLASSES,
        source={
            "raw": [str(r) for r in roots],
            "phase": phase,
            "videos": len(videos),
            **({"skipped_missing_videos": f"{len(absent)} of {listed} (no skeleton or label file; "
                                          "--allow-incomplete)"} if absent else {}),  # fmt: skip
            "split_files": {b: str(files.split_files[b]) for b in benchmarks},
            # how a label line's frames are cut (data prepared before this key cut [start, end) 0-based)
            "clip_frames": "start..end of the label line, 1-based, both included",
        },
        sizes=sizes,
    )


def check_counts(plan: Plan, *, allow_incomplete: bool = False) -> dict[str, str]:
    """Compare the plan's sample counts with the official ones.

    Returns:
        ``{benchmark: one-line verdict}``.

    Raises:
        PrepareError: a count differs and ``allow_incomplete`` is false.
    """
    verdicts = {}
    for b in plan.benchmarks:
        counts = plan.counts(b)
        total = sum(counts.values())
        official = plan.official[b]
        found = f"{total:,} samples (" + ", ".join(f"{s} {n:,}" for s, n in counts.items()) + ")"
        wrong = []
        if official.total is not None and total != official.total:
            wrong.append(f"total {total:,} != official {official.total:,}")
        wrong += [f"{s} {counts.get(s, 0):,} != official {n:,}" for s, n in official.splits.items()
                  if counts.get(s, 0) != n]  # fmt: skip
        if not wrong:
            checked = "official total and splits" if official.splits else "official total"
            verdicts[b] = (f"{found}: matches the {checked} ({official.source})" if official.total is not None
                           else f"{found}; no official count to check ({official.source})")  # fmt: skip
        elif allow_incomplete:
            verdicts[b] = f"{found}: INCOMPLETE, " + "; ".join(wrong) + " (allowed by --allow-incomplete)"
        else:
            raise PrepareError(
                f"{plan.dataset} {b}: found {found} but " + "; ".join(wrong) + f" ({official.source}). The raw "
                "folder is incomplete: extract every archive of the dataset under --raw, or pass "
                "--allow-incomplete to prepare only what is there"
            )
    return verdicts


def _holds_preparation(folder: Path) -> bool:
    """A finished or unfinished prepared directory."""
    return (folder / "meta.json").is_file() or (folder / JOURNAL).is_file()


def output_dirs(out: str | Path, benchmarks: Sequence[str]) -> dict[str, Path]:
    """Where each benchmark goes: ``out`` itself for one benchmark, ``out/{benchmark}`` for several.

    Raises:
        PrepareError: ``out`` is laid out the other way by an earlier run (per-benchmark folders
            where one preparation would go, or one preparation where folders would go): the
            two would sit side by side, one of them stale.
    """
    out = Path(out)
    if len(benchmarks) == 1:
        # subfolders named as benchmarks (what several benchmarks write), not any dataset kept inside
        names = {b for bs in NTU_BENCHMARKS.values() for b in bs} | set(PKU_BENCHMARKS)
        nested = sorted(n for n in names if _holds_preparation(out / n))
        if nested:
            raise PrepareError(
                f"{out} holds per-benchmark preparations ({', '.join(f'{n}/' for n in nested)}); to prepare "
                f"{benchmarks[0]} alone give --out {out / benchmarks[0]}, or choose another folder"
            )
        return {benchmarks[0]: out}
    if _holds_preparation(out):
        raise PrepareError(
            f"{out} holds a single-benchmark preparation; several benchmarks go into subfolders of a folder of "
            "their own: choose another --out, or prepare each --benchmark into its own --out"
        )
    return {b: out / b for b in benchmarks}


def _stage1_batch(clips: list[np.ndarray]) -> torch.Tensor:
    """Zero-pad clips ``(3, T_i, 25, 2)`` into ``(N, 3, max T_i, 25, 2)``."""
    t = max(1, max(c.shape[1] for c in clips))
    out = np.zeros((len(clips), *clips[0].shape[:1], t, *clips[0].shape[2:]), dtype=np.float32)
    for i, clip in enumerate(clips):
        out[i, :, : clip.shape[1]] = clip
    return torch.from_numpy(out)


# Beside an unfinished preparation: the raw files' sizes when it started, so that a file fixed
# or re-extracted after it stopped the run (changing its size, hence the run id) can be told
# from a change in work already done.
INPUTS_FILE = ".prepare-inputs.json.partial"


def _continue_with_changed_inputs(out: Path, plan: Plan, benchmark: str) -> int:
    """Let the unfinished preparation in ``out`` continue when it differs from ``plan`` only in
    the sizes of raw files it has not reached yet; returns how many such files changed (0: none,
    or not that case: the writer then decides as usual)."""
    unfinished = unfinished_run(out)
    if unfinished is None or unfinished[0] == plan.run_id(benchmark):
        return 0
    try:
        recorded = json.loads((out / INPUTS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return 0  # a preparation from before this record: refused as other input
    sizes = recorded.get("sizes")
    if (recorded.get("structure") != plan.structure_id(benchmark) or not isinstance(sizes, list)
            or len(sizes) != len(plan.sizes) or len(plan.sizes) != len(plan.jobs)):  # fmt: skip
        return 0
    changed = [i for i, (before, now) in enumerate(zip(sizes, plan.sizes)) if before != now]
    # jobs before the journal's progress are written and committed: those must be unchanged
    if not changed or min(changed) < unfinished[1]:
        return 0
    continue_as(out, plan.run_id(benchmark))
    return len(changed)


def _ignore_interrupts() -> None:
    """Pool initializer: Ctrl-C is the main process's to handle (it stops the pool); a worker
    would print its own traceback for the same keypress."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _parsed(jobs: list[Job], workers: int) -> Iterator[list[np.ndarray]]:
    if workers <= 1:
        yield from map(load_job, jobs)
        return
    methods = multiprocessing.get_all_start_methods()
    # fork: workers only parse with numpy, and start without re-importing the package
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ctx.Pool(workers, initializer=_ignore_interrupts) as pool:
        yield from pool.imap(load_job, jobs, chunksize=4)


def run_plan(
    plan: Plan,
    outs: dict[str, Path],
    *,
    workers: int | None = None,
    batch_size: int = 256,
    overwrite: bool = False,
    progress: bool | None = None,
    verdicts: dict[str, str] | None = None,
) -> dict[str, PreparedMeta]:
    """Execute ``plan``, writing benchmark ``b`` to ``outs[b]``; resumes an interrupted run.

    Args:
        plan: From :func:`plan_ntu` / :func:`plan_pkummd`.
        outs: Output directory per benchmark (see :func:`output_dirs`).
        workers: Parsing processes (default: the CPU count; 1 parses in this process).
        batch_size: Clips per stage-2 batch and per progress record.
        overwrite: Replace a finished or unfinished preparation of other input in ``outs``.
        progress: Show a progress bar (default: when stderr is a terminal).
        verdicts: The count check of each benchmark, recorded in ``meta.json``.

    Returns:
        ``{benchmark: metadata written}``.
    """
    workers = workers or os.cpu_count() or 1
    joints = get_layout(plan.layout).num_joints
    sample_shape = (3, plan.preprocess.num_frames, joints, plan.preprocess.num_persons)
    rows: dict[str, dict[str, np.ndarray]] = {}  # benchmark -> split -> row of each sample (-1: elsewhere)
    writers = {}
    for b, out in outs.items():
        split_of = np.array([s or "" for s in plan.splits[b]])
        rows[b] = {}
        parts = {}
        for split in plan.counts(b):
            mask = split_of == split
            rows[b][split] = np.where(mask, np.cumsum(mask) - 1, -1)
            parts[split] = ([n for n, m in zip(plan.names, mask) if m], plan.labels[mask])
        changed = 0 if overwrite else _continue_with_changed_inputs(out, plan, b)
        if changed:
            print(f"prepare {plan.dataset}: {changed} raw file(s) not reached yet changed since the run stopped "
                  "(fixed or re-extracted); continuing with them", file=sys.stderr, flush=True)  # fmt: skip
        writers[b] = PreparedWriter(out, parts, sample_shape, run_id=plan.run_id(b), overwrite=overwrite)
    active = [b for b in writers if not writers[b].complete]
    for b in active:  # what a later run compares the raw files with (see INPUTS_FILE)
        (outs[b] / INPUTS_FILE).write_text(json.dumps({"structure": plan.structure_id(b), "sizes": plan.sizes}))
    starts = np.concatenate([[0], np.cumsum([j.num_samples for j in plan.jobs])])
    first = min((writers[b].progress for b in active), default=len(plan.jobs))
    total = int(starts[-1])
    show = sys.stderr.isatty() if progress is None else progress
    if active and first > 0:
        print(f"prepare {plan.dataset}: continuing an interrupted preparation at clip {int(starts[first]):,} of "
              f"{total:,}", file=sys.stderr, flush=True)  # fmt: skip
    bar = tqdm(total=total, initial=int(starts[first]), unit="clip", desc=f"prepare {plan.dataset}",
               disable=not show or not active, smoothing=0.05)  # fmt: skip
    pending: list[np.ndarray] = []
    done = first
    batch_start = int(starts[first])

    # clips with a skeleton whose first person never has joint 0 tracked: the length rule (the original's,
    # from that joint) gives them no frames, so they come out all zeros (the original's resize would fail)
    no_frames: list[str] = []

    def flush(jobs_done: int) -> None:
        nonlocal pending, batch_start
        if pending:
            with torch.inference_mode():
                y = plan.preprocess(_stage1_batch(pending)).numpy()
            index = np.arange(batch_start, batch_start + len(pending))
            for k in np.flatnonzero(~y.reshape(len(y), -1).any(axis=1)):
                if pending[k].any():
                    no_frames.append(plan.names[int(index[k])])
            for b in active:
                for split, row in rows[b].items():
                    r = row[index]
                    keep = r >= 0
                    if keep.any():
                        writers[b].write(split, r[keep], y[keep])
            bar.update(len(pending))
            batch_start += len(pending)
            pending = []
        for b in active:
            if writers[b].progress < jobs_done:
                writers[b].commit(jobs_done)

    empty: list[str] = []  # clips without a skeleton in any frame (a PKU-MMD action the sensor lost)
    try:
        for clips in _parsed(plan.jobs[first:], workers) if active else iter(()):
            empty += [plan.names[int(starts[done]) + k] for k, clip in enumerate(clips) if not clip.any()]
            pending.extend(clips)
            done += 1
            if len(pending) >= batch_size:
                flush(done)
        flush(done)
    finally:
        bar.close()
    for written, why in (
        (empty, "hold no skeleton in any frame and were written as all-zero samples (the original pipeline keeps "
                "such clips unless its missing-skeleton list names them)"),
        (no_frames, "hold a skeleton but no frame where the first person's joint 0 is tracked, so the pipeline's "
                    "length rule gives them no frames and they were written as all-zero samples"),
    ):  # fmt: skip
        if written:
            warnings.warn(
                f"{len(written)} clip(s) {why}: {', '.join(written[:10])}{', ...' if len(written) > 10 else ''}; check "
                "the raw files, or leave these samples out when training and evaluating",
                EmptySampleWarning,
                stacklevel=2,
            )
    metas = {}
    for b, writer in writers.items():
        source = {**plan.source, "count_check": (verdicts or {}).get(b, "not checked"),
                  "max_frames": MAX_FRAMES}  # fmt: skip
        metas[b] = writer.finish(
            dataset=plan.dataset, benchmark=b, layout=plan.layout, num_classes=plan.num_classes,
            class_names=plan.class_names, preprocessing=plan.preprocess.to_dict(), source=source,
        )  # fmt: skip
        (outs[b] / INPUTS_FILE).unlink(missing_ok=True)
    return metas


def prepare_ntu(
    raw: str | Path | Sequence[str | Path],
    out: str | Path,
    dataset: str,
    benchmarks: Sequence[str] | None = None,
    *,
    workers: int | None = None,
    batch_size: int = 256,
    allow_incomplete: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
) -> dict[str, PreparedMeta]:
    """Prepare NTU RGB+D 60 or 120: plan, check the counts, run (see the module docstring)."""
    plan = plan_ntu(raw, dataset, benchmarks)
    verdicts = check_counts(plan, allow_incomplete=allow_incomplete)
    return run_plan(plan, output_dirs(out, plan.benchmarks), workers=workers, batch_size=batch_size,
                    overwrite=overwrite, progress=progress, verdicts=verdicts)  # fmt: skip


def prepare_pkummd(
    raw: str | Path | Sequence[str | Path],
    out: str | Path,
    phase: int = 1,
    benchmarks: Sequence[str] | None = None,
    *,
    workers: int | None = None,
    batch_size: int = 256,
    overwrite: bool = False,
    progress: bool | None = None,
    allow_incomplete: bool = False,
) -> dict[str, PreparedMeta]:
    """Prepare PKU-MMD phase 1 or 2 (``xsub`` and ``xview`` where split files exist); see
    :func:`plan_pkummd` for ``allow_incomplete``."""
    plan = plan_pkummd(raw, phase, benchmarks, allow_incomplete=allow_incomplete)
    verdicts = check_counts(plan, allow_incomplete=allow_incomplete)
    return run_plan(plan, output_dirs(out, plan.benchmarks), workers=workers, batch_size=batch_size,
                    overwrite=overwrite, progress=progress, verdicts=verdicts)  # fmt: skip


def prepare_nwucla_dataset(raw: str | Path, out: str | Path, *, overwrite: bool = False) -> PreparedMeta:
    """Prepare NW-UCLA's cross-view protocol (train: views 1-2, test: view 3) into ``out``.

    Args:
        raw: ``nwucla.npz`` or a folder of the per-clip JSON files.
        out: The prepared directory.

    The positions are exactly ``prepare_nwucla(read_nwucla_npz(raw))`` (or of the JSON reader).
    """
    raw, out = Path(raw), Path(out)
    if raw.is_dir():
        digest = hashlib.sha256()
        for file in sorted(raw.glob("*.json")):
            digest.update(f"{file.name}\t{sha256_file(file)}\n".encode())
        source: dict[str, Any] = {
            "raw": str(raw), "kind": "json-folder", "sha256": digest.hexdigest(),
            "sha256_of": "lines '<file name>\\t<sha256>\\n' of the sorted *.json files",
        }  # fmt: skip
    else:
        source = {"raw": str(raw), "kind": "npz", "sha256": sha256_file(raw)}
    if (out / "meta.json").is_file() and not overwrite:
        meta = read_prepared_meta(out)
        if (meta.dataset, meta.source.get("sha256"), meta.preprocessing) == (
            "nwucla", source["sha256"], NWUCLA_PREPROCESS.to_dict()
        ):
            return verify_prepared(out)  # this input, already prepared: if the files are still whole
        raise PrepareError(f"{out} already holds a prepared dataset ({meta.dataset} {meta.benchmark}) of other "
                           "input; pass --overwrite to replace it, or choose another --out")  # fmt: skip
    refuse_unknown_files(out, ("train", "test"), overwrite)
    clips = read_nwucla_json_dir(raw) if raw.is_dir() else read_nwucla_npz(raw)
    splits = prepare_nwucla(clips, NWUCLA_PREPROCESS)
    source["count_check"] = ", ".join(f"{s} {len(p.labels):,}" for s, p in splits.items()) + (
        " clips: NW-UCLA's cross-view protocol (train on views 1 and 2, test on view 3: 1,020 and 464 clips)"
        if {s: len(p.labels) for s, p in splits.items()} == {"train": 1020, "test": 464}
        else " clips (the full release has train 1,020, test 464)"
    )
    return write_prepared(out, splits, dataset="nwucla", benchmark="xview", layout=NWUCLA_PREPROCESS.layout,
                          num_classes=len(NWUCLA_CLASSES), class_names=clips.class_names,
                          preprocessing=NWUCLA_PREPROCESS.to_dict(), source=source)  # fmt: skip


def _check_original_part(part: OriginalPart, preprocess: Preprocess, num_classes: int) -> None:
    """Refuse arrays the original NTU pipeline did not write (what the meta.json would claim)."""
    shape = tuple(part.positions.shape)
    if len(shape) != 5 or shape[1] != 3 or shape[3] != 25:
        raise DataFormatError(
            f"{part.path}: samples of shape {shape[1:]}; the original pipeline's arrays are (N, 3, T, 25, M) in "
            "the NTU 25-joint layout: prepare other skeletons from their raw files (skeletonzoo prepare DATASET)"
        )
    expected = (preprocess.num_frames, preprocess.num_persons)
    if part.normalised and (shape[2], shape[4]) != expected:
        raise DataFormatError(
            f"{part.path}: T={shape[2]}, M={shape[4]}; the original pipeline's *_position.npy has T={expected[0]}, "
            f"M={expected[1]} (another normalisation: prepare from its *_data.npy or the raw files)"
        )
    labels = part.labels
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise DataFormatError(
            f"{part.path.parent}: labels span {int(labels.min())}..{int(labels.max())}, but {num_classes} classes "
            f"take 0..{num_classes - 1}; check --as (or --num-classes)"
        )


def _original_dataset(
    dataset: str, benchmark: str, num_classes: int | None, class_names: Sequence[str] | None
) -> tuple[int, Sequence[str]]:
    """:func:`prepare_original`'s class count and names, checked against a zoo dataset's."""
    from ..registry import DATASETS as ZOO_DATASETS

    known = ZOO_DATASETS.get(dataset)
    if class_names is None:
        class_names = ntu_class_names(dataset) if dataset in ("ntu60", "ntu120") else ()
    if known is None:
        if num_classes is None:
            raise ValueError(f"{dataset!r} is not a zoo dataset: give its number of classes (--num-classes)")
        return num_classes, class_names
    # a zoo dataset: its benchmarks (as `prepare` writes them) and classes are known
    others = PKU_BENCHMARKS if dataset.startswith("pkummd") else tuple(known.splits)
    benchmarks = NTU_BENCHMARKS.get(dataset) or others
    if benchmark not in benchmarks:
        raise ValueError(f"--as {dataset} has benchmarks {', '.join(benchmarks)}, not {benchmark!r}")
    if num_classes is not None and num_classes != known.num_classes:
        raise ValueError(f"--as {dataset} has {known.num_classes} classes; drop --num-classes {num_classes}")
    return known.num_classes, class_names


def prepare_original(
    raw: str | Path,
    out: str | Path,
    *,
    dataset: str,
    benchmark: str,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    batch_size: int = 1024,
    overwrite: bool = False,
    progress: bool | None = None,
) -> PreparedMeta:
    """Convert the original pipeline's ``{train,val}_{position,data}.npy`` + ``_label.pkl`` to a
    prepared directory (``val`` becomes ``test``). ``*_data.npy`` (stage 1) is normalised with
    :class:`Preprocess`; ``*_position.npy`` (stage 2) is copied as it is.

    For a zoo dataset (``ntu60``, ``ntu120``, ``pkummd1``, ``pkummd2``, ``nwucla``) the benchmark
    must be one ``prepare`` writes for it, and ``num_classes`` (default) and, for NTU, the class
    names come from the registry; another dataset name needs ``num_classes``.

    Raises:
        ValueError: a benchmark or class count the zoo dataset does not have, or no
            ``num_classes`` for another dataset.
    """
    num_classes, class_names = _original_dataset(dataset, benchmark, num_classes, class_names)
    raw, out = Path(raw), Path(out)
    parts = {split: open_original(raw, split) for split in ("train", "test")}
    preprocess = Preprocess()
    for part in parts.values():
        _check_original_part(part, preprocess, num_classes)
    shapes = {p.positions.shape[1:] if p.normalised else (3, preprocess.num_frames, *p.positions.shape[3:])
              for p in parts.values()}  # fmt: skip
    if len(shapes) != 1:
        raise DataFormatError(f"{raw}: train and val arrays have different sample shapes {sorted(shapes)}")
    (sample_shape,) = shapes
    run = hashlib.sha256(json.dumps(
        {s: [p.path.name, p.path.stat().st_size, p.names, p.labels.tolist()] for s, p in parts.items()}
    ).encode()).hexdigest()  # fmt: skip
    writer = PreparedWriter(out, {s: (p.names, p.labels) for s, p in parts.items()}, sample_shape, run_id=run,
                            overwrite=overwrite)  # fmt: skip
    if not writer.complete:
        order = [(s, i) for s, p in parts.items() for i in range(0, len(p), batch_size)]
        show = sys.stderr.isatty() if progress is None else progress
        for k in tqdm(range(writer.progress, len(order)), desc="convert", disable=not show):
            split, start = order[k]
            part = parts[split]
            x = np.array(part.positions[start : start + batch_size], dtype=np.float32)
            if not part.normalised:
                with torch.inference_mode():
                    x = preprocess(torch.from_numpy(x)).numpy()
            writer.write(split, np.arange(start, start + len(x)), x)
            writer.commit(k + 1)
    source = {"raw": str(raw), "files": {s: p.path.name for s, p in parts.items()}}
    return writer.finish(
        dataset=dataset, benchmark=benchmark, layout="ntu25", num_classes=num_classes, class_names=list(class_names),
        preprocessing=preprocess.to_dict(), source=source,
    )  # fmt: skip
