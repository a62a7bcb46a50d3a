"""Conversion of checkpoints saved by the original research code.

The original repositories (AimCLR/MsMCLR, CrosSCLR/CrosScale-SGCLR and their baselines) save
the whole pretraining model as a ``torch.save`` of a plain ``OrderedDict`` of tensors: the
wrapper's queue buffers, then ``encoder_q.*`` and ``encoder_k.*`` (plus ``encoder_q_scale.*`` /
``encoder_k_scale.*`` for CrosScale-SGCLR or ``*_motion.*`` for CrosView-SGCLR). See
``docs/convert.md`` for every supported layout.

Files are read with ``torch.load(weights_only=True)``: a file holding any pickled Python object
other than tensors and plain containers is refused, never unpickled. Every key of the file must
be accounted for by the declared method; missing, unexpected or mis-shaped keys raise a
:class:`~skeletonzoo.exceptions.ReferenceCheckpointError` listing them (with a hint when the
file looks like another method's).
"""

from __future__ import annotations

import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ._files import sha256_file
from .exceptions import CheckpointError, ReferenceCheckpointError
from .models import (
    EncoderConfig,
    MotionAttention,
    ProjectionHead,
    ScaleProjectionHead,
    SkeletonEncoder,
)
from .skeleton.graph import build_adjacency

__all__ = [
    "REFERENCE_METHODS",
    "ReferenceCheckpoint",
    "load_reference_checkpoint",
    "convert_reference_checkpoint",
    "read_reference_state",
    "reference_encoder_key",
    "sha256_file",
]

# Original key <- our encoder key, for one encoder (prefix stripped).
_INVERSE_ENCODER_KEY_RULES: list[tuple[str, str]] = [
    (r"^blocks\.(\d+)\.gcn\.conv\.", r"st_gcn_networks.\1.gcn.conv."),
    (r"^blocks\.(\d+)\.tcn\.norm_in\.", r"st_gcn_networks.\1.tcn.0."),
    (r"^blocks\.(\d+)\.tcn\.conv\.", r"st_gcn_networks.\1.tcn.2."),
    (r"^blocks\.(\d+)\.tcn\.norm_out\.", r"st_gcn_networks.\1.tcn.3."),
    (r"^blocks\.(\d+)\.residual\.conv\.", r"st_gcn_networks.\1.residual.0."),
    (r"^blocks\.(\d+)\.residual\.norm\.", r"st_gcn_networks.\1.residual.1."),
]
_HEAD_KEYS_MLP = {"fc1.": "fc.0.", "fc2.": "fc.2."}
_HEAD_KEYS_LINEAR = {"fc2.": "fc."}
_SCALE_HEAD_KEYS = {"pre.": "fc.0.", "shared.fc1.": "fc.2.0.", "shared.fc2.": "fc.2.2."}


def reference_encoder_key(our_key: str) -> str:
    """Original-code name of one of our encoder keys (``blocks.4.tcn.conv.weight`` ->
    ``st_gcn_networks.4.tcn.2.weight``)."""
    for pattern, repl in _INVERSE_ENCODER_KEY_RULES:
        if re.match(pattern, our_key):
            return re.sub(pattern, repl, our_key)
    return our_key


@dataclass(frozen=True)
class _Component:
    """One encoder pair of a method: query ``prefix``, key ``key_prefix``, head kind."""

    name: str
    prefix: str
    key_prefix: str
    head: str  # "projection" | "scale"
    motion_attention: bool = False
    # Modules present in the file but unused by the method's forward pass.
    ignored: tuple[str, ...] = ()


@dataclass(frozen=True)
class _MethodSpec:
    components: tuple[_Component, ...]
    buffers: tuple[str, ...]
    description: str


_SIMAM = ("dropout.",)
REFERENCE_METHODS: dict[str, _MethodSpec] = {
    "skeletonclr": _MethodSpec(
        (_Component("joint", "encoder_q", "encoder_k", "projection"),),
        ("queue", "queue_ptr"),
        "SkeletonCLR (CrosSCLR repository, net/skeletonclr.py)",
    ),
    "aimclr": _MethodSpec(
        (_Component("joint", "encoder_q", "encoder_k", "projection", ignored=_SIMAM),),
        ("queue", "queue_ptr"),
        "AimCLR (net/aimclr.py); the attention-drop module is not part of the embedding",
    ),
    "msmclr": _MethodSpec(
        (_Component("joint", "encoder_q", "encoder_k", "projection", True, ignored=_SIMAM),),
        ("queue", "queue_ptr"),
        "MsMCLR (AimCLR wrapper, MsMCLR encoder with m2a; unused Simam_Drop ignored)",
    ),
    "sgclr": _MethodSpec(
        (_Component("joint", "encoder_q", "encoder_k", "projection"),),
        ("queue", "queue_ptr"),
        "SGCLR (single scale, random edge cutting; key graph realised in the file)",
    ),
    "crosview-sgclr": _MethodSpec(
        (
            _Component("joint", "encoder_q", "encoder_k", "projection"),
            _Component("motion", "encoder_q_motion", "encoder_k_motion", "scale"),
        ),
        ("queue", "queue_ptr", "queue_motion", "queue_ptr_motion"),
        "CrosView-SGCLR (CrosSCLR-style joint + motion encoders, the motion encoder sharing the joint head)",
    ),
    "crosscale-sgclr": _MethodSpec(
        (
            _Component("joint", "encoder_q", "encoder_k", "projection"),
            _Component("scale", "encoder_q_scale", "encoder_k_scale", "scale"),
        ),
        ("queue", "queue_ptr", "queue_scale", "queue_ptr_scale"),
        "CrosScale-SGCLR (25-joint encoder + 10-part encoder sharing the joint head)",
    ),
}

_LAYOUT_BY_JOINTS = {25: "ntu25", 20: "nwucla20", 18: "openpose18", 10: "coarse10", 5: "coarse5"}
_STRATEGY_BY_PARTITIONS = {1: "uniform", 2: "distance", 3: "spatial"}


@dataclass
class ReferenceCheckpoint:
    """Everything a reference checkpoint holds, as skeletonzoo modules in eval mode.

    Attributes:
        method: The declared method.
        encoders: Query encoders by component (``"joint"``, ``"scale"`` or ``"motion"``).
        heads: Query projection heads by component.
        key_encoders: Momentum (key) encoders by component, with their realised graphs.
        key_heads: Key projection heads by component.
        motion_attention: MsMCLR's M2A modules, ``{"query": ..., "key": ...}``.
        buffers: The wrapper's own buffers (queues and pointers).
        sha256: Hash of the source file.
    """

    method: str
    encoders: dict[str, SkeletonEncoder]
    heads: dict[str, torch.nn.Module]
    key_encoders: dict[str, SkeletonEncoder]
    key_heads: dict[str, torch.nn.Module]
    motion_attention: dict[str, MotionAttention] = field(default_factory=dict)
    buffers: dict[str, torch.Tensor] = field(default_factory=dict)
    sha256: str = ""
    source: str = ""


# Globals a plain tensor state dict legitimately references.
_TENSOR_GLOBALS = ("torch.", "collections.OrderedDict", "builtins.set", "builtins.dict")


def _pickled_globals(path: Path) -> list[str]:
    """Python objects (``module.name``) a pickle would import, found without unpickling.

    Reads the opcodes with ``pickletools`` (which never executes anything) from the file, or
    from the ``data.pkl`` member of a torch zip archive. Returns ``[]`` when the bytes are not
    a parseable pickle (then the file is corrupted rather than malicious).
    """
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                if member is None:
                    return []
                data = archive.read(member)
        else:
            data = path.read_bytes()
        found: list[str] = []
        strings: list[str] = []
        for opcode, arg, _ in pickletools.genops(data):
            if isinstance(arg, str):
                strings.append(arg)
            if opcode.name in ("GLOBAL", "INST") and isinstance(arg, str):
                found.append(arg.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
    except Exception:  # noqa: BLE001 - any parse failure means "not a readable pickle"
        return []
    return [g for g in dict.fromkeys(found) if not g.startswith(_TENSOR_GLOBALS)]


def _is_skeletonzoo_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a .safetensors file with skeletonzoo's metadata (our format already)."""
    from .checkpoint import read_metadata  # local: checkpoint imports models only

    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9 or head[8:9] != b"{":  # safetensors: 8-byte header length, then its JSON
        return False
    try:
        read_metadata(path)
    except CheckpointError:
        return False
    return True


def read_reference_state(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an original-code checkpoint safely: a flat ``{key: tensor}`` dict.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file is corrupted, is not a torch checkpoint, holds pickled Python
            objects other than tensors, or is not a dict of tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {str(path)!r}")
    if _is_skeletonzoo_checkpoint(path):
        raise CheckpointError(
            f"{path} is already a skeletonzoo checkpoint, nothing to convert: load it as it is, "
            f"skeletonzoo.load({str(path)!r}) or `skeletonzoo embed {path} ...`"
        )
    try:
        with warnings.catch_warnings():
            # torch's safe unpickler warns about any pickle protocol but 2 before it reads (or
            # refuses) the file; what it finds is reported below, so the warning is only noise
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError,
            OSError, KeyError, IndexError, TypeError) as exc:
        objects = _pickled_globals(path)
        if objects:
            raise CheckpointError(
                f"{path} contains pickled Python objects other than tensors "
                f"({', '.join(objects[:5])}); skeletonzoo never unpickles code. Re-save the "
                "model's state dict with torch.save(model.state_dict(), path) in the original "
                "code, then convert that file."
            ) from None
        with open(path, "rb") as f:
            head = f.read(4)
        # torch.save writes a zip archive or a bare pickle; an empty or zero-filled start is a
        # failed download or copy (the message below), anything else another kind of file
        if head.strip(b"\x00") and not head.startswith((b"PK\x03\x04", b"\x80")):
            raise CheckpointError(
                f"{path} is not a torch checkpoint: it starts with {head!r}, where a file written by torch.save "
                "starts a zip archive (PK) or a pickle; give the .pt/.pth file the original code saved"
            ) from None
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        raise CheckpointError(
            f"{path} is not a readable torch checkpoint (corrupted or truncated?): "
            f"{type(exc).__name__} {reason[:200]}. Download or copy it again and compare its "
            "sha256 with the source."
        ) from None
    if isinstance(obj, Mapping):
        for wrapper in ("state_dict", "model"):
            inner = obj.get(wrapper)
            if isinstance(inner, Mapping) and inner and all(
                isinstance(v, torch.Tensor) for v in inner.values()
            ):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        kind = type(obj).__name__
        raise CheckpointError(
            f"{path} holds a {kind}, not a dict of tensors; the original code saves "
            "model.state_dict() (an OrderedDict of tensors)"
        )
    # The reference writer strips DataParallel's "module." already; do it again for files
    # saved some other way.
    return {k.replace("module.", ""): v for k, v in obj.items()}


def _infer_config(state: Mapping[str, torch.Tensor], prefix: str) -> EncoderConfig:
    """Architecture of the encoder at ``prefix`` from its tensor shapes."""
    try:
        adjacency = state[f"{prefix}.A"]
        bn = state[f"{prefix}.data_bn.weight"]
        first = state[f"{prefix}.st_gcn_networks.0.tcn.2.weight"]
        last = state[f"{prefix}.st_gcn_networks.9.tcn.2.weight"]
    except KeyError as exc:
        raise ReferenceCheckpointError(
            f"no ST-GCN encoder at prefix {prefix!r}: key {exc.args[0]!r} is missing",
            missing=[str(exc.args[0])],
        ) from None
    k, v, _ = adjacency.shape
    if v not in _LAYOUT_BY_JOINTS or k not in _STRATEGY_BY_PARTITIONS:
        raise ReferenceCheckpointError(
            f"{prefix}.A has shape {tuple(adjacency.shape)}; no known layout has V={v} "
            f"(known: {sorted(_LAYOUT_BY_JOINTS)}) with K={k} partitions"
        )
    layout = _LAYOUT_BY_JOINTS[v]
    strategy = _STRATEGY_BY_PARTITIONS[k]
    config = EncoderConfig(
        in_channels=bn.shape[0] // v,
        hidden_channels=first.shape[0],
        hidden_dim=last.shape[0],
        layout=layout,
        graph_strategy=strategy,
        # from any of the keys, so that one missing key is named as missing, not the rest as unexpected
        edge_importance=any(key.startswith(f"{prefix}.edge_importance.") for key in state),
        temporal_kernel_size=first.shape[2],
    )
    removed = _removed_edges(adjacency, config)
    if removed:
        config = config.model_copy(update={"removed_edges": removed})
    return config


def _removed_edges(
    adjacency: torch.Tensor, config: EncoderConfig
) -> tuple[tuple[int, int], ...]:
    """Directed entries an edge-cut graph deleted, if the file's graph is one; else ()."""
    full = build_adjacency(config.layout, config.graph_strategy, config.max_hop)
    found = adjacency.double().numpy()
    if np.allclose(found, full, atol=1e-6):
        return ()
    support_full = full.sum(0) > 0
    support_found = found.sum(0) > 0
    removed = tuple(
        (int(i), int(j)) for i, j in zip(*np.nonzero(support_full & ~support_found)) if i != j
    )
    candidate = build_adjacency(config.layout, config.graph_strategy, config.max_hop, removed=removed)
    if removed and np.allclose(candidate, found, atol=1e-6):
        return removed
    return ()  # some other custom graph: the realised A is loaded as is


def _encoder_keys(encoder: SkeletonEncoder, prefix: str) -> dict[str, str]:
    """Original key -> our key, for every tensor of ``encoder`` under ``prefix``."""
    return {f"{prefix}.{reference_encoder_key(k)}": k for k in encoder.state_dict()}


def _head_keys(head: torch.nn.Module, prefix: str, kind: str) -> dict[str, str]:
    table = _SCALE_HEAD_KEYS if kind == "scale" else (
        _HEAD_KEYS_MLP if getattr(head, "fc1", None) is not None else _HEAD_KEYS_LINEAR
    )
    out = {}
    for ours in head.state_dict():
        for our_prefix, ref_prefix in table.items():
            if ours.startswith(our_prefix):
                out[f"{prefix}.{ref_prefix}{ours[len(our_prefix):]}"] = ours
                break
    return out


def _load_into(
    module: torch.nn.Module, state: Mapping[str, torch.Tensor], keys: dict[str, str]
) -> None:
    module.load_state_dict({ours: state[ref] for ref, ours in keys.items()}, strict=True)


def _detect_method(keys: set[str]) -> str | None:
    if any(k.startswith("encoder_q_scale.") for k in keys):
        return "crosscale-sgclr"
    if any(k.startswith("encoder_q_motion.") for k in keys):
        return "crosview-sgclr"
    if any(k.startswith("encoder_q.m2a.") for k in keys):
        return "msmclr"
    if any(k.startswith("encoder_q.dropout.") for k in keys):
        return "aimclr"
    if any(k.startswith("encoder_q.") for k in keys):
        return "skeletonclr"  # or sgclr: same key set
    return None


@dataclass
class _Built:
    """One side (query or key) of one component: its modules and where their keys come from."""

    encoder: SkeletonEncoder
    head: torch.nn.Module
    attention: MotionAttention | None
    plans: list[tuple[torch.nn.Module, dict[str, str]]]  # module, {original key: our key}


def _build_component(
    state: Mapping[str, torch.Tensor],
    comp: _Component,
    prefix: str,
    config: EncoderConfig,
    joint_head: torch.nn.Module | None,
    method: str,
) -> _Built:
    """Fresh modules for the keys under ``prefix`` (the values are loaded once all keys check out)."""
    encoder = SkeletonEncoder(config)
    # an MLP head by any of its keys (one missing key is then named as missing, not its siblings as unexpected)
    mlp = any(key.startswith((f"{prefix}.fc.0.", f"{prefix}.fc.2.")) for key in state)
    # the second encoder of CrosScale / CrosView ends in the joint head only with MLP heads
    # (the released code shares it inside `if mlp:`); a single Linear head is its own
    kind = comp.head if mlp else "projection"
    if kind == "scale":
        if not isinstance(joint_head, ProjectionHead):
            raise ReferenceCheckpointError(f"{method}: the {comp.name} head needs the joint head")
        head: torch.nn.Module = ScaleProjectionHead(joint_head, config.hidden_dim)
    else:
        out_key = f"{prefix}.fc.2.weight" if mlp else f"{prefix}.fc.weight"  # (absent: reported as missing below)
        out_features = state[out_key].shape[0] if out_key in state else 128
        head = ProjectionHead(config.hidden_dim, out_features, mlp=mlp)
    plans = [(encoder, _encoder_keys(encoder, prefix)), (head, _head_keys(head, prefix, kind))]
    attention = None
    if comp.motion_attention:
        attention = MotionAttention(config.hidden_dim)
        plans.append((attention, {f"{prefix}.m2a.{k}": k for k in attention.state_dict()}))
    return _Built(encoder, head, attention, plans)


def _mismatch_error(
    path: str | Path,
    method: str,
    present: set[str],
    problems: list[str],
    missing: list[str],
    unexpected: list[str],
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
) -> ReferenceCheckpointError:
    """The error for a file whose keys do not fit ``method``: what is wrong, and the method the
    keys look like when that is another one."""
    detected = _detect_method(present)
    hint = (
        f" The file looks like a {detected!r} checkpoint; pass method={detected!r} (--method {detected})."
        if detected and detected != method and not (method == "sgclr" and detected == "skeletonclr")
        else ""
    )

    def _list(items: list) -> str:
        shown = ", ".join(map(str, items[:8]))
        return shown + (f", ... ({len(items)} in all)" if len(items) > 8 else "")

    parts = problems[:]
    if missing:
        parts.append(f"missing keys: {_list(missing)}")
    if unexpected:
        parts.append(f"unexpected keys: {_list(unexpected)}")
    if mismatched:
        parts.append("mis-shaped keys: " + _list([f"{k} expected {e} found {f}" for k, e, f in mismatched]))
    return ReferenceCheckpointError(
        f"{path} does not match method {method!r} ({REFERENCE_METHODS[method].description})."
        + hint
        + " Details: "
        + "; ".join(parts)
        + ".",
        missing=missing,
        unexpected=unexpected,
        mismatched=mismatched,
    )


def load_reference_checkpoint(path: str | Path, method: str) -> ReferenceCheckpoint:
    """Read an original-code checkpoint of ``method`` into skeletonzoo modules (eval mode).

    Args:
        path: File written by the original code (``torch.save`` of the model state dict).
        method: One of :data:`REFERENCE_METHODS` (``skeletonclr``, ``aimclr``, ``msmclr``,
            ``sgclr``, ``crosview-sgclr``, ``crosscale-sgclr``).

    Raises:
        ValueError: unknown ``method``.
        CheckpointError: unreadable, corrupted or pickled-object file.
        ReferenceCheckpointError: keys missing, unexpected or mis-shaped for ``method``.
    """
    if method not in REFERENCE_METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {sorted(REFERENCE_METHODS)}")
    spec = REFERENCE_METHODS[method]
    state = read_reference_state(path)
    present = set(state)

    expected: dict[str, tuple[int, ...]] = {name: () for name in spec.buffers}
    for name in spec.buffers:
        if name in state:
            expected[name] = tuple(state[name].shape)  # queue size K is free
    ignored: set[str] = set()
    # side ("query" | "key") -> component name -> module, in component order
    encoders: dict[str, dict[str, SkeletonEncoder]] = {"query": {}, "key": {}}
    heads: dict[str, dict[str, torch.nn.Module]] = {"query": {}, "key": {}}
    attentions: dict[str, dict[str, MotionAttention]] = {"query": {}, "key": {}}
    plans: list[tuple[torch.nn.Module, dict[str, str]]] = []
    configs_ok = True
    problems: list[str] = []
    for comp in spec.components:
        for side, prefix in (("query", comp.prefix), ("key", comp.key_prefix)):
            try:
                config = _infer_config(state, prefix)
            except ReferenceCheckpointError as exc:
                configs_ok = False
                problems.append(str(exc))
                continue
            built = _build_component(state, comp, prefix, config, heads[side].get("joint"), method)
            encoders[side][comp.name], heads[side][comp.name] = built.encoder, built.head
            if built.attention is not None:
                attentions[side][comp.name] = built.attention
            plans += built.plans
            for module, keys in built.plans:
                shapes = module.state_dict()
                expected.update({ref: tuple(shapes[ours].shape) for ref, ours in keys.items()})
            for ignored_prefix in comp.ignored:
                ignored |= {k for k in present if k.startswith(f"{prefix}.{ignored_prefix}")}

    missing = sorted(k for k in expected if k not in present)
    unexpected = sorted(present - set(expected) - ignored)
    mismatched = [
        (k, shape, tuple(state[k].shape))
        for k, shape in expected.items()
        if k in state and k not in spec.buffers and tuple(state[k].shape) != shape
    ]
    if missing or unexpected or mismatched or not configs_ok:
        raise _mismatch_error(path, method, present, problems, missing, unexpected, mismatched)

    for module, keys in plans:
        _load_into(module, state, keys)
        module.eval()

    motion_attention: dict[str, MotionAttention] = {}
    if "joint" in attentions["query"]:
        motion_attention = {"query": attentions["query"]["joint"], "key": attentions["key"]["joint"]}
    return ReferenceCheckpoint(
        method=method,
        encoders=encoders["query"],
        heads=heads["query"],
        key_encoders=encoders["key"],
        key_heads=heads["key"],
        motion_attention=motion_attention,
        buffers={name: state[name] for name in spec.buffers},
        sha256=sha256_file(path),
        source=str(path),
    )


def convert_reference_checkpoint(path: str | Path, method: str) -> dict[str, SkeletonEncoder]:
    """Query encoders of an original-code checkpoint, in eval mode.

    Args:
        path: The original checkpoint (``torch.save`` of a dict of tensors).
        method: ``skeletonclr``, ``aimclr``, ``msmclr``, ``sgclr``, ``crosview-sgclr`` or
            ``crosscale-sgclr``.

    Returns:
        ``{"joint": encoder}``, plus ``"scale"`` (CrosScale-SGCLR's 10-part encoder) or
        ``"motion"`` (CrosView-SGCLR).

    Raises:
        CheckpointError: unreadable/corrupted file, or pickled objects in it.
        ReferenceCheckpointError: the keys do not match ``method`` (lists them).
    """
    return load_reference_checkpoint(path, method).encoders


# How each component's input is derived from the model input, recorded in our metadata.
_COMPONENT_INPUTS = {
    "joint": "identity",
    "scale": "grouping:crosscale_parts10",
    "motion": "stream:motion",
}


def convert_to_safetensors(
    source: str | Path,
    method: str,
    output: str | Path,
    *,
    stream: str = "joint",
    preprocessing: dict | None = None,
) -> Path:
    """Convert an original-code checkpoint to a skeletonzoo ``.safetensors`` checkpoint.

    The query encoders and their projection heads are written; key encoders and queues (only
    needed to continue pretraining) are not.

    Args:
        source: The original checkpoint.
        method: See :func:`convert_reference_checkpoint`.
        output: Destination path.
        stream: The input stream the model was trained on (``joint``, ``motion``, ``bone``);
            the original files do not record it.
        preprocessing: The preprocessing the model was trained with; defaults to the NTU
            ``_position.npy`` pipeline for 25-joint models.

    Returns:
        The output path.

    Raises:
        ValueError: ``output`` is the source file itself or a folder (an existing other file is
            replaced).
    """
    from ._files import check_output
    from .checkpoint import save_checkpoint  # local: checkpoint imports models only

    check_output(output, overwrite=True, inputs=[source])  # never the original checkpoint itself
    ref = load_reference_checkpoint(source, method)
    save_checkpoint(
        output,
        ref.encoders,
        heads=ref.heads,
        stream=stream,  # type: ignore[arg-type]
        preprocessing=preprocessing,
        provenance={
            "method": method,
            "converted_from": Path(source).name,
            "source_sha256": ref.sha256,
            "source_format": "original research code state dict (torch.save)",
            "skeletonzoo_version": _version(),
        },
        inputs={name: _COMPONENT_INPUTS[name] for name in ref.encoders},
    )
    return Path(output)


def _version() -> str:
    from ._version import __version__

    return __version__
