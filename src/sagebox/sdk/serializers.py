"""Request serializers, as ``sagemaker.serializers``: Python data to an endpoint's body.

A serializer has ``CONTENT_TYPE`` (sent as the request's ``Content-Type``) and
``serialize(data) -> bytes``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any

__all__ = [
    "CSVSerializer",
    "IdentitySerializer",
    "JSONLinesSerializer",
    "JSONSerializer",
    "NumpySerializer",
]


def _rows(data: Any) -> list[list[Any]]:
    """A table-like value (numpy array, DataFrame, list of rows, one row) as rows."""
    if hasattr(data, "to_numpy"):  # pandas
        data = data.to_numpy()
    if hasattr(data, "tolist"):  # numpy
        data = data.tolist()
    if isinstance(data, list | tuple) and data and not isinstance(data[0], list | tuple):
        return [list(data)]  # one row
    return [list(row) for row in data]


class IdentitySerializer:
    """Sends bytes (or text, UTF-8 encoded) as they are."""

    def __init__(self, content_type: str = "application/octet-stream") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: Any) -> bytes:
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)


class CSVSerializer:
    """Rows as ``text/csv``: one line per row, no header. A string is sent as it is."""

    CONTENT_TYPE = "text/csv"

    def __init__(self, content_type: str = "text/csv") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: Any) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode("utf-8")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(_rows(data))
        return out.getvalue().rstrip("\n").encode("utf-8")


class JSONSerializer:
    """``application/json``: numpy arrays and DataFrames become lists of rows."""

    CONTENT_TYPE = "application/json"

    def __init__(self, content_type: str = "application/json") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: Any) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode("utf-8")
        if hasattr(data, "to_numpy") or hasattr(data, "tolist"):
            data = _rows(data)
        return json.dumps(data).encode("utf-8")


class JSONLinesSerializer:
    """``application/jsonlines``: one JSON value per line."""

    CONTENT_TYPE = "application/jsonlines"

    def __init__(self, content_type: str = "application/jsonlines") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: Iterable[Any] | str | bytes) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode("utf-8")
        if hasattr(data, "to_numpy") or hasattr(data, "tolist"):
            data = _rows(data)
        return "\n".join(json.dumps(item) for item in data).encode("utf-8")


class NumpySerializer:
    """A numpy array as ``application/x-npy`` (``numpy.save``)."""

    CONTENT_TYPE = "application/x-npy"

    def __init__(self, content_type: str = "application/x-npy") -> None:
        self.CONTENT_TYPE = content_type

    def serialize(self, data: Any) -> bytes:
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(data), allow_pickle=False)
        return buffer.getvalue()
