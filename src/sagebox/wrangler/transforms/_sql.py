"""DuckDB over one batch at a time: the batch is the table ``df``."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from sagebox.errors import ValidationError


def quote(name: str) -> str:
    """A column name as a DuckDB identifier (``applicant.age`` -> ``"applicant.age"``)."""
    return '"' + name.replace('"', '""') + '"'


class BatchSQL:
    """One DuckDB connection, reused for every batch a step sees."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._connection: Any = None

    def query(self, sql: str, table: pa.Table) -> pa.Table:
        import duckdb

        if self._connection is None:
            self._connection = duckdb.connect()
        con = self._connection
        con.register("df", table)
        try:
            result: pa.Table = con.sql(sql).to_arrow_table()
        except duckdb.Error as exc:
            raise ValidationError(
                f"{self.owner}: DuckDB could not run the query: {exc}. The batch is the table "
                "'df'; quote column names that hold dots, e.g. \"applicant.age\"."
            ) from None
        finally:
            con.unregister("df")
        return result

    def __getstate__(self) -> dict[str, Any]:  # connections do not pickle; start afresh
        return {"owner": self.owner, "_connection": None}
