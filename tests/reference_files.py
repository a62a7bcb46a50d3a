"""Write small checkpoints in the original code's format, for converter tests that must run
without ../shared. Keys and layout follow shared/parity/SPEC.md §2."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from conftest import randomize_

from skeletonzoo.convert import reference_encoder_key
from skeletonzoo.models import MotionAttention, ProjectionHead, SkeletonEncoder


def _encoder_state(prefix: str, enc: SkeletonEncoder) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{reference_encoder_key(k)}": v.clone() for k, v in enc.state_dict().items()}


def _head_state(prefix: str, head: ProjectionHead, sub: str = "fc") -> dict[str, torch.Tensor]:
    s = head.state_dict()
    if head.fc1 is None:
        return {f"{prefix}.{sub}.weight": s["fc2.weight"], f"{prefix}.{sub}.bias": s["fc2.bias"]}
    return {
        f"{prefix}.{sub}.0.weight": s["fc1.weight"], f"{prefix}.{sub}.0.bias": s["fc1.bias"],
        f"{prefix}.{sub}.2.weight": s["fc2.weight"], f"{prefix}.{sub}.2.bias": s["fc2.bias"],
    }  # fmt: skip


def make_reference_state(method: str, hidden_channels: int = 4, hidden_dim: int = 16, seed: int = 0,
                         mlp: bool = True, queue: int = 8) -> tuple[OrderedDict, dict]:
    """A random original-format state dict; returns it and the query modules it holds."""
    torch.manual_seed(seed)
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    comps = {"crosscale-sgclr": ["", "_scale"], "crosview-sgclr": ["", "_motion"]}.get(method, [""])
    for suffix in comps:
        state[f"queue{suffix}"] = torch.nn.functional.normalize(torch.randn(128 if mlp else 10, queue), dim=0)
        state[f"queue_ptr{suffix}"] = torch.zeros(1, dtype=torch.long)
    modules = {}
    joint_heads = {}
    for side in ("q", "k"):
        for suffix in comps:
            layout = "coarse10" if suffix == "_scale" else "ntu25"
            enc = randomize_(SkeletonEncoder(hidden_channels=hidden_channels, hidden_dim=hidden_dim,
                                             layout=layout), seed + len(state))
            prefix = f"encoder_{side}{suffix}"
            state.update(_encoder_state(prefix, enc))
            if suffix and mlp:  # the released code's second head: Linear -> ReLU -> the joint head itself
                pre = torch.nn.Linear(hidden_dim, hidden_dim)
                state[f"{prefix}.fc.0.weight"] = pre.weight.detach().clone()
                state[f"{prefix}.fc.0.bias"] = pre.bias.detach().clone()
                state.update(_head_state(prefix, joint_heads[side], sub="fc.2"))
                head = (pre, joint_heads[side])
            else:
                head = ProjectionHead(hidden_dim, 128 if mlp else 10, mlp=mlp)
                state.update(_head_state(prefix, head))
                if not suffix:
                    joint_heads[side] = head
            if method in ("aimclr", "msmclr"):
                state[f"{prefix}.dropout.fcn.0.weight"] = torch.randn(8, hidden_dim, 1, 1)
            if method == "msmclr":
                att = MotionAttention(hidden_dim)
                state.update({f"{prefix}.m2a.{k}": v.clone() for k, v in att.state_dict().items()})
            if side == "q":
                modules[suffix.strip("_") or "joint"] = (enc, head)
    return state, modules


def write_reference_checkpoint(path: Path, method: str, **kwargs) -> dict:
    state, modules = make_reference_state(method, **kwargs)
    torch.save(state, path)
    return modules
