"""``skeletonzoo info``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..registry import ModelInfo


def _describe(info: ModelInfo) -> list[str]:
    pre = info.preprocess
    steps = [f"centre on joint {pre.resolved_center()}", f"resize to {pre.num_frames} frames"]
    if pre.align:
        steps.append("rotate shoulders parallel to x")
    steps.append(f"{pre.num_persons} person{'s' if pre.num_persons > 1 else ''}")
    adapter = (
        f"adapt {info.input_layout} -> {info.layout} ({pre.adapter_mode}), " if info.input_layout != info.layout else ""
    )
    lines = [
        info.name,
        f"  method        {info.method_title} ({info.method}); {info.citation}",
        f"  dataset       {info.dataset_title}, {info.split_description} ({info.split}); {info.num_classes} classes",
        f"  stream        {info.stream}",
        f"  input layout  {info.input_layout}"
        + (f" (adapted to {info.layout})" if info.input_layout != info.layout else ""),
        f"  features      {info.num_features}",
        f"  preprocessing {adapter}{', '.join(steps)}",
    ]
    for name, arch in info.components.items():
        c = arch.config
        lines.append(
            f"  encoder       {name}: ST-GCN layout={c.layout} in_channels={c.in_channels} "
            f"hidden_channels={c.hidden_channels} hidden_dim={c.hidden_dim} input={arch.input}"
        )
    if info.members:
        weights = ", ".join(f"{s} {w}" for s, w in info.fusion_weights.items())
        lines.append(f"  members       {', '.join(info.members.values())} (features concatenated in this order)")
        lines.append(f"  fusion        paper's score-fusion weights: {weights}")
    recipe = info.recipe or "- (combines its members)"
    if info.recipe and info.recipe_file is None:
        recipe += " (not written yet)"
    lines.append(f"  recipe        {recipe}")
    for m in info.metrics:
        where = f"{m.dataset} {m.split}; measured by {m.measured_by}" + (f" on {m.machine}" if m.machine else "")
        lines.append(f"  metric        {m.name} = {m.value:.1f} ({where}: {m.protocol})")
    if not info.weights:
        lines.append(
            "  weights       not published yet"
            + (f" (train: skeletonzoo-pretrain {info.recipe} --data DIR)" if info.recipe_file else "")
        )
    for w in info.weights:
        hf = w.sources.huggingface
        sources = ["bundled"] if w.sources.bundled else []
        sources += [f"hf:{hf.repo_id}@{hf.revision[:10]}"] if hf is not None else []
        sources += list(w.sources.urls)
        t = w.training
        lines.append(f"  weights       {w.filename}, {w.size_bytes} bytes, sha256 {w.sha256}")
        lines.append(f"                sources: {', '.join(sources)}; licence: {w.licence}")
        lines.append(
            f"                trained: recipe {t.recipe}, seed {t.seed}, {t.epochs_run}/{t.epochs_planned} epochs, "
            f"{t.wall_time_s / 3600:.1f} h on {t.hardware}"
        )
    return lines


def _describe_file(path: Path) -> list[str]:
    """A checkpoint file: what its metadata says, and which published weights it is, if any."""
    from .._files import sha256_file
    from ..checkpoint import read_metadata
    from ..registry import list_models, model_info

    meta = read_metadata(path)
    digest = sha256_file(path)
    published = [(n, w) for n in list_models(pretrained=True) for w in model_info(n).weights if w.sha256 == digest]
    lines = [str(path), f"  sha256        {digest}"
             + (f" (the published {published[0][0]} weights)" if published else " (not a published file)"),
             f"  stream        {meta.stream}"]  # fmt: skip
    for name, component in meta.components.items():
        c = component.config
        lines.append(f"  encoder       {name}: ST-GCN layout={c.layout} in_channels={c.in_channels} "
                     f"hidden_channels={c.hidden_channels} hidden_dim={c.hidden_dim} "
                     f"input={component.input}")  # fmt: skip
    pre = meta.preprocessing
    # as skeletonzoo.load applies it: a file that records none (a converted original-code checkpoint)
    # gets the original *_position.npy pipeline, Preprocess's default
    lines.append("  preprocessing " + (", ".join(f"{k}={v}" for k, v in pre.items() if v is not None) if pre else
                                       "none recorded: load/embed apply the original pipeline's (Preprocess "
                                       "defaults); preprocess=False for positions normalised already"))  # fmt: skip
    prov = meta.provenance
    for key in ("method", "recipe", "seed", "epochs_run", "epochs_planned", "hardware", "wall_time_s", "command",
                "source", "source_sha256"):  # fmt: skip
        if key in prov:
            lines.append(f"  {key:<13} {prov[key]}")
    if isinstance(prov.get("data"), dict):
        lines.append("  data          " + ", ".join(f"{k} {v}" for k, v in prov["data"].items()))
    return lines


def _run(args: argparse.Namespace) -> int:
    from ..checkpoint import is_checkpoint_path
    from ..registry import model_info

    if is_checkpoint_path(args.name):
        path = Path(args.name)
        if args.json:
            from ..checkpoint import read_metadata

            print(read_metadata(path).model_dump_json(indent=2))
        else:
            print("\n".join(_describe_file(path)))
        return 0
    info = model_info(args.name)
    print(info.model_dump_json(indent=2) if args.json else "\n".join(_describe(info)))
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="show one model's architecture, preprocessing, recipe, metrics and weights",
        description="Show everything the registry and the weights manifest know about a model, or what a "
        ".safetensors checkpoint's metadata records.",
    )
    p.add_argument("name", help="model name, e.g. msmclr-ntu120-xset, or a .safetensors checkpoint")
    p.add_argument("--json", action="store_true", help="print the entry as JSON")
    p.set_defaults(handler=_run)
