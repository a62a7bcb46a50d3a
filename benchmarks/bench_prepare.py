"""Cost of `skeletonzoo prepare` per NTU clip, on synthetic files of the real format and size.

NTU RGB+D may not be redistributed, so the benchmark writes a tree of synthetic `.skeleton`
files (``skeletonzoo.data.synthetic``): the real line structure, fields, 7-digit number
formatting and CRLF line ends; lengths uniform in [30, 120] frames (mean 75; NTU-60's 56,880
clips hold about 4 million frames, 70 per clip), one body, two in the mutual actions, and a
spurious third body in 5 % of frames. It measures

* the parse of one file: skeletonzoo's reader against a straightforward reader written the way
  the original ``read_skeleton`` works (one dict per frame, body and joint, ``float()`` on
  every field), alternating in one process;
* the whole preparation (listing, parsing, stage-2 normalisation, writing both benchmarks'
  splits, checksums) with 1 and with 2 worker processes, and extrapolates it to the 56,880
  clips of NTU-60.

    python benchmarks/bench_prepare.py [--files 300] [--repeats 3] [--write]

``--write`` records the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import alternate, machine, median, write_section  # noqa: E402

from skeletonzoo.data.ntu import read_ntu_skeleton  # noqa: E402
from skeletonzoo.data.prepare import prepare_ntu  # noqa: E402
from skeletonzoo.data.synthetic import random_ntu_names, write_ntu_tree  # noqa: E402

_BODY_KEYS = ("bodyID", "clippedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
              "handRightState", "isRestricted", "leanX", "leanY", "trackingState")  # fmt: skip
_JOINT_KEYS = ("x", "y", "z", "depthX", "depthY", "colorX", "colorY", "orientationW", "orientationX",
               "orientationY", "orientationZ", "trackingState")  # fmt: skip


def baseline_read(path: Path, max_bodies: int = 2) -> np.ndarray:
    """A reader in the style of the original code: nested dicts, ``float()`` per field."""
    with open(path) as f:
        frames = []
        for _ in range(int(f.readline())):
            bodies = []
            for _ in range(int(f.readline())):
                body = dict(zip(_BODY_KEYS, map(float, f.readline().split())))
                body["joints"] = [dict(zip(_JOINT_KEYS, map(float, f.readline().split())))
                                  for _ in range(int(f.readline()))]  # fmt: skip
                bodies.append(body)
            frames.append(bodies)
    out = np.zeros((3, len(frames), 25, max_bodies), dtype=np.float32)
    for t, bodies in enumerate(frames):
        for m, body in enumerate(bodies[:max_bodies]):
            for v, joint in enumerate(body["joints"]):
                out[:, t, v, m] = (joint["x"], joint["y"], joint["z"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="record results in docs/benchmarks.md")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="bench-prepare-"))
    try:
        rng = np.random.default_rng(0)
        names = random_ntu_names("ntu60", args.files, rng)
        paths = list(write_ntu_tree(tmp / "raw", names, rng, frames=(30, 120), p_empty_frame=0.0,
                                    p_extra_body=0.05).values())  # fmt: skip
        mean_kb = np.mean([p.stat().st_size for p in paths]) / 1024
        mean_frames = np.mean([read_ntu_skeleton(p).shape[1] for p in paths])
        for p in paths[:20]:
            assert np.array_equal(read_ntu_skeleton(p), baseline_read(p))

        readers = {"baseline": baseline_read, "ours": read_ntu_skeleton}
        times = alternate({k: lambda r=r: [r(p) for p in paths] for k, r in readers.items()}, args.repeats)
        base_ms = median(times["baseline"]) / len(paths) * 1e3
        ours_ms = median(times["ours"]) / len(paths) * 1e3
        print(f"parse: baseline {base_ms:.2f} ms/file, skeletonzoo {ours_ms:.2f} ms/file ({base_ms / ours_ms:.1f}x)")

        prep, cpu = {}, {}
        for workers in (1, 2):
            runs, cpus = [], []
            for r in range(args.repeats):
                out = tmp / f"out{workers}-{r}"
                start, start_cpu = time.perf_counter(), time.process_time()
                prepare_ntu(tmp / "raw", out, "ntu60", workers=workers, allow_incomplete=True, progress=False)
                runs.append(time.perf_counter() - start)
                cpus.append(time.process_time() - start_cpu)  # this process only: all the work when workers=1
                shutil.rmtree(out)
            prep[workers] = median(runs) / len(paths) * 1e3
            cpu[workers] = median(cpus) / len(paths) * 1e3
            print(f"prepare, {workers} worker(s): {prep[workers]:.2f} ms/clip -> 56,880 clips in "
                  f"{prep[workers] * 56_880 / 60e3:.1f} min", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    table = [
        "## Preparing NTU RGB+D (`benchmarks/bench_prepare.py`)",
        "",
        f"Machine: {machine()}; 1-minute load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after "
        "the run (the cores are shared with other jobs).",
        f"Command: `python {' '.join(sys.argv)}`; median of the repeats. {len(paths)} synthetic `.skeleton` files "
        f"of the real format (mean {mean_frames:.0f} frames, {mean_kb:.0f} KB; see the script's docstring).",
        "Parse: one file to `(3, T, 25, 2)`; baseline: a reader written like the original `read_skeleton` "
        "(nested dicts, `float()` per field), alternating with ours in one process. Prepare: "
        "`prepare_ntu(..., 'ntu60')`, both benchmarks (xsub, xview), everything from listing the files to "
        "`meta.json`, per clip; the last column extrapolates to NTU-60's 56,880 clips.",
        "",
        "| step | baseline ms/clip | skeletonzoo ms/clip (wall) | ratio | 56,880 clips (wall) |",
        "|---|---|---|---|---|",
        f"| parse one file | {base_ms:.2f} | {ours_ms:.2f} | {base_ms / ours_ms:.1f}x | "
        f"{ours_ms * 56_880 / 60e3:.1f} min (baseline {base_ms * 56_880 / 60e3:.1f} min) |",
    ]
    table += [f"| prepare, {w} worker{'s' if w > 1 else ''} | | {ms:.2f} | | {ms * 56_880 / 60e3:.1f} min |"
              for w, ms in prep.items()]  # fmt: skip
    table += [
        "",
        f"CPU time of the whole preparation with 1 worker (everything runs in one process): {cpu[1]:.2f} ms per "
        f"clip, {cpu[1] * 56_880 / 60e3:.1f} CPU-minutes for NTU-60. Parsing, the bulk of it, runs in "
        "`--workers` processes; whether a second worker shortens the wall time depends on a free core.",
    ]
    if args.write:
        write_section("prepare", "\n".join(table))
    print("\n".join(table))


if __name__ == "__main__":
    main()
