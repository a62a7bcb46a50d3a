"""Tiny prepared datasets and recipes for the trainer tests (seconds on a CPU)."""

from __future__ import annotations

import signal
import warnings
from pathlib import Path

import numpy as np
import yaml

from skeletonzoo.data import PreparedSplit, write_prepared
from skeletonzoo.exceptions import DuplicateSampleWarning

TINY_ENCODER = {"hidden_channels": 4, "hidden_dim": 16}


def tiny_prepared(root: Path, n: int = 24, t: int = 12, m: int = 1, seed: int = 0, layout: str = "ntu25") -> Path:
    """Random-walk skeletons (N, 3, T, V, M) in a prepared directory with train/test splits."""
    from skeletonzoo.skeleton import get_layout

    v = get_layout(layout).num_joints
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, 3, 1, v, m)) * 0.3
    walk = np.cumsum(rng.normal(size=(n, 3, t, v, m)) * 0.02, axis=2)
    positions = (base + walk).astype(np.float32)
    labels = np.arange(n) % 3
    names = [f"clip{i:03d}" for i in range(n)]
    with warnings.catch_warnings():  # the tiny test split is the first training clips, on purpose
        warnings.simplefilter("ignore", DuplicateSampleWarning)
        write_prepared(
            root,
            {"train": PreparedSplit(positions, labels, names),
             "test": PreparedSplit(positions[:6], labels[:6], names[:6])},
            dataset="toy", benchmark="xsub", layout=layout, num_classes=3,
        )  # fmt: skip
    return root


def tiny_recipe(path: Path, method: str, **fields: object) -> Path:
    """A recipe YAML for a tiny model: batch 8, 3 epochs, queue 16 (below the 24 clips of tiny_prepared)."""
    recipe: dict = {
        "method": method,
        "dataset": "toy",
        "benchmark": "xsub",
        "epochs": 3,
        "batch_size": 8,
        "optimizer": {"lr": 0.05, "lr_steps": [2]},
        "model": {"encoder": dict(TINY_ENCODER), "queue_size": 16, "mining_epoch": 1, "feature_dim": 8},
        "checkpoint_every": 1,
    }
    for key, value in fields.items():
        node = recipe
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    path.write_text(yaml.safe_dump(recipe))
    return path


def stop_after_steps(monkeypatch, steps: int) -> None:  # type: ignore[no-untyped-def]
    """Make every Trainer act as if SIGTERM arrived during step ``steps`` (global, from 1): it
    finishes that step, saves a checkpoint and raises ``TrainingInterrupted``."""
    from skeletonzoo.pretrain.trainer import Trainer

    original_step = Trainer.step

    def step(self, index, epoch):  # type: ignore[no-untyped-def]
        values = original_step(self, index, epoch)
        if self.position.global_step + 1 == steps:  # the step just computed (counted after it returns)
            self._stop_signal = signal.SIGTERM
        return values

    monkeypatch.setattr(Trainer, "step", step)
