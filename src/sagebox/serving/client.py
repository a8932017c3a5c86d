"""HTTP/1.1 clients of model workers over Unix sockets: keep-alive, sync and asyncio.

A router forwards each request to a worker and must tell two failures apart:

- :class:`~sagebox.serving.errors.WorkerUnavailable`: no connection could be made (the
  socket is gone, refused, or the worker is not up yet). Nothing was sent: try another
  worker, or read the routes again.
- :class:`~sagebox.serving.errors.WorkerFailed` (``WorkerTimeout`` for the deadline): the
  worker took the request and gave no valid answer (it crashed, or hung).

A pooled connection that the worker closed while idle (its keep-alive timeout, a graceful
shutdown) is detected before use; if it is closed under the request anyway, before any
answer byte, the request is sent once more on a new connection, as HTTP clients do.

Responses are parsed by httptools (llhttp, the parser of Node.js). Both clients cost a
few tens of microseconds a request; see docs/hosting.md for measurements.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import stat
import time
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

import httptools

from sagebox.serving.errors import WorkerFailed, WorkerTimeout, WorkerUnavailable

__all__ = ["AsyncWorkerPool", "SyncWorkerClient", "WorkerResponse", "unix_address"]

_SUN_PATH_MAX = 107  # bytes of a Unix socket path, without the final NUL (Linux)
_RECV = 256 * 1024
_SMALL = 64 * 1024  # bodies up to this size go out in the same write as the head


def listen_unix(path: str) -> socket.socket:
    """A listening Unix socket at ``path`` (owner-only), however long the path, replacing
    a stale socket file left there."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with unix_address(path) as address:
        sock.bind(address)
    os.chmod(path, 0o600)
    sock.listen(1024)
    return sock


class WorkerResponse(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


@contextmanager
def unix_address(path: str) -> Iterator[str]:
    """An address for ``bind``/``connect`` to ``path``, even a path longer than a Unix
    socket address may be (deep homes, test folders): the folder is reached through
    ``/proc/self/fd`` for the duration of the call."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        yield path
        return
    folder, name = os.path.split(path)
    fd = os.open(folder or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{name}"
    finally:
        os.close(fd)


def _request_bytes(
    method: str, path: str, body: bytes, headers: Mapping[str, str] | None
) -> list[bytes]:
    head = f"{method} {path} HTTP/1.1\r\nhost: worker\r\ncontent-length: {len(body)}\r\n"
    if headers:
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
                raise ValueError(f"Header {name!r} holds a line break: {value!r}.")
            head += f"{name}: {value}\r\n"
    encoded = (head + "\r\n").encode("latin-1")
    if len(body) <= _SMALL:
        return [encoded + body]
    return [encoded, body]


class _Dropped(Exception):
    """The connection closed before a whole response; ``partial``: some of it had come."""

    def __init__(self, partial: bool) -> None:
        super().__init__("connection closed")
        self.partial = partial


class _Parser:
    """One connection's response parser: callbacks of httptools, one response at a time."""

    __slots__ = ("_parser", "body", "done", "headers", "keep", "started")

    def __init__(self) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.done = False
        self.started = False
        self.keep = False

    def on_message_begin(self) -> None:
        self.started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep = self._parser.should_keep_alive()  # reset once the message is over
        self.done = True

    def feed(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise WorkerFailed(f"The worker sent a malformed HTTP response: {exc}.") from None

    def take(self) -> tuple[WorkerResponse, bool]:
        """The response parsed, and whether the connection may carry another request."""
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        response = WorkerResponse(self._parser.get_status_code(), self.headers, body)
        keep = self.keep
        self.headers, self.body, self.done, self.started = {}, [], False, False
        return response, keep


def _unavailable(path: str, exc: BaseException) -> WorkerUnavailable:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    return WorkerUnavailable(f"Cannot connect to the worker at {path}: {reason}.")


def _timeout(path: str, timeout: float) -> WorkerTimeout:
    return WorkerTimeout(f"The worker at {path} did not answer within {timeout:g} seconds.")


def _dropped(path: str, partial: bool) -> WorkerFailed:
    when = "in the middle of its answer" if partial else "before answering"
    return WorkerFailed(f"The worker at {path} closed the connection {when}: it may have died.")


# --- sync --------------------------------------------------------------------------------


class _SyncConnection:
    __slots__ = ("parser", "poller", "sock")

    def __init__(self, path: str, timeout: float) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            with unix_address(path) as address:
                sock.connect(address)
        except OSError as exc:  # FileNotFound, ConnectionRefused, TimeoutError, ...
            sock.close()
            raise _unavailable(path, exc) from None
        self.sock = sock
        self.parser = _Parser()
        self.poller = select.poll()
        self.poller.register(sock, select.POLLIN)

    def idle_and_open(self) -> bool:
        """False when the worker closed this idle connection: anything to read on an idle
        connection is its EOF (or bytes nobody asked for)."""
        return not self.poller.poll(0)

    def exchange(self, chunks: list[bytes], deadline: float) -> tuple[WorkerResponse, bool]:
        sock, parser = self.sock, self.parser
        try:
            sock.settimeout(max(deadline - time.monotonic(), 1e-3))
            for chunk in chunks:
                sock.sendall(chunk)
            while not parser.done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                sock.settimeout(remaining)
                data = sock.recv(_RECV)
                if not data:
                    raise _Dropped(parser.started)
                parser.feed(data)
        except TimeoutError:
            raise
        except OSError:  # broken pipe, reset: the worker went away
            raise _Dropped(parser.started) from None
        return parser.take()

    def close(self) -> None:
        self.sock.close()


class SyncWorkerClient:
    """A blocking client of one worker socket, with a pool of keep-alive connections.

    Thread-safe: each request takes a connection of its own from the pool (a new one when
    none is idle) and gives it back after the response.
    """

    def __init__(self, socket_path: str, max_idle: int = 32) -> None:
        self.socket_path = str(socket_path)
        self._idle: deque[_SyncConnection] = deque()
        self._max_idle = max_idle

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> WorkerResponse:
        chunks = _request_bytes(method, path, body, headers)
        deadline = time.monotonic() + timeout
        connection = self._checkout()
        reused = connection is not None
        if connection is None:
            connection = _SyncConnection(self.socket_path, timeout)
        try:
            try:
                response, keep = connection.exchange(chunks, deadline)
            except _Dropped as dropped:
                connection.close()
                if not reused or dropped.partial:
                    raise _dropped(self.socket_path, dropped.partial) from None
                # A keep-alive connection closed just as it was reused: once more, anew.
                connection = _SyncConnection(self.socket_path, timeout)
                try:
                    response, keep = connection.exchange(chunks, deadline)
                except _Dropped as again:
                    raise _dropped(self.socket_path, again.partial) from None
        except TimeoutError:
            connection.close()
            raise _timeout(self.socket_path, timeout) from None
        except BaseException:
            connection.close()
            raise
        if keep and len(self._idle) < self._max_idle:
            self._idle.append(connection)
        else:
            connection.close()
        return response

    def _checkout(self) -> _SyncConnection | None:
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return None
            if connection.idle_and_open():
                return connection
            connection.close()

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()

    def __enter__(self) -> SyncWorkerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- asyncio -----------------------------------------------------------------------------


class _AsyncConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = _Parser()
        self.waiter: asyncio.Future[tuple[WorkerResponse, bool]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            self._abort()  # bytes nobody asked for: the connection is not usable
            return
        try:
            self.parser.feed(data)
        except WorkerFailed as exc:
            waiter.set_exception(exc)
            self._abort()
            return
        if self.parser.done:
            waiter.set_result(self.parser.take())

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(_Dropped(self.parser.started))

    def _abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def exchange(
        self, chunks: list[bytes], timeout: float, path: str
    ) -> tuple[WorkerResponse, bool]:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[tuple[WorkerResponse, bool]] = loop.create_future()
        self.waiter = waiter
        self.transport.writelines(chunks)
        timer = loop.call_later(timeout, _expire, waiter, path, timeout)
        try:
            return await waiter
        finally:
            timer.cancel()
            self.waiter = None

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[Any], path: str, timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(_timeout(path, timeout))


class AsyncWorkerPool:
    """An asyncio client of one worker socket: up to ``size`` keep-alive connections.

    A request takes an idle connection, or opens one while fewer than ``size`` are open,
    or waits for one to come back. Use it from one event loop.
    """

    def __init__(self, socket_path: str, size: int = 16) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1; got {size}.")
        self.socket_path = str(socket_path)
        self.size = size
        self._idle: deque[_AsyncConnection] = deque()
        self._open = 0
        self._waiters: deque[asyncio.Future[_AsyncConnection | None]] = deque()
        self._closed = False

    def close(self) -> None:
        """Close the idle connections; those in use close when their request is done."""
        self._closed = True
        while self._idle:
            self._idle.pop().close()
            self._open -= 1

    async def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        timeout: float = 60.0,
    ) -> WorkerResponse:
        chunks = _request_bytes(method, path, body, headers)
        connection, reused = await self._acquire(timeout)
        keep = False
        try:
            try:
                response, keep = await connection.exchange(chunks, timeout, self.socket_path)
            except _Dropped as dropped:
                connection.close()
                if not reused or dropped.partial:
                    raise _dropped(self.socket_path, dropped.partial) from None
                connection = await self._connect(timeout)
                try:
                    response, keep = await connection.exchange(chunks, timeout, self.socket_path)
                except _Dropped as again:
                    raise _dropped(self.socket_path, again.partial) from None
        finally:
            self._release(connection, keep)
        return response

    async def _connect(self, timeout: float) -> _AsyncConnection:
        loop = asyncio.get_running_loop()
        try:
            with unix_address(self.socket_path) as address:
                _, connection = await asyncio.wait_for(
                    loop.create_unix_connection(_AsyncConnection, address), timeout
                )
        except (TimeoutError, OSError) as exc:
            raise _unavailable(self.socket_path, exc) from None
        return connection

    async def _acquire(self, timeout: float) -> tuple[_AsyncConnection, bool]:
        while True:
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed:
                    return connection, True
                self._open -= 1
            if self._open < self.size:
                self._open += 1
                try:
                    return await self._connect(timeout), False
                except BaseException:
                    self._open -= 1
                    self._wake(None)
                    raise
            waiter: asyncio.Future[_AsyncConnection | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                raise _timeout(self.socket_path, timeout) from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if handed is not None and not handed.closed:
                return handed, True
            if handed is not None:
                self._open -= 1

    def _release(self, connection: _AsyncConnection, keep: bool) -> None:
        if keep and not connection.closed and not self._closed:
            if not self._wake(connection):
                self._idle.append(connection)
            return
        connection.close()
        self._open -= 1
        self._wake(None)

    def _wake(self, connection: _AsyncConnection | None) -> bool:
        """Hand ``connection`` (or the right to open one) to the first waiter, if any."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return True
        return False

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()
            self._open -= 1


async def ping(path: str, timeout: float = 2.0) -> int | None:
    """The status of ``GET /ping`` on the worker at ``path``; None when it cannot answer."""
    pool = AsyncWorkerPool(path, size=1)
    try:
        return (await pool.request("GET", "/ping", timeout=timeout)).status
    except (WorkerUnavailable, WorkerFailed):  # WorkerTimeout is a WorkerFailed
        return None
    finally:
        pool.close()
