"""SageMaker's Linear Learner hyperparameters and metric definitions, declared as data.

Hyperparameters arrive as strings (as on AWS). Many take ``auto`` besides a number: the
table keeps ``'auto'`` as it is and :mod:`sagebox.algorithms.linear_learner` resolves it
once the data is known. Cross-field rules (``num_classes`` for multiclass, which losses fit
which ``predictor_type``) are checked here, before a job starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.algorithms.hyperparameters import Param, boolean, choice, floating, integer, validate
from sagebox.errors import ValidationError

TITLE = "Linear Learner"
AUTO = ("auto",)

PREDICTOR_TYPES = ("binary_classifier", "multiclass_classifier", "regressor")
LOSSES: dict[str, tuple[str, ...]] = {
    "binary_classifier": ("logistic", "hinge_loss"),
    "multiclass_classifier": ("softmax_loss",),
    "regressor": (
        "squared_loss",
        "absolute_loss",
        "eps_insensitive_squared_loss",
        "eps_insensitive_absolute_loss",
        "quantile_loss",
        "huber_loss",
    ),
}
DEFAULT_LOSS = {
    "binary_classifier": "logistic",
    "multiclass_classifier": "softmax_loss",
    "regressor": "squared_loss",
}
CRITERIA = (
    "accuracy",
    "f_beta",
    "precision_at_target_recall",
    "recall_at_target_precision",
    "loss_function",
)

HYPERPARAMETERS: dict[str, Param] = {
    "predictor_type": choice(*PREDICTOR_TYPES, required=True),
    "num_classes": integer(3, high=1_000_000),
    "feature_dim": integer(1, words=AUTO, default="auto"),
    "accuracy_top_k": integer(1, default=3),
    "balance_multiclass_weights": boolean(False),
    "beta_1": floating(0, 1, high_open=True, words=AUTO, default="auto"),
    "beta_2": floating(0, 1, high_open=True, words=AUTO, default="auto"),
    "bias_lr_mult": floating(0, low_open=True, words=AUTO, default="auto"),
    "bias_wd_mult": floating(0, words=AUTO, default="auto"),
    "binary_classifier_model_selection_criteria": choice(*CRITERIA, default="accuracy"),
    "early_stopping_patience": integer(1, default=3),
    "early_stopping_tolerance": floating(0, low_open=True, default=0.001),
    "epochs": integer(1, default=15),
    "f_beta": floating(0, low_open=True, default=1.0),
    "huber_delta": floating(0, low_open=True, default=1.0),
    "init_bias": floating(None, default=0.0),
    "init_method": choice("uniform", "normal", default="uniform"),
    "init_scale": floating(0, low_open=True, default=0.07),
    "init_sigma": floating(0, low_open=True, default=0.01),
    "l1": floating(0, words=AUTO, default="auto"),
    "learning_rate": floating(0, low_open=True, words=AUTO, default="auto"),
    "loss": choice("auto", *sorted({n for v in LOSSES.values() for n in v}), default="auto"),
    "loss_insensitivity": floating(0, low_open=True, default=0.01),
    "lr_scheduler_factor": floating(0, 1, low_open=True, words=AUTO, default="auto"),
    "lr_scheduler_minimum_lr": floating(0, low_open=True, words=AUTO, default="auto"),
    "lr_scheduler_step": integer(1, words=AUTO, default="auto"),
    "margin": floating(0, low_open=True, default=1.0),
    "mini_batch_size": integer(1, default=1000),
    "momentum": floating(0, 1, high_open=True, words=AUTO, default="auto"),
    "normalize_data": boolean(True, words=AUTO),
    "normalize_label": boolean("auto", words=AUTO),
    "num_calibration_samples": integer(1, words=AUTO, default="auto"),
    "num_models": integer(1, words=AUTO, default="auto"),
    "num_point_for_scaler": integer(1, default=10000),
    "optimizer": choice("auto", "sgd", "adam", "rmsprop", default="auto"),
    "positive_example_weight_mult": floating(
        0, low_open=True, words=("auto", "balanced"), default=1.0
    ),
    "quantile": floating(0, 1, low_open=True, high_open=True, default=0.5),
    "target_precision": floating(0, 1, low_open=True, default=0.8),
    "target_recall": floating(0, 1, low_open=True, default=0.8),
    "unbias_data": boolean("auto", words=AUTO),
    "unbias_label": boolean("auto", words=AUTO),
    "use_bias": boolean(True),
    "use_lr_scheduler": boolean(True),
    "wd": floating(0, words=AUTO, default="auto"),
}


def validate_hyperparameters(hp: Mapping[str, str]) -> dict[str, Any]:
    """Typed values with defaults; cross-field rules checked; raise ValidationError."""
    values = validate(TITLE, HYPERPARAMETERS, hp)
    kind = values["predictor_type"]
    if kind == "multiclass_classifier" and "num_classes" not in values:
        raise ValidationError(
            "The 'num_classes' hyperparameter of Linear Learner is required when "
            "predictor_type is multiclass_classifier: set it to the number of classes "
            "(an int in [3, 1000000]; labels are 0..num_classes-1), for example num_classes=3."
        )
    if values["loss"] == "auto":
        values["loss"] = DEFAULT_LOSS[kind]
    elif values["loss"] not in LOSSES[kind]:
        raise ValidationError(
            f"The 'loss' {values['loss']!r} does not fit predictor_type {kind!r}. "
            f"Use one of {', '.join(('auto', *LOSSES[kind]))}."
        )
    if "_tuning_objective_metric" in hp:
        # As on SageMaker: under automatic model tuning the internal grid is turned off.
        values["num_models"] = 1
    return values


# --- metrics ------------------------------------------------------------------------------
# SageMaker's own regexes for the lines Linear Learner logs: per epoch
#   #quality_metric: host=algo-1, epoch=3, validation mse_objective <loss>=0.41
# and once at the end, for the selected model
#   #quality_metric: host=algo-1, validation binary_classification_accuracy <score>=0.87

_SCORES = (
    "binary_classification_accuracy",
    "precision",
    "recall",
    "roc_auc_score",
    "multiclass_accuracy",
    "macro_precision",
    "macro_recall",
    "dcg",
)
_LOSSES = ("mse", "absolute_loss")


def _metric_definitions() -> list[dict[str, str]]:
    host = r"#quality_metric: host=\S+,"
    found: list[dict[str, str]] = []
    for channel in ("train", "validation"):
        found.append(
            {
                "Name": f"{channel}:objective_loss",
                "Regex": rf"{host} epoch=\S+, {channel} \S+_objective <loss>=(\S+)",
            }
        )
    for channel in ("train", "validation", "test"):
        found.append(
            {
                "Name": f"{channel}:objective_loss:final"
                if channel != "test"
                else "test:objective_loss",
                "Regex": rf"{host} {channel} \S+_objective <loss>=(\S+)",
            }
        )
        found += [
            {"Name": f"{channel}:{n}", "Regex": rf"{host} {channel} {n} <score>=(\S+)"}
            for n in _SCORES
        ]
        found += [
            {"Name": f"{channel}:{n}", "Regex": rf"{host} {channel} {n} <loss>=(\S+)"}
            for n in _LOSSES
        ]
        found += [
            {
                "Name": f"{channel}:binary_f_beta",
                "Regex": rf"{host} {channel} binary_f_\S+ <score>=(\S+)",
            },
            {
                "Name": f"{channel}:macro_f_beta",
                "Regex": rf"{host} {channel} macro_f_\S+ <score>=(\S+)",
            },
            {
                "Name": f"{channel}:multiclass_top_k_accuracy",
                "Regex": rf"{host} {channel} multiclass_top_k_accuracy_\S+ <score>=(\S+)",
            },
        ]
    found.append(
        {"Name": "train:progress", "Regex": r"#progress_metric: host=\S+, completed (\S+) %"}
    )
    found.append(
        {
            "Name": "train:throughput",
            "Regex": r"#throughput_metric: host=\S+, train throughput=(\S+) records/second",
        }
    )
    return found


METRIC_DEFINITIONS: list[dict[str, str]] = _metric_definitions()
