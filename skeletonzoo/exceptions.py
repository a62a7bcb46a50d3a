"""The exceptions skeletonzoo raises. Each message says what went wrong and what to do next."""

from __future__ import annotations

__all__ = [
    "SkeletonZooError",
    "CheckpointError",
    "ReferenceCheckpointError",
    "UnknownModelError",
    "WeightsNotPublishedError",
    "OfflineError",
    "ChecksumError",
    "DownloadError",
    "ManifestError",
    "DataFormatError",
    "PrepareError",
    "DataMismatchError",
    "SkeletonZooWarning",
    "SlowPrecisionWarning",
    "EmptySampleWarning",
    "DuplicateSampleWarning",
    "InputWarning",
    "CollapsedFeaturesWarning",
    "ResumeWarning",
    "RecipeFitWarning",
]


class SkeletonZooError(Exception):
    """Base class of every error raised on purpose by skeletonzoo."""


class CheckpointError(SkeletonZooError):
    """A checkpoint file could not be read or does not match the expected format."""


class ReferenceCheckpointError(CheckpointError):
    """An original-code checkpoint does not match the method it was declared as.

    Attributes:
        missing: Keys the method needs that the file lacks.
        unexpected: Keys in the file that the method does not know.
        mismatched: ``(key, expected_shape, found_shape)`` triples.
    """

    def __init__(
        self,
        message: str,
        missing: list[str] | None = None,
        unexpected: list[str] | None = None,
        mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] | None = None,
    ) -> None:
        super().__init__(message)
        self.missing = missing or []
        self.unexpected = unexpected or []
        self.mismatched = mismatched or []


class UnknownModelError(SkeletonZooError, KeyError):
    """A model name is not in the registry."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class WeightsNotPublishedError(SkeletonZooError):
    """The model exists in the registry but its weights have not been trained/published yet."""


class OfflineError(SkeletonZooError):
    """Weights are needed but the hub is unreachable or offline mode is on, and no copy is cached."""


class ChecksumError(SkeletonZooError):
    """A downloaded or cached file's size or sha256 does not match the manifest."""


class DownloadError(SkeletonZooError):
    """Every source for a weights file failed."""


class ManifestError(SkeletonZooError):
    """``weights_manifest.json`` is malformed."""


class DataFormatError(SkeletonZooError, ValueError):
    """A data file is truncated or malformed (the message names the file and line)."""

    @classmethod
    def damaged(cls, source: object, line: int, problem: str, state: str = "corrupt") -> DataFormatError:
        """The error for a damaged raw file: where, what, and what to do about it.

        Args:
            source: The file.
            line: 1-based line of the problem.
            problem: What is wrong there.
            state: ``"corrupt"``, ``"truncated"``, or another word for what the file is.
        """
        return cls(f"{source}, line {line}: {problem}; the file is {state} — download or extract it again")


class PrepareError(SkeletonZooError):
    """A dataset preparation cannot go on: the raw folder is incomplete (its counts differ from
    the official ones), or the output folder holds another preparation."""


class DataMismatchError(SkeletonZooError, ValueError):
    """Data was prepared differently from what the model expects (layout, preprocessing)."""


class SkeletonZooWarning(UserWarning):
    """Base class of the warnings skeletonzoo issues on purpose (the CLIs print them as one line)."""


class SlowPrecisionWarning(SkeletonZooWarning):
    """A requested precision runs on slow emulated kernels on this hardware (the result is still
    correct); the message names the faster setting."""


class EmptySampleWarning(SkeletonZooWarning):
    """Prepared clips that hold no skeleton in any frame (written as all-zero samples, as the
    original pipeline writes them), or none where the first person's joint 0 is tracked (no
    frames by the length rule: zeros too); the message names them (a resumed preparation,
    those it parsed after resuming)."""


class DuplicateSampleWarning(SkeletonZooWarning):
    """Samples of a held-out split that are exact copies of training samples (a model trained on
    the training split has seen them); the message names them and the option that leaves them out."""


class InputWarning(SkeletonZooWarning):
    """Input to ``embed`` that looks unlike what the models were trained on (all-zero samples,
    millimetre coordinates, positions normalised already); the features are still computed, the
    message says what to check."""


class CollapsedFeaturesWarning(SkeletonZooWarning):
    """An encoder gives (nearly) the same features for every clip, or non-finite ones, so the
    frozen-feature protocols score near chance; the message says what was found and what usually
    causes it."""


class ResumeWarning(SkeletonZooWarning):
    """A resumed training run goes on, but not bit-identically to an uninterrupted one (e.g. another
    CPU thread count); the message names the setting that keeps it exact."""


class RecipeFitWarning(SkeletonZooWarning):
    """A recipe's settings do not suit the data it is given (e.g. a MoCo queue larger than the
    training set); training goes on, the message says what to change."""
