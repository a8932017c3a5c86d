"""What S3 accepts as an object's content type, user metadata, tags and listing parameters.

Every backend checks these before it writes, so a call that works on the local store also
works against AWS, and the error names the rule that was broken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from sagebox.errors import ValidationError

DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_METADATA_BYTES = 2048
MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
MAX_LIST_KEYS = 1000

# User metadata travels as HTTP headers (x-amz-meta-<name>): names are header tokens and
# values printable ASCII; S3 lower-cases the names.
_HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PRINTABLE = re.compile(r"[\x20-\x7e]*")


def content_type_or_default(content_type: str | None) -> str:
    """The content type to store: ``content_type`` checked, or S3's binary default."""
    if content_type is None:
        return DEFAULT_CONTENT_TYPE
    if not content_type or not _PRINTABLE.fullmatch(content_type):
        raise ValidationError(
            f"The content type must be printable ASCII such as 'text/csv'; got {content_type!r}."
        )
    return content_type


def normalize_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """User metadata with names lower-cased as S3 returns them; ValidationError if S3 refuses it."""
    out: dict[str, str] = {}
    for name, value in (metadata or {}).items():
        if not isinstance(name, str) or not _HEADER_TOKEN.fullmatch(name):
            raise ValidationError(
                f"The metadata name {name!r} is not a valid HTTP header name. Use ASCII letters, "
                "digits and '-' (for example 'source-system')."
            )
        if not isinstance(value, str) or not _PRINTABLE.fullmatch(value):
            raise ValidationError(
                f"The value of metadata {name!r} must be printable ASCII; got {value!r}. "
                "Percent-encode or base64 other text first."
            )
        lower = name.lower()
        if lower in out:
            raise ValidationError(
                f"The metadata names {name!r} and another differ only in case; S3 lower-cases "
                "names, so keep one of them."
            )
        out[lower] = value
    size = sum(len(k) + len(v) for k, v in out.items())
    if size > MAX_METADATA_BYTES:
        raise ValidationError(
            f"User metadata is {size} bytes; S3 allows at most {MAX_METADATA_BYTES}. "
            "Store large descriptions in an object of their own."
        )
    return out


def normalize_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """Object tags as a plain dict; ValidationError beyond S3's limits (10 tags, 128/256 chars)."""
    out = dict(tags or {})
    if len(out) > MAX_TAGS:
        raise ValidationError(
            f"An object may carry at most {MAX_TAGS} tags; got {len(out)}. Drop some tags."
        )
    for key, value in out.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY:
            raise ValidationError(
                f"A tag key must be 1 to {MAX_TAG_KEY} characters; got {key!r}. Shorten it."
            )
        if not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            raise ValidationError(
                f"The value of tag {key!r} must be a string of at most {MAX_TAG_VALUE} "
                f"characters; got {value!r}. Shorten it."
            )
    return out


def clamp_max_keys(max_keys: int) -> int:
    """``max_keys`` as S3 applies it: negative is an error, above 1000 means 1000."""
    if not isinstance(max_keys, int) or max_keys < 0:
        raise ValidationError(
            f"max_keys must be a non-negative integer; got {max_keys!r}. Pass 1 to {MAX_LIST_KEYS}."
        )
    return min(max_keys, MAX_LIST_KEYS)


def frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    """A read-only view of a copy of ``mapping``, for the frozen values the store returns."""
    return MappingProxyType(dict(mapping))
