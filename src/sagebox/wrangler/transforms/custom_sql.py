"""Custom SQL: a DuckDB query over each incoming batch, which is the table ``df``."""

from __future__ import annotations

import pyarrow as pa

from sagebox.wrangler.params import Text
from sagebox.wrangler.transforms._base import State, Transform
from sagebox.wrangler.transforms._sql import BatchSQL


class CustomSQL(Transform):
    """Run ``query`` (DuckDB SQL) with the batch as ``df``; its result is the new batch.

    ``SELECT *, "loan.amount" / "applicant.employment.annual_income" AS dti FROM df``.
    The query sees one batch at a time, so use it for row-wise work (derive, filter,
    reshape columns); an aggregate (``GROUP BY``, ``COUNT(*)``) would be per batch, not
    over the whole data. Quote column names that hold dots.
    """

    title = "CustomSQL"
    parameter_constraints = {"query": Text()}

    def __init__(self, *, query: str) -> None:
        self.query = query
        self._sql = BatchSQL(self.title)

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        return self._sql.query(self.query, table)
