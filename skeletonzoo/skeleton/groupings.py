"""Joint groupings: how 25 NTU joints are merged into parts and bodies.

The two papers merge joints in **different** ways, and both are kept, named for what they are:

* :data:`MSMCLR_PARTS_10` and :data:`MSMCLR_BODIES_5` pool **features**: MsMCLR's strong-view
  branch averages the block-9 feature map ``(N*M, C, T', 25)`` over each group before its
  multi-scale motion attention (``divide_s`` in the original code).
* :data:`CROSSCALE_PARTS_10` reduces the **input**: CrosScale-SGCLR averages the 25 joint
  coordinates into the 10 nodes of :data:`~skeletonzoo.skeleton.layouts.COARSE10` before its
  10-part encoder. (The unused helper ``reduce2part`` of the original ``feeder/tools.py``
  orders nodes differently and is *not* what the model does.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = [
    "JointGrouping",
    "MSMCLR_PARTS_10",
    "MSMCLR_BODIES_5",
    "CROSSCALE_PARTS_10",
    "GROUPINGS",
]


@dataclass(frozen=True)
class JointGrouping:
    """A partition of a layout's joints into groups, each replaced by the mean of its members.

    Attributes:
        name: Registry name.
        source_layout: Layout name the joint indices refer to.
        groups: Joint indices per output node, in output order.
        target_layout: Layout of the output nodes, when the result is a graph of its own.
    """

    name: str
    source_layout: str
    groups: tuple[tuple[int, ...], ...]
    target_layout: str | None = None

    @property
    def num_groups(self) -> int:
        return len(self.groups)

    def matrix(self, num_joints: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The ``(V, G)`` averaging matrix ``P`` with ``P[v, g] = 1/|group g|`` for ``v`` in g."""
        p = torch.zeros(num_joints, self.num_groups, dtype=dtype)
        for g, members in enumerate(self.groups):
            p[list(members), g] = 1.0 / len(members)
        return p

    def apply(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        """Average the joints of each group along ``dim``.

        Each group is a sum over its members (in listed order) divided by the count, which is
        how both original implementations compute it.

        Args:
            x: Any tensor whose ``dim`` axis is the joint axis ``V``.
            dim: The joint axis.

        Returns:
            The same tensor with axis ``dim`` of length ``num_groups``.
        """
        x = x.movedim(dim, -1)
        out = torch.stack(
            [x[..., list(members)].sum(-1) / len(members) for members in self.groups], dim=-1
        )
        return out.movedim(-1, dim)


MSMCLR_PARTS_10 = JointGrouping(
    name="msmclr_parts10",
    source_layout="ntu25",
    groups=(
        (0, 1, 20), (2, 3), (4, 5, 6), (7, 21, 22), (8, 9, 10), (11, 23, 24),
        (12, 13), (14, 15), (16, 17), (18, 19),
    ),  # fmt: skip
)

MSMCLR_BODIES_5 = JointGrouping(
    name="msmclr_bodies5",
    source_layout="ntu25",
    groups=(
        (4, 5, 6, 7, 21, 22),  # left arm
        (8, 9, 10, 11, 23, 24),  # right arm
        (12, 13, 14, 15),  # left leg
        (16, 17, 18, 19),  # right leg
        (0, 1, 2, 3, 20),  # trunk and head
    ),
)

CROSSCALE_PARTS_10 = JointGrouping(
    name="crosscale_parts10",
    source_layout="ntu25",
    groups=(
        (0, 1), (2, 3, 20), (4, 5), (6, 7, 21, 22), (8, 9), (10, 11, 23, 24),
        (12, 13), (14, 15), (16, 17), (18, 19),
    ),  # fmt: skip
    target_layout="coarse10",
)

GROUPINGS: dict[str, JointGrouping] = {
    g.name: g for g in (MSMCLR_PARTS_10, MSMCLR_BODIES_5, CROSSCALE_PARTS_10)
}
