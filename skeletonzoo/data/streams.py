"""Input streams derived from positions: joint, motion, bone.

The stream belongs to the model, not to the data: the original code stores positions and
derives motion or bone inside its training and evaluation loops, so every model derives its
own stream from positions (``shared/specs/data-pipeline.md``, "Streams").
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

from ..skeleton.layouts import Layout, get_layout

__all__ = ["Stream", "STREAMS", "to_stream", "motion", "bone"]

Stream = Literal["joint", "motion", "bone"]
STREAMS: tuple[str, ...] = get_args(Stream)


def motion(x: torch.Tensor) -> torch.Tensor:
    """``x[:, :, t] = p[:, :, t+1] - p[:, :, t]`` for ``t < T-1``; the last frame is zero.

    ``(N, C, T, V, M) -> (N, C, T, V, M)``.
    """
    out = torch.zeros_like(x)
    out[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return out


def bone(x: torch.Tensor, layout: str | Layout) -> torch.Tensor:
    """``x[..., v, :] = p[..., v, :] - p[..., parent(v), :]``; the root's bone is zero.

    ``(N, C, T, V, M) -> (N, C, T, V, M)``, parents from the layout.
    """
    lay = get_layout(layout)
    if x.shape[3] != lay.num_joints:
        raise ValueError(f"bone stream of layout {lay.name!r} needs V={lay.num_joints}, got {x.shape[3]}")
    parents = torch.tensor(lay.parents, device=x.device)
    return x - x.index_select(3, parents)


def to_stream(x: torch.Tensor, stream: str, layout: str | Layout = "ntu25") -> torch.Tensor:
    """Derive ``stream`` from positions ``(N, C, T, V, M)``."""
    if stream == "joint":
        return x
    if stream == "motion":
        return motion(x)
    if stream == "bone":
        return bone(x, layout)
    raise ValueError(f"unknown stream {stream!r}; use one of {STREAMS}")
