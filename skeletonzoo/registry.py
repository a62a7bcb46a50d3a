"""The zoo's model names, and what each name is.

A name is ``{method}-{dataset}-{split}[-{stream}]`` (no stream suffix: joint), for example
``msmclr-ntu120-xset``, ``msmclr-ntu60-xsub-bone``, ``msmclr-ntu60-xsub-3s`` (three-stream
ensemble) or ``crosscale-sgclr-nwucla-xview``. Each name is registered once with a
:class:`ModelSpec` — architecture of every encoder, stream, preprocessing, dataset, recipe —
in ``skeletonzoo/_entries.py``; what has been *published* for it (weights, measured metrics)
and what the paper reports come from ``weights_manifest.json`` (:mod:`skeletonzoo.manifest`)
and are joined by name in :func:`model_info`.

>>> import skeletonzoo as sz
>>> sz.list_models("msmclr-ntu60-xsub*")
['msmclr-ntu60-xsub', 'msmclr-ntu60-xsub-3s', 'msmclr-ntu60-xsub-bone', 'msmclr-ntu60-xsub-motion']
>>> sz.model_info("msmclr-ntu60-xsub").num_features
256
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .checkpoint import CheckpointMetadata
from .data.preprocess import Preprocess
from .exceptions import ManifestError, UnknownModelError, WeightsNotPublishedError
from .manifest import MIN_REVISION_PREFIX, PACKAGE_DIR, Manifest, Metric, PublishedWeights, current_manifest
from .models.config import EncoderConfig

__all__ = [
    "DatasetInfo",
    "MethodInfo",
    "DATASETS",
    "METHODS",
    "ComponentArch",
    "ModelSpec",
    "ModelInfo",
    "register",
    "register_models",
    "get_spec",
    "list_models",
    "model_info",
    "suggest_names",
    "recipe_file",
]

ModelStream = Literal["joint", "motion", "bone", "3s"]
# Pretraining recipes ship as package data; looking a file up here imports no training code.
RECIPES_DIR = PACKAGE_DIR / "pretrain" / "recipes"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetInfo(_Strict):
    """A benchmark the zoo's models were (or will be) pretrained on."""

    title: str
    num_classes: int
    splits: dict[str, str] = Field(description="split id -> what it means")
    preprocess: Preprocess


class MethodInfo(_Strict):
    """A pretraining method and the paper it comes from."""

    title: str
    citation: str
    components: dict[str, str] = Field(description="component -> what it encodes")


# Benchmark preprocessing: NTU RGB+D and PKU-MMD use the original `*_position.npy` pipeline
# (shared/specs/data-pipeline.md); NW-UCLA clips are mapped onto the NTU 25-joint layout.
def _nwucla_preprocess() -> Preprocess:
    from .data.nwucla import NWUCLA_PREPROCESS

    return NWUCLA_PREPROCESS


DATASETS: dict[str, DatasetInfo] = {
    "ntu60": DatasetInfo(
        title="NTU RGB+D 60",
        num_classes=60,
        splits={"xsub": "cross-subject", "xview": "cross-view"},
        preprocess=Preprocess(),
    ),
    "ntu120": DatasetInfo(
        title="NTU RGB+D 120",
        num_classes=120,
        splits={"xsub": "cross-subject", "xset": "cross-setup"},
        preprocess=Preprocess(),
    ),
    "pkummd1": DatasetInfo(
        title="PKU-MMD part I",
        num_classes=51,
        splits={"xsub": "cross-subject"},
        preprocess=Preprocess(),
    ),
    "pkummd2": DatasetInfo(
        title="PKU-MMD part II",
        num_classes=51,  # phase II's actions keep their phase I ids (data/pkummd.py)
        splits={"xsub": "cross-subject"},
        preprocess=Preprocess(),
    ),
    "nwucla": DatasetInfo(
        title="Northwestern-UCLA Multiview Action 3D",
        num_classes=10,
        splits={"xview": "cross-view: train on views 1 and 2, test on view 3"},
        preprocess=_nwucla_preprocess(),
    ),
}

_YANSHAN = "Journal of Yanshan University 47(2):164-174 (2023)"
METHODS: dict[str, MethodInfo] = {
    "skeletonclr": MethodInfo(
        title="SkeletonCLR",
        citation="Li et al., 3D Human Action Representation Learning via Cross-View Consistency "
        "Pursuit (CrosSCLR), CVPR 2021",
        components={"joint": "ST-GCN on the model's stream"},
    ),
    "aimclr": MethodInfo(
        title="AimCLR",
        citation="Guo et al., Contrastive Learning from Extremely Augmented Skeleton Sequences "
        "for Self-supervised Action Recognition, AAAI 2022",
        components={"joint": "ST-GCN on the model's stream"},
    ),
    "msmclr": MethodInfo(
        title="MsMCLR",
        citation="MsMCLR, Multimedia Systems 30:267 (2024), doi:10.1007/s00530-024-01463-0",
        components={"joint": "ST-GCN on the model's stream (the motion attention is training-only)"},
    ),
    "sgclr": MethodInfo(
        title="SGCLR",
        citation=f"CrosScale-SGCLR, {_YANSHAN} (single-scale baseline with random edge cutting)",
        components={"joint": "ST-GCN on 25 joints"},
    ),
    "crosview-sgclr": MethodInfo(
        title="CrosView-SGCLR",
        citation=f"CrosScale-SGCLR, {_YANSHAN} (cross-view variant)",
        components={"joint": "ST-GCN on joint positions", "motion": "ST-GCN on the motion stream"},
    ),
    "crosscale-sgclr": MethodInfo(
        title="CrosScale-SGCLR",
        citation=f"CrosScale-SGCLR, {_YANSHAN}",
        components={"joint": "ST-GCN on 25 joints", "scale": "ST-GCN on 10 parts (crosscale_parts10)"},
    ),
}


class ComponentArch(_Strict):
    """One encoder of a model: its architecture and how its input is derived."""

    config: EncoderConfig
    input: str = Field(
        "identity",
        description="'identity', 'grouping:<name>' (joints averaged into groups) or 'stream:<stream>'",
    )


# Architecture fields a checkpoint must agree on (dropout only matters while training).
_ARCH_FIELDS = tuple(f for f in EncoderConfig.model_fields if f != "dropout")


class ModelSpec(_Strict):
    """Everything needed to build one registered model (no weights).

    Attributes:
        name: ``{method}-{dataset}-{split}[-{stream}]``.
        method: Key of :data:`METHODS`.
        dataset, split: Key of :data:`DATASETS` and one of its splits.
        stream: Input stream (``joint``, ``motion``, ``bone``), or ``3s`` for an ensemble.
        components: Encoders by component (``joint``; plus ``scale`` or ``motion`` for the
            two-encoder methods). Empty for ensembles.
        preprocess: The normalisation the model was trained with.
        num_features: Size of the embedding.
        recipe: Pretraining recipe (``skeletonzoo/pretrain/recipes/{recipe}.yaml``); ``None``
            for ensembles, which combine their members.
        members: Ensembles: stream -> member model name, in feature order.
        fusion_weights: Ensembles: the papers' score-fusion weight per stream.
    """

    name: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)+$")
    method: str
    dataset: str
    split: str
    stream: ModelStream
    components: dict[str, ComponentArch] = Field(default_factory=dict)
    preprocess: Preprocess
    num_features: int = Field(ge=1)
    recipe: str | None
    members: dict[str, str] = Field(default_factory=dict)
    fusion_weights: dict[str, float] = Field(default_factory=dict)

    @property
    def layout(self) -> str:
        """Layout the encoders consume (after any adapter)."""
        return self.preprocess.layout

    @property
    def input_layout(self) -> str:
        """Layout raw input is expected in by default."""
        return self.preprocess.input_layout or self.preprocess.layout

    @property
    def num_classes(self) -> int:
        return DATASETS[self.dataset].num_classes

    @property
    def recipe_file(self) -> Path | None:
        """The bundled recipe ``skeletonzoo/pretrain/recipes/{recipe}.yaml``, if it ships."""
        return recipe_file(self.recipe) if self.recipe else None

    def checkpoint_problems(self, metadata: CheckpointMetadata) -> list[str]:
        """Ways a checkpoint's metadata disagrees with this entry (empty: it is one of these)."""
        if self.members:
            return [f"{self.name!r} is an ensemble; load its members' checkpoints instead"]
        problems = []
        if set(metadata.components) != set(self.components):
            problems.append(f"components {sorted(metadata.components)}, expected {sorted(self.components)}")
        for name, arch in self.components.items():
            found = metadata.components.get(name)
            if found is None:
                continue
            for field in _ARCH_FIELDS:
                want, got = getattr(arch.config, field), getattr(found.config, field)
                if want != got:
                    problems.append(f"{name}.{field} is {got!r}, expected {want!r}")
            if found.input != arch.input:
                problems.append(f"{name} input {found.input!r}, expected {arch.input!r}")
        if metadata.stream != self.stream:
            problems.append(f"stream {metadata.stream!r}, expected {self.stream!r}")
        # same architecture is not the same model: SkeletonCLR and MsMCLR share ST-GCN's
        recorded = metadata.provenance.get("method")
        if recorded is not None and recorded != self.method:
            problems.append(f"trained with method {recorded!r}, expected {self.method!r}")
        if metadata.preprocessing is not None:
            try:
                stored = Preprocess.from_dict(metadata.preprocessing)
            except ValidationError as exc:
                problems.append(f"unreadable preprocessing ({exc.error_count()} errors)")
            else:
                diff = {k: v for k, v in stored.to_dict().items() if self.preprocess.to_dict().get(k) != v}
                if diff:
                    problems.append(f"preprocessing differs in {diff}, expected {self.preprocess.to_dict()}")
        return problems


def recipe_file(recipe: str) -> Path | None:
    """Path of the bundled pretraining recipe ``recipe``, or ``None`` if none ships yet."""
    path = RECIPES_DIR / f"{recipe}.yaml"
    return path if path.is_file() else None


class ModelInfo(_Strict):
    """What :func:`model_info` returns: the registry entry joined with its manifest record.

    Attributes:
        pretrained: Whether weights are published (for an ensemble: for every member).
        paper_metrics: Numbers quoted from the paper (``measured_by="paper"``).
        weights: Published weights, oldest first (the last is loaded by default).
    """

    name: str
    method: str
    method_title: str
    citation: str
    dataset: str
    dataset_title: str
    split: str
    split_description: str
    num_classes: int
    stream: ModelStream
    layout: str
    input_layout: str
    num_features: int
    components: dict[str, ComponentArch]
    preprocess: Preprocess
    recipe: str | None
    members: dict[str, str]
    fusion_weights: dict[str, float]
    pretrained: bool
    paper_metrics: tuple[Metric, ...]
    weights: tuple[PublishedWeights, ...]

    @property
    def recipe_file(self) -> Path | None:
        """The bundled recipe file, or ``None`` (ensembles; recipes not written yet)."""
        return recipe_file(self.recipe) if self.recipe else None

    def weights_for(self, revision: str | None = None) -> PublishedWeights:
        """The published weights a load resolves: the newest, or the one ``revision`` (a prefix of
        their Hub commit or sha256) names.

        Raises:
            WeightsNotPublishedError: none are published (the message says how to get them).
            ValueError: ``revision`` names none, or more than one, of them.
        """
        if not self.weights:
            recipe = self.recipe or self.name
            stream = "" if self.stream == "joint" else f" --stream {self.stream}"
            train = (
                f"Train them with `skeletonzoo-pretrain {recipe} --data PREPARED_DIR` (recipe {self.recipe_file})"
                if self.recipe_file is not None
                else f"No recipe ships for it yet (skeletonzoo/pretrain/recipes/{recipe}.yaml; `skeletonzoo-pretrain "
                "FILE.yaml --data PREPARED_DIR` trains from your own)"
            )
            raise WeightsNotPublishedError(
                f"{self.name!r} is in the zoo but its weights are not published yet. {train}, "
                "or convert an original-code checkpoint with "
                f"`skeletonzoo convert FILE.pt --method {self.method}{stream} -o {self.name}.safetensors` and load "
                f"that file: skeletonzoo.load('{self.name}.safetensors'). skeletonzoo.load(name, "
                "pretrained=False) gives the untrained architecture (skeletonzoo-eval: --random-init); "
                "`skeletonzoo list --pretrained` lists the models with weights."
            )
        if revision is None:
            return self.weights[-1]
        if not isinstance(revision, str):
            raise TypeError(f"revision is a string (a Hub commit or sha256 prefix), got {type(revision).__name__}")
        matches = [w for w in self.weights if w.matches_revision(revision)]
        if len(matches) != 1:
            known = ", ".join(
                (f"Hub commit {w.sources.huggingface.revision[:12]} / " if w.sources.huggingface else "")
                + f"sha256 {w.sha256[:12]}" + (" (the default, newest)" if w is self.weights[-1] else "")
                for w in self.weights
            )
            if len(revision) < MIN_REVISION_PREFIX:
                what = f"is too short (at least {MIN_REVISION_PREFIX} characters, to name one file for good)"
            else:
                what = "matches no" if not matches else "matches more than one"
                what += f" published weights of {self.name!r}"
            raise ValueError(
                f"revision {revision!r} {what}; give at least {MIN_REVISION_PREFIX} characters of the Hub commit or "
                f"sha256 of one of: {known}. Unlisted files cannot be verified: download them yourself and pass the "
                "path to skeletonzoo.load()."
            )
        return matches[0]

    @property
    def latest_weights(self) -> PublishedWeights | None:
        return self.weights[-1] if self.weights else None

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The paper's numbers, then those measured on the default weights."""
        latest = self.latest_weights
        return self.paper_metrics + (latest.metrics if latest is not None else ())

    @property
    def licence(self) -> str | None:
        latest = self.latest_weights
        return latest.licence if latest is not None else None


_REGISTRY: dict[str, ModelSpec] = {}
_loaded = False


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry.

    Raises:
        ValueError: the name is taken, or the entry refers to an unknown method, dataset,
            split or member.
    """
    if spec.name in _REGISTRY:
        raise ValueError(f"model {spec.name!r} is registered twice")
    if spec.method not in METHODS:
        raise ValueError(f"{spec.name}: unknown method {spec.method!r}; add it to registry.METHODS")
    if spec.dataset not in DATASETS or spec.split not in DATASETS[spec.dataset].splits:
        raise ValueError(f"{spec.name}: unknown dataset/split {spec.dataset!r}/{spec.split!r}")
    for member in spec.members.values():
        if member not in _REGISTRY:
            raise ValueError(f"{spec.name}: member {member!r} must be registered before the ensemble")
    if bool(spec.members) == bool(spec.components):
        raise ValueError(f"{spec.name}: a model has either components or (for an ensemble) members")
    _REGISTRY[spec.name] = spec
    return spec


def register_models(family: Callable[[], Iterable[ModelSpec]]) -> Callable[[], Iterable[ModelSpec]]:
    """Decorator: register every spec the decorated function yields (one family of models)."""
    for spec in family():
        register(spec)
    return family


def _registry() -> dict[str, ModelSpec]:
    global _loaded
    if not _loaded:
        _loaded = True
        from . import _entries  # noqa: F401  (registers the zoo's models)
    return _REGISTRY


def suggest_names(name: str, n: int = 3) -> list[str]:
    """Registered names closest to ``name``."""
    key = name.strip().lower().replace("_", "-")
    return difflib.get_close_matches(key, list(_registry()), n=n, cutoff=0.6)


def get_spec(name: str) -> ModelSpec:
    """The registry entry of ``name`` (any case).

    Raises:
        UnknownModelError: not a registered name (the message suggests close matches).
    """
    registry = _registry()
    spec = registry.get(name) or registry.get(name.lower())  # case-insensitive, as list_models
    if spec is None:
        close = suggest_names(name)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise UnknownModelError(
            f"unknown model {name!r}; {hint}`skeletonzoo list` (or skeletonzoo.list_models()) shows "
            f"all {len(registry)} names, and skeletonzoo.load() also takes a path to a .safetensors checkpoint"
        )
    return spec


_checked: dict[int, Manifest] = {}


def _manifest() -> Manifest:
    """The current manifest, checked once against the registry."""
    manifest = current_manifest()
    if id(manifest) not in _checked:
        registry = _registry()
        unknown = sorted(set(manifest.models) - set(registry))
        if unknown:
            hints = {u: suggest_names(u, 1) for u in unknown}
            shown = ", ".join(f"{u!r}" + (f" (did you mean {h[0]!r}?)" if h else "") for u, h in hints.items())
            raise ManifestError(f"the weights manifest names models the registry does not know: {shown}")
        for name, record in manifest.models.items():
            if registry[name].members and record.weights:
                raise ManifestError(
                    f"the weights manifest publishes weights for the ensemble {name!r}; "
                    "ensembles take their members' weights"
                )
        _checked.clear()
        _checked[id(manifest)] = manifest
    return manifest


def _is_pretrained(spec: ModelSpec, manifest: Manifest) -> bool:
    if spec.members:
        return all(bool(manifest.record(m).weights) for m in spec.members.values())
    return bool(manifest.record(spec.name).weights)


def list_models(pattern: str = "*", pretrained: bool | None = None) -> list[str]:
    """Registered names matching an fnmatch ``pattern``, sorted.

    Args:
        pattern: e.g. ``"msmclr-*"``, ``"*-ntu60-xsub*"`` (case-insensitive).
        pretrained: ``True``: only names whose weights are published; ``False``: only
            those without; ``None``: all.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern is an fnmatch string such as 'msmclr-*', got {type(pattern).__name__}")
    if pretrained not in (None, True, False):
        raise TypeError(f"pretrained is True, False or None, got {pretrained!r}")
    manifest = _manifest()
    pattern = pattern.lower()
    names = [n for n in sorted(_registry()) if fnmatch.fnmatchcase(n, pattern)]
    if pretrained is None:
        return names
    return [n for n in names if _is_pretrained(_REGISTRY[n], manifest) == pretrained]


def model_info(name: str) -> ModelInfo:
    """Everything known about ``name``: architecture, preprocessing, recipe, metrics, weights.

    Raises:
        UnknownModelError: not a registered name.
    """
    spec = get_spec(name)
    manifest = _manifest()
    record = manifest.record(spec.name)
    method, dataset = METHODS[spec.method], DATASETS[spec.dataset]
    fields: dict[str, Any] = {
        "name": spec.name,
        "method": spec.method,
        "method_title": method.title,
        "citation": method.citation,
        "dataset": spec.dataset,
        "dataset_title": dataset.title,
        "split": spec.split,
        "split_description": dataset.splits[spec.split],
        "num_classes": dataset.num_classes,
        "stream": spec.stream,
        "layout": spec.layout,
        "input_layout": spec.input_layout,
        "num_features": spec.num_features,
        "components": spec.components,
        "preprocess": spec.preprocess,
        "recipe": spec.recipe,
        "members": spec.members,
        "fusion_weights": spec.fusion_weights,
        "pretrained": _is_pretrained(spec, manifest),
        "paper_metrics": record.paper_metrics,
        "weights": record.weights,
    }
    return ModelInfo(**fields)
