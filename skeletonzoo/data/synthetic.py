"""Synthetic raw datasets in the real file formats, for tests and benchmarks.

NTU RGB+D and PKU-MMD may not be redistributed, so the tests and the prepare benchmark run on
files written here: a moving 25-joint Kinect v2 body in camera space (metres, y up, z the
distance from the sensor, about 2.5-3.5 m), written with the fields, line structure,
number formatting (7 significant digits) and CRLF line ends of the released files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .splits import NTUSample, missing_skeletons, parse_ntu_name

__all__ = [
    "synthetic_body",
    "write_ntu_skeleton",
    "write_ntu_tree",
    "random_ntu_names",
    "write_pku_tree",
]

# A standing NTU-layout body (metres, relative to SpineBase, facing the sensor).
_TEMPLATE = np.array([
    [0.00, 0.00, 0.00], [0.00, 0.28, 0.00], [0.00, 0.55, 0.00], [0.00, 0.68, -0.01],
    [-0.17, 0.47, 0.00], [-0.25, 0.22, 0.01], [-0.28, 0.00, -0.02], [-0.29, -0.07, -0.03],
    [0.17, 0.47, 0.00], [0.25, 0.22, 0.01], [0.28, 0.00, -0.02], [0.29, -0.07, -0.03],
    [-0.08, -0.02, 0.00], [-0.09, -0.42, 0.00], [-0.09, -0.80, 0.02], [-0.10, -0.85, -0.08],
    [0.08, -0.02, 0.00], [0.09, -0.42, 0.00], [0.09, -0.80, 0.02], [0.10, -0.85, -0.08],
    [0.00, 0.48, 0.00], [-0.30, -0.15, -0.03], [-0.27, -0.09, -0.06], [0.30, -0.15, -0.03],
    [0.27, -0.09, -0.06],
])  # fmt: skip
_LEFT_ARM, _RIGHT_ARM = [5, 6, 7, 21, 22], [9, 10, 11, 23, 24]
_MUTUAL_ACTIONS = frozenset([*range(50, 61), *range(106, 121)])


def synthetic_body(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """One person's ``(T, 25, 3)`` trajectory: turned, placed, swinging its arms, with noise."""
    t = np.arange(num_frames)[:, None]
    yaw = rng.uniform(-0.8, 0.8)
    rot = np.array([[np.cos(yaw), 0.0, np.sin(yaw)], [0.0, 1.0, 0.0], [-np.sin(yaw), 0.0, np.cos(yaw)]])
    body = np.repeat((_TEMPLATE * rng.uniform(0.9, 1.1))[None], num_frames, axis=0)
    for arm, phase in ((_LEFT_ARM, 0.0), (_RIGHT_ARM, np.pi)):
        swing = 0.15 * np.sin(2 * np.pi * t / rng.uniform(20, 60) + phase + rng.uniform(0, 1))
        body[:, arm, 1] += swing
        body[:, arm, 2] -= 0.5 * np.abs(swing)
    body = body @ rot.T
    start = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.1, 0.3), rng.uniform(2.5, 3.5)])
    drift = rng.normal(0.0, 0.004, size=(num_frames, 1, 3)).cumsum(axis=0)
    return body + start + drift + rng.normal(0.0, 0.005, size=body.shape)


def _joint_lines(xyz: np.ndarray, rng: np.random.Generator) -> list[str]:
    """The 25 joint lines of one body: x y z, depth/colour pixels, orientation, tracking state."""
    x, y, z = xyz[:, 0], xyz[:, 1], np.maximum(xyz[:, 2], 0.5)
    depth = np.stack([256 + 365 * x / z, 212 - 365 * y / z], axis=1)
    color = np.stack([960 + 1060 * x / z, 540 - 1060 * y / z], axis=1)
    quat = rng.normal(size=(len(xyz), 4))
    quat /= np.linalg.norm(quat, axis=1, keepdims=True)
    fields = np.concatenate([xyz, depth, color, quat], axis=1)
    return [" ".join(f"{v:.7g}" for v in row) + " 2" for row in fields]


def write_ntu_skeleton(
    path: str | Path,
    frames: Sequence[Sequence[np.ndarray]],
    *,
    rng: np.random.Generator | None = None,
    newline: str = "\r\n",
) -> Path:
    """Write a ``.skeleton`` file.

    Args:
        path: Destination.
        frames: For every frame, the ``(25, 3)`` x, y, z of each body listed in it (an empty
            sequence is a frame without bodies).
        rng: Source of the fields the readers ignore (orientations, ids).
        newline: Line terminator (the released files use CRLF).
    """
    rng = rng or np.random.default_rng(0)
    ids: dict[int, int] = {}
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for b, xyz in enumerate(bodies):
            body_id = ids.setdefault(b, 72057594037927936 + int(rng.integers(1000, 99999)))
            lean = rng.uniform(-0.1, 0.1, size=2)
            lines.append(f"{body_id} 0 1 1 1 1 0 {lean[0]:.7g} {lean[1]:.7g} 2")
            lines.append("25")
            lines.extend(_joint_lines(np.asarray(xyz, dtype=np.float64), rng))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("ascii"))
    return path


def random_ntu_names(
    dataset: str, count: int, rng: np.random.Generator, *, include_missing: int = 0
) -> list[str]:
    """``count`` distinct random sample names of ``dataset`` (setups 1-17 or 1-32), plus
    ``include_missing`` names taken from the official missing-skeleton list."""
    max_setup, max_performer, max_action = (17, 40, 60) if dataset == "ntu60" else (32, 106, 120)
    missing = missing_skeletons(dataset)
    names: set[str] = set()
    while len(names) < count:
        sample = NTUSample(
            setup=int(rng.integers(1, max_setup + 1)),
            camera=int(rng.integers(1, 4)),
            performer=int(rng.integers(1, max_performer + 1)),
            replication=int(rng.integers(1, 3)),
            action=int(rng.integers(1, max_action + 1)),
        )
        if sample.name not in missing:
            names.add(sample.name)
    listed = sorted(missing)
    picks = rng.choice(len(listed), size=include_missing, replace=False).tolist() if include_missing else []
    return sorted(names) + [listed[i] for i in picks]


def write_ntu_tree(
    root: str | Path,
    names: Iterable[str],
    rng: np.random.Generator,
    *,
    frames: tuple[int, int] = (20, 60),
    p_empty_frame: float = 0.02,
    p_extra_body: float = 0.05,
) -> dict[str, Path]:
    """Write one ``.skeleton`` file per sample name under ``root``.

    Mutual actions (50-60, 106-120) get two bodies; a frame has no body with probability
    ``p_empty_frame`` and a third, spurious body with probability ``p_extra_body``. Samples on
    the official missing-skeleton lists get frames without any body, like the released files.

    Returns:
        ``{name: path}``.
    """
    root = Path(root)
    missing = missing_skeletons("ntu120")
    out = {}
    for name in names:
        sample = parse_ntu_name(name)
        num_frames = int(rng.integers(frames[0], frames[1] + 1))
        if name in missing:
            seq: list[list[np.ndarray]] = [[] for _ in range(num_frames)]
        else:
            people = [synthetic_body(rng, num_frames) for _ in range(2 if sample.action in _MUTUAL_ACTIONS else 1)]
            seq = []
            for t in range(num_frames):
                bodies = [p[t] for p in people]
                if rng.random() < p_extra_body:
                    bodies.append(synthetic_body(rng, 1)[0])
                if rng.random() < p_empty_frame:
                    bodies = []
                seq.append(bodies)
        out[name] = write_ntu_skeleton(root / f"{name}.skeleton", seq, rng=rng)
    return out


def write_pku_tree(
    root: str | Path,
    videos: dict[str, list[tuple[int, int, int]]],
    split: dict[str, dict[str, list[str]]],
    rng: np.random.Generator,
    *,
    num_frames: int = 200,
    two_person_labels: Iterable[int] = (),
    phase: int = 1,
) -> Path:
    """Write a PKU-MMD raw tree: ``skeleton/``, ``label/`` and the split files.

    Args:
        root: Destination folder.
        videos: ``{video: [(action_id 1-based, start, end), ...]}``, frames 1-based and both included.
        split: ``{"xsub" | "xview": {"train": [videos], "test": [videos]}}``.
        rng: Randomness of the motion.
        num_frames: Frames per video.
        two_person_labels: Action ids whose clips get a second person.
        phase: 1 (``cross-subject.txt``) or 2 (``cross_subject_v2.txt``).
    """
    root = Path(root)
    (root / "skeleton").mkdir(parents=True, exist_ok=True)
    (root / "label").mkdir(parents=True, exist_ok=True)
    pairs = set(two_person_labels)
    for video, actions in videos.items():
        data = np.zeros((num_frames, 2, 25, 3))
        data[:, 0] = synthetic_body(rng, num_frames)
        for action, start, end in actions:
            if action in pairs:  # frames start..end, 1-based and both included, within the video
                first, last = start - 1, min(end, num_frames)
                data[first:last, 1] = synthetic_body(rng, last - first)
        rows = [" ".join(f"{v:.6f}" for v in frame.reshape(-1)) for frame in data]
        (root / "skeleton" / f"{video}.txt").write_text("\n".join(rows) + "\n")
        labels = [f"{a},{s},{e},{int(rng.integers(1, 3))}" for a, s, e in actions]
        (root / "label" / f"{video}.txt").write_text("\n".join(labels) + "\n")
    suffix = "" if phase == 1 else "_v2"
    for benchmark, parts in split.items():
        stem = {"xsub": "cross-subject", "xview": "cross-view"}[benchmark]
        name = f"{stem}.txt" if phase == 1 else f"{stem.replace('-', '_')}{suffix}.txt"
        # the released files' headers, typo included
        lines = ["Training videos: ", ", ".join(parts["train"]), "Validataion videos: ", ", ".join(parts["test"])]
        (root / name).write_text("\n".join(lines) + "\n")
    return root
