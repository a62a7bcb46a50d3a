"""The original pipeline's normalisation (stage 2, the ``*_position.npy`` files), batched.

Spec: ``shared/specs/data-pipeline.md``. Per sample ``(C, T, V, M)``:

1. **length**: the number of frames in which joint 0 of person 0 is not all-zero (the valid
   frames are taken to be a prefix, as the original does);
2. **centre**: subtract the centre joint (NTU: SpineShoulder, index 20) of the same frame and
   person from every joint;
3. **resize** the first ``length`` frames of every person to ``num_frames`` (50) by linear
   interpolation along time with half-pixel centres (OpenCV ``INTER_LINEAR`` on a
   ``T x V x C`` image, the same as ``F.interpolate(mode="linear", align_corners=False)``);
   person 1 uses person 0's length;
4. **align** every frame of every person by a rotation about y that makes the shoulder vector
   (left -> right shoulder, y zeroed) parallel to x. The angle is
   ``arccos(x / (norm + 1e-4))`` per frame; one sign per person and sequence: negated when the
   sum over frames of the vector's z is >= 0.

Everything is torch on the input's device (GPU included), for a whole batch at once.
:class:`Preprocess` is serialisable (``to_dict``/``from_dict``) so a checkpoint carries the
exact pipeline its model was trained with.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
from pydantic import ConfigDict, Field

from .._later_fields import LaterFieldsModel
from ..skeleton.layouts import get_layout

__all__ = [
    "Preprocess",
    "valid_lengths",
    "clip_lengths",
    "LengthRule",
    "CLIP_LENGTH_LAYOUTS",
    "center_joints",
    "resize_time",
    "align_shoulders",
]


def valid_lengths(x: torch.Tensor, within: torch.Tensor | None = None) -> torch.Tensor:
    """Frames in which joint 0 of person 0 is non-zero: ``(N, C, T, V, M) -> (N,)`` int64.

    ``within``: ``(N,)`` clip lengths; only each clip's first ``within[n]`` frames are counted.
    """
    # PARITY: counted on joint 0 of person 0 only and taken as the first frames (a body that
    # disappears for a while shortens the clip), and person 1 gets person 0's length
    present = x[:, :, :, 0, 0].ne(0).any(dim=1)  # (N, T)
    if within is not None:
        present &= torch.arange(x.shape[2], device=x.device) < within.to(x.device).view(-1, 1)
    return present.sum(dim=1)


def clip_lengths(x: torch.Tensor) -> torch.Tensor:
    """Frames up to the last one holding any non-zero value: ``(N, C, T, V, M) -> (N,)`` int64.

    The length of an unpadded clip (all its frames) zero-padded in time; frames inside the
    clip whose joints are at the origin still count.
    """
    holds = x.ne(0).flatten(3).any(dim=(1, 3))  # (N, T)
    last = torch.where(holds, torch.arange(1, x.shape[2] + 1, device=x.device), 0)
    return last.amax(dim=1) if x.shape[2] else torch.zeros(x.shape[0], dtype=torch.long, device=x.device)


LengthRule = Literal["joint0", "clip"]

# Datasets whose clips come unpadded (every frame is the clip's): NW-UCLA. NTU RGB+D and PKU-MMD
# arrive as the original's 300-frame stage-1 arrays, whose length is counted (step 1).
CLIP_LENGTH_LAYOUTS = frozenset({"nwucla20"})


def center_joints(x: torch.Tensor, center: int) -> torch.Tensor:
    """Subtract joint ``center`` of the same frame and person: ``(N, C, T, V, M)``."""
    return x - x[:, :, :, center : center + 1, :]


def resize_time(x: torch.Tensor, lengths: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Resize the first ``lengths[n]`` frames of each sample to ``num_frames`` frames.

    Linear interpolation with half-pixel centres: output frame ``t`` samples the source at
    ``(t + 0.5) * L / num_frames - 0.5``, clamped to ``[0, L - 1]``. A sample with length 0
    becomes all zeros; length 1 repeats its frame.

    Args:
        x: ``(N, C, T, V, M)``.
        lengths: ``(N,)`` valid frame counts, ``<= T``.
        num_frames: Output length.

    Returns:
        ``(N, C, num_frames, V, M)``, same dtype.
    """
    n, c, t, v, m = x.shape
    lengths = lengths.to(device=x.device)
    # compute positions in float64 so the sampling grid does not depend on the input dtype
    scale = lengths.to(torch.float64) / num_frames
    dst = torch.arange(num_frames, device=x.device, dtype=torch.float64)
    src = (dst[None, :] + 0.5) * scale[:, None] - 0.5
    last = (lengths - 1).clamp(min=0).to(torch.float64)[:, None]
    src = torch.minimum(src.clamp(min=0.0), last)
    i0 = src.floor().to(torch.long)
    i1 = torch.minimum(i0 + 1, last.to(torch.long))
    w = (src - i0.to(torch.float64)).to(x.dtype)
    # gather along T: index (N, 1, num_frames, 1, 1) broadcast over C, V, M
    def take(index: torch.Tensor) -> torch.Tensor:
        return torch.gather(x, 2, index.view(n, 1, num_frames, 1, 1).expand(n, c, num_frames, v, m))

    out = take(i0) * (1 - w.view(n, 1, num_frames, 1, 1)) + take(i1) * w.view(n, 1, num_frames, 1, 1)
    return out * (lengths > 0).to(x.dtype).view(n, 1, 1, 1, 1)


def align_shoulders(x: torch.Tensor, left: int, right: int, eps: float = 1e-4) -> torch.Tensor:
    """Rotate each frame about y so the shoulder vector is parallel to x.

    Args:
        x: ``(N, 3, T, V, M)`` with channels x, y, z.
        left, right: Shoulder joint indices; the vector is ``x[..., right, :] - x[..., left, :]``.
        eps: Added to the vector's norm before the arccos.

    Returns:
        The rotated ``(N, 3, T, V, M)``.
    """
    vec = x[:, :, :, right, :] - x[:, :, :, left, :]  # (N, 3, T, M)
    vx, vz = vec[:, 0], vec[:, 2]  # y zeroed: (N, T, M)
    norm = torch.sqrt(vx * vx + vz * vz)
    # PARITY: the original's 1e-4 keeps an already aligned frame turned by sqrt(2 eps / norm)
    # radians (about 1.5 degrees for 0.3 m shoulders); kept, models were trained with it.
    angle = torch.arccos((vx / (norm + eps)).clamp(-1.0, 1.0))
    # PARITY: one sign for the whole sequence (per person), from the sum of z over frames,
    # so frames whose z has the other sign are rotated the wrong way.
    sign = torch.where(vz.sum(dim=1, keepdim=True) >= 0, -1.0, 1.0).to(x.dtype)
    angle = angle * sign
    cos, sin = torch.cos(angle), torch.sin(angle)  # (N, T, M)
    px, py, pz = x[:, 0], x[:, 1], x[:, 2]  # (N, T, V, M)
    cos, sin = cos[:, :, None, :], sin[:, :, None, :]
    # rows [cos, 0, -sin], [0, 1, 0], [sin, 0, cos]
    return torch.stack([cos * px - sin * pz, py, sin * px + cos * pz], dim=1)


class Preprocess(LaterFieldsModel):
    """The normalisation a model was trained with; call it on raw ``(N, C, T, V, M)`` positions.

    The default is the NTU RGB+D / PKU-MMD pipeline of the original code (``*_position.npy``).

    Attributes:
        layout: Joint layout the model consumes (after adaptation).
        input_layout: Layout raw input arrives in; when it differs from ``layout`` the
            adapter ``input_layout -> layout`` runs first (``data.adapters``). ``None``: same
            as ``layout``.
        adapter_mode: ``"interpolate"`` or ``"copy"`` (see ``data.adapters``).
        center_joint: Joint subtracted in step 2 (``None``: the layout's centre joint).
        num_frames: Output length of step 3.
        align: Whether step 4 runs.
        shoulders: ``(left, right)`` joints of step 4 (``None``: found by name in the layout).
        num_persons: ``M`` the model was trained with; extra all-zero persons are dropped, a
            missing one is zero-padded.
        length_rule: How step 1 finds a clip's length. ``"joint0"``: the original's count of
            frames in which joint 0 of person 0 is non-zero (NTU RGB+D, PKU-MMD).
            ``"clip"``: every frame of the clip (the lengths passed in, else up to the last
            frame holding any non-zero value), so a frame whose joint 0 is at the origin still
            counts (NW-UCLA's clips, which are not padded and where joint 0 sometimes drops to
            the origin). ``None``: ``"clip"`` for input in a layout of
            :data:`CLIP_LENGTH_LAYOUTS`, else ``"joint0"``. ``embed()`` gives a clip the same
            length alone, in a list or zero-padded in a batch (whose trailing all-zero frames
            are padding).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["original-position"] = "original-position"
    layout: str = "ntu25"
    input_layout: str | None = None
    adapter_mode: Literal["interpolate", "copy"] = "interpolate"
    center_joint: int | None = None
    num_frames: int = Field(default=50, ge=1)
    align: bool = True
    shoulders: tuple[int, int] | None = None
    num_persons: int = Field(default=2, ge=1)
    length_rule: LengthRule | None = None
    # length_rule came after files recording a Preprocess were published (checkpoint metadata, meta.json)
    legacy_values: ClassVar[dict[str, object]] = {"length_rule": None}

    def resolved_length_rule(self, input_layout: str | None = None) -> LengthRule:
        """The length rule for input in ``input_layout`` (default ``self.input_layout``)."""
        if self.length_rule is not None:
            return self.length_rule
        source = get_layout(input_layout or self.input_layout or self.layout).name
        return "clip" if source in CLIP_LENGTH_LAYOUTS else "joint0"

    def resolved_center(self) -> int:
        return self.center_joint if self.center_joint is not None else get_layout(self.layout).center

    def resolved_shoulders(self) -> tuple[int, int]:
        if self.shoulders is not None:
            return self.shoulders
        lay = get_layout(self.layout)
        names = {n.lower(): i for i, n in enumerate(lay.joint_names)}
        for left, right in (("shoulderleft", "shoulderright"), ("left_shoulder", "right_shoulder"),
                            ("lshoulder", "rshoulder")):
            if left in names and right in names:
                return names[left], names[right]
        raise ValueError(f"layout {self.layout!r} has no shoulder joints; set `shoulders`")

    def adapt(self, x: torch.Tensor, input_layout: str | None = None) -> torch.Tensor:
        """Map raw input from ``input_layout`` (default ``self.input_layout``) to ``layout``."""
        source = get_layout(input_layout or self.input_layout or self.layout).name
        if source == get_layout(self.layout).name:
            return x
        from .adapters import adapt_layout

        return adapt_layout(x, source, self.layout, self.adapter_mode)

    def __call__(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        input_layout: str | None = None,
    ) -> torch.Tensor:
        """Normalise a batch.

        Args:
            x: ``(N, C, T, V, M)`` raw positions in ``input_layout``, zero-padded in time
                and persons.
            lengths: ``(N,)`` frame counts of the clips before padding
                (:func:`~skeletonzoo.data.datasets.collate_clips`). The ``"clip"`` length rule
                takes them as the lengths (default: up to each sample's last non-zero frame);
                the ``"joint0"`` rule counts joint-0 frames within them (default: all ``T``).
            input_layout: Overrides ``self.input_layout`` for this call.

        Returns:
            ``(N, 3, num_frames, V_layout, num_persons)``.
        """
        if x.dim() != 5:
            raise ValueError(f"expected (N, C, T, V, M) positions, got shape {tuple(x.shape)}")
        if x.shape[2] == 0 and x.shape[0] > 0:
            raise ValueError(f"positions have no frames (T=0): shape {tuple(x.shape)}")
        rule = self.resolved_length_rule(input_layout)
        if rule == "clip" and lengths is None:
            lengths = clip_lengths(x)
        x = self.adapt(x, input_layout)
        x = self.fit_persons(x)
        if rule == "joint0":
            lengths = valid_lengths(x, within=lengths)
        assert lengths is not None
        x = center_joints(x, self.resolved_center())
        x = resize_time(x, lengths, self.num_frames)
        if self.align:
            x = align_shoulders(x, *self.resolved_shoulders())
        return x

    def fit_persons(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-pad or drop persons to ``num_persons``; dropping a non-empty person raises."""
        m = x.shape[-1]
        if m < self.num_persons:
            pad = x.new_zeros(*x.shape[:-1], self.num_persons - m)
            return torch.cat([x, pad], dim=-1)
        if m > self.num_persons:
            extra = x[..., self.num_persons :]
            if bool(extra.ne(0).any()):
                raise ValueError(
                    f"input has {m} persons with data but the model was trained with "
                    f"num_persons={self.num_persons}; select the persons to embed first"
                )
            return x[..., : self.num_persons]
        return x

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocess:
        return cls.model_validate(data)

