"""Architecture configuration of the ST-GCN encoder, validated at the boundary."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..skeleton.graph import Strategy
from ..skeleton.layouts import get_layout

__all__ = ["EncoderConfig"]


class EncoderConfig(BaseModel):
    """Everything needed to build a :class:`~skeletonzoo.models.SkeletonEncoder`.

    The defaults are the papers' quarter-width ST-GCN on NTU RGB+D. ``removed_edges`` records
    the directed adjacency entries a randomly edge-cut graph deleted (SGCLR key encoders); a
    checkpoint also stores the realised adjacency ``A``, which is what is loaded.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    in_channels: int = Field(3, ge=1)
    hidden_channels: int = Field(16, ge=1, description="width of blocks 0-3 (16 = papers' x1/4)")
    hidden_dim: int = Field(256, ge=1, description="width of the last block = num_features")
    layout: str = "ntu25"
    graph_strategy: Strategy = "spatial"
    max_hop: int = Field(1, ge=1)
    edge_importance: bool = True
    dropout: float = Field(0.5, ge=0.0, lt=1.0)
    temporal_kernel_size: int = Field(9, ge=1)
    removed_edges: tuple[tuple[int, int], ...] = ()

    @field_validator("layout")
    @classmethod
    def _known_layout(cls, value: str) -> str:
        return get_layout(value).name

    @field_validator("temporal_kernel_size")
    @classmethod
    def _odd_kernel(cls, value: int) -> int:
        if value % 2 != 1:
            raise ValueError(f"temporal_kernel_size must be odd, got {value}")
        return value

    @property
    def num_joints(self) -> int:
        return get_layout(self.layout).num_joints

    @property
    def num_features(self) -> int:
        return self.hidden_dim

    def channel_plan(self) -> list[tuple[int, int, int]]:
        """``(in, out, temporal_stride)`` of the 10 ST-GCN blocks."""
        c, h, d = self.in_channels, self.hidden_channels, self.hidden_dim
        return [
            (c, h, 1), (h, h, 1), (h, h, 1), (h, h, 1),
            (h, 2 * h, 2), (2 * h, 2 * h, 1), (2 * h, 2 * h, 1),
            (2 * h, 4 * h, 2), (4 * h, 4 * h, 1),
            (4 * h, d, 1),
        ]  # fmt: skip
