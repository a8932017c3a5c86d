"""The endpoint host: one detached process per endpoint that runs what serves it.

    python -m sagebox.serving.host --home HOME ENDPOINT

Started by CreateEndpoint (and by ``ControlPlane.reconcile`` when an endpoint's host
died), it holds ``host.lock`` in the endpoint's folder for its whole life. It watches the
endpoint's record (every second, at once when the API touches ``wake``) and carries out
what the API asked (see :mod:`sagebox.control.endpoint_state`):

- Creating: stage each variant's model under ``g<generation>/<variant>/model``, start its
  workers (real-time) or its gateway (serverless), wait until they answer ``/ping``,
  publish the routes, report InService; or Failed with the reason, and exit.
- Updating to a new config: bring the new generation up beside the old one, swap the
  routes, then drain the old workers (they finish what they are answering) and stop
  them: no request is dropped. If the new generation cannot start, it is removed and
  the old one goes on serving: InService with a FailureReason (AWS rolls back too).
- Updating weights and capacities: weights at once (the routes), instances up or down.
- Deleting: routes removed, workers stopped, files and record deleted.

A worker that dies is restarted (and logged in its stream under
``<home>/logs/endpoint/<name>/``). A new host after a crash brings the live deployment
up as a new generation, swaps the routes, and only then kills the dead host's workers
(recorded in ``workers.json``), so the endpoint keeps answering meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sagebox.home import Home
from sagebox.runtime.processes import kill_process_groups, process_start_ticks
from sagebox.runtime.reporting import load_factory
from sagebox.serving import hostctl
from sagebox.serving.deployment import Deployment, VariantSpec
from sagebox.serving.forkserver import ForkServer
from sagebox.serving.routes import EndpointRoutes, endpoint_dir, remove_routes, write_routes
from sagebox.serving.serverless import ServerlessVariant
from sagebox.serving.staging import StagingError, remove, stage_model
from sagebox.serving.workers import (
    RETIRE_GRACE,
    STOP_TIMEOUT,
    Launcher,
    RealtimeVariant,
    StartError,
    VariantRuntime,
    WorkerSetup,
)

__all__ = ["Host", "main"]

STATE = "sagebox.control.endpoint_state:EndpointState"
REQUESTS = "sagebox.control.endpoint_state:requests_of"
# The record is read once a second when nothing happens (the API touches ``wake`` after
# every change, so the host acts at once anyway): an idle endpoint costs its host well
# under 1% of a core.
POLL_SECONDS = 1.0
WAKE_CHECK_SECONDS = 0.1
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class Generation:
    """One deployment as it runs: its folder and a runtime per variant."""

    def __init__(self, number: int, deployment: Deployment, folder: Path) -> None:
        self.number = number
        self.deployment = deployment
        self.folder = folder
        self.variants: dict[str, VariantRuntime] = {}

    async def stop(self, timeout: float) -> None:
        await asyncio.gather(
            *(v.stop(timeout) for v in self.variants.values()), return_exceptions=True
        )


class Host:
    def __init__(self, home: Home, name: str) -> None:
        self.home = home
        self.name = name
        self.folder = endpoint_dir(home.path, name)
        self.logs = hostctl.log_dir(home, name)
        self.state = load_factory(STATE)(home, name)
        self.arn = home.arn("sagemaker", f"endpoint/{name.lower()}")
        self.current: Generation | None = None
        self.retiring: list[Generation] = []
        self.launchers: dict[tuple[str, ...], Launcher] = {}
        self.generation = 0
        self.sockets = 0
        self.routes_dirty = False
        self.workers_dirty = False
        self.done = False
        self.stale: list[dict[str, Any]] = []  # a dead predecessor's processes
        self.op: asyncio.Task[None] | None = None
        self._wake_seen = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # ---- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        self._load_state()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        seen: int | None = None
        self.note(f"host {os.getpid()} serving endpoint {self.name}")
        while not self.done:
            if stop.is_set() or not self.home.path.exists():
                await self.shutdown()
                return
            record = await asyncio.to_thread(self.state.read)
            if record is None:
                await self.shutdown()
                return
            if record.status == "Deleting":
                await self.delete()
                return
            if self.op is not None and self.op.done():
                self._finish_op()
                seen = None
            if self.op is None and record.version != seen:
                seen = record.version
                self.op = asyncio.ensure_future(self.act(record))
            await self.monitor()
            await self.pause(POLL_SECONDS)
        await self.shutdown()
        # DeleteEndpoint may have come while a Failed endpoint's host was shutting down:
        # it woke this host, which no longer reads its record, so finish it here.
        record = await asyncio.to_thread(self.state.read)
        if record is not None and record.status == "Deleting":
            await self.delete()

    def _finish_op(self) -> None:
        assert self.op is not None
        if not self.op.cancelled() and self.op.exception() is not None:
            error = self.op.exception()
            self.note("".join(traceback.format_exception(error)))
        self.op = None

    async def pause(self, seconds: float) -> None:
        """Sleep up to ``seconds``; return early when woken or when the routes changed."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            await asyncio.sleep(WAKE_CHECK_SECONDS)
            if self.routes_dirty or (self.op is not None and self.op.done()):
                return
            try:
                stamp = (self.folder / hostctl.WAKE).stat().st_mtime_ns
            except OSError:
                continue
            if stamp != self._wake_seen:
                self._wake_seen = stamp
                return

    async def monitor(self) -> None:
        if self.current is not None:
            for runtime in self.current.variants.values():
                try:
                    await runtime.check()
                except Exception as exc:  # never let one variant stop the host
                    self.note(f"checking variant {runtime.spec.name} failed: {exc!r}")
        if self.routes_dirty and self.current is not None:
            self.publish()
        if self.workers_dirty:
            self.record_processes()

    # ---- what the API asked --------------------------------------------------------------
    async def act(self, record: Any) -> None:
        deploy, live, scale = load_factory(REQUESTS)(record)
        status = record.status
        try:
            if status == "Failed":
                self.done = True
                return
            if self.current is None and live is not None:
                if not await self._serve(live, failed=self.state.failed):
                    return
                if status == "InService":
                    return
            if status == "Creating" and deploy is not None:
                if await self._serve(deploy, failed=self.state.failed):
                    await asyncio.to_thread(self.state.deployed, deploy)
            elif status == "Updating" and deploy is not None:
                await self._update(deploy)
            elif status == "Updating" and scale is not None:
                await self._rescale(scale)
            elif status == "Updating" and self.current is not None:
                await asyncio.to_thread(self.state.deployed, self.current.deployment)
        except Exception as exc:
            self.note("".join(traceback.format_exception(exc)))
            reason = f"InternalFailure: the endpoint's host failed: {exc!r}"
            if self.current is None:
                await asyncio.to_thread(self.state.failed, reason)
                self.done = True
            else:
                await asyncio.to_thread(self.state.update_failed, reason)

    async def _serve(self, deployment: Deployment, *, failed: Any) -> bool:
        """Bring ``deployment`` up as the first generation; report ``failed`` if it can't."""
        try:
            generation = await self.bring_up(deployment)
        except StartError as exc:
            self.note(f"the endpoint cannot serve: {exc}")
            await asyncio.to_thread(failed, str(exc))
            await asyncio.to_thread(self._kill_stale)
            self.done = True
            return False
        self.current = generation
        self.publish()
        await asyncio.to_thread(self._kill_stale)
        return True

    async def _update(self, deployment: Deployment) -> None:
        assert self.current is not None
        try:
            generation = await self.bring_up(deployment)
        except StartError as exc:
            old = self.current.deployment.config_name
            reason = (
                f"Updating to endpoint config {deployment.config_name} failed, so the endpoint "
                f"was rolled back to {old}: {exc}"
            )
            self.note(reason)
            await asyncio.to_thread(self.state.update_failed, reason)
            return
        old_generation, self.current = self.current, generation
        self.publish()
        self._background(self.retire(old_generation))
        await asyncio.to_thread(self.state.deployed, deployment)

    async def _rescale(self, target: Deployment) -> None:
        assert self.current is not None
        try:
            for variant in target.variants:
                runtime = self.current.variants.get(variant.name)
                if runtime is not None:
                    await runtime.apply(variant)
        except StartError as exc:
            self.routes_dirty = True
            reason = f"UpdateEndpointWeightsAndCapacities could not add capacity: {exc}"
            await asyncio.to_thread(self.state.update_failed, reason)
            return
        self.current.deployment = target
        self.publish()
        await asyncio.to_thread(self.state.deployed, target)

    # ---- generations ---------------------------------------------------------------------
    async def bring_up(self, deployment: Deployment) -> Generation:
        self.generation += 1
        self._save_state()
        generation = Generation(self.generation, deployment, self.folder / f"g{self.generation}")
        try:
            for variant in deployment.variants:
                generation.variants[variant.name] = await self._variant(generation, variant)
            results = await asyncio.gather(
                *(runtime.start() for runtime in generation.variants.values()),
                return_exceptions=True,
            )
            for variant, result in zip(deployment.variants, results, strict=True):
                if isinstance(result, StartError):
                    raise StartError(
                        f"The primary container for production variant {variant.name} did "
                        f"not pass the ping health check: {result}. Its log is under "
                        f"{self.logs / variant.name}."
                    )
                if isinstance(result, BaseException):
                    raise result
        except BaseException:
            await generation.stop(timeout=2)
            await asyncio.to_thread(remove, generation.folder)
            self.record_processes()
            raise
        self.record_processes()
        return generation

    async def _variant(self, generation: Generation, variant: VariantSpec) -> VariantRuntime:
        folder = generation.folder / variant.name
        try:
            environment = await asyncio.to_thread(
                stage_model, self.home, variant.model, folder / "model"
            )
        except (StagingError, OSError) as exc:
            raise StartError(
                f"Failed to download model data for production variant {variant.name} "
                f"(model {variant.model.name}): {exc}. Make sure the object exists and that "
                "the model's ExecutionRoleArn may read it."
            ) from None
        env = self._environment(variant, environment)
        # imports the algorithms' modules and walks the model: not on the event loop
        preload = await asyncio.to_thread(self._preload, variant, folder / "model", env)
        launcher = await self._launcher(env, preload)
        setup = WorkerSetup(folder / "model", env, 0, variant.model.network_isolation)
        number = generation.number
        logs = self.logs / variant.name
        if variant.serverless is not None:
            return ServerlessVariant(
                variant,
                setup,
                launcher,
                self._socket(number, "gateway"),
                lambda: self._socket(number),
                logs / f"g{number}-serverless.log",
                lambda metric, value: self.observe(variant.name, metric, value),
                self.note,
            )
        return RealtimeVariant(
            variant,
            setup,
            launcher,
            lambda: self._socket(number),
            lambda instance: logs / f"g{number}-instance-{instance}.log",
            self.mark_routes,
            self.note,
        )

    def _environment(self, variant: VariantSpec, staged: dict[str, str]) -> dict[str, str]:
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "SAGEBOX_")) and k != "PYTHONPATH"
        }
        return {
            **base,
            "PYTHONUNBUFFERED": "1",
            "AWS_REGION": self.home.region,
            "AWS_DEFAULT_REGION": self.home.region,
            "SAGEBOX_ENDPOINT_NAME": self.name,
            "SAGEBOX_VARIANT_NAME": variant.name,
            **staged,
        }

    def _preload(self, variant: VariantSpec, model_dir: Path, env: dict[str, str]) -> list[str]:
        """Modules the variant's workers will import: the fork server imports them first."""
        from sagebox.algorithms.inference import model_modules
        from sagebox.runtime.images import resolve_image

        modules = model_modules(model_dir)
        with contextlib.suppress(Exception):
            entry = resolve_image(variant.model.image).entry
            if entry.requires and (entry.kind == "framework" or env.get("SAGEMAKER_PROGRAM")):
                modules.append(entry.requires)
        return modules

    async def _launcher(self, env: dict[str, str], preload: list[str]) -> Launcher:
        """The launcher whose fork server has ``env``'s thread settings and ``preload``."""
        threads = {name: env.get(name, "1") for name in THREAD_VARIABLES}
        key = tuple(threads.values())
        launcher = self.launchers.get(key)
        if launcher is not None and set(preload) <= set(launcher.forkserver.preload):
            return launcher
        wanted = [*(launcher.forkserver.preload if launcher else ()), *preload]
        server = ForkServer(wanted, str(self.logs / "forkserver.log"), threads)
        await server.start()
        if launcher is None:
            launcher = self.launchers[key] = Launcher(server, self.mark_workers)
        else:  # its earlier workers run on; only new ones come from the new zygote
            old, launcher.forkserver = launcher.forkserver, server
            self._background(old.close())
        self.mark_workers()
        return launcher

    def _socket(self, generation: int, kind: str = "w") -> str:
        self.sockets += 1
        folder = self.folder / "sock"
        folder.mkdir(mode=0o700, exist_ok=True)
        return str(folder / f"g{generation}-{kind}{self.sockets}.sock")

    async def retire(self, generation: Generation) -> None:
        """Drain a generation that left the routes, then stop it and remove its files."""
        self.retiring.append(generation)
        try:
            await asyncio.sleep(RETIRE_GRACE)  # callers that read the old routes send now
            await generation.stop(STOP_TIMEOUT)
            await asyncio.to_thread(remove, generation.folder)
        finally:
            self.retiring.remove(generation)
            self.mark_workers()

    # ---- routes, records, logs -------------------------------------------------------------
    def publish(self) -> None:
        self.routes_dirty = False
        generation = self.current
        if generation is None:
            return
        routes = EndpointRoutes(
            endpoint=self.name,
            arn=self.arn,
            generation=generation.number,
            config_name=generation.deployment.config_name,
            variants=tuple(
                generation.variants[v.name].route() for v in generation.deployment.variants
            ),
            capture=generation.deployment.capture,
        )
        write_routes(self.home.path, routes)

    def mark_routes(self) -> None:
        self.routes_dirty = True

    def mark_workers(self) -> None:
        self.workers_dirty = True

    def record_processes(self) -> None:
        """workers.json: every process this host started that may still run."""
        self.workers_dirty = False
        entries = [w.record() for launcher in self.launchers.values() for w in launcher.alive()]
        for launcher in self.launchers.values():
            pid = launcher.forkserver.pid
            if pid and launcher.forkserver.running:
                entries.append({"pid": pid, "ticks": process_start_ticks(pid)})
        hostctl.write_json(self.folder / hostctl.WORKERS, self.stale + entries)

    def observe(self, variant: str, metric: str, value: float) -> None:
        from sagebox.serving import metrics

        metrics.recorder(self.home).observe(self.arn, variant, metric, value)

    def note(self, line: str) -> None:
        print(f"{datetime.now(UTC).isoformat(timespec='milliseconds')} {line}", flush=True)

    # ---- the end -------------------------------------------------------------------------
    async def delete(self) -> None:
        """DeleteEndpoint: nothing routes here any more, everything stops, all goes."""
        self.note("deleting the endpoint")
        await self._stop_all(timeout=5)
        await asyncio.to_thread(hostctl.remove_folder, self.folder)
        from sagebox.errors import ResourceNotFound

        with contextlib.suppress(ResourceNotFound):
            await asyncio.to_thread(self.home.metadata.delete, "endpoint", self.name)
        self.done = True

    async def shutdown(self) -> None:
        """Stop serving (SIGTERM, Failed, or the record or home gone), leaving the record."""
        await self._stop_all(timeout=5)
        if self.home.path.exists():
            with contextlib.suppress(OSError):
                hostctl.remove_folder(self.folder)
        self.done = True

    async def _stop_all(self, timeout: float) -> None:
        if self.op is not None and not self.op.done():
            self.op.cancel()
            with contextlib.suppress(BaseException):
                await self.op
        with contextlib.suppress(OSError):
            remove_routes(self.home.path, self.name)
        for task in list(self._tasks):
            task.cancel()
        generations = [g for g in (self.current, *self.retiring) if g is not None]
        await asyncio.gather(*(g.stop(timeout) for g in generations), return_exceptions=True)
        for launcher in self.launchers.values():
            for worker in launcher.alive():  # anything a cancelled start left behind
                await worker.stop(timeout=1)
            await launcher.forkserver.close()
        await asyncio.to_thread(self._kill_stale)

    def _kill_stale(self) -> None:
        """Kill what a dead predecessor left running (after our routes replaced its)."""
        if self.stale:
            kill_process_groups(self.stale)
            self.stale = []
            self.mark_workers()

    def _background(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _load_state(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            state = json.loads((self.folder / "state.json").read_text())
            self.generation = int(state.get("generation", 0))
        except (OSError, ValueError):
            pass
        try:
            self.stale = list(json.loads((self.folder / hostctl.WORKERS).read_text()))
        except (OSError, ValueError):
            self.stale = []
        with contextlib.suppress(OSError):
            self._wake_seen = (self.folder / hostctl.WAKE).stat().st_mtime_ns

    def _save_state(self) -> None:
        hostctl.write_json(self.folder / "state.json", {"generation": self.generation})


def _lock(folder: Path, wait: float) -> Any:
    """Hold ``host.lock``: the open file, or None if another host keeps it ``wait`` s."""
    handle = (folder / hostctl.LOCK).open("a")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                return None
            time.sleep(0.1)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sagebox.serving.host")
    parser.add_argument("--home", required=True)
    parser.add_argument("endpoint")
    args = parser.parse_args(argv)
    home = Home.open(args.home, create=False)
    folder = endpoint_dir(home.path, args.endpoint)
    folder.mkdir(parents=True, exist_ok=True)
    # Another host may hold the lock: a duplicate start (it keeps serving; we leave), or
    # the host of a deleted endpoint of the same name, exiting now (we then take over).
    lock = _lock(folder, wait=15.0)
    if lock is None:
        return 0
    pid = os.getpid()
    hostctl.write_json(folder / hostctl.PID, {"pid": pid, "ticks": process_start_ticks(pid)})
    try:
        asyncio.run(Host(home, args.endpoint).run())
    finally:
        lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
