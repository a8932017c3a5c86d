"""The object-store contract that every backend implements.

Backends are chosen by URL through :func:`sagebox.store.objects.open_object_store`:
``file:///path`` (or a plain path) is the local folder backend, ``s3+http://host:port``,
``s3+https://host`` or ``s3://`` (AWS's own endpoint) is any S3-compatible service via boto3.

Invariants every backend keeps (the contract suite in ``tests/store`` checks them):
- a put is atomic: readers see the old object or the whole new one, never part of it;
- keys are opaque strings (any unicode, ``../x``, ``a//b``, up to 1 KiB) that round-trip
  exactly, and a local key can never address anything outside its bucket's folder;
- listings are in ascending UTF-8 byte order of keys, as S3 lists them;
- returned values are frozen.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class BucketInfo:
    name: str
    creation_date: datetime


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str = "application/octet-stream"
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ListResult:
    objects: tuple[ObjectInfo, ...]
    common_prefixes: tuple[str, ...]
    next_token: str | None


class ObjectStore(abc.ABC):
    """S3 semantics over one backend. Methods are thread-safe."""

    url: str

    # buckets
    @abc.abstractmethod
    def create_bucket(self, bucket: str) -> None:
        """Create a bucket; BucketAlreadyOwnedByYou if it exists; ValidationError for a bad name."""

    @abc.abstractmethod
    def delete_bucket(self, bucket: str) -> None:
        """Delete an empty bucket; NoSuchBucket, BucketNotEmpty."""

    @abc.abstractmethod
    def list_buckets(self) -> list[BucketInfo]: ...

    @abc.abstractmethod
    def bucket_exists(self, bucket: str) -> bool: ...

    # objects
    @abc.abstractmethod
    def put_object(
        self,
        bucket: str,
        key: str,
        body: bytes | BinaryIO | Path,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Write an object atomically (a Path is streamed from disk). NoSuchBucket."""

    @abc.abstractmethod
    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        """Open an object for streaming reads; the caller closes the stream.

        NoSuchBucket, NoSuchKey.
        """

    @abc.abstractmethod
    def head_object(self, bucket: str, key: str) -> ObjectInfo: ...

    @abc.abstractmethod
    def delete_object(self, bucket: str, key: str) -> None:
        """Delete an object; deleting a missing key is not an error (as on S3). NoSuchBucket."""

    @abc.abstractmethod
    def list_objects(
        self,
        bucket: str,
        prefix: str = "",
        *,
        delimiter: str | None = None,
        max_keys: int = 1000,
        continuation_token: str | None = None,
    ) -> ListResult: ...

    @abc.abstractmethod
    def get_object_tags(self, bucket: str, key: str) -> dict[str, str]: ...

    @abc.abstractmethod
    def put_object_tags(self, bucket: str, key: str, tags: Mapping[str, str]) -> None: ...

    # conveniences built on the primitives above
    def get_object(self, bucket: str, key: str) -> bytes:
        _, stream = self.open_object(bucket, key)
        with stream:
            return stream.read()

    def download_file(self, bucket: str, key: str, path: Path) -> ObjectInfo:
        """Stream an object to ``path`` (parents created), atomically replacing it."""
        import os
        import shutil
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        info, stream = self.open_object(bucket, key)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sagebox-dl-")
        try:
            with stream, os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            # mkstemp makes files 0600; a download gets the mode a new file normally gets.
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return info

    def link_file(self, bucket: str, key: str, path: Path) -> tuple[ObjectInfo, bool]:
        """Make the object readable at ``path`` without a copy where the backend can.

        Returns the object's info and whether it was linked (True) or downloaded. The
        base implementation downloads; a local store hard-links its own file, read-only.
        """
        return self.download_file(bucket, key, path), False

    def iter_objects(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under ``prefix``, in key order, across pages."""
        token: str | None = None
        while True:
            page = self.list_objects(bucket, prefix, continuation_token=token)
            yield from page.objects
            token = page.next_token
            if token is None:
                return


def _umask() -> int:
    """The process umask, read without changing it (os.umask would, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022
