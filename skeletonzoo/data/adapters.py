"""Layout adapters: map one joint layout onto another so any model can embed any skeleton.

Every adapter here is linear in the joints: output joint ``j`` is ``sum_i W[j, i] * input
joint i``, so an adapter is a ``(V_out, V_in)`` matrix applied along the joint axis (rows sum
to 1: the map commutes with translations).

* ``nwucla20 -> ntu25`` (Kinect v1 -> v2), after ``shared/data/nwucla/README.md``:
  ``interpolate`` (default) places SpineMid at ``HipCenter + 0.57 (ShoulderCenter - HipCenter)``
  and Neck at ``ShoulderCenter + 0.36 (Head - ShoulderCenter)`` (median Kinect v2
  proportions); ``copy`` gathers ``[0, 1, 2, 3, 4..19, 2, 7, 7, 11, 11]``. Hand tips and thumbs
  copy the hands; SpineShoulder copies ShoulderCenter.
* ``ntu25 -> nwucla20``: limbs, head and hips by index; ShoulderCenter <- SpineShoulder;
  Kinect v1's Spine (about 7 cm above the hip centre, 15 % of the way to the shoulder centre in
  the NW-UCLA data) is interpolated on SpineBase -> SpineShoulder (``copy``: SpineMid).
* ``openpose18 -> ntu25`` and ``coco17 -> ntu25`` (2D keypoints, best effort): shoulders,
  elbows, wrists, hips, knees and ankles by name; hands, hand tips and thumbs copy the wrists;
  feet copy the ankles; SpineShoulder is OpenPose's Neck (COCO: mid-shoulders), SpineBase the
  mid-hip, SpineMid halfway between them, Neck 0.36 of the way to the nose (Head). The result
  is 3D with ``z = 0`` and ``y`` flipped to point up (image ``y`` points down). Units are
  whatever the keypoints are in: divide pixel coordinates by a person scale first.

Sensors fit skeletons differently: treat any transfer between layouts as a domain shift.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from ..skeleton.layouts import get_layout

__all__ = ["AdapterMode", "adapter_matrix", "adapt_layout", "ADAPTERS"]

AdapterMode = Literal["interpolate", "copy"]

_UCLA_TO_NTU_COPY = [0, 1, 2, 3, *range(4, 20), 2, 7, 7, 11, 11]
_NECK_TOWARDS_HEAD = 0.36
_SPINEMID_TOWARDS_SHOULDERS = 0.57
_UCLA_SPINE_TOWARDS_SHOULDERS = 0.15


def _gather(indices: list[int], v_in: int) -> np.ndarray:
    w = np.zeros((len(indices), v_in))
    w[np.arange(len(indices)), indices] = 1.0
    return w


def _between(w: np.ndarray, row: int, a: int, b: int, t: float) -> None:
    """Row ``row`` becomes ``a + t (b - a)``."""
    w[row] = 0.0
    w[row, a] += 1.0 - t
    w[row, b] += t


def _ucla_to_ntu(mode: AdapterMode) -> np.ndarray:
    w = _gather(_UCLA_TO_NTU_COPY, 20)
    if mode == "interpolate":
        _between(w, 1, 0, 2, _SPINEMID_TOWARDS_SHOULDERS)
        _between(w, 2, 2, 3, _NECK_TOWARDS_HEAD)
    return w


def _ntu_to_ucla(mode: AdapterMode) -> np.ndarray:
    w = _gather([0, 1, 20, 3, *range(4, 20)], 25)
    if mode == "interpolate":
        _between(w, 1, 0, 20, _UCLA_SPINE_TOWARDS_SHOULDERS)
    return w


def _keypoints_to_ntu(source: str) -> np.ndarray:
    lay = get_layout(source)
    names = {n.lower().replace("_", ""): i for i, n in enumerate(lay.joint_names)}

    def j(*candidates: str) -> int:
        for c in candidates:
            if c in names:
                return names[c]
        raise KeyError(candidates)

    ls, rs = j("lshoulder", "leftshoulder"), j("rshoulder", "rightshoulder")
    le, re_ = j("lelbow", "leftelbow"), j("relbow", "rightelbow")
    lw, rw = j("lwrist", "leftwrist"), j("rwrist", "rightwrist")
    lh, rh = j("lhip", "lefthip"), j("rhip", "righthip")
    lk, rk = j("lknee", "leftknee"), j("rknee", "rightknee")
    la, ra = j("lankle", "leftankle"), j("rankle", "rightankle")
    nose = j("nose")
    w = np.zeros((25, lay.num_joints))
    by_index = {
        3: nose, 4: ls, 5: le, 6: lw, 7: lw, 8: rs, 9: re_, 10: rw, 11: rw,
        12: lh, 13: lk, 14: la, 15: la, 16: rh, 17: rk, 18: ra, 19: ra,
        21: lw, 22: lw, 23: rw, 24: rw,
    }  # fmt: skip
    for out, src in by_index.items():
        w[out, src] = 1.0
    w[0, [lh, rh]] = 0.5  # SpineBase: mid-hip
    if "neck" in names:
        w[20, names["neck"]] = 1.0  # SpineShoulder: OpenPose's neck sits between the shoulders
    else:
        w[20, [ls, rs]] = 0.5
    w[1] = 0.5 * (w[0] + w[20])  # SpineMid
    w[2] = (1 - _NECK_TOWARDS_HEAD) * w[20] + _NECK_TOWARDS_HEAD * w[3]  # Neck
    return w


ADAPTERS: dict[tuple[str, str], dict[str, np.ndarray]] = {
    ("nwucla20", "ntu25"): {m: _ucla_to_ntu(m) for m in ("interpolate", "copy")},
    ("ntu25", "nwucla20"): {m: _ntu_to_ucla(m) for m in ("interpolate", "copy")},
    ("openpose18", "ntu25"): {"interpolate": _keypoints_to_ntu("openpose18")},
    ("coco17", "ntu25"): {"interpolate": _keypoints_to_ntu("coco17")},
}
_TWO_D = {"openpose18", "coco17"}


def adapter_matrix(source: str, target: str, mode: AdapterMode = "interpolate") -> np.ndarray:
    """The ``(V_target, V_source)`` joint map of an adapter (rows sum to 1)."""
    src, dst = get_layout(source).name, get_layout(target).name
    if src == dst:
        return np.eye(get_layout(src).num_joints)
    table = ADAPTERS.get((src, dst))
    if table is None:
        known = ", ".join(f"{a} -> {b}" for a, b in ADAPTERS)
        raise ValueError(f"no adapter from layout {src!r} to {dst!r}; available: {known}")
    if mode not in table:
        raise ValueError(f"adapter {src} -> {dst} has modes {sorted(table)}, not {mode!r}")
    return table[mode]


def adapt_layout(
    x: torch.Tensor, source: str, target: str, mode: AdapterMode = "interpolate"
) -> torch.Tensor:
    """Map ``(N, C, T, V_source, M)`` onto layout ``target``: ``(N, 3, T, V_target, M)``.

    2D sources (``openpose18``, ``coco17``) accept ``C = 2`` (x, y) or ``C = 3`` (x, y,
    confidence, which is dropped); the output has ``y`` negated and ``z = 0``.
    """
    src, dst = get_layout(source), get_layout(target)
    if x.dim() != 5 or x.shape[3] != src.num_joints:
        raise ValueError(
            f"expected (N, C, T, V={src.num_joints}, M) for layout {src.name!r}, got {tuple(x.shape)}"
        )
    if src.name in _TWO_D:
        if x.shape[1] not in (2, 3):
            raise ValueError(f"2D layout {src.name!r} takes C=2 (x, y) or 3 (x, y, score), got C={x.shape[1]}")
        xy = x[:, :2]
        x = torch.cat([xy[:, :1], -xy[:, 1:2], torch.zeros_like(xy[:, :1])], dim=1)
    elif x.shape[1] != 3:
        raise ValueError(f"layout {src.name!r} takes C=3 coordinates, got C={x.shape[1]}")
    w = adapter_matrix(src.name, dst.name, mode)
    # A weighted sum of at most K gathered joints per output joint (K <= 4), not a matmul: the
    # result of every sample is then independent of the batch it is in, bit for bit.
    k = int((w != 0).sum(axis=1).max())
    order = np.argsort(w == 0, axis=1, kind="stable")[:, :k]  # (V_out, K): non-zero columns first
    weights = np.take_along_axis(w, order, axis=1)
    out = None
    for j in range(k):
        index = torch.as_tensor(order[:, j], device=x.device)
        weight = torch.as_tensor(weights[:, j], dtype=x.dtype, device=x.device).view(1, 1, 1, -1, 1)
        # (N, C, T, V_in, M) -> (N, C, T, V_out, M): the j-th source joint of every output joint
        term = x[:, :, :, index] * weight  # advanced indexing: ~10x faster than index_select here
        out = term if out is None else out + term
    assert out is not None
    return out
