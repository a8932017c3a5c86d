"""Just enough HTTP/1.1 over asyncio streams for the endpoint host.

The host pings its workers (``GET /ping``), and the serverless gateway both answers the
router like a worker does and forwards each request to one of its workers over a
keep-alive connection. Bodies are sized by ``Content-Length`` (the router and the
workers send it; chunked bodies are refused with 411).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

__all__ = [
    "Message",
    "UnixConnection",
    "ping",
    "read_request",
    "write_response",
]

MAX_HEAD = 64 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    411: "Length Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ProtocolError(Exception):
    """The peer did not speak HTTP/1.1 as expected."""


@dataclass
class Message:
    """A request (``method``, ``target``) or a response (``status``), headers lower-cased."""

    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    method: str = ""
    target: str = ""
    status: int = 0

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


def _parse_headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line {line!r}")
        headers[name.strip().lower()] = value.strip()
    return headers


async def _read_head(reader: asyncio.StreamReader) -> list[str] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise ProtocolError("the connection closed in the middle of a message") from None
        return None
    except asyncio.LimitOverrunError:
        raise ProtocolError(f"a message head is over {MAX_HEAD} bytes") from None
    return head[:-4].decode("latin-1").split("\r\n")


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ProtocolError("chunked bodies are not supported; send Content-Length")
    length = int(headers.get("content-length") or 0)
    return await reader.readexactly(length) if length else b""


async def read_request(reader: asyncio.StreamReader) -> Message | None:
    """The next request on a connection, or None when the peer closed it cleanly."""
    lines = await _read_head(reader)
    if lines is None:
        return None
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError(f"malformed request line {lines[0]!r}")
    headers = _parse_headers(lines[1:])
    body = await _read_body(reader, headers)
    return Message(headers, body, method=parts[0], target=parts[1])


def write_response(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
    *,
    close: bool = False,
) -> None:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


class UnixConnection:
    """One keep-alive HTTP/1.1 connection to a worker's Unix socket; one request at a
    time. Reconnects once when a kept-alive connection turns out closed."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._streams is None:
            from sagebox.serving.client import unix_address

            with unix_address(self.path) as address:
                self._streams = await asyncio.open_unix_connection(address, limit=MAX_HEAD)
        return self._streams

    async def request(
        self, method: str, target: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Message:
        lines = [f"{method} {target} HTTP/1.1", "Host: worker"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        payload = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        lines_in: list[str] = []
        for attempt in (0, 1):
            reused = self._streams is not None
            reader, writer = await self._open()
            try:
                writer.write(payload)
                await writer.drain()
                head = await _read_head(reader)
                if head is None:
                    raise ConnectionResetError("closed before an answer")
                lines_in = head
            except (ConnectionError, ProtocolError):
                self.close()
                if reused and attempt == 0:
                    continue  # the worker had closed an idle connection: once more
                raise
            break
        parts = lines_in[0].split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            self.close()
            raise ProtocolError(f"malformed status line {lines_in[0]!r}") from None
        answer_headers = _parse_headers(lines_in[1:])
        try:
            answer_body = await _read_body(reader, answer_headers)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.close()
            raise ConnectionResetError("closed in the middle of an answer") from None
        answer = Message(answer_headers, answer_body, status=status)
        if not answer.keep_alive:
            self.close()
        return answer

    def close(self) -> None:
        if self._streams is not None:
            with contextlib.suppress(Exception):
                self._streams[1].close()
            self._streams = None


async def ping(path: str, timeout: float = 2.0) -> int | None:
    """The status of ``GET /ping`` on the worker at ``path``; None when it cannot answer."""
    connection = UnixConnection(path)
    try:
        answer = await asyncio.wait_for(connection.request("GET", "/ping"), timeout)
    except (TimeoutError, OSError, ProtocolError, asyncio.IncompleteReadError):
        return None
    finally:
        connection.close()
    return answer.status
