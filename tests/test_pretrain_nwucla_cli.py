"""Every NW-UCLA recipe trains from the CLI on real NW-UCLA clips, CI-sized: both phases, export.

A subset of the real clips (``shared/data/nwucla``, prepared as ``skeletonzoo prepare nwucla``
prepares them), two epochs with the mining / cross-scale phase from the second, narrow
encoders and float32 (bf16 is emulated, minutes per step, on CPUs without AVX-512). The recipe
is each zoo entry's own; the ``--set`` flags only shrink it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import shared_file

from skeletonzoo.checkpoint import load_checkpoint
from skeletonzoo.cli.pretrain import main
from skeletonzoo.data import PreparedSplit, write_prepared
from skeletonzoo.data.nwucla import NWUCLA_PREPROCESS, prepare_nwucla, read_nwucla_npz

NAMES = ["skeletonclr", "sgclr", "aimclr", "msmclr", "crosscale-sgclr"]
SMALL = ["epochs=2", "batch_size=16", "amp=none", "optimizer.lr_steps=[1]", "model.mining_epoch=1",
         "model.queue_size=32", "model.encoder.hidden_channels=4", "model.encoder.hidden_dim=16",
         "model.feature_dim=8", "checkpoint_every=1"]  # fmt: skip


@pytest.fixture(scope="module")
def nwucla_subset(tmp_path_factory):
    """Every 16th training clip (64, all ten actions) and every 29th test clip, prepared."""
    splits = prepare_nwucla(read_nwucla_npz(shared_file("data/nwucla/nwucla.npz")))
    small = {
        "train": PreparedSplit(splits["train"].positions[::16], splits["train"].labels[::16],
                               splits["train"].names[::16]),
        "test": PreparedSplit(splits["test"].positions[::29], splits["test"].labels[::29], splits["test"].names[::29]),
    }  # fmt: skip
    assert len(np.unique(small["train"].labels)) == 10
    root = tmp_path_factory.mktemp("nwucla")
    write_prepared(root, small, dataset="nwucla", benchmark="xview", layout="ntu25", num_classes=10,
                   preprocessing=NWUCLA_PREPROCESS.to_dict())  # fmt: skip
    return root


@pytest.mark.slow
@pytest.mark.parametrize("method", NAMES)
def test_nwucla_recipe_trains_from_the_cli(method, nwucla_subset, tmp_path, capsys):
    name = f"{method}-nwucla-xview"
    out = tmp_path / "run"
    sets = [a for s in SMALL for a in ("--set", s)]
    assert main([name, "--data", str(nwucla_subset), "--out", str(out), *sets]) == 0
    assert f"wrote {out / name}.safetensors (2 epochs" in capsys.readouterr().out
    events = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    epochs = [e for e in events if e["event"] == "epoch"]
    steps = [e for e in events if e["event"] == "step"]
    phases = method not in ("skeletonclr", "sgclr")  # the others have a mining / cross-scale phase
    assert [e["mining"] for e in epochs] == [False, phases]  # both phases ran
    assert len(steps) == 2 * 4 and all(np.isfinite(e["loss"]) for e in steps)  # 64 clips, batch 16
    exported = load_checkpoint(out / f"{name}.safetensors")
    assert exported.metadata.provenance["epochs_run"] == 2 and exported.metadata.provenance["recipe"] == name
    expected = {"joint", "scale"} if method == "crosscale-sgclr" else {"joint"}
    assert set(exported.encoders) == expected
    entry = json.loads((out / f"{name}.manifest.json").read_text())
    assert entry["training"]["data"]["fingerprint"] == exported.metadata.provenance["data"]["fingerprint"]
