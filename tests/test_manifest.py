"""weights_manifest.json: schema, pinned published files, paper numbers, publish(), the wheel."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SHARED
from zoo_helpers import make_checkpoint, training

import skeletonzoo
from skeletonzoo.checkpoint import load_checkpoint
from skeletonzoo.exceptions import CheckpointError, ManifestError, UnknownModelError
from skeletonzoo.manifest import (
    PACKAGED_MANIFEST,
    Manifest,
    Metric,
    PublishedWeights,
    TrainingProvenance,
    load_manifest,
    publish,
    write_manifest,
)
from skeletonzoo.registry import list_models, model_info

REPO = Path(__file__).resolve().parents[1]

# Every published weights file: (model name, sha256) -> size in bytes. A published file is
# immutable: re-training makes a new entry (and a new row here), it never changes one.
PINNED: dict[tuple[str, str], int] = {
    ("skeletonclr-nwucla-xview", "6253239d63c7119ffce3ac8b507ab8a39a90ea6310437d3ff959d426b1628933"): 3720420,
    ("crosscale-sgclr-nwucla-xview", "97cdd762392230d969c5d32494543dead1b6a17d68199344a6e6df8f601b8b0a"): 7632244,
    ("msmclr-nwucla-xview", "001c0482660dc860c4b2f80a6456c4d20b4a8cb2754d2dc7db30b3ba0f0f4d4b"): 3720396,
    ("aimclr-nwucla-xview", "6cb92b882503af2992f9b3fc8a452b3d7d2021dac6d3967709d876597217b6e2"): 3720404,
    ("msmclr-nwucla-xview", "62db3348a0ecdc2479bce068abd6d12f82b34320e94008555be3aba2cf24b6e7"): 3720412,
    ("msmclr-nwucla-xview", "d70536d2673a4d64ddc32658300f26ce52f1dfe96ca3fe2b746543d17c59b319"): 3720788,
    ("msmclr-nwucla-xview", "c5a43b40d1633630aebef38cb5bcd88797a5e4ebd3ddff7e3bb38da4a7dca8f4"): 3720420,
    ("skeletonclr-nwucla-xview", "a9c885a18e6e4e4c3108f8fb66c0334275ec37d6df69f550bc58fedd9c4de931"): 3720460,
    ("aimclr-nwucla-xview", "edba4b239927bf7eb2f66887630b0d60311f48f5b07c71e965af4e1b448279ea"): 3720476,
    ("sgclr-nwucla-xview", "60511a145c1bf770e46496ddc8652f88ba43d8e96f74f78d663571a233593d36"): 3720380,
    ("aimclr-nwucla-xview", "cad7ab51eaa00abcdeed866f3132e754f7e585ce4e22a7d11b6ccc41da15a264"): 3720564,
}


def pin_problems(manifest: Manifest, pinned: dict[tuple[str, str], int]) -> list[str]:
    """Differences between the manifest's published files and the pinned table."""
    problems = []
    seen = set()
    for name, record in manifest.models.items():
        for w in record.weights:
            key = (name, w.sha256)
            seen.add(key)
            if key not in pinned:
                row = f"({name!r}, {w.sha256!r}): {w.size_bytes}"
                problems.append(f"{name}: {w.filename} sha256 {w.sha256} is not pinned; add {row}")
            elif pinned[key] != w.size_bytes:
                problems.append(f"{name}: {w.filename} size {w.size_bytes} != pinned {pinned[key]}")
    problems += [f"{name}: pinned sha256 {sha} is no longer published" for name, sha in sorted(set(pinned) - seen)]
    return problems


def test_published_files_match_their_pins():
    assert pin_problems(load_manifest(PACKAGED_MANIFEST), PINNED) == []


def test_pin_check_notices_a_changed_file(tmp_path):
    data = tmp_path / "x.safetensors"
    make_checkpoint(data, "msmclr-nwucla-xview")
    entry = publish("msmclr-nwucla-xview", data, licence="test", bundle=True,
                    manifest=_copy_manifest(tmp_path), package_dir=tmp_path / "pkg")  # fmt: skip
    manifest = load_manifest(tmp_path / "manifest.json")
    # The copied manifest holds the published weights too; they stay pinned as in PINNED.
    others = dict(PINNED)
    pins = {**others, ("msmclr-nwucla-xview", entry.sha256): entry.size_bytes}
    assert pin_problems(manifest, pins) == []
    wrong_size = {**others, ("msmclr-nwucla-xview", entry.sha256): entry.size_bytes + 1}
    assert "size" in pin_problems(manifest, wrong_size)[0]
    changed = {**others, ("msmclr-nwucla-xview", "0" * 64): entry.size_bytes}
    assert len(pin_problems(manifest, changed)) == 2  # the new file is unpinned, the pinned one is gone


def test_root_manifest_is_the_packaged_file():
    root = REPO / "weights_manifest.json"
    assert root.resolve() == PACKAGED_MANIFEST.resolve(), (
        "weights_manifest.json at the repository root must be a symbolic link to "
        "skeletonzoo/weights_manifest.json (git config core.symlinks true)"
    )
    text = PACKAGED_MANIFEST.read_text()
    assert load_manifest(root).to_json() == text  # canonical form: publish() rewrites it without noise


def test_manifest_and_registry_name_the_same_models():
    manifest = load_manifest(PACKAGED_MANIFEST)
    assert sorted(manifest.models) == list_models()


def test_every_published_measurement_names_its_command_and_machine():
    manifest = load_manifest(PACKAGED_MANIFEST)
    measured = [m for r in manifest.models.values() for w in r.weights for m in w.metrics]
    assert len(measured) >= 154
    assert all(m.measured_by == "skeletonzoo" and m.command and m.machine for m in measured)


def test_paper_metrics_are_quoted_best_epoch_linear_top1():
    manifest = load_manifest(PACKAGED_MANIFEST)
    without = sorted(n for n, r in manifest.models.items() if not r.paper_metrics)
    assert without == [
        "aimclr-nwucla-xview", "crosscale-sgclr-nwucla-xview", "msmclr-nwucla-xview", "msmclr-pkummd2-xsub",
        "msmclr-pkummd2-xsub-bone", "msmclr-pkummd2-xsub-motion", "sgclr-nwucla-xview", "skeletonclr-nwucla-xview",
    ]  # fmt: skip
    for name, record in manifest.models.items():
        info = model_info(name)
        for m in record.paper_metrics:
            assert m.measured_by == "paper" and m.name == "linear_top1_best"
            assert "best test epoch" in m.protocol and "quoted from the paper" in m.protocol
            assert (m.dataset, m.split) == (info.dataset, info.split)
            assert m.source == info.citation


_COLUMNS = {"NTU-60 xsub": "ntu60-xsub", "NTU-60 xview": "ntu60-xview", "NTU-120 xsub": "ntu120-xsub",
            "NTU-120 xset": "ntu120-xset", "PKU-MMD I": "pkummd1-xsub", "PKU-MMD II": "pkummd2-xsub"}  # fmt: skip


def _paper_table(text: str) -> dict[str, float]:
    """Model name -> value, from the tables of shared/specs/paper-results.md."""
    section, out = "", {}
    header: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            section, header = line, []
            continue
        if not line.startswith("|") or set(line) <= set("|-"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not header:
            header = cells
            continue
        label = cells[0]
        if "MsMCLR" in section:
            suffix = {"joint": "", "bone": "-bone", "motion": "-motion"}.get(
                label, "-3s" if label.startswith("3 streams") else None
            )
            method = "msmclr"
        elif "CrosScale" in section:
            method = {"CrosView-SGCLR": "crosview-sgclr", "CrosScale-SGCLR": "crosscale-sgclr"}.get(
                label, "sgclr" if label.startswith("SGCLR") else None)  # fmt: skip
            suffix = ""
        elif "Baselines" in section:
            method, suffix = {"SkeletonCLR": "skeletonclr", "AimCLR": "aimclr"}.get(label), ""
        else:
            continue
        if method is None or suffix is None:
            continue
        for column, cell in zip(header[1:], cells[1:]):
            if column in _COLUMNS and re.fullmatch(r"\d+(\.\d+)?", cell):
                out[f"{method}-{_COLUMNS[column]}{suffix}"] = float(cell)
    return out


def test_paper_metrics_equal_the_paper_results_sheet():
    path = SHARED / "specs" / "paper-results.md"
    if not path.exists():
        pytest.skip(f"needs {path}")
    expected = _paper_table(path.read_text())
    manifest = load_manifest(PACKAGED_MANIFEST)
    found = {n: r.paper_metrics[0].value for n, r in manifest.models.items() if r.paper_metrics}
    assert len(expected) == 43
    assert found == expected


def test_schema_rejects_typos_and_bad_values(tmp_path):
    good = json.loads(PACKAGED_MANIFEST.read_text())
    good["models"]["msmclr-ntu60-xsub"]["paper_metrics"][0]["vaule"] = 1
    path = tmp_path / "m.json"
    path.write_text(json.dumps(good))
    with pytest.raises(ManifestError, match=r"models\.msmclr-ntu60-xsub\.paper_metrics\.0\.vaule: Extra inputs"):
        load_manifest(path)
    path.write_text('{"format": "skeletonzoo.manifest/1", "models": {}')
    with pytest.raises(ManifestError, match="not valid JSON.*line 1"):
        load_manifest(path)
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="needs the `command`"):
        Metric(name="knn_top1", value=50, protocol="kNN", measured_by="skeletonzoo", dataset="d", split="s")
    # a measured metric without its machine loads (older files) but is not recorded anew
    from skeletonzoo.manifest import _as_metric

    unnamed = Metric(name="knn_top1", value=50, protocol="kNN", measured_by="skeletonzoo", dataset="d", split="s",
                     command="skeletonzoo-eval x")  # fmt: skip
    with pytest.raises(ValueError, match="needs the `machine` it ran on"):
        _as_metric(unnamed)
    assert _as_metric(unnamed.model_copy(update={"machine": "CPU"})).machine == "CPU"
    with pytest.raises(ValueError, match="needs its `source`"):
        Metric(name="knn_top1", value=50, protocol="kNN", measured_by="paper", dataset="d", split="s")
    with pytest.raises(ValueError, match="less than or equal to 100"):
        Metric(name="knn_top1", value=150, protocol="kNN", measured_by="paper", dataset="d", split="s", source="x")
    entry = _entry_dict()
    PublishedWeights.model_validate(entry)
    for field, value, message in (
        ("sha256", "ABC", "should match pattern"),
        ("filename", "w.pt", "should match pattern"),
        ("sources", {}, "at least one source"),
        ("sources", {"huggingface": {"repo_id": "a/b", "filename": "w.safetensors", "revision": "main"}}, "pattern"),
        ("sources", {"urls": ["ftp://x/w"]}, "not an http"),
    ):
        with pytest.raises(ValueError, match=message):
            PublishedWeights.model_validate({**entry, field: value})
    paper = {"name": "linear_top1_best", "value": 1, "protocol": "p", "measured_by": "paper", "dataset": "d",
             "split": "s", "source": "x"}  # fmt: skip
    with pytest.raises(ValueError, match="must be measured_by 'skeletonzoo'"):
        PublishedWeights.model_validate({**entry, "metrics": [paper]})


def _entry_dict() -> dict:
    return {
        "filename": "w.safetensors", "sha256": "a" * 64, "size_bytes": 10,
        "sources": {"bundled": "weights/w.safetensors"}, "licence": "test",
        "training": training("msmclr-nwucla-xview").model_dump(mode="json"),
    }  # fmt: skip


def test_a_missing_draft_manifest_names_the_variable_that_chose_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(tmp_path / "draft.json"))
    with pytest.raises(ManifestError, match=r"draft\.json: .*\(set by \$SKELETONZOO_MANIFEST: a draft starts as a "
                                            r"copy of the packaged weights_manifest\.json"):  # fmt: skip
        list_models()


def test_unknown_names_in_the_manifest_are_an_error(tmp_path, monkeypatch):
    data = json.loads(PACKAGED_MANIFEST.read_text())
    data["models"]["msmclr-ntu60-xsubb"] = {}
    (tmp_path / "m.json").write_text(json.dumps(data))
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(tmp_path / "m.json"))
    with pytest.raises(ManifestError, match="'msmclr-ntu60-xsubb' \\(did you mean 'msmclr-ntu60-xsub'\\?\\)"):
        list_models()
    data["models"].pop("msmclr-ntu60-xsubb")
    data["models"]["msmclr-ntu60-xsub-3s"]["weights"] = [_entry_dict()]
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match="ensemble"):
        model_info("msmclr-ntu60-xsub-3s")


def _copy_manifest(tmp_path: Path) -> Path:
    target = tmp_path / "manifest.json"
    target.write_text(PACKAGED_MANIFEST.read_text())
    return target


def _manifest_without_weights(tmp_path: Path, name: str) -> Path:
    """A copy of the packaged manifest in which ``name`` has published nothing yet."""
    data = json.loads(PACKAGED_MANIFEST.read_text())
    data["models"][name]["weights"] = []
    target = tmp_path / "manifest.json"
    target.write_text(json.dumps(data))
    return target


def test_publish_adds_one_verified_entry(tmp_path, monkeypatch):
    name = "crosscale-sgclr-nwucla-xview"
    ckpt = tmp_path / "run" / "export.safetensors"
    make_checkpoint(ckpt, name, seed=4)
    ckpt.with_suffix(".md").write_text("# model card\n")
    manifest_file = _manifest_without_weights(tmp_path, name)
    link = tmp_path / "root.json"
    link.symlink_to(manifest_file)
    metric = {"name": "linear_top1_last", "value": 61.2, "protocol": "linear probe, last epoch",
              "dataset": "nwucla", "split": "xview", "command": "skeletonzoo-eval linear ...",
              "machine": "Test CPU (AVX512), 1 torch threads"}  # fmt: skip
    entry = publish(
        name,
        ckpt,
        licence="NW-UCLA research-use terms",
        metrics=[metric],
        manifest=link,
        package_dir=tmp_path / "pkg",
        huggingface={"repo_id": "org/zoo", "filename": f"{name}.safetensors", "revision": "b" * 40},
    )
    assert link.is_symlink()  # written through the link
    assert entry.sha256 == hashlib.sha256(ckpt.read_bytes()).hexdigest() and entry.size_bytes == ckpt.stat().st_size
    assert (tmp_path / "pkg" / "weights" / f"{name}.safetensors").read_bytes() == ckpt.read_bytes()
    assert (tmp_path / "pkg" / "weights" / f"{name}.md").read_text() == "# model card\n"
    assert entry.model_card == f"weights/{name}.md" and entry.training == training(name, 4)
    assert entry.metrics[0].measured_by == "skeletonzoo"
    reread = load_manifest(manifest_file)
    assert reread.models[name].weights == (entry,)
    assert reread.models[name].paper_metrics == load_manifest(PACKAGED_MANIFEST).models[name].paper_metrics
    assert reread.to_json() == manifest_file.read_text()
    with pytest.raises(ValueError, match="already published"):
        publish(name, ckpt, licence="x", manifest=manifest_file, package_dir=tmp_path / "pkg")
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(manifest_file))
    assert model_info(name).pretrained and name in list_models("*nwucla*", pretrained=True)


def test_a_second_version_keeps_the_first_file(tmp_path, monkeypatch):
    name = "skeletonclr-nwucla-xview"
    manifest_file = _manifest_without_weights(tmp_path, name)
    pkg = tmp_path / "pkg"
    entries, files = [], []
    for seed in (1, 2):
        ckpt = tmp_path / f"run{seed}" / f"{name}.safetensors"
        make_checkpoint(ckpt, name, seed=seed)
        ckpt.with_suffix(".md").write_text(f"# card {seed}\n- File: `{name}.safetensors`, 1 bytes\n")
        entries.append(publish(name, ckpt, licence="x", manifest=manifest_file, package_dir=pkg))
        files.append(ckpt.read_bytes())
    first, second = entries
    assert first.sources.bundled == f"weights/{name}.safetensors"
    assert second.sources.bundled == f"weights/{name}.{second.sha256[:12]}.safetensors"
    assert second.model_card == f"weights/{name}.{second.sha256[:12]}.md"
    for entry, data, seed in ((first, files[0], 1), (second, files[1], 2)):  # neither overwrote the other
        assert (pkg / entry.sources.bundled).read_bytes() == data
        # each card names the file it is bundled with
        assert (pkg / entry.model_card).read_text() == f"# card {seed}\n- File: `{entry.filename}`, 1 bytes\n"
    assert load_manifest(manifest_file).models[name].weights == (first, second)


def test_publish_refuses_what_is_not_that_model(tmp_path):
    ckpt = tmp_path / "x.safetensors"
    make_checkpoint(ckpt, "msmclr-nwucla-xview")
    manifest_file = _copy_manifest(tmp_path)
    before = manifest_file.read_text()
    with pytest.raises(CheckpointError, match=r"components \['joint'\], expected \['joint', 'scale'\]"):
        publish("crosscale-sgclr-nwucla-xview", ckpt, licence="x", manifest=manifest_file, package_dir=tmp_path)
    with pytest.raises(CheckpointError, match="preprocessing differs"):
        publish("msmclr-ntu60-xsub", ckpt, licence="x", manifest=manifest_file, package_dir=tmp_path)
    with pytest.raises(ValueError, match="ensemble"):
        publish("msmclr-ntu60-xsub-3s", ckpt, licence="x", manifest=manifest_file, package_dir=tmp_path)
    with pytest.raises(UnknownModelError):
        publish("msmclr-ntu61-xsub", ckpt, licence="x", manifest=manifest_file, package_dir=tmp_path)
    other = tmp_path / "skeletonclr.safetensors"  # the same architecture, trained by another method
    make_checkpoint(other, "skeletonclr-nwucla-xview")
    with pytest.raises(CheckpointError, match=r"^\S+ is not a checkpoint of 'msmclr-nwucla-xview': trained with "
                                              r"method 'skeletonclr', expected 'msmclr'$"):  # fmt: skip
        publish("msmclr-nwucla-xview", other, licence="x", manifest=manifest_file, package_dir=tmp_path)
    # arguments that do not fit the schema: one line naming the model and the fields
    with pytest.raises(ManifestError, match=r"^'msmclr-nwucla-xview': the entry does not fit the manifest schema: "
                                            r"recipe: String should have at least 1 character; seed: Field required"):
        publish("msmclr-nwucla-xview", ckpt, licence="x", training={"recipe": ""}, manifest=manifest_file,
                package_dir=tmp_path)  # fmt: skip
    assert manifest_file.read_text() == before and not (tmp_path / "weights").exists()


def test_write_manifest_is_atomic_and_canonical(tmp_path):
    manifest = load_manifest(PACKAGED_MANIFEST)
    path = write_manifest(manifest, tmp_path / "m.json")
    assert path.read_text() == PACKAGED_MANIFEST.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


_INSTALLED_CHECK = """
import json, sys, skeletonzoo
from pathlib import Path
from skeletonzoo.manifest import PACKAGED_MANIFEST, current_manifest
root = Path(sys.argv[1]).resolve()
assert Path(skeletonzoo.__file__).resolve().is_relative_to(root), skeletonzoo.__file__
assert PACKAGED_MANIFEST.resolve().is_relative_to(root) and PACKAGED_MANIFEST.is_file()
names = skeletonzoo.list_models()
assert sorted(current_manifest().models) == names
model = skeletonzoo.load("msmclr-nwucla-xview", pretrained=False)
print(json.dumps({"names": len(names), "features": model.num_features,
                  "metric": skeletonzoo.model_info("msmclr-ntu60-xsub").paper_metrics[0].value}))
"""


@pytest.mark.slow
def test_the_built_wheel_ships_and_reads_the_manifest(tmp_path):
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("building the wheel needs setuptools in this environment")
    # Build from a copy, so the working tree gets no build/ or *.egg-info folders.
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        (source / name).write_bytes((REPO / name).read_bytes())
    import shutil

    shutil.copytree(REPO / "skeletonzoo", source / "skeletonzoo", ignore=shutil.ignore_patterns("__pycache__"))
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    subprocess.run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(wheels)],
                   check=True, env=env, capture_output=True)  # fmt: skip
    (wheel,) = wheels.glob("skeletonzoo-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(z.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert "skeletonzoo/weights_manifest.json" in names
    assert "skeletonzoo = skeletonzoo.cli.main:main" in entry_points
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, env=env,
                   capture_output=True)  # fmt: skip
    run_env = {k: v for k, v in os.environ.items() if k != "SKELETONZOO_MANIFEST"}
    run_env["PYTHONPATH"] = str(target)
    out = subprocess.run([sys.executable, "-c", _INSTALLED_CHECK, str(target)], cwd=tmp_path, env=run_env,
                         check=True, capture_output=True, text=True)  # fmt: skip
    assert json.loads(out.stdout) == {"names": len(list_models()), "features": 256, "metric": 76.8}
    script = str(target / "bin" / "skeletonzoo")
    info = subprocess.run([script, "info", "msmclr-nwucla-xview"], cwd=tmp_path, env=run_env, capture_output=True,
                          text=True)  # fmt: skip
    assert info.returncode == 0, info.stderr
    assert "input layout  nwucla20 (adapted to ntu25)" in info.stdout
    # every bundled file ships, and the README's main job runs from the installed wheel, offline
    bundled = {f"skeletonzoo/{w.sources.bundled}" for r in load_manifest(PACKAGED_MANIFEST).models.values()
               for w in r.weights if w.sources.bundled}  # fmt: skip
    assert bundled <= names
    demo = subprocess.run([script, "demo"], cwd=tmp_path, env={**run_env, "HF_HUB_OFFLINE": "1"},
                          capture_output=True, text=True)  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert "(sha256 verified)" in demo.stdout and re.search(r"\d+/10 predicted correctly", demo.stdout)
    # embed with a freshly trained checkpoint, as a user would before weights are published
    make_checkpoint(tmp_path / "run.safetensors", "msmclr-nwucla-xview", seed=5)
    clips = np.random.default_rng(0).normal(size=(2, 3, 15, 20, 1)).astype(np.float32)
    np.save(tmp_path / "clips.npy", clips)
    args = [
        script,
        "embed",
        str(tmp_path / "run.safetensors"),
        str(tmp_path / "clips.npy"),
        "-o",
        str(tmp_path / "f.npy"),
    ]
    embedded = subprocess.run(args, cwd=tmp_path, env=run_env, capture_output=True, text=True)
    assert embedded.returncode == 0, embedded.stderr
    expected = skeletonzoo.embed(str(tmp_path / "run.safetensors"), clips)
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), expected, atol=1e-5)


def test_publish_a_trainer_export_in_one_call(tmp_path, monkeypatch):
    """skeletonzoo-pretrain's export (weights, model card, manifest entry) publishes as it is."""
    from pretrain_helpers import tiny_recipe

    from skeletonzoo import hub
    from skeletonzoo.data import PreparedSplit, write_prepared
    from skeletonzoo.data.nwucla import NWUCLA_PREPROCESS
    from skeletonzoo.pretrain.recipe import load_recipe
    from skeletonzoo.pretrain.trainer import Trainer

    name = "skeletonclr-nwucla-xview"
    rng = np.random.default_rng(0)
    positions = np.cumsum(rng.normal(size=(8, 3, 8, 25, 1)) * 0.02, axis=2).astype(np.float32)
    split = PreparedSplit(positions, np.arange(8) % 10, [f"c{i}" for i in range(8)])  # one step of 8
    data = tmp_path / "data"
    write_prepared(data, {"train": split, "test": split}, dataset="nwucla", benchmark="xview", layout="ntu25",
                   num_classes=10, preprocessing=NWUCLA_PREPROCESS.to_dict())  # fmt: skip
    fields = {"optimizer.lr_steps": [], "model.encoder": {}, "model.queue_size": 8, "dataset": "nwucla",
              "benchmark": "xview"}
    recipe = load_recipe(
        tiny_recipe(tmp_path / f"{name}.yaml", "skeletonclr", epochs=1, licence="test terms", **fields)
    )
    result = Trainer(recipe, data, tmp_path / "run", progress=False).run()

    from skeletonzoo.evaluate.results import MetricRecord

    metric = MetricRecord(name="knn_top1", value=12.5, protocol="kNN", dataset="nwucla", split="xview",
                          command="skeletonzoo-eval knn", machine="Test CPU (AVX512), 1 torch threads")  # fmt: skip
    manifest_file = _manifest_without_weights(tmp_path, name)
    entry = publish(name, result.weights, metrics=[metric], manifest=manifest_file, package_dir=tmp_path / "pkg")
    exported = json.loads(result.manifest_entry.read_text())
    assert entry.licence == "test terms" and entry.sha256 == exported["sha256"]
    assert entry.metrics[0].model_dump(exclude={"measured_by", "source"}) == metric.model_dump()
    assert entry.training == TrainingProvenance.model_validate(exported["training"])
    assert entry.model_card == f"weights/{name}.md"

    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(manifest_file))
    monkeypatch.setattr(hub, "BUNDLED_ROOT", tmp_path / "pkg")
    model = skeletonzoo.load(name)
    trained = load_checkpoint(result.weights).encoders["joint"]
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key

    # metrics measured afterwards (on the published name) replace the entry's, and the card shows them
    from skeletonzoo.manifest import record_metrics

    later = MetricRecord(name="linear_top1_last", value=42.25, protocol="linear", dataset="nwucla", split="xview",
                         command=f"skeletonzoo-eval {name} --data DIR",
                         machine="Test CPU (AVX512), 1 torch threads")  # fmt: skip
    updated = record_metrics(name, [later], manifest=manifest_file, package_dir=tmp_path / "pkg")
    assert [m.name for m in updated.metrics] == ["linear_top1_last"]
    recorded = load_manifest(manifest_file).record(name).weights[-1].metrics[0]
    assert recorded.value == 42.25 and recorded.machine == "Test CPU (AVX512), 1 torch threads"
    card = (tmp_path / "pkg" / entry.model_card).read_text()
    assert "| linear_top1_last | 42.25 |" in card
    # the command with the machine it ran on (the trained probes reproduce only on the same kind)
    assert f"- `skeletonzoo-eval {name} --data DIR` (on Test CPU (AVX512), 1 torch threads)" in card
    assert card.count("## Evaluation") == 1 and card.startswith(f"# {name}")
    with pytest.raises(ValueError, match="no published weights with sha256"):
        record_metrics(name, [later], sha256="f" * 64, manifest=manifest_file, package_dir=tmp_path / "pkg")

    # an entry that describes another file is refused, in the schema's field names or an older export's
    exported["size_bytes"] += 1
    result.manifest_entry.write_text(json.dumps(exported))
    with pytest.raises(CheckpointError, match=r"describes another file \(sha256 \w+, \d+ bytes\)"):
        publish(name, result.weights, manifest=_copy_manifest(tmp_path), package_dir=tmp_path / "pkg2")
    older = {("size" if k == "size_bytes" else k): v for k, v in exported.items()}
    older["size"] -= 1
    older["sha256"] = "0" * 64
    result.manifest_entry.write_text(json.dumps(older))
    with pytest.raises(CheckpointError, match="describes another file"):
        publish(name, result.weights, manifest=_copy_manifest(tmp_path), package_dir=tmp_path / "pkg2")


TRAINING_LOGS = REPO / "docs" / "training-logs"


def test_kept_training_logs_belong_to_published_weights_and_their_recipe():
    """docs/training-logs: each NAME.SHA12.recipe.json is the recipe of published weights of NAME
    and, for the newest weights, what the bundled recipe resolves to now; its log covers every
    epoch of that recipe."""
    import gzip

    from skeletonzoo.pretrain.recipe import load_recipe

    manifest = load_manifest(PACKAGED_MANIFEST)
    recipes = sorted(TRAINING_LOGS.glob("*.recipe.json"))
    assert recipes, f"no kept recipes in {TRAINING_LOGS}"
    for path in recipes:
        name, sha12 = path.name.removesuffix(".recipe.json").rsplit(".", 1)
        versions = {w.sha256[:12]: w for w in manifest.models[name].weights}
        assert sha12 in versions, f"{path.name}: no published {name} weights {sha12}"
        kept = json.loads(path.read_text())
        assert versions[sha12].training.recipe == kept["name"] == name
        assert versions[sha12].training.seed == kept["seed"]
        if manifest.models[name].latest.sha256[:12] == sha12:
            resolved = json.loads(load_recipe(name).model_dump_json())
            assert resolved == kept, f"{name}'s recipe no longer resolves to {path.name}"
        with gzip.open(path.with_name(f"{name}.{sha12}.metrics.jsonl.gz"), "rt") as f:
            epochs = [r["epoch"] for r in map(json.loads, f) if r["event"] == "epoch"]
        assert epochs == list(range(1, kept["epochs"] + 1))


def test_measured_metrics_name_the_weights_and_thread_count_they_were_measured_with():
    """Each skeletonzoo-measured metric's command re-measures it: a zoo name carries ``--revision``
    naming exactly those weights (by name alone it would load the newest) and ``--threads``
    (the trained probes' results depend on the thread count; docs/evaluation.md)."""
    import shlex

    manifest = load_manifest(PACKAGED_MANIFEST)
    checked = 0
    for name, record in manifest.models.items():
        for weights in record.weights:
            for metric in weights.metrics:
                words = shlex.split(metric.command)
                assert words[:2] == ["skeletonzoo-eval", name], f"{name} {metric.name}: {metric.command}"
                revision = words[words.index("--revision") + 1] if "--revision" in words else None
                assert revision is not None and weights.matches_revision(revision), (
                    f"{name} {weights.sha256[:12]} {metric.name}: {metric.command!r} does not name these weights"
                )
                assert "--threads" in words and int(words[words.index("--threads") + 1]) >= 1, metric.command
                checked += 1
    assert checked >= 14 * 10  # every published NW-UCLA entry carries its 14 measured metrics


def test_bundled_files_are_the_published_bytes():
    """Hash the files the package ships (not only the pins): every bundled weights file has the
    size and sha256 its manifest entry states."""
    from skeletonzoo import hub

    checked = 0
    for name, record in load_manifest(PACKAGED_MANIFEST).models.items():
        for w in record.weights:
            if w.sources.bundled:
                path = hub.BUNDLED_ROOT / w.sources.bundled
                assert path.stat().st_size == w.size_bytes, name
                assert hashlib.sha256(path.read_bytes()).hexdigest() == w.sha256, name
                checked += 1
    assert checked >= 10  # the published NW-UCLA entries
