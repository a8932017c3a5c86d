"""Pipe mode: a channel's objects streamed to the program through a FIFO per epoch.

SageMaker's Pipe mode gives the algorithm ``/opt/ml/input/data/<channel>_<epoch>``: it
reads epoch 0 from ``train_0`` to end of file, then opens ``train_1`` for the next pass,
and so on. Nothing is copied to disk first, so training starts as soon as the first
bytes arrive. A :class:`PipeFeeder` serves one channel on one instance: it makes the
FIFO of the next epoch as soon as the current one is opened, and writes the objects
(shuffled per epoch with ``ShuffleConfig.Seed``, gunzipped when the channel's
``CompressionType`` is ``Gzip``) while the program reads.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

from sagebox.errors import SageboxError
from sagebox.runtime.spec import InputChannel
from sagebox.store.objects import ObjectStore

CHUNK = 1 << 20
TEXT_TYPES = ("text/csv", "text/libsvm", "application/jsonlines", "text/plain")


class PipeFeeder:
    """Streams one channel into ``<folder>/<name>_<epoch>`` FIFOs until stopped."""

    def __init__(
        self,
        store: ObjectStore,
        channel: InputChannel,
        bucket: str,
        keys: list[str],
        fifo_base: Path,
        content_type: str = "",
    ) -> None:
        self.store = store
        self.channel = channel
        self.bucket = bucket
        self.keys = keys
        self.fifo_base = fifo_base  # <instance>/input/data/<name>; FIFOs are <name>_<n>
        self.text = content_type.split(";")[0].strip().lower() in TEXT_TYPES
        self.bytes_streamed = 0
        self.epochs_served = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name=channel.name)

    def fifo(self, epoch: int) -> Path:
        return self.fifo_base.with_name(f"{self.fifo_base.name}_{epoch}")

    def start(self) -> None:
        self._make_fifo(0)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _make_fifo(self, epoch: int) -> None:
        path = self.fifo(epoch)
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.mkfifo(path, 0o644)

    def _open_writer(self, epoch: int) -> int | None:
        """Wait for the program to open the epoch's FIFO; None once stopped."""
        path = self.fifo(epoch)
        while not self._stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: no reader yet
                    raise
                time.sleep(0.01)
                continue
            os.set_blocking(fd, True)
            return fd
        return None

    def _order(self, epoch: int) -> list[str]:
        if self.channel.shuffle_seed is None:
            return self.keys
        keys = list(self.keys)
        random.Random(f"{self.channel.shuffle_seed}:{epoch}").shuffle(keys)
        return keys

    def _chunks(self, key: str) -> Iterator[bytes]:
        _, stream = self.store.open_object(self.bucket, key)
        gzipped = self.channel.compression == "Gzip"
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        last = b"\n"
        with stream:
            while block := stream.read(CHUNK):
                if inflate is not None:
                    block = inflate.decompress(block)
                    # a file of several gzip members: start again on what follows
                    while inflate.eof and inflate.unused_data:
                        rest = inflate.unused_data
                        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
                        block += inflate.decompress(rest)
                if block:
                    last = block[-1:]
                    yield block
        if inflate is not None and not inflate.eof:
            raise zlib.error(f"s3://{self.bucket}/{key} ends inside a gzip stream")
        if self.text and last != b"\n":
            yield b"\n"  # the next object's first record must start a line of its own

    def _serve(self) -> None:
        epoch = 0
        try:
            while not self._stop.is_set():
                fd = self._open_writer(epoch)
                if fd is None:
                    return
                self._make_fifo(epoch + 1)  # ready before the program asks for it
                with os.fdopen(fd, "wb", buffering=0) as out:
                    try:
                        for key in self._order(epoch):
                            for block in self._chunks(key):
                                view = memoryview(block)
                                while view and not self._stop.is_set():
                                    written = out.write(view)
                                    view = view[written or 0 :]
                                self.bytes_streamed += len(block)
                            if self._stop.is_set():
                                return
                    except BrokenPipeError:
                        pass  # the program stopped reading this epoch early: its choice
                self.epochs_served += 1
                epoch += 1
        except (SageboxError, OSError, zlib.error) as exc:
            message = exc.message if isinstance(exc, SageboxError) else str(exc)
            self.error = f"Pipe-mode channel '{self.channel.name}' failed: {message}"
