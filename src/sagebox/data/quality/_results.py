"""The immutable results of profiling: what :mod:`.profile` returns and insights read."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import pandas as pd

Kind = Literal["numeric", "boolean", "categorical", "datetime", "list", "struct", "binary", "other"]
QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


@dataclass(frozen=True)
class ProfileConfig:
    """Bounds on the state a profile keeps, whatever the size of the input.

    Memory is about ``columns x (distinct_exact_cap x 8 + reservoir_size x 16 + 2**hll_precision
    + top_values entries) + duplicate_cap x 8`` bytes plus ``sample_rows`` rows.
    """

    distinct_exact_cap: int = 50_000
    hll_precision: int = 14
    reservoir_size: int = 10_000
    top_values: int = 1_000
    duplicate_cap: int = 2_000_000
    sample_rows: int = 50_000
    histogram_bins: int = 20
    rare_share: float = 0.005
    seed: int = 0

    def __post_init__(self) -> None:
        from sagebox.errors import ValidationError

        for name in (
            "distinct_exact_cap",
            "reservoir_size",
            "top_values",
            "duplicate_cap",
            "sample_rows",
            "histogram_bins",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValidationError(
                    f"The '{name}' parameter of ProfileConfig must be an int >= 1. "
                    f"Got {value!r} instead."
                )
        if not 4 <= self.hll_precision <= 18:
            raise ValidationError(
                "The 'hll_precision' parameter of ProfileConfig must be an int in [4, 18]. "
                f"Got {self.hll_precision!r} instead."
            )
        if not 0 <= self.rare_share < 1:
            raise ValidationError(
                "The 'rare_share' parameter of ProfileConfig must be a float in [0, 1). "
                f"Got {self.rare_share!r} instead."
            )


@dataclass(frozen=True)
class NumericSummary:
    """Moments of the finite values (exact) and quantiles (from the reservoir)."""

    count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None
    quantiles: dict[str, float]
    quantiles_exact: bool
    zeros: int
    negatives: int
    infinite: int


@dataclass(frozen=True)
class Histogram:
    """Bin edges (one more than counts) and exact counts of the finite values."""

    edges: list[Any]
    counts: list[int]


@dataclass(frozen=True)
class Outliers:
    """Values outside ``[low, high]``: a robust z-score over 5 (or IQR x 3 fences)."""

    method: Literal["robust_z", "iqr"]
    low: float
    high: float
    count: int
    share: float
    estimated: bool
    iqr_count: int
    examples: list[float]


@dataclass(frozen=True)
class StringSummary:
    min_length: int
    max_length: int
    mean_length: float
    empty: int


@dataclass(frozen=True)
class ColumnProfile:
    """One column's profile. ``numeric`` describes list lengths for a list column and epoch
    values (in the type's unit) for a datetime column."""

    name: str
    parent: str | None
    arrow_type: str
    kind: Kind
    rows: int
    missing: int
    distinct: int
    distinct_exact: bool
    numeric: NumericSummary | None = None
    histogram: Histogram | None = None
    top_values: list[tuple[Any, int]] = field(default_factory=list)
    top_values_exact: bool = True
    outliers: Outliers | None = None
    rare_categories: list[tuple[Any, int]] | None = None
    string: StringSummary | None = None
    empty_lists: int | None = None
    element_type: str | None = None
    type_mismatches: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def non_missing(self) -> int:
        return self.rows - self.missing

    @property
    def missing_share(self) -> float:
        return self.missing / self.rows if self.rows else 0.0

    @property
    def top_share(self) -> float:
        """The share of non-missing values taken by the most frequent one (a lower bound)."""
        if not self.top_values or not self.non_missing:
            return 0.0
        return self.top_values[0][1] / self.non_missing


@dataclass(frozen=True)
class DatasetProfile:
    """Every column's profile, duplicate rows and a uniform row sample for joint statistics."""

    rows: int
    columns: list[ColumnProfile]
    input_columns: list[tuple[str, str]]
    duplicate_rows: int
    duplicates_exact: bool
    duplicate_examples: list[dict[str, Any]]
    sample: pd.DataFrame
    config: ProfileConfig

    def column(self, name: str) -> ColumnProfile:
        for column in self.columns:
            if column.name == name:
                return column
        import difflib

        from sagebox.errors import ValidationError

        names = [c.name for c in self.columns]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        shown = ", ".join(names[:60]) + (
            f" ... ({len(names) - 60} more)" if len(names) > 60 else ""
        )
        raise ValidationError(f"There is no column {name!r} in the data.{hint} Columns: {shown}.")


def finite_or_none(value: float | None) -> float | None:
    """``value``, or None when it is missing, NaN or infinite (JSON has no NaN)."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)
