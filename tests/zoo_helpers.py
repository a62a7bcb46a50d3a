"""Helpers for the zoo tests: real (small-seeded) checkpoints of registry entries and manifests
that publish them, written to temporary folders. No weights are committed to the repository."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from conftest import randomize_

from skeletonzoo.checkpoint import save_checkpoint
from skeletonzoo.manifest import (
    PACKAGED_MANIFEST,
    DataProvenance,
    HuggingFaceSource,
    Manifest,
    Metric,
    ModelRecord,
    PublishedWeights,
    SoftwareProvenance,
    TrainingProvenance,
    WeightsSources,
    load_manifest,
    write_manifest,
)
from skeletonzoo.models import SkeletonEncoder
from skeletonzoo.registry import get_spec

REPO_ID = "skeletonzoo-test/models"


def training(name: str, seed: int = 0) -> TrainingProvenance:
    return TrainingProvenance(
        recipe=name,
        seed=seed,
        epochs_run=3,
        epochs_planned=300,
        data=DataProvenance(dataset="nwucla", split="xview", fingerprint=hashlib.sha256(b"data").hexdigest()),
        wall_time_s=12.5,
        hardware="test machine",
        software=SoftwareProvenance(skeletonzoo="0.0.test", git_commit="0" * 40, torch=torch.__version__),
        command=f"skeletonzoo-pretrain {name} --data prepared/",
    )


def make_checkpoint(path: Path, name: str, seed: int = 0) -> dict[str, SkeletonEncoder]:
    """Write a randomised skeletonzoo checkpoint of registry entry ``name``; returns its encoders."""
    spec = get_spec(name)
    encoders = {
        component: randomize_(SkeletonEncoder(arch.config), seed=seed + i).eval()
        for i, (component, arch) in enumerate(spec.components.items())
    }
    save_checkpoint(
        path,
        encoders,
        stream=spec.stream,  # type: ignore[arg-type]
        preprocessing=spec.preprocess.to_dict(),
        provenance={"method": spec.method, "training": training(name, seed).model_dump(mode="json")},
        inputs={c: a.input for c, a in spec.components.items()},
    )
    return encoders


def published(
    name: str,
    data: bytes,
    *,
    bundled: bool = False,
    hf_revision: str | None = None,
    urls: tuple[str, ...] = (),
) -> PublishedWeights:
    """A manifest entry for the file whose bytes are ``data``."""
    filename = f"{name}.safetensors"
    return PublishedWeights(
        filename=filename,
        sha256=hashlib.sha256(data).hexdigest(),
        size_bytes=len(data),
        sources=WeightsSources(
            bundled=f"weights/{filename}" if bundled else None,
            huggingface=HuggingFaceSource(repo_id=REPO_ID, filename=filename, revision=hf_revision)
            if hf_revision
            else None,
            urls=urls,
        ),
        licence="test-only",
        training=training(name),
        metrics=(
            Metric(
                name="linear_top1_last",
                value=50.0,
                protocol="test",
                measured_by="skeletonzoo",
                dataset="nwucla",
                split="xview",
                command="skeletonzoo-eval linear",
                machine="Test CPU (AVX512), 1 torch threads",
            ),
        ),
    )


def write_manifest_with(path: Path, entries: dict[str, PublishedWeights]) -> Manifest:
    """The packaged manifest with ``entries`` as the only weights of their models, written to ``path``."""
    base = load_manifest(PACKAGED_MANIFEST)
    models = dict(base.models)
    for name, entry in entries.items():
        models[name] = ModelRecord(paper_metrics=base.record(name).paper_metrics, weights=(entry,))
    manifest = Manifest(models=models)
    write_manifest(manifest, path)
    return manifest


def write_unpublished_manifest(path: Path) -> Manifest:
    """The packaged manifest with every published entry removed (tests of the 'no weights' paths)."""
    base = load_manifest(PACKAGED_MANIFEST)
    models = {name: ModelRecord(paper_metrics=record.paper_metrics) for name, record in base.models.items()}
    manifest = Manifest(models=models)
    write_manifest(manifest, path)
    return manifest
