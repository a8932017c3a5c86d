"""``ParameterRanges``: parsing, validation, scaling and AWS-style value strings.

The limits are AWS's: at most 30 tunable hyperparameters in all (the three lists
together), at most 30 values per categorical range, at most 100 hyperparameters static
plus tunable. Logarithmic scaling needs a range above 0; ReverseLogarithmic is for
continuous ranges entirely within 0 <= x < 1.

``Auto`` scaling resolves to Logarithmic when the range is above 0 and spans at least two
orders of magnitude (max / min >= 100), else to Linear (see :func:`effective_scaling`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sagebox.errors import ValidationError
from sagebox.tuning._base import ParameterKind, ParameterRange, ScalingType

MAX_TUNABLE = 30  # AWS: "Number of hyperparameters that can be searched"
MAX_CATEGORICAL_VALUES = 30  # AWS: each categorical hyperparameter has at most 30 values
MAX_HYPERPARAMETERS = 100  # AWS: static + tunable
MAX_TRAINING_JOBS = 750  # AWS: training jobs per tuning job (parents' jobs count for warm start)
AUTO_LOG_SPAN = 100.0  # Auto picks Logarithmic when max / min reaches this

Scaling = Literal["Linear", "Logarithmic", "ReverseLogarithmic"]
_SCALINGS: tuple[ScalingType, ...] = ("Auto", "Linear", "Logarithmic", "ReverseLogarithmic")
_LISTS: tuple[tuple[str, ParameterKind], ...] = (
    ("ContinuousParameterRanges", "Continuous"),
    ("IntegerParameterRanges", "Integer"),
    ("CategoricalParameterRanges", "Categorical"),
)

__all__ = [
    "MAX_CATEGORICAL_VALUES",
    "MAX_HYPERPARAMETERS",
    "MAX_TRAINING_JOBS",
    "MAX_TUNABLE",
    "check_static",
    "contains",
    "effective_scaling",
    "format_value",
    "from_unit",
    "parse_ranges",
    "parse_value",
    "to_unit",
]


def parse_ranges(parameter_ranges: Mapping[str, Any] | None) -> list[ParameterRange]:
    """The API's ``ParameterRanges`` as validated :class:`ParameterRange` values."""
    parameter_ranges = parameter_ranges or {}
    ranges: list[ParameterRange] = []
    for key, kind in _LISTS:
        for item in parameter_ranges.get(key) or ():
            ranges.append(_parse_one(item, kind, key))
    seen: dict[str, ParameterKind] = {}
    for r in ranges:
        if r.name in seen:
            raise ValidationError(
                f"The hyperparameter {r.name!r} appears more than once in ParameterRanges "
                f"(as {seen[r.name]} and {r.kind}). Give each tunable hyperparameter one range."
            )
        seen[r.name] = r.kind
    if len(ranges) > MAX_TUNABLE:
        raise ValidationError(
            f"ParameterRanges defines {len(ranges)} tunable hyperparameters; a tuning job can "
            f"search at most {MAX_TUNABLE}. Make some of them static hyperparameters."
        )
    return ranges


def check_static(ranges: Sequence[ParameterRange], static: Mapping[str, str] | None) -> None:
    """Refuse a name both static and tunable, and more than 100 hyperparameters in all."""
    static = static or {}
    both = sorted(r.name for r in ranges if r.name in static)
    if both:
        raise ValidationError(
            f"The hyperparameters {both} are in both StaticHyperParameters and "
            "ParameterRanges. A hyperparameter is either static or tunable: remove it from "
            "one of them."
        )
    total = len(static) + len(ranges)
    if total > MAX_HYPERPARAMETERS:
        raise ValidationError(
            f"The tuning job has {total} hyperparameters ({len(static)} static + "
            f"{len(ranges)} tunable); at most {MAX_HYPERPARAMETERS} are allowed."
        )


def effective_scaling(r: ParameterRange) -> Scaling:
    """The scale the search uses: the range's own, or Auto resolved (module docstring)."""
    if r.kind == "Categorical":
        return "Linear"
    if r.scaling != "Auto":
        return r.scaling
    low, high = _bounds(r)
    if low > 0 and high / low >= AUTO_LOG_SPAN:
        return "Logarithmic"
    return "Linear"


def to_unit(r: ParameterRange, value: float) -> float:
    """Where ``value`` sits in the range, on the range's scale: 0 at MinValue, 1 at MaxValue."""
    low, high = _bounds(r)
    if high == low:
        return 0.0
    scaling = effective_scaling(r)
    if scaling == "Logarithmic":
        return (math.log(value) - math.log(low)) / (math.log(high) - math.log(low))
    if scaling == "ReverseLogarithmic":
        # log-uniform in 1 - x: equal room for 0.9..0.99 and 0.99..0.999
        a, b = math.log(1.0 - low), math.log(1.0 - high)
        return (math.log(1.0 - value) - a) / (b - a)
    return (value - low) / (high - low)


def from_unit(r: ParameterRange, u: float) -> float | int:
    """The inverse of :func:`to_unit`; integer ranges round to the nearest integer in range."""
    low, high = _bounds(r)
    u = min(1.0, max(0.0, u))
    scaling = effective_scaling(r)
    if scaling == "Logarithmic":
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    elif scaling == "ReverseLogarithmic":
        a, b = math.log(1.0 - low), math.log(1.0 - high)
        value = 1.0 - math.exp(a + u * (b - a))
    else:
        value = low + u * (high - low)
    value = min(high, max(low, value))
    if r.kind == "Integer":
        return min(int(high), max(int(low), round(value)))
    return value


def format_value(r: ParameterRange, value: Any) -> str:
    """A value as the hyperparameter string AWS passes to the training job.

    Integers as ``"5"``; floats as the shortest text of the value rounded to 12
    significant digits (``"0.3"``, ``"1e-05"``, ``"5.0"``), so no ``0.30000000000000004``;
    categorical values as given.
    """
    if r.kind == "Categorical":
        return str(value)
    if r.kind == "Integer":
        return str(round(float(value)))
    exact = float(value)
    short = float(f"{exact:.12g}")
    low, high = r.min_value, r.max_value
    if low is not None and high is not None and not low <= short <= high:
        short = exact  # rounding must not take the value out of its range
    return repr(short)


def parse_value(r: ParameterRange, text: str) -> float | int | str:
    """A hyperparameter string as the range's type (raises ValidationError if it is not)."""
    if r.kind == "Categorical":
        return text
    number = _number(text, r.kind, r.name, "value")
    return int(number) if r.kind == "Integer" else number


def contains(r: ParameterRange, text: str) -> bool:
    """Whether the hyperparameter string ``text`` is a value of this range."""
    if r.kind == "Categorical":
        return text in r.values
    try:
        value = parse_value(r, text)
    except ValidationError:
        return False
    low, high = _bounds(r)
    assert not isinstance(value, str)
    return low <= value <= high


def _parse_one(item: Mapping[str, Any], kind: ParameterKind, key: str) -> ParameterRange:
    name = item.get("Name")
    if not isinstance(name, str) or not name:
        raise ValidationError(f"Every entry of {key} needs a Name. Got {dict(item)!r}.")
    if kind == "Categorical":
        values = tuple(str(v) for v in item.get("Values") or ())
        if not values:
            raise ValidationError(
                f"The categorical hyperparameter {name!r} has no Values. Give 1 to "
                f"{MAX_CATEGORICAL_VALUES} values."
            )
        if len(values) > MAX_CATEGORICAL_VALUES:
            raise ValidationError(
                f"The categorical hyperparameter {name!r} has {len(values)} values; at most "
                f"{MAX_CATEGORICAL_VALUES} are allowed. Search fewer values, or make it an "
                "integer or continuous range."
            )
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise ValidationError(
                f"The categorical hyperparameter {name!r} lists {duplicates} more than once. "
                "List each value once."
            )
        return ParameterRange(name=name, kind=kind, values=values)

    low = _number(item.get("MinValue"), kind, name, "MinValue")
    high = _number(item.get("MaxValue"), kind, name, "MaxValue")
    scaling = item.get("ScalingType") or "Auto"
    if scaling not in _SCALINGS:
        raise ValidationError(
            f"ScalingType {scaling!r} of hyperparameter {name!r} is not valid. Valid values: "
            f"{', '.join(_SCALINGS)}."
        )
    if low > high:
        raise ValidationError(
            f"MinValue {item.get('MinValue')!r} of hyperparameter {name!r} is greater than its "
            f"MaxValue {item.get('MaxValue')!r}. Give MinValue <= MaxValue."
        )
    if scaling == "Logarithmic" and low <= 0:
        raise ValidationError(
            f"Hyperparameter {name!r} uses Logarithmic scaling with MinValue "
            f"{item.get('MinValue')!r}; logarithmic scaling works only for ranges whose values "
            "are all greater than 0. Raise MinValue above 0 or use Linear scaling."
        )
    if scaling == "ReverseLogarithmic":
        if kind == "Integer":
            raise ValidationError(
                f"Integer hyperparameter {name!r} uses ReverseLogarithmic scaling, which is "
                "supported only for continuous ranges. Use Auto, Linear or Logarithmic."
            )
        if low < 0 or high >= 1:
            raise ValidationError(
                f"Hyperparameter {name!r} uses ReverseLogarithmic scaling with range "
                f"[{item.get('MinValue')}, {item.get('MaxValue')}]; reverse logarithmic "
                "scaling works only for ranges entirely within 0 <= x < 1.0."
            )
    return ParameterRange(name=name, kind=kind, min_value=low, max_value=high, scaling=scaling)


def _number(text: Any, kind: ParameterKind, name: str, field: str) -> float:
    what = "an integer" if kind == "Integer" else "a number"
    try:
        number = int(str(text).strip()) if kind == "Integer" else float(str(text).strip())
    except (TypeError, ValueError):
        raise ValidationError(
            f"{field} of {kind.lower()} hyperparameter {name!r} must be {what} as a string. "
            f"Got {text!r}."
        ) from None
    if not math.isfinite(number):
        raise ValidationError(
            f"{field} of hyperparameter {name!r} must be a finite number. Got {text!r}."
        )
    return float(number)


def _bounds(r: ParameterRange) -> tuple[float, float]:
    if r.min_value is None or r.max_value is None:
        raise ValidationError(f"The {r.kind.lower()} hyperparameter {r.name!r} has no bounds.")
    return r.min_value, r.max_value
