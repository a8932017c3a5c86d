"""Reading a catalog table's objects as Arrow batches in the table's schema.

The format comes from the table (``classification``, else its SerDe); CSV options from
its SerDe parameters and ``skip.header.line.count``. Columns are matched to the catalog's
by name, case-insensitively as Hive does (or by position for CSV without a header), cast
to the catalog's types, and the partition's values are added as typed columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sagebox.errors import ValidationError
from sagebox.glue.predicates import Key
from sagebox.glue.types import glue_to_arrow

if TYPE_CHECKING:
    import pyarrow as pa

    from sagebox.data.formats import DataSource
    from sagebox.glue.query import TableScan
    from sagebox.store.objects import ObjectStore


def data_schema(table: Mapping[str, Any], keys: Sequence[Key]) -> pa.Schema:
    """The table's columns then its partition keys, as Arrow fields."""
    import pyarrow as pa

    columns = table.get("StorageDescriptor", {}).get("Columns", [])
    fields = [pa.field(c["Name"], glue_to_arrow(c.get("Type", "string"))) for c in columns]
    fields += [pa.field(k.name, glue_to_arrow(k.type)) for k in keys]
    return pa.schema(fields)


def _parameter(table: Mapping[str, Any], *names: str) -> str | None:
    descriptor = table.get("StorageDescriptor", {})
    for where in (
        table.get("Parameters", {}),
        descriptor.get("Parameters", {}),
        descriptor.get("SerdeInfo", {}).get("Parameters", {}),
    ):
        for name in names:
            if name in where:
                return str(where[name])
    return None


def source_for(table: Mapping[str, Any], location: str) -> DataSource:
    """How to read the objects at ``location`` of ``table``."""
    from sagebox.data.formats import DataSource

    classification = (_parameter(table, "classification") or "").lower()
    serde = table.get("StorageDescriptor", {}).get("SerdeInfo", {})
    library = str(serde.get("SerializationLibrary", "")).lower()
    fmt: Any = None  # json covers arrays and JSON lines: let the reader tell them apart
    if classification in ("parquet", "orc", "csv"):
        fmt = classification
    elif not classification:
        for hint, found in (
            ("parquet", "parquet"),
            ("orc", "orc"),
            ("csv", "csv"),
            ("lazysimple", "csv"),
        ):
            if hint in library:
                fmt = found
                break
    delimiter = _parameter(table, "field.delim", "separatorChar", "delimiter") or ","
    header = _parameter(table, "skip.header.line.count") or ("1" if fmt == "csv" else "0")
    return DataSource(
        location, format=fmt, csv_header=header != "0", csv_delimiter=delimiter[:1] or ","
    )


def table_batches(
    store: ObjectStore,
    table: Mapping[str, Any],
    schema: pa.Schema,
    keys: Sequence[Key],
    values: Sequence[str],
    location: str,
    scan: TableScan,
) -> Iterator[pa.RecordBatch]:
    """The rows of one partition (or of a whole unpartitioned table) in ``schema``."""
    from sagebox.data.readers import list_data_objects, read_batches

    try:
        objects = list_data_objects(store, location)
    except ValidationError:  # no data objects: an empty partition reads as no rows
        return
    scan.objects += len(objects)
    scan.bytes += sum(o.size for o in objects)
    source = source_for(table, location)
    positional = source.format == "csv" and not source.csv_header
    for batch in read_batches(store, source):
        yield _conform(batch, schema, keys, values, positional, table)


def _cast(column: pa.Array, target: pa.DataType, name: str, table: Mapping[str, Any]) -> Any:
    import pyarrow as pa

    if column.type == target:
        return column
    try:
        return column.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        temporal = pa.types.is_temporal(column.type) and pa.types.is_temporal(target)
        if temporal:  # nanoseconds to the catalog's microseconds
            return column.cast(target, safe=False)
        raise ValidationError(
            f"Column {name!r} of {table['DatabaseName']}.{table['Name']} holds values that "
            f"are not {target} (the catalog's type) in its data ({error}). Update the table's "
            "column type (UpdateTable, or re-run its crawler)."
        ) from None


def _conform(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    keys: Sequence[Key],
    values: Sequence[str],
    positional: bool,
    table: Mapping[str, Any],
) -> pa.RecordBatch:
    import pyarrow as pa

    lookup = {name.lower(): i for i, name in enumerate(batch.schema.names)}
    rows = batch.num_rows
    data_fields = list(schema)[: len(schema) - len(keys)]
    arrays = []
    for index, field in enumerate(data_fields):
        position = (
            (index if index < batch.num_columns else None)
            if positional
            else lookup.get(field.name.lower())
        )
        if position is None:
            arrays.append(pa.nulls(rows, field.type))
        else:
            arrays.append(_cast(batch.column(position), field.type, field.name, table))
    for key, value in zip(keys, values, strict=True):
        dtype = schema.field(key.name).type
        try:
            typed = pa.array([value], pa.string()).cast(dtype)[0]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            typed = pa.scalar(None, dtype)
        arrays.append(pa.repeat(typed, rows))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
