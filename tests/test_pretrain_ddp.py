"""Two gloo processes under torchrun: keys of both ranks enter the (identical) queues, and
the parameters stay identical after a step."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from pretrain_helpers import tiny_prepared, tiny_recipe

from skeletonzoo.pretrain.methods import METHODS, MethodConfig
from skeletonzoo.pretrain.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]


def test_two_process_step_keeps_single_process_queue_semantics(tmp_path):
    data = tiny_prepared(tmp_path / "data")
    # the papers' widths: oneDNN then gives the 1x1 convolutions' weights channels_last gradients
    recipe_file = tiny_recipe(tmp_path / "r.yaml", "skeletonclr", batch_size=8,
                              **{"model.encoder.hidden_channels": 16, "model.encoder.hidden_dim": 256})  # fmt: skip
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}", "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(REPO / "tests" / "ddp_worker.py"), str(tmp_path), str(data), str(recipe_file)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Grad strides do not match" not in run.stderr  # the gradients come in their weights' layout
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["world_size"] == 2
    b = len(r0["batch"])
    assert b == 4  # global batch 8 over 2 processes
    assert not set(r0["batch"].tolist()) & set(r1["batch"].tolist()), "ranks see different samples"
    # the queues are identical and hold rank 0's keys, then rank 1's, at the old pointer (0)
    assert torch.equal(r0["queue"], r1["queue"])
    torch.testing.assert_close(r0["queue"][:, :b], r0["local_keys"].t(), rtol=0, atol=0)
    torch.testing.assert_close(r0["queue"][:, b : 2 * b], r1["local_keys"].t(), rtol=0, atol=0)
    assert torch.equal(r0["queue"][:, 2 * b :], r0["queue_before"][:, 2 * b :])
    assert int(r0["ptr"]) == int(r1["ptr"]) == 2 * b
    # DDP averaged the gradients: both ranks took the same step, away from the initial weights
    recipe = load_recipe(recipe_file)
    initial = METHODS["skeletonclr"](MethodConfig.model_validate(recipe.model.model_dump()),
                                     torch.Generator().manual_seed(recipe.seed))  # fmt: skip
    moved = 0
    for name, p0 in r0["params"].items():
        assert torch.equal(p0, r1["params"][name]), name
        moved += not torch.equal(p0, dict(initial.named_parameters())[name].detach())
    assert moved > len(r0["params"]) // 2


def test_a_signal_to_one_process_stops_both_after_the_same_step(tmp_path):
    """SIGTERM to rank 1 alone: both processes stop after that step with one checkpoint (rank 0 used
    to wait forever in the next step's collectives), and the run resumes under torchrun."""
    data = tiny_prepared(tmp_path / "data")
    recipe_file = tiny_recipe(tmp_path / "r.yaml", "skeletonclr", batch_size=8)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'tests'}", "OMP_NUM_THREADS": "1"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    run = subprocess.run([*torchrun, str(REPO / "tests" / "ddp_stop_worker.py"), str(tmp_path), str(data),
                          str(recipe_file)], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert [(tmp_path / f"stopped{r}.txt").read_text() for r in (0, 1)] == ["2", "2"]
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert (state["global_step"], state["world_size"]) == (2, 2)
    cli = [*torchrun, "-m", "skeletonzoo.cli.pretrain", str(recipe_file), "--data", str(data), "--out",
           str(tmp_path / "run")]  # fmt: skip
    # a refusal of rank 0's (the folder holds a run) stops every process with its message
    refused = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120)
    # (torchrun adds its own report of the failed processes, and gloo's teardown can still abort a
    # process after it printed, now and then: both out of our hands; the rank that died in a collective
    # with "Connection closed by peer" instead of the message is what this checks)
    assert refused.returncode != 0 and "exists: pass --resume to continue that run" in refused.stderr
    assert "Connection closed by peer" not in refused.stderr, refused.stderr
    resumed = subprocess.run([*cli, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (tmp_path / "run" / "r.safetensors").is_file()
