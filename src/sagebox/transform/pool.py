"""``MaxConcurrentTransforms`` concurrent invocations of the model, in-process.

An :class:`InferenceSession` serves one request at a time, so each concurrent slot holds
its own: a thread (``workers="thread"``) or a process (``"process"``). Processes scale
with cores for the parts of an invocation that hold the GIL (parsing CSV, formatting the
answer), which the library's predict does not; each process gets an equal share of the
instance's CPUs for its OpenMP threads so that they do not fight over cores. One slot
runs as a thread: no process to start, and reading and writing still overlap the model.
Every slot enforces ``InvocationsTimeoutInSeconds``. A request that lies whole in an
uncompressed input file is sent to a process as where it lies (path, offset, length), and
the process reads it from the file: pickling a 6 MB body through a pipe and back costs
more CPU than the read.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

__all__ = ["Answer", "InvocationTimeout", "Invoker", "keep_freed_memory", "make_invoker"]

Answer = tuple[bytes, str]
Where = tuple[str, int]  # the input file a request's body is read from, and its offset


class InvocationTimeout(Exception):
    """The model did not answer within InvocationsTimeoutInSeconds."""


class Invoker(Protocol):
    def submit(self, body: bytes, where: Where | None = None) -> Future[Answer]:
        """Invoke the model on ``body``; ``where`` says that it is also in a file, there."""

    def overdue(self, future: Future[Answer]) -> bool:
        """True when ``future``'s invocation has run longer than the timeout."""

    def close(self) -> None: ...


def keep_freed_memory() -> None:
    """Have glibc's malloc keep freed memory for the next request rather than give it back.

    Each request allocates and frees tens of megabytes (its body, the parsed rows, the
    answer); by default malloc maps each of those from the system and unmaps it when freed,
    and every fresh page then costs a page fault: measured here, a fifth of each slot's CPU
    time (180,000 faults a slot for 1M rows, 13,000 with this). Blocks up to 32 MB (glibc's
    most) now come from the heap, which is not trimmed below 1 GiB. No-op without glibc.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.mallopt(-3, 32 * 1024 * 1024)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


class _Call:
    """What every slot needs to answer a request."""

    def __init__(self, content_type: str, accept: str | None, timeout: float) -> None:
        self.content_type = content_type
        self.accept = accept
        self.timeout = timeout


# ---- threads ----------------------------------------------------------------------------


class ThreadInvoker:
    def __init__(
        self, model_dir: Path, environment: Mapping[str, str], slots: int, call: _Call, cpus: int
    ) -> None:
        from sagebox.serving import codecs
        from sagebox.serving.handlers import InferenceSession

        codecs.set_parse_threads(cpus // slots)  # one slot parses a request on every core

        self.call = call
        self._sessions = [InferenceSession(model_dir, environment) for _ in range(slots)]
        self._free = list(self._sessions)
        self._lock = threading.Lock()
        # when each submitted invocation started running (0.0 while it waits its turn)
        self._started: dict[Future[Answer], list[float]] = {}
        self._pool = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="transform")

    def _run(self, body: bytes, started: list[float]) -> Answer:
        with self._lock:
            session = self._free.pop()
        started[0] = time.monotonic()
        try:
            return session.invoke(body, self.call.content_type, self.call.accept)
        finally:
            with self._lock:
                self._free.append(session)

    def submit(self, body: bytes, where: Where | None = None) -> Future[Answer]:
        started = [0.0]  # made before the call can run, so its start is never missed
        future = self._pool.submit(self._run, body, started)
        self._started[future] = started
        future.add_done_callback(lambda done: self._started.pop(done, None))
        return future

    def overdue(self, future: Future[Answer]) -> bool:
        cell = self._started.get(future)
        return cell is not None and cell[0] > 0 and time.monotonic() - cell[0] > self.call.timeout

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


# ---- processes --------------------------------------------------------------------------

_SESSION: Any = None
_LOAD_ERROR: str | None = None
_CALL: _Call | None = None


def _alarm(_signum: int, _frame: object) -> None:
    raise InvocationTimeout


def _preload(model_dir: Path) -> list[str]:
    """What the fork server imports: the serving code, and the model's library."""
    from sagebox.algorithms.inference import model_modules

    modules = [__name__, "sagebox.serving.handlers", "sagebox.algorithms.inference", "pandas"]
    return modules + model_modules(model_dir)


def _start_worker(model_dir: str, environment: dict[str, str], call: _Call, loaded: Any) -> None:
    """Runs first in each worker process: the model, loaded once."""
    global _SESSION, _LOAD_ERROR, _CALL
    keep_freed_memory()
    signal.signal(signal.SIGALRM, _alarm)
    _CALL = call
    from sagebox.serving.errors import ModelLoadError
    from sagebox.serving.handlers import InferenceSession

    try:
        _SESSION = InferenceSession(Path(model_dir), environment)
    except ModelLoadError as exc:
        _LOAD_ERROR = exc.message
    # Every worker loaded before any takes work, so the parent's check sees them all.
    with contextlib.suppress(threading.BrokenBarrierError):
        loaded.wait(timeout=3600)


def _loaded() -> str | None:
    """In a worker: why its model did not load, or None."""
    return _LOAD_ERROR


def _invoke_in_worker(body: bytes | tuple[str, int, int]) -> Answer:
    assert _SESSION is not None and _CALL is not None
    if isinstance(body, tuple):  # (path, offset, length): read here, not sent
        path, offset, length = body
        with open(path, "rb", buffering=0) as stream:
            body = os.pread(stream.fileno(), length, offset)
    signal.setitimer(signal.ITIMER_REAL, _CALL.timeout)
    try:
        answer: Answer = _SESSION.invoke(body, _CALL.content_type, _CALL.accept)
        return answer
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


class ProcessInvoker:
    def __init__(
        self, model_dir: Path, environment: Mapping[str, str], slots: int, call: _Call, cpus: int
    ) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from sagebox.serving.errors import ModelLoadError

        # A fork server, not fork: the parent may hold OpenMP thread pools that a fork
        # breaks. It imports the libraries once, and each worker forks from it, so N
        # workers start in about the time of one. OpenMP reads its thread count when its
        # library loads, so the share is set before the server starts.
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[name] = str(max(1, cpus // slots))
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_preload(model_dir))
        self._pool: Executor = ProcessPoolExecutor(
            max_workers=slots,
            mp_context=context,
            initializer=_start_worker,
            initargs=(str(model_dir), dict(environment), call, context.Barrier(slots)),
        )
        # Every worker loads its model now: a broken model fails before any record is
        # read, and loading is not counted as transform time.
        for future in [self._pool.submit(_loaded) for _ in range(slots)]:
            error = future.result()
            if error:
                self.close()
                raise ModelLoadError(error)

    def submit(self, body: bytes, where: Where | None = None) -> Future[Answer]:
        if where is not None:
            return self._pool.submit(_invoke_in_worker, (*where, len(body)))
        return self._pool.submit(_invoke_in_worker, body)

    def overdue(self, future: Future[Answer]) -> bool:
        return False  # each worker's own timer raises InvocationTimeout

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_invoker(
    model_dir: Path,
    environment: Mapping[str, str],
    *,
    slots: int,
    workers: str,
    content_type: str,
    accept: str | None,
    timeout: float,
    cpus: int,
) -> Invoker:
    """``slots`` concurrent invocations as threads or processes (one slot: a thread)."""
    call = _Call(content_type, accept, timeout)
    keep_freed_memory()  # this process: reading, writing, and the thread slots
    if workers == "process" and slots > 1:
        return ProcessInvoker(model_dir, environment, slots, call, cpus)
    return ThreadInvoker(model_dir, environment, slots, call, cpus)
