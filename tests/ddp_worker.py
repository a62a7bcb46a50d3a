"""Run under torchrun by test_pretrain_ddp.py: one training step in each of 2 gloo processes.

Each process records the keys it computed, then saves its queue, its keys, the indices of its
batch and its parameters to ``OUT/rank{R}.pt``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

import skeletonzoo.pretrain.methods.skeletonclr as skeletonclr_module
from skeletonzoo.pretrain.moco import gather_keys
from skeletonzoo.pretrain.recipe import load_recipe
from skeletonzoo.pretrain.trainer import Trainer


def main(out: str, data: str, recipe_path: str) -> None:
    torch.set_num_threads(1)
    local: list[torch.Tensor] = []

    def recording_gather(keys: torch.Tensor) -> torch.Tensor:
        local.append(keys.detach().clone())
        return gather_keys(keys)

    skeletonclr_module.gather_keys = recording_gather
    trainer = Trainer(load_recipe(recipe_path), data, Path(out) / "run", progress=False)
    trainer._started = time.perf_counter()
    batch = trainer._batches(1)[0]
    queue_before = trainer.method.queue.queue.clone()
    trainer.step(batch, 1)
    rank = dist.get_rank()
    torch.save(
        {
            "world_size": dist.get_world_size(),
            "batch": torch.tensor(batch),
            "local_keys": local[0],
            "queue_before": queue_before,
            "queue": trainer.method.queue.queue.clone(),
            "ptr": trainer.method.queue.ptr.clone(),
            "params": {n: p.detach().clone() for n, p in trainer.method.named_parameters()},
        },
        Path(out) / f"rank{rank}.pt",
    )
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:4])
