"""Run under torchrun by test_pretrain_ddp.py: a SIGTERM that reaches rank 1 alone, during its
second step, must stop both processes after that step with one checkpoint (not leave rank 0
waiting in the next step's collectives).

Each process writes ``OUT/stopped{R}.txt`` with the global step it stopped at.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from skeletonzoo.pretrain.recipe import load_recipe
from skeletonzoo.pretrain.trainer import Trainer, TrainingInterrupted


def main(out: str, data: str, recipe_path: str) -> None:
    torch.set_num_threads(1)
    trainer = Trainer(load_recipe(recipe_path), data, Path(out) / "run", progress=False)
    step = Trainer.step

    def step_then_signal(self: Trainer, index: list[int], epoch: int) -> dict[str, float]:
        values = step(self, index, epoch)
        if dist.get_rank() == 1 and self.position.global_step == 1:  # counted after the step: the second
            os.kill(os.getpid(), signal.SIGTERM)
        return values

    Trainer.step = step_then_signal  # type: ignore[method-assign]
    try:
        trainer.run()
        stopped = "finished"
    except TrainingInterrupted:
        stopped = str(trainer.position.global_step)
    (Path(out) / f"stopped{dist.get_rank()}.txt").write_text(stopped)


if __name__ == "__main__":
    main(*sys.argv[1:4])
