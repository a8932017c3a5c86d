"""The server's connections: InvokeEndpoint answered straight off the socket, the rest by uvicorn.

A one-row InvokeEndpoint is a few hundred microseconds of work in all, and uvicorn's
general HTTP machinery (a Python callback per header, the ASGI scope and request cycle,
its middleware) is a large part of that. :class:`FrontProtocol` is what uvicorn runs for
each connection (its documented ``http`` option takes a protocol class). It parses each
request with httptools itself, and:

- a plain InvokeEndpoint (``POST /endpoints/NAME/invocations``, HTTP/1.1, a
  ``Content-Length`` body of at most :data:`FAST_MAX_BODY`, an allowed ``Host``, no
  ``Origin``, ``Expect``, ``Transfer-Encoding``, ``Upgrade`` or ``X-Forwarded-*``) goes to
  :meth:`InvocationsApp.answer <sagebox.api.invocations.InvocationsApp.answer>`, the same
  code the ASGI route runs, and its response leaves in one write;
- at the first request that is anything else, the connection is handed to uvicorn's
  protocol for good: it gets the bytes of that request as they came, and the transport.
  The gate, proxy headers, streaming bodies, ``100-continue`` and every other route stay
  uvicorn's and the app's.

Requests pipelined on one connection are answered in order. HTTP/1.1 lets a server close
a connection before answering all of a pipeline (RFC 9112, 9.3.2: the client retries
what was not answered); that is what happens when a request that is not a plain
InvokeEndpoint starts inside the same read as the end of the one before, since its bytes
cannot be handed over from its start. Clients that do not pipeline (boto3, browsers,
curl, wrk) never meet this.
"""

from __future__ import annotations

import asyncio
import http
from collections import deque
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

import httptools

from sagebox.api.gate import host_only
from sagebox.api.invocations import PATH
from sagebox.api.transport import CoalescingHttpToolsProtocol

if TYPE_CHECKING:
    from sagebox.api.gate import Gate
    from sagebox.api.invocations import InvocationsApp

__all__ = ["FAST_MAX_BODY", "FrontProtocol", "front_protocol"]

FAST_MAX_BODY = 1024 * 1024  # larger bodies go to uvicorn, which streams them
_NOT_FAST = frozenset(
    {"transfer-encoding", "expect", "upgrade", "origin", "x-forwarded-for", "x-forwarded-proto"}
)
_STATUS = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in http.HTTPStatus}


class _HandOff(Exception):
    """Raised inside the parser's callback: this request is uvicorn's."""


class _Request(NamedTuple):
    path: str  # percent-decoded, as the ASGI route sees it
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


class FrontProtocol(asyncio.Protocol):
    """One client connection (see the module docstring). :func:`front_protocol` binds it
    to the server's InvokeEndpoint route and allowed hosts."""

    invocations: InvocationsApp
    allowed_hosts: frozenset[str]

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._uvicorn = {
            "config": config,
            "server_state": server_state,
            "app_state": app_state,
            "_loop": _loop,
        }
        self.loop = _loop or asyncio.get_event_loop()
        self.state = server_state
        self.keep_alive_seconds = float(config.timeout_keep_alive)
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client: str | None = None
        self.https = False
        # the request being parsed: its bytes from its start (when that is known)
        self.raw: list[bytes] = []
        self.clean = True  # the request began at the start of self.raw
        self.in_message = False
        self.completed_in_read = False  # a request ended earlier in the read being parsed
        self.url = b""
        self.path = ""  # the URL's path, percent-decoded
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        # answering
        self.pending: deque[_Request] = deque()
        self.busy = False
        self.closed = False
        self.closing = False  # shutdown asked, or a request that cannot be handed over
        self.hand_off_waiting = False  # a request for uvicorn, once the pipeline is answered
        self.idle: asyncio.TimerHandle | None = None

    # ---- asyncio.Protocol --------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state.connections.add(self)
        peer = transport.get_extra_info("peername")
        self.client = peer[0] if isinstance(peer, tuple) and peer else None
        self.https = transport.get_extra_info("sslcontext") is not None
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        if self.in_message:
            self.raw.append(data)
        else:
            self.raw, self.clean = [data], True
        self.completed_in_read = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:  # not ours (_HandOff), or malformed: uvicorn's
            if not self.clean:  # no start to hand over: answer what came before, close
                self.closing = True
                self._close_when_answered()
            elif self.busy or self.pending:
                self.hand_off_waiting = True  # after the answers owed before it
                assert self.transport is not None
                self.transport.pause_reading()
            else:
                self._hand_off()
        else:
            if not self.busy and not self.pending and not self.in_message:
                self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.state.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()

    def eof_received(self) -> None:
        pass

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: answer what was asked, then close."""
        self.closing = True
        self._close_when_answered()

    # ---- httptools callbacks -----------------------------------------------------------
    def on_message_begin(self) -> None:
        self.in_message = True
        if self.completed_in_read:
            self.clean = False  # it starts somewhere inside the read: no start to hand over
        self.url = b""
        self.headers = {}
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        known = self.headers.get(key)
        self.headers[key] = text if known is None else f"{known},{text}"

    def on_headers_complete(self) -> None:
        if not self._fast():
            raise _HandOff()  # httptools raises it as HttpParserCallbackError

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        self.completed_in_read = True
        raw_path, _, query = self.url.decode("latin-1").partition("?")
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        keep_alive = self.parser.should_keep_alive()
        self.pending.append(_Request(self.path, raw_path, query, self.headers, body, keep_alive))
        if not self.busy:
            self.busy = True
            task = self.loop.create_task(self._answer_pending())
            self.state.tasks.add(task)
            task.add_done_callback(self.state.tasks.discard)

    def _fast(self) -> bool:
        """Whether this request is what the ASGI app routes to InvokeEndpoint, plain."""
        headers = self.headers
        if self.parser.get_method() != b"POST" or self.parser.get_http_version() != "1.1":
            return False
        self.path = unquote(self.url.partition(b"?")[0].decode("latin-1"))
        if not PATH.fullmatch(self.path) or not _NOT_FAST.isdisjoint(headers):
            return False
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > FAST_MAX_BODY:
            return False
        return host_only(headers.get("host", "")).lower() in self.allowed_hosts

    # ---- answering ---------------------------------------------------------------------
    async def _answer_pending(self) -> None:
        try:
            while self.pending and not self.closed:
                request = self.pending.popleft()
                status, headers, body = await self.invocations.answer(
                    request.path,
                    request.raw_path,
                    request.query,
                    request.headers,
                    request.body,
                    self.client,
                    self.https,
                )
                self._write(status, headers, body, request.keep_alive)
                self.state.total_requests += 1
                if not request.keep_alive:
                    self.closing = True
                    break
        finally:
            self.busy = False
        if self.closed:
            return
        if self.closing:
            self._close_when_answered()
        elif self.hand_off_waiting:
            self._hand_off()
        elif not self.in_message:
            self._arm_idle()

    def _write(
        self, status: int, headers: list[tuple[bytes, bytes]], body: bytes, keep_alive: bool
    ) -> None:
        if self.transport is None or self.closed:
            return
        parts = [_STATUS.get(status) or b"HTTP/1.1 %d \r\n" % status]
        parts += [b"%s: %s\r\n" % pair for pair in self.state.default_headers]
        parts += [b"%s: %s\r\n" % pair for pair in headers]
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        parts += [b"\r\n", body]
        self.transport.write(b"".join(parts))  # one write: one wake-up of the client

    # ---- the connection ----------------------------------------------------------------
    def _hand_off(self) -> None:
        """From now on the connection is uvicorn's, starting with this request's bytes."""
        transport = self.transport
        assert transport is not None
        data = b"".join(self.raw)
        self.raw = []
        self.state.connections.discard(self)
        if self.idle is not None:
            self.idle.cancel()
        protocol = CoalescingHttpToolsProtocol(**self._uvicorn)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        if self.hand_off_waiting:
            transport.resume_reading()
        protocol.data_received(data)

    def _close_when_answered(self) -> None:
        if not self.busy and not self.pending and self.transport is not None:
            self.transport.close()

    def _arm_idle(self) -> None:
        self.idle = self.loop.call_later(self.keep_alive_seconds, self._idle_timeout)

    def _idle_timeout(self) -> None:
        self.idle = None
        if not self.busy and not self.pending and self.transport is not None:
            self.transport.close()


def front_protocol(app: Gate) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (``http=``) for the connections of ``app``, as
    :func:`~sagebox.api.app.build_app` made it. An app without an InvokeEndpoint route
    gets uvicorn's protocol (with one write per response) for every connection."""
    if app.invocations is None:
        return CoalescingHttpToolsProtocol
    return type(
        "FrontProtocol",
        (FrontProtocol,),
        {"invocations": app.invocations, "allowed_hosts": frozenset(app.allowed_hosts)},
    )
