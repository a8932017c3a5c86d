"""A serverless variant: a gateway in the endpoint's host, and workers started on demand.

The gateway listens on one Unix socket and speaks HTTP/1.1 to the router as a worker
does (the workers' own server, :mod:`sagebox.serving.wire`, with the gateway as its app),
and forwards to its workers with the router's client (:mod:`sagebox.serving.client`).
It holds ``MaxConcurrency`` slots: a request beyond them is answered at once with 429
and ``X-Amzn-ErrorType: ThrottlingException`` (never queued). Each worker serves one
request at a time. A request that finds no idle worker cold-starts one (fork,
load the model, answer ``/ping``), measured as ``ModelSetupTime``.
``ProvisionedConcurrency`` workers start with the endpoint and never stop; the others
stop after an idle time: 60 s by default, or ``SAGEBOX_SERVERLESS_IDLE_SECONDS`` in the
model's ``Environment``. ``MemorySizeInMB`` is each worker's memory limit (RLIMIT_AS).

When the variant is created the gateway starts one worker to prove that the model
loads (so a broken model fails CreateEndpoint as on AWS), then stops it unless it is
provisioned: an endpoint without provisioned concurrency has no worker until its first
request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sagebox.serving import wire
from sagebox.serving.client import AsyncWorkerPool, listen_unix
from sagebox.serving.deployment import ServerlessSpec, VariantSpec
from sagebox.serving.errors import WorkerFailed, WorkerTimeout, WorkerUnavailable
from sagebox.serving.router import MODEL_TIMEOUT
from sagebox.serving.routes import VariantRoute
from sagebox.serving.workers import Launcher, StartError, WorkerProcess, WorkerSetup

__all__ = ["IDLE_SECONDS", "IDLE_VARIABLE", "ServerlessVariant"]

IDLE_SECONDS = 60.0
IDLE_VARIABLE = "SAGEBOX_SERVERLESS_IDLE_SECONDS"
_PASS_HEADERS = ("content-type", "x-amzn-sagemaker-custom-attributes", "x-sagebox-model-latency-us")


def idle_seconds(environment: dict[str, str]) -> float:
    raw = environment.get(IDLE_VARIABLE)
    if raw is None:
        return IDLE_SECONDS
    try:
        return max(0.0, float(raw))
    except ValueError:
        return IDLE_SECONDS


@dataclass(eq=False)
class _Worker:
    process: WorkerProcess
    connection: AsyncWorkerPool  # one connection: a worker serves one request at a time
    provisioned: bool = False
    busy: bool = False
    last_used: float = 0.0


class ServerlessVariant:
    def __init__(
        self,
        spec: VariantSpec,
        setup: WorkerSetup,
        launcher: Launcher,
        gateway_socket: str,
        sockets: Callable[[], str],
        log: Path,
        observe: Callable[[str, float], None],
        note: Callable[[str], None],
    ) -> None:
        assert spec.serverless is not None
        self.spec = spec
        self.config: ServerlessSpec = spec.serverless
        self.setup = replace(setup, memory_mb=self.config.memory_mb)
        self.launcher = launcher
        self.gateway_socket = gateway_socket
        self.sockets = sockets
        self.log = log
        self.observe = observe  # (metric, value): ModelSetupTime in microseconds
        self.note = note
        self.idle_after = idle_seconds(setup.environment)
        self.workers: list[_Worker] = []
        self.in_flight = 0
        self._server: wire.Server | None = None
        self._closing = False
        self._reaper: asyncio.Task[None] | None = None
        self._starting = 0  # provisioned workers being (re)started
        self._provisioning: asyncio.Task[None] | None = None
        self._provision_failed = 0.0  # when provisioning last failed (retry after a pause)

    # ---- life ----------------------------------------------------------------------------
    async def start(self) -> None:
        provisioned = self.config.provisioned_concurrency > 0
        probe = await self._cold_start(provisioned=provisioned, measure=provisioned)
        await self._provision()
        if not probe.provisioned:
            await self._retire(probe)
        self._server = await wire.start(self._app, listen_unix(self.gateway_socket))
        self._reaper = asyncio.ensure_future(self._reap())

    def route(self) -> VariantRoute:
        return VariantRoute(
            self.spec.name,
            self.spec.weight,
            (self.gateway_socket,),
            serverless=True,
            max_concurrency=self.config.max_concurrency,
        )

    async def apply(self, spec: VariantSpec) -> None:
        assert spec.serverless is not None
        self.spec = replace(self.spec, weight=spec.weight, serverless=spec.serverless)
        self.config = spec.serverless
        await self._provision()

    async def check(self) -> None:
        for worker in list(self.workers):
            if worker.busy or worker.process.alive():
                continue
            self.workers.remove(worker)
            worker.connection.close()
            self.note(
                f"sagebox: a worker (pid {worker.process.pid}) of serverless variant "
                f"{self.spec.name} exited ({worker.process.failure()})"
            )
        busy = self._provisioning is not None and not self._provisioning.done()
        recent = time.monotonic() - self._provision_failed < 5.0
        if not self._closing and not busy and not recent and self._short():
            self._provisioning = asyncio.ensure_future(self._reprovision())

    def _short(self) -> bool:
        flagged = sum(w.provisioned for w in self.workers)
        return flagged + self._starting < self.config.provisioned_concurrency

    async def _reprovision(self) -> None:
        try:
            await self._provision()
        except StartError as exc:
            self._provision_failed = time.monotonic()
            self.note(f"sagebox: a provisioned worker of {self.spec.name} failed to start: {exc}")

    async def stop(self, timeout: float) -> None:
        """Stop taking requests, let those in flight finish (up to ``timeout``), stop."""
        self._closing = True
        for task in (self._reaper, self._provisioning):
            if task is not None:
                task.cancel()
        if self._server is not None:
            await self._server.close(drain_seconds=timeout)
        await asyncio.gather(*(self._retire(w, timeout=2) for w in list(self.workers)))
        with contextlib.suppress(OSError):
            os.unlink(self.gateway_socket)

    # ---- workers -------------------------------------------------------------------------
    async def _cold_start(self, *, provisioned: bool = False, measure: bool = True) -> _Worker:
        process = WorkerProcess(self.sockets(), self.log)
        started = time.perf_counter()
        await self.launcher.start(process, self.setup, self.spec.startup_timeout)
        if measure:
            self.observe("ModelSetupTime", (time.perf_counter() - started) * 1e6)
        worker = _Worker(process, AsyncWorkerPool(process.socket, size=1), provisioned)
        worker.last_used = time.monotonic()
        self.workers.append(worker)
        return worker

    async def _provision(self) -> None:
        """Keep ProvisionedConcurrency workers flagged as provisioned and running."""
        wanted = self.config.provisioned_concurrency
        flagged = [w for w in self.workers if w.provisioned]
        for worker in flagged[wanted:]:
            worker.provisioned = False  # now on demand: it stops when idle
        missing = wanted - len(flagged) - self._starting
        for worker in self.workers:  # on-demand workers become provisioned first
            if missing <= 0:
                break
            if not worker.provisioned:
                worker.provisioned = True
                missing -= 1
        if missing <= 0:
            return
        self._starting += missing
        try:
            results = await asyncio.gather(
                *(self._cold_start(provisioned=True) for _ in range(missing)),
                return_exceptions=True,
            )
        finally:
            self._starting -= missing
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            error = errors[0]
            raise error if isinstance(error, StartError) else StartError(repr(error))

    async def _retire(self, worker: _Worker, timeout: float = 5) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
        worker.connection.close()
        await worker.process.stop(timeout)

    async def _reap(self) -> None:
        """Stop on-demand workers idle for longer than the idle time."""
        while True:
            await asyncio.sleep(min(1.0, max(0.05, self.idle_after / 4)))
            now = time.monotonic()
            for worker in list(self.workers):
                if worker.provisioned or worker.busy:
                    continue
                if now - worker.last_used >= self.idle_after:
                    await self._retire(worker)

    def _idle_worker(self) -> _Worker | None:
        idle = [w for w in self.workers if not w.busy and w.process.alive()]
        if not idle:
            return None
        # The most recently used first, so the others reach their idle time and stop.
        return max(idle, key=lambda w: (w.provisioned, w.last_used))

    # ---- the gateway ---------------------------------------------------------------------
    async def _app(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        """The gateway as the router sees it: ``/ping`` and ``/invocations``."""
        message = await receive()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status, body, answer_headers = await self._answer(
            scope["method"], scope["path"], headers, message.get("body", b"")
        )
        out = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer_headers.items()
        ]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": body})

    async def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        if method == "GET" and path == "/ping":
            return 200, b"", {}
        if method != "POST" or path != "/invocations":
            return 404, b"Only GET /ping and POST /invocations are served.", {}
        if self.in_flight >= self.config.max_concurrency:
            message = (
                f"Variant {self.spec.name} is serving its MaxConcurrency of "
                f"{self.config.max_concurrency} concurrent invocations. Retry with backoff, "
                "or raise ServerlessConfig.MaxConcurrency."
            )
            headers = {"X-Amzn-ErrorType": "ThrottlingException", "Content-Type": "text/plain"}
            return 429, message.encode(), headers
        self.in_flight += 1
        try:
            return await self._forward(headers, body)
        finally:
            self.in_flight -= 1

    async def _forward(
        self, request_headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]]:
        worker = self._idle_worker()
        if worker is not None:
            worker.busy = True
        else:
            try:
                worker = await self._cold_start()
            except StartError as exc:
                message = f"The serverless worker could not start: {exc}"
                return 500, message.encode(), {"Content-Type": "text/plain"}
            worker.busy = True
        headers = {
            name: request_headers[name.lower()]
            for name in ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")
            if name.lower() in request_headers
        }
        try:
            answer = await worker.connection.request(
                "POST", "/invocations", body, headers, MODEL_TIMEOUT
            )
        except WorkerTimeout:
            await self._retire(worker, timeout=1)  # it may still be busy: start afresh
            message = f"The model did not answer within {MODEL_TIMEOUT:g} seconds."
            return 500, message.encode(), {}
        except (WorkerUnavailable, WorkerFailed) as exc:
            reason = worker.process.failure() if not worker.process.alive() else str(exc)
            message = f"The model's worker did not answer: {reason}"
            return 500, message.encode(), {"Content-Type": "text/plain"}
        finally:
            worker.busy = False
            worker.last_used = time.monotonic()
        passed = {k: v for k, v in answer.headers.items() if k in _PASS_HEADERS}
        return answer.status, answer.body, passed
