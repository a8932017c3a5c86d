"""Request bodies to feature rows, predictions to response bodies: the built-in codecs.

The three content types of SageMaker's built-in algorithms, in and out:

- ``text/csv``: features only (no label, no header), one row per line; an empty cell is a
  missing value. Out: one line per row, each ending in a newline: the score, or a
  multiclass row's class probabilities separated by commas.
- ``application/json``: ``{"instances": [[...], ...]}`` (an instance may also be
  ``{"features": [...]}``), ``{"features": [...]}`` for one row, or a list of rows.
  ``null`` is a missing value. Out: ``{"predictions": [{"score": p}, ...]}``; a multiclass
  row gives ``{"predicted_label": k, "score": [p0, p1, ...]}``.
- ``application/jsonlines``: one JSON row (a list, or ``{"features": [...]}``) per line in,
  one prediction object per line out.

This is the hot path of every endpoint: a one-row request costs a few microseconds here
(hand split, no pandas); bodies over ``LARGE_BODY`` bytes go through pandas' C parser,
which reads CSV about six times faster than numpy's (in parts at once, where a process
has set :func:`set_parse_threads`), and answers of ``LARGE_ANSWER`` values or more
through Arrow's CSV writer.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sagebox.serving.errors import ModelError

__all__ = [
    "CSV",
    "JSON",
    "JSONLINES",
    "SUPPORTED",
    "choose_accept",
    "decode",
    "encode",
    "encode_framework",
    "media_type",
    "set_parse_threads",
]

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
SUPPORTED = (CSV, JSON, JSONLINES)
LARGE_BODY = 64 * 1024  # bytes from which the vectorised CSV parser is faster
LARGE_ANSWER = 1024  # values from which Arrow's CSV writer is faster (6x at 1,000)
PARALLEL_BODY = 1024 * 1024  # bytes from which a body is parsed in parts at once
_parse_threads = 1  # how many parts at most: set_parse_threads

_NAN = math.nan
_JSON_SHAPES = (
    '{"instances": [[1.5, 2.0], [0.3, 4.1]]}, {"instances": [{"features": [1.5, 2.0]}]}, '
    '{"features": [1.5, 2.0]} or [[1.5, 2.0], [0.3, 4.1]]'
)


def media_type(value: str | None) -> str:
    """``Text/CSV; charset=utf-8`` -> ``text/csv``; ``None`` -> ``""``."""
    if not value:
        return ""
    return value.split(";", 1)[0].strip().lower()


def unsupported_content_type(content_type: str) -> ModelError:
    shown = content_type or "(none)"
    return ModelError(
        415,
        f"Content type {shown!r} is not supported by this model's input_fn. "
        f"Send one of {', '.join(SUPPORTED)}, or define input_fn in inference.py.",
    )


def choose_accept(accept: str) -> str:
    """The first type of an Accept header that the built-in output_fn writes, or 406."""
    for part in accept.split(","):
        kind = media_type(part)
        if kind in SUPPORTED:
            return kind
    raise ModelError(
        406,
        f"Accept {accept!r} names no type this model's output_fn writes. "
        f"Ask for one of {', '.join(SUPPORTED)} (or */*), or define output_fn in inference.py.",
    )


# --- decoding ----------------------------------------------------------------------------


def decode(body: bytes, content_type: str) -> Any:
    """The feature rows in ``body``: a 2-d float64 array (an object array when some cells
    are not numbers, which only models with categorical features take)."""
    kind = media_type(content_type)
    if kind == CSV:
        return decode_csv(body)
    if kind == JSON:
        return decode_json(body)
    if kind == JSONLINES:
        return decode_jsonlines(body)
    raise unsupported_content_type(content_type)


def decode_csv(body: bytes) -> Any:
    if len(body) >= LARGE_BODY:
        rows = _csv_vectorised(body)
        if rows is not None:
            return rows
    return _csv_rows(body)


def _csv_rows(body: bytes) -> Any:
    rows: list[list[float]] = []
    width = 0
    first = 0
    for number, line in enumerate(body.splitlines(), 1):
        cells = line.split(b",")
        if len(cells) == 1 and not line.strip():
            continue  # blank lines, the trailing newline
        if not width:
            width, first = len(cells), number
        elif len(cells) != width:
            raise ModelError(
                400,
                f"text/csv line {number} has {len(cells)} values but line {first} has "
                f"{width}: every line must hold the same feature columns (no label).",
            )
        try:
            rows.append([float(cell) for cell in cells])
        except ValueError:
            return _csv_mixed(body)
    if not rows:
        raise ModelError(400, "The text/csv body holds no rows: send one row of features a line.")
    return np.array(rows, dtype=np.float64)


def _cell(cell: bytes) -> float | str:
    text = cell.strip()
    if not text:
        return _NAN
    try:
        return float(text)
    except ValueError:
        return text.decode("utf-8", "replace")


def _csv_mixed(body: bytes) -> Any:
    """Rows with empty cells (missing: NaN) or text cells (kept as strings)."""
    rows: list[list[float | str]] = []
    first = 0
    for number, line in enumerate(body.splitlines(), 1):
        if not line.strip():
            continue
        row = [_cell(cell) for cell in line.split(b",")]
        if not rows:
            first = number
        elif len(row) != len(rows[0]):
            raise ModelError(
                400,
                f"text/csv line {number} has {len(row)} values but line {first} has "
                f"{len(rows[0])}: every line must hold the same feature columns (no label).",
            )
        rows.append(row)
    if all(isinstance(cell, float) for row in rows for cell in row):
        return np.array(rows, dtype=np.float64)
    matrix = np.empty((len(rows), len(rows[0])), dtype=object)
    matrix[:] = rows
    return matrix


def set_parse_threads(count: int) -> None:
    """Parse large CSV bodies in up to ``count`` threads at once (pandas' C parser runs
    without the GIL), for a process that answers one request at a time and has cores to
    spare: a batch transform instance with one slot. One by default."""
    global _parse_threads
    _parse_threads = max(1, count)


def _csv_vectorised(body: bytes) -> Any | None:
    """Large bodies through pandas' C parser; None when a row needs the careful path."""
    parts = _split_lines(body, _parse_threads) if len(body) >= PARALLEL_BODY else [body]
    if len(parts) == 1:
        matrix = _csv_matrix(body)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(parts), thread_name_prefix="csv") as pool:
            read = list(pool.map(_csv_matrix, parts))
        matrices = [m for m in read if m is not None]
        if len(matrices) != len(read) or len({m.shape[1] for m in matrices}) != 1:
            return None
        matrix = np.concatenate(matrices)
    if matrix is None:
        return None
    rows, columns = matrix.shape
    # pandas pads a short row with NaN (a long one it refuses): a last column without NaN
    # proves that no row was short, and equal comma counts do when it has some.
    if np.isnan(matrix[:, -1]).any() and body.count(b",") != rows * (columns - 1):
        return None
    return matrix


def _split_lines(body: bytes, count: int) -> list[bytes]:
    """``body`` in up to ``count`` parts of about equal size, each of whole lines."""
    parts, start = [], 0
    for index in range(1, count):
        cut = body.find(b"\n", max(start, len(body) * index // count)) + 1
        if cut <= 0:
            break
        parts.append(body[start:cut])
        start = cut
    parts.append(body[start:])
    return [part for part in parts if part]


def _csv_matrix(body: bytes) -> Any | None:
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.BytesIO(body),
            header=None,
            dtype=np.float64,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=True,
            engine="c",
        )
    except (ValueError, pd.errors.EmptyDataError):
        return None  # text cells, ragged rows: the row path says which row
    return frame.to_numpy(dtype=np.float64)


def decode_json(body: bytes) -> Any:
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ModelError(
            400, f"The application/json body is not valid JSON ({exc}). Send {_JSON_SHAPES}."
        ) from None
    return _matrix(_json_rows(document), "instance")


def _json_rows(document: Any) -> list[Any]:
    if isinstance(document, dict):
        if "instances" in document and isinstance(document["instances"], list):
            return [_json_row(item, index) for index, item in enumerate(document["instances"], 1)]
        if "features" in document:
            return [_json_row(document, 1)]
    elif isinstance(document, list) and document:
        if isinstance(document[0], list | dict):
            return [_json_row(item, index) for index, item in enumerate(document, 1)]
        return [document]
    raise ModelError(
        400,
        f"The application/json body holds no rows of features ({_preview(document)}). "
        f"Send {_JSON_SHAPES}.",
    )


def _json_row(item: Any, index: int, what: str = "instance") -> Any:
    if isinstance(item, list):
        return item
    if isinstance(item, dict):
        features = item.get("features")
        if features is None and isinstance(item.get("data"), dict):
            # SageMaker's dense JSON record: {"data": {"features": {"values": [...]}}}
            features = (item["data"].get("features") or {}).get("values")
        if isinstance(features, list):
            return features
    raise ModelError(
        400,
        f"JSON {what} {index} is {_preview(item)}, not a row of features: give a list of "
        f'values or {{"features": [...]}}.',
    )


def decode_jsonlines(body: bytes) -> Any:
    lines = [line for line in body.splitlines() if line.strip()]
    if not lines:
        raise ModelError(400, "The application/jsonlines body holds no lines: send one row a line.")
    try:
        documents = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        documents = []
        for number, line in enumerate(body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                documents.append(json.loads(line))
            except ValueError as exc:
                raise ModelError(
                    400,
                    f"application/jsonlines line {number} is not valid JSON ({exc}): send one "
                    f'JSON row a line, [1.5, 2.0] or {{"features": [1.5, 2.0]}}.',
                ) from None
    rows = [_json_row(item, index, "line") for index, item in enumerate(documents, 1)]
    return _matrix(rows, "line")


def _matrix(rows: list[Any], what: str) -> Any:
    """Rows of JSON values as a 2-d array, or a 400 naming the row that does not fit."""
    if not rows:
        raise ModelError(400, f"The body holds no {what}s: send at least one row of features.")
    try:
        matrix = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        matrix = None
    if matrix is not None and matrix.ndim == 2:
        return matrix
    width = len(rows[0]) if isinstance(rows[0], Sequence) else 0
    for index, row in enumerate(rows, 1):
        if len(row) != width:
            raise ModelError(
                400,
                f"JSON {what} {index} has {len(row)} values but {what} 1 has {width}: every "
                "row must hold the same feature columns (no label).",
            )
        for column, value in enumerate(row, 1):
            if isinstance(value, list | dict):
                raise ModelError(
                    400,
                    f"JSON {what} {index}, column {column} is {_preview(value)}: a feature "
                    "must be a number, a string or null.",
                )
    mixed = np.empty((len(rows), width), dtype=object)  # text cells: categorical features
    mixed[:] = [[_NAN if value is None else value for value in row] for row in rows]
    return mixed


def first_text_cell(matrix: Any) -> tuple[int, int, str] | None:
    """(row, column, text) of the first cell that is not a number, both counted from 1."""
    if matrix.dtype != object:
        return None
    for r, row in enumerate(matrix, 1):
        for c, value in enumerate(row, 1):
            if isinstance(value, str):
                try:
                    float(value)
                except ValueError:
                    return r, c, value
    return None


def _preview(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- encoding ----------------------------------------------------------------------------


def encode(predictions: Any, accept: str) -> tuple[bytes, str]:
    """``predictions`` as a response body of the Accept type chosen by :func:`choose_accept`."""
    kind = choose_accept(accept)
    values = np.asarray(predictions)
    if values.dtype.kind not in "fiub":
        return _encode_other(predictions, values, kind), kind
    if values.ndim == 0:
        values = values.reshape(1)
    elif values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 1:
        return _encode_scores(values, kind), kind
    if values.ndim == 2:
        return _encode_classes(values, kind), kind
    raise ModelError(
        500,
        f"The model predicted an array of shape {values.shape}; the built-in output_fn writes "
        "one score or one row of class probabilities per row. Define output_fn in inference.py.",
    )


def _numbers(values: Any, for_json: bool) -> list[str]:
    """Each value as its shortest text; NaN and infinities are null in JSON."""
    if values.dtype.kind == "b":
        values = values.astype(np.int64)
    if values.dtype.kind == "f" and values.dtype.itemsize < 8:
        texts: list[str] = values.astype(str).tolist()  # float32's shortest text: 0.3
    else:
        texts = [repr(v) for v in values.tolist()]
    if for_json and values.dtype.kind == "f" and not np.isfinite(values).all():
        texts = [t if math.isfinite(float(t)) else "null" for t in texts]
    return texts


def _large_csv(columns: list[Any]) -> bytes:
    """Many values as CSV lines through Arrow's writer, about six times faster than
    formatting them in Python. Each is still the shortest text that reads back as the same
    value, but Arrow writes an integral float without ``.0`` and small ones without an
    exponent (``3``, ``0.0000123``)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pa.table({str(index): column for index, column in enumerate(columns)})
    sink = pa.BufferOutputStream()
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    pcsv.write_csv(table, sink, write_options=options)
    return bytes(sink.getvalue())


def _encode_scores(values: Any, kind: str) -> bytes:
    if kind == CSV and values.size >= LARGE_ANSWER and values.dtype.kind in "fiu":
        return _large_csv([values])
    texts = _numbers(values, kind != CSV)
    if kind == CSV:
        return ("\n".join(texts) + "\n").encode()
    if kind == JSON:
        return (
            '{"predictions": [' + ", ".join([f'{{"score": {t}}}' for t in texts]) + "]}"
        ).encode()
    return "".join([f'{{"score": {t}}}\n' for t in texts]).encode()


def _encode_classes(values: Any, kind: str) -> bytes:
    if kind == CSV and values.size >= LARGE_ANSWER and values.dtype.kind in "fiu":
        return _large_csv([values[:, column] for column in range(values.shape[1])])
    if kind == CSV:
        flat = _numbers(values.reshape(-1), False)
        width = values.shape[1]
        lines = [",".join(flat[i : i + width]) for i in range(0, len(flat), width)]
        return ("\n".join(lines) + "\n").encode()
    labels = np.argmax(values, axis=1).tolist() if values.size else []
    flat = _numbers(values.reshape(-1), True)
    width = values.shape[1]
    objects = [
        f'{{"predicted_label": {label}, "score": [{", ".join(flat[i * width : (i + 1) * width])}]}}'
        for i, label in enumerate(labels)
    ]
    if kind == JSON:
        return ('{"predictions": [' + ", ".join(objects) + "]}").encode()
    return "".join(o + "\n" for o in objects).encode()


def _encode_other(predictions: Any, values: Any, kind: str) -> bytes:
    """Predictions that are not numbers (labels, dicts from a user's predict_fn)."""
    items = values.tolist() if isinstance(predictions, np.ndarray) else predictions
    if kind == JSON:
        if isinstance(items, list):
            items = {"predictions": items}
        return json.dumps(items, default=str).encode()
    rows = items if isinstance(items, list) else [items]
    if kind == JSONLINES:
        return "".join(json.dumps(row, default=str) + "\n" for row in rows).encode()
    return "".join(
        (",".join(map(str, row)) if isinstance(row, list) else str(row)) + "\n" for row in rows
    ).encode()


def encode_framework(prediction: Any, accept: str) -> tuple[bytes, str]:
    """The framework containers' default ``output_fn`` (the SageMaker inference toolkit's
    encoders), for a model of the user's own ``model_fn``: JSON is the prediction as a
    plain list (``[0.41, 0.99]``), CSV one row a line, JSON lines one row a line."""
    kind = choose_accept(accept)
    items = prediction.tolist() if isinstance(prediction, np.ndarray) else prediction
    if kind == JSON:
        return json.dumps(items, default=_plain).encode(), kind
    rows = items if isinstance(items, list) else [items]
    if kind == JSONLINES:
        return "".join(json.dumps(row, default=_plain) + "\n" for row in rows).encode(), kind
    lines = [",".join(map(str, r)) if isinstance(r, list | tuple) else str(r) for r in rows]
    return "".join(line + "\n" for line in lines).encode(), kind


def _plain(value: Any) -> Any:
    """numpy scalars and other values json cannot write, as plain values or text."""
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
