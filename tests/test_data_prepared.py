"""The prepared-directory format: round trip, memory mapping, fingerprints, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skeletonzoo.data import PreparedSplit, open_prepared, write_prepared
from skeletonzoo.exceptions import DataFormatError


def _splits(rng: np.random.Generator) -> dict[str, PreparedSplit]:
    return {
        "train": PreparedSplit(rng.normal(size=(5, 3, 4, 25, 2)).astype(np.float32), np.arange(5) % 3,
                               [f"tr{i}" for i in range(5)]),
        "test": PreparedSplit(rng.normal(size=(2, 3, 4, 25, 2)).astype(np.float32), np.array([2, 0]),
                              ["te0", "te1"]),
    }  # fmt: skip


def test_round_trip_memory_mapped(tmp_path):
    splits = _splits(np.random.default_rng(0))
    write_prepared(tmp_path, splits, dataset="toy", benchmark="xsub", layout="ntu25", num_classes=3)
    for name, split in splits.items():
        data = open_prepared(tmp_path, name)
        assert isinstance(data.positions, np.memmap)
        np.testing.assert_array_equal(data.positions, split.positions)
        np.testing.assert_array_equal(data.labels, split.labels)
        assert data.names == split.names and len(data) == len(split.names)
        x, y = data.dataset()[1]
        np.testing.assert_array_equal(x.numpy(), split.positions[1])
        assert y == int(split.labels[1])
        data.verify()
    fingerprints = {open_prepared(tmp_path, s).fingerprint() for s in splits}
    assert len(fingerprints) == 2


def test_fingerprint_follows_content(tmp_path):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a", tmp_path / "b"
    splits = _splits(rng)
    write_prepared(a, splits, dataset="toy", benchmark="xsub", layout="ntu25", num_classes=3)
    splits["train"].positions[0, 0, 0, 0, 0] += 1.0
    write_prepared(b, splits, dataset="toy", benchmark="xsub", layout="ntu25", num_classes=3)
    assert open_prepared(a, "train").fingerprint() != open_prepared(b, "train").fingerprint()
    assert open_prepared(a, "test").fingerprint() == open_prepared(b, "test").fingerprint()


def test_unfinished_tampered_and_unknown_split(tmp_path):
    write_prepared(tmp_path, _splits(np.random.default_rng(0)), dataset="toy", benchmark="x", layout="ntu25",
                   num_classes=3)  # fmt: skip
    with pytest.raises(KeyError, match="splits: \\['test', 'train'\\]"):
        open_prepared(tmp_path, "val")
    np.save(tmp_path / "test_label.npy", np.array([1, 1]))
    with pytest.raises(DataFormatError, match="sha256"):
        open_prepared(tmp_path, "test").verify()
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["splits"]["test"]["shape"] = [3, 3, 4, 25, 2]
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match="meta.json says"):
        open_prepared(tmp_path, "test")
    (tmp_path / "meta.json").unlink()
    with pytest.raises(FileNotFoundError, match="unfinished"):
        open_prepared(tmp_path, "train")


def test_copies_of_train_are_exact_matches_found_across_chunks(tmp_path):
    """Every sample of another split equal to a training sample bit for bit, paired with the first
    such training sample, whatever chunks the (memory-mapped) arrays are read in."""
    from skeletonzoo.data.prepared import copies_of_train

    rng = np.random.default_rng(0)
    train = rng.normal(size=(7, 3, 4, 25, 2)).astype(np.float32)
    train[6] = train[1]  # a duplicate inside train: the first is named
    other = rng.normal(size=(5, 3, 4, 25, 2)).astype(np.float32)
    other[[0, 3, 4]] = train[[6, 5, 1]]
    other[2] = train[2]
    other[2, 0, 0, 0, 0] += np.float32(1e-6)  # one coordinate off: not a copy
    np.save(tmp_path / "train.npy", train)
    mapped = np.load(tmp_path / "train.npy", mmap_mode="r")
    for chunk in (1, 3, 1024):
        assert copies_of_train(mapped, other, chunk=chunk) == [(0, 1), (3, 5), (4, 1)]
    assert copies_of_train(train, other[[1, 2]]) == []
    # all-zero samples (no skeleton) are no copies; a copy holding NaN is still one, bit for bit
    train[3], other[1] = 0, 0
    train[4, 0, 0, 0, 0] = np.nan
    other[2] = train[4]
    assert copies_of_train(train, other) == [(0, 1), (2, 4), (3, 5), (4, 1)]
