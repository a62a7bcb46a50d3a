"""Mean and spread of ``skeletonzoo-eval`` results over several training runs (not installed).

Each argument is a report written by ``skeletonzoo-eval ... --json FILE`` (one per run: the
same recipe trained with different seeds, say). Prints one row per metric the reports share:
each run's value, the mean, the sample standard deviation (n - 1) and the range. Behind the
seed table of docs/results.md.

    python scripts/seed_spread.py seed0.json seed1.json seed2.json
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def read_metrics(path: Path) -> dict[str, float]:
    """``{metric name: value}`` of one skeletonzoo-eval JSON report."""
    report = json.loads(path.read_text())
    if not isinstance(report, dict) or "metrics" not in report:
        raise SystemExit(f"{path}: not a skeletonzoo-eval report (no 'metrics'; write one with --json FILE)")
    return {m["name"]: float(m["value"]) for m in report["metrics"]}


def spread_rows(runs: list[dict[str, float]]) -> list[tuple[str, list[float], float, float]]:
    """``(metric, values, mean, sample std)`` for every metric all runs have, in the first run's order."""
    shared = [name for name in runs[0] if all(name in r for r in runs[1:])]
    rows = []
    for name in shared:
        values = [r[name] for r in runs]
        std = statistics.stdev(values) if len(values) > 1 else float("nan")
        rows.append((name, values, statistics.fmean(values), std))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="skeletonzoo-eval --json files, one per run")
    args = parser.parse_args(argv)
    runs = [read_metrics(p) for p in args.reports]
    rows = spread_rows(runs)
    if not rows:
        raise SystemExit("the reports share no metric")
    width = max(len(name) for name, *_ in rows)
    columns = [max(6, len(p.stem)) for p in args.reports]  # each run's column as wide as its file's name
    header = "  ".join(f"{p.stem:>{w}}" for p, w in zip(args.reports, columns))
    print(f"{'metric':<{width}}  {header}    mean    std   range")
    for name, values, mean, std in rows:
        cells = "  ".join(f"{v:>{w}.2f}" for v, w in zip(values, columns))
        print(f"{name:<{width}}  {cells}  {mean:6.2f}  {std:5.2f}  {min(values):.2f}-{max(values):.2f}")


if __name__ == "__main__":
    main()
