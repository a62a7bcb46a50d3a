"""CrosScale-SGCLR and CrosView-SGCLR: the second branch's head and the cross phase's momentum
update, as the released net/crosscale_sgclr.py and net/crosview_sgclr.py build and run them."""

from __future__ import annotations

import pytest
import torch

from skeletonzoo.models import EncoderConfig, ProjectionHead, ScaleProjectionHead
from skeletonzoo.pretrain.methods import METHODS, MethodConfig


def _method(name: str, **fields: object):
    config = MethodConfig(encoder=EncoderConfig(hidden_channels=4, hidden_dim=16), feature_dim=8, queue_size=16,
                          **fields)  # fmt: skip
    return METHODS[name](config, torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ["crosscale-sgclr", "crosview-sgclr"])
def test_the_second_head_ends_in_the_joint_head_on_both_sides(name):
    method = _method(name)
    for query, key in method.branch_pairs()[1:]:
        assert isinstance(query.head, ScaleProjectionHead) and query.head.shared is method.encoder_q.head
        assert isinstance(key.head, ScaleProjectionHead) and key.head.shared is method.encoder_k.head
    linear = _method(name, mlp=False)  # shared only with MLP heads, as in the released code
    assert type(linear.encoder_q_second.head) is ProjectionHead
    assert linear.encoder_q_second.head is not linear.encoder_q.head


@pytest.mark.parametrize("name", ["crosscale-sgclr", "crosview-sgclr"])
def test_the_cross_phase_moves_only_the_second_key_backbone(name):
    """Before the cross epoch both key pairs follow their queries; after it only the second pair
    does (the joint key backbone stays as it was; the shared head moves through the second pair)."""
    method = _method(name, momentum=0.5).train()
    x = torch.randn(4, 3, 20, 25, 2, generator=torch.Generator().manual_seed(1))
    for mining in (False, True):
        with torch.no_grad():  # make the queries differ from the keys, so a momentum step shows
            for p in method.encoder_q.parameters():
                p.add_(0.1)
            for p in method.encoder_q_second.parameters():
                p.add_(0.1)
        joint = {k: v.clone() for k, v in method.encoder_k.backbone.state_dict().items()}
        second = {k: v.clone() for k, v in method.encoder_k_second.backbone.state_dict().items()}
        method([x, x.flip(2)], mining=mining)
        moved_joint = any(not torch.equal(v, joint[k]) for k, v in method.encoder_k.backbone.named_parameters())
        moved_second = any(
            not torch.equal(v, second[k]) for k, v in method.encoder_k_second.backbone.named_parameters()
        )
        assert moved_second
        assert moved_joint is not mining
