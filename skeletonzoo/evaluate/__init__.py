"""Evaluation protocols: linear probe, kNN, fine-tuning, semi-supervised (1 % / 10 % labels).

Every protocol reads normalised positions (a prepared directory, ``skeletonzoo.data``) and
gets its features through :func:`skeletonzoo.features.extract_features`. Results are
accuracies in percent; the trained protocols report the last epoch and the best test epoch.
``docs/evaluation.md`` lists every hyper-parameter; ``skeletonzoo-eval`` is the command line.
"""

from .finetune import MSMCLR_FINETUNE_RECIPE, FineTuned, FinetuneRecipe, finetune
from .knn import KNNConfig, knn_evaluate, knn_scores
from .linear import LinearProbe, LinearRecipe, linear_probe, linear_probe_encoder, train_linear_classifier
from .results import EpochScore, KNNResult, MetricRecord, ProtocolResult
from .run import PROTOCOLS, EvalModel, EvalSettings, EvaluationReport, evaluate_model, load_eval_model
from .semi import (
    SEMI_FINETUNE_RECIPE,
    class_balanced_subset,
    fraction_name,
    semi_supervised_finetune,
    semi_supervised_linear,
)
from .sources import CachedFeatures, EncoderFeatures, FeatureSource

__all__ = [
    "LinearRecipe",
    "LinearProbe",
    "linear_probe",
    "linear_probe_encoder",
    "train_linear_classifier",
    "KNNConfig",
    "knn_evaluate",
    "knn_scores",
    "FinetuneRecipe",
    "MSMCLR_FINETUNE_RECIPE",
    "FineTuned",
    "finetune",
    "SEMI_FINETUNE_RECIPE",
    "class_balanced_subset",
    "fraction_name",
    "semi_supervised_linear",
    "semi_supervised_finetune",
    "FeatureSource",
    "CachedFeatures",
    "EncoderFeatures",
    "EpochScore",
    "ProtocolResult",
    "KNNResult",
    "MetricRecord",
    "PROTOCOLS",
    "EvalModel",
    "EvalSettings",
    "EvaluationReport",
    "load_eval_model",
    "evaluate_model",
]
