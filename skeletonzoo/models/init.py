"""Weight initialisations of the original research code, applied to built modules."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["reference_init_"]


@torch.no_grad()
def reference_init_(module: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """The original processors' ``weights_init``, applied after construction.

    Conv and Linear weights ``~ N(0, 0.02)`` with zero bias; BatchNorm weight ``~ N(1, 0.02)``
    with zero bias; edge importances are left at 1. Used by pretraining (every method's
    encoders and heads) and by evaluation's random-init floor (``--random-init reference``).
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            m.weight.copy_(torch.randn(m.weight.shape, generator=generator) * 0.02)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            m.weight.copy_(1.0 + torch.randn(m.weight.shape, generator=generator) * 0.02)
            m.bias.zero_()
    return module
