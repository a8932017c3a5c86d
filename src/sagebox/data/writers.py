"""Writing Arrow tables or batch streams to ``s3://`` as CSV, Parquet, JSON, JSON lines or ORC.

A write streams its batches into a temporary file and stores it with one atomic
``put_object``: readers see the whole object or none of it, and memory holds one batch.

CSV written for people and spreadsheets is made safe: a text cell that begins with
``= + - @`` (or a tab or carriage return) would run as a formula in Excel or Sheets
(OWASP "CSV injection"), so it is prefixed with a single quote. Numbers, and text that is
just a number such as ``-5``, are left as they are. ``label_first`` writes what
SageMaker's built-in algorithms read: the label column first and no header.
"""

from __future__ import annotations

import gzip
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from sagebox.data.formats import FORMATS, SUFFIXES, Format, extension_format, strip_gz
from sagebox.errors import ValidationError
from sagebox.store.objects import ObjectStore, parse_s3_uri

CONTENT_TYPES = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "orc": "application/octet-stream",
}
PARQUET_ROW_GROUP = 128 * 1024
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_TEXT_CODECS = ("gzip", "none")


def object_key(uri: str, format: Format, compression: str | None = None, part: int = 0) -> str:
    """The key to write: the URI's own key when it names a file of this format, else
    ``<prefix>/part-00000.<ext>`` under it (``.gz`` added for gzip text)."""
    where = parse_s3_uri(uri)
    key = where.key
    gz = compression == "gzip" and format in ("csv", "json", "jsonl")
    if key and not key.endswith("/") and extension_format(key) == format:
        return key + (".gz" if gz and not strip_gz(key)[1] else "")
    folder = key if not key or key.endswith("/") else key + "/"
    return f"{folder}part-{part:05d}{SUFFIXES[format]}{'.gz' if gz else ''}"


def _batches(
    data: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pa.Table):
        yield from data.to_batches()
    elif isinstance(data, pa.RecordBatch):
        yield data
    else:
        for item in data:
            if isinstance(item, pa.Table):
                yield from item.to_batches()
            else:
                yield item


def write_table(
    store: ObjectStore,
    uri: str,
    table_or_batches: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
    format: Format,
    *,
    csv_header: bool = True,
    label_first: str | None = None,
    safe_csv: bool = True,
    compression: str | None = None,
) -> list[str]:
    """Write the rows as one object; returns its key (in a list, one per object written).

    ``uri`` is the object (``s3://b/out/train.csv``) or a prefix (``s3://b/out/`` gets
    ``part-00000.csv``). ``compression``: for Parquet/ORC a codec (``snappy`` by default,
    ``zstd``, ``gzip``, ``none``); for text formats ``gzip`` or None.
    """
    if format not in FORMATS:
        raise ValidationError(f"Unknown output format {format!r}. Use one of {', '.join(FORMATS)}.")
    if format in ("csv", "json", "jsonl") and compression not in (None, *_TEXT_CODECS):
        raise ValidationError(
            f"Compression {compression!r} is not available for {format}; use 'gzip' or None."
        )
    where = parse_s3_uri(uri)
    key = object_key(uri, format, compression)
    if label_first is not None and format != "csv":
        raise ValidationError(
            f"label_first={label_first!r} applies to CSV for SageMaker's built-in algorithms; "
            f"the format asked for is {format!r}. Write CSV, or leave label_first unset."
        )
    batches = _batches(table_or_batches)
    with tempfile.TemporaryDirectory(prefix="sagebox-write-") as folder:
        path = Path(folder) / "part"
        if format == "parquet":
            _write_parquet(path, batches, compression)
        elif format == "orc":
            _write_orc(path, batches, compression)
        elif format == "csv":
            with _text_file(path, compression) as out:
                header = csv_header and label_first is None
                _write_csv(out, batches, header, label_first, safe_csv)
        else:
            _write_json(path, batches, format == "json", compression)
        store.put_object(where.bucket, key, path, content_type=CONTENT_TYPES[format])
    return [key]


def _text_file(path: Path, compression: str | None) -> IO[bytes]:
    if compression == "gzip":
        return cast(IO[bytes], gzip.open(path, "wb", compresslevel=6))
    return path.open("wb")


# -- Parquet and ORC ---------------------------------------------------------------------
def _first(batches: Iterator[pa.RecordBatch]) -> tuple[pa.RecordBatch | None, Iterator[Any]]:
    first = next(batches, None)
    return first, batches


def _write_parquet(path: Path, batches: Iterator[pa.RecordBatch], codec: str | None) -> None:
    import pyarrow.parquet as pq

    first, rest = _first(batches)
    if first is None:
        raise _empty()
    with pq.ParquetWriter(path, first.schema, compression=codec or "snappy") as writer:
        pending = [first]
        rows = first.num_rows
        for batch in rest:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= PARQUET_ROW_GROUP:
                writer.write_table(pa.Table.from_batches(pending), PARQUET_ROW_GROUP)
                pending, rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending), PARQUET_ROW_GROUP)


def _write_orc(path: Path, batches: Iterator[pa.RecordBatch], codec: str | None) -> None:
    import pyarrow.orc as po

    first, rest = _first(batches)
    if first is None:
        raise _empty()
    name = (codec or "snappy").lower()
    writer = po.ORCWriter(str(path), compression="uncompressed" if name == "none" else name)
    try:
        writer.write(pa.Table.from_batches([first]))
        for batch in rest:
            writer.write(pa.Table.from_batches([batch]))
    finally:
        writer.close()


def _empty() -> ValidationError:
    return ValidationError(
        "There are no batches to write, so the schema is unknown. Pass a table (an empty "
        "table carries its schema) or at least one batch."
    )


# -- CSV -------------------------------------------------------------------------------
def _is_nested(data_type: pa.DataType) -> bool:
    return bool(
        pa.types.is_struct(data_type)
        or pa.types.is_list(data_type)
        or pa.types.is_large_list(data_type)
        or pa.types.is_fixed_size_list(data_type)
        or pa.types.is_map(data_type)
        or pa.types.is_union(data_type)
    )


def _prepare_csv(batch: pa.RecordBatch, label_first: str | None, safe: bool) -> pa.RecordBatch:
    nested = [f.name for f in batch.schema if _is_nested(f.type)]
    if nested:
        raise ValidationError(
            f"CSV cannot hold the nested column(s) {', '.join(map(repr, nested))}. Flatten "
            "structs (a flatten step gives 'user.name' columns) and explode or drop lists "
            "before writing CSV, or write Parquet, which keeps nested types."
        )
    if label_first is not None:
        if label_first not in batch.schema.names:
            raise ValidationError(
                f"label_first names the column {label_first!r}, which the data does not have. "
                f"Its columns are: {', '.join(batch.schema.names)}."
            )
        order = [label_first, *(n for n in batch.schema.names if n != label_first)]
        batch = batch.select(order)
    if not safe:
        return batch
    arrays = [_neutralize(column) for column in batch.columns]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _neutralize(column: pa.Array) -> pa.Array:
    """Text cells that a spreadsheet would run as a formula get a leading single quote."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return column
    risky = pc.and_(
        pc.match_substring_regex(column, _FORMULA_START),
        pc.invert(pc.match_substring_regex(column, _PLAIN_NUMBER)),
    )
    if not pc.any(risky).as_py():
        return column
    quoted = pc.binary_join_element_wise("'", column, "")
    return pc.if_else(risky, quoted, column)


def _write_csv(
    out: IO[bytes],
    batches: Iterator[pa.RecordBatch],
    header: bool,
    label_first: str | None,
    safe: bool,
) -> None:
    import pyarrow.csv as pcsv

    writer = None
    for batch in batches:
        prepared = _prepare_csv(batch, label_first, safe)
        if writer is None:
            options = pcsv.WriteOptions(include_header=header)
            writer = pcsv.CSVWriter(out, prepared.schema, write_options=options)
        writer.write_batch(prepared)
    if writer is None:
        raise _empty()
    writer.close()


# -- JSON and JSON lines ---------------------------------------------------------------
def json_default(value: Any) -> Any:
    """JSON for the Python values Arrow gives back that json cannot write itself."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "total_seconds"):
        return value.total_seconds()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _nan_as_null(batch: pa.RecordBatch) -> pa.RecordBatch:
    """NaN is not JSON: top-level float NaNs are written as null."""
    arrays = [
        pc.if_else(pc.is_nan(c), pa.scalar(None, c.type), c) if pa.types.is_floating(c.type) else c
        for c in batch.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=batch.schema)


def _write_json(
    path: Path, batches: Iterator[pa.RecordBatch], array: bool, compression: str | None
) -> None:
    """JSON lines (or one JSON array) through DuckDB's writer, streaming the batches.

    DuckDB writes nested structs and lists as JSON objects and arrays about 4x faster than
    ``json.dumps`` over Python objects; timestamps come out as ``2024-01-31 12:00:00``.
    """
    import duckdb

    first, rest = _first(batches)
    if first is None:
        raise _empty()
    stream = (_nan_as_null(batch) for batch in itertools.chain([first], rest))
    reader = pa.RecordBatchReader.from_batches(first.schema, stream)
    options = ["FORMAT JSON"]
    if array:
        options.append("ARRAY true")
    if compression == "gzip":
        options.append("COMPRESSION gzip")
    target = str(path).replace("'", "''")
    with duckdb.connect() as connection:
        connection.register("sagebox_rows", reader)
        connection.execute(
            f"COPY (SELECT * FROM sagebox_rows) TO '{target}' ({', '.join(options)})"
        )
