"""The model server: one worker process answering SageMaker's container contract.

    python -m sagebox.serving.worker --model-dir DIR --socket PATH [--memory-mb N]

The worker loads the model once (an :class:`InferenceSession`: the built-in handlers or
the user's ``inference.py``), then serves HTTP/1.1 with keep-alive on the Unix socket
PATH, with :mod:`sagebox.serving.wire` (httptools on uvloop, one write per response)
and a bare ASGI app:

- ``GET /ping``: 200 (the socket exists only once the model is loaded);
- ``POST /invocations``: the handlers' answer, with ``X-Sagebox-Model-Latency-Us`` (time
  in input_fn + predict_fn + output_fn); a model's own failure answers its status
  (400/406/415/500) with the message as a ``text/plain`` body.

Where a request runs: a thread hop costs more than a one-row prediction, so requests run
inline in the event loop while a built-in model proves fast (``PROBATION`` consecutive
requests under ``SLOW_NS``). A new worker, a model that was just slow, any body over
``LARGE_BODY`` and every request of a user's ``inference.py`` (which may sleep or call
out at any time) run in the worker's one model thread instead, so a slow request cannot
hold ``/ping`` and the other connections: at most one unexpectedly slow request of an
until-then fast built-in model runs inline. Either way one request uses the model at a
time. An inline request that nothing is owed before on its connection is answered by
``WorkerApp.answer_now`` as soon as it is parsed (no ASGI messages, no task); the rest,
pipelined requests behind another included, go through the ASGI app.

``--memory-mb`` sets RLIMIT_AS (an instance type's memory, or a serverless variant's
MemorySizeInMB): a request that runs out of memory answers 500 saying so, and the worker
keeps serving. A model that cannot load exits 2 with one line on stderr (the reason, for
``FailureReason``; details on stdout). SIGTERM stops accepting connections, finishes the
requests in flight, and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagebox.serving.client import listen_unix
from sagebox.serving.errors import ModelError, ModelLoadError
from sagebox.serving.handlers import CUSTOM_ATTRIBUTES, InferenceSession, RequestContext

if TYPE_CHECKING:
    from sagebox.serving.wire import Answer

__all__ = ["WorkerApp", "main", "worker_command"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SLOW_NS = 5_000_000  # a request this slow sends the next ones to the model thread
PROBATION = 20  # fast requests in a row before requests run inline again
LARGE_BODY = 256 * 1024  # bodies this large are decoded in the model thread
KEEP_ALIVE_SECONDS = 600  # idle connections of a router stay open this long
LATENCY_HEADER = b"x-sagebox-model-latency-us"
_CUSTOM = CUSTOM_ATTRIBUTES.encode()
_TEXT = b"text/plain; charset=utf-8"


class WorkerApp:
    """The ASGI app of a worker: ``/ping`` and ``/invocations`` over one InferenceSession."""

    def __init__(self, session: InferenceSession) -> None:
        self.session = session
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._executor.submit(int).result()  # start the thread now, not under load
        self._lock = asyncio.Lock()
        self._fast_streak = 0
        # Only the built-in handlers run inline: their time is bounded by the body's size,
        # while a user's code may sleep, call out or wait on a lock at any request.
        self._inline_ok = not session.handlers.user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/invocations" and scope["method"] == "POST":
            await self._invocations(scope, receive, send)
        elif path == "/ping" and scope["method"] in ("GET", "HEAD"):
            await _answer(send, 200, b"", b"text/plain")
        elif path in ("/ping", "/invocations"):
            await _answer(send, 405, f"{scope['method']} is not allowed on {path}.".encode(), _TEXT)
        else:
            await _answer(send, 404, f"No route {path}: use /ping or /invocations.".encode(), _TEXT)

    def answer_now(
        self, method: str, path: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> Answer | None:
        """The answer to an ``/invocations`` that runs inline (see the module's docstring),
        given here and now, without ASGI; None for every other request."""
        if path != b"/invocations" or method != "POST" or not self._inline_now(body):
            return None
        if self._lock.locked():  # a request of another connection is in the model thread
            return None
        content_type, accept, context = self._request_headers(headers)
        try:
            return self._answer(self._timed(body, content_type, accept, context), context)
        except _Failed as failed:
            return self._failure(failed)

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        body: bytes = message.get("body", b"")
        if message.get("more_body"):
            chunks = [body]
            while message.get("more_body"):
                message = await receive()
                chunks.append(message.get("body", b""))
            body = b"".join(chunks)
        content_type, accept, context = self._request_headers(scope["headers"])
        try:
            result = await self._run(body, content_type, accept, context)
            status, headers, answer = self._answer(result, context)
        except _Failed as failed:
            status, headers, answer = self._failure(failed)
        headers.append((b"content-length", str(len(answer)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def _request_headers(
        self, headers: list[tuple[bytes, bytes]]
    ) -> tuple[str, str, RequestContext | None]:
        content_type = accept = ""
        context = RequestContext() if self.session.wants_context else None
        for name, value in headers:
            if name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            if context is not None:
                context.request_headers[name.decode("latin-1")] = value.decode("latin-1")
        return content_type, accept, context

    @staticmethod
    def _answer(result: tuple[tuple[bytes, str], int], context: RequestContext | None) -> Answer:
        (answer, answer_type), elapsed = result
        headers = [
            (b"content-type", answer_type.encode("latin-1")),
            (LATENCY_HEADER, str(elapsed // 1000).encode()),
        ]
        if context is not None:
            headers += [
                (k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in context.response_headers.items()
                if k.lower() not in ("content-type", "content-length")
            ]
        return 200, headers, answer

    @staticmethod
    def _failure(failed: _Failed) -> Answer:
        headers = [(b"content-type", _TEXT), (LATENCY_HEADER, str(failed.elapsed // 1000).encode())]
        return failed.status, headers, failed.body

    def _inline_now(self, body: bytes) -> bool:
        return self._inline_ok and self._fast_streak >= PROBATION and len(body) < LARGE_BODY

    async def _run(
        self, body: bytes, content_type: str, accept: str, context: RequestContext | None
    ) -> tuple[tuple[bytes, str], int]:
        """The session's answer and the nanoseconds the model took, inline or in the thread."""
        inline = self._inline_now(body)
        if inline and not self._lock.locked():
            return self._timed(body, content_type, accept, context)
        async with self._lock:
            if inline:
                return self._timed(body, content_type, accept, context)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor, self._timed, body, content_type, accept, context
            )

    def _timed(
        self, body: bytes, content_type: str, accept: str, context: RequestContext | None
    ) -> tuple[tuple[bytes, str], int]:
        start = time.perf_counter_ns()
        try:
            result = self.session.invoke(body, content_type, accept or None, context)
        except ModelError as exc:
            elapsed = time.perf_counter_ns() - start
            self._learn(elapsed)
            raise _Failed(exc.status, exc.message.encode(), elapsed) from None
        except Exception as exc:  # a bug of the server itself: still answer, keep serving
            elapsed = time.perf_counter_ns() - start
            traceback.print_exc()
            message = f"The model server failed: {type(exc).__name__}: {exc}"
            raise _Failed(500, message.encode(), elapsed) from None
        elapsed = time.perf_counter_ns() - start
        self._learn(elapsed)
        return result, elapsed

    def _learn(self, elapsed: int) -> None:
        self._fast_streak = self._fast_streak + 1 if elapsed < SLOW_NS else 0

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class _Failed(Exception):
    def __init__(self, status: int, body: bytes, elapsed: int) -> None:
        self.status, self.body, self.elapsed = status, body, elapsed


async def _answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- the process -------------------------------------------------------------------------


def worker_command(model_dir: Path, socket_path: Path, memory_mb: int | None = None) -> list[str]:
    """The command line that starts a worker (run it with the model's Environment)."""
    command = [sys.executable, "-m", "sagebox.serving.worker"]
    command += ["--model-dir", str(model_dir), "--socket", str(socket_path)]
    if memory_mb is not None:
        command += ["--memory-mb", str(memory_mb)]
    return command


def _limit_memory(memory_mb: int) -> None:
    """RLIMIT_AS of ``memory_mb``; few malloc arenas, so reserved address space is not
    mistaken for memory in use."""
    import ctypes
    import resource

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(-8, 2)  # M_ARENA_MAX = 2 (glibc)
    limit = memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sagebox.serving.worker", description="Serve one model on a Unix socket."
    )
    parser.add_argument("--model-dir", required=True, type=Path, help="the extracted model")
    parser.add_argument("--socket", required=True, type=Path, help="the Unix socket to serve")
    parser.add_argument("--memory-mb", type=int, default=None, help="address-space limit")
    return parser.parse_args(argv)


def _fail(message: str) -> int:
    print(message.replace("\n", " "), file=sys.stderr, flush=True)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    # One prediction thread a worker unless the model's Environment says otherwise: the
    # workers of an instance already use its cores, and a one-row request on many OpenMP
    # threads is many times slower. Set before any library starts its thread pool.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    if args.memory_mb is not None:
        if args.memory_mb <= 0:
            return _fail(f"--memory-mb must be a positive number of MB; got {args.memory_mb}.")
        _limit_memory(args.memory_mb)
    try:
        session = InferenceSession(
            args.model_dir, os.environ, memory_limit_mb=args.memory_mb, lean_imports=True
        )
    except ModelLoadError as exc:
        traceback.print_exc(file=sys.stdout)
        return _fail(exc.message)
    except Exception as exc:
        traceback.print_exc(file=sys.stdout)
        return _fail(f"Loading the model from {args.model_dir} failed: {type(exc).__name__}: {exc}")
    try:
        sock = listen_unix(str(args.socket))
    except OSError as exc:
        return _fail(f"Cannot serve on socket {args.socket}: {exc}.")
    return _serve(WorkerApp(session), sock, args.socket)


def _serve(app: WorkerApp, sock: socket.socket, path: Path) -> int:
    """Serve until SIGTERM; then remove the socket, unless another worker replaced it."""
    import uvloop

    from sagebox.serving.wire import serve

    inode = os.stat(path).st_ino
    sock.setblocking(False)
    try:
        uvloop.run(serve(app, sock, KEEP_ALIVE_SECONDS))
    finally:
        app.close()
        try:
            if os.stat(path).st_ino == inode:
                path.unlink()
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
