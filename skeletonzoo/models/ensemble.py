"""Models made of zoo encoders: multi-stream ensembles and encoders on a derived input.

* :class:`StreamEnsemble` — MsMCLR's three-stream models (``*-3s``). The papers train one
  encoder per stream (joint, bone, motion), fit a linear classifier on each, and fuse the
  classifiers' scores with weights joint 0.6, bone 0.6, motion 0.4 (MsMCLR, Multimedia
  Systems 30:267, 2024). As a feature extractor the ensemble concatenates the streams'
  features, in member order; the fusion weights are kept as :attr:`fusion_weights` and
  :meth:`StreamEnsemble.feature_slices` tells which columns came from which stream, so the
  papers' score fusion can be reproduced with one probe per slice.
* :class:`GroupedInputEncoder` — an encoder that sees a joint grouping of the model input:
  CrosScale-SGCLR's 10-part branch, which averages the 25 NTU joints into 10 parts
  (``CROSSCALE_PARTS_10``) before its own ST-GCN.

Both take the same ``(N, C, T, V, M)`` positions as the zoo's plain encoders and return
``(N, num_features)``; neither reads files.
"""

from __future__ import annotations

import torch
from torch import nn

from ..data.streams import to_stream
from ..skeleton.groupings import GROUPINGS, JointGrouping
from ..skeleton.layouts import Layout, get_layout
from .stgcn import SkeletonEncoder

__all__ = ["StreamEnsemble", "GroupedInputEncoder", "num_features_of"]


def num_features_of(module: nn.Module) -> int:
    """The ``num_features`` attribute every zoo model has (the size of its output).

    Raises:
        TypeError: ``module`` has no integer ``num_features`` (it is not a zoo encoder).
    """
    value: object = getattr(module, "num_features", None)
    if not isinstance(value, int):
        raise TypeError(f"{type(module).__name__} has no integer num_features attribute; pass a SkeletonEncoder")
    return value


class StreamEnsemble(nn.Module):
    """Single-stream encoders over the same positions; features concatenated.

    Args:
        members: Stream name (``"joint"``, ``"bone"``, ``"motion"``) -> encoder taking that
            stream, in output order.
        layout: Layout of the positions (the bone stream needs its parents).
        fusion_weights: The papers' score-fusion weight of each stream (recorded, not applied).

    Attributes:
        streams: Member streams, in the order their features are concatenated.
        num_features: Sum of the members' ``num_features``.
    """

    def __init__(
        self,
        members: dict[str, nn.Module],
        *,
        layout: str | Layout = "ntu25",
        fusion_weights: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleDict(members)
        self.streams: tuple[str, ...] = tuple(members)
        self.layout: Layout = get_layout(layout)
        in_channels: object = getattr(next(iter(members.values())), "in_channels", 3)
        self.in_channels = int(in_channels) if isinstance(in_channels, int) else 3
        self.num_features = sum(num_features_of(m) for m in members.values())
        unknown = set(fusion_weights or {}) - set(members)
        if unknown:
            raise ValueError(f"fusion weights for streams {sorted(unknown)} that are not members")
        self.fusion_weights: dict[str, float] = dict(fusion_weights or {})

    def feature_slices(self) -> dict[str, slice]:
        """Columns of the output that each stream's features occupy."""
        out, start = {}, 0
        for stream, member in self.members.items():
            width = num_features_of(member)
            out[stream] = slice(start, start + width)
            start += width
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Positions ``(N, C, T, V, M)`` -> ``(N, num_features)``, streams derived per member."""
        return torch.cat([member(to_stream(x, stream, self.layout)) for stream, member in self.members.items()], dim=1)

    def extra_repr(self) -> str:
        weights = ", ".join(f"{s}={w}" for s, w in self.fusion_weights.items())
        return f"streams={self.streams}, layout={self.layout.name}" + (
            f", fusion_weights=({weights})" if weights else ""
        )


class GroupedInputEncoder(nn.Module):
    """``encoder(grouping(x))``: an encoder on a joint grouping of the input.

    Args:
        encoder: The encoder on the grouped nodes (e.g. a ``coarse10`` ST-GCN).
        grouping: A :class:`~skeletonzoo.skeleton.JointGrouping` or its name
            (``"crosscale_parts10"``); its ``source_layout`` is the input layout.

    Attributes:
        layout: The input layout (the grouping's source, e.g. ``ntu25``).
        num_features: The encoder's.
    """

    def __init__(self, encoder: SkeletonEncoder, grouping: JointGrouping | str) -> None:
        super().__init__()
        self.encoder = encoder
        if isinstance(grouping, str) and grouping not in GROUPINGS:
            raise ValueError(f"unknown joint grouping {grouping!r}; known: {sorted(GROUPINGS)}")
        self.grouping = GROUPINGS[grouping] if isinstance(grouping, str) else grouping
        if self.grouping.num_groups != encoder.num_joints:
            raise ValueError(
                f"grouping {self.grouping.name!r} makes {self.grouping.num_groups} nodes but the encoder "
                f"expects layout {encoder.layout.name!r} (V={encoder.num_joints})"
            )
        self.layout: Layout = get_layout(self.grouping.source_layout)
        self.in_channels = encoder.in_channels
        self.num_features = encoder.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V_in, M)`` -> grouped ``(N, C, T, G, M)`` -> ``(N, num_features)``."""
        return self.encoder(self.grouping.apply(x, dim=3))

    def extra_repr(self) -> str:
        return f"grouping={self.grouping.name}, layout={self.layout.name}"
