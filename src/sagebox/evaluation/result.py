"""The values an evaluation takes and gives: :class:`Costs` in, :class:`Evaluation` out."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sagebox.errors import ValidationError

SCHEMA_VERSION = 1
PROBLEMS = ("binary", "multiclass", "regression")


@dataclass(frozen=True)
class Costs:
    """What each outcome of a binary decision costs, per applicant, in one currency.

    Class 1 is the event to catch (a borrower who defaults); predicting 1 means refusing
    the loan. A false negative approves a borrower who then defaults and usually costs far
    more than a false positive, which refuses a borrower who would have repaid. A negative
    cost is a gain (say ``true_negative=-0.1`` for the margin earned on a good loan).
    """

    false_positive: float = 1.0
    false_negative: float = 1.0
    true_positive: float = 0.0
    true_negative: float = 0.0

    def __post_init__(self) -> None:
        for name in ("false_positive", "false_negative", "true_positive", "true_negative"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValidationError(
                    f"Costs.{name} must be a number; got {value!r} ({type(value).__name__})."
                )
            if not math.isfinite(value):
                raise ValidationError(f"Costs.{name} must be a finite number; got {value!r}.")
            object.__setattr__(self, name, float(value))

    def to_dict(self) -> dict[str, float]:
        return {
            "false_positive": self.false_positive,
            "false_negative": self.false_negative,
            "true_positive": self.true_positive,
            "true_negative": self.true_negative,
        }


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`sagebox.evaluation.evaluate`.

    ``metrics`` holds the headline numbers (``None`` where a metric is undefined for the
    data, e.g. AUC with one class); ``details`` holds the problem's tables and curves,
    already JSON-ready; ``notes`` says in words what was skipped and why.
    """

    problem: str
    n_samples: int
    metrics: dict[str, float | None]
    details: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Everything as plain JSON values (no NaN: undefined numbers are ``None``)."""
        body: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "problem": self.problem,
            "n_samples": self.n_samples,
            "metrics": dict(self.metrics),
            "notes": list(self.notes),
        }
        body.update(self.details)
        cleaned: dict[str, Any] = jsonable(body)
        return cleaned


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays as Python values and NaN/inf as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return jsonable(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    raise TypeError(f"cannot put a {type(value).__name__} into an evaluation's JSON")


def number(value: Any) -> float | None:
    """A metric as a float, or ``None`` where it is NaN or infinite (undefined)."""
    result = float(value)
    return result if math.isfinite(result) else None
