"""The pretraining methods, all in one place.

========================  ==========================================================
``skeletonclr``           MoCo on skeletons (CrosSCLR's single-view baseline)
``aimclr``                extreme augmentation, attention drop, DDM, NN mining
``msmclr``                AimCLR + multi-scale (joint/part/body) motion attention
``sgclr``                 SkeletonCLR + random edge cutting of the key graph
``crosscale-sgclr``       25-joint + 10-part pairs, cross-scale positive mining
``crosview-sgclr``        joint + motion pairs, cross-view positive mining
========================  ==========================================================
"""

from .aimclr import AimCLR, MsMCLR
from .base import ContrastiveMethod, EncoderWithHead, MethodConfig, MethodOutput, SingleBranchMethod
from .crosscale_sgclr import CrosScaleSGCLR, CrosViewSGCLR
from .skeletonclr import SGCLR, SkeletonCLR

METHODS: dict[str, type[ContrastiveMethod]] = {
    "skeletonclr": SkeletonCLR,
    "aimclr": AimCLR,
    "msmclr": MsMCLR,
    "sgclr": SGCLR,
    "crosscale-sgclr": CrosScaleSGCLR,
    "crosview-sgclr": CrosViewSGCLR,
}

__all__ = [
    "METHODS",
    "MethodConfig",
    "MethodOutput",
    "ContrastiveMethod",
    "SingleBranchMethod",
    "EncoderWithHead",
    "SkeletonCLR",
    "SGCLR",
    "AimCLR",
    "MsMCLR",
    "CrosScaleSGCLR",
    "CrosViewSGCLR",
]
