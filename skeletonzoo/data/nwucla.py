"""NW-UCLA (Northwestern-UCLA Multiview Action 3D) readers.

Two sources: the packed archive ``nwucla.npz`` (``shared/data/nwucla/README.md``) and the
per-clip JSON folder of CTR-GCN's common redistribution (``all_sqe/*.json``, one
``{"file_name", "skeletons": T x 20 x 3, "label"}`` record per clip, label 1-based).
Clips are Kinect v1, 20 joints, one person, camera-space metres. The standard cross-view
protocol trains on views 1 and 2 (1020 clips) and tests on view 3 (464 clips).
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..exceptions import DataFormatError
from .prepared import PreparedSplit
from .preprocess import Preprocess

__all__ = [
    "NWUCLA_CLASSES",
    "NWUCLAClips",
    "PreparedSplit",
    "read_nwucla_npz",
    "read_nwucla_json_dir",
    "pad_clips",
    "prepare_nwucla",
    "NWUCLA_PREPROCESS",
]

NWUCLA_CLASSES = (
    "pick up with one hand", "pick up with two hands", "drop trash", "walk around", "sit down",
    "stand up", "donning", "doffing", "throw", "carry",
)  # fmt: skip
_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)")


@dataclass
class NWUCLAClips:
    """NW-UCLA clips in file order.

    Attributes:
        sequences: One ``(T_i, 20, 3)`` float32 array per clip.
        labels: ``(N,)`` class ids 0..9.
        names: ``a01_s01_e00_v01``-style clip names.
        view, subject: ``(N,)`` camera (1..3) and performer (1..10) ids.
        class_names: Names of the 10 classes.
    """

    sequences: list[np.ndarray]
    labels: np.ndarray
    names: list[str]
    view: np.ndarray
    subject: np.ndarray
    class_names: tuple[str, ...] = NWUCLA_CLASSES

    def __len__(self) -> int:
        return len(self.sequences)

    def split_indices(self, split: str) -> np.ndarray:
        """Indices of the cross-view ``train`` (views 1, 2) or ``test`` (view 3) part."""
        if split == "train":
            return np.flatnonzero(self.view != 3)
        if split == "test":
            return np.flatnonzero(self.view == 3)
        raise ValueError(f"NW-UCLA split is 'train' or 'test', not {split!r}")

    def clip(self, index: int) -> np.ndarray:
        """Clip ``index`` as ``(C=3, T, V=20, M=1)`` float32."""
        return np.ascontiguousarray(self.sequences[index].transpose(2, 0, 1)[..., None])


def _ids(names: list[str], source: str) -> tuple[np.ndarray, np.ndarray]:
    view, subject = [], []
    for name in names:
        m = _NAME.search(name)
        if m is None:
            raise DataFormatError(f"{source}: clip name {name!r} is not of the form aNN_sNN_eNN_vNN")
        subject.append(int(m.group(2)))
        view.append(int(m.group(4)))
    return np.array(view), np.array(subject)


def read_nwucla_npz(path: str | Path) -> NWUCLAClips:
    """Read the packed ``nwucla.npz`` archive."""
    path = Path(path)
    if path.is_file():
        with open(path, "rb") as f:
            # an .npz is a zip archive (a .npy is refused below, by name); np.load calls other files pickled data
            if not f.read(6).startswith((b"PK", b"\x93NUMPY")):
                raise DataFormatError(f"{path}: not a NumPy .npz archive; give nwucla.npz or the folder of per-clip "
                                      "JSON files")  # fmt: skip
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:  # missing, truncated, not NumPy
        raise DataFormatError(f"{path}: cannot read it as the NW-UCLA .npz archive ({exc})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataFormatError(f"{path}: a single array, not the NW-UCLA .npz archive (joints, offsets, label, "
                              "file_name); give nwucla.npz or the folder of per-clip JSON files")  # fmt: skip
    try:
        with archive as z:
            joints, offsets, labels = z["joints"], z["offsets"], z["label"]
            names = [str(n) for n in z["file_name"]]
            class_names = tuple(str(c) for c in z["class_names"]) if "class_names" in z else NWUCLA_CLASSES
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFormatError(f"{path}: not an NW-UCLA archive ({exc})") from None
    if joints.ndim != 3 or joints.shape[1:] != (20, 3):
        raise DataFormatError(f"{path}: 'joints' has shape {joints.shape}, expected (frames, 20, 3)")
    if len(offsets) != len(labels) + 1 or offsets[-1] != len(joints) or (np.diff(offsets) < 0).any():
        raise DataFormatError(f"{path}: 'offsets' do not index 'joints' ({len(offsets)} offsets, {len(labels)} labels)")
    sequences = [joints[offsets[i] : offsets[i + 1]].astype(np.float32) for i in range(len(labels))]
    view, subject = _ids(names, str(path))
    return NWUCLAClips(sequences, labels.astype(np.int64), names, view, subject, class_names)


def read_nwucla_json_dir(directory: str | Path) -> NWUCLAClips:
    """Read a folder of per-clip JSON files (CTR-GCN's ``all_sqe`` redistribution)."""
    directory = Path(directory)
    files = sorted(directory.glob("*.json"))
    if not files:
        archives = sorted(directory.glob("*.npz"))
        hint = (f"; it holds {archives[0].name}: give that file instead of the folder" if archives
                else ": give the folder of the per-clip JSON files or the packed nwucla.npz")  # fmt: skip
        raise DataFormatError(f"{directory}: no *.json clip files{hint}")
    sequences, labels, names = [], [], []
    for file in files:
        try:
            record = json.loads(file.read_text())
            skeletons = np.asarray(record["skeletons"], dtype=np.float32)
            label = int(record["label"]) - 1
            name = str(record.get("file_name", file.stem))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"{file}: malformed NW-UCLA clip record ({type(exc).__name__}: {exc})") from None
        if skeletons.ndim != 3 or skeletons.shape[1:] != (20, 3) or len(skeletons) == 0:
            raise DataFormatError(f"{file}: 'skeletons' has shape {skeletons.shape}, expected (T >= 1, 20, 3)")
        if not 0 <= label < 10:
            raise DataFormatError(f"{file}: label {label + 1} outside 1..10")
        sequences.append(skeletons)
        labels.append(label)
        names.append(name)
    view, subject = _ids(names, str(directory))
    return NWUCLAClips(sequences, np.array(labels, dtype=np.int64), names, view, subject)


# How the zoo's NW-UCLA models see their input: Kinect v1 clips mapped onto the NTU 25-joint
# layout (interpolated spine and neck), one person, the original normalisation to 50 frames.
# Keeping the NTU layout lets every method (MsMCLR's part/body pooling, CrosScale's 25 -> 10
# reduction) run unchanged, and the models accept NTU-layout data as well.
NWUCLA_PREPROCESS = Preprocess(layout="ntu25", input_layout="nwucla20", num_persons=1)


def pad_clips(clips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack ``(C, T_i, V, M)`` clips into a zero-padded ``(N, C, max T_i, V, M)`` batch.

    Returns:
        The batch and the ``(N,)`` lengths.
    """
    if not clips:
        raise ValueError("no clips to pad")
    c, _, v, m = clips[0].shape
    lengths = torch.tensor([clip.shape[1] for clip in clips])
    out = torch.zeros(len(clips), c, int(lengths.max()), v, m)
    for i, clip in enumerate(clips):
        if clip.shape[0] != c or clip.shape[2:] != (v, m):
            raise ValueError(f"clip {i} has shape {clip.shape}, expected ({c}, T, {v}, {m})")
        out[i, :, : clip.shape[1]] = torch.from_numpy(np.asarray(clip, dtype=np.float32))
    return out, lengths


def prepare_nwucla(
    clips: NWUCLAClips, preprocess: Preprocess = NWUCLA_PREPROCESS, batch_size: int = 256
) -> dict[str, PreparedSplit]:
    """Normalise every clip of the cross-view protocol with ``preprocess``.

    Each clip's length is its real frame count (NW-UCLA has no time padding), so a clip whose
    first joint is at the origin in some frame is still resized over all its frames.

    Returns:
        ``{"train": ..., "test": ...}``.
    """
    out = {}
    for split in ("train", "test"):
        index = clips.split_indices(split)
        chunks = []
        for start in range(0, len(index), batch_size):
            batch, lengths = pad_clips([clips.clip(i) for i in index[start : start + batch_size]])
            chunks.append(preprocess(batch, lengths=lengths, input_layout="nwucla20").numpy())
        out[split] = PreparedSplit(
            positions=np.concatenate(chunks).astype(np.float32),
            labels=clips.labels[index],
            names=[clips.names[i] for i in index],
        )
    return out
