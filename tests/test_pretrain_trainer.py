"""The trainer: schedule, checkpoints, resume (in-process and after a real SIGKILL), failure, export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from pretrain_helpers import stop_after_steps, tiny_prepared, tiny_recipe

from skeletonzoo.checkpoint import load_checkpoint, read_metadata
from skeletonzoo.pretrain.recipe import RecipeError, load_recipe
from skeletonzoo.pretrain.trainer import FAULT_ENV, NonFiniteLossError, Trainer, TrainingInterrupted

REPO = Path(__file__).resolve().parents[1]


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def _assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return tiny_prepared(tmp_path_factory.mktemp("data"))


def test_lr_schedule_and_mining_phase(tmp_path):
    recipe_file = tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=10, **{"optimizer.lr_steps": [4, 8]})
    recipe = load_recipe(recipe_file)
    lrs = [round(recipe.optimizer.lr_at(e), 6) for e in (1, 4, 5, 8, 9, 10)]
    assert lrs == [0.05, 0.05, 0.005, 0.005, 0.0005, 0.0005]


def test_samples_per_second_count_the_clips_of_a_partial_batch(tmp_path, data):
    """Batch 16 without drop_last over 24 clips: steps of 16 and 8 clips, 24 per epoch."""
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=1, batch_size=16, drop_last=False,
                                     **{"optimizer.lr_steps": []}))  # fmt: skip
    Trainer(recipe, data, tmp_path / "run", progress=False).run()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    (epoch,) = [r for r in records if r["event"] == "epoch"]
    assert [r["step"] for r in records if r["event"] == "step"] == [1, 2]
    # (the seconds are rounded to 10 ms; 32 clips would be a third more)
    assert epoch["samples_per_s"] == pytest.approx(24 / epoch["seconds"], rel=0.1), epoch


def test_run_logs_checkpoints_and_exports(tmp_path, data, capsys):
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "crosscale-sgclr"))
    out = tmp_path / "run"
    result = Trainer(recipe, data, out, progress=False).run()
    assert result.epochs_run == 3
    lines = [line for line in capsys.readouterr().err.splitlines() if " epoch " in line]
    assert len(lines) == 3 and all(line.endswith(" samples/s)") for line in lines), lines
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["event"] == "step"]
    assert [r["global_step"] for r in steps] == list(range(1, 10))  # 24 clips / batch 8 = 3 steps x 3 epochs
    epochs = [r for r in records if r["event"] == "epoch"]
    assert [r["mining"] for r in epochs] == [False, True, True]  # mining_epoch=1: cross phase from epoch 2
    assert [r["lr"] for r in epochs] == pytest.approx([0.05, 0.05, 0.005])
    # 3 steps of 8 clips per epoch over the epoch's wall time (rounded to 10 ms in the log)
    assert all(r["samples_per_s"] == pytest.approx(24 / r["seconds"], rel=0.05) for r in epochs), epochs
    assert all(r["joint"] > 0 and r["scale"] > 0 for r in steps)

    loaded = load_checkpoint(result.weights)
    assert set(loaded.encoders) == {"joint", "scale"}
    assert loaded.metadata.components["scale"].input == "grouping:crosscale_parts10"
    prov = loaded.metadata.provenance
    assert prov["epochs_run"] == 3 and prov["seed"] == recipe.seed and prov["recipe"] == recipe.name
    entry = json.loads(result.manifest_entry.read_text())
    import hashlib

    assert entry["sha256"] == hashlib.sha256(result.weights.read_bytes()).hexdigest()
    assert entry["size_bytes"] == result.weights.stat().st_size and entry["filename"] == result.weights.name
    assert entry["training"]["data"]["fingerprint"] == prov["data"]["fingerprint"]
    # the exported joint encoder is the trained query encoder
    state = _state(result.checkpoint)
    for key, value in loaded.encoders["joint"].state_dict().items():
        assert torch.equal(value, state[f"encoder_q.backbone.{key}"]), key
    assert "Epochs run: 3 of 3" in result.model_card.read_text()


def test_refuses_to_overwrite_a_run_and_resume_without_checkpoint(tmp_path, data):
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=1, **{"optimizer.lr_steps": []}))
    Trainer(recipe, data, tmp_path / "run", progress=False).run()
    with pytest.raises(FileExistsError, match="--resume"):
        Trainer(recipe, data, tmp_path / "run", progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer(recipe, data, tmp_path / "other", resume=True, progress=False)
    changed = load_recipe(tiny_recipe(tmp_path / "r2.yaml", "skeletonclr", epochs=1, seed=5,
                                      **{"optimizer.lr_steps": []}))  # fmt: skip
    with pytest.raises(ValueError, match="seed"):
        Trainer(changed, data, tmp_path / "run", resume=True, progress=False)
    # the checkpoints pruned after the run: its export and log are still not overwritten
    import shutil

    shutil.rmtree(tmp_path / "run" / "checkpoints")
    exported = (tmp_path / "run" / "r.safetensors").read_bytes()
    log = (tmp_path / "run" / "metrics.jsonl").read_text()
    with pytest.raises(FileExistsError, match=r"holds an earlier run \(metrics.jsonl, r.safetensors\)"):
        Trainer(recipe, data, tmp_path / "run", progress=False)
    assert (tmp_path / "run" / "r.safetensors").read_bytes() == exported
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == log


@pytest.mark.parametrize("method", ["msmclr", "sgclr"])
def test_interrupt_mid_epoch_then_resume_is_bit_identical(tmp_path, data, method, monkeypatch):
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", method))
    Trainer(recipe, data, tmp_path / "straight", progress=False).run()

    original_step = Trainer.step
    stop_after_steps(monkeypatch, 4)  # epoch 2, step 1 of 3
    with pytest.raises(TrainingInterrupted, match="--resume"):
        Trainer(recipe, data, tmp_path / "resumed", progress=False).run()
    saved = torch.load(tmp_path / "resumed/checkpoints/last.pt", weights_only=True)
    assert (saved["epoch"], saved["step_in_epoch"], saved["global_step"]) == (1, 1, 4)
    monkeypatch.setattr(Trainer, "step", original_step)
    Trainer(recipe, data, tmp_path / "resumed", resume=True, progress=False).run()

    straight, resumed = (_state(tmp_path / f"{run}/checkpoints/last.pt") for run in ("straight", "resumed"))
    _assert_same_state(straight, resumed)
    steps = [json.loads(x)["global_step"] for x in (tmp_path / "resumed/metrics.jsonl").read_text().splitlines()
             if json.loads(x)["event"] == "step"]  # fmt: skip
    assert steps == list(range(1, 10))
    # the interrupted epoch's means cover all its steps, the ones before the interruption too
    assert _epoch_terms(tmp_path / "resumed") == _epoch_terms(tmp_path / "straight")


def _epoch_terms(run: Path) -> list[dict]:  # type: ignore[type-arg]
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    drop = {"seconds", "samples_per_s", "resumed_at_step"}
    return [{k: v for k, v in r.items() if k not in drop} for r in records if r["event"] == "epoch"]


def test_resume_after_an_epochs_last_step_logs_that_epoch_whole(tmp_path, data, monkeypatch):
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "sgclr"))
    Trainer(recipe, data, tmp_path / "straight", progress=False).run()
    original_step = Trainer.step
    stop_after_steps(monkeypatch, 6)  # epoch 2, step 3 of 3: checkpointed before the epoch record
    with pytest.raises(TrainingInterrupted):
        Trainer(recipe, data, tmp_path / "resumed", progress=False).run()
    monkeypatch.setattr(Trainer, "step", original_step)
    Trainer(recipe, data, tmp_path / "resumed", resume=True, progress=False).run()
    assert _epoch_terms(tmp_path / "resumed") == _epoch_terms(tmp_path / "straight")
    epoch2 = [json.loads(x) for x in (tmp_path / "resumed/metrics.jsonl").read_text().splitlines()
              if json.loads(x).get("epoch") == 2 and json.loads(x)["event"] == "epoch"]  # fmt: skip
    assert epoch2[0]["resumed_at_step"] == 3 and epoch2[0]["samples_per_s"] is None


def test_sigkill_then_resume_gives_the_uninterrupted_weights(tmp_path, data):
    """A real kill -9 right after step 5 (checkpoints every 2 steps), then ``--resume``."""
    recipe_file = tiny_recipe(tmp_path / "r.yaml", "aimclr", checkpoint_every_steps=2)
    cli = [sys.executable, "-m", "skeletonzoo.cli.pretrain", str(recipe_file), "--data", str(data)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([*cli, "--out", str(tmp_path / "straight")], env=env, check=True, capture_output=True)
    killed = subprocess.run([*cli, "--out", str(tmp_path / "killed")], env={**env, FAULT_ENV: "5"},
                            capture_output=True)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    assert torch.load(tmp_path / "killed/checkpoints/last.pt", weights_only=True)["global_step"] == 4
    resumed = subprocess.run([*cli, "--out", str(tmp_path / "killed"), "--resume"], env=env, capture_output=True,
                             text=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    straight, killed_then_resumed = (_state(tmp_path / f"{run}/checkpoints/last.pt") for run in ("straight", "killed"))
    _assert_same_state(straight, killed_then_resumed)
    exported = [load_checkpoint(tmp_path / run / f"{recipe_file.stem}.safetensors") for run in ("straight", "killed")]
    _assert_same_state(exported[0].encoders["joint"].state_dict(), exported[1].encoders["joint"].state_dict())
    assert exported[1].metadata.provenance["epochs_run"] == 3


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, data, monkeypatch):
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=3))
    trainer = Trainer(recipe, data, tmp_path / "run", progress=False)
    original_forward = type(trainer.method).forward

    def poisoned(self, views, mining=False):
        out = original_forward(self, views, mining)
        if trainer.position.global_step == 4:  # the 5th step, in epoch 2
            out.loss = out.loss * float("nan")
        return out

    monkeypatch.setattr(type(trainer.method), "forward", poisoned)
    with pytest.raises(NonFiniteLossError, match="last good checkpoint"):
        trainer.run()
    saved = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)
    assert saved["epoch"] == 1 and saved["global_step"] == 3
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


def test_data_layout_and_batch_checks(tmp_path, data):
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", **{"model.encoder.layout": "nwucla20"}))
    with pytest.raises(ValueError, match="layout 'ntu25'"):
        Trainer(recipe, data, tmp_path / "run", progress=False)
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "msmclr", batch_size=6))
    with pytest.raises(ValueError, match="divisible by 8"):
        Trainer(recipe, data, tmp_path / "run", progress=False)


def test_msmclr_keeps_an_incomplete_last_batch_only_when_the_attention_can_take_it(tmp_path):
    """Without drop_last the last batch is trained too; MsMCLR's attention groups rows by 8, so
    20 one-person samples in batches of 8 (last batch 4 rows) are refused before anything is
    written, while 20 two-person samples (last batch 4 x 2 = 8 rows) train all three batches."""
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "msmclr", drop_last=False, epochs=1,
                                     **{"optimizer.lr_steps": []}))  # fmt: skip
    short = tiny_prepared(tmp_path / "d20", n=20)
    with pytest.raises(ValueError, match="last batch of an epoch has 4 x 1 .*keep drop_last true"):
        Trainer(recipe, short, tmp_path / "run20", progress=False)
    assert not (tmp_path / "run20").exists()
    two_persons = tiny_prepared(tmp_path / "d20m2", n=20, m=2)
    trainer = Trainer(recipe, two_persons, tmp_path / "run", progress=False)
    assert [len(b) for b in trainer._batches(1)] == [8, 8, 4]
    trainer.run()
    assert trainer.position.global_step == 3


def test_a_recipe_for_other_data_is_refused_unless_overridden(tmp_path, data):
    """The data (toy xsub) is not what the recipe was written for: the export would be named for
    the recipe's dataset, so the trainer refuses and names the overrides that make it explicit."""
    from skeletonzoo.exceptions import DataMismatchError

    for field, value in (("dataset", "ntu60"), ("benchmark", "xview")):
        recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", **{field: value}))
        with pytest.raises(DataMismatchError, match="holds toy xsub, but recipe 'r' is for") as error:
            Trainer(recipe, data, tmp_path / "run", progress=False)
        assert "--set dataset=toy --set benchmark=xsub" in str(error.value)
        assert not (tmp_path / "run").exists()  # refused before anything was written
    overridden = load_recipe(tmp_path / "r.yaml", ["dataset=toy", "benchmark=xsub"])
    Trainer(overridden, data, tmp_path / "run", progress=False)  # accepted


def test_show_with_resume_prints_the_runs_own_recipe(tmp_path, data, capsys):
    """--show --resume shows what --resume would train: the run's recipe (its --set flags), not the file's."""
    from skeletonzoo.cli.pretrain import main

    recipe_file = tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=1, **{"optimizer.lr_steps": []})
    out = tmp_path / "run"
    assert main([str(recipe_file), "--data", str(data), "--out", str(out), "--set", "model.queue_size=12"]) == 0
    capsys.readouterr()
    assert main([str(recipe_file), "--out", str(out), "--resume", "--show", "--set", "epochs=2"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["model"]["queue_size"], shown["epochs"]) == (12, 2)
    assert main([str(recipe_file), "--show"]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["queue_size"] == 16  # the file's, without --resume


def test_a_layout_mismatch_names_the_remedy_the_method_allows(tmp_path):
    """Data in another layout than the encoder's: retrain in the data's layout where the method
    works on it, else give data in the method's layout (MsMCLR's groupings are on NTU's joints)."""
    data = tiny_prepared(tmp_path / "data", layout="nwucla20")
    for method, remedy in (("skeletonclr", "train on the data's layout (--set model.encoder.layout=nwucla20)"),
                           ("msmclr", "msmclr's joint groupings are defined on 'ntu25' only: give data in 'ntu25'")):
        recipe = load_recipe(tiny_recipe(tmp_path / f"{method}.yaml", method))
        with pytest.raises(ValueError, match=r"positions are in layout 'nwucla20' but recipe") as error:
            Trainer(recipe, data, tmp_path / "run", progress=False)
        assert remedy in str(error.value), str(error.value)


def test_strong_view_flips_the_encoders_layout(tmp_path):
    """AimCLR on 20-joint NW-UCLA skeletons: the flip swaps that layout's left/right joints."""
    data = tiny_prepared(tmp_path / "data", layout="nwucla20")
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "aimclr", epochs=1,
                                     **{"model.encoder.layout": "nwucla20", "optimizer.lr_steps": []}))
    trainer = Trainer(recipe, data, tmp_path / "run", progress=False)
    flip = trainer.views["strong"].flip.index
    assert flip == (0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15)
    result = trainer.run()
    assert result.epochs_run == 1 and result.weights.exists()



def test_spectral_temporal_convolutions_train_and_resume_bit_identically(tmp_path, data, monkeypatch, spectral_calls):
    """temporal_conv: spectral reaches the encoders' wide blocks (hidden_dim 32: the last block's
    stride-1 convolution), and an interrupted run resumes to the uninterrupted weights."""
    from skeletonzoo.models.stgcn import TemporalConv

    fields = {"temporal_conv": "spectral", "model.encoder.hidden_dim": 32}
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "msmclr", **fields))
    trainer = Trainer(recipe, data, tmp_path / "straight", progress=False)
    tcns = [m for m in trainer.method.modules() if isinstance(m, TemporalConv)]
    assert tcns and all(m.algorithm == "spectral" for m in tcns)
    trainer.run()
    # every step computes the last block (32 channels) of the query and key encoders spectrally
    assert spectral_calls and {shape[1] for shape in spectral_calls} == {32}
    original_step = Trainer.step
    stop_after_steps(monkeypatch, 4)
    with pytest.raises(TrainingInterrupted):
        Trainer(recipe, data, tmp_path / "resumed", progress=False).run()
    monkeypatch.setattr(Trainer, "step", original_step)
    # the algorithm is fixed for a run: the error says how to continue as it was trained
    (tmp_path / "direct").mkdir()
    direct = load_recipe(tiny_recipe(tmp_path / "direct/r.yaml", "msmclr", **{**fields, "temporal_conv": "direct"}))
    assert direct.model_dump(exclude={"temporal_conv"}) == recipe.model_dump(exclude={"temporal_conv"})
    with pytest.raises(ValueError, match="resume with --set temporal_conv=spectral"):
        Trainer(direct, data, tmp_path / "resumed", resume=True, progress=False)
    Trainer(recipe, data, tmp_path / "resumed", resume=True, progress=False).run()
    straight, resumed = (_state(tmp_path / f"{run}/checkpoints/last.pt") for run in ("straight", "resumed"))
    _assert_same_state(straight, resumed)


def test_aimclr_trains_with_its_released_drop_and_extreme_view(tmp_path, data):
    """The AimCLR paper recipes' settings (threshold drop, extreme view without joint noise) train."""
    from skeletonzoo.pretrain.attention_drop import ThresholdAttentionDrop

    fields = {"model.attention_drop": "threshold", "model.drop_keep_prob": 0.7, "augment.joint_noise": False}
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "aimclr", epochs=1, **{"optimizer.lr_steps": []}, **fields))
    trainer = Trainer(recipe, data, tmp_path / "run", progress=False)
    assert trainer.views["strong"].joint_noise is None and len(trainer.views["strong"].augmentations) == 7
    assert isinstance(trainer.method.drop, ThresholdAttentionDrop)
    result = trainer.run()
    assert result.epochs_run == 1 and result.weights.exists()


def test_methods_with_ntu_groupings_refuse_other_layouts(tmp_path):
    for method, grouping in (("msmclr", "msmclr_parts10"), ("crosscale-sgclr", "crosscale_parts10")):
        with pytest.raises(RecipeError, match=f"{grouping}.*defined on 'ntu25'.*layout is 'nwucla20'"):
            load_recipe(tiny_recipe(tmp_path / "r.yaml", method, **{"model.encoder.layout": "nwucla20"}))


def test_export_only_records_the_epochs_actually_run(tmp_path, data):
    from skeletonzoo.cli.pretrain import main

    recipe_file = tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=3)
    out = tmp_path / "run"
    recipe = load_recipe(recipe_file)
    trainer = Trainer(recipe, data, out, progress=False)
    trainer._started = time.perf_counter()
    trainer._run_epoch(1, 0)
    trainer.position.epoch, trainer.position.step_in_epoch = 1, 0
    trainer.save_checkpoint()
    assert main([str(recipe_file), "--data", str(data), "--out", str(out), "--export-only"]) == 0
    loaded = load_checkpoint(out / "r.safetensors")
    assert loaded.metadata.provenance["epochs_run"] == 1
    assert loaded.metadata.provenance["epochs_planned"] == 3
    state = _state(out / "checkpoints/last.pt")
    for key, value in loaded.encoders["joint"].state_dict().items():
        assert torch.equal(value, state[f"encoder_q.backbone.{key}"]), key


def test_export_trained_refuses_a_checkpoint_inside_an_epoch_and_out_under_a_file(tmp_path, data):
    """The library does what --export-only and --out checks do: a mid-epoch checkpoint is not
    exported (its epoch is unfinished), and an ``out`` that is or lies under a file is refused."""
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=3))
    trainer = Trainer(recipe, data, tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match="build the Trainer with resume=True"):
        trainer.export_trained()  # a new run: nothing trained to export
    trainer._started = time.perf_counter()
    trainer.step(trainer._batches(1)[0], 1)
    trainer.position.step_in_epoch, trainer.position.global_step = 1, 1
    trainer.save_checkpoint()
    resumed = Trainer(recipe, data, tmp_path / "run", resume=True, progress=False)
    with pytest.raises(ValueError, match=r"last.pt stopped inside an epoch; --resume to finish it first"):
        resumed.export_trained()
    resumed.position.step_in_epoch = 0
    resumed.is_main = False  # another torchrun process: rank 0 alone writes
    assert resumed.export_trained().weights is None
    assert not (tmp_path / "run" / "r.safetensors").exists()
    (tmp_path / "a_file").write_text("")
    with pytest.raises(ValueError, match="a_file is a file; give the folder"):
        Trainer(recipe, data, tmp_path / "a_file", progress=False)
    with pytest.raises(ValueError, match="a_file is a file, so the run's folder cannot be made there"):
        Trainer(recipe, data, tmp_path / "a_file" / "run", progress=False)


def test_provenance_records_the_code_at_start_and_every_resumed_segment(tmp_path, data, monkeypatch):
    import skeletonzoo.pretrain.trainer as trainer_module

    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=2, **{"optimizer.lr_steps": []}))
    monkeypatch.setattr(trainer_module, "software", lambda: {"skeletonzoo": "0", "git_commit": "aaa", "torch": "t"})
    first = Trainer(recipe, data, tmp_path / "run", progress=False)
    monkeypatch.setattr(trainer_module, "software", lambda: {"skeletonzoo": "0", "git_commit": "bbb", "torch": "t"})
    first._started = time.perf_counter()
    first._run_epoch(1, 0)
    first.position.epoch, first.position.step_in_epoch = 1, 0
    first.save_checkpoint()
    result = Trainer(recipe, data, tmp_path / "run", resume=True, progress=False).run()
    prov = load_checkpoint(result.weights).metadata.provenance
    assert prov["software"]["git_commit"] == "aaa"  # what the run started with, not the export's
    assert [s["git_commit"] for s in prov["software_segments"]] == ["aaa", "bbb"]
    entry = json.loads(result.manifest_entry.read_text())
    assert entry["training"]["software"]["git_commit"] == "aaa" and "software_segments" not in entry["training"]
    assert "Resumed under other code" in result.model_card.read_text()


@pytest.mark.parametrize("has_kernels", [False, True])
def test_bf16_on_a_cpu_without_bf16_kernels_warns_with_the_float32_setting(tmp_path, data, monkeypatch, has_kernels):
    """amp: bf16 on an AVX2 CPU emulates bfloat16 (10-13x slower than float32 there): the trainer
    says so and names --set amp=none; float32 recipes and CPUs with the kernels stay silent."""
    import warnings

    import skeletonzoo.pretrain.trainer as trainer_module
    from skeletonzoo.exceptions import SlowPrecisionWarning

    monkeypatch.setattr(trainer_module, "cpu_has_bf16_kernels", lambda: has_kernels)
    for amp in ("bf16", "none"):
        recipe = load_recipe(tiny_recipe(tmp_path / f"{amp}.yaml", "skeletonclr", amp=amp))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Trainer(recipe, data, tmp_path / f"run-{amp}", progress=False)
        slow = [w for w in caught if issubclass(w.category, SlowPrecisionWarning)]
        if amp == "bf16" and not has_kernels:
            assert len(slow) == 1 and "--set amp=none" in str(slow[0].message)
            assert "without bfloat16 kernels" in str(slow[0].message)
        else:
            assert slow == []


def test_cli_prints_the_bf16_warning_as_one_line(tmp_path, data, monkeypatch, capsys):
    import warnings

    import skeletonzoo.pretrain.trainer as trainer_module
    from skeletonzoo.cli.pretrain import main

    monkeypatch.setattr(trainer_module, "cpu_has_bf16_kernels", lambda: False)
    recipe_file = tiny_recipe(tmp_path / "r.yaml", "skeletonclr", amp="bf16", epochs=1, **{"optimizer.lr_steps": []})
    shown_before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main([str(recipe_file), "--data", str(data), "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err.splitlines()
    lines = [line for line in err if "bfloat16" in line]
    assert len(lines) == 1 and lines[0].startswith("skeletonzoo-pretrain: warning: r: amp: bf16 on a CPU")
    assert "--set amp=none" in lines[0] and not any("Trainer(" in line for line in err)
    assert warnings.showwarning is shown_before  # restored for the rest of the process
    assert (tmp_path / "run" / "r.safetensors").exists()  # a warning, not a stop


def test_cpu_bf16_kernel_check_agrees_with_the_cpu_flags(monkeypatch):
    """oneDNN's bf16 kernels need AVX-512 (bw, vl, dq): the check says yes exactly there, from
    torch's op and from the flags alone (a torch build without the op)."""
    from skeletonzoo._machine import cpu_has_bf16_kernels

    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    flags = next((line.split() for line in lines if line.startswith("flags")), None)
    if flags is None:
        pytest.skip("no /proc/cpuinfo flags on this system to compare with")
    expected = {"avx512bw", "avx512vl", "avx512dq"}.issubset(flags)
    assert cpu_has_bf16_kernels() == expected

    def missing() -> bool:
        raise AttributeError("no such op in this build")

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", missing)
    assert cpu_has_bf16_kernels() == expected


def test_export_only_and_resume_reuse_the_runs_own_recipe(tmp_path, data, capsys):
    """The --set flags a run started with need not be repeated: --export-only / --resume read the
    run's recipe.json; a run of another recipe in the folder is named as such."""
    from skeletonzoo.cli.pretrain import main as pretrain_main

    recipe = str(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=3))
    run = str(tmp_path / "run")
    started = ["--data", str(data), "--out", run, "--set", "epochs=1", "--set", "optimizer.lr_steps=[]"]
    assert pretrain_main([recipe, *started]) == 0
    assert pretrain_main([recipe, "--data", str(data), "--out", run, "--export-only"]) == 0
    assert "(1 of 1 epochs)" in capsys.readouterr().out
    other = str(tiny_recipe(tmp_path / "other.yaml", "skeletonclr"))
    for extra in ([], ["--resume"]):
        assert pretrain_main([other, "--data", str(data), "--out", run, *extra]) == 2
        assert "holds a run of recipe 'r', not 'other'" in capsys.readouterr().err


def test_a_checkpoint_from_before_the_command_history_says_its_start_is_not_recorded(tmp_path, data):
    """Resuming a checkpoint written before commands were kept must not present the resume as the
    command that started the run."""
    from skeletonzoo.pretrain.trainer import COMMAND_NOT_RECORDED

    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=1, **{"optimizer.lr_steps": []}))
    Trainer(recipe, data, tmp_path / "run", progress=False, command="skeletonzoo-pretrain r.yaml").run()
    path = tmp_path / "run/checkpoints/last.pt"
    state = torch.load(path, weights_only=False)
    assert json.loads(state.pop("commands")) == ["skeletonzoo-pretrain r.yaml"]
    torch.save(state, path)
    longer = recipe.model_copy(update={"epochs": 2})
    Trainer(longer, data, tmp_path / "run", resume=True, progress=False, command="resume").run()
    provenance = read_metadata(tmp_path / "run/r.safetensors").provenance
    assert (provenance["command"], provenance["later_commands"]) == (COMMAND_NOT_RECORDED, ["resume"])
    assert f"- Command: {COMMAND_NOT_RECORDED}\n- Then: `resume`\n" in (tmp_path / "run/r.md").read_text()


@pytest.fixture
def restore_threads():
    """--threads sets torch's thread count for the whole process: put it back after the test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_resume_refusals_and_repairs_say_what_to_do(tmp_path, data, capsys, restore_threads):
    """--resume cannot shrink a run below what its weights trained; a damaged log line is named; a
    lost recipe.json is read back from the checkpoint; another thread count warns; --out under a file."""
    from skeletonzoo.cli.pretrain import main as pretrain_main

    recipe = str(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=3))
    run = tmp_path / "run"
    base = [recipe, "--data", str(data), "--out", str(run)]
    assert pretrain_main([*base, "--threads", "1", "--set", "epochs=2", "--set", "optimizer.lr_steps=[]"]) == 0
    capsys.readouterr()
    assert pretrain_main([*base, "--resume", "--set", "epochs=1"]) == 2
    assert "is at epoch 2; it cannot become a run of 1 epochs" in capsys.readouterr().err
    # changed fields inside sections are named one by one, each with the --set that gives it back
    saved = json.loads((run / "recipe.json").read_text())
    width, lr = saved["model"]["encoder"]["hidden_channels"], saved["optimizer"]["lr"]
    assert pretrain_main([*base, "--resume", "--set", f"model.encoder.hidden_channels={width + 4}",
                          "--set", "optimizer.lr=0.5"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert (f"model.encoder.hidden_channels (checkpoint {width}, now {width + 4}), optimizer.lr (checkpoint {lr}, "
            f"now 0.5)") in err  # fmt: skip
    assert f"resume with --set model.encoder.hidden_channels={width} --set optimizer.lr={lr}" in err
    with open(run / "metrics.jsonl", "a") as f:
        f.write("{garbage\n")
    assert pretrain_main([*base, "--resume", "--threads", "1", "--set", "epochs=3"]) == 2
    lines = len((run / "metrics.jsonl").read_text().splitlines())
    assert f"metrics.jsonl, line {lines}: not a JSON record" in capsys.readouterr().err
    (run / "metrics.jsonl").write_text("".join(line + "\n" for line in (run / "metrics.jsonl").read_text()
                                                .splitlines()[:-1]))  # fmt: skip
    (run / "recipe.json").unlink()  # the checkpoint's own copy (with its --set flags) takes its place
    assert pretrain_main([*base, "--resume", "--threads", "2", "--set", "epochs=3"]) == 0
    captured = capsys.readouterr()
    assert "(3 epochs," in captured.out
    assert "written by a run with 1 torch threads, this one has 2" in captured.err
    (tmp_path / "a_file").write_text("")
    assert pretrain_main([recipe, "--data", str(data), "--out", str(tmp_path / "a_file" / "sub")]) == 2
    assert f"{tmp_path / 'a_file'} is a file, so the run's folder cannot be made there" in capsys.readouterr().err


def test_a_signal_is_acknowledged_and_a_second_ctrl_c_stops_at_once(tmp_path, data, capsys):
    """A step can take minutes: the first signal is acknowledged at once (the run stops after the
    step, with a checkpoint), a second Ctrl-C stops immediately."""
    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=1, **{"optimizer.lr_steps": []}))
    trainer = Trainer(recipe, data, tmp_path / "run", progress=False)
    with trainer._signals():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs in this thread, between two bytecodes
        assert trainer._stop_signal == signal.SIGINT
        assert "r: stopping after the current step and saving a checkpoint (Ctrl-C again" in capsys.readouterr().err
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)


def test_one_process_at_a_time_trains_into_a_run_folder(tmp_path, data):
    """A second run (or --resume, or --export-only) into a folder another process is training in
    is refused as "in use" before it writes anything; the lock goes with the process."""
    from skeletonzoo._files import exclusive_lock
    from skeletonzoo.pretrain.trainer import LOCK_FILE

    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=1, **{"optimizer.lr_steps": []}))
    run = tmp_path / "run"
    with exclusive_lock(run / LOCK_FILE, "the other run"):  # another process's open file, as far as flock goes
        in_use = r"run \(a skeletonzoo-pretrain run\) is in use by another process \(pid \d+\)"
        for resume in (False, True):
            with pytest.raises(FileExistsError, match=in_use):
                Trainer(recipe, data, run, resume=resume, progress=False)
    assert not (run / "metrics.jsonl").exists()
    trainer = Trainer(recipe, data, run, progress=False)
    trainer.run()  # free again
    assert (run / "r.safetensors").exists()


def test_resume_with_set_applies_it_to_the_runs_own_recipe(tmp_path, data, capsys):
    """--resume --set epochs=N extends a run started with --set flags without repeating them."""
    from skeletonzoo.cli.pretrain import main as pretrain_main

    recipe = str(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", epochs=3))
    run = str(tmp_path / "run")
    assert pretrain_main([recipe, "--data", str(data), "--out", run, "--set", "epochs=1",
                          "--set", "optimizer.lr_steps=[]"]) == 0  # fmt: skip
    assert pretrain_main([recipe, "--data", str(data), "--out", run, "--resume", "--set", "epochs=2"]) == 0
    assert "(2 epochs," in capsys.readouterr().out
    events = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    resumed = [e for e in events if e["event"] == "resume"]
    assert len(resumed) == 1 and (resumed[0]["epoch"], resumed[0]["step_in_epoch"]) == (1, 0)
    assert "2 epochs" in resumed[0]["summary"] and events.index(resumed[0]) == [e["event"] for e in events].index(
        "epoch") + 1  # right after the first segment's last record
    # the export records every command that worked on the run, the one that started it first
    assert pretrain_main([recipe, "--data", str(data), "--out", run, "--export-only"]) == 0
    started = f"skeletonzoo-pretrain {recipe} --data {data} --out {run} --set epochs=1 --set 'optimizer.lr_steps=[]'"
    later = [f"skeletonzoo-pretrain {recipe} --data {data} --out {run} --resume --set epochs=2",
             f"skeletonzoo-pretrain {recipe} --data {data} --out {run} --export-only"]  # fmt: skip
    provenance = read_metadata(tmp_path / "run/r.safetensors").provenance
    assert (provenance["command"], provenance["later_commands"]) == (started, later)
    entry = json.loads((tmp_path / "run/r.manifest.json").read_text())["training"]
    assert (entry["command"], entry["later_commands"]) == (started, later)
    card = (tmp_path / "run/r.md").read_text()
    assert f"- Command: `{started}`\n- Then: `{later[0]}`\n- Then: `{later[1]}`\n" in card
    assert pretrain_main([recipe, "--data", str(data), "--out", run, "--resume", "--set", "epoch=3"]) == 2
    err = capsys.readouterr().err
    assert "recipe.json: invalid recipe: --set epoch=3: unknown field; did you mean 'epochs'?" in err


def test_a_queue_larger_than_the_data_is_warned_about(tmp_path, data, capsys):
    from skeletonzoo.cli.pretrain import main as pretrain_main
    from skeletonzoo.exceptions import RecipeFitWarning

    recipe = load_recipe(tiny_recipe(tmp_path / "r.yaml", "skeletonclr", **{"model.queue_size": 64}))
    with pytest.warns(RecipeFitWarning, match="a queue of 64 keys is larger than the 24 training samples.*"
                                              "--set model.queue_size=16") as caught:  # fmt: skip
        Trainer(recipe, data, tmp_path / "run", progress=False)
    assert caught[0].filename == __file__  # the warning points at the caller, not into the Trainer
    args = [str(tmp_path / "r.yaml"), "--data", str(data), "--out", str(tmp_path / "cli"), "--set", "epochs=1",
            "--set", "optimizer.lr_steps=[]"]  # fmt: skip
    assert pretrain_main(args) == 0
    err = capsys.readouterr().err
    assert "skeletonzoo-pretrain: warning: r: a queue of 64 keys is larger than the 24 training samples" in err
    assert "Warning" not in err  # one line, not Python's two-line warning
