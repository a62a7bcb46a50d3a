"""NTU RGB+D ``.skeleton`` text files (Kinect v2, 25 joints).

Format (``shared/specs/data-pipeline.md``, stage 1): line 1 is the frame count; per frame a
body-count line; per body one line of 10 body fields (bodyID, clippedEdges,
handLeftConfidence, handLeftState, handRightConfidence, handRightState, isRestricted, leanX,
leanY, trackingState), a joint-count line (25), then one line of 12 fields per joint: x, y, z,
depthX, depthY, colorX, colorY, orientationW, orientationX, orientationY, orientationZ,
trackingState.

Like the research pipeline, the reader keeps x, y, z of the first ``max_bodies`` (2) bodies
listed in each frame, in file order, with no denoising or tracking of bodies across frames;
a frame without bodies stays zero.

Speed: one pass over the lines checks the structure and every line's field count, and only
the x, y, z fields of the kept bodies (a quarter of the joint fields) are converted to
numbers, in one numpy call. A file that does not fit exactly (a count that is not a
non-negative integer, a wrong field count, a non-numeric or non-finite coordinate, missing
or extra lines) is parsed again by a strict line-by-line reader, which raises a
:class:`~skeletonzoo.exceptions.DataFormatError` naming the file and the offending line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..exceptions import DataFormatError

__all__ = ["read_ntu_skeleton", "parse_ntu_skeleton", "NUM_JOINTS", "BODY_FIELDS", "JOINT_FIELDS"]

NUM_JOINTS = 25
BODY_FIELDS = 10
JOINT_FIELDS = 12


def read_ntu_skeleton(path: str | Path, *, max_bodies: int = 2) -> np.ndarray:
    """Read one ``.skeleton`` file.

    Args:
        path: The file.
        max_bodies: Body slots kept per frame (the first ones listed); more are dropped.

    Returns:
        float32 ``(3, T, 25, max_bodies)``: x, y, z in metres for each of the file's ``T``
        frames; empty slots are zero.

    Raises:
        DataFormatError: the file is truncated or malformed (the message names the line).
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("ascii")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise DataFormatError.damaged(path, line, "non-ASCII byte in an NTU .skeleton file") from None
    return parse_ntu_skeleton(text, source=str(path), max_bodies=max_bodies)


def parse_ntu_skeleton(text: str, *, source: str = "<string>", max_bodies: int = 2) -> np.ndarray:
    """Parse the text of a ``.skeleton`` file; see :func:`read_ntu_skeleton`."""
    if max_bodies < 1:
        raise ValueError(f"max_bodies must be >= 1, got {max_bodies}")
    out = _parse_fast(text, max_bodies)
    if out is None:
        out = _parse_lines(text, source, max_bodies)
    return out


def _as_count(value: float) -> int | None:
    """``value`` as a non-negative integer count, or ``None``."""
    if not (np.isfinite(value) and value >= 0 and value == int(value)):
        return None
    return int(value)


def _parse_fast(text: str, max_bodies: int) -> np.ndarray | None:
    """Structure walk over the lines; ``None`` when anything does not fit (the slow path reports it).

    Every line's field count is checked, but only the x, y, z of kept bodies are converted
    to numbers (a quarter of the joint fields), in one numpy call.
    """
    lines = text.rstrip().splitlines()
    n = len(lines)
    try:
        num_frames = int(lines[0]) if n else -1
        if num_frames < 0:
            return None
        i = 1
        xyz: list[str] = []
        slots: list[tuple[int, int]] = []  # (frame, body slot) of each kept body
        for t in range(num_frames):
            num_bodies = int(lines[i])
            if num_bodies < 0:
                return None
            i += 1
            for b in range(num_bodies):
                if len(lines[i].split()) != BODY_FIELDS or int(lines[i + 1]) != NUM_JOINTS:
                    return None
                i += 2
                keep = b < max_bodies
                for line in lines[i : i + NUM_JOINTS]:
                    fields = line.split()
                    if len(fields) != JOINT_FIELDS:
                        return None
                    if keep:
                        xyz += fields[:3]
                if keep:
                    slots.append((t, b))
                i += NUM_JOINTS
        if i != n:
            return None
        values = np.array(xyz, dtype=np.float64).reshape(len(slots), NUM_JOINTS, 3)
    except (ValueError, IndexError):
        return None
    if not np.isfinite(values).all():
        return None
    out = np.zeros((3, num_frames, NUM_JOINTS, max_bodies), dtype=np.float32)
    if slots:
        frames, bodies = np.asarray(slots).T
        # non-adjacent advanced indices put K first: out[:, frames, :, bodies] is (K, 3, 25)
        out[:, frames, :, bodies] = values.transpose(0, 2, 1)
    return out


class _Lines:
    """Line cursor that reports 1-based line numbers in its errors."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.rstrip().splitlines() if text.strip() else []
        self.source = source
        self.pos = 0
        self.cut = "truncated"  # what an early end of the file means

    def fail(self, message: str, line: int | None = None, *, state: str = "corrupt") -> DataFormatError:
        """The error for ``message`` at ``line`` (default: the last line read), with what to do."""
        return DataFormatError.damaged(self.source, line or self.pos, message, state)

    def fields(self, expected: int, what: str, context: str) -> list[float]:
        if self.pos >= len(self.lines):
            return self._truncated(what, context)
        self.pos += 1
        tokens = self.lines[self.pos - 1].split()
        if len(tokens) != expected:
            cut = len(tokens) < expected and self.pos == len(self.lines)  # a short last line: cut mid-line
            raise self.fail(f"expected {expected} field(s) for {what}, found {len(tokens)} ({context})",
                            state="truncated" if cut else "corrupt")  # fmt: skip
        try:
            return [float(tok) for tok in tokens]
        except ValueError:
            raise self.fail(f"{what} is not numeric: {self.lines[self.pos - 1].strip()[:80]!r} ({context})") from None

    def count(self, what: str, context: str) -> int:
        (value,) = self.fields(1, what, context)
        n = _as_count(value)
        if n is None:
            raise self.fail(f"{what} must be a non-negative integer, found {value:g} ({context})")
        return n

    def _truncated(self, what: str, context: str) -> list[float]:
        raise self.fail(f"file ends where {what} was expected ({context})", len(self.lines) + 1, state=self.cut)


def _parse_lines(text: str, source: str, max_bodies: int) -> np.ndarray:
    """Line-by-line parse with exact error locations (also the reference for the fast path)."""
    cur = _Lines(text, source)
    num_frames = cur.count("the frame count", "line 1 of the file")
    # every frame has at least its body-count line: a larger count (e.g. a corrupt 10^11) is not
    # allocated, and the loop stops with the truncation error where the lines run out
    fit = min(num_frames, len(cur.lines) - cur.pos)
    if fit < num_frames:
        cur.cut = "truncated or its frame count (line 1) is wrong"
    out = np.zeros((3, fit, NUM_JOINTS, max_bodies), dtype=np.float32)
    for t in range(num_frames):
        where = f"frame {t + 1} of {num_frames}"
        num_bodies = cur.count("the body count", where)
        for b in range(num_bodies):
            body = f"{where}, body {b + 1} of {num_bodies}"
            cur.fields(BODY_FIELDS, "the body fields (bodyID ... trackingState)", body)
            joints = cur.count("the joint count", body)
            if joints != NUM_JOINTS:
                raise cur.fail(f"expected {NUM_JOINTS} joints, the file says {joints} ({body})")
            for v in range(NUM_JOINTS):
                values = cur.fields(JOINT_FIELDS, "a joint (x y z depthX depthY colorX colorY "
                                    "orientationWXYZ trackingState)", f"{body}, joint {v + 1}")  # fmt: skip
                if b < max_bodies:
                    if not np.isfinite(values[:3]).all():
                        raise cur.fail(f"non-finite joint coordinate ({body}, joint {v + 1})")
                    out[:, t, v, b] = values[:3]
    if cur.pos < len(cur.lines):
        raise cur.fail(f"unexpected content after the {num_frames} frame(s) that line 1 announces", cur.pos + 1)
    return out
