"""Model cards: the Markdown ``NAME.md`` beside a weights file.

``skeletonzoo-pretrain`` writes one with every export (:func:`training_card`); ``publish`` rewrites
its file line and ``record_metrics`` its evaluation section (:func:`evaluation_markdown`), so the
pieces both touch are spelled here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .manifest import Metric
    from .pretrain.recipe import Recipe

__all__ = ["CARD_EVALUATION_HEADING", "COMMAND_NOT_RECORDED", "card_file_line", "evaluation_markdown", "training_card"]

# The start of a run resumed from a checkpoint written before the trainer kept its commands
COMMAND_NOT_RECORDED = "(not recorded: the run started before skeletonzoo kept its commands)"

CARD_EVALUATION_HEADING = "## Evaluation"


def card_file_line(filename: str) -> str:
    """The start of a model card's weights line naming ``filename``."""
    return f"- File: `{filename}`"


def evaluation_markdown(metrics: Iterable[Metric]) -> str:
    """A model card's evaluation section: the metrics, the commands (with their machines) and protocols."""
    rows = list(metrics)
    lines = [
        CARD_EVALUATION_HEADING,
        "",
        "Measured by skeletonzoo (`skeletonzoo-eval`); each value with the command that reproduces it.",
        "",
        "| metric | value (%) | dataset / split |",
        "|---|---|---|",
    ]
    lines += [f"| {m.name} | {m.value:.2f} | {m.dataset} / {m.split} |" for m in rows]
    # each command with the machine(s) it ran on: the trained probes reproduce only on the same kind
    commands: dict[str, list[str]] = {}
    for m in rows:
        if m.command:
            machines = commands.setdefault(m.command, [])
            if m.machine and m.machine not in machines:
                machines.append(m.machine)
    lines += ["", "Commands:", ""] + [
        f"- `{c}`" + (f" (on {'; '.join(commands[c])})" if commands[c] else "") for c in sorted(commands)
    ]
    protocols = dict.fromkeys(m.protocol for m in rows)
    lines += ["", "Protocols:", ""] + [f"- {p}" for p in protocols]
    return "\n".join(lines) + "\n"


def training_card(recipe: Recipe, provenance: dict[str, Any], entry: dict[str, Any]) -> str:
    """The model card ``skeletonzoo-pretrain`` writes beside an export (:func:`evaluation_markdown`
    replaces its evaluation section when metrics are recorded)."""
    m = recipe.model
    data = provenance["data"]
    hours = provenance["wall_time_s"] / 3600
    lines = [
        f"# {recipe.name}",
        "",
        f"{recipe.method} encoder (ST-GCN, hidden_channels={m.encoder.hidden_channels}, "
        f"hidden_dim={m.encoder.hidden_dim}, layout {m.encoder.layout}) pretrained without labels by "
        f"`skeletonzoo-pretrain` on {data['dataset']} ({data['split']}, {data['num_samples']} clips), "
        f"{recipe.stream} stream.",
        "",
        "## Training",
        "",
        f"- Recipe: `{recipe.name}` — {recipe.summary()}",
        f"- Epochs run: {provenance['epochs_run']} of {provenance['epochs_planned']} planned",
        f"- Seed: {recipe.seed}",
        f"- Data fingerprint (sha256 of the prepared split's checksums): `{data['fingerprint']}`",
        f"- Wall time: {provenance['wall_time_s']:.0f} s ({hours:.2f} h) on {provenance['hardware']}",
        f"- Software: {', '.join(f'{k} {v}' for k, v in provenance['software'].items() if v)}",
        *(
            [f"- Resumed under other code; segments: {provenance['software_segments']}"]
            if "software_segments" in provenance else []
        ),
        "- Command: " + (f"`{provenance['command']}`" if provenance.get("command") not in (None, COMMAND_NOT_RECORDED)
                         else provenance.get("command") or "(library call)"),
        *(f"- Then: `{c}`" for c in provenance.get("later_commands", ())),
        "",
        "## Weights",
        "",
        f"{card_file_line(entry['filename'])}, {entry['size_bytes']} bytes, sha256 `{entry['sha256']}`",
        f"- Licence: {recipe.licence}",
    ]
    if recipe.paper:
        lines += ["", "## Paper", "", recipe.paper]
    if recipe.notes:
        lines += ["", "## Notes", "", recipe.notes.strip()]
    lines += ["", CARD_EVALUATION_HEADING, "", "Measured with `skeletonzoo-eval`; see the manifest entry's metrics.",
              ""]  # fmt: skip
    return "\n".join(lines)
