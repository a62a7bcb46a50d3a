"""`skeletonzoo list | info | embed | cache`: what a user sees, errors as one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from zoo_helpers import make_checkpoint, published, write_manifest_with, write_unpublished_manifest

import skeletonzoo
from skeletonzoo import hub
from skeletonzoo.cli.main import main
from skeletonzoo.data.nwucla import NWUCLA_PREPROCESS

NAME = "msmclr-nwucla-xview"


@pytest.fixture
def unpublished(tmp_path, monkeypatch):
    write_unpublished_manifest(tmp_path / "manifest.json")
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(tmp_path / "manifest.json"))


def test_list(capsys, unpublished):
    assert main(["list", "msmclr-ntu60-xsub*"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NAME", "STREAM", "FEATURES", "WEIGHTS", "PAPER", "TOP-1"]
    assert out[1].split() == ["msmclr-ntu60-xsub", "joint", "256", "-", "76.8"]
    assert out[2].split() == ["msmclr-ntu60-xsub-3s", "3s", "768", "-", "80.3"]
    assert out[-1].startswith("4 models, 0 with published weights")
    assert main(["list", "--pretrained"]) == 1
    assert "no model with published weights" in capsys.readouterr().out
    assert main(["list", "*nwucla*", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in entries] == skeletonzoo.list_models("*nwucla*")
    assert entries[0]["preprocess"]["input_layout"] == "nwucla20"


def test_info(capsys, unpublished, tmp_path, monkeypatch):
    from skeletonzoo import registry

    monkeypatch.setattr(registry, "RECIPES_DIR", tmp_path)
    assert main(["info", "crosscale-sgclr-ntu60-xview"]) == 0
    out = capsys.readouterr().out
    assert "encoder       scale: ST-GCN layout=coarse10" in out
    assert "metric        linear_top1_best = 75.2 (ntu60 xview; measured by paper:" in out
    assert "recipe        crosscale-sgclr-ntu60-xview (not written yet)" in out
    assert "weights       not published yet\n" in out
    (tmp_path / "crosscale-sgclr-ntu60-xview.yaml").write_text("method: crosscale-sgclr\n")
    assert main(["info", "crosscale-sgclr-ntu60-xview"]) == 0
    out = capsys.readouterr().out
    assert "weights       not published yet (train: skeletonzoo-pretrain crosscale-sgclr-ntu60-xview --data DIR)" in out
    assert main(["info", NAME, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recipe"] == NAME


def test_errors_are_one_line(capsys):
    assert main(["info", "msmclr-ntu60-xsubb"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("skeletonzoo info: error: unknown model 'msmclr-ntu60-xsubb'; did you mean")
        and err.count("\n") == 1
    )


@pytest.fixture
def published_model(tmp_path, monkeypatch):
    """NAME published as bundled weights of a temporary package folder."""
    ckpt = tmp_path / "w.safetensors"
    encoders = make_checkpoint(ckpt, NAME, seed=3)
    data = ckpt.read_bytes()
    bundled = tmp_path / "package" / "weights" / f"{NAME}.safetensors"
    bundled.parent.mkdir(parents=True)
    bundled.write_bytes(data)
    monkeypatch.setattr(hub, "BUNDLED_ROOT", tmp_path / "package")
    monkeypatch.setenv("SKELETONZOO_MANIFEST", str(tmp_path / "manifest.json"))
    monkeypatch.setenv("SKELETONZOO_CACHE", str(tmp_path / "cache"))
    write_manifest_with(tmp_path / "manifest.json", {NAME: published(NAME, data, bundled=True)})
    return encoders, data


def test_embed_npy_and_npz(tmp_path, capsys, published_model):
    clips = np.random.default_rng(0).normal(size=(3, 3, 20, 20, 1)).astype(np.float32)
    np.save(tmp_path / "clips.npy", clips)
    assert main(["embed", NAME, str(tmp_path / "clips.npy"), "-o", str(tmp_path / "f.npy")]) == 0
    assert f"wrote {tmp_path / 'f.npy'}: 3 x 256 float32 features from {NAME}" in capsys.readouterr().out
    expected = skeletonzoo.embed(skeletonzoo.load(NAME), clips)
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), expected, atol=1e-6)
    # and the plain path, without embed(): the checkpoint's encoder on NW-UCLA's normalisation
    encoders, _ = published_model
    with torch.no_grad():
        x = NWUCLA_PREPROCESS(torch.from_numpy(clips))
        plain = encoders["joint"].pool(encoders["joint"].forward_maps(x), 1).numpy()
    np.testing.assert_allclose(np.load(tmp_path / "f.npy"), plain, atol=2e-5)
    # several clips of different lengths in one .npz
    np.savez(tmp_path / "clips.npz", clips[0][:, :12], clips[1], clips[2][:, :7])
    assert main(["embed", NAME, str(tmp_path / "clips.npz"), "-o", str(tmp_path / "g.npy")]) == 0
    ragged = skeletonzoo.embed(NAME, [clips[0][:, :12], clips[1], clips[2][:, :7]])
    np.testing.assert_allclose(np.load(tmp_path / "g.npy"), ragged, atol=1e-6)
    np.savez(tmp_path / "named.npz", positions=clips, labels=np.arange(3))
    assert main(["embed", NAME, str(tmp_path / "named.npz"), "--key", "positions", "-o", str(tmp_path / "h.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "h.npy"), expected, atol=1e-6)
    capsys.readouterr()
    assert main(["embed", NAME, str(tmp_path / "named.npz"), "-o", str(tmp_path / "i.npy")]) == 2
    assert (
        "holds several arrays (positions (3, 3, 20, 20, 1), labels (3,)); choose one with --key"
        in capsys.readouterr().err
    )
    assert main(["embed", NAME, str(tmp_path / "clips.npy"), "--layout", "coco17", "-o", str(tmp_path / "j.npy")]) == 2
    assert "V=20 joints but layout='coco17' has V=17" in capsys.readouterr().err
    assert not (tmp_path / "i.npy").exists() and not (tmp_path / "j.npy").exists()
    # a prepared dataset folder: the message names a split's positions and --no-preprocess
    from skeletonzoo.data import PreparedSplit, write_prepared

    write_prepared(tmp_path / "prepared", {"train": PreparedSplit(clips, np.arange(3), ["a", "b", "c"])},
                   dataset="toy", benchmark="x", layout="ntu25", num_classes=3)  # fmt: skip
    assert main(["embed", NAME, str(tmp_path / "prepared"), "-o", str(tmp_path / "k.npy")]) == 2
    split = tmp_path / "prepared" / "train_position.npy"
    assert (f"is a prepared dataset folder, not a file; embed one of its splits' positions, which are normalised "
            f"already: {split} --no-preprocess") in capsys.readouterr().err  # fmt: skip


def test_embed_warnings_print_as_one_line(tmp_path, capsys, published_model):
    """Input that looks off (millimetres, an all-zero clip) warns in one `skeletonzoo embed: warning:`
    line each, not Python's file:line and source echo; the features are still written."""
    clips = np.random.default_rng(0).normal(size=(2, 3, 20, 20, 1)).astype(np.float32) * 2000
    clips[1] = 0
    np.save(tmp_path / "mm.npy", clips)
    assert main(["embed", NAME, str(tmp_path / "mm.npy"), "-o", str(tmp_path / "f.npy")]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 2, err
    assert err[0].startswith("skeletonzoo embed: warning: sample 1 is all zeros (padding only)")
    assert err[1].startswith("skeletonzoo embed: warning: coordinates reach ")
    assert err[1].endswith("if these are millimetres, divide by 1000 first")
    assert np.load(tmp_path / "f.npy").shape == (2, 256)


def test_embed_never_replaces_a_file_unasked(tmp_path, capsys, published_model):
    clips = np.random.default_rng(0).normal(size=(2, 3, 20, 20, 1)).astype(np.float32)
    np.save(tmp_path / "clips.npy", clips)
    args = ["embed", NAME, str(tmp_path / "clips.npy")]
    assert main([*args, "-o", str(tmp_path / "clips.npy"), "--overwrite"]) == 2
    assert "is the input file" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "clips.npy"), clips)
    (tmp_path / "f.npy").write_bytes(b"earlier results")
    assert main([*args, "-o", str(tmp_path / "f.npy")]) == 2
    assert "already exists; pass --overwrite" in capsys.readouterr().err
    assert (tmp_path / "f.npy").read_bytes() == b"earlier results"
    assert main([*args, "-o", str(tmp_path / "f.npy"), "--overwrite"]) == 0
    assert np.load(tmp_path / "f.npy").shape == (2, 256)
    (tmp_path / "a_file").write_text("")
    assert main([*args, "-o", str(tmp_path / "a_file" / "f.npy")]) == 2
    assert "cannot create the folder of the output" in capsys.readouterr().err


def test_embed_unpublished_model_is_an_actionable_error(tmp_path, capsys, unpublished):
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 5, 25, 2), np.float32))
    assert main(["embed", "aimclr-ntu60-xsub", str(tmp_path / "x.npy"), "-o", str(tmp_path / "f.npy")]) == 2
    err = capsys.readouterr().err
    assert "weights are not published yet" in err and "skeletonzoo convert FILE.pt --method aimclr" in err
    assert "Traceback" not in err


def test_cache_ls_verify_clear(tmp_path, capsys, monkeypatch, published_model):
    _, data = published_model
    entry = published(NAME, data, urls=("http://127.0.0.1:9/w.safetensors",))
    write_manifest_with(tmp_path / "manifest.json", {NAME: entry})
    cached = tmp_path / "cache" / "mirrors" / entry.sha256 / entry.filename
    cached.parent.mkdir(parents=True)
    cached.write_bytes(data)
    assert main(["cache", "ls"]) == 0
    out = capsys.readouterr().out
    assert f"cache: {tmp_path / 'cache'}" in out and f"{NAME}  3.2 MB  mirror  {cached}" in out
    assert main(["cache", "verify"]) == 0
    assert "  ok  " in capsys.readouterr().out
    cached.write_bytes(data[:-1] + b"!")
    assert main(["cache", "verify"]) == 1
    out = capsys.readouterr().out
    assert "BAD" in out and "sha256" in out and cached.exists()
    assert main(["cache", "verify", "--remove-bad"]) == 1 and not cached.exists()
    cached.write_bytes(data)
    assert main(["cache", "clear"]) == 0
    assert "3.2 MB freed" in capsys.readouterr().out and not cached.exists()


def test_info_names_the_machine_of_measured_metrics(capsys):
    """Published metrics say where they were measured (the trained probes reproduce exactly only
    on the same kind of CPU and thread count): the bundled manifest's records carry it."""
    assert main(["info", NAME]) == 0
    out = capsys.readouterr().out
    from skeletonzoo.registry import model_info

    metric = next(m for m in model_info(NAME).metrics if m.measured_by == "skeletonzoo")
    assert metric.machine  # every published NW-UCLA record was re-measured and names its machine
    assert f"measured by skeletonzoo on {metric.machine}: " in out


def test_list_suggests_a_wider_pattern(capsys):
    assert main(["list", "msmclr"]) == 1
    assert "the pattern is matched whole: try `skeletonzoo list '*msmclr*'`" in capsys.readouterr().out
    assert main(["list", "zzz"]) == 1
    assert "no model matches 'zzz'" in capsys.readouterr().out


def test_info_reads_a_checkpoint_file(tmp_path, capsys, published_model):
    _, data = published_model
    path = tmp_path / "copy.safetensors"
    path.write_bytes(data)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"(the published {NAME} weights)" in out and "encoder       joint: ST-GCN layout=" in out
    other = tmp_path / "other.safetensors"
    make_checkpoint(other, NAME, seed=5)
    assert main(["info", str(other)]) == 0
    assert "(not a published file)" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "missing.safetensors")]) == 2
    assert "no checkpoint file at" in capsys.readouterr().err
    # a file that records no preprocessing (a converted original checkpoint): info says what load applies
    from skeletonzoo.checkpoint import load_checkpoint, save_checkpoint

    bare = tmp_path / "converted.safetensors"
    save_checkpoint(bare, {"joint": load_checkpoint(other).encoders["joint"]})
    assert main(["info", str(bare)]) == 0
    assert "none recorded: load/embed apply the original pipeline's (Preprocess defaults)" in capsys.readouterr().out
    assert skeletonzoo.load(bare).preprocess == skeletonzoo.data.Preprocess()
