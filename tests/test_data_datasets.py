"""Datasets over memory-mapped arrays, ragged clips with padding collate, DistributedSampler."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler

from skeletonzoo.data import PreparedSplit, Preprocess, open_prepared, write_prepared
from skeletonzoo.data.datasets import ArrayDataset, ClipDataset, collate_clips, load_positions
from skeletonzoo.exceptions import DataFormatError


def _clips(rng: np.random.Generator, lengths: list[int]) -> list[np.ndarray]:
    return [rng.normal(size=(3, t, 25, 2)).astype(np.float32) for t in lengths]


def test_clip_dataset_round_trip_and_collate():
    rng = np.random.default_rng(0)
    clips = _clips(rng, [5, 1, 12, 3])
    ds = ClipDataset.from_clips(clips, [0, 1, 2, 3], names=list("abcd"))
    assert len(ds) == 4 and [ds.length(i) for i in range(4)] == [5, 1, 12, 3]
    for i, clip in enumerate(clips):
        x, y = ds[i]
        np.testing.assert_array_equal(x.numpy(), clip)
        assert y == i
    batch = next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_clips)))
    assert batch.x.shape == (4, 3, 12, 25, 2) and batch.lengths.tolist() == [5, 1, 12, 3]
    assert batch.labels.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(batch.x[1, :, :1].numpy(), clips[1])
    assert not batch.x[1, :, 1:].any()  # padding is zero


def test_padded_batches_preprocess_like_single_clips():
    rng = np.random.default_rng(1)
    clips = _clips(rng, [7, 30, 2])
    batch = collate_clips([(torch.from_numpy(c), 0) for c in clips])
    pre = Preprocess()
    together = pre(batch.x, lengths=batch.lengths)
    for i, clip in enumerate(clips):
        alone = pre(torch.from_numpy(clip)[None], lengths=torch.tensor([clip.shape[1]]))
        torch.testing.assert_close(together[i : i + 1], alone, rtol=0, atol=0)


def test_memory_mapped_ragged_storage_pickles_by_reference(tmp_path):
    rng = np.random.default_rng(2)
    mem = ClipDataset.from_clips(_clips(rng, [4, 9]), [1, 0])
    np.save(tmp_path / "frames.npy", mem.frames)
    ds = ClipDataset(np.load(tmp_path / "frames.npy", mmap_mode="r"), mem.offsets, mem.labels)
    blob = pickle.dumps(ds)
    assert len(blob) < 2000  # the frames stay on disk
    back = pickle.loads(blob)
    assert isinstance(back.frames, np.memmap)
    torch.testing.assert_close(back[1][0], mem[1][0])


def test_distributed_sampler_splits_a_prepared_split(tmp_path):
    rng = np.random.default_rng(3)
    positions = rng.normal(size=(10, 3, 50, 25, 2)).astype(np.float32)
    write_prepared(tmp_path, {"train": PreparedSplit(positions, np.arange(10) % 3, [f"s{i}" for i in range(10)])},
                   dataset="toy", benchmark="x", layout="ntu25", num_classes=3)  # fmt: skip
    ds = open_prepared(tmp_path, "train").dataset()
    assert len(pickle.dumps(ds)) < 2000
    seen = []
    for rank in range(3):
        sampler = DistributedSampler(ds, num_replicas=3, rank=rank, shuffle=True, seed=0)
        loader = DataLoader(ds, batch_size=2, sampler=sampler)
        for x, y in loader:
            assert x.shape[1:] == (3, 50, 25, 2)
            for xi, yi in zip(x, y):
                (i,) = [k for k in range(10) if np.array_equal(positions[k], xi.numpy())]
                assert yi.item() == i % 3
                seen.append(i)
    assert set(seen) == set(range(10)) and len(seen) == 12  # all covered; 2 repeats pad 10 to 3 x 4


def test_array_dataset_and_plain_arrays(tmp_path):
    x = np.arange(2 * 3 * 4 * 25 * 1, dtype=np.float32).reshape(2, 3, 4, 25, 1)
    np.save(tmp_path / "x.npy", x)
    arr = load_positions(tmp_path / "x.npy")
    assert isinstance(arr, np.memmap)
    ds = ArrayDataset(arr, [4, 5], transform=lambda t: t * 2)
    item, label = ds[1]
    np.testing.assert_array_equal(item.numpy(), 2 * x[1])
    assert label == 5
    assert torch.equal(ArrayDataset(torch.from_numpy(x))[0], torch.from_numpy(x[0]))
    assert len(pickle.dumps(ArrayDataset(arr, [4, 5]))) < 2000
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 4)))
    with pytest.raises(DataFormatError, match="N, C, T, V, M"):
        load_positions(tmp_path / "bad.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataFormatError, match="not a plain .npy"):
        load_positions(tmp_path / "obj.npy", mmap=False)
    with pytest.raises(ValueError, match="offsets"):
        ClipDataset(np.zeros((5, 3, 25, 1)), [0, 2, 4], [0, 1])
