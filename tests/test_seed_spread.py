"""scripts/seed_spread.py: the mean and sample spread of skeletonzoo-eval reports."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "seed_spread.py"


def _module():
    spec = importlib.util.spec_from_file_location("seed_spread", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _report(path: Path, **metrics: float) -> Path:
    records = [{"name": k, "value": v, "protocol": "p", "dataset": "nwucla", "split": "xview", "command": "c"}
               for k, v in metrics.items()]  # fmt: skip
    path.write_text(json.dumps({"format": 1, "model": "m", "metrics": records}))
    return path


def test_spread_over_reports_mean_sample_std_and_shared_metrics_only(tmp_path, capsys):
    mod = _module()
    files = [
        _report(tmp_path / "s0.json", linear_top1_last=70.0, knn_top1=60.0, semi1_top1_last=30.0),
        _report(tmp_path / "s1.json", linear_top1_last=74.0, knn_top1=66.0),
        _report(tmp_path / "s2.json", linear_top1_last=78.0, knn_top1=63.0),
    ]
    rows = mod.spread_rows([mod.read_metrics(p) for p in files])
    assert [r[0] for r in rows] == ["linear_top1_last", "knn_top1"]  # semi1 is not in every report
    name, values, mean, std = rows[0]
    assert values == [70.0, 74.0, 78.0] and mean == pytest.approx(74.0) and std == pytest.approx(4.0)
    assert rows[1][2] == pytest.approx(63.0) and rows[1][3] == pytest.approx(3.0)
    mod.main([str(p) for p in files])
    out = capsys.readouterr().out
    assert "74.00   4.00  70.00-78.00" in out and "semi1" not in out


def test_one_report_has_no_spread_and_a_wrong_file_says_what_it_needs(tmp_path):
    mod = _module()
    rows = mod.spread_rows([mod.read_metrics(_report(tmp_path / "a.json", knn_top1=50.0))])
    assert rows[0][2] == 50.0 and math.isnan(rows[0][3])
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(SystemExit, match="not a skeletonzoo-eval report"):
        mod.read_metrics(bad)
