"""Semi-supervised evaluation: only a class-balanced fraction (1 %, 10 %) of the labels is used.

**The subset.** For every class ``c`` (ascending id) with ``n_c`` training samples,
``max(1, round(fraction * n_c))`` of them are drawn without replacement: the first ones of a
``torch.randperm(n_c)`` of that class's indices (in ascending order), one generator seeded
with ``seed`` serving all classes in turn. ``round`` is Python's (half to even), the same
count as the original ``Feeder_semi`` (``random.sample(class_ids, round(label_percent * c_num))``
in AimCLR's and HiCLR's ``feeder/ntu_feeder.py``); the ``max(1, ...)`` keeps every class
present, which the original does not guarantee (NW-UCLA at 1 % has about one clip per class).

**The classifier**, two modes:

* ``"linear"`` (default): the frozen encoder's features of the subset, a linear classifier
  trained with the linear-evaluation recipe (:mod:`skeletonzoo.evaluate.linear`), scored on
  the whole test set. Cheap and deterministic.
* ``"finetune"``: the whole encoder fine-tuned on the subset, which is what the published
  code of this family does: HiCLR runs its ``finetune_evaluation`` processor with
  ``config/gcn_ntu60/semi/*.yaml`` ("semi or finetune" in its run script); AimCLR publishes the
  subset feeder ``Feeder_semi`` but only a compiled ``semi_evaluation`` processor. The recipe
  is HiCLR's semi-supervised one (:data:`SEMI_FINETUNE_RECIPE`): as fine-tuning, but 60 epochs,
  lr x0.1 from 1-based epochs 15 and 30, the test set scored every 3 epochs, and each epoch as
  long as the *full* training set, cycling through the subset (its ``Feeder_semieval.__len__``
  returns the full size and indexes ``index % len(subset)``); inputs un-augmented.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import nn

from ._training import as_labels
from .finetune import FineTuned, FinetuneRecipe, finetune
from .linear import LinearProbe, LinearRecipe, linear_probe
from .results import ProtocolResult

__all__ = [
    "SemiMode",
    "SEMI_FINETUNE_RECIPE",
    "class_balanced_subset",
    "semi_supervised_linear",
    "semi_supervised_finetune",
    "fraction_name",
]

SemiMode = Literal["linear", "finetune"]

# HiCLR config/gcn_ntu60/semi/xview_joint.yaml: step [15, 30] with `epoch >= step` on 1-based epochs
SEMI_FINETUNE_RECIPE = FinetuneRecipe(epochs=60, lr_drops_at=(14, 29), eval_interval=3)


def fraction_name(fraction: float) -> str:
    """``0.01 -> "semi1"``, ``0.1 -> "semi10"``, ``0.005 -> "semi0.5"``: the metric-name prefix."""
    return f"semi{round(fraction * 100, 6):g}"


def class_balanced_subset(labels: np.ndarray | torch.Tensor, fraction: float, seed: int = 0) -> np.ndarray:
    """Indices of a seeded, class-balanced ``fraction`` of the samples (see the module docstring).

    Args:
        labels: ``(N,)`` class ids.
        fraction: In ``(0, 1]``.
        seed: Seeds the draw; the same seed gives the same subset.

    Returns:
        Sorted int64 indices into ``labels``.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}; 1 % is 0.01")
    y = as_labels(labels, len(labels), "labels").numpy()
    if len(y) == 0:
        raise ValueError("no labels to draw a subset from")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        count = max(1, round(fraction * len(members)))  # PARITY: Python's half-to-even round, as Feeder_semi
        order = torch.randperm(len(members), generator=generator)[:count].numpy()
        chosen.append(members[order])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _tag(result: ProtocolResult, fraction: float, subset: np.ndarray, seed: int, mode: SemiMode) -> ProtocolResult:
    settings = {**result.settings, "fraction": fraction, "subset_seed": seed, "subset_size": len(subset),
                "mode": mode}  # fmt: skip
    return result.model_copy(update={"settings": settings})


def semi_supervised_linear(
    train_features: np.ndarray | torch.Tensor,
    train_labels: np.ndarray | torch.Tensor,
    test_features: np.ndarray | torch.Tensor,
    test_labels: np.ndarray | torch.Tensor,
    fraction: float,
    *,
    num_classes: int | None = None,
    recipe: LinearRecipe | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> LinearProbe:
    """Linear classifier on the frozen features of a class-balanced ``fraction`` of the labels.

    Args:
        train_features: ``(N_train, D)`` features of the whole training set.
        train_labels: ``(N_train,)``.
        test_features: ``(N_test, D)``.
        test_labels: ``(N_test,)``.
        fraction: Share of the training labels used, e.g. ``0.01``.
        num_classes: Pass the dataset's class count (a subset may not show the largest id).
        recipe: Default the linear-evaluation recipe.
        seed: Seeds the subset draw and the classifier.
        device: Where the classifier trains.
    """
    subset = class_balanced_subset(train_labels, fraction, seed)
    features = torch.as_tensor(np.asarray(train_features))[torch.from_numpy(subset)]
    labels = as_labels(train_labels, len(train_labels), "train labels")[torch.from_numpy(subset)]
    probe = linear_probe(
        features, labels, test_features, test_labels, num_classes=num_classes, recipe=recipe, seed=seed,
        device=device, protocol=fraction_name(fraction),
    )  # fmt: skip
    probe.result = _tag(probe.result, fraction, subset, seed, "linear")
    return probe


def semi_supervised_finetune(
    encoder: nn.Module,
    train_positions: np.ndarray,
    train_labels: np.ndarray | torch.Tensor,
    test_positions: np.ndarray,
    test_labels: np.ndarray | torch.Tensor,
    fraction: float,
    *,
    stream: str = "joint",
    layout: str = "ntu25",
    num_classes: int | None = None,
    recipe: FinetuneRecipe | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> FineTuned:
    """Fine-tune a copy of ``encoder`` on a class-balanced ``fraction`` of the training set.

    ``recipe`` defaults to :data:`SEMI_FINETUNE_RECIPE` with ``epoch_length`` set to the full
    training-set size (each epoch cycles through the subset that many samples).
    """
    subset = class_balanced_subset(train_labels, fraction, seed)
    if recipe is None:
        recipe = SEMI_FINETUNE_RECIPE.model_copy(update={"epoch_length": len(train_positions)})
    labels = as_labels(train_labels, len(train_positions), "train labels")[torch.from_numpy(subset)]
    tuned = finetune(
        encoder, train_positions[subset], labels, test_positions, test_labels, stream=stream, layout=layout,
        num_classes=num_classes, recipe=recipe, seed=seed, device=device,
        protocol=f"{fraction_name(fraction)}_finetune",
    )  # fmt: skip
    tuned.result = _tag(tuned.result, fraction, subset, seed, "finetune")
    return tuned
