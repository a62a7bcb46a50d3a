"""``skeletonzoo demo``: offline, on the bundled weights, head, bank and clips."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

import skeletonzoo as sz
from skeletonzoo.demo import DEMO_MODEL, SAMPLES_DIR, run_demo
from skeletonzoo.exceptions import ChecksumError


@pytest.fixture(scope="module")
def result():
    out = io.StringIO()
    return run_demo(file=out), out.getvalue()


def test_demo_predictions_are_the_bundled_head_on_embed(result):
    demo, text = result
    with np.load(SAMPLES_DIR / "nwucla_clips.npz", allow_pickle=False) as z:
        joints, offsets, names, labels = z["joints"], z["offsets"], list(z["names"]), z["labels"]
    assert [r.name for r in demo.rows] == [str(n) for n in names]
    assert [r.true_label for r in demo.rows] == labels.tolist()
    assert sorted(set(labels.tolist())) == list(range(10))  # one clip per class
    clips = [joints[offsets[i] : offsets[i + 1]].transpose(2, 0, 1)[..., None] for i in range(len(names))]
    features = torch.from_numpy(sz.embed(sz.load(DEMO_MODEL), clips, layout="nwucla20"))
    assets = load_file(str(SAMPLES_DIR / f"{DEMO_MODEL}.demo.safetensors"))
    predicted = (features @ assets["head.weight"].t() + assets["head.bias"]).argmax(1)
    assert [r.predicted for r in demo.rows] == predicted.tolist()
    nearest = (F.normalize(features, dim=1) @ assets["bank.features"].float().t()).argmax(1)
    assert [r.neighbour_label for r in demo.rows] == assets["bank.labels"][nearest].tolist()
    for row in demo.rows:
        assert row.name in text and demo.class_names[row.true_label] in text
    assert f"{demo.correct}/{len(demo.rows)} predicted correctly" in text
    assert "sha256 verified" in text


def test_demo_runs_offline_from_the_cli(monkeypatch, capsys):
    from skeletonzoo.cli.main import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    assert main(["demo"]) == 0
    assert "predicted correctly" in capsys.readouterr().out


def test_tampered_assets_are_refused(tmp_path):
    copy = tmp_path / "samples"
    shutil.copytree(SAMPLES_DIR, copy)
    index = json.loads((copy / "demo.json").read_text())
    clips = copy / "nwucla_clips.npz"
    data = bytearray(clips.read_bytes())
    data[len(data) // 2] ^= 0xFF
    clips.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="reinstall"):
        run_demo(samples_dir=copy, file=io.StringIO())
    assert set(index["files"]) == {"nwucla_clips.npz", f"{DEMO_MODEL}.demo.safetensors"}
