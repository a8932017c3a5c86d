"""A look at data before importing it: the first rows and the inferred (nested) schema.

A preview opens the first file under the URI (and the next, only while rows are still
missing), reads just enough to infer its schema and fill the rows asked for, and says how
many bytes that took out of the total, so looking at a 10 GB prefix costs megabytes.
Malformed rows are skipped and counted in ``report`` rather than failing the preview.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from sagebox.data._badrows import BadRows, ReadReport
from sagebox.data._streams import OpenedObject
from sagebox.data.formats import DataSource
from sagebox.data.readers import (
    conform,
    list_data_objects,
    plan_files,
    stream_file,
    unify_files,
)
from sagebox.errors import ValidationError
from sagebox.store.objects import ObjectStore

PREVIEW_BLOCK_BYTES = 256 * 1024
MAX_PREVIEW_ROWS = 10_000


@dataclass(frozen=True)
class Preview:
    """The first rows, their schema, the files they came from, and the bytes it cost."""

    schema: pa.Schema
    table: pa.Table
    files: tuple[str, ...]
    bytes_read: int
    total_bytes: int
    report: ReadReport = field(default_factory=ReadReport)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form: schema, rows, files and byte counts."""
        return {
            "schema": schema_as_json(self.schema),
            "rows": self.table.to_pylist(),
            "files": list(self.files),
            "bytes_read": self.bytes_read,
            "total_bytes": self.total_bytes,
            "bad_rows": self.report.bad_rows,
            "bad_row_examples": list(self.report.examples),
        }


def preview(store: ObjectStore, source: DataSource, rows: int = 20) -> Preview:
    """The first ``rows`` rows under ``source.uri`` and their schema, reading little."""
    if not isinstance(rows, int) or not 1 <= rows <= MAX_PREVIEW_ROWS:
        raise ValidationError(
            f"A preview shows 1 to {MAX_PREVIEW_ROWS} rows; got {rows!r}. Use sample() or "
            "read_batches() for more."
        )
    objects = list_data_objects(store, source.uri)
    opened: list[OpenedObject] = []
    report = ReadReport()
    bad = BadRows("skip", report, store, None)
    planned = []
    tables: list[pa.Table] = []
    have = 0
    for info in objects:
        files, _ = plan_files(store, source, [info], opened_hook=opened.append)
        file = files[0]
        planned.append(file)
        report.files.append(file.uri)
        parts = stream_file(
            store, source, file, rows, bad, PREVIEW_BLOCK_BYTES, opened_hook=opened.append
        )
        for part in parts:
            tables.append(part.slice(0, rows - have))
            have += tables[-1].num_rows
            if have >= rows:
                break
        parts.close()
        if have >= rows:
            break
    schema = unify_files(planned)
    table = (
        pa.concat_tables([conform(t, schema, "") for t in tables])
        if tables
        else schema.empty_table()
    )
    report.rows = table.num_rows
    return Preview(
        schema=schema,
        table=table,
        files=tuple(f.uri for f in planned),
        bytes_read=sum(o.bytes_read for o in opened),
        total_bytes=sum(o.size for o in objects),
        report=report,
    )


def _type_name(data_type: pa.DataType) -> str:
    if pa.types.is_struct(data_type):
        return "struct"
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        return "list"
    if pa.types.is_map(data_type):
        return "map"
    return str(data_type)


def _field_json(field_: pa.Field) -> dict[str, Any]:
    data_type = field_.type
    children: list[dict[str, Any]] = []
    if pa.types.is_struct(data_type):
        children = [_field_json(data_type.field(i)) for i in range(data_type.num_fields)]
    elif pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        children = [_field_json(data_type.value_field)]
    elif pa.types.is_map(data_type):
        children = [_field_json(data_type.key_field), _field_json(data_type.item_field)]
    return {
        "name": field_.name,
        "type": _type_name(data_type),
        "nullable": field_.nullable,
        "children": children,
    }


def schema_as_json(schema: pa.Schema) -> list[dict[str, Any]]:
    """The schema as ``[{"name", "type", "nullable", "children": [...]}]``, nested."""
    return [_field_json(f) for f in schema]
