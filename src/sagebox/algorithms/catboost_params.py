"""SageMaker's CatBoost hyperparameters, declared as data and checked once.

Names, ranges and defaults are those of SageMaker's built-in CatBoost (learning_rate 0.009,
500 iterations, early stopping after 5 rounds). ``loss_function`` is sagebox's addition:
SageMaker picks classification or regression by model id; here ``auto`` infers it from the
labels (see :func:`tabular.infer_problem`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.algorithms.hyperparameters import Param, choice, floating, integer, validate
from sagebox.algorithms.tabular import metric_definitions
from sagebox.errors import ValidationError

TITLE = "CatBoost"

LOSS_FUNCTIONS = {
    "Logloss": "binary",
    "CrossEntropy": "binary",
    "MultiClass": "multiclass",
    "MultiClassOneVsAll": "multiclass",
    "RMSE": "regression",
    "MAE": "regression",
    "MAPE": "regression",
    "Poisson": "regression",
    "Quantile": "regression",
    "LogLinQuantile": "regression",
    "LogCosh": "regression",
}
# Losses whose raw prediction is a logarithm of the target.
EXPONENT_LOSSES = frozenset({"Poisson", "LogLinQuantile"})

_BINARY = (
    "AUC",
    "Logloss",
    "CrossEntropy",
    "Precision",
    "Recall",
    "F1",
    "BalancedAccuracy",
    "BrierScore",
    "PRAUC",
)
_ANY_CLASSES = ("Accuracy", "MCC", "Kappa")
_MULTICLASS = ("MultiClass", "MultiClassOneVsAll", "TotalF1", "HammingLoss", "ZeroOneLoss")
_REGRESSION = (
    "RMSE",
    "MAE",
    "MAPE",
    "R2",
    "MSLE",
    "MedianAbsoluteError",
    "SMAPE",
    "Poisson",
    "Quantile",
    "LogLinQuantile",
    "LogCosh",
)
EVAL_METRICS: dict[str, tuple[str, ...]] = {
    **{m: ("binary",) for m in _BINARY},
    **{m: ("binary", "multiclass") for m in _ANY_CLASSES},
    **{m: ("multiclass",) for m in _MULTICLASS},
    **{m: ("regression",) for m in _REGRESSION},
}
EVAL_METRICS["AUC"] = ("binary", "multiclass")
AUTO_LOSS = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}
AUTO_METRIC = {"binary": "AUC", "multiclass": "MultiClass", "regression": "RMSE"}

# The metric names SageMaker documents for CatBoost tuning (there read from "bestTest = ...").
SAGEMAKER_METRICS = (
    "RMSE",
    "MAE",
    "MedianAbsoluteError",
    "R2",
    "Logloss",
    "Precision",
    "Recall",
    "F1",
    "AUC",
    "MultiClass",
    "Accuracy",
    "BalancedAccuracy",
)

# One line per iteration, e.g. "[3]\tvalidation's AUC: 0.91\ttrain's Logloss: 0.41".
METRIC_DEFINITIONS = metric_definitions(EVAL_METRICS, SAGEMAKER_METRICS)

HYPERPARAMETERS: dict[str, Param] = {
    "iterations": integer(1, default=500),
    "early_stopping_rounds": integer(None, default=5),  # <= 0 turns it off
    "loss_function": choice("auto", *LOSS_FUNCTIONS, default="auto"),
    "eval_metric": choice("auto", *EVAL_METRICS, default="auto"),
    "learning_rate": floating(0, 1, low_open=True, high_open=True, default=0.009),
    "depth": integer(1, high=16, default=6),
    # SageMaker documents a positive integer; CatBoost takes any non-negative number.
    "l2_leaf_reg": floating(0, default=3.0),
    "random_strength": floating(0, default=1.0),
    "max_leaves": integer(2, high=64, default=31),
    "rsm": floating(0, 1, low_open=True, default=1.0),
    "sampling_frequency": choice("PerTreeLevel", "PerTree", default="PerTreeLevel"),
    "min_data_in_leaf": integer(1, default=1),
    "bagging_temperature": floating(0, default=1.0),
    "boosting_type": choice("Plain", "Ordered", default="Plain"),
    "scale_pos_weight": floating(0, low_open=True, default=1.0),
    "max_bin": integer(1, high=65535, default=254),
    "grow_policy": choice("SymmetricTree", "Depthwise", "Lossguide", default="SymmetricTree"),
    "random_seed": integer(0, default=1),
    "thread_count": integer(-1, default=-1),
    "verbose": integer(0, default=1),
}


def _fail(message: str) -> ValidationError:
    return ValidationError(f"Invalid {TITLE} hyperparameters: {message}")


def validate_hyperparameters(hp: Mapping[str, str]) -> dict[str, Any]:
    """Check SageMaker-style string hyperparameters; return typed values with defaults."""
    values = validate(TITLE, HYPERPARAMETERS, hp)
    if values["thread_count"] == 0:
        raise ValidationError(
            f"The 'thread_count' parameter of {TITLE} must be -1 (all cores) or a positive "
            f"int. Got 0 instead."
        )
    policy = values["grow_policy"]
    if values["boosting_type"] == "Ordered" and policy != "SymmetricTree":
        raise _fail(
            f"boosting_type='Ordered' works only with grow_policy='SymmetricTree'; got "
            f"grow_policy={policy!r}. Use boosting_type='Plain' or the symmetric trees."
        )
    if policy == "Lossguide" and hp.get("sampling_frequency") == "PerTreeLevel":
        raise _fail(
            "sampling_frequency='PerTreeLevel' is not supported with grow_policy='Lossguide'; "
            "use sampling_frequency='PerTree'."
        )
    if values["loss_function"] != "auto":
        check_metric(values["eval_metric"], values["loss_function"])
    return values


def check_metric(metric: str, loss: str) -> None:
    """Refuse an eval_metric that does not apply to the problem the loss solves."""
    problem = LOSS_FUNCTIONS[loss]
    clash = {"MultiClass": "MultiClassOneVsAll", "MultiClassOneVsAll": "MultiClass"}
    if metric == "auto":
        return
    if problem not in EVAL_METRICS[metric] or clash.get(loss) == metric:
        fitting = sorted(
            m for m, kinds in EVAL_METRICS.items() if problem in kinds and clash.get(loss) != m
        )
        raise _fail(
            f"eval_metric {metric!r} does not apply to loss_function {loss!r}, which solves a "
            f"{problem} problem. Use one of {', '.join(fitting)} (or eval_metric=auto)."
        )


def catboost_params(
    hp: Mapping[str, Any], loss: str, num_class: int, explicit: Mapping[str, str]
) -> dict[str, Any]:
    """The parameters of ``catboost.CatBoost`` for a validated hyperparameter set."""
    problem = LOSS_FUNCTIONS[loss]
    check_metric(hp["eval_metric"], loss)
    metric = hp["eval_metric"]
    if metric == "auto":
        metric = "MultiClassOneVsAll" if loss == "MultiClassOneVsAll" else AUTO_METRIC[problem]
    policy = hp["grow_policy"]
    params: dict[str, Any] = {
        "loss_function": loss,
        "eval_metric": metric,
        "learning_rate": hp["learning_rate"],
        "depth": hp["depth"],
        "l2_leaf_reg": hp["l2_leaf_reg"],
        "random_strength": hp["random_strength"],
        "rsm": hp["rsm"],
        "boosting_type": hp["boosting_type"],
        "border_count": hp["max_bin"],
        "grow_policy": policy,
        "random_seed": hp["random_seed"],
        "thread_count": hp["thread_count"],
        "sampling_frequency": "PerTree" if policy == "Lossguide" else hp["sampling_frequency"],
    }
    if policy == "Lossguide":
        params["max_leaves"] = hp["max_leaves"]
    if policy != "SymmetricTree":
        params["min_data_in_leaf"] = hp["min_data_in_leaf"]
    if "bagging_temperature" in explicit:  # the Bayesian bootstrap is what it tunes
        params["bootstrap_type"] = "Bayesian"
        params["bagging_temperature"] = hp["bagging_temperature"]
    if problem == "binary" and loss == "Logloss":
        params["scale_pos_weight"] = hp["scale_pos_weight"]
    elif hp["scale_pos_weight"] != 1.0:
        raise _fail(
            f"scale_pos_weight weighs the positive class of a binary Logloss model; "
            f"loss_function {loss!r} has none. Remove scale_pos_weight."
        )
    if loss != "CrossEntropy" and problem != "regression":  # CrossEntropy takes probabilities
        params["class_names"] = list(range(num_class))
    return params
