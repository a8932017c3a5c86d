"""The server's front protocol: InvokeEndpoint off the socket, every other request uvicorn's.

Raw sockets, so that what goes on one connection (keep-alive, pipelining, hand-over) is
what the test says. Unsigned InvokeEndpoint requests get the runtime's 403 from the fast
path; ``GET /health`` is a route only uvicorn's side answers.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httptools

from sagebox.api.front import FAST_MAX_BODY

INVOKE = (
    b"POST /endpoints/loans/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: text/csv\r\nContent-Length: 3\r\n\r\n1,2"
)
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


class _Responses:
    def __init__(self) -> None:
        self.done: list[tuple[int, dict[str, str], bytes]] = []
        self.headers: dict[str, str] = {}
        self.body = b""
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done.append((self.parser.get_status_code(), self.headers, self.body))
        self.headers, self.body = {}, b""


@contextmanager
def _connection(url: str) -> Iterator[tuple[socket.socket, Callable[..., list]]]:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    responses = _Responses()

    def read(count: int) -> list[tuple[int, dict[str, str], bytes]]:
        """The next ``count`` responses, or fewer when the server closes first."""
        while len(responses.done) < count:
            data = sock.recv(65536)
            if not data:
                break
            responses.parser.feed_data(data)
        out, responses.done[:] = responses.done[:count], responses.done[count:]
        return out

    try:
        yield sock, read
    finally:
        sock.close()


def _code(response: tuple[int, dict[str, str], bytes]) -> str:
    return response[1]["x-amzn-errortype"].split(":")[0]


def test_invocations_keep_alive_then_another_route_on_the_same_connection(serve) -> None:
    running = serve()
    with _connection(running.url) as (sock, read):
        for _ in range(3):
            sock.sendall(INVOKE)
            ((status, headers, _body),) = read(1)
            assert status == 403
            assert headers["x-amzn-errortype"].startswith("MissingAuthenticationToken")
            assert headers["x-amzn-requestid"] and headers["date"]
        sock.sendall(HEALTH)  # handed to uvicorn from here on
        ((status, _headers, body),) = read(1)
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        sock.sendall(INVOKE)  # uvicorn's side answers InvokeEndpoint the same way
        ((status, headers, _body),) = read(1)
        assert (
            status == 403 and _code((status, headers, b"")) == "MissingAuthenticationTokenException"
        )


def test_pipelined_invocations_are_answered_in_order(serve) -> None:
    running = serve()
    with _connection(running.url) as (sock, read):
        sock.sendall(INVOKE * 3)
        answers = read(3)
        assert [a[0] for a in answers] == [403, 403, 403]
        assert len({a[1]["x-amzn-requestid"] for a in answers}) == 3


def test_a_pipelined_request_for_another_route_closes_after_the_answers_before_it(serve) -> None:
    """RFC 9112 9.3.2: what the server did not answer, the client sends again."""
    running = serve()
    with _connection(running.url) as (sock, read):
        sock.sendall(INVOKE + HEALTH)
        answers = read(2)
        assert [a[0] for a in answers] == [403]  # then the connection closed
    with _connection(running.url) as (sock, read):
        sock.sendall(HEALTH + INVOKE)  # the first request starts the read: handed over
        assert [a[0] for a in read(2)] == [200, 403]


def test_requests_the_fast_path_does_not_take_still_get_the_gate_and_uvicorn(serve) -> None:
    running = serve()
    with _connection(running.url) as (sock, read):  # the gate's DNS-rebinding refusal
        sock.sendall(INVOKE.replace(b"Host: 127.0.0.1", b"Host: evil.example"))
        ((status, _headers, body),) = read(1)
        assert status == 400 and b"does not answer to host" in body
    with _connection(running.url) as (sock, read):  # a browser's cross-site request
        sock.sendall(INVOKE.replace(b"Host: 127.0.0.1", b"Host: 127.0.0.1\r\nOrigin: http://x.y"))
        ((status, _headers, body),) = read(1)
        assert status == 403 and b"Cross-origin" in body
    with _connection(running.url) as (sock, read):  # 100-continue: uvicorn's to send
        sock.sendall(
            INVOKE[: -len(b"1,2")].replace(b"\r\n\r\n", b"\r\nExpect: 100-continue\r\n\r\n")
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"1,2")
        ((status, _headers, _body),) = read(1)
        assert status == 403
    big = b"1," * (FAST_MAX_BODY // 2 + 1)
    with _connection(running.url) as (sock, read):  # a large body: uvicorn streams it
        head = INVOKE[: -len(b"1,2")].replace(b"Length: 3", b"Length: %d" % len(big))
        sock.sendall(head + big)
        ((status, _headers, _body),) = read(1)
        assert status == 403


def test_connection_close_and_malformed_requests(serve) -> None:
    running = serve()
    with _connection(running.url) as (sock, read):
        sock.sendall(INVOKE.replace(b"Host: 127.0.0.1", b"Host: 127.0.0.1\r\nConnection: close"))
        ((status, headers, _body),) = read(1)
        assert status == 403 and headers["connection"] == "close"
        assert sock.recv(100) == b""  # closed by the server
    with _connection(running.url) as (sock, read):
        sock.sendall(b"POST /endpoints/x/invocations HTTP/1.1\r\nContent-Length: zz\r\n\r\n")
        ((status, _headers, _body),) = read(1)
        assert status == 400  # uvicorn's answer to a request it cannot parse
