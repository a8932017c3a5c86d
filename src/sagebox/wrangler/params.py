"""Parameter constraints, declared as data by each transform and checked once.

A transform lists its parameters' constraints in ``parameter_constraints`` and their
defaults in its ``__init__`` signature (one place each, as scikit-learn does).
:func:`validate_parameters` checks a step's parameters against both and returns them
complete, so a transform's constructor only stores values that are known to be good.
Messages read "The 'strategy' parameter of HandleMissing must be one of mean, median,
mode, constant. Got 'avg' instead."
"""

from __future__ import annotations

import abc
import inspect
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sagebox.errors import ValidationError


class Constraint(abc.ABC):
    """One rule a parameter's value must satisfy; ``describe`` completes "must be ..."."""

    @abc.abstractmethod
    def check(self, value: Any) -> bool: ...

    @abc.abstractmethod
    def describe(self) -> str: ...


@dataclass(frozen=True)
class Options(Constraint):
    values: tuple[Any, ...]

    def check(self, value: Any) -> bool:
        return isinstance(value, str | bool | int | float | None) and value in self.values

    def describe(self) -> str:
        return "one of " + ", ".join(str(v) for v in self.values)


@dataclass(frozen=True)
class Interval(Constraint):
    """A number in a range; ``integer`` refuses floats (and bools, which are ints)."""

    low: float | None = None
    high: float | None = None
    integer: bool = False
    closed: str = "both"  # "both", "left", "right" or "neither"

    def check(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return False
        if self.integer and not isinstance(value, numbers.Integral):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        number = float(value)
        low_open = self.closed in ("right", "neither")
        high_open = self.closed in ("left", "neither")
        if self.low is not None and (number < self.low or (number == self.low and low_open)):
            return False
        return not (
            self.high is not None and (number > self.high or (number == self.high and high_open))
        )

    def describe(self) -> str:
        kind = "an int" if self.integer else "a float"
        if self.low is None and self.high is None:
            return kind
        if self.high is None:
            sign = ">=" if self.closed in ("both", "left") else ">"
            return f"{kind} {sign} {_num(self.low)}"
        if self.low is None:
            sign = "<=" if self.closed in ("both", "right") else "<"
            return f"{kind} {sign} {_num(self.high)}"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"{kind} in {left}{_num(self.low)}, {_num(self.high)}{right}"


def _num(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


@dataclass(frozen=True)
class Text(Constraint):
    """A string; ``nonempty`` refuses ''."""

    nonempty: bool = True

    def check(self, value: Any) -> bool:
        return isinstance(value, str) and (bool(value) or not self.nonempty)

    def describe(self) -> str:
        return "a non-empty string" if self.nonempty else "a string"


@dataclass(frozen=True)
class Boolean(Constraint):
    def check(self, value: Any) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "a boolean (true or false)"


@dataclass(frozen=True)
class Scalar(Constraint):
    """A JSON scalar: string, number or boolean."""

    def check(self, value: Any) -> bool:
        return isinstance(value, str | bool | int | float)

    def describe(self) -> str:
        return "a string, number or boolean"


@dataclass(frozen=True)
class TextList(Constraint):
    """A list of non-empty strings, without repeats; ``min_length`` items at least."""

    min_length: int = 1

    def check(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) >= self.min_length
            and all(isinstance(v, str) and v for v in value)
            and len(set(value)) == len(value)
        )

    def describe(self) -> str:
        many = f"at least {self.min_length} " if self.min_length > 1 else ""
        return f"a list of {many}distinct column names (non-empty strings)"


@dataclass(frozen=True)
class ScalarList(Constraint):
    """A list of strings or numbers (cut-off values, for example)."""

    min_length: int = 1

    def check(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) >= self.min_length
            and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
        )

    def describe(self) -> str:
        return "a non-empty list of strings or numbers"


@dataclass(frozen=True)
class TextMapping(Constraint):
    """A non-empty object from names to strings (``{"old": "new"}``)."""

    values: tuple[str, ...] | None = None  # the allowed values, when they are a closed set

    def check(self, value: Any) -> bool:
        return (
            isinstance(value, Mapping)
            and bool(value)
            and all(isinstance(k, str) and k for k in value)
            and all(isinstance(v, str) and v for v in value.values())
            and (self.values is None or all(v in self.values for v in value.values()))
        )

    def describe(self) -> str:
        if self.values is None:
            return "a non-empty object from column names to names"
        return "a non-empty object from column names to one of " + ", ".join(self.values)


@dataclass(frozen=True)
class Fractions(Constraint):
    """An object from names to fractions in (0, 1] that add up to 1."""

    def check(self, value: Any) -> bool:
        if not isinstance(value, Mapping) or len(value) < 1:
            return False
        if not all(isinstance(k, str) and k for k in value):
            return False
        numbers_only = all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 1
            for v in value.values()
        )
        return numbers_only and math.isclose(sum(value.values()), 1.0, abs_tol=1e-9)

    def describe(self) -> str:
        return (
            "an object from split names to fractions in (0, 1] adding up to 1, "
            'e.g. {"train": 0.8, "test": 0.2}'
        )


@dataclass(frozen=True)
class Optional(Constraint):
    """``None`` or what ``inner`` allows."""

    inner: Constraint

    def check(self, value: Any) -> bool:
        return value is None or self.inner.check(value)

    def describe(self) -> str:
        return f"{self.inner.describe()} or null"


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else _json_like(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _json_like(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def parameter_error(owner: str, name: str, must: str, value: Any) -> ValidationError:
    return ValidationError(
        f"The {name!r} parameter of {owner} must be {must}. Got {_show(value)} instead."
    )


def defaults_of(cls: type) -> dict[str, Any]:
    """The keyword parameters of ``cls.__init__`` with their defaults (``REQUIRED`` if none)."""
    signature = inspect.signature(cls.__init__)  # type: ignore[misc]
    return {
        name: (REQUIRED if p.default is inspect.Parameter.empty else p.default)
        for name, p in signature.parameters.items()
        if name != "self" and p.kind is inspect.Parameter.KEYWORD_ONLY
    }


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


def validate_parameters(
    owner: str,
    constraints: Mapping[str, Constraint],
    defaults: Mapping[str, Any],
    given: Mapping[str, Any],
) -> dict[str, Any]:
    """Check ``given`` against ``constraints``; returns every parameter, defaults filled in."""
    unknown = sorted(set(given) - set(constraints))
    if unknown:
        raise ValidationError(
            f"{owner} has no parameter {', '.join(repr(u) for u in unknown)}. "
            f"Its parameters are: {', '.join(constraints)}."
        )
    values: dict[str, Any] = {}
    for name, constraint in constraints.items():
        if name in given:
            value = given[name]
        elif defaults.get(name, REQUIRED) is REQUIRED:
            raise ValidationError(
                f"The {name!r} parameter of {owner} is required: it must be "
                f"{constraint.describe()}."
            )
        else:
            value = defaults[name]
        if isinstance(value, tuple):
            value = list(value)
        if not constraint.check(value):
            raise parameter_error(owner, name, constraint.describe(), value)
        values[name] = value
    return values


def require_when(
    owner: str, values: Mapping[str, Any], name: str, condition: str, present: bool = True
) -> None:
    """A cross-parameter rule: ``name`` must be set (or unset) ``condition`` ('when ...')."""
    if present and values.get(name) is None:
        raise ValidationError(f"The {name!r} parameter of {owner} is required {condition}.")
    if not present and values.get(name) is not None:
        raise ValidationError(
            f"The {name!r} parameter of {owner} is not used {condition}; remove it."
        )


def as_list(value: Sequence[str] | None) -> list[str] | None:
    return None if value is None else list(value)
