"""What the protocols return: per-epoch scores, last/best summaries, manifest metric records.

Accuracies are percentages (``0``-``100``) of the test samples. Epochs are numbered from 1 in
every result (``epoch 100`` is the last of 100), as the original processors log them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EpochScore", "ProtocolResult", "KNNResult", "MetricRecord"]


class EpochScore(BaseModel):
    """Test accuracy after one training epoch."""

    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(ge=1, description="1-based epoch after which the test set was scored")
    top1: float
    top5: float
    train_loss: float = Field(description="mean cross-entropy over the epoch's batches")


class ProtocolResult(BaseModel):
    """Outcome of a trained-classifier protocol (linear, fine-tune, semi-supervised).

    ``*_last`` is the classifier after the final epoch: the honest number. ``*_best`` is the
    evaluated epoch with the highest top-1 (ties: the later epoch), the number the original
    code reports; it selects on the test set and so flatters. ``top5_best`` is the top-5 of
    that same epoch, not the best top-5.
    """

    model_config = ConfigDict(extra="forbid")

    protocol: str
    top1_last: float
    top5_last: float
    top1_best: float
    top5_best: float
    best_epoch: int
    epochs: int
    num_train: int
    num_test: int
    settings: dict[str, object] = Field(description="every hyper-parameter of the run")
    history: list[EpochScore]
    seconds: float = Field(description="wall time of training and scoring")


class KNNResult(BaseModel):
    """Outcome of the kNN protocol."""

    model_config = ConfigDict(extra="forbid")

    top1: float
    top5: float
    num_train: int
    num_test: int
    settings: dict[str, object]
    seconds: float


class MetricRecord(BaseModel):
    """One measured number, as the weights manifest stores it.

    Attributes:
        name: ``linear_top1_last``, ``knn_top1``, ``semi10_top1_best``, ...
        value: Accuracy in percent.
        protocol: Every hyper-parameter of the measurement, as text.
        dataset: ``nwucla``, ``ntu60``, ...
        split: The benchmark (``xview``, ``xsub``, ...), with the train and test splits used.
        command: The ``skeletonzoo-eval`` command line that measured it.
        machine: Where it ran (``skeletonzoo._machine.hardware``: the CPU with torch's vector
            extension and the thread count, or the GPU); a trained probe's number reproduces
            exactly only on the same kind of machine and thread count.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    value: float
    protocol: str
    dataset: str
    split: str
    command: str
    machine: str | None = None
