"""k-nearest-neighbour evaluation on L2-normalised features (cosine similarity), no training.

Every test feature is compared with every training feature by cosine similarity; its ``k``
most similar training samples vote for their classes. Two voting rules:

* ``"similarity"`` (default): the weighted vote of the instance-discrimination protocol
  (Wu, Xiong, Yu and Lin, "Unsupervised Feature Learning via Non-Parametric Instance
  Discrimination", CVPR 2018: each of the k neighbours adds ``exp(s_i / tau)`` to its class,
  ``tau = 0.07``), the weighting MoCo-style kNN monitors also use:
  ``score[c] = sum over the k neighbours of class c of exp(cos / tau)``;
* ``"majority"``: one vote per neighbour, ``score[c] = number of the k neighbours of class c``,
  ties broken by the larger sum of cosine similarities.

Top-1 is the class with the highest score, top-5 the five highest; a class that none of the k
neighbours belongs to is never a hit, even when fewer than five classes received votes.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from .._machine import usable_device
from ._training import as_labels, checked_num_classes, topk_accuracy
from .results import KNNResult

__all__ = ["KNNConfig", "knn_scores", "knn_evaluate"]


class KNNConfig(BaseModel):
    """Settings of the kNN protocol."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(default=20, ge=1)
    weighting: Literal["similarity", "majority"] = "similarity"
    temperature: float = Field(default=0.07, gt=0, description="tau of the similarity weighting exp(cos / tau)")
    chunk_size: int = Field(default=1024, ge=1, description="test rows compared at once (memory only)")

    def describe(self) -> str:
        vote = (
            f"votes weighted by exp(cos/{self.temperature:g})"
            if self.weighting == "similarity"
            else "one vote per neighbour, ties to the larger summed cosine"
        )
        return f"k={self.k} nearest training samples by cosine similarity of L2-normalised features, {vote}"


def knn_scores(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    *,
    num_classes: int,
    config: KNNConfig | None = None,
) -> torch.Tensor:
    """Class scores ``(N_test, num_classes)`` float64 of each test row (higher is better).

    Classes without a vote score ``-inf``.

    Args:
        train_features: ``(N_train, D)``; normalised here.
        train_labels: ``(N_train,)`` int64.
        test_features: ``(N_test, D)``; normalised here.
        num_classes: Number of classes.
        config: ``k`` (clipped to ``N_train``), weighting, temperature.
    """
    config = config or KNNConfig()
    if len(train_features) == 0:
        raise ValueError("kNN needs at least one training sample")
    train = F.normalize(train_features.float(), dim=1)
    labels = train_labels.to(train.device).long()
    k = min(config.k, len(train))
    out = []
    for chunk in test_features.float().to(train.device).split(config.chunk_size):
        sims = F.normalize(chunk, dim=1) @ train.T  # (B, N_train)
        top_sims, top_idx = sims.topk(k, dim=1)  # (B, k)
        neighbours = labels[top_idx]  # (B, k)
        top_sims = top_sims.double()
        counts = torch.zeros(len(chunk), num_classes, dtype=torch.float64, device=train.device)
        counts.scatter_add_(1, neighbours, torch.ones_like(top_sims))
        if config.weighting == "similarity":
            # exp(cos / tau) <= exp(1 / 0.07) ~ 1.6e6: no overflow in float64
            scores = torch.zeros_like(counts).scatter_add_(1, neighbours, (top_sims / config.temperature).exp())
        else:
            summed = torch.zeros_like(counts).scatter_add_(1, neighbours, top_sims)
            # |summed| <= k, so one more vote always outweighs any similarity difference
            scores = counts * (2 * k + 1) + summed
        scores[counts == 0] = -float("inf")
        out.append(scores.cpu())
    return torch.cat(out) if out else torch.zeros(0, num_classes, dtype=torch.float64)


def knn_evaluate(
    train_features: np.ndarray | torch.Tensor,
    train_labels: np.ndarray | torch.Tensor,
    test_features: np.ndarray | torch.Tensor,
    test_labels: np.ndarray | torch.Tensor,
    *,
    num_classes: int | None = None,
    config: KNNConfig | None = None,
    device: str | torch.device = "cpu",
) -> KNNResult:
    """Top-1 / top-5 accuracy (%) of kNN classification of the test features.

    Args:
        train_features: ``(N_train, D)`` features of the labelled (training) samples.
        train_labels: ``(N_train,)`` class ids.
        test_features: ``(N_test, D)``.
        test_labels: ``(N_test,)``.
        num_classes: Default ``1 + the largest label``.
        config: ``k`` (default 20), weighting (default similarity, ``tau = 0.07``).
        device: Where the similarities are computed.
    """
    config = config or KNNConfig()
    start = time.perf_counter()
    device = usable_device(device)
    x_train = torch.as_tensor(np.asarray(train_features)).to(device)
    x_test = torch.as_tensor(np.asarray(test_features)).to(device)
    if x_train.dim() != 2 or x_test.dim() != 2 or x_train.shape[1] != x_test.shape[1]:
        raise ValueError(
            f"features must be (N, D) with the same D, got train {tuple(x_train.shape)} and test {tuple(x_test.shape)}"
        )
    y_train = as_labels(train_labels, len(x_train), "train labels")
    y_test = as_labels(test_labels, len(x_test), "test labels")
    num_classes = checked_num_classes(num_classes, y_train, y_test)
    scores = knn_scores(x_train, y_train, x_test, num_classes=num_classes, config=config)
    top1, top5 = topk_accuracy(scores, y_test)
    return KNNResult(
        top1=top1,
        top5=top5,
        num_train=len(y_train),
        num_test=len(y_test),
        settings={**config.model_dump(exclude={"chunk_size"}), "num_classes": num_classes},
        seconds=time.perf_counter() - start,
    )
