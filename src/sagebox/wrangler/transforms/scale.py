"""Scale numeric columns: standard, min-max or robust, with parameters fitted on the data."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sagebox.wrangler.params import Interval, Optional, Options, TextList, parameter_error
from sagebox.wrangler.transforms._base import State, Transform, numeric_columns, replace_column
from sagebox.wrangler.transforms._stats import NumericSummary


class _ScaleFit:
    def __init__(self, owner: ScaleValues) -> None:
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
        params: dict[str, dict[str, float]] = {}
        for name in self.columns or []:
            s = self.summaries[name]
            if owner.method == "standard":
                center, scale = s.mean, s.std()
            elif owner.method == "min-max":
                low, high = (s.minimum, s.maximum) if s.count else (0.0, 1.0)
                span = (high - low) / (owner.max_value - owner.min_value)
                center, scale = low - owner.min_value * span, span
            else:
                q1, q3 = s.quantile(0.25), s.quantile(0.75)
                center, scale = s.quantile(0.5), q3 - q1
            if not s.count:
                center, scale = 0.0, 1.0
            params[name] = {"center": center, "scale": scale if scale > 0 else 1.0}
        return {"parameters": params}


class ScaleValues(Transform):
    """Numeric columns become ``(x - center) / scale``, as floats.

    ``standard``: center the mean, scale the (population) standard deviation;
    ``min-max``: map [min, max] onto [``min_value``, ``max_value``] (0 to 1 by default);
    ``robust``: center the median, scale the interquartile range. A constant column is
    only centered (scale 1), as scikit-learn does. Nulls stay null.
    """

    title = "ScaleValues"
    stateful = True
    parameter_constraints = {
        "columns": Optional(TextList()),
        "method": Options(("standard", "min-max", "robust")),
        "min_value": Interval(),
        "max_value": Interval(),
    }

    def __init__(
        self,
        *,
        columns: list[str] | None = None,
        method: str = "standard",
        min_value: float = 0.0,
        max_value: float = 1.0,
    ) -> None:
        self.columns = columns
        self.method = method
        self.min_value = min_value
        self.max_value = max_value

    @classmethod
    def check_parameters(cls, values: Any) -> None:
        if values["max_value"] <= values["min_value"]:
            raise parameter_error(
                cls.title,
                "max_value",
                f"greater than min_value ({values['min_value']})",
                values["max_value"],
            )

    def accumulator(self) -> _ScaleFit:
        return _ScaleFit(self)

    def fit_columns(self) -> frozenset[str] | None:
        return None if self.columns is None else frozenset(self.columns)

    def column_effects(self) -> frozenset[str] | None:
        return self.fit_columns()

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        params: dict[str, dict[str, float]] = self.needs_state(state)["parameters"]
        numeric_columns(table, list(params), self.title)
        for name, p in params.items():
            values = table.column(name).cast(pa.float64())
            scaled = pc.divide(pc.subtract(values, p["center"]), p["scale"])
            table = replace_column(table, name, scaled)
        return table
