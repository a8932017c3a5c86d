"""Opaque keyset-pagination tokens (AWS ``NextToken``).

A token holds the last row's sort value and name, plus a digest over those and the
request's filters. The digest makes a token valid only for the request it came from:
an edited token, or one replayed with other filters or another sort, is refused
instead of silently returning a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from sagebox.errors import ValidationError
from sagebox.store.metadata._base import ListQuery

SortValue = str | datetime

# Names are at most a few hundred characters; anything longer is not ours.
_MAX_TOKEN_CHARS = 8192


def _filters(kind: str, query: ListQuery) -> list[Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return [
        kind,
        query.name_contains,
        query.status,
        iso(query.created_after),
        iso(query.created_before),
        iso(query.modified_after),
        iso(query.modified_before),
        query.sort_by,
        query.descending,
        sorted(query.document_equals.items()),
    ]


def _digest(filters: list[Any], key: list[Any]) -> str:
    text = json.dumps([filters, key], separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _encode_value(value: SortValue) -> list[str]:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    return ["s", value]


def encode(kind: str, query: ListQuery, value: SortValue, name: str) -> str:
    """The token that resumes ``query`` after the row (``value``, ``name``)."""
    key = [_encode_value(value), name]
    payload = json.dumps([key, _digest(_filters(kind, query), key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode(kind: str, query: ListQuery, token: str) -> tuple[SortValue, str]:
    """The (sort value, name) held by ``token``; ``ValidationError`` if it is not valid."""
    try:
        if len(token) > _MAX_TOKEN_CHARS:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        (tagged, name), digest = json.loads(raw)
        kind_tag, text = tagged
        if not isinstance(name, str) or not isinstance(text, str):
            raise ValueError("malformed key")
        if digest != _digest(_filters(kind, query), [[kind_tag, text], name]):
            raise ValueError("digest mismatch")
        if kind_tag == "t":
            return datetime.fromisoformat(text), name
        if kind_tag == "s":
            return text, name
        raise ValueError("unknown value tag")
    except (ValueError, TypeError, binascii.Error, RecursionError):
        shown = token if len(token) <= 80 else token[:77] + "..."
        raise ValidationError(
            f"The NextToken {shown!r} is not valid for this request. Pass the NextToken "
            "from the previous response of the same request, unchanged."
        ) from None
