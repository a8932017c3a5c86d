"""SageMaker's LightGBM hyperparameters, declared as data and checked once.

Names, ranges and defaults are those of SageMaker's built-in LightGBM (its defaults differ
from LightGBM's own: num_leaves 64, max_depth 6, min_data_in_leaf 3, bagging 0.9 every
round). ``objective`` is sagebox's addition: SageMaker picks classification or regression by
model id; here ``auto`` infers it from the labels (see :func:`tabular.infer_problem`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.algorithms.hyperparameters import Param, boolean, choice, floating, integer, validate
from sagebox.algorithms.tabular import metric_definitions
from sagebox.errors import ValidationError

TITLE = "LightGBM"

OBJECTIVES = {
    "binary": "binary",
    "cross_entropy": "binary",
    "multiclass": "multiclass",
    "multiclassova": "multiclass",
    "regression": "regression",
    "regression_l1": "regression",
    "huber": "regression",
    "fair": "regression",
    "poisson": "regression",
    "quantile": "regression",
    "mape": "regression",
    "gamma": "regression",
    "tweedie": "regression",
}

# SageMaker's metric choices, by the problem they apply to.
METRICS = {
    "rmse": "regression",
    "l1": "regression",
    "l2": "regression",
    "huber": "regression",
    "fair": "regression",
    "binary_logloss": "binary",
    "binary_error": "binary",
    "auc": "binary",
    "average_precision": "binary",
    "cross_entropy": "binary",
    "multi_logloss": "multiclass",
    "multi_error": "multiclass",
    "auc_mu": "multiclass",
}
AUTO_METRIC = {"binary": "binary_logloss", "multiclass": "multi_logloss", "regression": "rmse"}

# One line per round, e.g. "[3]\tvalidation's auc: 0.91\ttrain's auc: 0.95": train:auc and
# validation:auc, plus SageMaker's documented bare names ("auc") for the validation value.
METRIC_DEFINITIONS = metric_definitions(METRICS, METRICS)

HYPERPARAMETERS: dict[str, Param] = {
    "num_boost_round": integer(1, default=100),
    "early_stopping_rounds": integer(None, default=10),  # <= 0 turns it off
    "objective": choice("auto", *OBJECTIVES, default="auto"),
    "metric": choice("auto", *METRICS, default="auto"),
    "learning_rate": floating(0, 1, low_open=True, high_open=True, default=0.1),
    "num_leaves": integer(2, high=131072, default=64),
    "feature_fraction": floating(0, 1, low_open=True, default=0.9),
    "bagging_fraction": floating(0, 1, low_open=True, default=0.9),
    "bagging_freq": integer(0, default=1),
    "max_depth": integer(None, default=6),  # <= 0: no limit
    "min_data_in_leaf": integer(0, default=3),
    "max_delta_step": floating(None, default=0.0),
    "lambda_l1": floating(0, default=0.0),
    "lambda_l2": floating(0, default=0.0),
    "boosting": choice("gbdt", "rf", "dart", "goss", default="gbdt"),
    "min_gain_to_split": floating(0, default=0.0),
    "scale_pos_weight": floating(0, low_open=True, default=1.0),
    "tree_learner": choice("serial", "feature", "data", "voting", default="serial"),
    "feature_fraction_bynode": floating(0, 1, low_open=True, default=1.0),
    "is_unbalance": boolean(default=False),
    "max_bin": integer(2, default=255),
    "tweedie_variance_power": floating(1, 2, high_open=True, default=1.5),
    "num_threads": integer(0, default=0),
    "verbosity": integer(None, default=1),
}

_NOT_BOOSTER_PARAMS = frozenset({"num_boost_round", "early_stopping_rounds", "objective", "metric"})


def _fail(message: str) -> ValidationError:
    return ValidationError(f"Invalid {TITLE} hyperparameters: {message}")


def validate_hyperparameters(hp: Mapping[str, str]) -> dict[str, Any]:
    """Check SageMaker-style string hyperparameters; return typed values with defaults."""
    values = validate(TITLE, HYPERPARAMETERS, hp)
    if values["is_unbalance"] and values["scale_pos_weight"] != 1.0:
        raise _fail(
            "is_unbalance=True and scale_pos_weight="
            f"{values['scale_pos_weight']:g} cannot be used together: keep one of them."
        )
    bagging = values["bagging_freq"] > 0 and values["bagging_fraction"] < 1
    explicit_bagging = "bagging_freq" in hp or "bagging_fraction" in hp
    if values["boosting"] == "goss" and explicit_bagging and bagging:
        raise _fail(
            "boosting='goss' samples rows itself and cannot be combined with bagging "
            f"(bagging_freq={values['bagging_freq']}, bagging_fraction="
            f"{values['bagging_fraction']:g}): set bagging_freq=0, or choose boosting='gbdt'."
        )
    if values["boosting"] == "rf" and not bagging and values["feature_fraction"] >= 1:
        raise _fail(
            "boosting='rf' (random forest) needs row or feature sampling: set "
            "bagging_freq >= 1 with bagging_fraction < 1, or feature_fraction < 1."
        )
    objective = values["objective"]
    if objective != "auto":
        check_metric(values["metric"], OBJECTIVES[objective], objective)
    return values


def check_metric(metric: str, problem: str, objective: str) -> None:
    """Refuse a metric that does not apply to the problem the objective solves."""
    if metric != "auto" and METRICS[metric] != problem:
        fitting = sorted(m for m, p in METRICS.items() if p == problem)
        raise _fail(
            f"metric {metric!r} is for {METRICS[metric]} problems, but objective "
            f"{objective!r} solves a {problem} problem. Use one of {', '.join(fitting)} "
            f"(or metric=auto)."
        )


def booster_params(
    hp: Mapping[str, Any], objective: str, num_class: int, explicit: Mapping[str, str]
) -> dict[str, Any]:
    """The parameters handed to ``lightgbm.train`` for a validated hyperparameter set."""
    problem = OBJECTIVES[objective]
    check_metric(hp["metric"], problem, objective)
    params = {k: v for k, v in hp.items() if k not in _NOT_BOOSTER_PARAMS}
    params["objective"] = objective
    params["metric"] = AUTO_METRIC[problem] if hp["metric"] == "auto" else hp["metric"]
    if problem == "multiclass":
        params["num_class"] = num_class
    if hp["boosting"] == "goss" and "bagging_freq" not in explicit:
        params["bagging_freq"] = 0  # SageMaker's default bagging does not apply to GOSS
    return params
