"""Machinery shared by the trained protocols: lr schedule, shuffled batches, the epoch loop,
top-k, head init, label checks and the result they return.

Every random choice here takes an explicit ``torch.Generator``; nothing here draws from the
global RNG itself (fine-tuning's dropout does, inside the loss it hands to :func:`train_epochs`).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..models import LinearClassifier
from .results import EpochScore, ProtocolResult

__all__ = [
    "HeadInit",
    "step_lr",
    "epoch_batches",
    "topk_accuracy",
    "new_classifier",
    "summarize",
    "should_evaluate",
    "train_epochs",
    "protocol_result",
    "as_labels",
    "infer_num_classes",
    "checked_num_classes",
]

HeadInit = Literal["default", "reference"]


def step_lr(
    base_lr: float,
    epoch: int,
    drops_at: Sequence[int],
    gamma: float = 0.1,
    warmup_epochs: int = 0,
) -> float:
    """Learning rate of 0-based ``epoch`` under a step schedule with optional linear warm-up.

    ``base_lr * gamma ** (number of d in drops_at with epoch >= d)``; during the first
    ``warmup_epochs`` epochs the rate is ``base_lr * (epoch + 1) / warmup_epochs`` instead.
    """
    if epoch < warmup_epochs:
        return base_lr * (epoch + 1) / warmup_epochs
    return base_lr * gamma ** sum(1 for d in drops_at if epoch >= d)


def epoch_batches(
    num_samples: int,
    batch_size: int,
    generator: torch.Generator,
    *,
    drop_last: bool = True,
    epoch_length: int | None = None,
) -> list[torch.Tensor]:
    """Shuffled index batches for one epoch.

    Args:
        num_samples: Size of the training set.
        batch_size: Samples per batch.
        generator: Source of the permutation (advanced by the call).
        drop_last: Drop an incomplete final batch, as the original training loaders do
            (``drop_last=True``) — but only when at least one full batch remains, so a set
            smaller than one batch (1 % semi-supervised subsets) still trains on all of it.
        epoch_length: Samples per epoch; ``None`` is one pass over the set. Larger values cycle
            through the set: a permutation of ``range(epoch_length)`` taken modulo
            ``num_samples`` (the semi-supervised fine-tuning loader of the original code).

    Returns:
        int64 index tensors of shape ``(B,)``.
    """
    if num_samples < 1:
        raise ValueError("cannot train on an empty set")
    length = num_samples if epoch_length is None else epoch_length
    order = torch.randperm(length, generator=generator)
    if length != num_samples:
        order = order % num_samples
    batches = list(order.split(batch_size))
    if drop_last and len(batches) > 1 and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, ks: Sequence[int] = (1, 5)) -> list[float]:
    """Percentage of rows whose label is among the ``k`` highest scores, for each ``k``.

    Args:
        scores: ``(N, num_classes)`` logits or votes.
        labels: ``(N,)`` int64 class ids.
        ks: The ``k`` values (a ``k`` above ``num_classes`` means all classes).

    A class scored ``-inf`` (no kNN vote) is never a hit.
    """
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} score rows for {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("no test samples to score")
    values, top = scores.topk(min(max(ks), scores.shape[1]), dim=1)
    hits = top.eq(labels.to(top.device)[:, None]) & values.isfinite()
    return [100.0 * hits[:, :k].any(dim=1).double().mean().item() for k in ks]


@torch.no_grad()
def new_classifier(
    num_features: int,
    num_classes: int,
    generator: torch.Generator,
    init: HeadInit = "default",
) -> LinearClassifier:
    """A fresh ``Linear(num_features, num_classes)`` drawn from ``generator``.

    ``"default"`` is PyTorch's own ``nn.Linear`` initialisation (weight and bias uniform in
    ``±1/sqrt(num_features)``, what ``kaiming_uniform_(a=sqrt(5))`` amounts to), drawn from the
    given generator instead of the global one. ``"reference"`` is the original linear
    evaluation's ``weights_init``: weight ``~ N(0, 0.02)``, bias zero.
    """
    with torch.random.fork_rng(devices=[]):  # construction draws from the global RNG; keep it untouched
        head = LinearClassifier(num_features, num_classes)
    fc = head.fc
    if init == "default":
        bound = 1.0 / math.sqrt(num_features)
        fc.weight.uniform_(-bound, bound, generator=generator)
        fc.bias.uniform_(-bound, bound, generator=generator)
    elif init == "reference":
        fc.weight.normal_(0.0, 0.02, generator=generator)
        fc.bias.zero_()
    else:
        raise ValueError(f"unknown head init {init!r}; use 'default' or 'reference'")
    return head


def summarize(history: list[EpochScore]) -> tuple[EpochScore, EpochScore]:
    """``(last, best)`` of the evaluated epochs; best is the highest top-1, ties to the later."""
    if not history:
        raise ValueError("no evaluated epochs")
    best = history[0]
    for score in history[1:]:
        if score.top1 >= best.top1:  # PARITY: `if self.best_result <= accuracy` keeps the later epoch
            best = score
    return history[-1], best


def should_evaluate(epoch: int, epochs: int, interval: int) -> bool:
    """The original processors score the test set every ``interval`` epochs and after the last."""
    return (epoch + 1) % interval == 0 or epoch + 1 == epochs


def train_epochs(
    *,
    epochs: int,
    eval_interval: int,
    lr_at: Callable[[int], float],
    optimizer: torch.optim.Optimizer,
    modules: Sequence[nn.Module],
    batches: Callable[[], Sequence[torch.Tensor]],
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    score: Callable[[], tuple[float, float]],
    desc: str,
    progress: bool | None = None,
) -> list[EpochScore]:
    """The SGD epochs of the linear and fine-tuning protocols (the original processors' loop).

    Each 0-based epoch sets every parameter group's lr to ``lr_at(epoch)``, puts ``modules``
    in train mode, and takes one optimiser step per index batch of ``batches()`` on
    ``batch_loss(idx)`` (a scalar); after the epochs :func:`should_evaluate` picks it records
    ``score()`` (test top-1, top-5) with the epoch's mean loss.

    Args:
        epochs: Number of epochs.
        eval_interval: Score every this many epochs, and after the last.
        lr_at: Learning rate of a 0-based epoch.
        optimizer: Steps the trained parameters.
        modules: Put in train mode at the start of every epoch (``score`` may switch them to eval).
        batches: The epoch's ``(B,)`` int64 index batches (drawn anew each epoch).
        batch_loss: Loss of one index batch, with its graph.
        score: Test accuracies in percent.
        desc: Progress-bar label.
        progress: Epoch progress bar; default when stderr is a terminal.

    Returns:
        One :class:`EpochScore` per scored epoch, in order.
    """
    if progress is None:
        progress = sys.stderr.isatty()
    history: list[EpochScore] = []
    for epoch in tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress, leave=False):
        lr = lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        for module in modules:
            module.train()
        losses = []
        for idx in batches():
            loss = batch_loss(idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        if should_evaluate(epoch, epochs, eval_interval):
            top1, top5 = score()
            history.append(
                EpochScore(epoch=epoch + 1, top1=top1, top5=top5, train_loss=float(torch.stack(losses).mean()))
            )
    return history


def protocol_result(
    protocol: str,
    history: list[EpochScore],
    *,
    epochs: int,
    num_train: int,
    num_test: int,
    settings: dict[str, object],
    seconds: float,
) -> ProtocolResult:
    """The :class:`ProtocolResult` of a run: its last and best scored epochs (:func:`summarize`)."""
    last, best = summarize(history)
    return ProtocolResult(
        protocol=protocol,
        top1_last=last.top1,
        top5_last=last.top5,
        top1_best=best.top1,
        top5_best=best.top5,
        best_epoch=best.epoch,
        epochs=epochs,
        num_train=num_train,
        num_test=num_test,
        settings=settings,
        history=history,
        seconds=seconds,
    )


def as_labels(labels: np.ndarray | torch.Tensor, num_samples: int, what: str) -> torch.Tensor:
    """int64 ``(N,)`` tensor of class ids, checked against the number of samples."""
    out = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if out.dim() != 1 or len(out) != num_samples:
        raise ValueError(f"{what}: expected {num_samples} labels in a 1-D array, got shape {tuple(out.shape)}")
    if out.is_floating_point():
        raise ValueError(f"{what}: labels must be integer class ids, got {out.dtype}")
    if len(out) and int(out.min()) < 0:
        raise ValueError(f"{what}: negative class id {int(out.min())}")
    return out.long()


def infer_num_classes(*labels: torch.Tensor) -> int:
    """``1 + the largest class id`` over the given label tensors."""
    return 1 + max(int(lab.max()) for lab in labels if len(lab))


def checked_num_classes(num_classes: int | None, train_labels: torch.Tensor, test_labels: torch.Tensor) -> int:
    """``num_classes``, or ``1 + the largest label`` when ``None``; refuses a label it cannot score.

    Raises:
        ValueError: a train or test label is ``num_classes`` or more (naming which set and label).
    """
    num_classes = num_classes or infer_num_classes(train_labels, test_labels)
    for name, labels in (("train", train_labels), ("test", test_labels)):
        if len(labels) and int(labels.max()) >= num_classes:
            raise ValueError(
                f"{name} label {int(labels.max())} is out of range for num_classes={num_classes}; labels are "
                "0..num_classes-1: pass the dataset's num_classes"
            )
    return num_classes
