"""Build a pretraining method from an original-code checkpoint (to continue or check it).

The parity tests use this to run our methods from the exact states the fixtures were made
with; users can use it to continue an original run with skeletonzoo's trainer.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ..convert import ReferenceCheckpoint, load_reference_checkpoint
from ..models.stgcn import use_original_graph_order
from .methods import METHODS, AimCLR, ContrastiveMethod, EncoderWithHead, MethodConfig, MsMCLR

__all__ = ["method_from_reference"]


def _side(ref: ReferenceCheckpoint, component: str, key: bool) -> EncoderWithHead:
    encoders = ref.key_encoders if key else ref.encoders
    heads = ref.key_heads if key else ref.heads
    attention = ref.motion_attention.get("key" if key else "query") if component == "joint" else None
    side = EncoderWithHead(encoders[component], heads[component], attention)
    if key:
        for p in side.parameters():
            p.requires_grad_(False)
    return side


def method_from_reference(
    source: str | Path | ReferenceCheckpoint, method: str, *, original_order: bool = True, **config: object
) -> ContrastiveMethod:
    """A method whose modules and queues are those of an original-code checkpoint.

    Args:
        source: Checkpoint path, or an already loaded :class:`ReferenceCheckpoint`.
        method: Method name (``msmclr``, ``crosscale-sgclr``, ...).
        original_order: Graph convolutions contract in the original's order, so float32
            gradients round as the original's do
            (:func:`~skeletonzoo.models.stgcn.use_original_graph_order`); ``False`` takes the
            faster order, to continue training at full speed.
        **config: ``MethodConfig`` fields (temperature, momentum, topk, ...); the encoder,
            queue size and feature size are taken from the checkpoint. AimCLR's drop defaults
            to the released code's (``attention_drop="threshold"``, ``drop_keep_prob=0.7``).
    """
    ref = source if isinstance(source, ReferenceCheckpoint) else load_reference_checkpoint(source, method)
    if method == "aimclr":  # an original-code run: its released drop, unless told otherwise
        config = {"attention_drop": "threshold", "drop_keep_prob": 0.7, **config}
    joint_q = ref.encoders["joint"]
    queue = ref.buffers["queue"]
    cfg = MethodConfig(
        encoder=joint_q.config.model_copy(update={"removed_edges": ()}),
        feature_dim=queue.shape[0],
        queue_size=queue.shape[1],
        mlp=getattr(ref.heads["joint"], "fc1", None) is not None,
        **config,  # type: ignore[arg-type]
    )
    cls = METHODS[method]
    model = cls.__new__(cls)
    ContrastiveMethod.__init__(model, cfg)
    model.encoder_q = _side(ref, "joint", key=False)
    model.encoder_k = _side(ref, "joint", key=True)
    second = [c for c in ref.encoders if c != "joint"]
    if second:
        model.encoder_q_second = _side(ref, second[0], key=False)
        model.encoder_k_second = _side(ref, second[0], key=True)
    for name, suffix in (("queue", ""), ("queue_second", "_" + second[0] if second else None)):
        if suffix is None:
            continue
        q = model._make_queue(None)
        q.queue.copy_(ref.buffers[f"queue{suffix}"])
        q.ptr.copy_(ref.buffers[f"queue_ptr{suffix}"])
        setattr(model, name, q)
    model.generator = None
    if isinstance(model, MsMCLR):
        model.drop = None
    elif isinstance(model, AimCLR):
        from .attention_drop import attention_drop

        model.drop = attention_drop(cfg.attention_drop, joint_q.A.sum(0), cfg.drop_keep_prob)
    use_original_graph_order(model, original_order)
    return model.to(torch.float32)
