"""skeletonzoo's checkpoint format: one ``.safetensors`` file plus JSON metadata inside it.

A file holds one or more *components* (``"joint"``, and ``"scale"`` or ``"motion"`` for the
two-encoder methods), each an encoder and optionally its projection head. Tensors are named
``{component}.{encoder key}`` and ``{component}.head.{head key}``. The safetensors metadata
field ``skeletonzoo`` is a JSON document (:class:`CheckpointMetadata`) with, per component, the
architecture config and head shape, plus the stream, the preprocessing, and provenance
(``method``, source file sha256, recipe, seed, ...).

Nothing is ever pickled: safetensors stores raw tensors, and loading checks every key and
shape against the architecture in the metadata.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Final, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .data.streams import Stream
from .exceptions import CheckpointError
from .models import EncoderConfig, ProjectionHead, ScaleProjectionHead, SkeletonEncoder

__all__ = [
    "FORMAT",
    "HeadSpec",
    "ComponentSpec",
    "CheckpointMetadata",
    "LoadedCheckpoint",
    "save_checkpoint",
    "load_checkpoint",
    "read_metadata",
    "is_checkpoint_path",
]

FORMAT: Final = "skeletonzoo.checkpoint/1"


def is_checkpoint_path(name: str | os.PathLike[str]) -> bool:
    """Whether ``load`` / ``skeletonzoo-eval`` / ``skeletonzoo info`` take ``name`` as a file rather
    than a zoo name: a path object, a name with a directory separator, or a checkpoint suffix."""
    if isinstance(name, os.PathLike):
        return True
    # .pt/.pth: a file the user means (an original-code or training checkpoint): say what it is
    return name.endswith((".safetensors", ".pt", ".pth")) or "/" in name or os.sep in name


class HeadSpec(BaseModel):
    """Shape of a stored projection head."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["projection", "scale"] = "projection"
    in_features: int
    out_features: int
    mlp: bool = True


class ComponentSpec(BaseModel):
    """One encoder (and optional head) of a checkpoint."""

    model_config = ConfigDict(extra="forbid")

    config: EncoderConfig
    head: HeadSpec | None = None
    input: str = Field(
        "identity",
        description="how the component's input is derived from the model input, e.g. "
        "'identity' or 'grouping:crosscale_parts10'",
    )


class CheckpointMetadata(BaseModel):
    """The JSON document stored in the safetensors header."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["skeletonzoo.checkpoint/1"] = FORMAT
    components: dict[str, ComponentSpec]
    stream: Stream = "joint"
    preprocessing: dict[str, Any] | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)


class LoadedCheckpoint(BaseModel):
    """Result of :func:`load_checkpoint`: modules plus the metadata they came with."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    metadata: CheckpointMetadata
    encoders: dict[str, SkeletonEncoder]
    heads: dict[str, torch.nn.Module]


def _head_spec(head: torch.nn.Module) -> HeadSpec:
    if isinstance(head, ScaleProjectionHead):
        shared = head.shared
        return HeadSpec(
            kind="scale",
            in_features=head.pre.in_features,
            out_features=shared.out_features,
            mlp=shared.fc1 is not None,
        )
    if isinstance(head, ProjectionHead):
        return HeadSpec(
            in_features=head.in_features, out_features=head.out_features, mlp=head.fc1 is not None
        )
    raise TypeError(f"cannot store a head of type {type(head).__name__}")


def _build_head(spec: HeadSpec) -> torch.nn.Module:
    if spec.kind == "scale":
        shared = ProjectionHead(spec.in_features, spec.out_features, mlp=spec.mlp)
        return ScaleProjectionHead(shared, spec.in_features)
    return ProjectionHead(spec.in_features, spec.out_features, mlp=spec.mlp)


def save_checkpoint(
    path: str | Path,
    encoders: dict[str, SkeletonEncoder],
    *,
    heads: dict[str, torch.nn.Module] | None = None,
    stream: Stream = "joint",
    preprocessing: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    inputs: dict[str, str] | None = None,
) -> CheckpointMetadata:
    """Write encoders (and heads) to ``path`` atomically.

    Args:
        path: Destination ``.safetensors`` file.
        encoders: Component name -> encoder (``{"joint": enc}``).
        heads: Optional component name -> projection head.
        stream: Input stream the encoders were trained on.
        preprocessing: Serialised preprocessing (``Preprocess.to_dict()``), if any.
        provenance: Free-form facts: method, source sha256, recipe, seed, ...
        inputs: Component name -> input derivation (default ``"identity"``).

    Returns:
        The metadata written.
    """
    heads = heads or {}
    inputs = inputs or {}
    unknown = set(heads) - set(encoders)
    if unknown:
        raise ValueError(f"heads for unknown components {sorted(unknown)}")
    tensors: dict[str, torch.Tensor] = {}
    components = {}
    for name, encoder in encoders.items():
        for key, value in encoder.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().cpu().contiguous()
        head = heads.get(name)
        if head is not None:
            for key, value in head.state_dict().items():
                # clone: a shared head's tensors would otherwise alias across components
                tensors[f"{name}.head.{key}"] = value.detach().cpu().clone().contiguous()
        components[name] = ComponentSpec(
            config=encoder.config,
            head=_head_spec(head) if head is not None else None,
            input=inputs.get(name, "identity"),
        )
    metadata = CheckpointMetadata(
        components=components,
        stream=stream,
        preprocessing=preprocessing,
        provenance=provenance or {},
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"format": FORMAT, "skeletonzoo": metadata.model_dump_json()})
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return metadata


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _is_training_state(path: Path) -> bool:
    """Whether ``path`` is a trainer checkpoint (``OUT/checkpoints/last.pt``), found by its format
    tag in the pickle of the torch archive, without unpickling anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
            # the prefix of pretrain.trainer.STATE_FORMAT (not imported: training code stays out of here)
            return bool(pickles) and b"skeletonzoo.train-state/" in archive.read(pickles[0])
    except (OSError, zipfile.BadZipFile):
        return False


def read_metadata(path: str | Path) -> CheckpointMetadata:
    """Read and validate only the metadata of a checkpoint (no tensor data is loaded)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        if _is_training_state(path):
            raise CheckpointError(
                f"{path} is a skeletonzoo-pretrain training checkpoint (optimiser, queues, random states), "
                "not a model: export the run with `skeletonzoo-pretrain RECIPE --data DIR --out OUT "
                "--export-only` and load OUT/NAME.safetensors"
            ) from None
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({exc}); skeletonzoo checkpoints are "
            ".safetensors files. Convert original-code .pt/.pth files with `skeletonzoo convert`."
        ) from None
    if raw.get("format") != FORMAT or "skeletonzoo" not in raw:
        raise CheckpointError(
            f"{path} is a safetensors file but not a skeletonzoo checkpoint "
            f"(metadata format {raw.get('format')!r}, expected {FORMAT!r})"
        )
    try:
        return CheckpointMetadata.model_validate(json.loads(raw["skeletonzoo"]))
    except (ValidationError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: invalid skeletonzoo metadata: {exc}") from None


def load_checkpoint(
    path: str | Path, *, device: str | torch.device = "cpu"
) -> LoadedCheckpoint:
    """Load every component of a skeletonzoo checkpoint, in eval mode.

    Raises:
        CheckpointError: not a skeletonzoo safetensors file, or tensors do not match the
            architecture its metadata declares (missing/unexpected/mis-shaped keys listed).
    """
    metadata = read_metadata(path)
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read tensors ({exc})") from None

    encoders: dict[str, SkeletonEncoder] = {}
    heads: dict[str, torch.nn.Module] = {}
    used: set[str] = set()
    problems: list[str] = []
    for name, spec in metadata.components.items():
        encoder = SkeletonEncoder(spec.config)
        head = _build_head(spec.head) if spec.head is not None else None
        modules: list[tuple[str, torch.nn.Module]] = [(f"{name}.", encoder)]
        if head is not None:
            modules.append((f"{name}.head.", head))
        for prefix, module in modules:
            expected = module.state_dict()
            state = {}
            for key, ref in expected.items():
                full = prefix + key
                if full not in tensors:
                    problems.append(f"missing {full}")
                elif tuple(tensors[full].shape) != tuple(ref.shape):
                    problems.append(
                        f"{full} has shape {tuple(tensors[full].shape)}, expected {tuple(ref.shape)}"
                    )
                else:
                    state[key] = tensors[full]
                    used.add(full)
            if not problems:
                module.load_state_dict(state, strict=True)
                module.to(device).eval()
        encoders[name] = encoder
        if head is not None:
            heads[name] = head
    problems += [f"unexpected {k}" for k in sorted(set(tensors) - used)] if not problems else []
    if problems:
        shown = "; ".join(problems[:10]) + (f"; ... ({len(problems)} in all)" if len(problems) > 10 else "")
        raise CheckpointError(f"{path} does not match its own metadata: {shown}")
    return LoadedCheckpoint(metadata=metadata, encoders=encoders, heads=heads)
