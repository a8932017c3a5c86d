"""The router against real worker processes: variants, workers, limits, errors, and
what it records (metrics, data capture), sync and asyncio alike."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sagebox.errors import (
    ModelInvocationError,
    PayloadTooLarge,
    RuntimeValidationError,
    ServiceUnavailable,
)
from sagebox.home import Home
from sagebox.serving import capture, metrics
from sagebox.serving.router import MAX_PAYLOAD, Invocation, Router
from sagebox.serving.routes import EndpointRoutes, VariantRoute, remove_routes, write_routes

# A model whose answer names the worker that gave it, and that fails or dawdles on demand.
INFERENCE = """
import os, time

def model_fn(model_dir):
    return os.environ["WORKER_TAG"]

def transform_fn(model, body, content_type, accept, context):
    text = body if isinstance(body, str) else body.decode()
    if text.startswith("fail"):
        raise ValueError("no score for loan " + text.split()[-1])
    if text.startswith("sleep"):
        time.sleep(float(text.split()[1]))
    if context.custom_attributes:
        context.set_response_header(
            0, "X-Amzn-SageMaker-Custom-Attributes", "seen=" + context.custom_attributes
        )
    return (model + ":" + text).encode(), "text/plain"
"""


class Worker:
    def __init__(self, folder: Path, tag: str) -> None:
        model = folder / f"model-{tag}"
        (model / "code").mkdir(parents=True)
        (model / "code" / "inference.py").write_text(textwrap.dedent(INFERENCE))
        self.socket = str(folder / f"{tag}.sock")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sagebox.serving.worker",
                "--model-dir",
                str(model),
                "--socket",
                self.socket,
            ],
            env={**os.environ, "WORKER_TAG": tag},
            stdout=subprocess.DEVNULL,
        )

    def wait_ready(self) -> Worker:
        deadline = time.monotonic() + 60
        while not os.path.exists(self.socket):
            assert self.process.poll() is None, "the worker exited"
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Worker]]:
    folder = tmp_path_factory.mktemp("workers")
    started = {tag: Worker(folder, tag) for tag in ("a1", "a2", "b1")}
    try:
        yield {tag: worker.wait_ready() for tag, worker in started.items()}
    finally:
        for worker in started.values():
            worker.stop()


@pytest.fixture
def home(home_path: Path) -> Home:
    return Home.open(home_path)


def _publish(
    home: Home,
    variants: list[VariantRoute],
    *,
    generation: int = 1,
    capture_config: dict[str, object] | None = None,
    name: str = "loans",
) -> EndpointRoutes:
    routes = EndpointRoutes(
        endpoint=name,
        arn=home.arn("sagemaker", f"endpoint/{name}"),
        generation=generation,
        config_name="loans-config",
        variants=tuple(variants),
        capture=capture_config,
    )
    write_routes(home.path, routes)
    return routes


def _variant(name: str, *workers: Worker, weight: float = 1.0) -> VariantRoute:
    return VariantRoute(name, weight, tuple(w.socket for w in workers))


def _call(router: Router, body: str, **kw: str) -> tuple[str, str]:
    answer = router.invoke(Invocation("loans", body.encode(), "text/csv", **kw))
    return answer.body.decode(), answer.variant


def test_answers_with_body_type_and_variant(home: Home, workers: dict[str, Worker]) -> None:
    _publish(home, [_variant("AllTraffic", workers["a1"])])
    answer = Router(home).invoke(
        Invocation("loans", b"1,2,3", "text/csv", accept="text/plain", custom_attributes="c=1")
    )
    assert answer.body == b"a1:1,2,3"
    assert answer.content_type == "text/plain"
    assert answer.variant == "AllTraffic"
    assert answer.custom_attributes == "seen=c=1"
    assert answer.to_api()["InvokedProductionVariant"] == "AllTraffic"


def test_an_endpoint_without_routes_is_not_found(home: Home, workers: dict[str, Worker]) -> None:
    router = Router(home)
    with pytest.raises(
        RuntimeValidationError, match=f"Endpoint loans of account {home.account_id}"
    ):
        _call(router, "1")
    _publish(home, [_variant("AllTraffic", workers["a1"])])
    assert _call(router, "1") == ("a1:1", "AllTraffic")
    remove_routes(home.path, "loans")  # DeleteEndpoint
    with pytest.raises(RuntimeValidationError, match="not found") as error:
        _call(router, "1")
    assert error.value.code == "ValidationError"


def test_workers_of_a_variant_take_turns(home: Home, workers: dict[str, Worker]) -> None:
    _publish(home, [_variant("AllTraffic", workers["a1"], workers["a2"])])
    router = Router(home)
    answers = [_call(router, "x")[0] for _ in range(6)]
    assert Counter(answers) == {"a1:x": 3, "a2:x": 3}
    assert answers[0] != answers[1]


def test_traffic_splits_by_weight_or_goes_to_the_target(
    home: Home, workers: dict[str, Worker]
) -> None:
    _publish(
        home,
        [
            _variant("Champion", workers["a1"], weight=3),
            _variant("Challenger", workers["b1"], weight=1),
            _variant("Dark", workers["a2"], weight=0),
        ],
    )
    router = Router(home)
    counts = Counter(_call(router, "x")[1] for _ in range(400))
    assert counts["Dark"] == 0
    assert 240 <= counts["Champion"] <= 360, counts  # 300 expected
    assert _call(router, "x", target_variant="Dark") == ("a2:x", "Dark")
    with pytest.raises(RuntimeValidationError) as error:
        _call(router, "x", target_variant="Nope")
    assert "Champion, Challenger, Dark" in error.value.message
    assert "'Nope'" in error.value.message


def test_an_unreachable_worker_is_skipped(
    home: Home, workers: dict[str, Worker], tmp_path: Path
) -> None:
    gone = VariantRoute("AllTraffic", 1.0, (str(tmp_path / "gone.sock"), workers["a1"].socket))
    _publish(home, [gone])
    router = Router(home)
    assert {_call(router, "x")[0] for _ in range(4)} == {"a1:x"}
    _publish(home, [VariantRoute("AllTraffic", 1.0, (str(tmp_path / "gone.sock"),))])
    with pytest.raises(ServiceUnavailable, match="No worker of variant AllTraffic"):
        _call(router, "x")


def test_the_models_failure_is_a_model_error(home: Home, workers: dict[str, Worker]) -> None:
    _publish(home, [_variant("AllTraffic", workers["a1"])])
    with pytest.raises(ModelInvocationError) as error:
        _call(Router(home), "fail 42")
    failure = error.value
    assert (failure.code, failure.http_status) == ("ModelError", 424)
    assert failure.original_status_code == 500
    assert "no score for loan 42" in (failure.original_message or "")
    assert failure.message.startswith("Received server error (500) from primary with message")
    assert failure.log_stream_arn == (
        f"arn:aws:logs:{home.region}:{home.account_id}:log-group:/aws/sagemaker/Endpoints/loans"
    )
    assert failure.members["OriginalStatusCode"] == 500


def test_a_model_that_does_not_answer_in_time(home: Home, workers: dict[str, Worker]) -> None:
    _publish(home, [_variant("AllTraffic", workers["b1"])])
    with pytest.raises(ModelInvocationError, match="timed out while waiting") as error:
        _call(Router(home, timeout=0.3), "sleep 2")
    assert error.value.original_status_code == 0


def test_payloads_over_6_mb_are_refused(home: Home, workers: dict[str, Worker]) -> None:
    _publish(home, [_variant("AllTraffic", workers["a1"])])
    router = Router(home)
    with pytest.raises(PayloadTooLarge) as error:
        router.invoke(Invocation("loans", b"1" * (MAX_PAYLOAD + 1), "text/csv"))
    assert error.value.http_status == 413 and "6291457 bytes" in error.value.message
    answer = router.invoke(Invocation("loans", b"1" * MAX_PAYLOAD, "text/csv"))
    assert len(answer.body) == MAX_PAYLOAD + 3  # "a1:" + the body: the limit itself passes


def test_asyncio_callers_share_the_logic(home: Home, workers: dict[str, Worker]) -> None:
    _publish(home, [_variant("AllTraffic", workers["a1"], workers["a2"])])
    router = Router(home)

    async def many() -> list[bytes]:
        calls = [
            router.ainvoke(Invocation("loans", f"{i}".encode(), "text/csv")) for i in range(20)
        ]
        return [answer.body for answer in await asyncio.gather(*calls)]

    bodies = asyncio.run(many())
    assert sorted(b.split(b":")[1] for b in bodies) == sorted(f"{i}".encode() for i in range(20))
    assert {b.split(b":")[0] for b in bodies} == {b"a1", b"a2"}

    async def failing() -> None:
        await router.ainvoke(Invocation("loans", b"fail 7", "text/csv"))

    with pytest.raises(ModelInvocationError, match="no score for loan 7"):
        asyncio.run(failing())  # a second event loop: the router's pools follow it


def test_an_update_drops_no_request(home: Home, workers: dict[str, Worker], tmp_path: Path) -> None:
    old = Worker(tmp_path, "old").wait_ready()
    try:
        _publish(home, [VariantRoute("AllTraffic", 1.0, (old.socket,))], generation=1)
        router = Router(home)
        errors: list[BaseException] = []
        answered: Counter[str] = Counter()
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                try:
                    answered[_call(router, "x")[0].split(":")[0]] += 1
                except BaseException as error:
                    errors.append(error)

        threads = [threading.Thread(target=client) for _ in range(3)]
        for thread in threads:
            thread.start()
        while answered["old"] < 20:
            time.sleep(0.01)
        # UpdateEndpoint as the host does it: new workers up, routes swapped, old stopped.
        _publish(home, [VariantRoute("AllTraffic", 1.0, (workers["a1"].socket,))], generation=2)
        old.stop()
        seen = answered["a1"]
        while answered["a1"] < seen + 20:
            time.sleep(0.01)
        stop.set()
        for thread in threads:
            thread.join()
        assert errors == []
        assert answered["old"] >= 20 and answered["a1"] >= 20
    finally:
        old.stop()


def test_invocations_are_measured(home: Home, workers: dict[str, Worker]) -> None:
    routes = _publish(home, [_variant("AllTraffic", workers["a1"])])
    home.metadata.create("endpoint", "loans", routes.arn, "InService", {})
    router = Router(home)
    for body in ("1", "2", "fail 3"):
        with contextlib.suppress(ModelInvocationError):
            _call(router, body)
    metrics.recorder(home).flush()
    points = {p.metric: p for p in metrics.query(home, routes.arn)}
    assert points["Invocations"].sum == 3
    assert points["Invocation5XXErrors"].sum == 1
    assert points["ModelLatency"].sample_count == 3
    assert points["OverheadLatency"].minimum >= 0
    assert points["ConcurrentRequestsPerModel"].maximum >= 1


def test_sampled_invocations_are_captured(home: Home, workers: dict[str, Worker]) -> None:
    home.objects.create_bucket("monitoring")
    config = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://monitoring/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv", "text/plain"]},
    }
    _publish(home, [_variant("AllTraffic", workers["a1"])], capture_config=config)
    router = Router(home)
    router.invoke(Invocation("loans", b"5,6", "text/csv", inference_id="applicant-9"))
    with pytest.raises(ModelInvocationError):
        _call(router, "fail 1")  # failed invocations are not captured
    capture.writer(home).flush()
    listing = home.objects.list_objects("monitoring", prefix="capture/loans/AllTraffic/")
    (info,) = listing.objects
    (record,) = [
        json.loads(line) for line in home.objects.get_object("monitoring", info.key).splitlines()
    ]
    assert record["captureData"]["endpointInput"]["data"] == "5,6"
    assert record["captureData"]["endpointOutput"] == {
        "observedContentType": "text/plain",
        "mode": "OUTPUT",
        "data": "a1:5,6",
        "encoding": "CSV",
    }
    assert record["eventMetadata"]["inferenceId"] == "applicant-9"
