"""Handle missing values: drop the rows, or fill with the mean, median, mode or a constant."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sagebox.errors import ValidationError
from sagebox.wrangler.params import Optional, Options, Scalar, TextList, require_when
from sagebox.wrangler.transforms._base import (
    State,
    Transform,
    check_columns,
    numeric_columns,
    replace_column,
)
from sagebox.wrangler.transforms._stats import CategoryCounter, NumericSummary


def _is_missing(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_floating(values.type):
        return pc.is_null(values, nan_is_null=True)
    return pc.is_null(values)


class DropMissing(Transform):
    """Drop the rows with a missing value (null, or NaN) in ``columns`` (all by default).

    ``how="any"`` drops a row with any missing value among them, ``"all"`` only a row
    where all of them are missing.
    """

    title = "DropMissing"
    parameter_constraints = {"columns": Optional(TextList()), "how": Options(("any", "all"))}

    def __init__(self, *, columns: list[str] | None = None, how: str = "any") -> None:
        self.columns = columns
        self.how = how

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        names = self.columns if self.columns is not None else table.column_names
        check_columns(table, names, self.title)
        if not names:
            return table
        missing = [_is_missing(table.column(n)) for n in names]
        combined = missing[0]
        for other in missing[1:]:
            combined = pc.or_(combined, other) if self.how == "any" else pc.and_(combined, other)
        return table.filter(pc.invert(combined))


class _FillFit:
    def __init__(self, owner: HandleMissing) -> None:
        self.owner = owner
        self.columns: list[str] | None = None
        self.numeric: dict[str, NumericSummary] = {}
        self.counters: dict[str, CategoryCounter] = {}

    def update(self, table: pa.Table) -> None:
        owner = self.owner
        if self.columns is None:
            if owner.strategy in ("mean", "median"):
                self.columns = numeric_columns(table, owner.columns, owner.title)
            else:
                self.columns = owner.columns or list(table.column_names)
                check_columns(table, self.columns, owner.title)
        for name in self.columns:
            values = table.column(name)
            if owner.strategy in ("mean", "median"):
                self.numeric.setdefault(name, NumericSummary()).update(values)
            else:
                self.counters.setdefault(name, CategoryCounter()).update(values)

    def finish(self) -> State:
        fills: dict[str, Any] = {}
        for name in self.columns or []:
            if self.owner.strategy == "mean":
                summary = self.numeric[name]
                fills[name] = summary.mean if summary.count else None
            elif self.owner.strategy == "median":
                fills[name] = self.numeric[name].quantile(0.5) if self.numeric[name].count else None
            else:
                top = self.counters[name].most_frequent(1)
                fills[name] = top[0] if top else None
        return {"fill_values": fills}


class HandleMissing(Transform):
    """Fill missing values (null, NaN) in ``columns`` with a fitted value or a constant.

    ``mean`` and ``median`` apply to numeric columns (all of them when ``columns`` is
    not given) and turn integer columns into floats; ``mode`` fills with the most frequent
    value; ``constant`` with ``value``. The median is exact up to 100,000 values and an
    estimate from a uniform sample beyond (see :mod:`._stats`).
    """

    title = "HandleMissing"
    parameter_constraints = {
        "strategy": Options(("mean", "median", "mode", "constant")),
        "columns": Optional(TextList()),
        "value": Optional(Scalar()),
    }

    def __init__(
        self, *, strategy: str = "mean", columns: list[str] | None = None, value: Any = None
    ) -> None:
        self.strategy = strategy
        self.columns = columns
        self.value = value

    def is_stateful(self) -> bool:
        return self.strategy != "constant"

    @classmethod
    def check_parameters(cls, values: Any) -> None:
        constant = values["strategy"] == "constant"
        condition = "when strategy is 'constant'" if constant else "unless strategy is 'constant'"
        require_when(cls.title, values, "value", condition, present=constant)

    def accumulator(self) -> _FillFit:
        return _FillFit(self)

    def fit_columns(self) -> frozenset[str] | None:
        return None if self.columns is None else frozenset(self.columns)

    def column_effects(self) -> frozenset[str] | None:
        return self.fit_columns()

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        if self.strategy == "constant":
            names = self.columns or table.column_names
            fills = dict.fromkeys(names, self.value)
        else:
            fills = self.needs_state(state)["fill_values"]
        check_columns(table, fills, self.title)
        for name, fill in fills.items():
            if fill is None:
                continue
            values = table.column(name)
            if self.strategy in ("mean", "median"):
                values = values.cast(pa.float64())
            missing = _is_missing(values)
            try:
                scalar = pa.scalar(fill).cast(values.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise ValidationError(
                    f"HandleMissing: the fill value {fill!r} does not fit the column {name!r} "
                    f"({values.type}). Choose a value of that type, or cast the column first."
                ) from None
            table = replace_column(table, name, pc.if_else(missing, scalar, values))
        return table
