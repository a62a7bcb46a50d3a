"""skeletonzoo: self-supervised skeleton action encoders, loadable in one line.

>>> import skeletonzoo as sz
>>> sz.list_models("msmclr-*-3s")                                   # doctest: +SKIP
>>> enc = sz.load("msmclr-nwucla-xview")                            # doctest: +SKIP
>>> feats = sz.embed(enc, clips)                                    # doctest: +SKIP
>>> encoders = sz.convert_reference_checkpoint("msmclr_ntu60_xsub.pt", "msmclr")  # doctest: +SKIP
"""

from ._version import __version__
from .api import embed, load, load_model
from .convert import convert_reference_checkpoint
from .exceptions import (
    CheckpointError,
    ChecksumError,
    DownloadError,
    OfflineError,
    ReferenceCheckpointError,
    SkeletonZooError,
    UnknownModelError,
    WeightsNotPublishedError,
)
from .models import SkeletonEncoder
from .registry import list_models, model_info

__all__ = [
    "__version__",
    "load",
    "load_model",
    "embed",
    "list_models",
    "model_info",
    "SkeletonEncoder",
    "convert_reference_checkpoint",
    "SkeletonZooError",
    "CheckpointError",
    "ReferenceCheckpointError",
    "UnknownModelError",
    "WeightsNotPublishedError",
    "OfflineError",
    "ChecksumError",
    "DownloadError",
]
