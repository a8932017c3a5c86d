"""Manage columns: cast types, drop, rename and reorder."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sagebox.errors import ValidationError
from sagebox.wrangler.params import Options, TextList, TextMapping, parameter_error
from sagebox.wrangler.transforms._base import State, Transform, check_columns, replace_column

# Data Wrangler's type names, then the usual synonyms; any pyarrow alias also works.
TYPE_NAMES: dict[str, Any] = {
    "string": pa.string(),
    "long": pa.int64(),
    "integer": pa.int64(),
    "int": pa.int64(),
    "float": pa.float64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type a type name stands for; ValueError if none."""
    if name.lower() in TYPE_NAMES:
        return TYPE_NAMES[name.lower()]
    return pa.type_for_alias(name)


def _cast_or_null(values: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Cast value by value where the whole column cannot be: failures become null."""
    encoded = pc.dictionary_encode(values).combine_chunks()
    converted = []
    for scalar in encoded.dictionary:
        try:
            converted.append(scalar.cast(target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OverflowError):
            converted.append(pa.scalar(None, target))
    dictionary = pa.array([c.as_py() for c in converted], type=target)
    return pa.chunked_array([dictionary.take(encoded.indices)], type=target)


class CastColumns(Transform):
    """Change column types: ``{"age": "long", "income": "float", "city": "string"}``.

    Type names: string, long, integer, float, double, boolean, date, timestamp, or any
    Arrow alias (int32, float32, timestamp[ms] ...). A value that does not convert fails
    the step (``on_error="fail"``) or becomes null (``"null"``).
    """

    title = "CastColumns"
    parameter_constraints = {"columns": TextMapping(), "on_error": Options(("fail", "null"))}

    def __init__(self, *, columns: dict[str, str], on_error: str = "fail") -> None:
        self.columns = columns
        self.on_error = on_error

    @classmethod
    def check_parameters(cls, values: Any) -> None:
        for column, name in values["columns"].items():
            try:
                arrow_type(name)
            except (ValueError, KeyError):
                raise parameter_error(
                    cls.title,
                    "columns",
                    f"an object from column names to types; the type of {column!r} must be "
                    f"one of {', '.join(TYPE_NAMES)} or an Arrow type alias",
                    name,
                ) from None

    def column_effects(self) -> frozenset[str]:
        return frozenset(self.columns)

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        check_columns(table, self.columns, self.title)
        for column, name in self.columns.items():
            target = arrow_type(name)
            values = table.column(column)
            try:
                cast = values.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                if self.on_error == "fail":
                    raise ValidationError(
                        f"CastColumns: the column {column!r} ({values.type}) does not convert "
                        f"to {name}: {exc}. Clean the values first, or set on_error to 'null' "
                        "to turn the ones that do not convert into nulls."
                    ) from None
                cast = _cast_or_null(values, target)
            table = replace_column(table, column, cast)
        return table


class DropColumns(Transform):
    """Remove ``columns``."""

    title = "DropColumns"
    parameter_constraints = {"columns": TextList()}

    def __init__(self, *, columns: list[str]) -> None:
        self.columns = columns

    def column_effects(self) -> frozenset[str]:
        return frozenset(self.columns)

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        check_columns(table, self.columns, self.title)
        return table.drop_columns(self.columns)


class RenameColumns(Transform):
    """Rename columns: ``{"applicant.age": "age"}``."""

    title = "RenameColumns"
    parameter_constraints = {"columns": TextMapping()}

    def __init__(self, *, columns: dict[str, str]) -> None:
        self.columns = columns

    def column_effects(self) -> frozenset[str]:
        return frozenset(self.columns) | frozenset(self.columns.values())

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        check_columns(table, self.columns, self.title)
        names = [self.columns.get(n, n) for n in table.column_names]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValidationError(
                f"RenameColumns would make two columns named {', '.join(map(repr, repeated))}. "
                "Choose new names that are not taken (or drop the old column first)."
            )
        return table.rename_columns(names)


class ReorderColumns(Transform):
    """Put ``columns`` first, in that order; the others follow as they were (``rest="keep"``)
    or are dropped (``rest="drop"``: a select)."""

    title = "ReorderColumns"
    parameter_constraints = {"columns": TextList(), "rest": Options(("keep", "drop"))}

    def __init__(self, *, columns: list[str], rest: str = "keep") -> None:
        self.columns = columns
        self.rest = rest

    def column_effects(self) -> frozenset[str] | None:
        return frozenset() if self.rest == "keep" else None

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        check_columns(table, self.columns, self.title)
        chosen = set(self.columns)
        others = [n for n in table.column_names if n not in chosen] if self.rest == "keep" else []
        return table.select([*self.columns, *others])
