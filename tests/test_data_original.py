"""The original pipeline's files: safe label pickles, memory-mapped arrays, `prepare original`."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from skeletonzoo.cli.main import main
from skeletonzoo.data import Preprocess, open_prepared
from skeletonzoo.data.original import open_original, read_label_pkl
from skeletonzoo.exceptions import DataFormatError


class _Evil:
    def __reduce__(self):  # noqa: ANN204
        return (os.system, ("echo pwned > /dev/null",))


class _Custom:
    pass


@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize(
    "labels",
    [
        [0, 5, 59],
        [np.int64(0), np.int64(5), np.int64(59)],
        np.array([0, 5, 59]),
        [np.float64(0.0), np.float64(5.0), np.float64(59.0)],  # label[idx][0] - 1 on a float array
    ],
)
def test_label_pickles_of_the_original_code(tmp_path, protocol, labels):
    names = ["S001C001P001R001A001.skeleton", "S001C001P001R001A006.skeleton", "S001C001P001R001A060.skeleton"]
    path = tmp_path / "train_label.pkl"
    with open(path, "wb") as f:
        pickle.dump((names, labels), f, protocol=protocol)
    got_names, got_labels = read_label_pkl(path)
    assert got_names == names
    assert got_labels.dtype == np.int64 and got_labels.tolist() == [0, 5, 59]


@pytest.mark.parametrize("payload", [_Evil(), _Custom(), {"names": torch.zeros(2)}])
def test_anything_but_plain_data_is_refused(tmp_path, payload):
    path = tmp_path / "x_label.pkl"
    path.write_bytes(pickle.dumps((["a"], [payload])))
    with pytest.raises(DataFormatError, match="refusing to unpickle"):
        read_label_pkl(path)


def test_malformed_label_files(tmp_path):
    cases = {
        "a.pkl": pickle.dumps(["only one thing"]),
        "b.pkl": pickle.dumps((["a", "b"], [1])),
        "c.pkl": pickle.dumps((["a"], [1.5])),
        "d.pkl": pickle.dumps(([1], [1])),
        "e.pkl": b"\x80\x04not a pickle",
        "f.pkl": pickle.dumps((["a"], [-1])),
    }
    messages = ["expected the tuple", "2 names but labels", "integers", "strings", "not a readable", "negative"]
    for (name, blob), message in zip(cases.items(), messages):
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(DataFormatError, match=message):
            read_label_pkl(tmp_path / name)


def _write_original(root, kind: str, rng: np.random.Generator) -> dict[str, tuple[np.ndarray, list[str], list[int]]]:
    root.mkdir(parents=True, exist_ok=True)
    parts = {}
    for part, n in (("train", 5), ("val", 3)):
        t = 50 if kind == "position" else 300
        x = np.zeros((n, 3, t, 25, 2), dtype=np.float32)
        for i in range(n):
            length = int(rng.integers(1, t + 1))
            x[i, :, :length] = rng.normal(size=(3, length, 25, 2)) + 2.0
        names = [f"S001C001P00{i}R001A00{i + 1}.skeleton" for i in range(n)]
        labels = list(range(n))
        np.save(root / f"{part}_{kind}.npy", x)
        with open(root / f"{part}_label.pkl", "wb") as f:
            pickle.dump((names, labels), f)
        parts[part] = (x, names, labels)
    return parts


def test_open_original_memory_maps(tmp_path):
    parts = _write_original(tmp_path, "position", np.random.default_rng(0))
    part = open_original(tmp_path, "test")
    assert isinstance(part.positions, np.memmap) and part.normalised
    np.testing.assert_array_equal(part.positions, parts["val"][0])
    assert part.names == parts["val"][1] and part.labels.tolist() == parts["val"][2]
    with pytest.raises(FileNotFoundError, match="train_position.npy"):
        open_original(tmp_path / "nowhere", "train")


@pytest.mark.parametrize("kind", ["position", "data"])
def test_cli_prepare_original(tmp_path, kind):
    parts = _write_original(tmp_path / "orig", kind, np.random.default_rng(1))
    out = tmp_path / "out"
    args = ["prepare", "original", "--raw", str(tmp_path / "orig"), "--out", str(out), "--as", "ntu60"]
    assert main([*args, "--benchmark", "xsub"]) == 0
    for split, part in (("train", "train"), ("test", "val")):
        data = open_prepared(out, split)
        x = parts[part][0]
        expected = x if kind == "position" else Preprocess()(torch.from_numpy(x)).numpy()
        np.testing.assert_array_equal(data.positions, expected)
        assert data.names == parts[part][1] and data.labels.tolist() == parts[part][2]
        assert data.meta.dataset == "ntu60" and data.meta.num_classes == 60


def test_prepare_original_refuses_what_the_original_pipeline_did_not_write(tmp_path, capsys):
    """The meta.json would claim the NTU layout, the pipeline's T and M and the dataset's classes:
    arrays or options that contradict it are refused before anything is written."""
    rng = np.random.default_rng(3)
    _write_original(tmp_path / "orig", "position", rng)
    args = ["prepare", "original", "--raw", str(tmp_path / "orig"), "--out", str(tmp_path / "out")]

    def refused(*extra: str) -> str:
        assert main([*args, *extra]) == 2
        assert not (tmp_path / "out" / "meta.json").exists()
        return capsys.readouterr().err

    assert "--as ntu60 has benchmarks xsub, xview, not 'xset'" in refused("--as", "ntu60", "--benchmark", "xset")
    assert "--as pkummd1 has benchmarks xsub, xview, not 'xset'" in refused("--as", "pkummd1", "--benchmark", "xset")
    pku = ["prepare", "original", "--raw", str(tmp_path / "orig"), "--out", str(tmp_path / "pku")]
    assert main([*pku, "--as", "pkummd1", "--benchmark", "xview"]) == 0  # PKU-MMD's other benchmark, as prepare writes
    capsys.readouterr()
    assert "--as ntu60 has 60 classes; drop --num-classes 5" in refused(
        "--as", "ntu60", "--benchmark", "xsub", "--num-classes", "5")  # fmt: skip
    assert "labels span 0..4, but 3 classes take 0..2" in refused(
        "--as", "mine", "--benchmark", "b", "--num-classes", "3")  # fmt: skip
    assert "'mine' is not a zoo dataset: give its number of classes (--num-classes)" in refused(
        "--as", "mine", "--benchmark", "b")  # fmt: skip
    # the library checks the same (the CLI only passes the options on)
    from skeletonzoo.data.prepare import prepare_original

    with pytest.raises(ValueError, match="--as ntu120 has benchmarks xsub, xset, not 'xview'"):
        prepare_original(tmp_path / "orig", tmp_path / "out", dataset="ntu120", benchmark="xview")
    with pytest.raises(ValueError, match="--as pkummd2 has 51 classes; drop --num-classes 50"):
        prepare_original(tmp_path / "orig", tmp_path / "out", dataset="pkummd2", benchmark="xsub", num_classes=50)
    assert not (tmp_path / "out" / "meta.json").exists()
    not_ntu = ((2, 3, 50, 20, 1), "the original pipeline's arrays are (N, 3, T, 25, M)")
    other_length = ((2, 3, 64, 25, 2), "T=64, M=2; the original pipeline's *_position.npy has T=50, M=2")
    for shape, message in (not_ntu, other_length):
        for part in ("train", "val"):
            np.save(tmp_path / "orig" / f"{part}_position.npy", np.ones(shape, np.float32))
            with open(tmp_path / "orig" / f"{part}_label.pkl", "wb") as f:
                pickle.dump(([f"s{i}" for i in range(2)], [0, 1]), f)
        assert message in refused("--as", "ntu60", "--benchmark", "xsub")
