"""SageMaker's XGBoost hyperparameters, declared as data and checked once.

Hyperparameters arrive as strings (as on AWS); :func:`validate_hyperparameters`
turns them into typed values or raises :class:`sagebox.errors.ValidationError`
with a message of the shape "The 'eta' parameter of XGBoost must be a float in
[0, 1]. Got 3 instead."
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sagebox.algorithms.hyperparameters import Param, choice, floating, integer, validate
from sagebox.errors import ValidationError

OBJECTIVES = (
    "binary:logistic",
    "binary:logitraw",
    "binary:hinge",
    "reg:squarederror",
    "reg:squaredlogerror",
    "reg:logistic",
    "reg:pseudohubererror",
    "reg:absoluteerror",
    "reg:tweedie",
    "reg:gamma",
    "multi:softmax",
    "multi:softprob",
    "count:poisson",
    "rank:pairwise",
    "rank:ndcg",
    "rank:map",
    "survival:cox",
)

EVAL_METRICS = (
    "rmse",
    "rmsle",
    "mae",
    "mape",
    "logloss",
    "error",
    "auc",
    "aucpr",
    "mlogloss",
    "merror",
    "ndcg",
    "map",
    "poisson-nloglik",
    "gamma-nloglik",
    "tweedie-nloglik",
    "cox-nloglik",
)


_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"

# One definition per eval set and metric, matching the lines printed after each round:
# "[3]#011train-logloss:0.41231#011validation-auc:0.81234" (#011 is how SageMaker logs a tab).
METRIC_DEFINITIONS: list[dict[str, str]] = [
    {
        "Name": f"{channel}:{metric}",
        "Regex": rf".*\[[0-9]+\].*#011{channel}-{re.escape(metric)}:{_NUMBER}.*",
    }
    for channel in ("train", "validation")
    for metric in EVAL_METRICS
]


# Names, types, ranges and defaults of SageMaker's built-in XGBoost (version 1.7+).
HYPERPARAMETERS: dict[str, Param] = {
    "num_round": integer(1, required=True),
    "num_class": integer(1),
    "objective": choice(*OBJECTIVES, default="reg:squarederror"),
    "eval_metric": Param("list", choices=EVAL_METRICS),
    "early_stopping_rounds": integer(1),
    "booster": choice("gbtree", "gblinear", "dart", default="gbtree"),
    "eta": floating(0, 1, default=0.3),
    "gamma": floating(default=0.0),
    "max_depth": integer(0, default=6),
    "min_child_weight": floating(default=1.0),
    "max_delta_step": floating(default=0.0),
    "subsample": floating(0, 1, low_open=True, default=1.0),
    "colsample_bytree": floating(0, 1, low_open=True, default=1.0),
    "colsample_bylevel": floating(0, 1, low_open=True, default=1.0),
    "colsample_bynode": floating(0, 1, low_open=True, default=1.0),
    "alpha": floating(default=0.0),
    "lambda": floating(default=1.0),
    "scale_pos_weight": floating(low_open=True, default=1.0),
    "base_score": floating(None, default=None),
    "tree_method": choice("auto", "exact", "approx", "hist", default="auto"),
    "grow_policy": choice("depthwise", "lossguide", default="depthwise"),
    "max_leaves": integer(0, default=0),
    "max_bin": integer(2, default=256),
    "num_parallel_tree": integer(1, default=1),
    "sample_type": choice("uniform", "weighted", default="uniform"),
    "normalize_type": choice("tree", "forest", default="tree"),
    "rate_drop": floating(0, 1, default=0.0),
    "skip_drop": floating(0, 1, default=0.0),
    "one_drop": integer(0, default=0, high=1),
    "tweedie_variance_power": floating(1, 2, low_open=True, high_open=True, default=1.5),
    "seed": integer(None, default=0),
    "nthread": integer(1),
    "verbosity": integer(0, default=1, high=3),
}

NOT_BOOSTER_PARAMS = frozenset({"num_round", "early_stopping_rounds"})


def validate_hyperparameters(hp: Mapping[str, str]) -> dict[str, Any]:
    """Check SageMaker-style string hyperparameters; return typed values with defaults."""
    values = validate("XGBoost", HYPERPARAMETERS, hp)
    if values["objective"].startswith("multi:") and "num_class" not in values:
        raise ValidationError(
            f"The 'num_class' hyperparameter of XGBoost is required with objective "
            f"{values['objective']!r}: set it to the number of classes (an int in [1, inf))."
        )
    return values
