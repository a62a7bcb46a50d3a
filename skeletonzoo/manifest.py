"""``weights_manifest.json``: the single source of truth for published weights.

The manifest holds, for every model name of the registry, the metrics the papers report for it
and the weights this project has published (none until trained). A published entry says where
the file lives (bundled inside the package, on the Hugging Face Hub at a pinned commit, on
mirror URLs), its sha256 and size, which are checked before anything is loaded, its licence
and model card, how it was trained (recipe, seed, epochs, data fingerprint, hardware,
software, command) and what it scored, each metric with its protocol and who measured it.

The file ships inside the package (``skeletonzoo/weights_manifest.json``); the repository
root's ``weights_manifest.json`` is a symbolic link to it, so there is one file to edit and
nothing to keep in sync. Setting ``SKELETONZOO_MANIFEST`` to another file makes the library
read that one instead (to try an entry before publishing it).

Every model here is pydantic with ``extra="forbid"``: a typo in the file fails at parse time
with the field's location. :func:`publish` adds a trained checkpoint in one call.

>>> from skeletonzoo.manifest import current_manifest
>>> current_manifest().models["msmclr-ntu60-xsub"].paper_metrics[0].value
76.8
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ._files import atomic_copy, atomic_write_text, sha256_file
from .exceptions import CheckpointError, ManifestError
from .model_card import CARD_EVALUATION_HEADING, card_file_line, evaluation_markdown

__all__ = [
    "MANIFEST_FORMAT",
    "MANIFEST_ENV",
    "PACKAGE_DIR",
    "record_metrics",
    "PACKAGED_MANIFEST",
    "Metric",
    "HuggingFaceSource",
    "WeightsSources",
    "DataProvenance",
    "SoftwareProvenance",
    "TrainingProvenance",
    "PublishedWeights",
    "ModelRecord",
    "Manifest",
    "manifest_path",
    "load_manifest",
    "current_manifest",
    "write_manifest",
    "publish",
]

MANIFEST_FORMAT: Literal["skeletonzoo.manifest/1"] = "skeletonzoo.manifest/1"
MANIFEST_ENV = "SKELETONZOO_MANIFEST"
PACKAGE_DIR = Path(__file__).resolve().parent
PACKAGED_MANIFEST = PACKAGE_DIR / "weights_manifest.json"

_SHA256 = r"^[0-9a-f]{64}$"
_COMMIT = r"^[0-9a-f]{40}$"
_FILE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*\.safetensors$"
MIN_REVISION_PREFIX = 7


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metric(_Strict):
    """One measured or quoted number.

    Attributes:
        name: What was measured: ``linear_top1_best``, ``linear_top1_last``,
            ``linear_top5_last``, ``knn_top1``, ``semi1_top1``, ``semi10_top1``, ...
        value: Accuracy in percent.
        protocol: How it was measured, in words (probe, epochs, lr, which epoch is reported).
        measured_by: ``"skeletonzoo"`` (this project ran it) or ``"paper"`` (quoted).
        dataset, split: The benchmark (``ntu60``/``xsub``, ``nwucla``/``xview``, ...).
        command: The command that reproduces it; required when measured by skeletonzoo.
        source: The publication quoted; required when quoted from a paper.
        machine: What measured it, as ``skeletonzoo-eval`` names it (the CPU with the vector
            extension torch uses, and the thread count; or the GPU); :func:`publish` and
            :func:`record_metrics` require it of metrics measured by skeletonzoo (files written
            before the field existed still load). The trained protocols' numbers reproduce
            exactly only on the same kind of machine (docs/results.md).
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    value: float = Field(ge=0, le=100, description="percent")
    protocol: str = Field(min_length=1)
    measured_by: Literal["skeletonzoo", "paper"]
    dataset: str = Field(min_length=1)
    split: str = Field(min_length=1)
    command: str | None = None
    source: str | None = None
    machine: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _provenance(self) -> Metric:
        if self.measured_by == "skeletonzoo" and not self.command:
            raise ValueError(f"metric {self.name!r} measured by skeletonzoo needs the `command` that measured it")
        if self.measured_by == "paper" and not self.source:
            raise ValueError(f"metric {self.name!r} quoted from a paper needs its `source`")
        return self


class HuggingFaceSource(_Strict):
    """A file in a Hugging Face Hub model repository, at a pinned commit."""

    repo_id: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", description="user-or-org/repo")
    filename: str = Field(min_length=1, description="path of the file inside the repository")
    revision: str = Field(pattern=_COMMIT, description="the 40-hex commit the file was uploaded in")

    @field_validator("filename")
    @classmethod
    def _relative(cls, value: str) -> str:
        if value.startswith("/") or ".." in value.split("/"):
            raise ValueError(f"filename must be a relative path inside the repository, got {value!r}")
        return value


class WeightsSources(_Strict):
    """Where a weights file can be found, tried in this order: bundled, (cache), Hub, URLs."""

    bundled: str | None = Field(
        None,
        pattern=r"^weights/[A-Za-z0-9][A-Za-z0-9._-]*\.safetensors$",
        description="path inside the installed package, e.g. weights/msmclr-nwucla-xview.safetensors",
    )
    huggingface: HuggingFaceSource | None = None
    urls: tuple[str, ...] = Field((), description="mirror URLs (http or https)")

    @field_validator("urls")
    @classmethod
    def _http(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            if not re.match(r"^https?://[^/\s]+/\S+$", url):
                raise ValueError(f"mirror URL {url!r} is not an http(s) URL of a file")
        return value

    @model_validator(mode="after")
    def _some_source(self) -> WeightsSources:
        if self.bundled is None and self.huggingface is None and not self.urls:
            raise ValueError("a published weights file needs at least one source (bundled, huggingface or urls)")
        return self


class DataProvenance(_Strict):
    """The data a run trained on."""

    dataset: str = Field(min_length=1)
    split: str = Field(min_length=1, description="e.g. 'xview/train'")
    num_samples: int | None = Field(None, ge=0)
    fingerprint: str = Field(pattern=_SHA256, description="sha256 identifying the prepared files")


class SoftwareProvenance(_Strict):
    """The code a run used."""

    skeletonzoo: str = Field(min_length=1, description="skeletonzoo version")
    git_commit: str | None = Field(
        None, description="commit of the training code, '+dirty' when modified; None outside a git checkout"
    )
    torch: str = Field(min_length=1, description="torch version")
    python: str | None = None


class TrainingProvenance(_Strict):
    """How a published checkpoint was trained (what the trainer exports)."""

    recipe: str = Field(min_length=1, description="recipe name (skeletonzoo/pretrain/recipes/NAME.yaml)")
    seed: int
    epochs_run: int = Field(ge=1)
    epochs_planned: int = Field(ge=1, description="the recipe's epochs; more than epochs_run when shortened")
    data: DataProvenance
    wall_time_s: float = Field(ge=0)
    hardware: str = Field(min_length=1, description="e.g. '1x NVIDIA H200' or 'Intel Xeon, 2 cores'")
    software: SoftwareProvenance
    command: str | None = Field(None, description="the command line that started its run (None: the Python API)")
    later_commands: tuple[str, ...] | None = Field(
        None, description="the commands that resumed or exported the run after it, in order (None: none)"
    )


class PublishedWeights(_Strict):
    """One published weights file of a model."""

    filename: str = Field(pattern=_FILE_NAME)
    sha256: str = Field(pattern=_SHA256)
    size_bytes: int = Field(gt=0)
    sources: WeightsSources
    model_card: str | None = Field(
        None, pattern=r"^weights/[A-Za-z0-9][A-Za-z0-9._-]*\.md$", description="path inside the package"
    )
    licence: str = Field(min_length=1)
    training: TrainingProvenance
    metrics: tuple[Metric, ...] = ()

    @field_validator("metrics")
    @classmethod
    def _measured_here(cls, value: tuple[Metric, ...]) -> tuple[Metric, ...]:
        for metric in value:
            if metric.measured_by != "skeletonzoo":
                raise ValueError(
                    f"metric {metric.name!r} of published weights must be measured_by 'skeletonzoo'; "
                    "numbers quoted from a paper belong in the model's paper_metrics"
                )
        return value

    def matches_revision(self, revision: str) -> bool:
        """Whether ``revision`` (a prefix of >= 7 hex of the Hub commit or the sha256) names this file."""
        rev = revision.lower()
        if len(rev) < MIN_REVISION_PREFIX:
            return False
        hf = self.sources.huggingface
        return self.sha256.startswith(rev) or (hf is not None and hf.revision.startswith(rev))


class ModelRecord(_Strict):
    """What the manifest knows about one model name."""

    paper_metrics: tuple[Metric, ...] = ()
    weights: tuple[PublishedWeights, ...] = Field((), description="oldest first; the last is the default")

    @field_validator("paper_metrics")
    @classmethod
    def _quoted(cls, value: tuple[Metric, ...]) -> tuple[Metric, ...]:
        for metric in value:
            if metric.measured_by != "paper":
                raise ValueError(f"paper_metrics entry {metric.name!r} must be measured_by 'paper'")
        return value

    @field_validator("weights")
    @classmethod
    def _distinct(cls, value: tuple[PublishedWeights, ...]) -> tuple[PublishedWeights, ...]:
        shas = [w.sha256 for w in value]
        if len(set(shas)) != len(shas):
            raise ValueError("the same weights file (sha256) is published twice")
        return value

    @property
    def latest(self) -> PublishedWeights | None:
        """The weights loaded by default (the last published), or ``None``."""
        return self.weights[-1] if self.weights else None


class Manifest(_Strict):
    """The whole ``weights_manifest.json``."""

    format: Literal["skeletonzoo.manifest/1"] = MANIFEST_FORMAT
    models: dict[str, ModelRecord] = Field(default_factory=dict)

    @field_validator("models")
    @classmethod
    def _names(cls, value: dict[str, ModelRecord]) -> dict[str, ModelRecord]:
        for name in value:
            if not re.match(r"^[a-z0-9]+(-[a-z0-9]+)+$", name):
                raise ValueError(f"model name {name!r} is not of the form method-dataset-split[-stream]")
        return value

    def record(self, name: str) -> ModelRecord:
        """The record of ``name`` (an empty one if the manifest does not mention it)."""
        return self.models.get(name) or ModelRecord()

    def to_json(self) -> str:
        """The canonical text of the file: sorted names, 2-space indent, no nulls."""
        data = self.model_dump(mode="json", exclude_none=True)
        data["models"] = dict(sorted(data["models"].items()))
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def manifest_path() -> Path:
    """The manifest the library reads: ``$SKELETONZOO_MANIFEST`` or the packaged one."""
    env = os.environ.get(MANIFEST_ENV)
    return Path(env).expanduser() if env else PACKAGED_MANIFEST


def load_manifest(path: str | Path | None = None) -> Manifest:
    """Read and validate a manifest file (default :func:`manifest_path`).

    Raises:
        ManifestError: missing file, invalid JSON, or a schema violation (with its location).
    """
    path = Path(path) if path is not None else manifest_path()
    from_env = bool(os.environ.get(MANIFEST_ENV)) and path == manifest_path()  # callers pass manifest_path() too
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        where = (f" (set by ${MANIFEST_ENV}: a draft starts as a copy of the packaged {PACKAGED_MANIFEST.name}; "
                 f"unset the variable to read the packaged one)") if from_env else ""  # fmt: skip
        raise ManifestError(f"cannot read the weights manifest {path}: {exc.strerror or exc}{where}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise ManifestError(f"{path} does not match the manifest schema: {_schema_problems(exc)}") from None


def _schema_problems(exc: ValidationError) -> str:
    """A schema violation in one line: each problem's location and message (the first 8)."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()[:8]
    )
    return problems + (f" ({exc.error_count()} problems in all)" if exc.error_count() > 8 else "")


_F = TypeVar("_F", bound=Callable[..., Any])


def _schema_errors_name_the_entry(function: _F) -> _F:
    """Re-raise pydantic's ValidationError from arguments that do not fit the schema as a
    :class:`ManifestError` in one line, naming the model (``name``, the first argument)."""

    @functools.wraps(function)
    def wrapper(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(name, *args, **kwargs)
        except ValidationError as exc:
            problems = _schema_problems(exc)
            raise ManifestError(f"{name!r}: the entry does not fit the manifest schema: {problems}") from None

    return cast(_F, wrapper)


_cache: dict[tuple[str, int, int], Manifest] = {}


def current_manifest() -> Manifest:
    """The manifest at :func:`manifest_path`, parsed once per version of the file."""
    path = manifest_path()
    try:
        stat = path.stat()
    except OSError:
        return load_manifest(path)  # raises the readable error
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_manifest(path)
    return _cache[key]


def write_manifest(manifest: Manifest, path: str | Path | None = None) -> Path:
    """Write ``manifest`` atomically (through a symbolic link, which stays a link)."""
    path = Path(path) if path is not None else manifest_path()
    atomic_write_text(path, manifest.to_json())
    return path


def _as_metric(metric: Metric | BaseModel | dict[str, Any]) -> Metric:
    """A :class:`Metric` from itself, a dict, or another pydantic record with the same fields
    (``skeletonzoo.evaluate.results.MetricRecord``); ``measured_by`` defaults to skeletonzoo."""
    if not isinstance(metric, Metric):
        fields = metric.model_dump() if isinstance(metric, BaseModel) else dict(metric)
        metric = Metric.model_validate({"measured_by": "skeletonzoo", **fields})
    if metric.measured_by == "skeletonzoo" and not metric.machine:
        # (manifests written before the field existed still load; what is recorded now names it)
        raise ValueError(
            f"metric {metric.name!r} measured by skeletonzoo needs the `machine` it ran on (skeletonzoo-eval's "
            "records name it): the trained probes' numbers reproduce only on the same kind"
        )
    return metric


# Keys of a checkpoint's provenance that describe the method, not the run.
_NOT_TRAINING = ("method", "recipe_config", "training")


def _trainer_entry(checkpoint: Path, sha256: str, size: int) -> dict[str, Any]:
    """The ``{stem}.manifest.json`` skeletonzoo-pretrain writes next to an export, if present."""
    path = checkpoint.with_name(f"{checkpoint.stem}.manifest.json")
    if not path.is_file():
        return {}
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(entry, dict):
        raise ManifestError(f"{path} is not a JSON object")
    recorded = entry.get("size_bytes", entry.get("size"))  # "size": exports before the schema's field names
    if (entry.get("sha256"), recorded) not in ((sha256, size), (None, None)):
        raise CheckpointError(
            f"{path} describes another file (sha256 {entry.get('sha256')}, {recorded} bytes) than "
            f"{checkpoint} (sha256 {sha256}, {size} bytes); re-export the run or pass training= and licence="
        )
    return entry


def _training_from(provenance: dict[str, Any], trainer_entry: dict[str, Any]) -> dict[str, Any] | None:
    if isinstance(trainer_entry.get("training"), dict):
        return dict(trainer_entry["training"])
    if isinstance(provenance.get("training"), dict):
        return dict(provenance["training"])
    flat = {k: v for k, v in provenance.items() if k not in _NOT_TRAINING}
    return flat if "recipe" in flat else None


@_schema_errors_name_the_entry
def publish(
    name: str,
    checkpoint: str | Path,
    *,
    licence: str | None = None,
    training: TrainingProvenance | dict[str, Any] | None = None,
    metrics: Iterable[Metric | BaseModel | dict[str, Any]] = (),
    bundle: bool = True,
    huggingface: HuggingFaceSource | dict[str, str] | None = None,
    urls: Iterable[str] = (),
    model_card: str | Path | None = None,
    manifest: str | Path | None = None,
    package_dir: str | Path | None = None,
) -> PublishedWeights:
    """Add a trained checkpoint to the manifest as the newest weights of model ``name``.

    For a run exported by ``skeletonzoo-pretrain`` one call is enough:
    ``publish("msmclr-nwucla-xview", "runs/msmclr-nwucla-xview/msmclr-nwucla-xview.safetensors",
    metrics=[...])`` — the licence and training provenance come from the trainer's
    ``msmclr-nwucla-xview.manifest.json`` next to the file (checked to describe that very file),
    the model card from the ``.md`` beside it.

    The checkpoint is loaded and checked against the registry entry (architecture, stream,
    preprocessing) first; then the weights (and model card) are copied into
    ``skeletonzoo/weights/`` when ``bundle`` is true, and the manifest is rewritten last, so an
    interruption never leaves an entry pointing at a missing file. Afterwards add the row
    ``("NAME", "SHA256"): SIZE_BYTES`` to ``PINNED`` in ``tests/test_manifest.py`` and run
    ``python docs/generate_zoo.py``.

    Args:
        name: Registry name, e.g. ``"msmclr-nwucla-xview"``.
        checkpoint: The skeletonzoo ``.safetensors`` file the trainer exported.
        licence: Licence of the weights; default the trainer's entry's ``licence``.
        training: How it was trained; default the trainer's entry's ``training``, else the
            checkpoint's provenance (less ``method`` and ``recipe_config``).
        metrics: Measured metrics: ``Metric``s, dicts, or the ``MetricRecord``s
            ``skeletonzoo-eval`` returns (``measured_by`` defaults to ``"skeletonzoo"``).
        bundle: Ship the file inside the package (``weights/NAME.safetensors``; a later version
            of the same name is ``weights/NAME.SHA256[:12].safetensors``, its card likewise).
        huggingface: Where it was uploaded: ``{"repo_id", "filename", "revision"}``.
        urls: Mirror URLs serving the same bytes.
        model_card: A Markdown model card, bundled as ``weights/NAME.md`` (default: the ``.md``
            file next to the checkpoint with the same stem, if there is one).
        manifest: Manifest file to update (default :func:`manifest_path`).
        package_dir: Package folder receiving bundled files (default: this package).

    Returns:
        The new :class:`PublishedWeights` entry.

    Raises:
        UnknownModelError: ``name`` is not registered.
        CheckpointError: the file is not a loadable skeletonzoo checkpoint of that model, or the
            trainer's entry next to it describes another file.
        ValueError: an ensemble name, no source, no licence or training provenance, or a file
            already published.
        ManifestError: an argument that does not fit the manifest schema (the message names the
            fields).
    """
    from .checkpoint import load_checkpoint
    from .registry import get_spec

    spec = get_spec(name)
    if spec.members:
        raise ValueError(
            f"{name!r} is an ensemble of {sorted(spec.members.values())}; it has no weights of its own "
            "(publish its three stream models)"
        )
    checkpoint = Path(checkpoint)
    loaded = load_checkpoint(checkpoint)
    problems = spec.checkpoint_problems(loaded.metadata)
    if problems:
        raise CheckpointError(f"{checkpoint} is not a checkpoint of {name!r}: " + "; ".join(problems))
    sha256, size = sha256_file(checkpoint), checkpoint.stat().st_size
    exported = _trainer_entry(checkpoint, sha256, size)
    if training is None:
        training = _training_from(loaded.metadata.provenance, exported)
        if training is None:
            raise ValueError(
                f"{checkpoint} records no training provenance (no recipe); pass training=TrainingProvenance(...)"
            )
    training = training if isinstance(training, TrainingProvenance) else TrainingProvenance.model_validate(training)
    licence = licence or exported.get("licence")
    if not licence:
        raise ValueError(f"no licence for {name!r}: pass licence= (the trainer's entry records none)")
    hf = (
        huggingface
        if huggingface is None or isinstance(huggingface, HuggingFaceSource)
        else HuggingFaceSource.model_validate(huggingface)
    )
    manifest_file = Path(manifest) if manifest is not None else manifest_path()
    current = load_manifest(manifest_file)
    record = current.record(name)
    if any(w.sha256 == sha256 for w in record.weights):
        raise ValueError(f"this file (sha256 {sha256}) is already published for {name!r}")
    # Published files are immutable: a later version of a name gets its own file names (the
    # sha256 prefix), so the earlier entry's bundled weights and card stay what they were.
    stem = name if not record.weights else f"{name}.{sha256[:12]}"
    filename = f"{stem}.safetensors"
    sources = WeightsSources(bundled=f"weights/{filename}" if bundle else None, huggingface=hf, urls=tuple(urls))

    card_source = Path(model_card) if model_card is not None else checkpoint.with_suffix(".md")
    if model_card is not None and not card_source.is_file():
        raise FileNotFoundError(f"no model card at {str(card_source)!r}")
    card = f"weights/{stem}.md" if bundle and card_source.is_file() else None
    entry = PublishedWeights(
        filename=filename,
        sha256=sha256,
        size_bytes=size,
        sources=sources,
        model_card=card,
        licence=licence,
        training=training,
        metrics=tuple(_as_metric(m) for m in metrics),
    )
    if bundle:
        root = Path(package_dir) if package_dir is not None else PACKAGE_DIR
        atomic_copy(checkpoint, root / "weights" / filename)
        if card is not None:
            # the trainer's card names the exported file; a later version is bundled under another
            text = card_source.read_text()
            atomic_write_text(root / card, text.replace(card_file_line(checkpoint.name), card_file_line(filename)))
    models = dict(current.models)
    models[name] = ModelRecord(paper_metrics=record.paper_metrics, weights=(*record.weights, entry))
    write_manifest(Manifest(models=models), manifest_file)
    return entry


@_schema_errors_name_the_entry
def record_metrics(
    name: str,
    metrics: Iterable[Metric | BaseModel | dict[str, Any]],
    *,
    sha256: str | None = None,
    manifest: str | Path | None = None,
    package_dir: str | Path | None = None,
) -> PublishedWeights:
    """Set the measured metrics of published weights, and write them into the bundled model card.

    The usual order is :func:`publish` (the weights), then ``skeletonzoo-eval NAME ... --json``
    on the published name, so each metric's command is what a user runs to re-measure it;
    this records them. The metrics replace the entry's earlier ones; the model card's
    ``## Evaluation`` section is replaced by a table of them.

    Args:
        name: Registry name.
        metrics: ``Metric``s, dicts, or ``skeletonzoo-eval``'s records.
        sha256: Which published weights (default the newest).
        manifest: Manifest file (default :func:`manifest_path`).
        package_dir: Package folder holding the bundled model card (default: this package).

    Returns:
        The updated entry.
    """
    manifest_file = Path(manifest) if manifest is not None else manifest_path()
    current = load_manifest(manifest_file)
    record = current.record(name)
    if not record.weights:
        raise ValueError(f"{name!r} has no published weights to attach metrics to; publish() them first")
    index = len(record.weights) - 1
    if sha256 is not None:
        matches = [i for i, w in enumerate(record.weights) if w.sha256 == sha256]
        if not matches:
            raise ValueError(f"{name!r} has no published weights with sha256 {sha256}")
        index = matches[0]
    measured = tuple(_as_metric(m) for m in metrics)
    updated = record.weights[index].model_copy(update={"metrics": measured})
    PublishedWeights.model_validate(updated.model_dump())  # the validators of the new metrics
    weights = list(record.weights)
    weights[index] = updated
    models = dict(current.models)
    models[name] = ModelRecord(paper_metrics=record.paper_metrics, weights=tuple(weights))
    if updated.model_card is not None:
        card = (Path(package_dir) if package_dir is not None else PACKAGE_DIR) / updated.model_card
        if card.is_file():
            text = card.read_text()
            head = text.split(CARD_EVALUATION_HEADING)[0].rstrip() + "\n\n"
            atomic_write_text(card, head + evaluation_markdown(measured))
    write_manifest(Manifest(models=models), manifest_file)
    return updated
