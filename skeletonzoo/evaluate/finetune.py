"""Fine-tuning: the whole encoder and a new linear head trained end to end on labels.

Two recipes of the original code family are here. The default is HiCLR's (Zhang et al., AAAI
2023, built on the AimCLR code): its ``config/gcn_ntu60/finetune/xview_joint.yaml`` with its
``processor/finetune_evaluation.py``:

* encoder in train mode (BatchNorm statistics update, dropout 0.5 active), the test set
  scored in eval mode;
* un-augmented inputs (its ``Feeder_finetune`` with ``use_aug: False``);
* SGD over every parameter, lr 0.1, momentum 0.9, Nesterov on, weight decay 1e-4; linear
  warm-up over the first 5 epochs (``lr * e / 5`` in 1-based epoch ``e``); lr x0.1 from
  1-based epochs 30 and 55, i.e. 0-based ``(29, 54)``; 70 epochs; batch 64, the incomplete
  last batch dropped; cross-entropy; the test set scored every 5 epochs and after the last;
* the head a fresh ``Linear(num_features, num_classes)`` with PyTorch's initialisation (the
  processor's ``weights_init`` touches only convolutions and BatchNorm).

:data:`MSMCLR_FINETUNE_RECIPE` is the one MsMCLR's released code ships
(``config/ntu60/finetune/finetune_eval_aimclr_*.yaml`` with AimCLR's
``processor/finetune_evaluation.py``): the encoder stays in **eval mode** while it trains (BN
on its running statistics, no dropout: the processor calls ``model.eval()`` in ``train``),
SGD lr 3.0, momentum 0.9, no Nesterov, no weight decay, no warm-up, lr x0.1 from 0-based epoch
80, 100 epochs, batch 64, the head ``N(0, 0.02)`` with zero bias (its ``weights_init`` covers
``Linear``), scored every 5 epochs.

The encoder passed in is not modified: a copy is trained. The shuffle and the head's initial
weights come from a generator seeded with ``seed``; dropout, which cannot take a generator,
draws from the global RNG seeded with ``seed`` inside ``torch.random.fork_rng`` (the caller's
RNG state is restored afterwards).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from .._machine import usable_device
from ..data.streams import to_stream
from ..features import extract_features
from ..models import LinearClassifier
from ..models.ensemble import num_features_of
from ._training import (
    HeadInit,
    as_labels,
    checked_num_classes,
    epoch_batches,
    new_classifier,
    protocol_result,
    step_lr,
    topk_accuracy,
    train_epochs,
)
from .results import ProtocolResult

__all__ = ["FinetuneRecipe", "MSMCLR_FINETUNE_RECIPE", "FineTuned", "finetune"]


class FinetuneRecipe(BaseModel):
    """Hyper-parameters of fine-tuning; the defaults are HiCLR's NTU-60 fine-tuning recipe."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=70, ge=1)
    lr: float = Field(default=0.1, gt=0)
    momentum: float = Field(default=0.9, ge=0)
    nesterov: bool = True
    weight_decay: float = Field(default=1e-4, ge=0)
    warmup_epochs: int = Field(default=5, ge=0)
    lr_drops_at: tuple[int, ...] = Field(
        default=(29, 54), description="0-based epochs from which the lr is multiplied by gamma once more"
    )
    gamma: float = Field(default=0.1, gt=0)
    batch_size: int = Field(default=64, ge=1)
    drop_last: bool = True
    eval_interval: int = Field(default=5, ge=1)
    epoch_length: int | None = Field(
        default=None, ge=1, description="samples per epoch, cycling through the training set (None: one pass)"
    )
    head_init: HeadInit = "default"
    encoder_mode: Literal["train", "eval"] = Field(
        default="train",
        description="train: BN statistics update and dropout is on (HiCLR); eval: BN on running statistics, "
        "no dropout, while the weights still train (MsMCLR's released processor)",
    )

    def with_changes(self, **changes: object) -> FinetuneRecipe:
        """A copy with ``changes`` applied, validated as a new recipe (``model_copy`` would not check them).

        Raises:
            pydantic.ValidationError: a change names no field or breaks a field's bounds.
        """
        return type(self).model_validate({**self.model_dump(), **changes})

    def describe(self) -> str:
        """Every hyper-parameter, as one line of text."""
        drops = ", ".join(str(d) for d in self.lr_drops_at) or "none"
        length = "one pass" if self.epoch_length is None else f"{self.epoch_length} samples (cycling)"
        mode = (
            "train mode (BN updating, dropout on)" if self.encoder_mode == "train"
            else "eval mode (BN on running statistics, no dropout)"
        )  # fmt: skip
        return (
            f"whole encoder + new linear head, encoder in {mode}, un-augmented "
            f"inputs; SGD lr {self.lr:g} momentum {self.momentum:g} nesterov {'on' if self.nesterov else 'off'} "
            f"weight decay {self.weight_decay:g}, linear warm-up {self.warmup_epochs} epochs, lr x{self.gamma:g} "
            f"from 0-based epoch(s) {drops}, {self.epochs} epochs of {length}, batch {self.batch_size}"
            f"{' (incomplete last batch dropped)' if self.drop_last else ''}, cross-entropy, head init "
            f"{self.head_init}, test scored every {self.eval_interval} epochs and after the last"
        )


#: MsMCLR's released fine-tuning recipe (module docstring); ``FinetuneRecipe()`` is HiCLR's.
MSMCLR_FINETUNE_RECIPE = FinetuneRecipe(
    epochs=100, lr=3.0, nesterov=False, weight_decay=0.0, warmup_epochs=0, lr_drops_at=(80,), batch_size=64,
    eval_interval=5, head_init="reference", encoder_mode="eval",
)  # fmt: skip


@dataclass
class FineTuned:
    """Result of :func:`finetune`.

    Attributes:
        result: Accuracies (last and best epoch) and settings.
        encoder: The fine-tuned copy of the encoder (CPU, eval mode).
        classifier: Its head (CPU, eval mode).
    """

    result: ProtocolResult
    encoder: nn.Module
    classifier: LinearClassifier


def finetune(
    encoder: nn.Module,
    train_positions: np.ndarray,
    train_labels: np.ndarray | torch.Tensor,
    test_positions: np.ndarray,
    test_labels: np.ndarray | torch.Tensor,
    *,
    stream: str = "joint",
    layout: str = "ntu25",
    num_classes: int | None = None,
    recipe: FinetuneRecipe | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    protocol: str = "finetune",
    progress: bool | None = None,
) -> FineTuned:
    """Fine-tune a copy of ``encoder`` with a new linear head; score the test set.

    Args:
        encoder: ``(N, C, T, V, M) -> (N, num_features)`` module (not modified).
        train_positions: ``(N_train, C, T, V, M)`` normalised positions.
        train_labels: ``(N_train,)``.
        test_positions: ``(N_test, C, T, V, M)``.
        test_labels: ``(N_test,)``.
        stream: The encoder's input stream, derived from the positions per batch.
        layout: Joint layout of the positions.
        num_classes: Default ``1 + the largest label``.
        recipe: Default :class:`FinetuneRecipe` (HiCLR's).
        seed: Head init, shuffles and dropout.
        device: Where training runs.
        protocol: Name recorded in the result.
        progress: Epoch progress bar; default when stderr is a terminal.
    """
    recipe = recipe or FinetuneRecipe()
    y_train = as_labels(train_labels, len(train_positions), "train labels")
    y_test = as_labels(test_labels, len(test_positions), "test labels")
    num_classes = checked_num_classes(num_classes, y_train, y_test)
    num_features = num_features_of(encoder)
    device = usable_device(device)
    generator = torch.Generator().manual_seed(seed)
    model = copy.deepcopy(encoder).to(device)
    if recipe.encoder_mode == "eval":
        model.eval()  # and it stays so: train_epochs switches only the head to train mode
    head = new_classifier(num_features, num_classes, generator, recipe.head_init).to(device)
    parameters = list(model.parameters()) + list(head.parameters())
    optimizer = torch.optim.SGD(
        parameters, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )  # fmt: skip
    y_train_dev = y_train.to(device)

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        x = torch.from_numpy(np.asarray(train_positions[idx.numpy()], dtype=np.float32)).to(device)
        return F.cross_entropy(head(model(to_stream(x, stream, layout))), y_train_dev[idx.to(device)])

    def score() -> tuple[float, float]:
        features = extract_features(model, test_positions, stream=stream, layout=layout, device=device, progress=False)
        head.eval()
        with torch.no_grad():
            logits = head(torch.from_numpy(features).to(device)).cpu()
        top1, top5 = topk_accuracy(logits, y_test)
        return top1, top5

    start = time.perf_counter()
    rng_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)  # dropout's draws (see the module docstring)
        history = train_epochs(
            epochs=recipe.epochs,
            eval_interval=recipe.eval_interval,
            lr_at=lambda epoch: step_lr(recipe.lr, epoch, recipe.lr_drops_at, recipe.gamma, recipe.warmup_epochs),
            optimizer=optimizer,
            modules=[model, head] if recipe.encoder_mode == "train" else [head],
            batches=lambda: epoch_batches(
                len(y_train), recipe.batch_size, generator, drop_last=recipe.drop_last, epoch_length=recipe.epoch_length
            ),
            batch_loss=batch_loss,
            score=score,
            desc=protocol,
            progress=progress,
        )
    result = protocol_result(
        protocol, history, epochs=recipe.epochs, num_train=len(y_train), num_test=len(y_test),
        settings={**recipe.model_dump(), "seed": seed, "num_classes": num_classes, "num_features": num_features,
                  "stream": stream},
        seconds=time.perf_counter() - start,
    )  # fmt: skip
    return FineTuned(result=result, encoder=model.cpu().eval(), classifier=head.cpu().eval())
