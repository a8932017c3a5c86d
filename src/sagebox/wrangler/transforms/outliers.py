"""Handle outliers: clip to, or remove rows outside, fitted bounds per numeric column."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sagebox.wrangler.params import Interval, Optional, Options, TextList, parameter_error
from sagebox.wrangler.transforms._base import State, Transform, numeric_columns, replace_column
from sagebox.wrangler.transforms._stats import NumericSummary

_DEFAULT_FACTOR = {"std": 3.0, "iqr": 1.5}


class _BoundsFit:
    def __init__(self, owner: HandleOutliers) -> None:
        self.owner = owner
        self.columns: list[str] | None = None
        self.summaries: dict[str, NumericSummary] = {}

    def update(self, table: pa.Table) -> None:
        if self.columns is None:
            self.columns = numeric_columns(table, self.owner.columns, self.owner.title)
        for name in self.columns:
            self.summaries.setdefault(name, NumericSummary()).update(table.column(name))

    def finish(self) -> State:
        owner = self.owner
        bounds: dict[str, list[float | None]] = {}
        for name in self.columns or []:
            s = self.summaries[name]
            if not s.count:
                bounds[name] = [None, None]
            elif owner.method == "std":
                factor = owner.factor or _DEFAULT_FACTOR["std"]
                bounds[name] = [s.mean - factor * s.std(), s.mean + factor * s.std()]
            elif owner.method == "iqr":
                factor = owner.factor or _DEFAULT_FACTOR["iqr"]
                q1, q3 = s.quantile(0.25), s.quantile(0.75)
                bounds[name] = [q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)]
            else:
                bounds[name] = [s.quantile(owner.lower_quantile), s.quantile(owner.upper_quantile)]
        return {"bounds": bounds}


class HandleOutliers(Transform):
    """Values outside [lower, upper] are clipped to the bound, or their rows removed.

    Bounds per column: ``std``: mean +/- factor x standard deviation (factor 3 by
    default); ``iqr``: [Q1 - factor x IQR, Q3 + factor x IQR] (factor 1.5); ``quantile``:
    the ``lower_quantile`` and ``upper_quantile`` values. Quantiles are exact up to
    100,000 values and estimated from a uniform sample beyond. Nulls are kept.
    """

    title = "HandleOutliers"
    stateful = True
    parameter_constraints = {
        "columns": Optional(TextList()),
        "method": Options(("std", "iqr", "quantile")),
        "action": Options(("clip", "remove")),
        "factor": Optional(Interval(0, None, closed="neither")),
        "lower_quantile": Interval(0, 1),
        "upper_quantile": Interval(0, 1),
    }

    def __init__(
        self,
        *,
        columns: list[str] | None = None,
        method: str = "iqr",
        action: str = "clip",
        factor: float | None = None,
        lower_quantile: float = 0.01,
        upper_quantile: float = 0.99,
    ) -> None:
        self.columns = columns
        self.method = method
        self.action = action
        self.factor = factor
        self.lower_quantile = lower_quantile
        self.upper_quantile = upper_quantile

    @classmethod
    def check_parameters(cls, values: Any) -> None:
        if values["upper_quantile"] <= values["lower_quantile"]:
            raise parameter_error(
                cls.title,
                "upper_quantile",
                f"greater than lower_quantile ({values['lower_quantile']})",
                values["upper_quantile"],
            )

    def accumulator(self) -> _BoundsFit:
        return _BoundsFit(self)

    def fit_columns(self) -> frozenset[str] | None:
        return None if self.columns is None else frozenset(self.columns)

    def column_effects(self) -> frozenset[str] | None:
        return self.fit_columns() if self.action == "clip" else None

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        bounds: dict[str, list[float | None]] = self.needs_state(state)["bounds"]
        numeric_columns(table, list(bounds), self.title)
        keep = None
        for name, (low, high) in bounds.items():
            if low is None or high is None:
                continue
            values = table.column(name)
            if self.action == "clip":
                if pa.types.is_integer(values.type):  # integers stay integers
                    limits = np.iinfo(values.type.to_pandas_dtype())
                    lo = pa.scalar(max(math.ceil(low), int(limits.min)), values.type)
                    hi = pa.scalar(min(math.floor(high), int(limits.max)), values.type)
                else:
                    values = values.cast(pa.float64())
                    lo, hi = pa.scalar(low), pa.scalar(high)
                clipped = pc.min_element_wise(pc.max_element_wise(values, lo), hi)
                table = replace_column(table, name, clipped)
            else:
                inside = pc.and_kleene(pc.greater_equal(values, low), pc.less_equal(values, high))
                inside = pc.fill_null(inside, True)
                keep = inside if keep is None else pc.and_(keep, inside)
        return table if keep is None else table.filter(keep)
