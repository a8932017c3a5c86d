"""Reversible mapping between S3 object keys and relative paths inside a bucket folder.

The local backend stores ``raw/german_credit.csv`` at ``<bucket>/raw/german_credit.csv`` so a
person browsing the folder sees what they expect, yet any key (``../x``, ``a//b``, control
characters, 1 KiB of one segment) must round-trip exactly and stay inside the bucket folder.

A key is split on ``/`` into segments and each segment becomes one or more path components:

- bytes that are unsafe in a file name (``%``, ``\\``, control characters) are
  percent-encoded as ``%XX`` with upper-case hex; everything else, unicode included, is kept;
- the segments ``.`` and ``..`` are written ``%2E`` and ``%2E%2E``; the empty segment
  (``a//b``, ``/lead``, ``dir/``) is written ``%`` alone;
- a segment whose encoding exceeds the 255-byte file-name limit is cut into chunks; every
  chunk but the last ends with ``%+`` and is a directory holding the next chunk.

The encoder only ever writes ``%`` followed by two upper-case hex digits, so names holding any
other ``%`` sequence are reserved: :data:`SELF_NAME` (``%self``) is where the object whose key
is also a directory (key ``a`` next to key ``a/b``) lives, inside that directory. Decoding
accepts only canonical names (decode then encode gives the same name back), so every name the
store lists maps to exactly one key and back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sagebox.errors import ValidationError

MAX_KEY_BYTES = 1024
"""S3's limit on the UTF-8 length of an object key."""

NAME_MAX_BYTES = 255
"""The file-name limit of Linux and macOS file systems, in bytes."""

SELF_NAME = "%self"
"""Reserved name of the object whose key is also the path of a directory."""

EMPTY_NAME = "%"
"""Encoding of the empty segment."""

CONTINUATION = "%+"
"""Suffix of a directory that holds the first part of a segment too long for one name."""

_UNSAFE = frozenset(range(0x20)) | {0x7F, ord("%"), ord("\\")}
_ESCAPE = re.compile(r"%([0-9A-F]{2})")
_CHUNK_BYTES = NAME_MAX_BYTES - len(CONTINUATION)


def validate_key(key: str) -> None:
    """Raise ValidationError unless ``key`` is a valid S3 object key (1 to 1024 UTF-8 bytes)."""
    if not isinstance(key, str):
        raise ValidationError(
            f"An object key must be a string; got {type(key).__name__} {key!r}. Pass a str."
        )
    if not key:
        raise ValidationError(
            "An object key must not be empty; got ''. Pass a key such as 'a.csv'."
        )
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValidationError(
            f"The object key {key!r} is not valid UTF-8 (it holds a lone surrogate). "
            "Pass a key made of real unicode characters."
        ) from None
    if size > MAX_KEY_BYTES:
        raise ValidationError(
            f"The object key {key[:40]!r}... is {size} bytes long in UTF-8; S3 allows at most "
            f"{MAX_KEY_BYTES}. Use a shorter key."
        )


def _tokens(segment: str) -> list[str]:
    """The segment as a list of indivisible name pieces: characters or ``%XX`` escapes."""
    out: list[str] = []
    for char in segment:
        if ord(char) < 0x80 and ord(char) in _UNSAFE:
            out.append(f"%{ord(char):02X}")
        else:
            out.append(char)
    return out


def encode_segment(segment: str) -> tuple[str, ...]:
    """The path components (one, or several for a long segment) that stand for ``segment``."""
    if segment == "":
        return (EMPTY_NAME,)
    if segment in (".", ".."):
        return ("%2E" * len(segment),)
    tokens = _tokens(segment)
    name = "".join(tokens)
    if len(name.encode("utf-8")) <= NAME_MAX_BYTES:
        return (name,)
    chunks: list[list[str]] = [[]]
    size = 0
    for token in tokens:
        width = len(token.encode("utf-8"))
        if size + width > _CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(token)
        size += width
    # The last chunk is a name of its own: it must never read as "." or "..".
    # Borrowing a "." from the chunk before can itself make "..", so borrow until it is not.
    while "".join(chunks[-1]) in (".", ".."):
        chunks[-1].insert(0, chunks[-2].pop())
    *heads, last = ("".join(chunk) for chunk in chunks)
    return (*(head + CONTINUATION for head in heads), last)


def decode_segment(names: Sequence[str]) -> str:
    """The segment that ``names`` (as written by :func:`encode_segment`) stand for.

    Raises ValueError for names the encoder would not write, so foreign or tampered files
    are never mistaken for objects.
    """
    if not names:
        raise ValueError("no names to decode")
    if any(not name.endswith(CONTINUATION) for name in names[:-1]):
        raise ValueError(f"only the last of {names!r} may lack the continuation suffix")
    if names[-1].endswith(CONTINUATION):
        raise ValueError(f"{names!r} ends with a continuation chunk")
    encoded = "".join(name[: -len(CONTINUATION)] for name in names[:-1]) + names[-1]
    if encoded == EMPTY_NAME:
        segment = ""
    else:
        raw = bytearray()
        pos = 0
        for match in _ESCAPE.finditer(encoded):
            literal = encoded[pos : match.start()]
            if "%" in literal:
                raise ValueError(f"bad escape in {encoded!r}")
            raw += literal.encode("utf-8")
            raw.append(int(match.group(1), 16))
            pos = match.end()
        tail = encoded[pos:]
        if "%" in tail:
            raise ValueError(f"bad escape in {encoded!r}")
        raw += tail.encode("utf-8")
        segment = raw.decode("utf-8")
    if encode_segment(segment) != tuple(names):
        raise ValueError(f"{names!r} is not the canonical encoding of {segment!r}")
    return segment


def encode_key(key: str) -> tuple[str, ...]:
    """The relative path components for ``key``; never ``""``, ``.``, ``..`` or holding ``/``."""
    return tuple(name for segment in key.split("/") for name in encode_segment(segment))


def decode_key(names: Sequence[str]) -> str:
    """The key that ``names`` stand for; ValueError for a path the encoder would not write."""
    segments: list[str] = []
    pending: list[str] = []
    for name in names:
        pending.append(name)
        if not name.endswith(CONTINUATION):
            segments.append(decode_segment(pending))
            pending = []
    if pending or not segments:
        raise ValueError(f"{list(names)!r} does not end with a complete segment")
    return "/".join(segments)


def is_continuation(name: str) -> bool:
    """Whether ``name`` is a chunk of a long segment (a directory, never an object)."""
    return name.endswith(CONTINUATION)
