"""The workers' HTTP/1.1 server (``serving/wire.py``) and the server's one-write transport
(``api/transport.py``): what a client on the socket sees."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from sagebox.api.transport import _CoalescingTransport
from sagebox.serving.wire import serve


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    message = await receive()
    body = f"{scope['method']} {scope['path']} {scope['query_string'].decode()} ".encode()
    body += message["body"]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": body[:5], "more_body": True})
    await send({"type": "http.response.body", "body": body[5:]})


class Quick:
    """An app that answers ``/now`` itself, at once (``answer_now``), and the rest as ASGI
    (``/slow`` after a pause, so that requests behind it wait their turn)."""

    calls = 0

    def answer_now(
        self, method: str, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        Quick.calls += 1
        if path == b"/boom":
            raise RuntimeError("a bug of the app")
        if path != b"/now":
            return None
        return 200, [(b"x-now", b"1")], b"now " + body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if scope["path"] == "/slow":
            await asyncio.sleep(0.2)
        body = f"asgi {scope['path']} ".encode() + message["body"]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def _server(path: Path, app: Any = echo) -> threading.Thread:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(16)
    sock.setblocking(False)

    def run() -> None:
        loop = asyncio.new_event_loop()
        # signal handlers can only be set in the main thread: stop with SIGTERM ourselves
        loop.add_signal_handler = lambda *args: None  # type: ignore[method-assign]
        # The server runs until this test thread's 5 s are up, then stops quietly.
        with contextlib.suppress(TimeoutError):
            loop.run_until_complete(asyncio.wait_for(serve(app, sock, keep_alive_seconds=1), 5))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _exchange(path: Path, data: bytes, wait_for: int = 1) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(path))
        client.sendall(data)
        received = b""
        while received.count(b"HTTP/1.1 ") < wait_for or not received.endswith(b"!"):
            chunk = client.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_pipelined_requests_are_answered_in_order_each_in_one_piece(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    _server(path)
    requests = b"".join(
        b"POST /invocations?n=%d HTTP/1.1\r\nHost: w\r\nContent-Length: 2\r\n\r\n%d!" % (i, i)
        for i in range(3)
    )
    answer = _exchange(path, requests, wait_for=3)
    parts = answer.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert [p.rsplit(b"\r\n\r\n", 1)[1] for p in parts] == [
        b"POST /invocations n=0 0!",
        b"POST /invocations n=1 1!",
        b"POST /invocations n=2 2!",
    ]
    assert all(b"x-a: 1\r\n" in p and b"content-length: 24\r\n" in p for p in parts)


def test_chunked_bodies_head_and_connection_close(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    _server(path)
    chunked = (
        b"POST /x HTTP/1.1\r\nHost: w\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nab\r\n2\r\nc!\r\n0\r\n\r\n"
    )
    assert _exchange(path, chunked).endswith(b"POST /x  abc!")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(path))
        client.sendall(b"HEAD /ping HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := client.recv(65536):  # the server closes after answering
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b""
    assert b"content-length: 12" in head  # the length the GET would have had


def test_malformed_requests_get_400_and_the_connection_closes(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    _server(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(path))
        client.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 400 Bad Request")


def test_idle_connections_are_closed_after_the_keep_alive_time(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    _server(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(path))
        started = time.monotonic()
        assert client.recv(10) == b""  # closed by the server, about a second later
        assert time.monotonic() - started >= 0.5


def _post(path: str, body: bytes) -> bytes:
    return b"POST %s HTTP/1.1\r\nHost: w\r\nContent-Length: %d\r\n\r\n%s" % (
        path.encode(),
        len(body),
        body,
    )


def test_answer_now_answers_at_once_and_in_order_behind_asgi_requests(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    _server(path, Quick())
    alone = _exchange(path, _post("/now", b"a!"))
    assert alone.startswith(b"HTTP/1.1 200 OK\r\nx-now: 1\r\ncontent-length: 6\r\n")
    assert alone.endswith(b"\r\n\r\nnow a!")
    # behind a slow ASGI request, a request for answer_now waits its turn (and is
    # answered the ASGI way: answer_now is only for requests that nothing is owed before)
    pipelined = _post("/slow", b"1!") + _post("/now", b"2!") + _post("/other", b"3!")
    parts = _exchange(path, pipelined, wait_for=3).split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert [p.rsplit(b"\r\n\r\n", 1)[1] for p in parts] == [
        b"asgi /slow 1!",
        b"asgi /now 2!",
        b"asgi /other 3!",
    ]
    # a bug in answer_now is a 500, and the connection goes on serving
    both = _exchange(path, _post("/boom", b"x") + _post("/now", b"4!"), wait_for=2)
    assert both.startswith(b"HTTP/1.1 500 Internal Server Error") and both.endswith(b"now 4!")


def test_nothing_is_answered_behind_a_request_that_closes(tmp_path: Path) -> None:
    path = tmp_path / "w.sock"
    _server(path, Quick())
    closing = b"POST /now HTTP/1.1\r\nHost: w\r\nConnection: close\r\nContent-Length: 2\r\n\r\n1!"
    before = Quick.calls
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(path))
        client.sendall(closing + _post("/now", b"2!") + _post("/now", b"3!"))
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    assert received.count(b"HTTP/1.1 ") == 1 and received.endswith(b"now 1!")
    assert Quick.calls - before == 1  # the requests behind it never reached the app


def test_a_connection_in_use_outlives_the_keep_alive_time(tmp_path: Path) -> None:
    """The idle timer counts from the last answer, however it was answered."""
    path = tmp_path / "w.sock"
    _server(path, Quick())
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(str(path))
        started = time.monotonic()
        while time.monotonic() - started < 2.0:  # twice the keep-alive time, never idle
            client.sendall(_post("/now", b"k!"))
            assert client.recv(65536).endswith(b"now k!")
            time.sleep(0.3)
        idle = time.monotonic()
        assert client.recv(10) == b""  # then idle: closed about a second later
        assert 0.5 <= time.monotonic() - idle < 4


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        self.writes.append(b"<closed>")


def test_writes_of_one_loop_turn_leave_as_one() -> None:
    async def main() -> list[bytes]:
        recorder = _Recorder()
        transport = _CoalescingTransport(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b"body")
        assert recorder.writes == []
        await asyncio.sleep(0)
        transport.write(b"next")
        transport.close()  # flushes what is pending first
        return recorder.writes

    assert asyncio.run(main()) == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"next", b"<closed>"]


def test_sigterm_in_the_worker_process_is_a_clean_exit(tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "serve.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, socket, sys
            sys.path.insert(0, {str(Path(__file__).parents[2] / "src")!r})
            from sagebox.serving.wire import serve
            from tests.serving.test_wire import echo
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind({str(tmp_path / "s.sock")!r}); sock.listen(4); sock.setblocking(False)
            asyncio.run(serve(echo, sock))
            print("drained")
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 30
    while True:  # serving (its signal handlers set), not only bound
        assert time.monotonic() < deadline
        try:
            answer = _exchange(
                tmp_path / "s.sock", b"GET /ping HTTP/1.1\r\nHost: w\r\nConnection: close\r\n\r\n"
            )
        except OSError:
            answer = b""
        if answer.startswith(b"HTTP/1.1 200"):
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and out.strip() == b"drained"
