"""The local store's folder tree read as objects: sidecar records, bodies and listings.

Pure functions over paths, used by :class:`~sagebox.store.objects.local.LocalObjectStore`
under its locks; they never change the tree.
"""

from __future__ import annotations

import base64
import binascii
import errno
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagebox.errors import ValidationError
from sagebox.store.objects._base import ObjectInfo
from sagebox.store.objects.attributes import frozen
from sagebox.store.objects.keys import SELF_NAME, decode_segment, is_continuation


def now() -> datetime:
    # S3 reports last-modified times to the second.
    return datetime.now(UTC).replace(microsecond=0)


def stamp(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class Sidecar:
    """What the local store knows about an object besides its bytes."""

    size: int
    etag: str
    last_modified: datetime
    stamp: tuple[int, int, int]
    content_type: str = "application/octet-stream"
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_json(self, key: str) -> dict[str, Any]:
        return {
            "key": key,
            "size": self.size,
            "etag": self.etag,
            "last_modified": self.last_modified.isoformat(),
            "stamp": list(self.stamp),
            "content_type": self.content_type,
            "metadata": dict(self.metadata),
            "tags": dict(self.tags),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sidecar:
        ino, size, mtime_ns = data["stamp"]
        return cls(
            size=int(data["size"]),
            etag=str(data["etag"]),
            last_modified=datetime.fromisoformat(data["last_modified"]),
            stamp=(int(ino), int(size), int(mtime_ns)),
            content_type=str(data["content_type"]),
            metadata=dict(data["metadata"]),
            tags=dict(data["tags"]),
        )

    def info(self, bucket: str, key: str, *, full: bool = True) -> ObjectInfo:
        """The public description; listings (``full=False``) omit type and metadata, as S3's do."""
        if not full:
            return ObjectInfo(bucket, key, self.size, self.etag, self.last_modified)
        return ObjectInfo(
            bucket,
            key,
            self.size,
            self.etag,
            self.last_modified,
            content_type=self.content_type,
            metadata=frozen(self.metadata),
        )


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(last.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise ValidationError(
            f"The continuation token {token!r} is not one this store issued. Pass the "
            "next_token of the previous page unchanged, or None to start from the beginning."
        ) from None


def open_body(path: Path) -> tuple[int, os.stat_result] | None:
    """Open the file that holds the object at ``path``: the file, or ``path/%self``."""
    for candidate in (path, path / SELF_NAME):
        try:
            fd = os.open(candidate, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG):
                return None
            raise
        st = os.fstat(fd)
        if stat.S_ISREG(st.st_mode):
            return fd, st
        os.close(fd)
        if not stat.S_ISDIR(st.st_mode):
            return None
    return None


def walk(
    folder: str,
    base: str,
    pending: tuple[str, ...],
    prefix: str,
    delimiter: str | None,
    *,
    with_self: bool = True,
) -> Iterator[tuple[str, str | None]]:
    """Yield ``(key, file)`` for objects under ``folder`` whose key starts with ``prefix``.

    ``base`` is the key text of ``folder`` (ending with ``/``, or empty at the bucket's
    top) and ``pending`` the chunks of a long segment met so far. A subfolder whose keys
    all share one common prefix is not descended: ``(common_prefix, None)`` is yielded
    once if it holds any object.
    """
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
            return
        raise
    for entry in entries:
        name = entry.name
        if name == SELF_NAME:
            own_key = base[:-1]
            if (
                with_self
                and base
                and not pending
                and own_key.startswith(prefix)
                and entry.is_file(follow_symlinks=False)
            ):
                yield own_key, entry.path
            continue
        is_dir = entry.is_dir(follow_symlinks=False)
        if is_continuation(name):
            if is_dir:
                yield from walk(entry.path, base, (*pending, name), prefix, delimiter)
            continue
        try:
            key = base + decode_segment((*pending, name))
        except ValueError:
            continue  # not a name this store writes
        if not is_dir:
            if key.startswith(prefix) and entry.is_file(follow_symlinks=False):
                yield key, entry.path
            continue
        child = key + "/"
        if not child.startswith(prefix):
            if prefix.startswith(child):
                yield from walk(entry.path, child, (), prefix, delimiter)
            continue
        rest = child[len(prefix) :]
        cut = rest.find(delimiter) if delimiter else -1
        if cut < 0:
            yield from walk(entry.path, child, (), prefix, delimiter)
            continue
        own = os.path.join(entry.path, SELF_NAME)
        if os.path.isfile(own) and not os.path.islink(own):
            yield key, own
        if any(walk(entry.path, child, (), "", None, with_self=False)):
            yield prefix + rest[: cut + len(delimiter or "")], None
