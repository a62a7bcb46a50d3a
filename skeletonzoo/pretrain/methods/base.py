"""What every contrastive method here shares: an encoder-with-head, the config, the output."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeVar

import torch
import torch.nn.functional as F
from pydantic import ConfigDict, Field
from torch import nn

from ..._later_fields import LaterFieldsModel
from ...models import EncoderConfig, MotionAttention, ProjectionHead, SkeletonEncoder
from ...skeleton.groupings import JointGrouping
from ...skeleton.layouts import get_layout
from ..moco import KeyQueue, gather_keys, momentum_update_, reference_init_

__all__ = [
    "MethodConfig",
    "MethodOutput",
    "EncoderWithHead",
    "ContrastiveMethod",
    "ViewKind",
    "normalized_projection",
]

ViewKind = Literal["normal", "strong"]
_Module = TypeVar("_Module", bound=nn.Module)


class MethodConfig(LaterFieldsModel):
    """Hyper-parameters of a contrastive method (defaults: the papers' recipes).

    ``mining_epoch``: mining (AimCLR/MsMCLR) or the cross phase (CrosScale/CrosView) runs for
    1-based epochs strictly greater than it, as in the original processors.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    encoder: EncoderConfig = EncoderConfig()
    feature_dim: int = Field(128, ge=1)
    mlp: bool = True
    queue_size: int = Field(32768, ge=1)
    temperature: float = Field(0.07, gt=0)
    momentum: float = Field(0.999, ge=0, le=1)
    mining_epoch: int = 150
    topk: int = Field(1, ge=1)
    context: bool = True
    # PARITY: "independent" (the default) re-initialises the key encoder after the copy, as the original does
    key_init: Literal["independent", "copy"] = Field(
        "independent",
        description="PARITY: the original re-initialises the whole model after copying q into "
        "k, so the key encoder starts independent; 'copy' is MoCo's intended start",
    )
    max_edge_cuts: int = Field(2, ge=0, description="SGCLR-family: edges cut in key graphs")
    edge_cut_both_directions: bool = Field(False, description="corrected edge cut (symmetric)")
    edge_cut_every_step: bool = Field(
        False, description="corrected edge cut: new random cuts before every key forward (the original draws once)"
    )
    attention_drop: Literal["threshold", "sampled"] = Field(
        "sampled",
        description="AimCLR's drop of the extreme view's features: 'threshold' is the released code's (zero "
        "what SimAM attention puts at or above drop_keep_prob; every AimCLR recipe, with 0.7); 'sampled' an "
        "earlier DropGraph-style reading of the paper (random, attention-weighted; drop_keep_prob the kept "
        "fraction), the default for recipes written before the field existed, and the drop of the NW-UCLA "
        "AimCLR entries before cad7ab51eaa0",
    )
    drop_keep_prob: float = Field(
        0.9, gt=0, le=1, description="AimCLR attention drop: the threshold ('threshold') or the kept fraction "
        "('sampled')",
    )  # fmt: skip
    # PARITY: "random" (the default) starts the queue as random unit vectors, as the original does
    queue_init: Literal["random", "keys"] = Field(
        "random",
        description="PARITY 'random': the queue starts as random unit vectors, as in the original; 'keys': "
        "the trainer fills it with the key encoder's projections of real clips before the first step, so "
        "the first negatives are not trivially separable (see pretrain.trainer)",
    )

    # attention_drop came after runs were published (their files' metadata, docs/training-logs)
    legacy_values: ClassVar[dict[str, object]] = {"attention_drop": "sampled"}


@dataclass
class MethodOutput:
    """One step's loss, its named terms (for logging) and tensors the parity tests read.

    Attributes:
        loss: Scalar to back-propagate, made of the terms.
        terms: Term name -> its detached scalar value, logged per step.
        extras: Name -> tensor without gradient, e.g. ``logits (N, 1 + K)``; each method's
            ``forward`` lists its keys.
    """

    loss: torch.Tensor
    terms: dict[str, torch.Tensor]
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


def normalized_projection(head: nn.Module, pooled: torch.Tensor) -> torch.Tensor:
    """``normalize(head(pooled))``: ``(N, C)`` pooled features -> ``(N, D)`` unit projections.

    Always in full precision: under ``torch.autocast`` the head would run in bf16, and its
    output feeds the logits and the queue, which stay float32; the head is a few small
    matrices, so float32 costs nothing measurable.
    """
    if pooled.dtype in (torch.float16, torch.bfloat16):
        pooled = pooled.float()
    with torch.autocast(pooled.device.type, enabled=False):
        return F.normalize(head(pooled), dim=1)


class EncoderWithHead(nn.Module):
    """One side (query or key) of one branch: ST-GCN backbone, projection head, and for MsMCLR
    the multi-scale motion attention.

    Args:
        backbone: The ST-GCN encoder.
        head: Projection head.
        attention: MsMCLR's ``MotionAttention`` (``None`` for other methods).
    """

    def __init__(self, backbone: SkeletonEncoder, head: nn.Module, attention: MotionAttention | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.attention = attention

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, T, V, M)`` -> L2-normalised projection ``(N, feature_dim)``, float32 or wider."""
        return normalized_projection(self.head, self.backbone.pool(self.backbone.forward_maps(x), x.shape[-1]))


class ContrastiveMethod(nn.Module):
    """Base of every method: builds query/key pairs, owns queues, updates keys by momentum.

    Subclasses declare ``name``, the augmented ``views`` they consume (in call order), and
    implement ``forward(views, mining) -> MethodOutput``. ``branches`` names the query/key
    pairs in the order the momentum update visits them.

    Every method is built as ``cls(config, generator)`` (see ``METHODS``); ``generator`` draws
    the initial weights and queues, and only subclasses use it.
    """

    name: ClassVar[str]
    views: ClassVar[tuple[ViewKind, ...]]
    #: Whether ``forward(views, mining=True)`` differs: a mining / cross phase from ``mining_epoch``.
    has_mining_phase: ClassVar[bool] = True
    #: What DDP needs to know: every method gathers keys from all ranks before enqueueing.
    ddp_semantics: ClassVar[str] = "keys all-gathered across ranks before entering the queue"
    #: The streams the method trains on (None: any); its second branch may derive its own.
    streams: ClassVar[tuple[str, ...] | None] = None
    #: Joint groupings the method averages the encoder's joints by; they are defined on one
    #: layout, which the encoder must then have (empty: any layout).
    joint_groupings: ClassVar[tuple[JointGrouping, ...]] = ()
    #: Source of per-step randomness, set by the subclasses that draw any (and by the trainer).
    generator: torch.Generator | None

    def __init__(self, config: MethodConfig, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.check_layout(config.encoder.layout)
        self.config = config

    @classmethod
    def check_stream(cls, stream: str) -> None:
        """Raise ``ValueError`` unless the method trains on ``stream`` (:attr:`streams`)."""
        if cls.streams is not None and stream not in cls.streams:
            raise ValueError(
                f"{cls.name} trains on stream {' or '.join(cls.streams)} (its second branch takes the motion of "
                f"that input), not {stream!r}; --set stream=joint, or a single-branch method for the {stream} stream"
            )

    @classmethod
    def check_layout(cls, layout: str) -> None:
        """Raise ``ValueError`` unless the method's joint groupings are defined on ``layout``."""
        name = get_layout(layout).name
        for grouping in cls.joint_groupings:
            if get_layout(grouping.source_layout).name != name:
                from . import METHODS  # the registry imports this module

                anywhere = ", ".join(k for k, m in METHODS.items() if not m.joint_groupings)
                raise ValueError(
                    f"{cls.name} averages joints into {grouping.name!r}, which is defined on "
                    f"{grouping.source_layout!r} joints, but the encoder's layout is {layout!r}; "
                    f"train {cls.name} on {grouping.source_layout!r} data (model.encoder.layout="
                    f"{grouping.source_layout}), or use a method that works on any layout ({anywhere})"
                )

    # -- construction helpers ------------------------------------------------------------------
    def _make_key(self, query: _Module) -> _Module:
        """A frozen copy of ``query``: the key side (its weights are set by ``_init_weights``)."""
        key = copy.deepcopy(query)
        for p in key.parameters():
            p.requires_grad_(False)
        return key

    def _init_weights(self, generator: torch.Generator | None) -> None:
        """Apply the original init to every module; with ``key_init='copy'`` then copy q into k."""
        reference_init_(self, generator)
        if self.config.key_init == "copy":
            with torch.no_grad():
                for query, key in self.branch_pairs():
                    for pk, pq in zip(key.parameters(), query.parameters()):
                        pk.copy_(pq)

    def _make_queue(self, generator: torch.Generator | None) -> KeyQueue:
        return KeyQueue(self.config.feature_dim, self.config.queue_size, generator)

    def branch_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        """``(query, key)`` module pairs, in momentum-update order."""
        raise NotImplementedError

    def momentum_update(self, pairs: Sequence[tuple[nn.Module, nn.Module]] | None = None) -> None:
        """Momentum-update each key module from its query module (parameters only)."""
        for query, key in pairs if pairs is not None else self.branch_pairs():
            momentum_update_(key.parameters(), query.parameters(), self.config.momentum)

    def query_components(self) -> dict[str, tuple[SkeletonEncoder, nn.Module]]:
        """Component name -> (query backbone, query head): what gets exported to the zoo."""
        raise NotImplementedError

    def key_queues(self, im_k: torch.Tensor) -> list[tuple[KeyQueue, torch.Tensor]]:
        """Each queue with the keys the method would enqueue for the key view ``im_k``."""
        raise NotImplementedError

    @torch.no_grad()
    def fill_queues(self, im_k: torch.Tensor) -> None:
        """Enqueue the key encoder(s)' projections of ``im_k`` (``queue_init='keys'``)."""
        for queue, keys in self.key_queues(im_k):
            queue.enqueue(gather_keys(keys))

    def component_inputs(self) -> dict[str, str]:
        """Component name -> how its input derives from the model input (checkpoint metadata)."""
        return {name: "identity" for name in self.query_components()}

    def forward(self, views: Sequence[torch.Tensor], mining: bool = False) -> MethodOutput:
        """One training step: the loss; also momentum-updates the key side and enqueues its keys.

        Args:
            views: The augmented views, in the order of the class's ``views``, each ``(N, C, T, V, M)``.
            mining: Whether the epoch is in the mining / cross phase (:meth:`is_mining`).

        Returns:
            :class:`MethodOutput`: the scalar ``loss``, its ``terms`` and the ``extras``.
        """
        raise NotImplementedError

    def is_mining(self, epoch: int) -> bool:
        """Whether 1-based ``epoch`` is in the mining / cross phase (never, for a method without one)."""
        return self.has_mining_phase and epoch > self.config.mining_epoch


class SingleBranchMethod(ContrastiveMethod):
    """A method with one query/key encoder pair and one queue (SkeletonCLR, SGCLR, AimCLR, MsMCLR).

    Subclasses build ``encoder_q``, ``encoder_k`` and ``queue`` in ``__init__``; the zoo export
    is the query side as the ``joint`` component.
    """

    encoder_q: EncoderWithHead
    encoder_k: EncoderWithHead
    queue: KeyQueue

    def branch_pairs(self) -> list[tuple[nn.Module, nn.Module]]:
        return [(self.encoder_q, self.encoder_k)]

    def query_components(self) -> dict[str, tuple[SkeletonEncoder, nn.Module]]:
        return {"joint": (self.encoder_q.backbone, self.encoder_q.head)}

    def key_queues(self, im_k: torch.Tensor) -> list[tuple[KeyQueue, torch.Tensor]]:
        return [(self.queue, self.encoder_k(im_k))]


def build_encoder_with_head(config: MethodConfig, encoder: EncoderConfig | None = None) -> EncoderWithHead:
    """A query side: ST-GCN + ProjectionHead(hidden_dim -> feature_dim)."""
    enc = encoder or config.encoder
    backbone = SkeletonEncoder(enc)
    return EncoderWithHead(backbone, ProjectionHead(enc.hidden_dim, config.feature_dim, mlp=config.mlp))
