"""Model worker processes as the endpoint host runs them, and real-time variants.

A worker is ``python -m sagebox.serving.worker --model-dir DIR --socket PATH --memory-mb
N`` (forked by the host's :class:`~sagebox.serving.forkserver.ForkServer`), in its own
session, logging to its variant's log stream. It is ready when ``GET /ping`` answers
200; a worker that exits first failed to load, and its last log line says why.

A real-time variant runs ``InitialInstanceCount`` instances of
``SAGEMAKER_MODEL_SERVER_WORKERS`` workers each (default 1); each worker's memory limit
is its instance type's memory divided among the instance's workers. Workers that die are
restarted; workers leave the routes before they are stopped, so no request is sent to a
worker that is going away.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from sagebox.runtime.instance_types import instance_profile
from sagebox.runtime.processes import is_alive, process_start_ticks
from sagebox.serving.client import ping
from sagebox.serving.deployment import VariantSpec
from sagebox.serving.forkserver import ForkServer
from sagebox.serving.routes import VariantRoute

__all__ = ["Launcher", "RealtimeVariant", "StartError", "VariantRuntime", "WorkerProcess"]

WORKER_MODULE = "sagebox.serving.worker"
WORKERS_PER_INSTANCE = "SAGEMAKER_MODEL_SERVER_WORKERS"
RETIRE_GRACE = 1.0  # seconds between leaving the routes and being asked to stop
STOP_TIMEOUT = 65.0  # a stopping worker finishes its requests (60 s model timeout) first
RESTART_BACKOFF = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0)


class StartError(Exception):
    """A worker (or a variant) could not start; the message is fit for a FailureReason."""


@dataclass(eq=False)
class WorkerProcess:
    socket: str
    log: Path
    pid: int | None = None
    ticks: int | None = None
    log_offset: int = 0
    spawned_at: float = 0.0
    ready: bool = False
    restarts: list[float] = field(default_factory=list)

    def alive(self) -> bool:
        return is_alive(self.pid, self.ticks)

    def record(self) -> dict[str, Any]:
        return {"pid": self.pid, "ticks": self.ticks}

    def failure(self) -> str:
        """The last line the worker wrote since it started (why it exited)."""
        try:
            with self.log.open("rb") as handle:
                handle.seek(self.log_offset)
                tail = handle.read()[-8192:]
        except OSError:
            return "it exited without writing to its log"
        lines = [ln.strip() for ln in tail.decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1] if lines else "it exited without writing to its log"

    def signal(self, sig: int) -> None:
        if self.pid and self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, sig)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (the server finishes what it is answering), SIGKILL after ``timeout``."""
        self.ready = False
        self.signal(signal.SIGTERM)
        end = time.monotonic() + timeout
        while self.alive() and time.monotonic() < end:
            await asyncio.sleep(0.02)
        if self.alive():
            self.signal(signal.SIGKILL)
            while self.alive() and time.monotonic() < end + 5:
                await asyncio.sleep(0.02)
        with contextlib.suppress(OSError):
            os.unlink(self.socket)


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker of one variant gets."""

    model_dir: Path
    environment: dict[str, str]
    memory_mb: int
    network_isolation: bool


class Launcher:
    """Starts workers through the host's fork server and waits until they answer."""

    def __init__(self, forkserver: ForkServer, on_spawn: Callable[[], None]) -> None:
        self.forkserver = forkserver
        self.on_spawn = on_spawn  # the host records the new process (workers.json)
        self.spawned: list[WorkerProcess] = []  # every process started and maybe alive

    def alive(self) -> list[WorkerProcess]:
        """The processes started that still run (the list is pruned of the others)."""
        self.spawned = [w for w in self.spawned if w.alive()]
        return list(self.spawned)

    async def launch(self, worker: WorkerProcess, setup: WorkerSetup) -> None:
        with contextlib.suppress(OSError):
            os.unlink(worker.socket)
        worker.log.parent.mkdir(parents=True, exist_ok=True)
        with worker.log.open("ab") as log:
            worker.log_offset = log.tell()
        args = [
            "--model-dir",
            str(setup.model_dir),
            "--socket",
            worker.socket,
            "--memory-mb",
            str(setup.memory_mb),
        ]
        worker.ready = False
        worker.spawned_at = time.monotonic()
        try:
            pid = await self.forkserver.spawn(
                WORKER_MODULE,
                args,
                setup.environment,
                str(worker.log),
                str(setup.model_dir.parent),
                netns=setup.network_isolation,
            )
        except RuntimeError as exc:
            raise StartError(str(exc)) from None
        worker.pid, worker.ticks = pid, process_start_ticks(pid)
        if worker not in self.spawned:
            self.spawned.append(worker)
        self.on_spawn()

    async def wait_ready(self, worker: WorkerProcess, timeout: float) -> None:
        """Until ``/ping`` answers 200; StartError if the worker exits or times out."""
        end = worker.spawned_at + timeout
        pause = 0.002
        while True:
            if not worker.alive():
                raise StartError(f"the model server exited while loading: {worker.failure()}")
            if os.path.exists(worker.socket) and await ping(worker.socket, 2.0) == 200:
                worker.ready = True
                return
            if time.monotonic() > end:
                await worker.stop(timeout=2)
                raise StartError(
                    f"the model server did not answer /ping within {timeout:g} seconds "
                    "(ContainerStartupHealthCheckTimeoutInSeconds)"
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def start(self, worker: WorkerProcess, setup: WorkerSetup, timeout: float) -> None:
        try:
            await self.launch(worker, setup)
            await self.wait_ready(worker, timeout)
        except asyncio.CancelledError:
            worker.signal(signal.SIGKILL)  # abandoned half-started: never left running
            raise


class VariantRuntime(Protocol):
    """One production variant as the host runs it (real-time or serverless)."""

    spec: VariantSpec

    async def start(self) -> None:
        """Bring the variant up; StartError (its reason) when it cannot serve."""

    def route(self) -> VariantRoute: ...

    async def apply(self, spec: VariantSpec) -> None:
        """Take new weights and capacities (UpdateEndpointWeightsAndCapacities)."""

    async def check(self) -> None:
        """Restart what died (called about five times a second)."""

    async def stop(self, timeout: float) -> None: ...


def workers_per_instance(environment: dict[str, str]) -> int:
    raw = environment.get(WORKERS_PER_INSTANCE, "1")
    try:
        return max(1, int(raw))
    except ValueError:
        return 1


class RealtimeVariant:
    """A real-time variant: instances of workers, each worker one socket in the routes."""

    def __init__(
        self,
        spec: VariantSpec,
        setup: WorkerSetup,
        launcher: Launcher,
        sockets: Callable[[], str],
        log_for: Callable[[int], Path],
        on_change: Callable[[], None],
        note: Callable[[str], None],
    ) -> None:
        self.spec = spec
        self.per_instance = workers_per_instance(setup.environment)
        profile = instance_profile(str(spec.instance_type))
        self.setup = replace(setup, memory_mb=max(64, profile.memory_mib // self.per_instance))
        self.launcher = launcher
        self.sockets = sockets  # a new socket path
        self.log_for = log_for  # instance number -> its log stream
        self.on_change = on_change  # the routes must be published again
        self.note = note  # a line for the host's log
        self.instances: list[list[WorkerProcess]] = []
        self.retiring: list[WorkerProcess] = []  # out of the routes, finishing requests
        self._restarting: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._grow(self.spec.instance_count)

    async def _grow(self, count: int) -> None:
        new = []
        while len(self.instances) < count:
            number = len(self.instances) + 1
            workers = [
                WorkerProcess(self.sockets(), self.log_for(number))
                for _ in range(self.per_instance)
            ]
            self.instances.append(workers)
            new.extend(workers)
        results = await asyncio.gather(
            *(self.launcher.start(w, self.setup, self.spec.startup_timeout) for w in new),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await asyncio.gather(*(w.stop(timeout=2) for w in new))
            self.instances = [i for i in self.instances if not any(w in new for w in i)]
            error = errors[0]
            raise error if isinstance(error, StartError) else StartError(repr(error))

    def route(self) -> VariantRoute:
        workers = [w for instance in self.instances for w in instance]
        ready = tuple(w.socket for w in workers if w.ready)
        return VariantRoute(self.spec.name, self.spec.weight, ready)

    async def apply(self, spec: VariantSpec) -> None:
        before = len(self.instances)
        if spec.instance_count > before:
            await self._grow(spec.instance_count)  # a failure changes nothing
        self.spec = replace(self.spec, weight=spec.weight, instance_count=spec.instance_count)
        if spec.instance_count > before:
            self.on_change()
        elif spec.instance_count < before:
            leaving = [w for i in self.instances[spec.instance_count :] for w in i]
            self.instances = self.instances[: spec.instance_count]
            self.retiring.extend(leaving)
            self.on_change()  # out of the routes first, then stopped
            self._background(self._retire(leaving))
        else:
            self.on_change()

    async def _retire(self, workers: list[WorkerProcess]) -> None:
        await asyncio.sleep(RETIRE_GRACE)
        await asyncio.gather(*(w.stop() for w in workers))
        self.retiring = [w for w in self.retiring if w not in workers]

    async def check(self) -> None:
        for instance in self.instances:
            for worker in instance:
                if worker.socket in self._restarting or worker.alive():
                    continue
                self._restarting.add(worker.socket)
                self._background(self._restart(worker))

    async def _restart(self, worker: WorkerProcess) -> None:
        try:
            was_ready, worker.ready = worker.ready, False
            if was_ready:
                self.on_change()
            now = time.monotonic()
            worker.restarts = [t for t in worker.restarts if now - t < 600] + [now]
            delay = RESTART_BACKOFF[min(len(worker.restarts) - 1, len(RESTART_BACKOFF) - 1)]
            line = (
                f"sagebox: the model server (pid {worker.pid}) of variant {self.spec.name} "
                f"exited ({worker.failure()}); restarting it"
            )
            self.note(line)
            with contextlib.suppress(OSError), worker.log.open("a") as log:
                log.write(line + "\n")
            await asyncio.sleep(delay)
            try:
                await self.launcher.start(worker, self.setup, self.spec.startup_timeout)
            except StartError as exc:
                self.note(f"sagebox: restarting a worker of {self.spec.name} failed: {exc}")
                return  # the next check tries again, with a longer pause
            self.on_change()
        finally:
            self._restarting.discard(worker.socket)

    def processes(self) -> list[WorkerProcess]:
        return [w for instance in self.instances for w in instance] + self.retiring

    async def stop(self, timeout: float) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*(w.stop(timeout) for w in self.processes()))

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
