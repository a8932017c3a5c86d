"""Explode array column: one row per element, the other columns repeated."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sagebox.errors import ValidationError
from sagebox.wrangler.params import Optional, Options, Text
from sagebox.wrangler.transforms._base import State, Transform, check_columns, insert_columns


class Explode(Transform):
    """Each element of a list column becomes a row; the other columns are repeated.

    A null or empty list keeps one row with a null element (``empty="keep"``, the
    default: no application disappears) or no row (``empty="drop"``). Exploding a list of
    structs gives a struct column, which a following ``flatten`` step turns into columns.
    ``position_column`` names an optional column with each element's index in its list.
    """

    title = "Explode"
    parameter_constraints = {
        "column": Text(),
        "empty": Options(("keep", "drop")),
        "position_column": Optional(Text()),
    }

    def __init__(
        self, *, column: str, empty: str = "keep", position_column: str | None = None
    ) -> None:
        self.column = column
        self.empty = empty
        self.position_column = position_column

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        check_columns(table, [self.column], self.title)
        kind = table.schema.field(self.column).type
        if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
            raise ValidationError(
                f"Explode: the column {self.column!r} is {kind}, not a list. Explode applies "
                "to array columns (a struct is flattened instead)."
            )
        at = table.schema.get_field_index(self.column)
        lists = table.column(self.column)
        lists = lists.combine_chunks() if lists.num_chunks != 1 else lists.chunk(0)
        lengths = np.asarray(
            pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False),
            dtype=np.int64,
        )
        starts = np.asarray(lists.offsets.to_numpy(zero_copy_only=False)[:-1], dtype=np.int64)
        counts = np.maximum(lengths, 1) if self.empty == "keep" else lengths
        rows = np.repeat(np.arange(len(lengths), dtype=np.int64), counts)
        first = np.cumsum(counts) - counts
        position = np.arange(len(rows), dtype=np.int64) - np.repeat(first, counts)
        element = starts[rows] + position
        missing = lengths[rows] == 0
        values = lists.values.take(pa.array(element, mask=missing)) if len(rows) else None
        if values is None:
            values = pa.array([], type=kind.value_type)
        out = table.remove_column(at).take(pa.array(rows))
        columns: list[tuple[str, pa.Array]] = [(self.column, values)]
        if self.position_column:
            columns.append((self.position_column, pa.array(position, mask=missing)))
        return insert_columns(out, at, columns)
