"""Flatten structured column: ``{"user": {"name": ...}}`` becomes ``user.name``."""

from __future__ import annotations

import pyarrow as pa

from sagebox.errors import ValidationError
from sagebox.wrangler.params import Boolean, Optional, Text
from sagebox.wrangler.transforms._base import State, Transform, check_columns, insert_columns


def _children(
    name: str, values: pa.ChunkedArray, separator: str, recursive: bool
) -> list[tuple[str, pa.ChunkedArray]]:
    kind = values.type
    out: list[tuple[str, pa.ChunkedArray]] = []
    for index in range(kind.num_fields):
        field = kind.field(index)
        # StructArray.flatten() folds the parent's nulls into each child.
        chunks = [chunk.flatten()[index] for chunk in values.chunks]
        child = pa.chunked_array(chunks, type=field.type)
        child_name = f"{name}{separator}{field.name}"
        if recursive and pa.types.is_struct(field.type):
            out.extend(_children(child_name, child, separator, recursive))
        else:
            out.append((child_name, child))
    return out


class Flatten(Transform):
    """Each field of a struct column becomes a column ``parent<separator>field``.

    ``column`` None flattens every struct column. ``recursive`` flattens structs inside
    structs too (``applicant.employment.status``). A null struct gives nulls in every
    field. Lists are left alone: explode them first, then flatten the element structs.
    """

    title = "Flatten"
    parameter_constraints = {
        "column": Optional(Text()),
        "separator": Text(),
        "recursive": Boolean(),
    }

    def __init__(self, *, column: str | None = None, separator: str = ".", recursive: bool = True):
        self.column = column
        self.separator = separator
        self.recursive = recursive

    def column_effects(self) -> frozenset[str] | None:
        return None if self.column is None else frozenset([self.column])

    def _apply(self, table: pa.Table, state: State | None = None) -> pa.Table:
        if self.column is not None:
            check_columns(table, [self.column], self.title)
            kind = table.schema.field(self.column).type
            if not pa.types.is_struct(kind):
                hint = (
                    " It is a list: explode it first (an 'explode' step), then flatten it."
                    if pa.types.is_list(kind) or pa.types.is_large_list(kind)
                    else ""
                )
                raise ValidationError(
                    f"Flatten: the column {self.column!r} is {kind}, not a struct.{hint}"
                )
            targets = [self.column]
        else:
            targets = [f.name for f in table.schema if pa.types.is_struct(f.type)]
        for name in targets:
            at = table.schema.get_field_index(name)
            values = table.column(name)
            children = _children(name, values, self.separator, self.recursive)
            table = insert_columns(table.remove_column(at), at, children)
        return table
