"""The pretraining loop: SGD with the papers' schedule, AMP, DDP, checkpoints, resume, export.

One :class:`Trainer` runs one recipe on one prepared dataset:

* **Data**: ``open_prepared(data, "train")``; a ``DistributedSampler`` (one replica without
  DDP) shuffles with the recipe's seed and the epoch, batches of ``batch_size / world_size``
  per process are read from the memory map; the views are augmented **batched on the
  device** (``pretrain.augment``) from one ``torch.Generator`` per process, then the recipe's
  stream is derived from them (positions are augmented, not motion or bone, as the original
  processors do).
* **Precision**: ``amp: bf16`` runs the ST-GCN blocks of every encoder in bfloat16 autocast
  (``SkeletonEncoder.compute_dtype``); heads, logits, losses and queues stay float32.
  ``temporal_conv: spectral`` computes float32 temporal convolutions on the CPU in the
  frequency domain (``models.spectral_conv``: the same function, fewer products).
* **Step**: the method's forward (which momentum-updates the key side and enqueues the keys,
  gathered from every process first, so an N-process run keeps one process's queue
  semantics), a finiteness check agreed by every process, backward, SGD.
* **Checkpoints**: ``OUT/checkpoints/last.pt`` every ``checkpoint_every`` epochs (and every
  ``checkpoint_every_steps`` steps, and on SIGINT/SIGTERM), written atomically by rank 0,
  holding the method (both sides, queues, realised graphs), the optimiser, every random state,
  the position in the run and the wall time so far. ``resume=True`` continues from it; on CPU
  the result is bit-identical to an uninterrupted run.
* **Failure**: a non-finite loss stops the run with :class:`NonFiniteLossError`; the last good
  checkpoint is left as it was.
* **Logs**: ``OUT/metrics.jsonl`` (one JSON object per step and per epoch), a progress bar with
  loss, lr and samples/s when stderr is a terminal, a line per epoch otherwise.
* **Export**: at the end, the query encoder(s) and heads go to ``OUT/{name}.safetensors`` in
  the zoo's checkpoint format, with a model card ``OUT/{name}.md`` and a manifest entry
  ``OUT/{name}.manifest.json`` (the manifest's fields: filename, sha256, size_bytes, licence,
  and the training record: recipe, seed, data fingerprint, wall time, hardware, software).
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shlex
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from pydantic import BaseModel
from torch import nn
from torch.utils.data import BatchSampler, DistributedSampler
from tqdm.auto import tqdm

from .._files import atomic_write, atomic_write_text, exclusive_lock, sha256_file
from .._machine import cpu_has_bf16_kernels, hardware, usable_device
from ..checkpoint import save_checkpoint
from ..data.prepared import PreparedData, open_prepared
from ..data.streams import to_stream
from ..exceptions import (
    CheckpointError,
    DataMismatchError,
    RecipeFitWarning,
    ResumeWarning,
    SkeletonZooError,
    SlowPrecisionWarning,
)
from ..model_card import COMMAND_NOT_RECORDED, training_card
from ..models import SkeletonEncoder
from ..models.stgcn import set_temporal_conv
from ..skeleton.layouts import get_layout
from ._provenance import software
from .augment import Compose
from .methods import METHODS, ContrastiveMethod
from .recipe import Recipe
from .views import normal_view, strong_view

__all__ = ["Trainer", "TrainResult", "NonFiniteLossError", "TrainingInterrupted", "STATE_FORMAT"]

#: Held by the process training or exporting into a run folder (``Trainer.locked``).
LOCK_FILE = ".lock"
#: The resolved recipe a run was started with, in its folder (``--set`` flags included).
RECIPE_FILE = "recipe.json"

STATE_FORMAT = "skeletonzoo.train-state/1"
# Recipe fields a resumed run may change: how long it runs and how often it saves.
RESUMABLE_CHANGES = {"epochs", "checkpoint_every", "checkpoint_every_steps", "notes"}
# Testing hook: SIGKILL this process right after the given global step (a real, unclean kill).
FAULT_ENV = "SKELETONZOO_FAULT_AFTER_STEP"


class NonFiniteLossError(SkeletonZooError):
    """The loss became NaN or infinite; the run stopped and kept its last good checkpoint."""


class TrainingInterrupted(SkeletonZooError):
    """SIGINT/SIGTERM: the run saved a checkpoint at the current step and stopped."""


@dataclass
class TrainResult:
    """What a finished run produced."""

    checkpoint: Path | None
    weights: Path | None
    model_card: Path | None
    manifest_entry: Path | None
    epochs_run: int
    wall_time_s: float


@dataclass
class _Position:
    """Where a run is: ``epoch`` epochs complete, then ``step_in_epoch`` steps of the next."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0


def _distributed() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)``; initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0"))
    return 0, 1, 0


def _field_differences(path: str, old: Any, new: Any) -> list[tuple[str, Any, Any]]:
    """``(dotted field, old, new)`` for every leaf field that differs between two recipe values."""
    if isinstance(old, BaseModel) and isinstance(new, BaseModel) and type(old) is type(new):
        return [d for name in type(old).model_fields
                for d in _field_differences(f"{path}.{name}", getattr(old, name), getattr(new, name))]  # fmt: skip
    return [] if old == new else [(path, old, new)]


def _set_value(value: Any) -> str:
    """A field value as ``--set`` parses it back (YAML): strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(list(value) if isinstance(value, tuple) else value)


def saved_run_recipe(out: str | Path) -> dict[str, Any] | None:
    """The recipe mapping the run in ``out`` was started with: its ``recipe.json``, or when that
    is missing or damaged the copy its checkpoint holds; ``None`` when neither can be read."""
    try:
        saved = json.loads((Path(out) / RECIPE_FILE).read_text())
        if isinstance(saved, dict):
            return saved
    except (OSError, ValueError):
        pass
    try:  # every checkpoint records the recipe it was trained with
        state = torch.load(Path(out) / "checkpoints" / "last.pt", map_location="cpu", weights_only=True)
        saved = json.loads(state["recipe"])
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, ValueError, KeyError, TypeError):
        return None
    return saved if isinstance(saved, dict) else None


def _in_layout_of(param: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """A gradient hook giving ``param``'s gradient ``param``'s strides.

    The 1x1 convolutions (residual projections, motion attention) see ``channels_last`` maps, so
    their ``(C_out, C_in, 1, 1)`` weight gradients can come out with ``channels_last`` strides:
    the same memory order (only the strides of the size-1 dimensions differ), but DDP compares
    every stride with its bucket's and warns on each rank that performance may suffer. The copy
    this makes instead, where strides differ, is of these small weights only.
    """

    def hook(grad: torch.Tensor) -> torch.Tensor:
        if grad.stride() == param.stride():
            return grad
        return torch.empty_strided(param.shape, param.stride(), dtype=grad.dtype, device=grad.device).copy_(grad)

    return hook


def _queue_for(num_samples: int) -> int:
    """A queue size to suggest: the largest power of two below ``num_samples`` (1020 -> 512)."""
    return 1 << max(0, (num_samples - 1).bit_length() - 1)


class Trainer:
    """Run one recipe on one prepared dataset.

    Args:
        recipe: The validated recipe.
        data: A prepared dataset directory (``skeletonzoo prepare``); its ``train`` split is used.
        out: Output directory (checkpoints, metrics, exported weights).
        resume: Continue from ``OUT/checkpoints/last.pt``.
        device: Default: ``cuda:LOCAL_RANK`` when CUDA is available, else CPU.
        progress: Progress bar; default when stderr is a terminal (rank 0 only).
        command: The command line, recorded in the provenance.
    """

    def __init__(
        self,
        recipe: Recipe,
        data: str | Path,
        out: str | Path,
        *,
        resume: bool = False,
        device: str | torch.device | None = None,
        progress: bool | None = None,
        command: str | None = None,
    ) -> None:
        self.recipe = recipe
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"--out {out} is a file; give the folder for the run's checkpoints, log and export")
        blocking = next((p for p in self.out.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise ValueError(f"--out {out}: {blocking} is a file, so the run's folder cannot be made there; choose "
                             "another --out")  # fmt: skip
        self.rank, self.world_size, local_rank = _distributed()
        if device is None:
            device = f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
        self.device = usable_device(device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.is_main = self.rank == 0
        self.progress = (sys.stderr.isatty() if progress is None else progress) and self.is_main
        if recipe.batch_size % self.world_size:
            raise ValueError(
                f"batch_size {recipe.batch_size} is not divisible by the {self.world_size} processes; "
                "set --set batch_size=... to a multiple"
            )
        self.local_batch = recipe.batch_size // self.world_size

        self._open_data(data)
        self._build_model()
        self.position = _Position()
        self.elapsed_before = 0.0
        # the code that runs this process; recorded now, not at export (the checkout may move on)
        self.software_history: list[dict[str, str | None]] = [software()]
        # the command of every invocation that worked on this run: start, resumes, export (None: Python)
        self.command_history: list[str | None] = [command]
        self.checkpoint_path = self.out / "checkpoints" / "last.pt"
        self.metrics_path = self.out / "metrics.jsonl"
        self._stop_signal: int | None = None
        self.resumed = resume  # from OUT/checkpoints/last.pt (what export_trained exports)
        self._check_out_on_every_rank(resume)

    def _check_out_on_every_rank(self, resume: bool) -> None:
        """:meth:`_check_out`, whose checks of ``out`` run on rank 0: under DDP its refusal is shared,
        so every process stops with the same message (the others went on and died in a collective)."""
        if self.world_size == 1:
            self._check_out(resume)
            return
        failure: BaseException | None = None
        try:
            self._check_out(resume)
        except (SkeletonZooError, OSError, ValueError) as exc:
            failure = exc
        verdicts: list[BaseException | None] = [None] * self.world_size
        dist.all_gather_object(verdicts, failure)
        first = next((v for v in verdicts if v is not None), None)
        if first is not None:
            raise first

    def _open_data(self, data: str | Path) -> None:
        """The prepared ``train`` split, checked against the recipe and its recorded hashes."""
        recipe = self.recipe
        self.data: PreparedData = open_prepared(data, "train")
        self._check_data()
        self.data.verify()  # the files are what meta.json (and so the recorded fingerprint) says
        self.positions = self.data.positions
        if self.is_main and recipe.model.queue_size > len(self.data):
            warnings.warn(
                f"{recipe.name}: a queue of {recipe.model.queue_size} keys is larger than the {len(self.data)} "
                "training samples, so every sample is among its own negatives (several times over); a queue "
                f"below the data size suits it, e.g. --set model.queue_size={_queue_for(len(self.data))} (the "
                "NW-UCLA recipes use 512 for 1020 clips, docs/pretrain.md)",
                RecipeFitWarning,
                stacklevel=3,  # Trainer's caller
            )
        if len(self.data) < recipe.batch_size and recipe.drop_last:
            raise ValueError(
                f"{data}: {len(self.data)} training samples, fewer than one batch of {recipe.batch_size}"
            )

    def _build_model(self) -> None:
        """Seeds, the method (identical on every process), the views, precision, optimiser, DDP."""
        recipe = self.recipe
        torch.manual_seed(recipe.seed + 1_000_003 * self.rank)  # dropout and other global draws
        init = torch.Generator().manual_seed(recipe.seed)  # identical model on every process
        self.method: ContrastiveMethod = METHODS[recipe.method](recipe.model, init).to(self.device)
        self.augment_generator = torch.Generator(self.device).manual_seed(recipe.seed * 7919 + self.rank + 1)
        if hasattr(self.method, "generator"):
            self.method.generator = torch.Generator(self.device).manual_seed(recipe.seed * 104729 + self.rank + 2)
        self.views = self._build_views()
        # the float32 blocks' temporal convolutions (CPU): direct or in the frequency domain
        set_temporal_conv(self.method, recipe.temporal_conv)
        if recipe.amp == "bf16":
            # mixed precision inside the ST-GCN blocks only: maps, heads, logits, losses and the
            # queues stay float32 (SkeletonEncoder.compute_dtype)
            for module in self.method.modules():
                if isinstance(module, SkeletonEncoder):
                    module.compute_dtype = torch.bfloat16
            if self.device.type == "cpu" and self.is_main and not cpu_has_bf16_kernels():
                warnings.warn(
                    f"{recipe.name}: amp: bf16 on a CPU without bfloat16 kernels ({hardware(self.device)}; "
                    "oneDNN has them from AVX-512 on) runs the ST-GCN blocks on emulated paths, 10-13x "
                    "slower than float32 on an AVX2 AMD EPYC (an MsMCLR step at batch 128: 160.5 s against "
                    "12.4 s; SkeletonCLR 1.4 against 14-18 samples/s; docs/pretrain.md). To train in "
                    "float32, add --set amp=none, and --set temporal_conv=spectral for its faster temporal "
                    "convolutions (the published NW-UCLA weights were trained in bf16: a float32 run "
                    "follows another trajectory).",
                    SlowPrecisionWarning,
                    stacklevel=3,  # Trainer's caller
                )
        params = [p for p in self.method.parameters() if p.requires_grad]
        opt = recipe.optimizer
        self.optimizer = torch.optim.SGD(
            params, lr=opt.lr, momentum=opt.momentum, weight_decay=opt.weight_decay, nesterov=opt.nesterov
        )
        self.model: nn.Module = self.method
        if self.world_size > 1:
            for p in params:
                p.register_hook(_in_layout_of(p))
            self.model = nn.parallel.DistributedDataParallel(
                self.method, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )

    def _check_out(self, resume: bool) -> None:
        """Resume, or make sure ``out`` holds no run this one would overwrite or mix with."""
        recipe = self.recipe
        if self.is_main and self.out.is_dir():
            with self.locked():  # a run in progress there: say so, not "an earlier run" or a stale checkpoint
                pass
        if resume:
            self._resume()
        elif self.is_main and self.checkpoint_path.exists():
            other = (saved_run_recipe(self.out) or {}).get("name")
            if other is not None and other != recipe.name:
                raise FileExistsError(f"{self.out} holds a run of recipe {other!r}, not {recipe.name!r}: "
                                      "choose another --out")  # fmt: skip
            raise FileExistsError(
                f"{self.checkpoint_path} exists: pass --resume to continue that run, or choose another --out"
            )
        elif self.is_main:
            # a finished run whose checkpoints were pruned: a new run would replace its export and
            # mix its log into metrics.jsonl
            earlier = [p.name for p in (self.metrics_path, self.out / f"{recipe.name}.safetensors") if p.exists()]
            if earlier:
                raise FileExistsError(
                    f"{self.out} holds an earlier run ({', '.join(earlier)}) and no checkpoint to resume (a run "
                    "stopped before its first checkpoint, or one whose checkpoints were removed); choose another "
                    "--out, or move those files away to train there again (with no checkpoint nothing in them "
                    "can be continued)"
                )

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """Hold ``OUT/.lock`` (rank 0): one process at a time trains or exports into ``out``."""
        if not self.is_main:
            return contextlib.nullcontext()
        return exclusive_lock(self.out / LOCK_FILE, f"{self.out} (a skeletonzoo-pretrain run)")

    # -- set-up ---------------------------------------------------------------------------
    def _check_data(self) -> None:
        meta = self.data.meta
        recipe = self.recipe
        if (meta.dataset, meta.benchmark) != (recipe.dataset, recipe.benchmark):
            # the export is named for the recipe (NAME.safetensors): training an NTU-60 recipe on
            # NW-UCLA clips would publish NW-UCLA weights under an NTU-60 name
            raise DataMismatchError(
                f"{self.data.root} holds {meta.dataset} {meta.benchmark}, but recipe {recipe.name!r} is for "
                f"{recipe.dataset} {recipe.benchmark}; use a recipe for this data (`skeletonzoo-pretrain --list`), "
                f"or give the data it was written for. To train this recipe on this data anyway, say so: "
                f"--set dataset={meta.dataset} --set benchmark={meta.benchmark} (and --set name=... so the "
                f"weights are not named for {recipe.dataset})"
            )
        layout = recipe.model.encoder.layout
        if get_layout(meta.layout).name != get_layout(layout).name:
            give = (f"give data in {layout!r} (skeletonzoo.data.adapt_layout maps between layouts, write_prepared "
                    "stores them)")  # fmt: skip
            try:  # whether this method can train on the data's layout at all (its joint groupings)
                METHODS[recipe.method].check_layout(meta.layout)
                remedy = f"train on the data's layout (--set model.encoder.layout={meta.layout}) or {give}"
            except ValueError:
                remedy = f"{recipe.method}'s joint groupings are defined on {layout!r} only: {give}"
            raise ValueError(
                f"{self.data.root}: positions are in layout {meta.layout!r} but recipe "
                f"{recipe.name!r} trains a {layout!r} encoder; {remedy}"
            )
        shape = self.data.positions.shape
        if shape[1] != recipe.model.encoder.in_channels:
            raise ValueError(f"{self.data.root}: positions have C={shape[1]}, the encoder takes "
                             f"{recipe.model.encoder.in_channels}; train on the data's channels "
                             f"(--set model.encoder.in_channels={shape[1]}) or give x, y, z positions")  # fmt: skip
        if recipe.method == "msmclr":
            persons = shape[-1]
            if (self.local_batch * persons) % 8:
                raise ValueError(f"MsMCLR's motion attention needs batch x persons per process divisible by 8; "
                                 f"got {self.local_batch} x {persons}")  # fmt: skip
            # without drop_last the incomplete last batch is trained too: DistributedSampler gives
            # each process ceil(N / world) samples
            last = 0 if recipe.drop_last else -(-len(self.data) // self.world_size) % self.local_batch
            if (last * persons) % 8:
                raise ValueError(
                    f"MsMCLR's motion attention needs batch x persons per process divisible by 8, but with "
                    f"drop_last false the last batch of an epoch has {last} x {persons} ({len(self.data)} "
                    f"training samples, {self.world_size} process(es), batch {self.local_batch} each); keep "
                    f"drop_last true (the recipes' default)"
                )

    def _build_views(self) -> dict[str, Compose]:
        aug = self.recipe.augment
        # the flip swaps the left and right joints of the encoder's layout (for ntu25 exactly
        # the original's re-indexing)
        mirror = get_layout(self.recipe.model.encoder.layout).mirror_index
        return {
            "normal": normal_view(aug.shear, aug.crop_ratio),
            "strong": strong_view(aug.shear, aug.crop_ratio, flip_index=mirror, corrected=aug.corrected,
                                  joint_noise=aug.joint_noise),  # fmt: skip
        }

    # -- data -----------------------------------------------------------------------------
    def _batches(self, epoch: int) -> list[list[int]]:
        """Index batches of 1-based ``epoch`` for this process (deterministic in seed and epoch)."""
        # the sampler reads only the dataset's length; it yields sample indices
        sampler: DistributedSampler[int] = DistributedSampler(
            self.data.dataset(), num_replicas=self.world_size, rank=self.rank, shuffle=True,
            seed=self.recipe.seed, drop_last=self.recipe.drop_last,
        )  # fmt: skip
        sampler.set_epoch(epoch)
        return list(BatchSampler(sampler, self.local_batch, drop_last=self.recipe.drop_last))

    def _load(self, index: list[int]) -> torch.Tensor:
        x = torch.from_numpy(np.ascontiguousarray(self.positions[np.asarray(index)], dtype=np.float32))
        return x.to(self.device, non_blocking=True)

    def _make_views(self, x: torch.Tensor) -> list[torch.Tensor]:
        layout = self.recipe.model.encoder.layout
        out = []
        for kind in self.method.views:
            view = self.views[kind](x, self.augment_generator).to(torch.float32)
            out.append(to_stream(view, self.recipe.stream, layout))
        return out

    # -- state ----------------------------------------------------------------------------
    def _rng_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"torch": torch.get_rng_state(), "augment": self.augment_generator.get_state()}
        if torch.cuda.is_available():
            state["cuda"] = torch.cuda.get_rng_state_all()
        gen = getattr(self.method, "generator", None)
        if gen is not None:
            state["method"] = gen.get_state()
        return state

    def _set_rng_state(self, state: dict[str, Any]) -> None:
        torch.set_rng_state(state["torch"])
        self.augment_generator.set_state(state["augment"])
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        gen = getattr(self.method, "generator", None)
        if gen is not None and "method" in state:
            gen.set_state(state["method"])

    def save_checkpoint(self) -> None:
        """Write ``checkpoints/last.pt`` atomically (rank 0; every rank holds the same state)."""
        # every process's RNG streams differ; each keeps its own, rank 0 writes the model
        rng = self._rng_state()
        if self.world_size > 1:
            states: list[Any] = [None] * self.world_size
            dist.all_gather_object(states, rng)
        else:
            states = [rng]
        if not self.is_main:
            return
        state = {
            "format": STATE_FORMAT,
            "recipe": self.recipe.model_dump_json(),
            "data_fingerprint": self.data.fingerprint(),
            "epoch": self.position.epoch,
            "step_in_epoch": self.position.step_in_epoch,
            "global_step": self.position.global_step,
            "elapsed_s": self.elapsed_before + (time.perf_counter() - self._started),
            "world_size": self.world_size,
            "threads": torch.get_num_threads(),
            "software": json.dumps(self.software_history),
            "commands": json.dumps(self.command_history),
            "model": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": states,
        }
        atomic_write(self.checkpoint_path, lambda f: torch.save(state, f))  # a crash leaves the last one whole

    def _resume(self) -> None:
        if not self.checkpoint_path.exists():
            raise FileNotFoundError(f"no checkpoint to continue from at {self.checkpoint_path}")
        try:
            state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=True)
        except (RuntimeError, EOFError, OSError, pickle.UnpicklingError):
            # our writes are atomic, so a damaged file was damaged afterwards (a full disk on copy, ...);
            # torch's own message suggests weights_only=False, which would not help here
            raise CheckpointError(
                f"{self.checkpoint_path} cannot be read as a torch checkpoint (truncated or damaged), so this "
                "run cannot continue from it: train again with another --out"
            ) from None
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError(f"{self.checkpoint_path}: not a skeletonzoo training checkpoint")
        saved = Recipe.model_validate_json(state["recipe"])
        changed = {k for k in Recipe.model_fields if getattr(saved, k) != getattr(self.recipe, k)}
        fixed = sorted(changed - RESUMABLE_CHANGES)
        if fixed:
            # every differing field by its dotted name (inside model, augment, optimizer too), each
            # given back with one --set
            diffs = [d for k in fixed for d in _field_differences(k, getattr(saved, k), getattr(self.recipe, k))]
            listed = ", ".join(f"{path} (checkpoint {_set_value(old)}, now {_set_value(new)})"
                               for path, old, new in diffs)  # fmt: skip
            sets = " ".join("--set " + shlex.quote(f"{path}={_set_value(old)}") for path, old, _ in diffs)
            raise ValueError(
                f"{self.checkpoint_path}: the recipe differs from the checkpoint's in {listed}; only "
                f"{sorted(RESUMABLE_CHANGES)} may change when resuming; to continue as it was trained, resume "
                f"with {sets}"
            )
        done = int(state["epoch"]) + (1 if int(state["step_in_epoch"]) else 0)  # an epoch begun counts
        if self.recipe.epochs < done:
            raise ValueError(
                f"{self.checkpoint_path} is at epoch {state['epoch']}"
                + (f", step {state['step_in_epoch']} of epoch {done}" if state["step_in_epoch"] else "")
                + f"; it cannot become a run of {self.recipe.epochs} epochs (its weights already trained past "
                f"that): resume with at least --set epochs={done}, or export it as it is with --export-only"
                + (" after finishing that epoch" if state["step_in_epoch"] else "")
            )
        if state["data_fingerprint"] != self.data.fingerprint():
            raise ValueError(f"{self.checkpoint_path}: {self.data.root} is not the data the checkpoint was trained on")
        if state["world_size"] != self.world_size:
            raise ValueError(
                f"{self.checkpoint_path}: the checkpoint was written by {state['world_size']} processes, this run has "
                f"{self.world_size}; resume with the same number (the data order depends on it)"
            )
        if self.device.type == "cpu" and state.get("threads", torch.get_num_threads()) != torch.get_num_threads():
            warnings.warn(
                f"{self.checkpoint_path} was written by a run with {state['threads']} torch threads, this one has "
                f"{torch.get_num_threads()}: CPU results round differently with the thread count, so the run goes "
                f"on but not bit-identically to an uninterrupted one; --threads {state['threads']} keeps it exact",
                ResumeWarning,
                stacklevel=3,
            )
        self.method.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._set_rng_state(state["rng"][self.rank])
        self.position = _Position(state["epoch"], state["step_in_epoch"], state["global_step"])
        self.elapsed_before = float(state["elapsed_s"])
        if "software" in state:  # the code of every earlier segment, then this one's if it differs
            earlier = json.loads(state["software"])
            self.software_history = earlier + [s for s in self.software_history if s != earlier[-1]]
        # a checkpoint from before commands were kept: its start is not known, and not this command
        earlier_commands = json.loads(state["commands"]) if "commands" in state else [COMMAND_NOT_RECORDED]
        self.command_history = earlier_commands + self.command_history
        if self.is_main:
            self._truncate_metrics(self.position.global_step)

    def _truncate_metrics(self, global_step: int) -> None:
        """Drop log lines written after the checkpoint (they will be written again)."""
        if not self.metrics_path.exists():
            return
        kept = []
        for number, line in enumerate(self.metrics_path.read_text(errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{self.metrics_path}, line {number}: not a JSON record ({exc.msg}); the log is written one line "
                    "per step, so the line was damaged afterwards: delete it (or the file's damaged end), then resume"
                ) from None
            if record.get("global_step", 0) <= global_step:
                kept.append(line)
        atomic_write_text(self.metrics_path, "".join(line + "\n" for line in kept))

    def _log(self, record: dict[str, Any]) -> None:
        if self.is_main:
            self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.metrics_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    # -- the loop -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C: stop now; the last checkpoint is whole (atomic writes)
            self._stop_signal = signum
            if self.is_main:  # a step can take minutes: say the signal was heard
                print(f"\n{self.recipe.name}: stopping after the current step and saving a checkpoint "
                      "(Ctrl-C again stops at once, keeping only the last checkpoint)", file=sys.stderr,
                      flush=True)  # fmt: skip

        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread
                pass
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _agree_on_stop(self) -> None:
        """Under DDP, a signal that reached one process stops them all after this step: each must
        save and leave at the same step, or the others wait forever in the next collective."""
        agreed = self._across_ranks(self._stop_signal or 0, dist.ReduceOp.MAX)
        if agreed and self._stop_signal is None:
            self._stop_signal = agreed

    def _finite(self, loss: torch.Tensor) -> bool:
        return bool(self._across_ranks(int(torch.isfinite(loss.detach()).all()), dist.ReduceOp.MIN))

    def _across_ranks(self, value: int, op: Any) -> int:
        """``value`` reduced with ``op`` over every process (itself in a one-process run)."""
        if self.world_size == 1:
            return value
        reduced = torch.tensor([value], dtype=torch.int32, device=self.device)
        dist.all_reduce(reduced, op=op)
        return int(reduced.item())

    def step(self, index: list[int], epoch: int) -> dict[str, float]:
        """One optimiser step on the samples ``index``; returns the logged values."""
        self.model.train()
        views = self._make_views(self._load(index))
        mining = self.method.is_mining(epoch)
        out = self.model(views, mining=mining)
        if not self._finite(out.loss):
            raise NonFiniteLossError(
                f"non-finite loss {float(out.loss.detach())} at epoch {epoch}, step {self.position.global_step + 1} "
                f"(terms: { {k: float(v) for k, v in out.terms.items()} }); the run stopped and "
                f"{self.checkpoint_path} still holds the last good checkpoint. Lower the learning rate "
                "(--set optimizer.lr=...) or turn AMP off, then --resume"
            )
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        self.optimizer.step()
        values = {"loss": float(out.loss.detach())}
        values.update({k: float(v) for k, v in out.terms.items()})
        return values

    def run(self) -> TrainResult:
        """Train to ``recipe.epochs``, then export (rank 0). Returns what was written."""
        with self.locked():
            return self._run()

    def _run(self) -> TrainResult:
        recipe = self.recipe
        self._started = time.perf_counter()
        fault_step = int(os.environ.get(FAULT_ENV, "0") or 0)
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.out / RECIPE_FILE, recipe.model_dump_json(indent=2) + "\n")
            where = {"world_size": self.world_size, "device": str(self.device),
                     "hardware": hardware(self.device, self.world_size)}  # fmt: skip
            if self.position.global_step == 0:
                self._log({"event": "start", "global_step": 0, "recipe": recipe.name, "summary": recipe.summary(),
                           **where})  # fmt: skip
            else:  # a later segment: where it picks up, with the recipe it continues under (epochs may differ)
                self._log({"event": "resume", "global_step": self.position.global_step,
                           "epoch": self.position.epoch, "step_in_epoch": self.position.step_in_epoch,
                           "summary": recipe.summary(), **where})  # fmt: skip
        if self.position.global_step == 0 and recipe.model.queue_init == "keys":
            self._fill_queues()
        with self._signals():
            while self.position.epoch < recipe.epochs:
                epoch = self.position.epoch + 1
                self._run_epoch(epoch, fault_step)
                self.position = _Position(epoch, 0, self.position.global_step)
                if epoch % recipe.checkpoint_every == 0 or epoch == recipe.epochs:
                    self.save_checkpoint()
        wall = self.elapsed_before + (time.perf_counter() - self._started)
        result = TrainResult(self.checkpoint_path, None, None, None, self.position.epoch, wall)
        if self.is_main:
            result = self.export(wall)
        if self.world_size > 1:
            dist.barrier()
        return result

    def _fill_queues(self) -> None:
        """``queue_init: keys``: fill every queue with key projections of real clips.

        Why: the original starts from random unit vectors. At initialisation an ST-GCN's
        projections of different clips are nearly collinear (cosine ~0.95), so against random
        negatives the loss is minimised by mapping every clip to one direction; with a queue
        that is small next to the data (NW-UCLA) that collapse happens within the few steps the
        random entries last, and once the queue holds the collapsed keys every logit is equal
        and the gradient vanishes (measured: InfoNCE stuck at ln(K + 1), cosine 1.000 between
        the projections of different clips). Real keys as the first negatives remove that
        shortcut. The clips are a seeded random draw; the key view is a normal view.
        """
        recipe = self.recipe
        steps = -(-recipe.model.queue_size // recipe.batch_size)  # ceil: every slot written once
        order = torch.randperm(len(self.data), generator=torch.Generator().manual_seed(recipe.seed + 99991))
        needed = steps * recipe.batch_size
        order = order.repeat(-(-needed // len(order)))[:needed].view(steps, self.world_size, self.local_batch)
        self.method.train()
        for step in range(steps):
            x = self._load(order[step, self.rank].tolist())
            view = self.views["normal"](x, self.augment_generator).to(torch.float32)
            self.method.fill_queues(to_stream(view, recipe.stream, recipe.model.encoder.layout))
        self._log({"event": "queue_init", "global_step": 0, "batches": steps, "samples": needed})

    def _run_epoch(self, epoch: int, fault_step: int) -> None:
        recipe = self.recipe
        lr = recipe.optimizer.lr_at(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batches = self._batches(epoch)
        start = self.position.step_in_epoch
        sums: dict[str, float] = {}
        counted = clips_run = 0
        # resumed mid-epoch: the epoch's means include the steps logged before the interruption
        # (json keeps every float exactly, so they equal an uninterrupted run's)
        earlier = self._logged_steps(epoch) if start else []
        for values in earlier:
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + v
        epoch_start = time.perf_counter()
        bar = tqdm(total=len(batches), initial=start, desc=f"epoch {epoch}/{recipe.epochs}", unit="step",
                   disable=not self.progress, leave=False, dynamic_ncols=True)  # fmt: skip
        try:
            for i in range(start, len(batches)):
                tic = time.perf_counter()
                values = self.step(batches[i], epoch)
                seconds = time.perf_counter() - tic
                self.position.step_in_epoch = i + 1
                self.position.global_step += 1
                clips = len(batches[i]) * self.world_size  # a last partial batch holds fewer (drop_last off)
                rate = clips / seconds
                self._log({"event": "step", "epoch": epoch, "step": i + 1, "global_step": self.position.global_step,
                           "lr": lr, "samples_per_s": round(rate, 2), **values})  # fmt: skip
                for k, v in values.items():
                    sums[k] = sums.get(k, 0.0) + v
                counted += 1
                clips_run += clips
                bar.set_postfix(loss=f"{values['loss']:.4f}", lr=f"{lr:g}", samples_per_s=f"{rate:.1f}")
                bar.update(1)
                if fault_step and self.position.global_step == fault_step:
                    os.kill(os.getpid(), signal.SIGKILL)
                steps_cfg = recipe.checkpoint_every_steps
                self._agree_on_stop()
                if (steps_cfg and self.position.global_step % steps_cfg == 0) or self._stop_signal is not None:
                    self.save_checkpoint()
                if self._stop_signal is not None:
                    raise TrainingInterrupted(
                        f"stopped by signal {self._stop_signal} at epoch {epoch}, step {i + 1}; "
                        f"checkpoint saved to {self.checkpoint_path}: continue with --resume"
                    )
        finally:
            bar.close()
        seconds = time.perf_counter() - epoch_start
        means = {k: v / max(counted + len(earlier), 1) for k, v in sums.items()}
        # speed: the steps this process ran (after a resume mid-epoch, only those), over their wall time
        epoch_rate = round(clips_run / seconds, 2) if counted else None
        record = {"event": "epoch", "epoch": epoch, "global_step": self.position.global_step, "lr": lr,
                  "seconds": round(seconds, 2), "samples_per_s": epoch_rate,
                  **({"resumed_at_step": start} if start else {}),
                  "mining": self.method.is_mining(epoch), **means}  # fmt: skip
        self._log(record)
        if self.is_main and not self.progress:
            terms = " ".join(f"{k} {v:.4f}" for k, v in means.items())
            speed = f"{seconds:.1f} s, {epoch_rate:.1f} samples/s" if epoch_rate is not None else "no steps left to run"
            resumed = f", resumed at step {start}" if start else ""
            print(f"[{recipe.name}] epoch {epoch}/{recipe.epochs} {terms} lr {lr:g} ({speed}{resumed})",
                  file=sys.stderr, flush=True)  # fmt: skip

    def _logged_steps(self, epoch: int) -> list[dict[str, float]]:
        """The loss terms of ``epoch``'s step records in metrics.jsonl (the main process's log)."""
        if not self.is_main or not self.metrics_path.exists():
            return []
        meta = {"event", "epoch", "step", "global_step", "lr", "samples_per_s"}
        records = (json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip())
        return [{k: v for k, v in r.items() if k not in meta}
                for r in records if r.get("event") == "step" and r.get("epoch") == epoch]  # fmt: skip

    # -- export ---------------------------------------------------------------------------
    def provenance(self, wall_time_s: float) -> dict[str, Any]:
        recipe = self.recipe
        return {
            "method": recipe.method,
            "recipe": recipe.name,
            "recipe_config": json.loads(recipe.model_dump_json()),
            "seed": recipe.seed,
            "epochs_run": self.position.epoch,
            "epochs_planned": recipe.epochs,
            "data": {
                "dataset": self.data.meta.dataset,
                "split": f"{self.data.meta.benchmark}/train",
                "num_samples": len(self.data),
                "fingerprint": self.data.fingerprint(),
            },
            "wall_time_s": round(wall_time_s, 1),
            "hardware": hardware(self.device, self.world_size),
            # the code the run started with; a run resumed under other code lists every segment's
            "software": self.software_history[0],
            **({"software_segments": self.software_history} if len(self.software_history) > 1 else {}),
            # the command that started the run, then those that resumed or exported it
            "command": self.command_history[0],
            **({"later_commands": [c or "(Python API)" for c in self.command_history[1:]]}
               if len(self.command_history) > 1 else {}),  # fmt: skip
        }

    def export_trained(self) -> TrainResult:
        """Export the weights the checkpoint holds, as :meth:`run` does at the end (``--export-only``:
        a run stopped early, or one whose export was lost). Resume with ``resume=True`` first.

        Raises:
            ValueError: the Trainer was not resumed, or the checkpoint stopped inside an epoch
                (resume to finish it first).
        """
        if not self.resumed:
            raise ValueError("export_trained exports what a checkpoint holds: build the Trainer with resume=True "
                             "(a new one holds untrained weights)")  # fmt: skip
        if self.position.step_in_epoch:
            raise ValueError(f"{self.checkpoint_path} stopped inside an epoch; --resume to finish it first")
        if not self.is_main:  # rank 0 alone writes (under torchrun every rank holds the same weights)
            return TrainResult(self.checkpoint_path, None, None, None, self.position.epoch, self.elapsed_before)
        with self.locked():
            return self.export(self.elapsed_before)

    def export(self, wall_time_s: float) -> TrainResult:
        """Write the query encoder(s) in the zoo format, a model card and a manifest entry."""
        recipe = self.recipe
        components = self.method.query_components()
        encoders = {name: enc for name, (enc, _) in components.items()}
        heads = {name: head for name, (_, head) in components.items()}
        provenance = self.provenance(wall_time_s)
        weights = self.out / f"{recipe.name}.safetensors"
        save_checkpoint(
            weights, encoders, heads=heads, stream=recipe.stream, preprocessing=self.data.meta.preprocessing,
            provenance=provenance, inputs=self.method.component_inputs(),
        )  # fmt: skip
        entry = {
            "name": recipe.name,
            "filename": weights.name,  # the manifest's PublishedWeights field names
            "sha256": sha256_file(weights),
            "size_bytes": weights.stat().st_size,
            "licence": recipe.licence,
            # the manifest's TrainingProvenance: what the zoo records (the rest stays in the file)
            "training": {k: v for k, v in provenance.items()
                         if k not in ("method", "recipe_config", "software_segments")},  # fmt: skip
        }
        manifest_entry = self.out / f"{recipe.name}.manifest.json"
        manifest_entry.write_text(json.dumps(entry, indent=2) + "\n")
        card = self.out / f"{recipe.name}.md"
        card.write_text(training_card(recipe, provenance, entry))
        return TrainResult(self.checkpoint_path, weights, card, manifest_entry, self.position.epoch, wall_time_s)
