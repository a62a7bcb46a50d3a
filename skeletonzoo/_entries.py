"""The zoo's entries: every configuration of the MsMCLR and CrosScale-SGCLR papers, their
baselines, and the NW-UCLA models trained by this project. One family per function.

Every encoder is the papers' quarter-width ST-GCN (``hidden_channels=16``, ``hidden_dim=256``,
spatial partitions, learned edge importance). Each single-stream entry's recipe has the
entry's name; the three-stream ensembles combine their members and have none. What the papers
report, and what has been published, is in ``weights_manifest.json``.
"""

from __future__ import annotations

from collections.abc import Iterator

from .models.config import EncoderConfig
from .registry import DATASETS, ComponentArch, ModelSpec, register_models

NTU_BENCHMARKS = (("ntu60", "xsub"), ("ntu60", "xview"), ("ntu120", "xsub"), ("ntu120", "xset"))
# The baselines' PKU-MMD result is phase I's; MsMCLR also reports phase II (three streams only).
BASELINE_BENCHMARKS = (*NTU_BENCHMARKS, ("pkummd1", "xsub"))
MSMCLR_BENCHMARKS = (*BASELINE_BENCHMARKS, ("pkummd2", "xsub"))
NWUCLA = ("nwucla", "xview")
# MsMCLR's score fusion (shared/specs/paper-results.md): joint 0.6, bone 0.6, motion 0.4.
THREE_STREAM_FUSION = {"joint": 0.6, "bone": 0.6, "motion": 0.4}

_ENCODER = EncoderConfig()  # quarter-width ST-GCN on NTU's 25 joints
_COMPONENTS: dict[str, dict[str, ComponentArch]] = {
    "crosscale-sgclr": {
        "joint": ComponentArch(config=_ENCODER),
        "scale": ComponentArch(
            config=_ENCODER.model_copy(update={"layout": "coarse10"}), input="grouping:crosscale_parts10"
        ),
    },
    "crosview-sgclr": {
        "joint": ComponentArch(config=_ENCODER),
        "motion": ComponentArch(config=_ENCODER, input="stream:motion"),
    },
}


def model_name(method: str, dataset: str, split: str, stream: str = "joint") -> str:
    """``{method}-{dataset}-{split}[-{stream}]``, the suffix omitted for the joint stream."""
    return f"{method}-{dataset}-{split}" + ("" if stream == "joint" else f"-{stream}")


def single(method: str, dataset: str, split: str, stream: str = "joint") -> ModelSpec:
    """A model with its own weights: one encoder per component on one stream."""
    name = model_name(method, dataset, split, stream)
    components = _COMPONENTS.get(method, {"joint": ComponentArch(config=_ENCODER)})
    return ModelSpec(
        name=name,
        method=method,
        dataset=dataset,
        split=split,
        stream=stream,  # type: ignore[arg-type]
        components=components,
        preprocess=DATASETS[dataset].preprocess,
        num_features=components["joint"].config.num_features,
        recipe=name,
    )


def ensemble(method: str, dataset: str, split: str, fusion: dict[str, float]) -> ModelSpec:
    """A three-stream ensemble of the entries ``single(method, dataset, split, stream)``."""
    members = {stream: model_name(method, dataset, split, stream) for stream in fusion}
    return ModelSpec(
        name=model_name(method, dataset, split, "3s"),
        method=method,
        dataset=dataset,
        split=split,
        stream="3s",
        preprocess=DATASETS[dataset].preprocess,
        num_features=len(members) * _ENCODER.num_features,
        recipe=None,
        members=members,
        fusion_weights=fusion,
    )


@register_models
def _msmclr() -> Iterator[ModelSpec]:
    for dataset, split in MSMCLR_BENCHMARKS:
        for stream in ("joint", "bone", "motion"):
            yield single("msmclr", dataset, split, stream)
        yield ensemble("msmclr", dataset, split, THREE_STREAM_FUSION)
    yield single("msmclr", *NWUCLA)


@register_models
def _sgclr_family() -> Iterator[ModelSpec]:
    for method in ("crosscale-sgclr", "crosview-sgclr", "sgclr"):
        for dataset, split in NTU_BENCHMARKS:
            yield single(method, dataset, split)
    # SGCLR beside CrosScale-SGCLR on NW-UCLA: the single-scale baseline of its NW-UCLA entry
    yield single("crosscale-sgclr", *NWUCLA)
    yield single("sgclr", *NWUCLA)


@register_models
def _baselines() -> Iterator[ModelSpec]:
    for method in ("skeletonclr", "aimclr"):
        for dataset, split in BASELINE_BENCHMARKS:
            yield single(method, dataset, split)
        yield single(method, *NWUCLA)
