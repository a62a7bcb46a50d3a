"""skeletonzoo: self-supervised skeleton action encoders, loadable in one line.

>>> import skeletonzoo as sz
>>> encoders = sz.convert_reference_checkpoint("msmclr_ntu60_xsub.pt", "msmclr")  # doctest: +SKIP
"""

from ._version import __version__
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

__all__ = [
    "__version__",
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
