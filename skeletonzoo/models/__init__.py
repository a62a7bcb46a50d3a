"""Encoders and heads: pure ``nn.Module``s built from a config (no file or network access)."""

from .config import EncoderConfig
from .heads import LinearClassifier, ProjectionHead, ScaleProjectionHead
from .init import reference_init_
from .msm_attention import MotionAttention, MultiScaleMotionBranch
from .stgcn import SkeletonEncoder, STGCNBlock

__all__ = [
    "EncoderConfig",
    "SkeletonEncoder",
    "STGCNBlock",
    "ProjectionHead",
    "ScaleProjectionHead",
    "LinearClassifier",
    "MotionAttention",
    "MultiScaleMotionBranch",
    "reference_init_",
]
