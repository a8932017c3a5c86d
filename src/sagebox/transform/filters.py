"""DataProcessing's JSONPath filters and joins, as SageMaker batch transform documents them.

``InputFilter`` picks what of each input record the model sees, ``JoinSource: Input``
joins the original record with the model's answer, and ``OutputFilter`` picks what of
the (joined) answer is written. SageMaker supports a subset of JSONPath: ``$``,
``.name``, ``*``, ``['a','b']``, ``[i,j]`` (negative indexes count from the end) and one
``[start:end]`` slice.

- CSV rows are arrays of columns, so only index filters apply (``$[1:]``, ``$[0,-1]``).
  A slice includes both ends, as AWS's guide explains it with columns: ``$[1:4]`` is the
  second through fifth columns. A join appends the answer's columns to the input row.
- JSON values go through jsonpath-ng (standard JSONPath: a slice excludes its end). A
  join adds ``SageMakerOutput`` to an input object, or makes
  ``{"SageMakerInput": ..., "SageMakerOutput": ...}`` when the input is not an object.
  ``['a','b']`` selects an object with those keys; an index list, a slice or ``*``
  selects a list; a single name or index selects the value itself.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from sagebox.errors import ValidationError

__all__ = [
    "CsvPath",
    "FilterError",
    "JsonPath",
    "join_csv",
    "join_json",
    "parse_filter",
    "split_csv",
]

_CSV_PATH = re.compile(r"\$(?:\[(?P<body>[^\]]*)\])?")
_INT = r"\s*-?\d+\s*"
_INDEXES = re.compile(rf"{_INT}(?:,{_INT})*")
_SLICE = re.compile(r"\s*(?P<start>-?\d+)?\s*:\s*(?P<end>-?\d+)?\s*")
_OPERATORS = "$, .name, *, ['name','name'], [index,index] and one [start:end] slice"


class FilterError(Exception):
    """A filter that cannot be applied to a record (an index past its end ...)."""


@dataclass(frozen=True)
class CsvPath:
    """An index filter over the columns of a CSV row."""

    expression: str
    indexes: tuple[int, ...] | None = None  # None: every column
    start: int | None = None  # a slice, both ends included
    end: int | None = None
    is_slice: bool = False

    @property
    def identity(self) -> bool:
        return self.indexes is None and not self.is_slice

    def columns(self, row: list[str]) -> list[str]:
        if self.is_slice:
            size = len(row)
            start = 0 if self.start is None else self.start
            end = size - 1 if self.end is None else self.end
            for bound in (start, end):
                if not -size <= bound < size:
                    raise FilterError(self._outside(bound, size))
            stop = end + 1 if end != -1 else None
            return row[start:stop]
        if self.indexes is None:
            return row
        size = len(row)
        picked = []
        for index in self.indexes:
            if not -size <= index < size:
                raise FilterError(self._outside(index, size))
            picked.append(row[index])
        return picked

    def _outside(self, index: int, size: int) -> str:
        return (
            f"the filter {self.expression!r} uses index {index}, outside the row's {size} "
            f"columns (indexes 0 to {size - 1}, or -{size} to -1 from the end)"
        )


class JsonPath:
    """A JSONPath filter over one JSON value (jsonpath-ng), limited to AWS's operators."""

    def __init__(self, expression: str, parsed: Any, shape: str) -> None:
        self.expression = expression
        self._parsed = parsed
        self._shape = shape  # "value" | "list" | "object"

    @property
    def identity(self) -> bool:
        return self.expression.strip() == "$"

    def value(self, data: Any) -> Any:
        if self.identity:
            return data
        matches = self._parsed.find(data)
        if self._shape == "list":
            return [m.value for m in matches]
        if self._shape == "object":
            return {str(m.path.fields[0]): m.value for m in matches}
        if not matches:
            raise FilterError(f"the filter {self.expression!r} selects nothing in {_short(data)}")
        return matches[0].value


def _short(data: Any) -> str:
    import json

    text = json.dumps(data)
    return text if len(text) <= 80 else text[:77] + "..."


def _refuse(expression: str, where: str, why: str) -> ValidationError:
    return ValidationError(
        f"{where} {expression!r} is not a filter SageMaker batch transform supports: {why}. "
        f"Supported JSONPath operators: {_OPERATORS}."
    )


def _csv_path(expression: str, where: str) -> CsvPath:
    match = _CSV_PATH.fullmatch(expression.strip())
    if match is None:
        raise _refuse(
            expression,
            where,
            "CSV rows are arrays of columns, so only index filters apply, such as $[1:] "
            "(all but the first column) or $[0,-1] (the first and the last)",
        )
    body = match["body"]
    if body is None or body.strip() == "*":
        return CsvPath(expression)
    if _INDEXES.fullmatch(body):
        return CsvPath(expression, indexes=tuple(int(i) for i in body.split(",")))
    slice_match = _SLICE.fullmatch(body)
    if slice_match is not None:
        start, end = slice_match["start"], slice_match["end"]
        return CsvPath(
            expression,
            start=int(start) if start is not None else None,
            end=int(end) if end is not None else None,
            is_slice=True,
        )
    raise _refuse(
        expression,
        where,
        f"[{body}] mixes indexes and ranges; only single range filters of format (eg: [1:5]) "
        "or lists of indexes (eg: [0,2,4]) are supported",
    )


def _json_path(expression: str, where: str) -> JsonPath:
    from jsonpath_ng import Child, Fields, Index, Root, Slice, This, Wildcard
    from jsonpath_ng import parse as parse_jsonpath

    text = expression.strip()
    if not text.startswith("$"):
        raise _refuse(expression, where, "a path starts with $, the root of the record")
    try:
        parsed = parse_jsonpath(text)
    except Exception as exc:  # jsonpath-ng raises lexer, parser and plain errors
        raise _refuse(expression, where, f"it does not parse ({exc})") from None

    steps: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, Child):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Root | This | Fields | Index | Slice | Wildcard):
            steps.append(node)
        else:
            raise _refuse(expression, where, f"{type(node).__name__} is not among them")

    walk(parsed)

    def multi(node: Any) -> bool:
        if isinstance(node, Slice | Wildcard):
            return True
        if isinstance(node, Index):
            return len(node.indices) > 1
        return isinstance(node, Fields) and len(node.fields) > 1

    shape = "value"
    for position, node in enumerate(steps):
        if not multi(node):
            continue
        last = position == len(steps) - 1
        # ['a','b'] last makes an object; anything multi-valued before it, a list
        shape = "object" if isinstance(node, Fields) and last and shape == "value" else "list"
    return JsonPath(expression, parsed, shape)


def parse_filter(expression: str | None, family: str, where: str) -> CsvPath | JsonPath:
    """The filter ``expression`` (``$`` when empty) for records of ``family`` (csv/json)."""
    text = (expression or "").strip() or "$"
    if family == "csv":
        return _csv_path(text, where)
    return _json_path(text, where)


def split_csv(line: str) -> list[str]:
    """The columns of one CSV row (RFC 4180 quoting)."""
    if '"' not in line:
        return line.split(",")
    return next(csv.reader([line]))


def join_csv(columns: list[str]) -> str:
    """One CSV row from ``columns``, quoting only where a column needs it."""
    if not any(("," in c or '"' in c or "\n" in c or "\r" in c) for c in columns):
        return ",".join(columns)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(columns)
    return buffer.getvalue()


def join_json(record: Any, answer: Any) -> Any:
    """JoinSource Input for JSON: the answer under SageMakerOutput, beside the input."""
    if isinstance(record, dict):
        return {**record, "SageMakerOutput": answer}
    return {"SageMakerInput": record, "SageMakerOutput": answer}
