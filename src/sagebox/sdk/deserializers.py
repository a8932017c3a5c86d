"""Response deserializers, as ``sagemaker.deserializers``: an endpoint's body to Python data.

A deserializer has ``ACCEPT`` (sent as the request's ``Accept``) and
``deserialize(stream_or_bytes, content_type)``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

__all__ = [
    "BytesDeserializer",
    "CSVDeserializer",
    "JSONDeserializer",
    "JSONLinesDeserializer",
    "NumpyDeserializer",
    "StringDeserializer",
]


def _read(body: Any) -> bytes:
    """The bytes of a response body: bytes, or a stream (botocore's StreamingBody)."""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    data = body.read()
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return bytes(data)


class BytesDeserializer:
    ACCEPT: tuple[str, ...] = ("*/*",)

    def deserialize(self, body: Any, content_type: str | None = None) -> bytes:
        return _read(body)


class StringDeserializer:
    ACCEPT: tuple[str, ...] = ("application/json",)

    def __init__(self, encoding: str = "utf-8", accept: str = "application/json") -> None:
        self.encoding = encoding
        self.ACCEPT = (accept,)

    def deserialize(self, body: Any, content_type: str | None = None) -> str:
        return _read(body).decode(self.encoding)


class CSVDeserializer:
    """``text/csv`` to a list of rows of strings, as the SageMaker SDK returns it."""

    ACCEPT: tuple[str, ...] = ("text/csv",)

    def __init__(self, encoding: str = "utf-8", accept: str = "text/csv") -> None:
        self.encoding = encoding
        self.ACCEPT = (accept,)

    def deserialize(self, body: Any, content_type: str | None = None) -> list[list[str]]:
        text = _read(body).decode(self.encoding)
        return [row for row in csv.reader(io.StringIO(text)) if row]


class JSONDeserializer:
    ACCEPT: tuple[str, ...] = ("application/json",)

    def __init__(self, accept: str = "application/json") -> None:
        self.ACCEPT = (accept,)

    def deserialize(self, body: Any, content_type: str | None = None) -> Any:
        return json.loads(_read(body))


class JSONLinesDeserializer:
    ACCEPT: tuple[str, ...] = ("application/jsonlines",)

    def __init__(self, accept: str = "application/jsonlines") -> None:
        self.ACCEPT = (accept,)

    def deserialize(self, body: Any, content_type: str | None = None) -> list[Any]:
        return [json.loads(line) for line in _read(body).decode("utf-8").splitlines() if line]


class NumpyDeserializer:
    """``text/csv``, ``application/json`` or ``application/x-npy`` to a numpy array."""

    ACCEPT: tuple[str, ...] = ("application/x-npy",)

    def __init__(self, dtype: Any = None, accept: str = "application/x-npy") -> None:
        self.dtype = dtype
        self.ACCEPT = (accept,)

    def deserialize(self, body: Any, content_type: str | None = None) -> Any:
        import numpy as np

        data = _read(body)
        kind = (content_type or self.ACCEPT[0]).split(";", 1)[0].strip()
        if kind == "text/csv":
            return np.loadtxt(io.StringIO(data.decode("utf-8")), delimiter=",", dtype=self.dtype)
        if kind == "application/json":
            return np.array(json.loads(data), dtype=self.dtype)
        return np.load(io.BytesIO(data), allow_pickle=False)
