"""Running the protocols on a model and a prepared dataset: what ``skeletonzoo-eval`` does.

:func:`load_eval_model` resolves the encoder (a skeletonzoo checkpoint, or a seeded random
initialisation of the same architecture: the floor every pretrained model must beat);
:func:`evaluate_model` opens the prepared ``train`` and ``test`` splits, extracts the frozen
features once, runs the requested protocols and returns an :class:`EvaluationReport` whose
:class:`~skeletonzoo.evaluate.results.MetricRecord` list is what the weights manifest stores.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, cast, get_args

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from .._files import atomic_write_text
from .._machine import hardware
from ..data.prepared import PreparedData, PreparedMeta, copies_of_train, open_prepared
from ..data.preprocess import Preprocess
from ..exceptions import CheckpointError, CollapsedFeaturesWarning, DataMismatchError, DuplicateSampleWarning
from ..models import EncoderConfig, SkeletonEncoder
from .finetune import FinetuneRecipe, finetune
from .knn import KNNConfig, knn_evaluate
from .linear import LinearRecipe, linear_probe
from .results import KNNResult, MetricRecord, ProtocolResult
from .semi import SemiMode, fraction_name, semi_supervised_finetune, semi_supervised_linear
from .sources import EncoderFeatures

__all__ = [
    "PROTOCOLS",
    "EvalModel",
    "EvalSettings",
    "EvaluationReport",
    "load_eval_model",
    "evaluate_model",
]

Protocol = Literal["linear", "knn", "finetune", "semi"]
TestCopies = Literal["keep", "drop"]
PROTOCOLS: tuple[str, ...] = get_args(Protocol)
REPORT_FORMAT = "skeletonzoo.eval/1"


@dataclass
class EvalModel:
    """The encoder under evaluation.

    Attributes:
        encoder: The ``"joint"`` component's encoder (eval mode).
        stream: Input stream derived from the positions.
        preprocessing: ``Preprocess.to_dict()`` the model was trained with (``None``: unknown).
        description: What it is, for reports: a path, or ``random-init (seed 0)``.
    """

    encoder: SkeletonEncoder
    stream: str
    preprocessing: dict[str, Any] | None
    description: str


def load_eval_model(
    model: str | Path | None,
    *,
    random_init: bool = False,
    init: str = "reference",
    seed: int = 0,
    layout: str = "ntu25",
    stream: str | None = None,
    device: str | torch.device = "cpu",
    revision: str | None = None,
) -> EvalModel:
    """Resolve the encoder to evaluate.

    Args:
        model: A zoo model name or the path of a skeletonzoo ``.safetensors`` checkpoint
            (``skeletonzoo.load``); its ``"joint"`` component is the encoder (the two-encoder
            methods' second component is not evaluated).
        random_init: Evaluate a randomly initialised encoder instead: the architecture of
            ``model`` when given, else the default quarter-width ST-GCN on ``layout``. The
            weights are the original pretraining's initialisation (``reference_init_``:
            convolution/linear ``N(0, 0.02)``, BatchNorm weight ``N(1, 0.02)``), drawn from a
            generator seeded with ``seed`` — what pretraining starts from — with
            ``init="reference"``, or PyTorch's default initialisation (Kaiming-uniform
            convolutions, BatchNorm weight 1) with ``init="pytorch"``. The reference init makes
            features tiny (~1e-7), which the papers' un-standardised linear probe cannot use;
            PyTorch's is the usual "random encoder" floor.
        init: ``"reference"`` or ``"pytorch"`` (see ``random_init``).
        seed: Seed of the random initialisation.
        layout: Layout of the random encoder when no ``model`` gives one.
        stream: Stream of the random encoder (default ``model``'s, else ``"joint"``); must
            match ``model``'s when both are given.
        device: Where the encoder is put.
        revision: With a zoo name, which published weights (a prefix of their sha256 or Hub
            commit; default the newest).

    Raises:
        CheckpointError: ``model`` is not a skeletonzoo checkpoint or has no ``"joint"`` component.
        ValueError: neither ``model`` nor ``random_init``.
    """
    if model is None and not random_init:
        raise ValueError("give a model (a zoo name or a .safetensors checkpoint), or --random-init for a randomly "
                         "initialised encoder")  # fmt: skip
    if random_init and revision is not None:
        raise ValueError("a revision chooses published weights; a random-init encoder uses none (drop --revision)")
    config = EncoderConfig.model_validate({"layout": layout})
    preprocessing: dict[str, Any] | None = None
    model_stream = "joint"
    description = ""
    encoder: SkeletonEncoder | None = None
    if model is not None:
        from ..api import load
        from ..checkpoint import is_checkpoint_path

        # a registry name (``revision``: which of its published entries) or a checkpoint path; a
        # random encoder needs only a name's architecture, so unpublished names work too
        by_name = not is_checkpoint_path(model)
        loaded = load(model, device=device, revision=revision, pretrained=not (random_init and by_name))
        if not isinstance(loaded, SkeletonEncoder):
            raise CheckpointError(
                f"{model}: {type(loaded).__name__} is not a single ST-GCN encoder; evaluate the members of "
                "an ensemble one by one"
            )
        encoder = loaded
        config = encoder.config
        # attributes load() attaches (see skeletonzoo.api), untyped on nn.Module
        preprocessing = cast(Preprocess, loaded.preprocess).to_dict()
        model_stream = cast(str, loaded.stream)
        description = str(model) + (f" (revision {revision})" if revision else "")
        if stream is not None and stream != model_stream:
            raise ValueError(f"{model} was trained on the {model_stream!r} stream, not {stream!r}; omit --stream "
                             f"(it applies to --random-init encoders) or pass --stream {model_stream}")  # fmt: skip
    if random_init:
        if init not in ("reference", "pytorch"):
            raise ValueError(f"init is 'reference' or 'pytorch', not {init!r}")
        with torch.random.fork_rng(devices=[]):  # construction draws from the global RNG
            if init == "pytorch":
                torch.manual_seed(seed)
            encoder = SkeletonEncoder(config)
        if init == "reference":
            from ..models.init import reference_init_

            reference_init_(encoder, torch.Generator().manual_seed(seed))
        model_stream = stream or model_stream
        description = f"random-init ({init} init, seed {seed})"
        if model:
            description += f" with the architecture of {model}"
    assert encoder is not None
    return EvalModel(encoder.to(device).eval(), model_stream, preprocessing, description)


class EvalSettings(BaseModel):
    """Which protocols to run, and every hyper-parameter."""

    model_config = ConfigDict(extra="forbid")

    protocols: tuple[Protocol, ...] = ("linear", "knn")
    seed: int = 0
    linear: LinearRecipe = Field(default_factory=LinearRecipe)
    knn: KNNConfig = Field(default_factory=KNNConfig)
    finetune: FinetuneRecipe = Field(default_factory=FinetuneRecipe)
    semi_fractions: tuple[Annotated[float, Field(gt=0, le=1)], ...] = Field(
        default=(0.01, 0.1), description="fractions of the training labels, each in (0, 1]"
    )
    semi_mode: SemiMode = "linear"
    semi_finetune: FinetuneRecipe | None = Field(
        default=None, description="recipe of semi_mode='finetune' (None: HiCLR's, epochs as long as the full train set)"
    )
    batch_size: int = Field(default=256, ge=1, description="samples per encoder forward pass when extracting features")
    ignore_preprocessing: bool = Field(default=False, description="evaluate even if the data's preprocessing differs")
    test_copies: TestCopies = Field(
        default="keep",
        description="test samples that are exact copies of training samples: scored with the rest ('keep', the "
        "benchmark's test set as published) or left out ('drop')",
    )


@dataclass
class EvaluationReport:
    """Everything one ``skeletonzoo-eval`` run measured."""

    model: str
    stream: str
    dataset: str
    benchmark: str
    data: dict[str, Any]
    metrics: list[MetricRecord]
    results: dict[str, ProtocolResult | KNNResult]
    command: str
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # CPU (with the vector extension torch uses) and threads, or GPU: the trained protocols'
    # numbers reproduce exactly only on the same kind of machine and thread count (docs/results.md)
    machine: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "model": self.model,
            "stream": self.stream,
            "dataset": self.dataset,
            "benchmark": self.benchmark,
            "data": self.data,
            "command": self.command,
            "machine": self.machine,
            "metrics": [m.model_dump() for m in self.metrics],
            "results": {name: r.model_dump() for name, r in self.results.items()},
            "seconds": self.seconds,
            "notes": self.notes,
        }

    def write_json(self, path: str | Path) -> None:
        """Write :meth:`to_dict` to ``path`` atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def table(self) -> str:
        """A readable summary: one row per metric, then the wall time of each step."""
        lines = [
            f"model:   {self.model} ({self.stream} stream)",
            f"data:    {self.dataset} {self.benchmark}: train {self.data['train']['num_samples']}, "
            f"test {self.data['test']['num_samples']} ({self.data['root']})",
            *([f"machine: {self.machine}"] if self.machine else []),
            "",
            f"{'metric':<32} {'value':>7}  protocol",
        ]
        for m in self.metrics:
            lines.append(f"{m.name:<32} {m.value:>7.2f}  {_short(self.results, m.name)}")
        lines.append("")
        lines.append("wall time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items()))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _short(results: dict[str, ProtocolResult | KNNResult], metric: str) -> str:
    key = metric.rsplit("_top", 1)[0]
    result = results.get(key)
    if isinstance(result, ProtocolResult):
        which = "last epoch" if metric.endswith("_last") else f"best test epoch ({result.best_epoch})"
        return f"{which} of {result.epochs}, {result.num_train} training labels"
    if isinstance(result, KNNResult):
        return f"k={result.settings['k']}, {result.settings['weighting']} vote"
    return ""


def _check_data(model: EvalModel, train: PreparedData, settings: EvalSettings, notes: list[str]) -> None:
    meta = train.meta
    if meta.layout != model.encoder.config.layout:
        raise DataMismatchError(
            f"{train.root} holds layout {meta.layout!r} but the encoder expects {model.encoder.config.layout!r}; "
            f"prepare the data for layout {model.encoder.config.layout!r}"
        )
    if model.preprocessing is None or meta.preprocessing is None:
        return
    # compare validated pipelines, so that a field left at its default compares equal to it (and
    # an unset length rule to the rule it resolves to)
    pipelines = [Preprocess.from_dict(p) for p in (model.preprocessing, meta.preprocessing)]
    ours, theirs = ({**p.to_dict(), "length_rule": p.resolved_length_rule()} for p in pipelines)
    if ours != theirs:
        differing = sorted(k for k in ours if ours[k] != theirs[k])
        message = (
            f"{train.root} was prepared with a different preprocessing than the model was trained with "
            f"(differs in {', '.join(differing)}: data {[theirs[k] for k in differing]}, "
            f"model {[ours[k] for k in differing]})"
        )
        if not settings.ignore_preprocessing:
            raise DataMismatchError(
                message + "; prepare the data with the model's preprocessing, or pass --ignore-preprocessing"
            )
        notes.append(message + " (evaluated anyway: --ignore-preprocessing)")


def _test_copies(
    train: PreparedData, test: PreparedData, mode: TestCopies, notes: list[str]
) -> tuple[PreparedData, str]:
    """The test samples to score, and what the split description says of the copies of training
    samples among them (``copies_of_train``): kept, with a note and a warning, or left out."""
    pairs = copies_of_train(train.positions, test.positions)
    if not pairs:
        return test, ""
    n, total = len(pairs), len(test)
    shown = ", ".join(f"{test.names[i]} = {train.names[j]}" for i, j in pairs[:3]) + (", ..." if n > 3 else "")
    if mode == "drop":
        rows = [i for i, _ in pairs]
        left_out = set(rows)
        kept = replace(
            test, positions=np.delete(test.positions, rows, axis=0), labels=np.delete(test.labels, rows),
            names=[name for i, name in enumerate(test.names) if i not in left_out],
        )  # fmt: skip
        notes.append(f"{n} of the {total} test samples are exact copies of training samples ({shown}) and were left "
                     f"out (--test-copies drop): the scores are of the other {total - n}")  # fmt: skip
        return kept, f" of its {total}: the {n} exact copies of training samples left out"
    message = (
        f"{n} of the {total} test samples are exact copies of training samples ({shown}): the scores include "
        f"clips the encoder may have been pretrained on and the classifiers were fitted on; --test-copies drop "
        f"(test_copies='drop') scores only the other {total - n}"
    )
    notes.append(message)
    warnings.warn(message, DuplicateSampleWarning, stacklevel=3)
    return test, f", {n} of them exact copies of training samples"


def _records(
    name: str, result: ProtocolResult, text: str, dataset: str, split: str, command: str
) -> list[MetricRecord]:
    values = {
        f"{name}_top1_last": result.top1_last,
        f"{name}_top1_best": result.top1_best,
        f"{name}_top5_last": result.top5_last,
        f"{name}_top5_best": result.top5_best,
    }
    out = []
    for metric, value in values.items():
        which = (
            "after the last epoch"
            if metric.endswith("_last")
            else f"at the best test epoch ({result.best_epoch} of {result.epochs}; selected on the test set, "
            "as the original code reports)"
        )
        top = "top-1" if "_top1_" in metric else "top-5"
        out.append(
            MetricRecord(
                name=metric, value=round(value, 4), protocol=f"{top} accuracy (%) {which}; {text}",
                dataset=dataset, split=split, command=command,
            )  # fmt: skip
        )
    return out


@dataclass
class _Run:
    """What every protocol of one :func:`evaluate_model` call shares."""

    model: EvalModel
    settings: EvalSettings
    train: PreparedData
    test: PreparedData
    encoder: SkeletonEncoder
    device: str | torch.device
    command: str
    progress: bool | None
    common: str  # the encoder, data and seed, ending every metric's protocol text
    split: str  # the metric records' split description
    notes: list[str]
    features: tuple[np.ndarray, np.ndarray] | None = None  # train, test (N, D): extracted once, when needed
    frozen: str = ""  # how the features were obtained, for the protocol texts

    @property
    def meta(self) -> PreparedMeta:
        return self.train.meta

    def records(self, name: str, result: ProtocolResult, text: str) -> list[MetricRecord]:
        return _records(name, result, text, self.meta.dataset, self.split, self.command)


# Below this, features count as collapsed. Measured on every 5th NW-UCLA training clip (204): the
# published msmclr-nwucla-xview 0.55, a random encoder 0.125 (reference init) and 3.4e-3 (PyTorch
# init), a SkeletonCLR run of one 15-step epoch (hidden_channels 4) 2.4e-5 (kNN below chance).
COLLAPSED_SPREAD = 1e-4


def feature_spread(features: np.ndarray) -> float:
    """How much ``(N, D)`` features differ between samples: the mean distance of a sample's
    features from their mean, relative to the mean feature norm (0 when every sample maps to the
    same vector; ``nan`` when every feature is 0)."""
    norm = float(np.linalg.norm(features, axis=1).mean())
    spread = float(np.linalg.norm(features - features.mean(axis=0), axis=1).mean())
    return spread / norm if norm > 0 else float("nan")


def _warn_if_collapsed(run: _Run, features: np.ndarray) -> None:
    if len(features) < 2:  # one clip has no spread to measure
        return
    finite = np.isfinite(features).all(axis=1)
    spread = feature_spread(features) if finite.all() else 0.0
    if not finite.all():
        message = (f"{int((~finite).sum())} of the {len(features)} train clips have NaN or inf features: the "
                   "encoder's output is not finite for them (weights or inputs out of range)")  # fmt: skip
    elif spread < COLLAPSED_SPREAD or spread != spread:  # nan: all-zero features
        message = (
            f"the train features barely differ between clips (their spread is {spread:.1e} of their norm; a "
            f"trained encoder's is around 0.5, a random one's 3e-3 or more): the encoder's output has collapsed, "
            "e.g. after a run of a few epochs whose BatchNorm statistics have not settled, so every protocol "
            "will score near chance"
        )
    else:
        return
    run.notes.append(message)
    warnings.warn(message, CollapsedFeaturesWarning, stacklevel=3)


def _extract(run: _Run) -> float:
    """Frozen features of both splits (``run.features``); returns the seconds it took."""
    start = time.perf_counter()
    extract = dict(stream=run.model.stream, layout=run.meta.layout, device=run.device,
                   batch_size=run.settings.batch_size)  # fmt: skip
    f_train, f_test = (
        EncoderFeatures(run.encoder, part.positions, **extract).extract_all(  # type: ignore[arg-type]
            progress=run.progress, desc=f"{name} features"
        )
        for part, name in ((run.train, "train"), (run.test, "test"))
    )
    _warn_if_collapsed(run, f_train)
    run.features = (f_train, f_test)
    run.frozen = (
        f"frozen encoder (eval mode), un-augmented inputs, {f_train.shape[1]}-d pooled features extracted once"
    )
    return time.perf_counter() - start


def _linear(run: _Run) -> tuple[ProtocolResult, list[MetricRecord]]:
    assert run.features is not None
    (f_train, f_test), settings = run.features, run.settings
    probe = linear_probe(
        f_train, run.train.labels, f_test, run.test.labels, num_classes=run.meta.num_classes,
        recipe=settings.linear, seed=settings.seed, device=run.device,
    )  # fmt: skip
    head = f"new Linear({f_train.shape[1]}, {run.meta.num_classes})"
    text = f"linear evaluation: {run.frozen}; {head}; {settings.linear.describe()}; {run.common}"
    return probe.result, run.records("linear", probe.result, text)


def _knn(run: _Run) -> tuple[KNNResult, list[MetricRecord]]:
    assert run.features is not None
    (f_train, f_test), settings = run.features, run.settings
    knn = knn_evaluate(
        f_train, run.train.labels, f_test, run.test.labels, num_classes=run.meta.num_classes, config=settings.knn,
        device=run.device,
    )  # fmt: skip
    if settings.knn.k > len(run.train):
        run.notes.append(f"kNN: k={settings.knn.k} is more than the {len(run.train)} training samples, so all of "
                         "them vote")  # fmt: skip
    text = f"kNN: {run.frozen}; {settings.knn.describe()}; all {len(run.train)} training samples labelled; {run.common}"
    records = [
        MetricRecord(
            name=f"knn_{top}", value=round(value, 4),
            protocol=f"{'top-1' if top == 'top1' else 'top-5'} accuracy (%); {text}",
            dataset=run.meta.dataset, split=run.split, command=run.command,
        )  # fmt: skip
        for top, value in (("top1", knn.top1), ("top5", knn.top5))
    ]
    return knn, records


def _finetune(run: _Run) -> tuple[ProtocolResult, list[MetricRecord]]:
    settings = run.settings
    tuned = finetune(
        run.encoder, run.train.positions, run.train.labels, run.test.positions, run.test.labels,
        stream=run.model.stream, layout=run.meta.layout, num_classes=run.meta.num_classes, recipe=settings.finetune,
        seed=settings.seed, device=run.device, progress=run.progress,
    )  # fmt: skip
    text = f"fine-tuning: {settings.finetune.describe()}; {run.common}"
    return tuned.result, run.records("finetune", tuned.result, text)


def _semi(run: _Run, fraction: float) -> tuple[str, ProtocolResult, list[MetricRecord]]:
    """One label fraction of the semi-supervised protocol: its result name, result and records."""
    settings, name = run.settings, fraction_name(fraction)
    if settings.semi_mode == "linear":
        assert run.features is not None
        f_train, f_test = run.features
        result = semi_supervised_linear(
            f_train, run.train.labels, f_test, run.test.labels, fraction, num_classes=run.meta.num_classes,
            recipe=settings.linear, seed=settings.seed, device=run.device,
        ).result  # fmt: skip
        how = f"linear classifier on the {run.frozen}; {settings.linear.describe()}"
    else:
        result = semi_supervised_finetune(
            run.encoder, run.train.positions, run.train.labels, run.test.positions, run.test.labels, fraction,
            stream=run.model.stream, layout=run.meta.layout, num_classes=run.meta.num_classes,
            recipe=settings.semi_finetune, seed=settings.seed, device=run.device,
        ).result  # fmt: skip
        name = f"{name}_finetune"
        how = "fine-tuning: " + _finetune_text(result)
    text = (
        f"semi-supervised, {fraction:.0%} of the training labels: {result.settings['subset_size']} samples, "
        f"class-balanced (max(1, round({fraction:g} * n_c)) per class, drawn with seed {settings.seed}); "
        f"{how}; {run.common}"
    )
    return name, result, run.records(name, result, text)


def evaluate_model(
    model: EvalModel,
    data_dir: str | Path,
    settings: EvalSettings | None = None,
    *,
    device: str | torch.device = "cpu",
    command: str = "",
    progress: bool | None = None,
) -> EvaluationReport:
    """Run ``settings.protocols`` on the prepared dataset in ``data_dir``.

    Args:
        model: From :func:`load_eval_model`.
        data_dir: A prepared directory with ``train`` and ``test`` splits (``skeletonzoo prepare``);
            its positions are already normalised and go straight to the encoder.
        settings: Protocols and hyper-parameters (default linear + kNN, the papers' settings but
            for the linear head's initialisation).
        device: Where the encoder and the classifiers run.
        command: The command line, recorded with every metric.
        progress: Progress bars; default when stderr is a terminal.

    Raises:
        DataMismatchError: the data's layout or preprocessing is not the model's.
    """
    settings = settings or EvalSettings()
    train = open_prepared(data_dir, "train")
    test = open_prepared(data_dir, "test")
    for part in (train, test):  # the report's fingerprints must be of these very files
        part.verify()
    notes: list[str] = []
    _check_data(model, train, settings, notes)
    meta = train.meta
    test, copies = _test_copies(train, test, settings.test_copies, notes)
    run = _Run(
        model=model, settings=settings, train=train, test=test, encoder=model.encoder.to(device).eval(),
        device=device, command=command, progress=progress, notes=notes,
        split=f"{meta.benchmark} (train on split 'train', {len(train)} samples; test on split 'test', {len(test)}"
        f"{copies})",
        common=(
            f"encoder {model.description}, {model.stream} stream, layout {meta.layout}; data {meta.dataset} "
            f"{meta.benchmark} (prepared-data fingerprints: train {train.fingerprint()[:16]}, test "
            f"{test.fingerprint()[:16]}); seed {settings.seed}"
        ),
    )  # fmt: skip
    seconds: dict[str, float] = {}
    metrics: list[MetricRecord] = []
    results: dict[str, ProtocolResult | KNNResult] = {}
    if {"linear", "knn"} & set(settings.protocols) or ("semi" in settings.protocols and settings.semi_mode == "linear"):
        seconds["features"] = _extract(run)
    protocols: dict[str, Callable[[_Run], tuple[ProtocolResult | KNNResult, list[MetricRecord]]]] = {
        "linear": _linear, "knn": _knn, "finetune": _finetune,
    }  # fmt: skip
    for protocol, run_protocol in protocols.items():  # in this order, whatever order they were asked in
        if protocol in settings.protocols:
            result, records = run_protocol(run)
            results[protocol], seconds[protocol] = result, result.seconds
            metrics += records
    if "semi" in settings.protocols:
        for fraction in settings.semi_fractions:
            name, result, records = _semi(run, fraction)
            results[name], seconds[name] = result, result.seconds
            metrics += records

    data = {
        "root": str(train.root),
        "train": {"num_samples": len(train), "fingerprint": train.fingerprint()},
        "test": {"num_samples": len(test), "fingerprint": test.fingerprint(), "test_copies": settings.test_copies},
        "num_classes": meta.num_classes,
        "layout": meta.layout,
        "preprocessing": meta.preprocessing,
    }
    machine = hardware(device)
    return EvaluationReport(
        model=model.description, stream=model.stream, dataset=meta.dataset, benchmark=meta.benchmark, data=data,
        metrics=[m.model_copy(update={"machine": machine}) for m in metrics], results=results, command=command,
        seconds=seconds, notes=notes, machine=machine,
    )  # fmt: skip


def _finetune_text(result: ProtocolResult) -> str:
    keys = set(FinetuneRecipe.model_fields)
    return FinetuneRecipe.model_validate({k: v for k, v in result.settings.items() if k in keys}).describe()
