"""JSON lines and JSON documents, streamed in chunks of lines with Arrow's parser.

Each chunk of whole lines is parsed by Arrow against the file's schema (the fast path).
A chunk that Arrow refuses is redone line by line in Python (the slow path), which finds
the bad lines, names their error, and lets the policy decide; the good lines go back
through Arrow. The slow path also coerces what is safe (a number in a text field becomes
text) so one odd value does not cost a row. Nesting deeper than ``MAX_DEPTH`` and lines
longer than ``MAX_LINE_BYTES`` are bad rows, never a recursion error or a memory blow-up.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import IO, Any

import pyarrow as pa
import pyarrow.json as pj

from sagebox.data._badrows import IGNORED, BadRows
from sagebox.errors import ValidationError

MAX_DEPTH = 64
MAX_LINE_BYTES = 64 * 1024 * 1024
MAX_JSON_DOCUMENT_BYTES = 256 * 1024 * 1024
CHUNK_BYTES = 8 * 1024 * 1024
SAMPLE_CHUNK_BYTES = 256 * 1024
_ARROW_BLOCK = 1 << 20
_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)


class _BadLine(Exception):
    """A line that cannot become a row; the message says why."""


# -- reading lines -------------------------------------------------------------------------
def iter_chunks(
    stream: IO[bytes], uri: str, bad: BadRows, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[tuple[bytes, int]]:
    """``(chunk of whole lines, number of its first line)``, each up to about CHUNK_BYTES.

    A line longer than MAX_LINE_BYTES is reported as a bad row and skipped, so memory stays
    bounded whatever the input holds.
    """
    pending = bytearray()
    line = 1
    skipping = False  # inside an over-long line, discarding until its end
    while True:
        data = stream.read(chunk_bytes)
        if not data:
            break
        if skipping:
            end = data.find(b"\n")
            if end < 0:
                continue
            data, skipping, line = data[end + 1 :], False, line + 1
        pending += data
        cut = pending.rfind(b"\n")
        if cut < 0:
            if len(pending) > MAX_LINE_BYTES:
                _long_line(bad, uri, line, pending)
                pending.clear()
                skipping = True
            continue
        chunk = bytes(pending[: cut + 1])
        del pending[: cut + 1]
        yield chunk, line
        line += chunk.count(b"\n")
    if skipping:
        return
    if len(pending) > MAX_LINE_BYTES:
        _long_line(bad, uri, line, pending)
    elif pending.strip():
        yield bytes(pending) + b"\n", line


def _long_line(bad: BadRows, uri: str, line: int, pending: bytearray) -> None:
    bad.add(
        uri,
        "line",
        line,
        f"the line is longer than {MAX_LINE_BYTES} bytes, the most one JSON line may hold; "
        "split such records or store them as Parquet",
        bytes(pending[:200]),
    )


def document_lines(stream: IO[bytes], uri: str, bad: BadRows) -> bytes:
    """A JSON document (an array of objects, or one object) as JSON lines, one per row."""
    data = stream.read(MAX_JSON_DOCUMENT_BYTES + 1)
    if len(data) > MAX_JSON_DOCUMENT_BYTES:
        raise ValidationError(
            f"The JSON document {uri} is larger than {MAX_JSON_DOCUMENT_BYTES // 2**20} MiB, "
            "the most that is read as one document. Store large data as JSON lines (.jsonl, "
            "one object per line), which is read in a stream."
        )
    try:
        document = json.loads(data)
    except RecursionError:
        raise ValidationError(
            f"The JSON document {uri} is nested too deeply to read (more than {MAX_DEPTH} "
            "levels). Flatten it before import."
        ) from None
    except ValueError as error:
        raise ValidationError(
            f"The object {uri} is not valid JSON ({error}). Fix the file, or declare its real "
            "format (JSON lines are 'jsonl', one object per line)."
        ) from None
    if isinstance(document, dict):
        document = [document]
    if not isinstance(document, list):
        raise ValidationError(
            f"The JSON document {uri} holds a {type(document).__name__}; a data file must hold "
            "an array of objects or one object. Wrap the records in an array."
        )
    lines = []
    for index, element in enumerate(document, start=1):
        try:
            _check_depth(element)
            if not isinstance(element, dict):
                raise _BadLine(f"the element is a JSON {_kind(element)}, not an object")
        except _BadLine as error:
            bad.add(uri, "row", index, str(error), json.dumps(element)[:200])
            continue
        lines.append(json.dumps(element, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8") if lines else b""


# -- schema inference ---------------------------------------------------------------------
def infer_lines_schema(stream: IO[bytes], uri: str, sample_rows: int) -> pa.Schema:
    """The schema of the first ``sample_rows`` valid lines (deep or broken lines left out)."""
    good: list[bytes] = []
    tried = 0
    first_error = ""
    for chunk, _ in iter_chunks(stream, uri, IGNORED, SAMPLE_CHUNK_BYTES):
        for raw in chunk.split(b"\n"):
            if not raw.strip():
                continue
            tried += 1
            try:
                _parse_object(raw)
            except _BadLine as error:
                first_error = first_error or str(error)
                continue
            good.append(raw)
            if len(good) >= sample_rows:
                break
        if len(good) >= sample_rows:
            break
    if tried and not good:
        raise ValidationError(
            f"The object {uri} is not JSON lines: no line of the first {tried} is a JSON object "
            f"({first_error}). Declare its real format, or fix the file."
        )
    return widen_nulls(_infer(good)) if good else pa.schema([])


def infer_bytes_schema(lines: bytes, uri: str, sample_rows: int) -> pa.Schema:
    stream = io.BytesIO(lines)
    return infer_lines_schema(stream, uri, sample_rows)


def _infer(lines: list[bytes]) -> pa.Schema:
    """Arrow's inference over ``lines``. When lines disagree on a type, the schema most lines
    agree with wins; the others become bad rows when the file is read.
    """
    try:
        return _arrow_parse(b"\n".join(lines) + b"\n", None).schema
    except _ARROW_ERRORS:
        pass
    groups: list[list[Any]] = []  # [schema, line count]
    for raw in lines:
        try:
            schema = _arrow_parse(raw + b"\n", None).schema
        except _ARROW_ERRORS:
            continue
        for group in groups:
            try:
                group[0] = pa.unify_schemas([group[0], schema], promote_options="permissive")
            except _ARROW_ERRORS:
                continue
            group[1] += 1
            break
        else:
            groups.append([schema, 1])
    return max(groups, key=lambda g: int(g[1]))[0] if groups else pa.schema([])


def widen_nulls(schema: pa.Schema) -> pa.Schema:
    """Fields that were null in every sampled row become text, so later values fit."""
    return pa.schema([field.with_type(_widen(field.type)) for field in schema])


def _widen(data_type: pa.DataType) -> pa.DataType:
    if pa.types.is_null(data_type):
        return pa.string()
    if pa.types.is_struct(data_type):
        return pa.struct(
            [
                data_type.field(i).with_type(_widen(data_type.field(i).type))
                for i in range(data_type.num_fields)
            ]
        )
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        item = data_type.value_field.with_type(_widen(data_type.value_type))
        return pa.large_list(item) if pa.types.is_large_list(data_type) else pa.list_(item)
    return data_type


# -- reading rows -------------------------------------------------------------------------
def read_lines(
    stream: IO[bytes],
    uri: str,
    schema: pa.Schema,
    bad: BadRows,
    where: str = "line",
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[pa.Table]:
    """Tables of the rows of a JSON lines stream, parsed against ``schema``."""
    for chunk, first_line in iter_chunks(stream, uri, bad, chunk_bytes):
        if not chunk.strip():
            continue
        try:
            yield _arrow_parse(chunk, schema).combine_chunks()
            continue
        except _ARROW_ERRORS:
            pass
        table = _slow_chunk(chunk, first_line, uri, schema, bad, where)
        if table is not None and table.num_rows:
            yield table


def _arrow_parse(data: bytes, schema: pa.Schema | None) -> pa.Table:
    parse = (
        pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")
        if schema is not None
        else pj.ParseOptions()
    )
    return pj.read_json(
        io.BytesIO(data), read_options=pj.ReadOptions(block_size=_ARROW_BLOCK), parse_options=parse
    )


def _slow_chunk(
    chunk: bytes, first_line: int, uri: str, schema: pa.Schema, bad: BadRows, where: str
) -> pa.Table | None:
    good: list[tuple[int, bytes]] = []
    for offset, raw in enumerate(chunk.split(b"\n")):
        if not raw.strip():
            continue
        number = first_line + offset
        try:
            value = _parse_object(raw)
            fitted, changed = _fit(value, schema, "")
        except _BadLine as error:
            bad.add(uri, where, number, str(error), raw)
            continue
        good.append((number, json.dumps(fitted).encode("utf-8") if changed else raw))
    return _parse_good(good, uri, schema, bad, where)


def _parse_good(
    good: list[tuple[int, bytes]], uri: str, schema: pa.Schema, bad: BadRows, where: str
) -> pa.Table | None:
    """Arrow over lines that passed the Python checks; bisect to any that Arrow still refuses."""
    if not good:
        return None
    try:
        return _arrow_parse(b"\n".join(raw for _, raw in good) + b"\n", schema)
    except _ARROW_ERRORS as error:
        if len(good) == 1:
            number, raw = good[0]
            message = str(error).removeprefix("JSON parse error: ")
            bad.add(uri, where, number, f"the row does not fit the schema: {message}", raw)
            return None
    half = len(good) // 2
    parts = [
        t
        for t in (
            _parse_good(good[:half], uri, schema, bad, where),
            _parse_good(good[half:], uri, schema, bad, where),
        )
        if t is not None
    ]
    return pa.concat_tables(parts) if parts else None


# -- checking one value -------------------------------------------------------------------
def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"


def _parse_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _BadLine(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as error:
        raise _BadLine(f"not valid JSON ({error})") from None
    _check_depth(value)
    if not isinstance(value, dict):
        raise _BadLine(f"the line is a JSON {_kind(value)}, not an object")
    return value


def _check_depth(value: object) -> None:
    """Refuse values nested deeper than MAX_DEPTH (iteratively: no recursion to exhaust)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _BadLine(f"the JSON is nested more than {MAX_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


_TEXT = (pa.types.is_string, pa.types.is_large_string)
_INTEGER = pa.types.is_integer
_FLOAT = pa.types.is_floating


def _fit(value: Any, schema: pa.Schema | pa.StructType, path: str) -> tuple[Any, bool]:
    """``value`` (an object) shaped to ``schema``; whether it had to change. Raises _BadLine."""
    names = set(schema.names)
    changed = False
    for key in value:
        if key not in names:
            where = f"{path}.{key}" if path else key
            raise _BadLine(
                f"the field {where!r} is not in the schema inferred from the first rows; "
                "pass an explicit schema that has it, or read with a larger sample"
            )
    out = dict(value)
    for field in schema:
        if field.name in value:
            where = f"{path}.{field.name}" if path else field.name
            out[field.name], moved = _fit_value(value[field.name], field.type, where)
            changed = changed or moved
    return out, changed


def _fit_value(value: Any, data_type: pa.DataType, path: str) -> tuple[Any, bool]:
    if value is None:
        return None, False
    if any(test(data_type) for test in _TEXT):
        if isinstance(value, str):
            return value, False
        return (json.dumps(value) if not isinstance(value, bool) else str(value).lower()), True
    if pa.types.is_struct(data_type):
        if not isinstance(value, dict):
            raise _mismatch(path, "an object", value)
        return _fit(value, data_type, path)
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        if not isinstance(value, list):
            raise _mismatch(path, "an array", value)
        items = [_fit_value(v, data_type.value_type, f"{path}[]") for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    if _INTEGER(data_type) or _FLOAT(data_type):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _mismatch(path, f"a number ({data_type})", value)
        if _INTEGER(data_type) and isinstance(value, float) and not value.is_integer():
            raise _mismatch(path, f"a whole number ({data_type})", value)
        return value, False
    if pa.types.is_boolean(data_type) and not isinstance(value, bool):
        raise _mismatch(path, "true or false", value)
    if isinstance(value, dict | list):
        raise _mismatch(path, str(data_type), value)
    return value, False


def _mismatch(path: str, expected: str, value: Any) -> _BadLine:
    shown = json.dumps(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return _BadLine(f"the field {path!r} should be {expected}, got {_kind(value)} {shown}")
