"""NW-UCLA: the npz and JSON-folder readers, `prepare nwucla`, embedding through the adapter."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch
from conftest import shared_file

from skeletonzoo.cli.main import main
from skeletonzoo.data import Preprocess, open_prepared
from skeletonzoo.data.adapters import adapt_layout
from skeletonzoo.data.nwucla import (
    NWUCLA_PREPROCESS,
    NWUCLAClips,
    pad_clips,
    prepare_nwucla,
    read_nwucla_json_dir,
    read_nwucla_npz,
)
from skeletonzoo.data.prepared import read_prepared_meta
from skeletonzoo.data.synthetic import synthetic_body
from skeletonzoo.exceptions import DataFormatError
from skeletonzoo.features import extract_features
from skeletonzoo.models import SkeletonEncoder

# README "Classes" table: (train, test) clips per label
_PER_CLASS = [(102, 48), (102, 50), (96, 45), (124, 49), (101, 47), (102, 47), (99, 43), (99, 43), (98, 47), (97, 45)]


@pytest.fixture(scope="module")
def npz_path():
    return shared_file("data/nwucla/nwucla.npz")


@pytest.fixture(scope="module")
def clips(npz_path):
    return read_nwucla_npz(npz_path)


def _synthetic_clips(n: int = 6) -> NWUCLAClips:
    rng = np.random.default_rng(0)
    ntu_to_ucla = [0, 1, 20, 3, *range(4, 20)]
    seqs = [synthetic_body(rng, t)[:, ntu_to_ucla].astype(np.float32) for t in [1, 5, 30, 12, 40, 2][:n]]
    names = [f"a0{k % 3 + 1}_s0{k + 1}_e00_v0{k % 3 + 1}" for k in range(n)]
    return NWUCLAClips(seqs, np.arange(n) % 10, names, np.array([k % 3 + 1 for k in range(n)]), np.arange(1, n + 1))


def test_npz_reader_matches_the_readme(clips):
    assert len(clips) == 1484
    train, test = clips.split_indices("train"), clips.split_indices("test")
    assert (len(train), len(test)) == (1020, 464)
    per_class = [(int((clips.labels[train] == k).sum()), int((clips.labels[test] == k).sum())) for k in range(10)]
    assert per_class == _PER_CLASS
    lengths = {n: len(s) for n, s in zip(clips.names, clips.sequences)}
    assert lengths["a02_s09_e04_v02"] == 1 and max(lengths.values()) == 201
    assert sum(lengths.values()) == 58534
    assert clips.clip(0).shape == (3, len(clips.sequences[0]), 20, 1)


def test_json_folder_reader_equals_the_npz(clips, tmp_path):
    picks = [0, 1, 700, 1483]
    for i in picks:
        name, label = clips.names[i], int(clips.labels[i]) + 1
        record = {"file_name": name, "skeletons": clips.sequences[i].tolist(), "label": label}
        (tmp_path / f"{clips.names[i]}.json").write_text(json.dumps(record))
    folder = read_nwucla_json_dir(tmp_path)
    order = sorted(picks, key=lambda i: clips.names[i])
    assert folder.names == [clips.names[i] for i in order]
    assert folder.labels.tolist() == [int(clips.labels[i]) for i in order]
    for seq, i in zip(folder.sequences, order):
        np.testing.assert_array_equal(seq, clips.sequences[i])
    assert folder.view.tolist() == [int(clips.view[i]) for i in order]


def test_json_folder_errors_name_the_file(tmp_path):
    with pytest.raises(DataFormatError, match="no \\*.json"):
        read_nwucla_json_dir(tmp_path)
    (tmp_path / "a01_s01_e00_v01.json").write_text('{"file_name": "a01_s01_e00_v01", "skeletons": [[[0, 0')
    with pytest.raises(DataFormatError, match="a01_s01_e00_v01.json: malformed"):
        read_nwucla_json_dir(tmp_path)
    (tmp_path / "a01_s01_e00_v01.json").write_text(json.dumps({"skeletons": [[[0, 0, 0]] * 19], "label": 1}))
    with pytest.raises(DataFormatError, match="expected \\(T >= 1, 20, 3\\)"):
        read_nwucla_json_dir(tmp_path)
    (tmp_path / "a01_s01_e00_v01.json").write_text(json.dumps({"skeletons": [[[0, 0, 0]] * 20], "label": 11}))
    with pytest.raises(DataFormatError, match="label 11 outside"):
        read_nwucla_json_dir(tmp_path)


def test_prepare_nwucla_uses_each_clips_real_length():
    clips = _synthetic_clips()
    out = prepare_nwucla(clips)
    for split in ("train", "test"):
        for row, i in enumerate(clips.split_indices(split)):
            x = torch.from_numpy(clips.clip(int(i)))[None]
            expected = NWUCLA_PREPROCESS(x, lengths=torch.tensor([x.shape[2]]), input_layout="nwucla20")
            np.testing.assert_array_equal(out[split].positions[row], expected[0].numpy())
    assert out["train"].positions.shape[1:] == (3, 50, 25, 1)


def test_cli_prepare_nwucla_equals_prepare_nwucla(npz_path, clips, tmp_path, capsys):
    out = tmp_path / "nwucla"
    assert main(["prepare", "nwucla", "--raw", str(npz_path), "--out", str(out)]) == 0
    out_text, err = capsys.readouterr()
    assert "train 1,020" in out_text
    # this release's view-3 clips of a02 and a03 are byte-identical copies of their view-2 takes
    assert "warning: " in err and "95 of the 464 'test' samples are exact copies of 'train' samples" in err
    copies = read_prepared_meta(out).source["copies_of_train"]["test"]
    index = {name: i for i, name in enumerate(clips.names)}
    assert len(copies) == 95 and {name[:3] for name in copies} == {"a02", "a03"}
    for test_name, train_name in copies.items():
        assert train_name == test_name.replace("_v03", "_v02")
        np.testing.assert_array_equal(clips.clip(index[test_name]), clips.clip(index[train_name]))
    expected = prepare_nwucla(read_nwucla_npz(npz_path))
    for split in ("train", "test"):
        data = open_prepared(out, split)
        np.testing.assert_array_equal(data.positions, expected[split].positions)
        np.testing.assert_array_equal(data.labels, expected[split].labels)
        assert data.names == expected[split].names
        meta = data.meta
    assert (meta.dataset, meta.benchmark, meta.layout, meta.num_classes) == ("nwucla", "xview", "ntu25", 10)
    assert meta.class_names[3] == "walk around"
    assert Preprocess.from_dict(meta.preprocessing) == NWUCLA_PREPROCESS
    assert meta.source["sha256"] == hashlib.sha256(npz_path.read_bytes()).hexdigest()
    before = (out / "meta.json").stat().st_mtime_ns
    assert main(["prepare", "nwucla", "--raw", str(npz_path), "--out", str(out)]) == 0  # same input: nothing to do
    assert (out / "meta.json").stat().st_mtime_ns == before
    (out / "test_label.npy").write_bytes((out / "test_label.npy").read_bytes()[:-8] + bytes(8))  # damaged since
    assert main(["prepare", "nwucla", "--raw", str(npz_path), "--out", str(out)]) == 2
    assert main(["prepare", "nwucla", "--raw", str(npz_path), "--out", str(out), "--overwrite"]) == 0


def test_cli_prepare_nwucla_from_a_json_folder(tmp_path):
    clips = _synthetic_clips()
    raw = tmp_path / "all_sqe"
    raw.mkdir()
    for name, seq, label in zip(clips.names, clips.sequences, clips.labels):
        record = {"file_name": name, "skeletons": seq.tolist(), "label": int(label) + 1}
        (raw / f"{name}.json").write_text(json.dumps(record))
    assert main(["prepare", "nwucla", "--raw", str(raw), "--out", str(tmp_path / "out")]) == 0
    expected = prepare_nwucla(read_nwucla_json_dir(raw))
    data = open_prepared(tmp_path / "out", "test")
    np.testing.assert_array_equal(data.positions, expected["test"].positions)
    assert data.meta.source["kind"] == "json-folder" and len(data.meta.source["sha256"]) == 64
    (raw / f"{clips.names[0]}.json").unlink()  # other input into the same output: refused
    assert main(["prepare", "nwucla", "--raw", str(raw), "--out", str(tmp_path / "out")]) == 2
    assert main(["prepare", "nwucla", "--raw", str(raw), "--out", str(tmp_path / "out"), "--overwrite"]) == 0
    assert len(open_prepared(tmp_path / "out", "train")) + len(open_prepared(tmp_path / "out", "test")) == 5
    # a folder with someone's own arrays and no meta.json: kept unless --overwrite
    own = tmp_path / "own"
    own.mkdir()
    np.save(own / "train_position.npy", np.arange(3.0))
    assert main(["prepare", "nwucla", "--raw", str(raw), "--out", str(own)]) == 2
    np.testing.assert_array_equal(np.load(own / "train_position.npy"), np.arange(3.0))
    assert main(["prepare", "nwucla", "--raw", str(raw), "--out", str(own), "--overwrite"]) == 0


def test_an_ntu_layout_model_embeds_nwucla_clips_through_the_adapter():
    clips = _synthetic_clips()
    batch, lengths = pad_clips([clips.clip(i) for i in range(len(clips))])  # (N, 3, T, 20, 1)
    torch.manual_seed(0)
    encoder = SkeletonEncoder(layout="ntu25").eval()
    pre = Preprocess(layout="ntu25", input_layout="nwucla20", num_persons=1)
    x = pre(batch, lengths=lengths)
    assert x.shape == (len(clips), 3, 50, 25, 1)
    feats = extract_features(encoder, x, stream="bone", layout="ntu25")
    assert feats.shape == (len(clips), encoder.num_features) and np.isfinite(feats).all()
    manual = Preprocess(layout="ntu25", num_persons=1)(adapt_layout(batch, "nwucla20", "ntu25"), lengths=lengths)
    np.testing.assert_array_equal(feats, extract_features(encoder, manual, stream="bone"))
    assert np.abs(feats[0] - feats[2]).max() > 1e-6  # different clips, different features
