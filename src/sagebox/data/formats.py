"""Data formats: what a data source is and how a file's format is recognised.

A :class:`DataSource` names objects in the store (a key or a prefix) and how to read
them. :func:`detect_format` decides a file's format from its key's extension and, when
the extension says nothing, from its first bytes. A binary format's magic number is
authoritative: a Parquet file named ``.csv`` is refused with a message that says so,
rather than parsed as garbage text.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal, get_args

from sagebox.errors import ValidationError

Format = Literal["csv", "parquet", "json", "jsonl", "orc"]
Compression = Literal["auto", "gzip", "none"]
FORMATS: tuple[str, ...] = get_args(Format)

EXTENSIONS: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".orc": "orc",
}
# The extension each format is written with.
SUFFIXES: dict[str, str] = {
    "csv": ".csv",
    "parquet": ".parquet",
    "json": ".json",
    "jsonl": ".jsonl",
    "orc": ".orc",
}

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
ORC_MAGIC = b"ORC"
BINARY_FORMATS = ("parquet", "orc")


@dataclass(frozen=True)
class DataSource:
    """Objects to read and how: ``uri`` is an object's key or a prefix covering many.

    ``format=None`` detects each file's format from its extension, else its content.
    ``compression="auto"`` treats ``.gz`` keys and gzip content as gzip.
    """

    uri: str
    format: Format | None = None
    csv_header: bool = True
    csv_delimiter: str = ","
    compression: Compression = "auto"

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ValidationError(
                f"Unknown data format {self.format!r} for {self.uri}. "
                f"Use one of {', '.join(FORMATS)}, or None to detect it."
            )
        if self.compression not in ("auto", "gzip", "none"):
            raise ValidationError(
                f"Unknown compression {self.compression!r} for {self.uri}. "
                "Use 'auto', 'gzip' or 'none'."
            )
        if len(self.csv_delimiter) != 1:
            raise ValidationError(
                f"The CSV delimiter must be one character; got {self.csv_delimiter!r}. "
                "Use e.g. ',' or '\\t' or ';'."
            )


def strip_gz(key: str) -> tuple[str, bool]:
    """``key`` without a trailing ``.gz`` / ``.gzip``, and whether it had one."""
    lower = key.lower()
    for suffix in (".gz", ".gzip"):
        if lower.endswith(suffix):
            return key[: -len(suffix)], True
    return key, False


def is_gzip(key: str, head: bytes) -> bool:
    """Whether an object is gzip-compressed, by its key or its magic number."""
    return strip_gz(key)[1] or head.startswith(GZIP_MAGIC)


def extension_format(key: str) -> Format | None:
    """The format a key's extension names (``.gz`` looked through), or None."""
    name = strip_gz(key)[0].rsplit("/", 1)[-1].lower()
    if "." not in name:
        return None
    return EXTENSIONS.get(name[name.rfind(".") :])


def _plain_head(head: bytes) -> bytes:
    """The first bytes of the content, gunzipped as far as ``head`` allows."""
    if not head.startswith(GZIP_MAGIC):
        return head
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
    except zlib.error:
        return b""


def sniff_format(head: bytes) -> Format | None:
    """The format that the first bytes of a file show, or None when they show none."""
    head = _plain_head(head)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(ORC_MAGIC):
        return "orc"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        # JSON lines: a first line that closes its object, followed by another line.
        first, newline, rest = text.partition(b"\n")
        if newline and first.rstrip().endswith(b"}") and rest.lstrip().startswith(b"{"):
            return "jsonl"
        return "json" if not newline or not rest.strip() else "jsonl"
    if b"\x00" in text[:4096]:
        return None
    first_line = text.split(b"\n", 1)[0]
    if first_line and any(d in first_line for d in (b",", b";", b"\t", b"|")):
        return "csv"
    return None


def detect_format(key: str, head: bytes) -> Format:
    """The format of the object ``key`` whose content begins with ``head``.

    The extension decides (``.csv .parquet .json .jsonl .ndjson .orc``, through ``.gz``);
    without one, the content is sniffed. A binary magic number that contradicts the
    extension raises :class:`ValidationError` naming the key and the fix.
    """
    by_extension = extension_format(key)
    by_content = sniff_format(head)
    if by_extension is not None:
        if by_content in BINARY_FORMATS and by_content != by_extension:
            raise ValidationError(
                f"The object {key!r} is named as {by_extension.upper()} but its content is "
                f"{by_content.upper()} (it starts with that format's magic number). Rename it "
                f"with the {SUFFIXES[by_content]} extension, or declare format={by_content!r}."
            )
        if by_extension in BINARY_FORMATS and by_content != by_extension and head:
            raise ValidationError(
                f"The object {key!r} is named as {by_extension.upper()} but does not start "
                f"with {by_extension.upper()}'s magic number, so it is not a "
                f"{by_extension.upper()} file. Rename it or declare its real format "
                f"(one of {', '.join(FORMATS)})."
            )
        return by_extension
    if by_content is not None:
        return by_content
    raise ValidationError(
        f"Cannot tell the format of the object {key!r}: its name has no known extension "
        f"({', '.join(sorted(EXTENSIONS))}) and its content is not recognisable. "
        f"Declare the format (one of {', '.join(FORMATS)}) or rename the object."
    )


def check_declared(key: str, head: bytes, declared: Format) -> None:
    """Refuse early a file whose first bytes contradict its declared format."""
    content = sniff_format(head)
    if declared in BINARY_FORMATS and head and content != declared:
        raise ValidationError(
            f"The object {key} was declared as {declared.upper()} but is not a "
            f"{declared.upper()} file (it lacks the format's magic number). Declare its real "
            f"format (one of {', '.join(FORMATS)}) or leave format unset to detect it."
        )
    if declared not in BINARY_FORMATS and content in BINARY_FORMATS:
        raise ValidationError(
            f"The object {key} was declared as {declared.upper()} but its content is "
            f"{str(content).upper()}. Declare format={content!r} or leave format unset."
        )
