"""A small HTTP/1.1 server for the model workers: an ASGI app on a Unix socket.

The worker answers one router over keep-alive connections, one short request at a time,
so what costs is per request: on a small (virtual) machine every ``write`` that wakes the
peer costs tens of microseconds. uvicorn writes a response's head and its body apart (two
wake-ups of the router per answer) and builds a request cycle of general HTTP machinery
around each; here each response goes out in **one** write, and a request is parsed by
httptools (llhttp) straight into the ASGI scope. Nothing else of HTTP is needed between
the router and its workers: ``Content-Length`` or chunked bodies in, keep-alive,
pipelined requests answered in order, ``Connection: close``, HEAD, an idle timeout.

An app that has an ``answer_now(method, path, headers, body)`` method (``AnswerNow``) is
asked first, for each request that nothing is owed before: what it returns is written
there and then, with no task or ASGI messages; None sends the request the ASGI way.

:func:`serve` runs until SIGTERM: it stops accepting, lets the requests in flight finish,
closes the idle connections, and returns. :func:`start` serves beside other work (the
serverless gateway in an endpoint's host), until its :meth:`Server.close`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httptools

__all__ = ["Server", "serve", "start"]

Scope = MutableMapping[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]
# An app may also answer a request synchronously: (method, path, headers, body) to
# (status, headers, body), or None to have it answered as ASGI.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
AnswerNow = Callable[[str, bytes, list[tuple[bytes, bytes]], bytes], Answer | None]

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    406: b"Not Acceptable",
    413: b"Content Too Large",
    415: b"Unsupported Media Type",
    424: b"Failed Dependency",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}


class _Request:
    __slots__ = ("body", "headers", "keep_alive", "method", "path", "query", "version")

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.method = "GET"
        self.path = b""
        self.query = b""
        self.version = "1.1"
        self.keep_alive = True


class _Server:
    """What the connections of one listening socket share: the app, and the shutdown."""

    def __init__(self, app: App, keep_alive_seconds: float) -> None:
        self.app = app
        self.answer_now: AnswerNow | None = getattr(app, "answer_now", None)
        self.keep_alive_seconds = keep_alive_seconds
        self.connections: set[_Connection] = set()
        self.closing = False


class _Connection(asyncio.Protocol):
    def __init__(self, server: _Server) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()  # made by the loop, for a connection of it
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.parsing: _Request | None = None
        self.pending: deque[_Request] = deque()
        self.busy = False
        self.closed = False
        self.idle: asyncio.TimerHandle | None = None
        self.last_active = 0.0  # the loop's time of the last answer (or of connecting)
        self.task: asyncio.Future[None] | None = None  # answering what has arrived

    # ---- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self.last_active = self.loop.time()
        self._arm_idle(self.server.keep_alive_seconds)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._write(400, [(b"content-type", b"text/plain")], f"Bad request: {exc}".encode())
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()

    # ---- httptools callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        self.parsing = _Request()
        self.url = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.parsing is not None
        self.parsing.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        assert self.parsing is not None
        self.parsing.body.append(body)

    def on_message_complete(self) -> None:
        request = self.parsing
        assert request is not None
        self.parsing = None
        if self.closed:  # pipelined behind a request that closed the connection
            return
        request.method = self.parser.get_method().decode("ascii")
        request.version = self.parser.get_http_version()
        request.keep_alive = self.parser.should_keep_alive()
        path, _, query = self.url.partition(b"?")
        request.path, request.query = path, query
        if not self.busy and self._answered_now(request):
            return
        self.pending.append(request)
        if not self.busy:
            self.busy = True
            self.task = asyncio.ensure_future(self._answer_pending())

    # ---- answering ---------------------------------------------------------------------
    def _answered_now(self, request: _Request) -> bool:
        """Answer ``request`` here and now if the app's ``answer_now`` can (nothing is
        owed before it): no task, no ASGI messages."""
        answer_now = self.server.answer_now
        if answer_now is None:
            return False
        body = request.body[0] if len(request.body) == 1 else b"".join(request.body)
        try:
            answer = answer_now(request.method, request.path, request.headers, body)
        except Exception:  # the app's own bug: answer it, keep the connection usable
            import traceback

            traceback.print_exc()
            answer = (500, [(b"content-type", b"text/plain")], b"Internal Server Error")
        if answer is None:
            return False
        self._write(*answer)
        self.last_active = self.loop.time()
        if not request.keep_alive or self.server.closing:
            self.close()
        return True

    async def _answer_pending(self) -> None:
        try:
            while self.pending and not self.closed:
                request = self.pending.popleft()
                await self._answer(request)
                if not request.keep_alive or self.server.closing:
                    self.close()
                    return
        finally:
            self.busy = False
            self.last_active = self.loop.time()

    async def _answer(self, request: _Request) -> None:
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": request.version,
            "method": request.method,
            "scheme": "http",
            "path": request.path.decode("latin-1"),
            "raw_path": request.path,
            "query_string": request.query,
            "root_path": "",
            "headers": request.headers,
            "client": None,
            "server": None,
        }
        body = request.body[0] if len(request.body) == 1 else b"".join(request.body)
        sent_body = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_body
            if sent_body:
                return {"type": "http.disconnect"}
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}

        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    head = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
                    answer = b"".join(chunks)
                    self._write(
                        int(start.get("status", 200)),
                        head,
                        b"" if request.method == "HEAD" else answer,
                        length=len(answer),
                    )

        try:
            await self.server.app(scope, receive, send)
        except Exception:  # the app's own bug: answer it, keep the connection usable
            import traceback

            traceback.print_exc()
            if not start:
                self._write(500, [(b"content-type", b"text/plain")], b"Internal Server Error")

    def _write(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        length: int | None = None,
    ) -> None:
        if self.transport is None or self.closed:
            return
        reason = _REASONS.get(status, b"")
        parts = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        parts += [b"%s: %s\r\n" % (name, value) for name, value in headers]
        parts.append(b"content-length: %d\r\n\r\n" % (len(body) if length is None else length))
        parts.append(body)
        self.transport.write(b"".join(parts))  # one write: one wake-up of the reader

    # One timer a connection, not one a request: when it fires it closes the connection
    # if it has been idle long enough, and otherwise sets itself for when it would be.
    def _arm_idle(self, delay: float) -> None:
        self.idle = self.loop.call_later(delay, self._idle_timeout)

    def _idle_timeout(self) -> None:
        if self.closed:
            return
        keep = self.server.keep_alive_seconds
        left = self.last_active + keep - self.loop.time()
        if self.busy or left > 0:
            self._arm_idle(keep if self.busy else left)
        else:
            self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()


class Server:
    """A running server: :func:`start` makes one, :meth:`close` drains and ends it."""

    def __init__(self, state: _Server, server: asyncio.AbstractServer) -> None:
        self._state = state
        self._server = server

    async def close(self, drain_seconds: float | None = None) -> None:
        """Stop accepting; close idle connections; let the requests in flight finish (for
        up to ``drain_seconds``, or however long they take); close the rest."""
        state = self._state
        state.closing = True
        self._server.close()
        for connection in list(state.connections):
            if not connection.busy:
                connection.close()
        end = None if drain_seconds is None else time.monotonic() + drain_seconds
        while any(c.busy for c in state.connections) and (end is None or time.monotonic() < end):
            await asyncio.sleep(0.01)
        for connection in list(state.connections):
            connection.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()


async def start(app: App, sock: socket.socket, keep_alive_seconds: float = 600.0) -> Server:
    """Serve ``app`` on the listening socket ``sock`` from now on."""
    loop = asyncio.get_running_loop()
    state = _Server(app, keep_alive_seconds)
    server = await loop.create_unix_server(lambda: _Connection(state), sock=sock, backlog=1024)
    return Server(state, server)


async def serve(app: App, sock: socket.socket, keep_alive_seconds: float = 600.0) -> None:
    """Serve ``app`` on the listening socket ``sock`` until SIGTERM, then drain."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    server = await start(app, sock, keep_alive_seconds)
    try:
        await stop.wait()
    finally:
        await server.close()
