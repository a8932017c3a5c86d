"""CSV in bounded chunks, with malformed rows caught row by row.

The stream is cut into chunks of whole records (a newline ends a record only outside
quotes, so quoted values may span lines) and each chunk is parsed by Arrow. Chunking here
rather than in Arrow's streaming reader keeps memory and bytes read to one chunk (Arrow's
reader reads ahead in the background, whole files at a time).

Column types are inferred from the file's first chunk (as Arrow, DuckDB and Spark infer
from a sample). Chunks are parsed as text and each column cast to its type, so a value
that does not parse (``"abc"`` in a number column) costs its row, reported under the error
policy, instead of failing the whole chunk. Rows with the wrong number of cells are caught
by Arrow's invalid-row handler. Empty cells are nulls.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from sagebox.data._badrows import BadRows
from sagebox.data._json_reader import widen_nulls
from sagebox.data.formats import DataSource
from sagebox.errors import ValidationError

SAMPLE_BLOCK = 1 << 20
BLOCK = 4 << 20
MAX_RECORD_BYTES = 64 * 1024 * 1024
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


def _record_end(data: bytearray | bytes) -> int:
    """The offset just past the last newline of ``data`` that is outside quotes, or -1.

    Quotes are escaped by doubling them (RFC 4180), which keeps the count of quotes before
    a record boundary even.
    """
    quotes = data.count(b'"')
    end = len(data)
    while True:
        newline = data.rfind(b"\n", 0, end)
        if newline < 0:
            return -1
        quotes -= data.count(b'"', newline, end)
        if quotes % 2 == 0:
            return newline + 1
        end = newline


def iter_chunks(stream: IO[bytes], uri: str, block: int) -> Iterator[tuple[bytes, int]]:
    """``(chunk of whole records, number of its first line)`` of about ``block`` bytes."""
    pending = bytearray()
    line = 1
    while True:
        data = stream.read(block)
        if not data:
            break
        pending += data
        cut = _record_end(pending)
        if cut < 0:
            if len(pending) > MAX_RECORD_BYTES:
                raise ValidationError(
                    f"{uri} has a record longer than {MAX_RECORD_BYTES // 2**20} MiB from line "
                    f"{line} (often a quote that is never closed). Fix the quoting, or check "
                    "the delimiter and format."
                )
            continue
        chunk = bytes(pending[:cut])
        del pending[:cut]
        yield chunk, line
        line += chunk.count(b"\n")
    if pending.strip():
        yield bytes(pending) + b"\n", line


def _read_options(source: DataSource, names: list[str] | None, skip: int) -> pcsv.ReadOptions:
    if names is not None:
        return pcsv.ReadOptions(column_names=names, skip_rows=skip, block_size=1 << 20)
    if source.csv_header:
        return pcsv.ReadOptions(block_size=1 << 20)
    return pcsv.ReadOptions(autogenerate_column_names=True, block_size=1 << 20)


def infer_schema(stream: IO[bytes], uri: str, source: DataSource) -> pa.Schema:
    """The column names and types of a CSV stream, from its first chunk."""
    first = next(iter_chunks(stream, uri, SAMPLE_BLOCK), None)
    if first is None:
        raise ValidationError(f"The CSV object {uri} is empty. Remove it or add rows.")
    try:
        sample = pcsv.read_csv(
            io.BytesIO(first[0]),
            read_options=_read_options(source, None, 0),
            parse_options=pcsv.ParseOptions(
                delimiter=source.csv_delimiter,
                newlines_in_values=True,
                invalid_row_handler=lambda row: "skip",
            ),
        )
    except _ARROW_ERRORS as error:
        raise ValidationError(
            f"Cannot read {uri} as CSV ({error}). Check that it is CSV with a header row "
            "(or set csv_header=False), or declare its real format."
        ) from None
    schema: pa.Schema = sample.schema
    _check_names(schema, uri)
    return widen_nulls(schema)


def _check_names(schema: pa.Schema, uri: str) -> None:
    seen: set[str] = set()
    for name in schema.names:
        if name in seen:
            raise ValidationError(
                f"The CSV header of {uri} names the column {name!r} twice. Give every column "
                "a distinct name."
            )
        seen.add(name)


def read(
    stream: IO[bytes],
    uri: str,
    source: DataSource,
    schema: pa.Schema,
    columns: list[str] | None,
    bad: BadRows,
    block_bytes: int = BLOCK,
) -> Iterator[pa.RecordBatch]:
    """Batches of the CSV stream's rows typed by ``schema`` (only ``columns`` if given)."""
    wanted = [c for c in schema.names if columns is None or c in columns]
    convert = pcsv.ConvertOptions(
        column_types={name: pa.string() for name in schema.names},
        strings_can_be_null=True,
        include_columns=wanted,
    )
    rows_before = 0
    for index, (chunk, first_line) in enumerate(iter_chunks(stream, uri, block_bytes)):
        invalid: list[tuple[str, str]] = []

        def on_invalid(row: Any, invalid: list[tuple[str, str]] = invalid) -> str:
            message = f"the row has {row.actual_columns} cells, the header {row.expected_columns}"
            invalid.append((message, row.text))
            return "error" if bad.policy == "fail" else "skip"

        skip = 1 if index == 0 and source.csv_header else 0
        try:
            text_table = pcsv.read_csv(
                io.BytesIO(chunk),
                read_options=_read_options(source, schema.names, skip),
                parse_options=pcsv.ParseOptions(
                    delimiter=source.csv_delimiter,
                    newlines_in_values=True,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=convert,
            )
        except _ARROW_ERRORS as error:
            raise _failed(uri, error, invalid, chunk, first_line, bad) from None
        for message, raw in invalid:
            bad.add(uri, "line", _line_of(chunk, raw, first_line), message, raw)
        first_row = rows_before + len(invalid) + 1
        rows_before += text_table.num_rows + len(invalid)
        for batch in text_table.combine_chunks().to_batches():
            typed = _typed(batch, schema, uri, first_row, bad, source.csv_delimiter)
            first_row += batch.num_rows
            if typed.num_rows:
                yield typed


def _line_of(chunk: bytes, raw: str, first_line: int) -> int | None:
    """The line of ``chunk`` that holds the whole record ``raw`` (for error messages)."""
    record = raw.encode("utf-8", "replace")
    if chunk.startswith(record) and chunk[len(record) : len(record) + 1] in (b"\n", b"\r"):
        return first_line
    for end in (b"\n", b"\r\n"):
        found = chunk.find(b"\n" + record + end)
        if found >= 0:
            return first_line + chunk.count(b"\n", 0, found + 1)
    return None


def _failed(
    uri: str,
    error: Exception,
    invalid: list[tuple[str, str]],
    chunk: bytes,
    first_line: int,
    bad: BadRows,
) -> ValidationError:
    """The error for a CSV read that Arrow gave up on: the bad row's, when there is one."""
    if invalid:
        message, raw = invalid[-1]
        bad.add(uri, "line", _line_of(chunk, raw, first_line), message, raw)  # raises if "fail"
    return ValidationError(
        f"Cannot read {uri} as CSV ({error}). Check the delimiter and quoting, or declare "
        "the file's real format."
    )


def _typed(
    batch: pa.RecordBatch,
    schema: pa.Schema,
    uri: str,
    first_row: int,
    bad: BadRows,
    delimiter: str,
) -> pa.RecordBatch:
    """``batch`` (all text) cast to the schema; rows whose values do not parse are bad rows."""
    drop: dict[int, str] = {}
    for name in batch.schema.names:
        target = schema.field(name).type
        if pa.types.is_string(target):
            continue
        for index in _unparsable(batch.column(name), target):
            value = batch.column(name)[index].as_py()
            drop.setdefault(
                index,
                f"the value {value!r} in column {name!r} is not a valid {target} (the type "
                "was inferred from the first rows of the file)",
            )
    if drop:
        for index in sorted(drop):
            row = batch.slice(index, 1).to_pylist()[0]
            cells = ["" if v is None else str(v) for v in row.values()]
            bad.add(uri, "row", first_row + index, drop[index], delimiter.join(cells))
        keep = pa.array([i not in drop for i in range(batch.num_rows)])
        batch = batch.filter(keep)
    arrays = [batch.column(name).cast(schema.field(name).type) for name in batch.schema.names]
    return pa.RecordBatch.from_arrays(
        arrays, schema=pa.schema([schema.field(name) for name in batch.schema.names])
    )


def _unparsable(array: pa.Array, target: pa.DataType) -> list[int]:
    """Indexes of the values of ``array`` that do not cast to ``target`` (bisection)."""
    try:
        pc.cast(array, target)
        return []
    except _ARROW_ERRORS:
        if len(array) == 1:
            return [0]
    half = len(array) // 2
    return _unparsable(array.slice(0, half), target) + [
        half + i for i in _unparsable(array.slice(half), target)
    ]
