"""Hyperparameters of the built-in algorithms, declared as data and checked once.

Hyperparameters arrive as strings (as on AWS). Each algorithm declares a table of
:class:`Param` (type, valid range or choices, default); :func:`validate` turns the
strings into typed values or raises :class:`sagebox.errors.ValidationError` with a
message of the shape "The 'eta' parameter of XGBoost must be a float in [0, 1]. Got 3
instead." Keys SageMaker adds itself (``_tuning_objective_metric``, ``sagemaker_*``)
are ignored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from sagebox.errors import ValidationError

Kind = Literal["int", "float", "str", "list", "bool"]

__all__ = ["Kind", "Param", "boolean", "choice", "floating", "integer", "validate"]


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
    # Literal strings accepted as they are besides the typed value, such as SageMaker's
    # 'auto' (Linear Learner: "learning_rate: auto or a positive float").
    words: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.words:
            return (
                " or ".join(repr(w) for w in self.words)
                + " or "
                + replace(self, words=()).describe()
            )
        article = "an" if self.kind == "int" else "a"
        if self.kind == "bool":
            return "a boolean ('true' or 'false')"
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


def integer(low: float | None = None, default: Any = None, **kw: Any) -> Param:
    return Param("int", low=low, default=default, **kw)


def floating(
    low: float | None = 0, high: float | None = None, default: Any = None, **kw: Any
) -> Param:
    return Param("float", low=low, high=high, default=default, **kw)


def choice(*choices: str, default: str | None = None, required: bool = False) -> Param:
    return Param("str", choices=choices, default=default, required=required)


def boolean(default: Any = None, words: tuple[str, ...] = ()) -> Param:
    return Param("bool", default=default, words=words)


def _reserved(name: str) -> bool:
    # SageMaker adds its own keys (for example "_tuning_objective_metric" during tuning).
    return name.startswith("_") or name.startswith("sagemaker_")


def _parse(algorithm: str, name: str, spec: Param, raw: str) -> Any:
    text = str(raw).strip()
    if text in spec.words:
        return text

    def bad() -> ValidationError:
        return ValidationError(
            f"The {name!r} parameter of {algorithm} must be {spec.describe()}. Got {text} instead."
        )

    if spec.kind == "bool":
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise bad()
        return lowered in ("true", "1")
    if spec.kind == "list":
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items or (spec.choices and any(item not in spec.choices for item in items)):
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


def validate(algorithm: str, table: Mapping[str, Param], hp: Mapping[str, str]) -> dict[str, Any]:
    """Check string hyperparameters against ``table``; return typed values with defaults.

    ``algorithm`` is the name used in messages ("XGBoost", "Linear Learner").
    """
    unknown = sorted(name for name in hp if name not in table and not _reserved(name))
    if unknown:
        raise ValidationError(
            f"Unknown {algorithm} hyperparameter(s) {', '.join(map(repr, unknown))}. "
            f"Valid hyperparameters: {', '.join(sorted(table))}."
        )
    values: dict[str, Any] = {}
    for name, spec in table.items():
        if name in hp:
            values[name] = _parse(algorithm, name, spec, hp[name])
        elif spec.required:
            example = spec.choices[0] if spec.choices else "100"
            raise ValidationError(
                f"The {name!r} hyperparameter of {algorithm} is required: set it to "
                f"{spec.describe()}, for example {name}={example}."
            )
        elif spec.default is not None:
            values[name] = spec.default
    return values
