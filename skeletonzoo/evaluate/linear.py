"""Linear evaluation: a linear classifier trained on the frozen encoder's pooled features.

The protocol of SkeletonCLR/CrosSCLR, AimCLR, MsMCLR and CrosScale-SGCLR (their
``processor/linear_evaluation.py`` and ``config/*/linear_eval/*.yaml``): the encoder is loaded
without its projection head and frozen in eval mode, inputs are not augmented
(``shear_amplitude: -1``, ``temperal_padding_ratio: -1``), and a new
``Linear(256, num_classes)`` is trained with SGD (lr 3.0, momentum 0.9, no Nesterov, weight
decay 0) for 100 epochs, the lr multiplied by 0.1 after epoch 80, batch 128 with the last
incomplete batch dropped, cross-entropy; the test set is scored every 5 epochs and after the
last one.

Differences from the original code:

* the features are extracted once and the classifier trains on the cached rows
  (:class:`~skeletonzoo.evaluate.sources.CachedFeatures`): the encoder is frozen and its input
  un-augmented, so every epoch would compute the same features (``tests/test_evaluate.py``
  checks that the classifier comes out identical; ``benchmarks/bench_eval.py`` times it);
* both the last epoch and the best test epoch are reported; the original reports only the best;
* the shuffle and the classifier's initial weights come from one seeded ``torch.Generator``;
  the classifier starts from PyTorch's ``nn.Linear`` initialisation by default, or from the
  original's ``N(0, 0.02)`` weights and zero bias with ``head_init="reference"``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from .._machine import usable_device
from ..models import LinearClassifier
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
from .sources import CachedFeatures, EncoderFeatures, FeatureSource

__all__ = ["LinearRecipe", "LinearProbe", "train_linear_classifier", "linear_probe", "linear_probe_encoder"]


class LinearRecipe(BaseModel):
    """Hyper-parameters of the linear classifier; the defaults are the papers' protocol but for the
    head's initial weights (``head_init``: PyTorch's by default, the original's with ``"reference"``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(default=100, ge=1)
    lr: float = Field(default=3.0, gt=0)
    momentum: float = Field(default=0.9, ge=0)
    nesterov: bool = False
    weight_decay: float = Field(default=0.0, ge=0)
    lr_drops_at: tuple[int, ...] = Field(
        default=(80,), description="0-based epochs from which the lr is multiplied by gamma once more"
    )
    gamma: float = Field(default=0.1, gt=0)
    batch_size: int = Field(default=128, ge=1)
    drop_last: bool = Field(default=True, description="drop an incomplete last batch (when a full one exists)")
    eval_interval: int = Field(
        default=5, ge=1, description="score the test set every this many epochs, and after the last"
    )
    head_init: HeadInit = "default"

    def describe(self) -> str:
        """Every hyper-parameter, as one line of text."""
        drops = ", ".join(str(d) for d in self.lr_drops_at) or "none"
        return (
            f"SGD lr {self.lr:g} momentum {self.momentum:g} nesterov {'on' if self.nesterov else 'off'} "
            f"weight decay {self.weight_decay:g}, {self.epochs} epochs, lr x{self.gamma:g} from 0-based "
            f"epoch(s) {drops}, batch {self.batch_size} shuffled each epoch"
            f"{' (incomplete last batch dropped)' if self.drop_last else ''}, cross-entropy, "
            f"head init {self.head_init}, test scored every {self.eval_interval} epochs and after the last"
        )


@dataclass
class LinearProbe:
    """A trained linear probe.

    Attributes:
        result: Accuracies (last and best epoch) and the run's settings.
        classifier: The classifier after the last epoch (on the CPU, eval mode).
    """

    result: ProtocolResult
    classifier: LinearClassifier


def _score(head: nn.Module, source: FeatureSource, labels: torch.Tensor, chunk: int = 4096) -> tuple[float, float]:
    head.eval()
    with torch.no_grad():
        logits = torch.cat(
            [head(source(idx)) for idx in torch.arange(len(labels)).split(chunk)]
        ).float()
    top1, top5 = topk_accuracy(logits.cpu(), labels)
    return top1, top5


def train_linear_classifier(
    train: FeatureSource,
    train_labels: np.ndarray | torch.Tensor,
    test: FeatureSource,
    test_labels: np.ndarray | torch.Tensor,
    *,
    num_classes: int | None = None,
    recipe: LinearRecipe | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    protocol: str = "linear",
    progress: bool | None = None,
) -> LinearProbe:
    """Train ``Linear(num_features, num_classes)`` on features from ``train``; score on ``test``.

    Args:
        train: Training features by index (cached rows, or the frozen encoder run per batch).
        train_labels: ``(N_train,)`` class ids.
        test: Test features by index.
        test_labels: ``(N_test,)`` class ids.
        num_classes: Output size; default ``1 + the largest label``.
        recipe: Hyper-parameters (default: the papers' linear protocol).
        seed: Seeds the one generator that draws the initial weights, then every shuffle.
        device: Where the classifier trains.
        protocol: Name recorded in the result.
        progress: Epoch progress bar; default when stderr is a terminal.

    Returns:
        The result and the last epoch's classifier.
    """
    recipe = recipe or LinearRecipe()
    y_train = as_labels(train_labels, len(train), "train labels")
    y_test = as_labels(test_labels, len(test), "test labels")
    if train.num_features != test.num_features:
        raise ValueError(f"train features have D={train.num_features}, test features D={test.num_features}")
    num_classes = checked_num_classes(num_classes, y_train, y_test)
    device = usable_device(device)
    generator = torch.Generator().manual_seed(seed)
    head = new_classifier(train.num_features, num_classes, generator, recipe.head_init).to(device)
    optimizer = torch.optim.SGD(
        head.parameters(), lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
        weight_decay=recipe.weight_decay,
    )  # fmt: skip
    y_train_dev = y_train.to(device)
    start = time.perf_counter()
    history = train_epochs(
        epochs=recipe.epochs,
        eval_interval=recipe.eval_interval,
        lr_at=lambda epoch: step_lr(recipe.lr, epoch, recipe.lr_drops_at, recipe.gamma),
        optimizer=optimizer,
        modules=[head],
        batches=lambda: epoch_batches(len(y_train), recipe.batch_size, generator, drop_last=recipe.drop_last),
        batch_loss=lambda idx: F.cross_entropy(head(train(idx)), y_train_dev[idx.to(device)]),
        score=lambda: _score(head, test, y_test),
        desc=protocol,
        progress=progress,
    )
    result = protocol_result(
        protocol, history, epochs=recipe.epochs, num_train=len(y_train), num_test=len(y_test),
        settings={**recipe.model_dump(), "seed": seed, "num_classes": num_classes,
                  "num_features": train.num_features},
        seconds=time.perf_counter() - start,
    )  # fmt: skip
    return LinearProbe(result=result, classifier=head.cpu().eval())


def linear_probe(
    train_features: np.ndarray | torch.Tensor,
    train_labels: np.ndarray | torch.Tensor,
    test_features: np.ndarray | torch.Tensor,
    test_labels: np.ndarray | torch.Tensor,
    *,
    num_classes: int | None = None,
    recipe: LinearRecipe | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    protocol: str = "linear",
) -> LinearProbe:
    """Linear evaluation on precomputed ``(N, D)`` features (see :func:`train_linear_classifier`).

    Example:
        >>> feats = extract_features(encoder, train.positions, stream="joint")  # doctest: +SKIP
        >>> probe = linear_probe(feats, train.labels, test_feats, test.labels)  # doctest: +SKIP
        >>> probe.result.top1_last  # doctest: +SKIP
    """
    return train_linear_classifier(
        CachedFeatures(train_features, device), train_labels, CachedFeatures(test_features, device), test_labels,
        num_classes=num_classes, recipe=recipe, seed=seed, device=device, protocol=protocol,
    )  # fmt: skip


def linear_probe_encoder(
    encoder: nn.Module,
    train_positions: np.ndarray,
    train_labels: np.ndarray | torch.Tensor,
    test_positions: np.ndarray,
    test_labels: np.ndarray | torch.Tensor,
    *,
    stream: str = "joint",
    layout: str = "ntu25",
    num_classes: int | None = None,
    recipe: LinearRecipe | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    cache: bool = True,
    batch_size: int = 256,
) -> LinearProbe:
    """Linear evaluation of a frozen ``encoder`` on normalised positions.

    Args:
        encoder: ``(N, C, T, V, M) -> (N, D)``; frozen (eval mode, no gradients).
        train_positions: ``(N_train, C, T, V, M)``.
        train_labels: ``(N_train,)``.
        test_positions: ``(N_test, C, T, V, M)``.
        test_labels: ``(N_test,)``.
        stream: The encoder's input stream, derived from the positions.
        layout: Joint layout of the positions.
        num_classes: Default ``1 + the largest label``.
        recipe: Default the papers' protocol (but for ``head_init``, see :class:`LinearRecipe`).
        seed: Classifier init and shuffles.
        device: Where the encoder and the classifier run.
        cache: Extract the features once (default). ``False`` runs the encoder on every
            training batch of every epoch and on the test set at every evaluation, as the
            original code does — the same numbers, much slower.
        batch_size: Samples per encoder forward pass when extracting.
    """
    encoder = encoder.to(device)
    sources = [
        EncoderFeatures(encoder, positions, stream=stream, layout=layout, device=device, batch_size=batch_size)
        for positions in (train_positions, test_positions)
    ]
    train: FeatureSource
    test: FeatureSource
    if cache:
        train, test = (CachedFeatures(source.extract_all(), device) for source in sources)
    else:
        train, test = sources
    return train_linear_classifier(
        train, train_labels, test, test_labels, num_classes=num_classes, recipe=recipe, seed=seed, device=device,
    )  # fmt: skip
