"""Serverless endpoints: cold starts, MaxConcurrency, provisioned concurrency, scale to zero,
the memory limit, and the AWS guide's example configuration.

The model answers with its worker's pid (``PID_MODEL``), so a new pid is a cold start: a
worker that was started (forked, model loaded) for that request.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from sagebox.errors import ModelInvocationError, SageboxError, ThrottlingError
from sagebox.session import Session
from tests.serving.hosting import (
    code_model,
    config,
    deploy,
    invoke,
    serverless,
    wait_for,
    worker_sockets,
    xgboost_model,
)


def _pid(answer: dict[str, Any]) -> int:
    return int(answer["Body"].decode().rpartition(":")[2])


def _concurrently(session: Session, endpoint: str, bodies: list[bytes]) -> list[Any]:
    """Invoke with every body at once; each call's answer or error, in the bodies' order."""
    results: list[Any] = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def call(index: int) -> None:
        start.wait()
        try:
            results[index] = invoke(session, endpoint, bodies[index], ContentType="text/plain")
        except SageboxError as error:
            results[index] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_no_worker_until_the_first_request_then_warm(endpoints: Session) -> None:
    session = endpoints
    code_model(session, "pids")
    config(session, "on-demand", serverless("AllTraffic", "pids", memory=1024, maximum=2))
    described = deploy(session, "cold", "on-demand")
    variant = described["ProductionVariants"][0]
    assert variant["CurrentServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 2}
    assert "CurrentInstanceCount" not in variant
    assert worker_sockets(session, "cold") == []  # the load probe's worker stopped again

    first = _pid(invoke(session, "cold", b"hello", ContentType="text/plain"))
    assert len(worker_sockets(session, "cold")) == 1  # the cold start's worker stays warm
    again = [_pid(invoke(session, "cold", b"x", ContentType="text/plain")) for _ in range(5)]
    assert again == [first] * 5


def test_max_concurrency_throttles_at_once_and_never_queues(endpoints: Session) -> None:
    session = endpoints
    code_model(session, "pids")
    config(session, "two", serverless("AllTraffic", "pids", maximum=2, provisioned=2))
    deploy(session, "throttled", "two")

    finished: list[str] = []
    lock = threading.Lock()

    def note(what: str) -> None:
        with lock:
            finished.append(what)

    results: list[Any] = [None] * 6
    go = threading.Barrier(6)

    def call(index: int) -> None:
        go.wait()
        # the first two are admitted first, by a head start the others cannot overtake
        time.sleep(0 if index < 2 else 0.5)
        try:
            results[index] = invoke(session, "throttled", b"sleep 3", ContentType="text/plain")
            note("answered")
        except SageboxError as error:
            results[index] = error
            note("throttled")

    threads = [threading.Thread(target=call, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    answered = [r for r in results if isinstance(r, dict)]
    throttled = [r for r in results if isinstance(r, ThrottlingError)]
    assert len(answered) == 2 and len(throttled) == 4, results
    assert "MaxConcurrency of 2" in str(throttled[0])
    # the refusals came back while both admitted requests were still sleeping: no queue
    assert finished[:4] == ["throttled"] * 4
    # and the endpoint serves again once a slot is free
    assert invoke(session, "throttled", b"again", ContentType="text/plain")["Body"]


def test_provisioned_workers_are_warm_and_requests_within_them_never_cold_start(
    endpoints: Session,
) -> None:
    session = endpoints
    code_model(session, "pids")
    config(session, "warm", serverless("AllTraffic", "pids", maximum=4, provisioned=2))
    deploy(session, "provisioned", "warm")
    assert len(worker_sockets(session, "provisioned")) == 2  # up before the first request

    results = _concurrently(session, "provisioned", [b"sleep 1", b"sleep 1"])
    pids = {_pid(r) for r in results}
    assert len(pids) == 2
    for _ in range(3):
        results = _concurrently(session, "provisioned", [b"sleep 0.2", b"sleep 0.2"])
        assert {_pid(r) for r in results} == pids  # the same two warm workers each time
    assert len(worker_sockets(session, "provisioned")) == 2

    # beyond the provisioned two, a third concurrent request cold-starts a worker
    results = _concurrently(session, "provisioned", [b"sleep 1"] * 3)
    assert len({_pid(r) for r in results} - pids) == 1


def test_idle_workers_scale_to_zero_after_the_idle_time(endpoints: Session) -> None:
    session = endpoints
    code_model(session, "pids", SAGEBOX_SERVERLESS_IDLE_SECONDS="1")
    config(session, "idle", serverless("AllTraffic", "pids"))
    deploy(session, "scales", "idle")
    first = _pid(invoke(session, "scales", b"x", ContentType="text/plain"))
    assert len(worker_sockets(session, "scales")) == 1
    wait_for(lambda: worker_sockets(session, "scales") == [], message="no scale to zero")
    second = _pid(invoke(session, "scales", b"x", ContentType="text/plain"))
    assert second != first  # a fresh cold start


def test_provisioned_workers_never_scale_to_zero(endpoints: Session) -> None:
    session = endpoints
    code_model(session, "pids", SAGEBOX_SERVERLESS_IDLE_SECONDS="0.5")
    config(session, "kept", serverless("AllTraffic", "pids", maximum=2, provisioned=1))
    deploy(session, "keeps", "kept")
    first = _pid(invoke(session, "keeps", b"x", ContentType="text/plain"))
    time.sleep(2)  # four idle times
    assert len(worker_sockets(session, "keeps")) == 1
    assert _pid(invoke(session, "keeps", b"x", ContentType="text/plain")) == first


def test_memory_size_is_each_workers_memory_limit(endpoints: Session) -> None:
    session = endpoints
    code_model(session, "pids")
    config(session, "small", serverless("AllTraffic", "pids", memory=1024, maximum=1))
    deploy(session, "limited", "small")
    assert invoke(session, "limited", b"allocate 64", ContentType="text/plain")["Body"] == (
        str(64 * 1024 * 1024).encode()
    )
    with pytest.raises(ModelInvocationError) as raised:
        invoke(session, "limited", b"allocate 2048", ContentType="text/plain")
    assert raised.value.original_status_code == 500
    assert "MemoryError" in str(raised.value)
    # the worker survived its model's failed allocation and serves on
    assert invoke(session, "limited", b"after", ContentType="text/plain")["Body"]

    # the same request fits in a 3072 MB variant
    config(session, "large", serverless("AllTraffic", "pids", memory=3072, maximum=1))
    session.control.update_endpoint(EndpointName="limited", EndpointConfigName="large")
    wait_for(
        lambda: (
            session.control.describe_endpoint(EndpointName="limited")["EndpointStatus"]
            == "InService"
        ),
        timeout=60,
    )
    answer = invoke(session, "limited", b"allocate 2048", ContentType="text/plain")
    assert answer["Body"] == str(2048 * 1024 * 1024).encode()


def test_the_guides_example_configuration(endpoints: Session) -> None:
    """MemorySizeInMB 4096, MaxConcurrency 20, ProvisionedConcurrency 5: five workers are
    warm before any request, twenty requests are served at once (the five warm ones and
    fifteen cold starts), and a twenty-first at that moment is throttled."""
    session = endpoints
    code_model(session, "pids")
    config(
        session, "guide", serverless("AllTraffic", "pids", memory=4096, maximum=20, provisioned=5)
    )
    described = deploy(session, "guide", "guide")
    assert described["ProductionVariants"][0]["CurrentServerlessConfig"] == {
        "MemorySizeInMB": 4096,
        "MaxConcurrency": 20,
        "ProvisionedConcurrency": 5,
    }
    warm = len(worker_sockets(session, "guide"))
    assert warm == 5

    results = _concurrently(session, "guide", [b"sleep 4"] * 20 + [b"sleep 4"])
    answered = [r for r in results if isinstance(r, dict)]
    throttled = [r for r in results if isinstance(r, ThrottlingError)]
    assert len(answered) == 20 and len(throttled) == 1, results
    assert len({_pid(r) for r in answered}) == 20  # each on its own worker


def test_a_serverless_variant_serves_a_built_in_model(endpoints: Session) -> None:
    session = endpoints
    xgboost_model(session, "scores")
    config(session, "xgb", serverless("AllTraffic", "scores", memory=2048, maximum=5))
    deploy(session, "xgb", "xgb")
    answer = invoke(session, "xgb", b"0.5,0.1,0.2,0.3\n-2,-1,0,0\n")
    scores = [float(line) for line in answer["Body"].decode().split()]
    assert len(scores) == 2 and scores[0] > scores[1]
    assert answer["InvokedProductionVariant"] == "AllTraffic"
