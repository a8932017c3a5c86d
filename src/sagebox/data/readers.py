"""Reading CSV, Parquet, JSON, JSON lines and ORC from ``s3://`` prefixes as Arrow batches.

Reads stream: memory is bounded by the batch size (and one block or stripe of the file),
not by the file's size. A read first plans: it lists the data objects under the URI,
decides each one's format, and takes each one's schema (Parquet/ORC from the footer, text
formats from a sample of their first rows). The files' schemas are unified where that is
safe (an integer and a float column become float, a column missing from a file is null
there); otherwise the read is refused, naming both files and the column. Every batch is
then shaped to that one schema, so consumers see a fixed schema from the first batch.

Malformed rows follow the error policy: ``fail`` raises :class:`ValidationError` naming
the file and line; ``skip`` counts them in the :class:`ReadReport` with examples;
``quarantine`` also writes them, raw, to a JSON lines object.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from sagebox.data import _csv_reader, _json_reader
from sagebox.data._badrows import IGNORED, BadRows, ErrorPolicy, ReadReport, check_policy
from sagebox.data._streams import OpenedObject
from sagebox.data.formats import DataSource, Format, check_declared, detect_format
from sagebox.errors import ValidationError
from sagebox.store.objects import ObjectInfo, ObjectStore, parse_s3_uri

__all__ = [
    "ErrorPolicy",
    "ReadReport",
    "infer_schema",
    "list_data_objects",
    "read_batches",
    "read_table",
]

READ_SAMPLE_ROWS = 1000
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError)
_MARKERS = ("$folder$",)


# -- what to read -------------------------------------------------------------------------
def _is_data(info: ObjectInfo) -> bool:
    name = info.key.rsplit("/", 1)[-1]
    return not (
        info.size == 0
        or info.key.endswith("/")
        or not name
        or name.startswith(("_", "."))  # _SUCCESS, _committed_*, .part-0.crc (Spark, Hive)
        or name.endswith((".crc", *_MARKERS))
    )


def list_data_objects(store: ObjectStore, uri: str) -> list[ObjectInfo]:
    """The data objects that ``uri`` names: the object itself, or every one under the prefix.

    ``s3://b/raw`` means the folder ``raw/`` when such a folder exists. Markers and
    bookkeeping files (``_SUCCESS``, ``*.crc``, hidden files, folder markers, empty
    objects) are left out.
    """
    where = parse_s3_uri(uri)
    key = where.key
    if key and not key.endswith("/"):
        exact = [i for i in store.iter_objects(where.bucket, key) if i.key == key]
        if exact:
            return [i for i in exact if _is_data(i)] or _none(uri)
        folder = [i for i in store.iter_objects(where.bucket, key + "/") if _is_data(i)]
        if folder:
            return folder
    found = [i for i in store.iter_objects(where.bucket, key) if _is_data(i)]
    return found or _none(uri)


def _none(uri: str) -> list[ObjectInfo]:
    raise ValidationError(
        f"No data objects under {uri}. Check the URI (s3://bucket/prefix), and that the "
        "objects are not empty or named as bookkeeping files (_SUCCESS, *.crc, .hidden)."
    )


@dataclass(frozen=True)
class PlannedFile:
    info: ObjectInfo
    uri: str
    format: Format
    schema: pa.Schema


def _file_format(opened: OpenedObject, source: DataSource) -> Format:
    head = opened.head
    if opened.gzip and not head.startswith(b"\x1f\x8b"):
        head = b"\x1f\x8b" + head  # declared gzip without magic: let the sniffer gunzip
    if source.format is not None:
        check_declared(opened.uri, head, source.format)
        return source.format
    return detect_format(opened.info.key, head)


def _file_schema(opened: OpenedObject, fmt: Format, source: DataSource, sample: int) -> pa.Schema:
    uri = opened.uri
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(opened.random_access()).schema_arrow
        if fmt == "orc":
            import pyarrow.orc as po

            return po.ORCFile(opened.random_access()).schema
    except _ARROW_ERRORS as error:
        raise _not_format(uri, fmt, error) from None
    if fmt == "csv":
        return _csv_reader.infer_schema(opened.text_stream(), uri, source)
    if fmt == "json":
        lines = _json_reader.document_lines(opened.text_stream(), uri, IGNORED)
        return _json_reader.infer_bytes_schema(lines, uri, sample)
    return _json_reader.infer_lines_schema(opened.text_stream(), uri, sample)


def _not_format(uri: str, fmt: str, error: Exception) -> ValidationError:
    return ValidationError(
        f"The object {uri} is not a valid {fmt.upper()} file ({error}). Declare its real format "
        "(csv, parquet, json, jsonl, orc), or leave the format unset to detect it."
    )


def unify_files(files: list[PlannedFile]) -> pa.Schema:
    """One schema for all files: safe promotions only, else an error naming the culprits."""
    if not files:
        return pa.schema([])
    unified = files[0].schema
    for index, file in enumerate(files[1:], start=1):
        try:
            unified = pa.unify_schemas([unified, file.schema], promote_options="permissive")
        except _ARROW_ERRORS:
            raise _conflict(files[: index + 1]) from None
    return unified


def _conflict(files: list[PlannedFile]) -> ValidationError:
    last = files[-1]
    for earlier in files[:-1]:
        for field in last.schema:
            if field.name not in earlier.schema.names:
                continue
            other = earlier.schema.field(field.name)
            try:
                pa.unify_schemas(
                    [pa.schema([other]), pa.schema([field])], promote_options="permissive"
                )
            except _ARROW_ERRORS:
                return ValidationError(
                    f"The files {earlier.uri} and {last.uri} disagree on the column "
                    f"{field.name!r}: {other.type} in one, {field.type} in the other, which "
                    "cannot be combined safely. Read them separately, or cast the column to "
                    "one type in one of the files."
                )
    return ValidationError(
        f"The schema of {last.uri} cannot be combined with the files before it. Read it separately."
    )


def _plan(
    store: ObjectStore,
    source: DataSource,
    objects: Iterable[ObjectInfo],
    sample_rows: int,
    opened_hook: Callable[[OpenedObject], None] | None = None,
) -> list[PlannedFile]:
    files = []
    for info in objects:
        with OpenedObject(store, info, source.compression) as opened:
            if opened_hook is not None:
                opened_hook(opened)
            fmt = _file_format(opened, source)
            schema = _file_schema(opened, fmt, source, sample_rows)
        files.append(PlannedFile(info, opened.uri, fmt, schema))
    return files


# -- reading ------------------------------------------------------------------------------
def _file_tables(
    opened: OpenedObject,
    file: PlannedFile,
    source: DataSource,
    batch_rows: int,
    columns: list[str] | None,
    bad: BadRows,
    block_bytes: int | None = None,
) -> Iterator[pa.RecordBatch | pa.Table]:
    """The rows of one file, in the file's own schema (text read ``block_bytes`` at a time)."""
    wanted = None if columns is None else [c for c in columns if c in file.schema.names]
    try:
        if file.format == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(opened.random_access())
            yield from parquet.iter_batches(batch_size=batch_rows, columns=wanted)
        elif file.format == "orc":
            import pyarrow.orc as po

            orc = po.ORCFile(opened.random_access())
            for stripe in range(orc.nstripes):
                yield orc.read_stripe(stripe, columns=wanted)
        elif file.format == "csv":
            yield from _csv_reader.read(
                opened.text_stream(),
                file.uri,
                source,
                file.schema,
                wanted,
                bad,
                block_bytes or _csv_reader.BLOCK,
            )
        else:
            if file.format == "json":
                stream: Any = _bytes_stream(
                    _json_reader.document_lines(opened.text_stream(), file.uri, bad)
                )
                where = "row"
            else:
                stream, where = opened.text_stream(), "line"
            chunk = block_bytes or _json_reader.CHUNK_BYTES
            for table in _json_reader.read_lines(stream, file.uri, file.schema, bad, where, chunk):
                yield table if wanted is None else table.select(wanted)
    except (EOFError, OSError, pa.ArrowInvalid) as error:
        # a truncated gzip stream or a corrupt Parquet/ORC page, found mid-read
        raise _not_format(file.uri, file.format, error) from None


def _bytes_stream(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def conform(table: pa.RecordBatch | pa.Table, target: pa.Schema, uri: str) -> pa.Table:
    """``table`` with exactly ``target``'s columns and types (missing columns are null)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if table.schema.equals(target):
        return table
    arrays = []
    for field in target:
        if field.name not in table.schema.names:
            arrays.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        if column.type != field.type:
            try:
                column = column.cast(field.type)
            except _ARROW_ERRORS as error:
                raise ValidationError(
                    f"The column {field.name!r} of {uri} cannot be read as {field.type}, the "
                    f"type the other files give it ({error}). Fix the values, or read the "
                    "files separately."
                ) from None
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=target)


def _project(schema: pa.Schema, columns: list[str] | None) -> pa.Schema:
    if columns is None:
        return schema
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise ValidationError(
            f"Unknown column(s) {', '.join(map(repr, missing))}. The data has: "
            f"{', '.join(schema.names)}."
        )
    return pa.schema([schema.field(c) for c in columns])


def _check_batch_rows(batch_rows: int) -> None:
    if not isinstance(batch_rows, int) or batch_rows < 1:
        raise ValidationError(
            f"batch_rows must be a positive whole number of rows; got {batch_rows!r}."
        )


def read_batches(
    store: ObjectStore,
    source: DataSource,
    *,
    batch_rows: int = 65536,
    columns: list[str] | None = None,
    on_error: ErrorPolicy = "fail",
    report: ReadReport | None = None,
    quarantine_uri: str | None = None,
    schema: pa.Schema | None = None,
    sample_rows: int = READ_SAMPLE_ROWS,
) -> Iterator[pa.RecordBatch]:
    """Stream the rows under ``source.uri`` as record batches of at most ``batch_rows`` rows.

    Every batch has the same schema (the files' unified one, or ``schema`` when given;
    ``columns`` selects top-level columns). ``report`` (if given) is filled in as the read
    goes; the quarantine file is written when the iteration ends or is closed.
    """
    _check_batch_rows(batch_rows)
    check_policy(on_error, quarantine_uri)
    report = report if report is not None else ReadReport()
    objects = list_data_objects(store, source.uri)
    files = _plan(store, source, objects, sample_rows)
    target = _project(schema if schema is not None else unify_files(files), columns)
    if schema is not None:
        files = [PlannedFile(f.info, f.uri, f.format, _merge_declared(f, schema)) for f in files]
    return _stream(
        store, source, files, target, batch_rows, columns, on_error, report, quarantine_uri
    )


def _merge_declared(file: PlannedFile, declared: pa.Schema) -> pa.Schema:
    """The schema to parse ``file`` with when the caller declared one.

    JSON is parsed against the declared schema itself; CSV keeps the file's columns, typed
    as declared; Parquet and ORC are read as they are and cast afterwards.
    """
    if file.format in ("json", "jsonl"):
        return declared
    if file.format == "csv":
        return pa.schema(
            [declared.field(f.name) if f.name in declared.names else f for f in file.schema]
        )
    return file.schema


def _stream(
    store: ObjectStore,
    source: DataSource,
    files: list[PlannedFile],
    target: pa.Schema,
    batch_rows: int,
    columns: list[str] | None,
    on_error: ErrorPolicy,
    report: ReadReport,
    quarantine_uri: str | None,
) -> Iterator[pa.RecordBatch]:
    bad = BadRows(on_error, report, store, quarantine_uri)
    try:
        for file in files:
            report.files.append(file.uri)
            with OpenedObject(store, file.info, source.compression) as opened:
                for part in _file_tables(opened, file, source, batch_rows, columns, bad):
                    table = conform(part, target, file.uri)
                    for batch in table.to_batches(max_chunksize=batch_rows):
                        if batch.num_rows:
                            report.rows += batch.num_rows
                            yield batch
    finally:
        bad.close()


def read_table(store: ObjectStore, source: DataSource, **options: Any) -> pa.Table:
    """All rows under ``source.uri`` as one table (small data; stream with read_batches)."""
    options.setdefault("batch_rows", 65536)
    batches = list(read_batches(store, source, **options))
    if batches:
        return pa.Table.from_batches(batches)
    target = infer_schema(store, source, sample_rows=options.get("sample_rows", 1000))
    columns = options.get("columns")
    return _project(options.get("schema") or target, columns).empty_table()


def infer_schema(store: ObjectStore, source: DataSource, *, sample_rows: int = 1000) -> pa.Schema:
    """The unified schema of every file under ``source.uri``, nested types kept."""
    objects = list_data_objects(store, source.uri)
    return unify_files(_plan(store, source, objects, sample_rows))


def plan_files(
    store: ObjectStore,
    source: DataSource,
    objects: list[ObjectInfo],
    sample_rows: int = READ_SAMPLE_ROWS,
    opened_hook: Callable[[OpenedObject], None] | None = None,
) -> tuple[list[PlannedFile], pa.Schema]:
    """The plan of just ``objects`` and their unified schema (a preview reads a few files)."""
    files = _plan(store, source, objects, sample_rows, opened_hook)
    return files, unify_files(files)


def stream_file(
    store: ObjectStore,
    source: DataSource,
    file: PlannedFile,
    batch_rows: int,
    bad: BadRows,
    block_bytes: int | None = None,
    opened_hook: Callable[[OpenedObject], None] | None = None,
) -> Generator[pa.Table, None, None]:
    """The rows of one planned file in its own schema; ``opened_hook`` sees the object."""
    with OpenedObject(store, file.info, source.compression) as opened:
        if opened_hook is not None:
            opened_hook(opened)
        for part in _file_tables(opened, file, source, batch_rows, None, bad, block_bytes):
            yield conform(part, file.schema, file.uri)
