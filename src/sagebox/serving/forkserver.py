"""A fork server: model workers started in milliseconds instead of seconds.

A fresh Python that imports the model server, numpy and a boosting library takes 1.5 to
2.5 s on a small machine before it loads any model, which alone would break the
serverless cold-start goal (1.5 s to the first response). So each endpoint host starts
one *zygote*: a single-threaded process that imports those modules once and then forks a
worker per request, in which only the worker's own start (load the model, bind its
socket) remains. It is the same trade the container platforms make by keeping images
warm on the host; the model itself is still loaded by every new worker, so a cold start
still measures what SageMaker's does.

Rules that keep forking safe: the zygote never starts a thread or an OpenMP region
(libgomp is not fork-safe), and runs nothing of a model; it only imports. It dies with
its host (``PR_SET_PDEATHSIG``). Workers are detached (own session), reaped by the
zygote, and watched by the host through ``/proc`` like any process.

Protocol on the zygote's stdin/stdout, one JSON object a line: the host sends
``{"id", "module", "args", "env", "log", "cwd", "netns"}``, the zygote answers
``{"id", "pid"}`` or ``{"id", "error"}``. It prints ``{"ready": [...]}`` once its imports
are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

__all__ = ["ForkServer", "main"]

# Always imported: the model server and what every handler needs.
BASE_MODULES = ("numpy", "sagebox.serving.handlers", "sagebox.serving.worker")
PR_SET_PDEATHSIG = 1
CLONE_NEWNET = 0x40000000  # <sched.h>
CLONE_NEWUSER = 0x10000000


class ForkServer:
    """The host's side: start the zygote, ask it for workers (asyncio)."""

    def __init__(
        self,
        preload: Sequence[str] = (),
        log_path: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.preload = tuple(dict.fromkeys((*BASE_MODULES, *preload)))
        self.log_path = log_path
        # Variables read when a library loads (OMP_NUM_THREADS ...): the zygote's are the
        # workers', since the libraries are loaded before the fork.
        self.environment = dict(environment or {})
        self._process: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0
        self.pid: int | None = None

    async def start(self) -> None:
        stderr = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "sagebox.serving.forkserver",
                *self.preload,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.environment},
                start_new_session=True,
            )
        finally:
            if stderr is not None:
                stderr.close()
        self.pid = self._process.pid
        line = await self._readline()
        if "ready" not in line:
            raise RuntimeError(f"the fork server did not start: {line}")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def spawn(
        self,
        module: str,
        args: Sequence[str],
        env: dict[str, str],
        log: str,
        cwd: str,
        *,
        netns: bool = False,
    ) -> int:
        """Fork a process that runs ``python -m module *args``; its pid."""
        async with self._lock:  # one request at a time: answers come in order
            if not self.running:
                await self.start()
            assert self._process is not None and self._process.stdin is not None
            self._next_id += 1
            request = {
                "id": self._next_id,
                "module": module,
                "args": list(args),
                "env": env,
                "log": log,
                "cwd": cwd,
                "netns": netns,
            }
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            await self._process.stdin.drain()
            answer = await self._readline()
        if "pid" not in answer:
            raise RuntimeError(f"the fork server could not start a worker: {answer.get('error')}")
        return int(answer["pid"])

    async def _readline(self) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        raw = await self._process.stdout.readline()
        if not raw:
            code = await self._process.wait()
            raise RuntimeError(f"the fork server exited (code {code})")
        answer: dict[str, Any] = json.loads(raw)
        return answer

    async def close(self) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


# ---- the zygote -------------------------------------------------------------------------
def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _reap() -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the worker. Never returns."""
    code = 1
    try:
        os.setsid()
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if request.get("netns"):
            _private_network()
        module = request["module"]
        sys.argv = [module, *request["args"]]
        import runpy

        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _private_network() -> None:
    """EnableNetworkIsolation: a network namespace with no interface up (as root, or in a
    user namespace where the kernel allows one); a warning where neither can be made."""
    flags = CLONE_NEWNET if os.geteuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(flags) != 0:
        error = os.strerror(ctypes.get_errno())
        print(
            f"sagebox: WARNING: EnableNetworkIsolation is set but this machine cannot make a "
            f"private network namespace ({error}); the model can reach the network.",
            file=sys.stderr,
        )


def main(argv: Sequence[str]) -> int:
    _die_with_parent()
    loaded = []
    for name in argv:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as exc:  # a missing optional library: the worker imports it
            print(f"sagebox fork server: could not preload {name}: {exc!r}", file=sys.stderr)
    out = sys.stdout
    out.write(json.dumps({"ready": loaded}) + "\n")
    out.flush()
    stdin = sys.stdin.buffer
    buffer = b""
    while True:
        _reap()
        ready, _, _ = select.select([stdin.fileno()], [], [], 0.5)
        if not ready:
            continue
        chunk = os.read(stdin.fileno(), 65536)
        if not chunk:
            return 0  # the host closed the pipe: it is gone
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            request = json.loads(line)
            try:
                pid = os.fork()
            except OSError as exc:
                out.write(json.dumps({"id": request["id"], "error": str(exc)}) + "\n")
                out.flush()
                continue
            if pid == 0:
                _child(request)
            out.write(json.dumps({"id": request["id"], "pid": pid}) + "\n")
            out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
