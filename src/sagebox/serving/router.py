"""The caller side of InvokeEndpoint: pick a variant and a worker, forward, answer.

:class:`Router` serves both ways in: :meth:`Router.invoke` (blocking; the embedded
control plane's ``InvokeEndpoint``) and :meth:`Router.ainvoke` (asyncio; the HTTP
server's ``POST /endpoints/{name}/invocations``). Every decision lives in shared
methods (``_plan``, ``_answer``, ``_failure``); the two differ only in how they wait
for the worker.

For each request: the 6 MB payload limit; the endpoint's routes (one ``stat`` when
unchanged); the variant, by ``TargetVariant`` or weighted at random; a worker of the
variant, round-robin. A worker that cannot be reached (gone in an update, not started
yet) is skipped for the next one; when none can be reached the routes are read again,
once, so a request that raced an ``UpdateEndpoint`` lands on the new workers. The
worker's answer becomes the runtime's: 200 -> ``Body``/``ContentType``; any other
status -> ``ModelError`` (HTTP 424, ``OriginalStatusCode``, ``OriginalMessage``,
``LogStreamArn``); no answer within the timeout (60 s, as SageMaker) -> ``ModelError``
with status 0; a serverless gateway's 429 -> ``ThrottlingException``. Metrics and data
capture are recorded in memory and written in the background.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagebox.errors import (
    InternalError,
    ModelInvocationError,
    ModelNotReady,
    PayloadTooLarge,
    RuntimeValidationError,
    SageboxError,
    ServiceUnavailable,
    ThrottlingError,
)
from sagebox.serving import capture as capture_module
from sagebox.serving import metrics as metrics_module
from sagebox.serving.errors import WorkerFailed, WorkerTimeout, WorkerUnavailable
from sagebox.serving.routes import EndpointRoutes, RoutesCache, VariantRoute

if TYPE_CHECKING:
    from sagebox.home import Home
    from sagebox.serving.client import AsyncWorkerPool, SyncWorkerClient, WorkerResponse

__all__ = [
    "MAX_PAYLOAD",
    "MODEL_TIMEOUT",
    "Answer",
    "Invocation",
    "Router",
    "check_payload",
    "router_for",
]

MAX_PAYLOAD = 6 * 1024 * 1024  # InvokeEndpoint's Body limit: 6291456 bytes
MODEL_TIMEOUT = 60.0  # seconds a container has to answer, as on SageMaker
POOL_SIZE = 64  # keep-alive connections per worker and event loop
CONTAINER = "primary"  # SageMaker's name for a single-container model in its messages
_PLATFORM_ERRORS: dict[str, Callable[[str], SageboxError]] = {
    "ThrottlingException": ThrottlingError,
    "ModelNotReadyException": ModelNotReady,
    "ServiceUnavailable": ServiceUnavailable,
    "InternalFailure": InternalError,
}


@dataclass(frozen=True, slots=True)
class Invocation:
    """One InvokeEndpoint request, from its validated API shape."""

    endpoint: str
    body: bytes
    content_type: str | None = None
    accept: str | None = None
    custom_attributes: str | None = None
    target_variant: str | None = None
    inference_id: str | None = None

    @classmethod
    def from_api(cls, request: Mapping[str, Any], *, body: bytes | None = None) -> Invocation:
        """From the validated input; ``body``, when given, instead of its ``Body``."""
        if body is None:
            body = request.get("Body", b"")
        return cls(
            endpoint=str(request["EndpointName"]),
            body=body.encode() if isinstance(body, str) else bytes(body),
            content_type=request.get("ContentType"),
            accept=request.get("Accept"),
            custom_attributes=request.get("CustomAttributes"),
            target_variant=request.get("TargetVariant"),
            inference_id=request.get("InferenceId"),
        )


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    content_type: str
    variant: str
    custom_attributes: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The ``InvokeEndpointOutput`` shape."""
        shaped: dict[str, Any] = {
            "Body": self.body,
            "ContentType": self.content_type,
            "InvokedProductionVariant": self.variant,
        }
        if self.custom_attributes is not None:
            shaped["CustomAttributes"] = self.custom_attributes
        return shaped


@dataclass(frozen=True, slots=True)
class _Plan:
    routes: EndpointRoutes
    variant: VariantRoute
    sockets: tuple[str, ...]  # in the order to try them
    started: float  # perf_counter when the request arrived


@dataclass
class _Weights:
    variants: tuple[VariantRoute, ...]
    cumulative: list[float]


def check_payload(body: bytes) -> None:
    """InvokeEndpoint's 6 MB limit on the request body: ``PayloadTooLarge`` (HTTP 413)."""
    if len(body) > MAX_PAYLOAD:
        raise PayloadTooLarge(
            f"The request body of {len(body)} bytes is over InvokeEndpoint's limit of "
            f"{MAX_PAYLOAD} bytes (6 MB). Send fewer records per request, or score large "
            "inputs with a batch transform job (CreateTransformJob)."
        )


class Router:
    """Forwards invocations to endpoint workers. Thread-safe; one per home and process
    (:func:`router_for`), holding keep-alive connections to the workers."""

    def __init__(self, home: Home, *, timeout: float = MODEL_TIMEOUT) -> None:
        self.home = home
        self.timeout = timeout
        self._routes = RoutesCache(home.path)
        self._metrics = metrics_module.recorder(home)
        self._capture = capture_module.writer(home)
        # per endpoint (and variant): replaced as the routes change, never accumulated
        self._turns: dict[tuple[str, str], itertools.count[int]] = {}
        self._weights: dict[str, _Weights] = {}
        self._captures: dict[str, tuple[object, capture_module.CaptureConfig | None]] = {}
        self._lock = threading.Lock()
        self._sync_clients: dict[str, SyncWorkerClient] = {}
        self._async_clients: dict[str, AsyncWorkerPool] = {}
        self._async_loop: object = None

    # ---- the two ways in ----------------------------------------------------------------
    def invoke(self, request: Invocation, *, started: float | None = None) -> Answer:
        """Invoke the endpoint and wait for its answer (blocking)."""
        plan = self._plan(request, time.perf_counter() if started is None else started)
        for _ in range(2):
            for socket in plan.sockets:
                concurrency = self._begin(plan)
                sent = time.perf_counter()
                try:
                    reply = self._sync_client(socket).request(
                        "POST", "/invocations", request.body, _headers(request), self.timeout
                    )
                except WorkerUnavailable:
                    self._abandon(plan)
                    continue
                except WorkerTimeout:
                    raise self._failure(plan, request, sent, concurrency, timed_out=True) from None
                except WorkerFailed:
                    raise self._failure(plan, request, sent, concurrency, timed_out=False) from None
                return self._answer(plan, request, reply, sent, concurrency)
            # every worker refused: an update may have swapped the routes (with unchanged
            # routes, the same workers get one more try)
            plan = self._plan(request, plan.started)
        raise self._unavailable(plan)

    async def ainvoke(self, request: Invocation, *, started: float | None = None) -> Answer:
        """Invoke the endpoint without blocking the event loop."""
        plan = self._plan(request, time.perf_counter() if started is None else started)
        for _ in range(2):
            for socket in plan.sockets:
                concurrency = self._begin(plan)
                sent = time.perf_counter()
                try:
                    reply = await self._async_client(socket).request(
                        "POST", "/invocations", request.body, _headers(request), self.timeout
                    )
                except WorkerUnavailable:
                    self._abandon(plan)
                    continue
                except WorkerTimeout:
                    raise self._failure(plan, request, sent, concurrency, timed_out=True) from None
                except WorkerFailed:
                    raise self._failure(plan, request, sent, concurrency, timed_out=False) from None
                return self._answer(plan, request, reply, sent, concurrency)
            # every worker refused: an update may have swapped the routes (with unchanged
            # routes, the same workers get one more try)
            plan = self._plan(request, plan.started)
        raise self._unavailable(plan)

    # ---- shared decisions -----------------------------------------------------------------
    def _plan(self, request: Invocation, started: float) -> _Plan:
        check_payload(request.body)
        routes = self._routes.get(request.endpoint)
        if routes is None:
            raise RuntimeValidationError(
                f"Endpoint {request.endpoint} of account {self.home.account_id} not found. "
                "An endpoint takes requests once DescribeEndpoint reports it InService; "
                "check the name and the endpoint's status."
            )
        variant = self._variant(routes, request.target_variant)
        sockets = variant.sockets
        if len(sockets) > 1:
            key = (routes.endpoint, variant.name)
            turn = self._turns.get(key)
            if turn is None:
                with self._lock:
                    turn = self._turns.setdefault(key, itertools.count())
            first = next(turn) % len(sockets)
            sockets = sockets[first:] + sockets[:first]
        return _Plan(routes, variant, sockets, started)

    def _variant(self, routes: EndpointRoutes, target: str | None) -> VariantRoute:
        if target is not None:
            chosen = routes.variant(target)
            if chosen is None:
                names = ", ".join(v.name for v in routes.variants)
                raise RuntimeValidationError(
                    f"Endpoint {routes.endpoint} has no production variant {target!r}; its "
                    f"variants are: {names}. Set TargetVariant to one of them, or leave it "
                    "out to split traffic by the variants' weights."
                )
            return chosen
        variants = routes.variants
        if len(variants) == 1:
            return variants[0]
        if not variants:
            raise ServiceUnavailable(
                f"Endpoint {routes.endpoint} has no production variant serving now. "
                "Try again shortly; DescribeEndpoint shows its status."
            )
        weights = self._weights.get(routes.endpoint)
        if weights is None or weights.variants is not variants:
            cumulative = list(itertools.accumulate(max(0.0, v.weight) for v in variants))
            weights = _Weights(variants, cumulative)
            self._weights[routes.endpoint] = weights
        total = weights.cumulative[-1]
        if total <= 0:  # every weight 0: AWS still answers, from any variant
            return random.choice(variants)
        index = bisect.bisect_right(weights.cumulative, random.random() * total)
        return variants[min(index, len(variants) - 1)]

    def _begin(self, plan: _Plan) -> int:
        return self._metrics.begin(plan.routes.endpoint, plan.routes.arn, plan.variant.name)

    def _abandon(self, plan: _Plan) -> None:
        """An attempt that reached no worker is no invocation in the metrics."""
        self._metrics.abandon(plan.routes.arn, plan.variant.name)

    def _answer(
        self, plan: _Plan, request: Invocation, reply: WorkerResponse, sent: float, concurrency: int
    ) -> Answer:
        done = time.perf_counter()
        status, headers = reply.status, reply.headers
        model_us = (done - sent) * 1e6
        if plan.variant.serverless:  # a cold start is overhead, not the model's latency
            reported = headers.get("x-sagebox-model-latency-us")
            if reported is not None and reported.isdigit():
                model_us = min(model_us, float(reported))
        self._record(plan, status, model_us, done, concurrency)
        platform = headers.get("x-amzn-errortype")
        if platform is not None or (status == 429 and plan.variant.serverless):
            raise self._platform_error(plan, platform or "ThrottlingException", reply.body)
        if status != 200:
            raise self._model_error(plan, status, reply.body.decode("utf-8", "replace"))
        content_type = headers.get("content-type") or request.accept or "application/octet-stream"
        answer = Answer(
            reply.body,
            content_type,
            plan.variant.name,
            headers.get("x-amzn-sagemaker-custom-attributes"),
        )
        self._offer_capture(plan, request, reply.body, content_type)
        return answer

    def _failure(
        self, plan: _Plan, request: Invocation, sent: float, concurrency: int, *, timed_out: bool
    ) -> ModelInvocationError:
        done = time.perf_counter()
        self._record(plan, 0, (done - sent) * 1e6, done, concurrency)
        if timed_out:
            message = (
                f"Your invocation timed out while waiting for a response from container "
                f"{CONTAINER}. Review the latency metrics for each container in Amazon "
                "CloudWatch, resolve the issue, and try again."
            )
        else:
            message = (
                f"The worker of container {CONTAINER} closed the connection without an "
                "answer: the model's process may have crashed or run out of memory. Its "
                "log has the details."
            )
        return self._model_error(plan, 0, message)

    def _record(
        self, plan: _Plan, status: int, model_us: float, done: float, concurrency: int
    ) -> None:
        self._metrics.invocation(
            plan.routes.arn,
            plan.variant.name,
            status=status,
            model_us=model_us,
            overhead_us=max(0.0, (done - plan.started) * 1e6 - model_us),
            concurrency=concurrency,
            max_concurrency=plan.variant.max_concurrency if plan.variant.serverless else None,
        )

    def _model_error(self, plan: _Plan, status: int, original: str) -> ModelInvocationError:
        endpoint = plan.routes.endpoint
        group = f"/aws/sagemaker/Endpoints/{endpoint}"
        kind = "client" if 400 <= status < 500 else "server"
        return ModelInvocationError(
            f'Received {kind} error ({status}) from {CONTAINER} with message "{original}". '
            f"See the endpoint's log group {group} in account {self.home.account_id} for "
            "more information.",
            original_status_code=status,
            original_message=original,
            log_stream_arn=f"arn:aws:logs:{self.home.region}:{self.home.account_id}:"
            f"log-group:{group}",
        )

    def _platform_error(self, plan: _Plan, code: str, body: bytes) -> SageboxError:
        text = body.decode("utf-8", "replace").strip()
        if code == "ThrottlingException" and not text:
            text = (
                f"Variant {plan.variant.name} of endpoint {plan.routes.endpoint} is serving "
                f"its MaxConcurrency of {plan.variant.max_concurrency} invocations. Retry with "
                "backoff, or raise ServerlessConfig.MaxConcurrency."
            )
        return _PLATFORM_ERRORS.get(code, InternalError)(text or f"{code} from the endpoint.")

    def _unavailable(self, plan: _Plan) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"No worker of variant {plan.variant.name} of endpoint {plan.routes.endpoint} "
            "accepted the request: they are starting, stopping or gone. Try again shortly; "
            "DescribeEndpoint shows the endpoint's status and any FailureReason."
        )

    def _offer_capture(
        self, plan: _Plan, request: Invocation, response: bytes | None, response_type: str | None
    ) -> None:
        config = self._capture_config(plan.routes)
        if config is None:
            return
        self._capture.offer(
            config,
            plan.routes.endpoint,
            plan.variant.name,
            request=request.body,
            request_type=request.content_type or "application/octet-stream",
            response=response,
            response_type=response_type,
            inference_id=request.inference_id,
            custom_attributes=request.custom_attributes,
        )

    def _capture_config(self, routes: EndpointRoutes) -> capture_module.CaptureConfig | None:
        if not routes.capture:
            return None
        cached = self._captures.get(routes.endpoint)
        if cached is not None and cached[0] is routes.capture:
            return cached[1]
        config = capture_module.CaptureConfig.from_api(routes.capture)
        self._captures[routes.endpoint] = (routes.capture, config)
        return config

    # ---- connections -------------------------------------------------------------------
    def _sync_client(self, socket: str) -> SyncWorkerClient:
        client = self._sync_clients.get(socket)
        if client is None:
            from sagebox.serving.client import SyncWorkerClient

            with self._lock:
                client = self._sync_clients.setdefault(socket, SyncWorkerClient(socket))
        return client

    def _async_client(self, socket: str) -> AsyncWorkerPool:
        """The connection pool of ``socket`` in the running event loop (pools belong to
        one loop; the server has one, tests may run several in turn)."""
        loop = asyncio.get_running_loop()
        if loop is not self._async_loop:
            self._async_loop, self._async_clients = loop, {}
        client = self._async_clients.get(socket)
        if client is None:
            from sagebox.serving.client import AsyncWorkerPool

            client = self._async_clients[socket] = AsyncWorkerPool(socket, POOL_SIZE)
        return client


def _headers(request: Invocation) -> dict[str, str]:
    headers = {}
    if request.content_type is not None:
        headers["content-type"] = request.content_type
    if request.accept is not None:
        headers["accept"] = request.accept
    if request.custom_attributes is not None:
        headers["x-amzn-sagemaker-custom-attributes"] = request.custom_attributes
    return headers


_routers: dict[Path, Router] = {}
_routers_lock = threading.Lock()


def router_for(home: Home) -> Router:
    """This process's router for ``home``."""
    found = _routers.get(home.path)
    if found is None:
        with _routers_lock:
            found = _routers.setdefault(home.path, Router(home))
    return found
