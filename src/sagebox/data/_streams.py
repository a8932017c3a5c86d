"""Opening a data object as a stream: byte counting, gzip, and random access when needed."""

from __future__ import annotations

import gzip
import io
import shutil
import tempfile
from typing import IO, Any, BinaryIO, cast

from sagebox.data.formats import Compression, is_gzip
from sagebox.store.objects import ObjectInfo, ObjectStore

HEAD_BYTES = 8192


class CountingReader(io.RawIOBase):
    """A raw stream over a store object that counts the bytes read from the store."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        seekable = getattr(self._raw, "seekable", None)
        return bool(seekable and seekable())

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self.count += size
        return size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


class OpenedObject:
    """One object opened for reading: ``head`` (its first raw bytes), ``text_stream()`` for
    sequential formats (gunzipped when compressed) and ``random_access()`` for Parquet/ORC.
    """

    def __init__(self, store: ObjectStore, info: ObjectInfo, compression: Compression) -> None:
        self.info = info
        self.uri = f"s3://{info.bucket}/{info.key}"
        _, raw = store.open_object(info.bucket, info.key)
        self._counter = CountingReader(raw)
        self._buffered = io.BufferedReader(self._counter, 1 << 16)
        self.head = self._buffered.peek(HEAD_BYTES)[:HEAD_BYTES]
        if compression == "auto":
            self.gzip = is_gzip(info.key, self.head)
        else:
            self.gzip = compression == "gzip"
        self._spooled: IO[bytes] | None = None

    @property
    def bytes_read(self) -> int:
        return self._counter.count

    def text_stream(self) -> IO[bytes]:
        """The content as a sequential byte stream, decompressed when gzip."""
        if self.gzip:
            return cast(IO[bytes], gzip.GzipFile(fileobj=self._buffered, mode="rb"))
        return self._buffered

    def random_access(self) -> IO[bytes]:
        """A seekable stream of the (decompressed) content, spooled to disk when the object's
        stream cannot seek (a remote store or gzip), as Parquet and ORC read their footer first.
        """
        if not self.gzip and self._counter.seekable():
            return self._buffered
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        shutil.copyfileobj(self.text_stream(), spool, 1 << 20)
        spool.seek(0)
        self._spooled = spool
        return spool

    def close(self) -> None:
        if self._spooled is not None:
            self._spooled.close()
        self._buffered.close()

    def __enter__(self) -> OpenedObject:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
