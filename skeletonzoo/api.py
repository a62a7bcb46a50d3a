"""The stable face of the zoo: :func:`load` a model by name (or checkpoint path), :func:`embed`
skeleton sequences with the preprocessing it was trained with.

>>> import skeletonzoo as sz
>>> enc = sz.load("msmclr-nwucla-xview", pretrained=False)   # architecture only
>>> sz.embed(enc, clips).shape                               # doctest: +SKIP
(464, 256)

Every model :func:`load` returns is an ``nn.Module`` in eval mode mapping ``(N, C, T, V, M)``
to ``(N, num_features)``, with these attributes:

* ``preprocess`` — the :class:`~skeletonzoo.data.preprocess.Preprocess` it was trained with;
* ``layout`` — the :class:`~skeletonzoo.skeleton.Layout` it consumes (after any adapter);
* ``stream`` — ``"joint"``, ``"motion"``, ``"bone"``, or ``"3s"`` for a three-stream ensemble;
* ``num_features`` — the embedding size;
* ``model_name`` — the registry name, or the checkpoint path it was loaded from;
* ``published`` — the manifest entry of its weights (``None`` if random or loaded from a path).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from ._inputs import PreparedBatches, as_samples, check_values, warn_if_normalised
from ._machine import usable_device
from .checkpoint import is_checkpoint_path, load_checkpoint
from .data.adapters import ADAPTERS, adapt_layout
from .data.preprocess import Preprocess
from .exceptions import CheckpointError
from .features import extract_features
from .manifest import PublishedWeights
from .models import SkeletonEncoder
from .models.ensemble import GroupedInputEncoder, StreamEnsemble, num_features_of
from .registry import get_spec, list_models, model_info
from .skeleton.layouts import LAYOUTS, Layout, get_layout

__all__ = ["load", "load_model", "embed"]

_TWO_D_LAYOUTS = {"coco17", "openpose18"}


# --------------------------------------------------------------------------------------------
# load


def _layout_of(model: nn.Module) -> Layout:
    layout: object = getattr(model, "layout", None)
    if not isinstance(layout, Layout):
        raise TypeError(
            f"{type(model).__name__} has no `layout` (a skeletonzoo Layout); load models with skeletonzoo.load"
        )
    return layout


def _component_module(encoder: SkeletonEncoder, derivation: str) -> tuple[nn.Module, str | None]:
    """Wrap a component encoder so it takes the model input; returns it and its own stream."""
    kind, _, arg = derivation.partition(":")
    if kind == "identity":
        return encoder, None
    if kind == "grouping":
        return GroupedInputEncoder(encoder, arg), None
    if kind == "stream":
        return encoder, arg
    raise CheckpointError(f"unknown component input {derivation!r}")


def _attach(
    model: nn.Module,
    *,
    name: str,
    stream: str,
    preprocess: Preprocess,
    published: PublishedWeights | None,
    device: str | torch.device,
) -> nn.Module:
    model.to(device).eval()
    # plain attributes (nn.Module.__setattr__ would only register tensors and modules)
    for key, value in (("preprocess", preprocess), ("stream", stream), ("model_name", name), ("published", published)):
        setattr(model, key, value)
    return model


def _load_path(path: Path, component: str, device: str | torch.device) -> nn.Module:
    loaded = load_checkpoint(path, device=device)
    meta = loaded.metadata
    if component not in loaded.encoders:
        raise ValueError(f"{path} has components {sorted(loaded.encoders)}, not {component!r}")
    module, own_stream = _component_module(loaded.encoders[component], meta.components[component].input)
    if meta.preprocessing is not None:
        preprocess = Preprocess.from_dict(meta.preprocessing)
    else:
        # PARITY: converted original-code checkpoints record none; their models were trained on the
        # original `*_position.npy` pipeline, which is Preprocess's default.
        preprocess = Preprocess(layout=_layout_of(module).name)
    return _attach(
        module, name=str(path), stream=own_stream or meta.stream, preprocess=preprocess, published=None, device=device
    )


def load(
    name: str | os.PathLike[str],
    *,
    pretrained: bool = True,
    device: str | torch.device = "cpu",
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    component: str = "joint",
    local_files_only: bool = False,
) -> nn.Module:
    """Load a zoo model, in eval mode, with its preprocessing attached.

    Args:
        name: A registry name (``"msmclr-ntu120-xset"``; see :func:`~skeletonzoo.list_models`)
            or the path of a skeletonzoo ``.safetensors`` checkpoint (its metadata supplies
            architecture, stream and preprocessing).
        pretrained: Load the published weights (verified by sha256); ``False`` builds the
            randomly initialised architecture.
        device: Where the model lives.
        revision: Which published weights, when there are several: at least 7 characters of
            the Hub commit or of the sha256 (default: the newest).
        cache_dir: Download cache (default :func:`skeletonzoo.hub.cache_root`).
        component: For two-encoder methods, which encoder: ``"joint"`` (the default, the
            embedding the papers evaluate), ``"scale"`` (CrosScale-SGCLR's 10-part encoder, fed
            the 25 joints averaged into parts) or ``"motion"`` (CrosView-SGCLR's motion encoder).
        local_files_only: Never touch the network (like ``HF_HUB_OFFLINE=1``).

    Returns:
        The model: ``(N, C, T, V, M)`` -> ``(N, num_features)``, with ``preprocess``,
        ``layout``, ``stream``, ``num_features``, ``model_name`` and ``published`` attributes.

    Raises:
        UnknownModelError: not a registered name (close matches suggested).
        WeightsNotPublishedError: registered, but no weights yet (says how to get them).
        OfflineError, ChecksumError, DownloadError: the weights could not be obtained
            verified (see :func:`skeletonzoo.hub.resolve_weights`).
        CheckpointError: the file does not match its registry entry.
        FileNotFoundError: a checkpoint path that does not exist.
        ValueError: a device this machine does not have.
    """
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"load() takes a model name or a checkpoint path, got {type(name).__name__} {name!r}")
    device = usable_device(device)
    if not isinstance(name, str) or is_checkpoint_path(name):
        if revision is not None:
            raise ValueError(f"{name}: a revision chooses among a zoo name's published weights; a checkpoint file "
                             "is one set of weights: drop the revision (--revision)")  # fmt: skip
        if not pretrained:
            raise ValueError(f"{name}: pretrained=False builds a zoo name's architecture untrained; a "
                             "checkpoint file is loaded with its weights (pass the zoo name for an untrained "
                             "encoder)")  # fmt: skip
        return _load_path(Path(name), component, device)
    spec = get_spec(name)
    name = spec.name  # the registry's spelling (names are matched in any case)
    if spec.members:
        if component != "joint" or revision is not None:
            raise ValueError(f"{name!r} is an ensemble: load its members to choose a component or revision")
        members = {
            stream: load(member, pretrained=pretrained, device=device, cache_dir=cache_dir,
                         local_files_only=local_files_only)
            for stream, member in spec.members.items()
        }  # fmt: skip
        ensemble = StreamEnsemble(members, layout=spec.layout, fusion_weights=spec.fusion_weights)
        return _attach(ensemble, name=name, stream="3s", preprocess=spec.preprocess, published=None, device=device)
    if component not in spec.components:
        raise ValueError(f"{name!r} has components {sorted(spec.components)}, not {component!r}")
    published = None
    if pretrained:
        from .hub import resolve_weights

        published = model_info(name).weights_for(revision)
        path = resolve_weights(published, name=name, cache_dir=cache_dir, local_files_only=local_files_only)
        loaded = load_checkpoint(path, device=device)
        problems = spec.checkpoint_problems(loaded.metadata)
        if problems:
            raise CheckpointError(
                f"{path}, published as {name!r}, does not match the registry entry: {'; '.join(problems)}"
            )
        encoder = loaded.encoders[component]
    else:
        if revision is not None:
            raise ValueError("revision= selects published weights; it needs pretrained=True")
        encoder = SkeletonEncoder(spec.components[component].config)
    module, own_stream = _component_module(encoder, spec.components[component].input)
    return _attach(
        module,
        name=name,
        stream=own_stream or spec.stream,
        preprocess=spec.preprocess,
        published=published,
        device=device,
    )


load_model = load


# --------------------------------------------------------------------------------------------
# embed


def _label(model: nn.Module) -> str:
    name = getattr(model, "model_name", None)
    return repr(name) if name else "the model"


def _source_layout(model: nn.Module, pipeline: Preprocess | None, layout: str | None, preprocess: bool, v: int) -> str:
    """The layout the input arrives in: ``layout=`` if given, else the model's default input."""
    target = _layout_of(model).name
    if layout is not None:
        try:
            source = get_layout(layout)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        if source.num_joints != v:
            fitting = [name for name, lay in LAYOUTS.items() if lay.num_joints == v]
            hint = (f"layouts with V={v}: {', '.join(fitting)}" if fitting
                    else f"no known layout has V={v} (skeletonzoo.skeleton.LAYOUTS lists them)")
            raise ValueError(f"input has V={v} joints but layout={layout!r} has V={source.num_joints}; "
                             f"pass the layout your data is in ({hint})")
        if source.name != target and (source.name, target) not in ADAPTERS:
            raise ValueError(f"no adapter from layout {source.name!r} to {_label(model)}'s layout {target!r}")
        return source.name
    defaults = [pipeline.input_layout or target] if preprocess and pipeline is not None else []
    defaults = list(dict.fromkeys([*defaults, target]))
    for candidate in defaults:
        if get_layout(candidate).num_joints == v:
            return candidate
    expected = " or ".join(f"{c!r} (V={get_layout(c).num_joints})" for c in defaults)
    own_input = pipeline.input_layout if pipeline is not None else None
    adaptable = [name for name, lay in LAYOUTS.items() if lay.num_joints == v and (name, target) in ADAPTERS]
    if not preprocess and own_input and get_layout(own_input).num_joints == v:
        # the model's own raw input, given with preprocessing off: the flag is the mistake
        hint = (f"without preprocessing the input must be positions already preprocessed into {target!r}; raw "
                f"{own_input!r} clips, as the model takes them, need preprocess=True (drop --no-preprocess); "
                f"{own_input!r} positions normalised by your own pipeline are adapted with layout={own_input!r} "
                f"(--layout {own_input})")  # fmt: skip
    elif adaptable:
        hint = " or ".join(f'adapt with layout="{a}" (--layout {a} on the command line)' for a in adaptable)
        own = getattr(model, "model_name", None)
        takers = [a for a in adaptable if any(get_spec(n).input_layout == a for n in list_models() if n != own)]
        hint += f" or pick a {takers[0]} model (skeletonzoo list)" if takers else ""
    else:
        hint = f"no known layout with V={v} has an adapter to {target!r}"
    if v in (2, 3):  # the coordinates' axis where the joints' should be: a (T, V, C) clip read as (C, T, V, M)
        hint += (f"; V={v} looks like the x, y(, z) axis: samples are (C, T, V, M), so a (T, V, C) clip, as raw "
                 "files store them, is clip.transpose(2, 0, 1)[..., None] (numpy) or clip.permute(2, 0, 1)[..., None]")
    raise ValueError(f"input has V={v} joints but {_label(model)} expects layout {expected}; {hint}")


def embed(
    model_or_name: nn.Module | str | os.PathLike[str],
    data: Any,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    preprocess: bool = True,
    layout: str | None = None,
) -> np.ndarray:
    """Feature vectors of skeleton sequences.

    Args:
        model_or_name: A model from :func:`load`, or a name or checkpoint path to load.
        data: A padded batch ``(N, C, T, V, M)`` (frames whose joints are all zero are
            padding), one sample ``(C, T, V, M)``, or a list of ``(C, T_i, V, M)`` samples of
            different lengths; numpy (memory-mapped is fine) or torch.
        batch_size: Samples per forward pass.
        device: Where to run (the model is moved there); default the model's device.
        preprocess: ``True``: raw positions, normalised with the model's own pipeline.
            ``False``: already-normalised positions in the model's layout (e.g. the original
            code's ``*_position.npy``). The model's stream (motion, bone) is derived from the
            positions in both cases.
        layout: The layout the input arrives in when it is not the model's default (e.g.
            ``"nwucla20"`` clips for an NTU model); the model's adapter maps it.

    Returns:
        float32 ``(N, model.num_features)``; ``(0, num_features)`` for empty input.

    Raises:
        ValueError: wrong shape, joints (V), channels (C) or persons (M) for the model's
            layout (the message names the expected layout), or NaN/inf values (the message
            names the samples).
        TypeError: a file name given as ``data`` (load the file first).
    """
    if device is not None:
        device = usable_device(device)
    if isinstance(model_or_name, nn.Module):
        model = model_or_name
        if device is not None:
            model.to(device)
    else:
        model = load(model_or_name, device=device or "cpu")
    first = next(iter(model.parameters()), None)
    run_on = (
        torch.device(device) if device is not None else (first.device if first is not None else torch.device("cpu"))
    )
    num_features = num_features_of(model)
    attached: object = getattr(model, "preprocess", None)
    pipeline = attached if isinstance(attached, Preprocess) else None
    if preprocess and pipeline is None:
        raise ValueError(
            f"{_label(model)} has no preprocessing attached (models from skeletonzoo.load have one); pass "
            "preprocess=False for already-normalised positions, or set model.preprocess = Preprocess(...)"
        )
    samples = as_samples(data)
    if samples.n == 0:
        return np.zeros((0, num_features), dtype=np.float32)
    c, v, m = samples.shape
    target = _layout_of(model).name
    source = _source_layout(model, pipeline, layout, preprocess, v)
    in_channels: object = getattr(model, "in_channels", 3)
    channels = (2, 3) if source in _TWO_D_LAYOUTS else (in_channels if isinstance(in_channels, int) else 3,)
    if c not in channels:
        raise ValueError(
            f"input has C={c} channels but layout {source!r} takes C={' or '.join(map(str, channels))}"
            f" ({'x, y[, score]' if source in _TWO_D_LAYOUTS else 'x, y, z'})"
        )
    if not preprocess and not samples.lengths_equal():
        raise ValueError(
            "with preprocess=False the samples are taken as normalised positions and must share one length T; "
            "pad or resize them, or pass preprocess=True"
        )
    check_values(samples, pipeline.num_persons if pipeline is not None else None)
    if preprocess and pipeline is not None and source == pipeline.layout:
        warn_if_normalised(samples, pipeline.resolved_center())

    def step(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if preprocess:
            assert pipeline is not None
            return pipeline(x, lengths=lengths, input_layout=source)
        if source != target:
            x = pipeline.adapt(x, source) if pipeline is not None else adapt_layout(x, source, target)
        return pipeline.fit_persons(x) if pipeline is not None else x

    # An ensemble derives each member's stream itself from the positions.
    stream = "joint" if isinstance(model, StreamEnsemble) else str(getattr(model, "stream", "joint"))
    batches = PreparedBatches(samples, step, run_on)
    return extract_features(
        model, cast(Any, batches), stream=stream, layout=target, batch_size=batch_size, device=run_on
    )
