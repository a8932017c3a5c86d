"""SageMaker's XGBoost hyperparameters, declared as data and checked once.

Hyperparameters arrive as strings (as on AWS); :func:`validate_hyperparameters`
turns them into typed values or raises :class:`sagebox.errors.ValidationError`
with a message of the shape "The 'eta' parameter of XGBoost must be a float in
[0, 1]. Got 3 instead."
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sagebox.errors import ValidationError

Kind = Literal["int", "float", "str", "list"]

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


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its type, its valid range or choices, its default."""

    kind: Kind
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None
    required: bool = False

    def describe(self) -> str:
        article = "an" if self.kind == "int" else "a"
        if self.choices and self.kind == "list":
            return f"a comma-separated list of {_one_of(self.choices)}"
        if self.choices:
            return f"a string among {_one_of(self.choices)}"
        if self.kind == "str":
            return "a string"
        if self.low is None and self.high is None:
            return f"{article} {self.kind}"
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        low = "-inf" if self.low is None else _number(self.low)
        high = "inf" if self.high is None else _number(self.high)
        return f"{article} {self.kind} in {left}{low}, {high}{right}"


def _one_of(choices: tuple[str, ...]) -> str:
    return "{" + ", ".join(repr(c) for c in choices) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _int(low: float | None = None, default: Any = None, **kw: Any) -> Param:
    return Param("int", low=low, default=default, **kw)


def _float(
    low: float | None = 0, high: float | None = None, default: Any = None, **kw: Any
) -> Param:
    return Param("float", low=low, high=high, default=default, **kw)


def _choice(*choices: str, default: str | None = None) -> Param:
    return Param("str", choices=choices, default=default)


# Names, types, ranges and defaults of SageMaker's built-in XGBoost (version 1.7+).
HYPERPARAMETERS: dict[str, Param] = {
    "num_round": _int(1, required=True),
    "num_class": _int(1),
    "objective": _choice(*OBJECTIVES, default="reg:squarederror"),
    "eval_metric": Param("list", choices=EVAL_METRICS),
    "early_stopping_rounds": _int(1),
    "booster": _choice("gbtree", "gblinear", "dart", default="gbtree"),
    "eta": _float(0, 1, default=0.3),
    "gamma": _float(default=0.0),
    "max_depth": _int(0, default=6),
    "min_child_weight": _float(default=1.0),
    "max_delta_step": _float(default=0.0),
    "subsample": _float(0, 1, low_open=True, default=1.0),
    "colsample_bytree": _float(0, 1, low_open=True, default=1.0),
    "colsample_bylevel": _float(0, 1, low_open=True, default=1.0),
    "colsample_bynode": _float(0, 1, low_open=True, default=1.0),
    "alpha": _float(default=0.0),
    "lambda": _float(default=1.0),
    "scale_pos_weight": _float(low_open=True, default=1.0),
    "base_score": _float(None, default=None),
    "tree_method": _choice("auto", "exact", "approx", "hist", default="auto"),
    "grow_policy": _choice("depthwise", "lossguide", default="depthwise"),
    "max_leaves": _int(0, default=0),
    "max_bin": _int(2, default=256),
    "num_parallel_tree": _int(1, default=1),
    "sample_type": _choice("uniform", "weighted", default="uniform"),
    "normalize_type": _choice("tree", "forest", default="tree"),
    "rate_drop": _float(0, 1, default=0.0),
    "skip_drop": _float(0, 1, default=0.0),
    "one_drop": _int(0, default=0, high=1),
    "tweedie_variance_power": _float(1, 2, low_open=True, high_open=True, default=1.5),
    "seed": _int(None, default=0),
    "nthread": _int(1),
    "verbosity": _int(0, default=1, high=3),
}

NOT_BOOSTER_PARAMS = frozenset({"num_round", "early_stopping_rounds"})


def _reserved(name: str) -> bool:
    # SageMaker adds its own keys (for example "_tuning_objective_metric" during tuning).
    return name.startswith("_") or name.startswith("sagemaker_")


def _parse(name: str, spec: Param, raw: str) -> Any:
    text = str(raw).strip()

    def bad() -> ValidationError:
        return ValidationError(
            f"The {name!r} parameter of XGBoost must be {spec.describe()}. Got {text} instead."
        )

    if spec.kind == "list":
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items or any(item not in spec.choices for item in items):
            raise bad()
        return items
    if spec.kind == "str":
        if spec.choices and text not in spec.choices:
            raise bad()
        return text
    try:
        number = float(text)
    except ValueError:
        raise bad() from None
    if math.isnan(number) or (spec.kind == "int" and not number.is_integer()):
        raise bad()
    if spec.low is not None and (number < spec.low or (spec.low_open and number == spec.low)):
        raise bad()
    if spec.high is not None and (number > spec.high or (spec.high_open and number == spec.high)):
        raise bad()
    return int(number) if spec.kind == "int" else number


def validate_hyperparameters(hp: Mapping[str, str]) -> dict[str, Any]:
    """Check SageMaker-style string hyperparameters; return typed values with defaults."""
    unknown = sorted(name for name in hp if name not in HYPERPARAMETERS and not _reserved(name))
    if unknown:
        raise ValidationError(
            f"Unknown XGBoost hyperparameter(s) {', '.join(map(repr, unknown))}. "
            f"Valid hyperparameters: {', '.join(sorted(HYPERPARAMETERS))}."
        )
    values: dict[str, Any] = {}
    for name, spec in HYPERPARAMETERS.items():
        if name in hp:
            values[name] = _parse(name, spec, hp[name])
        elif spec.required:
            raise ValidationError(
                f"The {name!r} hyperparameter of XGBoost is required: set it to "
                f"{spec.describe()}, for example {name}=100."
            )
        elif spec.default is not None:
            values[name] = spec.default
    if values["objective"].startswith("multi:") and "num_class" not in values:
        raise ValidationError(
            f"The 'num_class' hyperparameter of XGBoost is required with objective "
            f"{values['objective']!r}: set it to the number of classes (an int in [1, inf))."
        )
    return values
