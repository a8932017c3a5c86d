"""Manage rows: filter with an expression, drop duplicates."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from sagebox.errors import ValidationError
from sagebox.wrangler.params import Optional, Options, Text, TextList
from sagebox.wrangler.transforms._base import State, Transform, check_columns
from sagebox.wrangler.transforms._sql import BatchSQL, quote


class FilterRows(Transform):
    """Keep the rows where ``expression`` is true (false and null drop the row).

    ``dialect="sql"`` (default): a DuckDB SQL condition, ``"applicant.age" >= 21 AND
    loan.purpose IS NOT NULL`` (quote names with dots). ``dialect="pandas"``: a
    ``DataFrame.eval`` expression, ``age >= 21`` (backticks around names with dots);
    it converts each batch to pandas, so SQL is faster.
    """

    title = "FilterRows"
    parameter_constraints = {"expression": Text(), "dialect": Options(("sql", "pandas"))}

    def __init__(self, *, expression: str, dialect: str = "sql") -> None:
        self.expression = expression
        self.dialect = dialect
        self._sql = BatchSQL(self.title)

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        if self.dialect == "sql":
            mask = self._sql.query(f"SELECT ({self.expression}) AS keep FROM df", table)["keep"]
        else:
            try:
                result = table.to_pandas().eval(self.expression)
            except Exception as exc:  # pandas raises many kinds for a bad expression
                raise ValidationError(
                    f"FilterRows: pandas could not evaluate {self.expression!r}: {exc}."
                ) from None
            mask = pa.array(np.asarray(result, dtype=bool))
        if not pa.types.is_boolean(mask.type):
            raise ValidationError(
                f"FilterRows: the expression {self.expression!r} gives {mask.type} values, not "
                'true/false. Write a condition, e.g. "loan.amount" > 1000.'
            )
        return table.filter(mask, null_selection_behavior="drop")


class _SeenHashes:
    """A set of 64-bit hashes: sorted arrays of halving sizes (8 bytes per member)."""

    def __init__(self) -> None:
        self.levels: list[np.ndarray[Any, Any]] = []

    def __len__(self) -> int:
        return sum(len(level) for level in self.levels)

    def contains(self, hashes: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        found = np.zeros(len(hashes), dtype=bool)
        for level in self.levels:
            at = np.minimum(np.searchsorted(level, hashes), len(level) - 1)
            found |= level[at] == hashes
        return found

    def add(self, sorted_unique: np.ndarray[Any, Any]) -> None:
        if not len(sorted_unique):
            return
        self.levels.append(sorted_unique)
        while len(self.levels) > 1 and len(self.levels[-1]) * 2 >= len(self.levels[-2]):
            top, below = self.levels.pop(), self.levels.pop()
            self.levels.append(np.sort(np.concatenate([below, top]), kind="stable"))


class DropDuplicates(Transform):
    """Keep the first row of each set of rows equal on ``columns`` (all columns by default).

    Streaming: the step remembers a 64-bit hash of every distinct row it has passed
    (8 bytes each, so 10 million distinct rows take 80 MB), not the rows. Two different
    rows share a hash with probability about n^2 / 2^65 (1 in 370,000 for 10 million
    rows); such a row would be dropped as a duplicate.
    """

    title = "DropDuplicates"
    parameter_constraints = {"columns": Optional(TextList())}

    def __init__(self, *, columns: list[str] | None = None) -> None:
        self.columns = columns
        self._sql = BatchSQL(self.title)

    def _hashes(self, table: pa.Table) -> np.ndarray[Any, Any]:
        names = self.columns if self.columns is not None else table.column_names
        check_columns(table, names, self.title)
        if table.num_rows == 0:
            return np.empty(0, dtype=np.uint64)
        sql = f"SELECT hash({', '.join(quote(n) for n in names)}) AS h FROM df"
        hashed = self._sql.query(sql, table)["h"]
        return np.asarray(hashed.to_numpy(), dtype=np.uint64)

    def _dedupe(self, table: pa.Table, seen: _SeenHashes) -> pa.Table:
        hashes = self._hashes(table)
        unique, first = np.unique(hashes, return_index=True)
        new = ~seen.contains(unique) if len(seen) else np.ones(len(unique), dtype=bool)
        seen.add(unique[new])
        return table.take(pa.array(np.sort(first[new])))

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        return self._dedupe(table, _SeenHashes())

    def stream(self, tables: Iterable[pa.Table], state: State | None = None) -> Iterator[pa.Table]:
        seen = _SeenHashes()
        for table in tables:
            yield self._dedupe(table, seen)
