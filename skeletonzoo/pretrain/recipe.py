"""Pretraining recipes: YAML files validated by pydantic, one per zoo entry.

A recipe is everything a run needs besides the data path: the method and its
hyper-parameters, the augmentations, the optimiser and schedule, batch size, precision,
seed, checkpointing and what to export. Recipes live in ``pretrain/recipes/*.yaml``; the
file name is the zoo model name the run produces (``msmclr-ntu60-xsub.yaml`` trains
``msmclr-ntu60-xsub``). A recipe may start from others with ``extends: NAME`` or
``extends: [NAME, ...]`` (recipes of the same folder, or paths; merged in order), then
override fields; nested mappings merge key by key.

Every field is checked at parse time (``extra="forbid"``): a typo fails with its name.
"""

from __future__ import annotations

import copy
import difflib
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._later_fields import LaterFieldsModel
from ..data.streams import Stream
from ..exceptions import SkeletonZooError
from .methods import METHODS, MethodConfig

__all__ = [
    "AugmentConfig",
    "OptimizerConfig",
    "Recipe",
    "RecipeError",
    "load_recipe",
    "recipe_from_mapping",
    "recipe_name",
    "list_recipes",
    "recipe_dir",
    "apply_overrides",
]


class RecipeError(SkeletonZooError, ValueError):
    """A recipe file is missing, malformed or invalid (the message names the field)."""


class AugmentConfig(LaterFieldsModel):
    """The views' augmentations (``pretrain.augment``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    shear: float = Field(0.5, ge=0, description="shear amplitude r: entries ~ U(-r, r)")
    crop_ratio: int = Field(6, ge=1, description="temporal crop: mirror-pad T // ratio frames")
    corrected: bool = Field(
        False,
        description="strong view: mirror on flip, normalise the blur kernel, joint noise on every "
        "frame and person, not the first 50 and 2 (the original does none of these; False "
        "reproduces the papers)",
    )
    joint_noise: bool = Field(
        True,
        description="strong view ends with MsMCLR's joint noise (noise_joint_fix); AimCLR's released feeder "
        "ends with the axis mask (_aimclr.yaml: false). True for recipes written before the field existed",
    )

    # joint_noise came after runs were published (their files' metadata, docs/training-logs)
    legacy_values: ClassVar[dict[str, object]] = {"joint_noise": True}


class OptimizerConfig(BaseModel):
    """SGD with step decay, as every paper of this family trains."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lr: float = Field(0.1, gt=0)
    momentum: float = Field(0.9, ge=0)
    weight_decay: float = Field(1e-4, ge=0)
    nesterov: bool = False
    lr_steps: tuple[int, ...] = Field(
        (250,), description="1-based epochs after which the lr is multiplied by gamma"
    )
    gamma: float = Field(0.1, gt=0)

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 1-based ``epoch`` (``lr * gamma^#{s in lr_steps : epoch > s}``).

        The original computes ``lr * 0.1 ** sum(epoch0 >= steps)`` with 0-based ``epoch0``;
        with ``epoch = epoch0 + 1`` that is the same.
        """
        return self.lr * self.gamma ** sum(epoch > s for s in self.lr_steps)


class Recipe(LaterFieldsModel):
    """A validated pretraining recipe.

    Attributes:
        name: Name of the zoo model the run produces (the file's stem).
        method: Key of ``pretrain.methods.METHODS``.
        stream: Input stream the encoder is trained on, derived from positions after the
            augmentations (as the original processors do).
        dataset, benchmark: What the recipe is meant for (recorded; the data comes from
            ``--data``, whose metadata must agree).
        paper: The method's publication, cited in the model card (``None``: none cited).
        model: The method's hyper-parameters (:class:`MethodConfig`).
        augment: The training views' settings (:class:`AugmentConfig`).
        optimizer: SGD and its step schedule (:class:`OptimizerConfig`).
        epochs: Number of epochs.
        batch_size: Global batch; under DDP each of ``W`` processes takes ``batch_size / W``.
        drop_last: Drop the last incomplete batch of an epoch (the original loaders do).
        amp: ``"bf16"`` runs the ST-GCN blocks under ``torch.autocast`` in bfloat16 (heads,
            attention, logits, losses and queues stay float32); ``"none"`` is plain float32.
        temporal_conv: How float32 blocks compute their temporal convolutions on a CPU:
            ``"spectral"`` in the frequency domain where that pays (the same function to
            float rounding, fewer products; ``models.spectral_conv``),
            ``"direct"`` with ``nn.Conv2d``, as every run before the option existed did (its
            legacy value: not written into dumps). No effect under ``amp: bf16`` or on GPUs.
        seed: Seeds model initialisation, data order, augmentations and dropout.
        checkpoint_every: Write a resumable checkpoint every this many epochs (and at the end).
        checkpoint_every_steps: Also every this many optimiser steps (0: off).
        licence: Licence of the weights the run produces (the data's terms usually decide).
        notes: Free text for the model card (why the recipe differs from the paper, ...).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    # temporal_conv came after runs were published (their resolved recipes, docs/training-logs)
    legacy_values: ClassVar[dict[str, object]] = {"temporal_conv": "direct"}

    name: str
    method: str
    stream: Stream = "joint"
    dataset: str
    benchmark: str
    paper: str | None = None
    model: MethodConfig = MethodConfig()
    augment: AugmentConfig = AugmentConfig()
    optimizer: OptimizerConfig = OptimizerConfig()
    epochs: int = Field(300, ge=1)
    batch_size: int = Field(128, ge=1)
    drop_last: bool = True
    amp: Literal["none", "bf16"] = "none"
    temporal_conv: Literal["direct", "spectral"] = "direct"
    seed: int = 0
    checkpoint_every: int = Field(10, ge=1)
    checkpoint_every_steps: int = Field(0, ge=0)
    licence: str = "see the training data's terms"
    notes: str = ""

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; methods: {sorted(METHODS)}")
        method = METHODS[self.method]
        method.check_layout(self.model.encoder.layout)
        method.check_stream(self.stream)
        m = self.model
        if m.queue_size < self.batch_size:
            raise ValueError(
                f"model.queue_size {m.queue_size} is smaller than the {self.batch_size} keys every step enqueues "
                f"(batch_size, over all processes); --set model.queue_size={self.batch_size} or more, or a smaller "
                "batch_size"
            )
        if method.has_mining_phase and m.topk > m.queue_size:
            raise ValueError(
                f"model.topk {m.topk} is more than the {m.queue_size} queue entries the mining phase picks from; "
                f"--set model.topk=... (the papers' 1) or a larger model.queue_size"
            )
        outside = [s for s in self.optimizer.lr_steps if not 0 < s < self.epochs]
        if outside:
            kept = [s for s in self.optimizer.lr_steps if 0 < s < self.epochs]
            # quoted: a shell such as zsh would expand the brackets
            remedy = f"'optimizer.lr_steps={kept}'" if kept else "'optimizer.lr_steps=[]' (no lr drop)"
            raise ValueError(
                f"optimizer.lr_steps {list(self.optimizer.lr_steps)}: {', '.join(map(str, outside))} outside "
                f"1..epochs-1 (epochs={self.epochs}); set the steps with the epochs, e.g. --set {remedy}"
            )
        return self

    def summary(self) -> str:
        m = self.model
        if not METHODS[self.method].has_mining_phase:
            phase = "no mining phase"
        elif m.mining_epoch >= self.epochs:
            phase = f"mining off (from epoch {m.mining_epoch} of {self.epochs})"
        else:
            phase = f"mining after epoch {m.mining_epoch}"
        views = "corrected" if self.augment.corrected else "original-code"
        if not self.augment.joint_noise:
            views += " (extreme view without joint noise)"
        return (
            f"{self.name}: {self.method} on {self.dataset}-{self.benchmark} ({self.stream}), "
            f"{self.epochs} epochs, batch {self.batch_size}, lr {self.optimizer.lr} "
            f"(x{self.optimizer.gamma} after {list(self.optimizer.lr_steps)}), queue {m.queue_size}, "
            f"T={m.temperature}, m={m.momentum}, {phase}, "
            f"{views} augmentations, amp {self.amp}"
            + self._temporal_conv_summary()
            + f", seed {self.seed}"
        )


    def _temporal_conv_summary(self) -> str:
        if self.temporal_conv == "direct":
            return ""
        if self.amp == "bf16":  # the blocks run under autocast, where TemporalConv keeps nn.Conv2d
            return ", temporal_conv spectral (no effect under amp bf16)"
        return ", spectral temporal convolutions on CPU"


def recipe_dir() -> Path:
    """The folder of the bundled recipes."""
    return Path(str(resources.files(__package__).joinpath("recipes")))


def list_recipes() -> list[str]:
    """Names of the bundled recipes (files starting with ``_`` are bases, not listed)."""
    return sorted(p.stem for p in recipe_dir().glob("*.yaml") if not p.name.startswith("_"))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _find(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    path = Path(name_or_path)
    candidates = [path]
    if relative_to is not None and not path.is_absolute():
        candidates.append(relative_to / path)
    if path.suffix not in (".yaml", ".yml"):
        candidates.append(recipe_dir() / f"{name_or_path}.yaml")
    for c in candidates:
        if c.is_file():
            return c
    close = difflib.get_close_matches(str(name_or_path), list_recipes(), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `skeletonzoo-pretrain --list` shows them"
    raise RecipeError(f"no recipe {str(name_or_path)!r} (not a file, not a bundled recipe){hint}")


def _read_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    if path in seen:
        raise RecipeError(f"{path}: 'extends' loops back to itself")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of fields, got {type(raw).__name__}")
    parents = raw.pop("extends", None)
    if parents is None:
        return raw
    base: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        base = _merge(base, _read_raw(_find(parent, path.parent), (*seen, path)))
    return _merge(base, raw)


def _parse_value(text: str) -> Any:
    """``--set`` values are YAML scalars: ``0.05``, ``true``, ``[250, 280]``, ``bf16``."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides to a raw recipe mapping."""
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RecipeError(f"override {item!r} is not of the form key=value (e.g. optimizer.lr=0.05)")
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise RecipeError(f"override {item!r}: {part!r} is not a mapping")
            node = child
        node[parts[-1]] = _parse_value(value)
    return out


def load_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read, merge (``extends``), override and validate a recipe.

    Args:
        name_or_path: A bundled recipe name (= zoo model name) or a YAML file.
        overrides: ``key=value`` strings (dotted keys), applied last.

    Raises:
        RecipeError: the file is missing or invalid; the message names the offending field.
    """
    path, raw = _raw_recipe(name_or_path)
    return recipe_from_mapping(raw, overrides or [], source=str(path))


def _raw_recipe(name_or_path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The recipe's file and its merged mapping (``extends`` resolved, ``name`` defaulted)."""
    path = _find(name_or_path)
    raw = _read_raw(path)
    raw.setdefault("name", path.stem)
    return path, raw


def recipe_name(name_or_path: str | Path, overrides: list[str] | None = None) -> str:
    """The name :func:`load_recipe` would give the recipe (a ``name=`` override included),
    without validating the rest: the run's default folder is named for it."""
    return str(apply_overrides(_raw_recipe(name_or_path)[1], overrides or [])["name"])


def recipe_from_mapping(raw: dict[str, Any], overrides: list[str], source: str) -> Recipe:
    """Validate a recipe mapping (a YAML file's, or a run's ``recipe.json``) with ``overrides``.

    Raises:
        RecipeError: invalid; the message names ``source``, the field, the ``--set`` behind it
            and, for an unknown field, the closest known ones.
    """
    try:
        return Recipe.model_validate(apply_overrides(raw, overrides))
    except ValidationError as exc:
        overridden = {item.partition("=")[0]: item for item in overrides}
        problems = "; ".join(_problem(err, overridden) for err in exc.errors())
        # a problem no --set is named in may still come from one (epochs=1 against the lr steps)
        named = any(f"--set {o}" in problems for o in overrides)
        where = f"{source} with " + " ".join(f"--set {o}" for o in overrides) if overrides and not named else source
        raise RecipeError(f"{where}: invalid recipe: {problems}") from None


def _problem(error: Any, overridden: dict[str, str]) -> str:
    """One validation error as ``field: message``, naming the ``--set`` that caused it and, for
    an unknown field, the closest known ones."""
    loc = [str(p) for p in error["loc"]]
    key = ".".join(loc)
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        model: Any = Recipe
        for part in loc[:-1]:  # the pydantic model the unknown field sits in
            annotation = model.model_fields[part].annotation if part in model.model_fields else None
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                model = None
                break
            model = annotation
        close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=2) if model is not None else []
        message = "unknown field" + (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else "")
    if key in overridden:
        return f"--set {overridden[key]}: {message}"
    return f"{key or '(recipe)'}: {message}"
