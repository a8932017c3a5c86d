"""Real-time endpoints served by their host process: lifecycle, updates, weights, restarts."""

from __future__ import annotations

import json
import os
import signal
import threading
from typing import Any

import pytest

from sagebox.errors import SageboxError, ValidationError
from sagebox.session import Session
from tests.serving.hosting import (
    BROKEN_MODEL,
    code_model,
    config,
    deploy,
    host_pid,
    invoke,
    realtime,
    routes,
    wait_for,
    wait_gone,
    wait_status,
    xgboost_model,
)


def _score(answer: dict[str, Any]) -> float:
    return float(answer["Body"].decode().strip().splitlines()[0])


def test_an_endpoint_serves_real_predictions_through_its_lifecycle(endpoints: Session) -> None:
    session = endpoints
    xgboost_model(session, "model-a")
    config(session, "config-a", realtime("AllTraffic", "model-a"))
    session.control.create_endpoint(EndpointName="scoring", EndpointConfigName="config-a")
    creating = session.control.describe_endpoint(EndpointName="scoring")
    assert creating["EndpointStatus"] == "Creating"
    assert creating["ProductionVariants"][0]["DesiredInstanceCount"] == 1
    with pytest.raises(ValidationError, match="Cannot update in-progress endpoint"):
        session.control.update_endpoint(EndpointName="scoring", EndpointConfigName="config-a")

    described = wait_status(session, "scoring")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    variant = described["ProductionVariants"][0]
    assert variant["CurrentWeight"] == 1.0
    assert variant["CurrentInstanceCount"] == 1
    assert variant["DeployedImages"][0]["SpecifiedImage"] == "sagebox/xgboost"

    answer = invoke(session, "scoring", b"0.5,0.1,0.2,0.3\n-2,-1,0,0\n")
    scores = [float(line) for line in answer["Body"].decode().split()]
    assert len(scores) == 2 and all(0 < s < 1 for s in scores)
    assert scores[0] > scores[1]  # the label follows the first feature
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    listed = session.control.list_endpoints(StatusEquals="InService")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == ["scoring"]

    assert session.home is not None
    logs = session.home.path / "logs" / "endpoint" / "scoring"
    assert (logs / "host.log").exists() and list((logs / "AllTraffic").glob("*.log"))

    pid = host_pid(session, "scoring")
    session.control.delete_endpoint(EndpointName="scoring")
    wait_gone(session, "scoring")
    wait_for(lambda: not _alive(pid), message="the host did not exit")
    with pytest.raises(SageboxError, match="not found"):
        invoke(session, "scoring")


def _alive(pid: int) -> bool:
    from sagebox.runtime.processes import is_alive

    return is_alive(pid, None)


def test_a_model_that_cannot_load_fails_the_endpoint_with_its_reason(endpoints: Session) -> None:
    session = endpoints
    code_model(session, "broken", BROKEN_MODEL)
    config(session, "broken", realtime("AllTraffic", "broken"))
    session.control.create_endpoint(EndpointName="broken", EndpointConfigName="broken")
    described = wait_status(session, "broken")
    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "did not pass the ping health check" in reason and "this model cannot load" in reason
    session.control.delete_endpoint(EndpointName="broken")
    wait_gone(session, "broken")


def test_update_switches_models_without_a_dropped_request(endpoints: Session) -> None:
    session = endpoints
    xgboost_model(session, "small", rounds=2)
    xgboost_model(session, "large", rounds=30)
    config(session, "small", realtime("AllTraffic", "small"))
    config(session, "large", realtime("AllTraffic", "large"))
    deploy(session, "live", "small")
    before = _score(invoke(session, "live"))

    answers: list[float] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                answers.append(_score(invoke(session, "live")))
            except BaseException as exc:  # every failure counts
                errors.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        wait_for(lambda: len(answers) > 20)
        session.control.update_endpoint(EndpointName="live", EndpointConfigName="large")
        assert session.control.describe_endpoint(EndpointName="live")["EndpointStatus"] in (
            "Updating",
            "InService",
        )
        described = wait_status(session, "live", ("InService",))
        assert described["EndpointConfigName"] == "large"
        count = len(answers)
        wait_for(lambda: len(answers) > count + 20)
    finally:
        stop.set()
        thread.join()
    assert errors == []
    after = _score(invoke(session, "live"))
    assert after != before
    switch = answers.index(after)
    assert set(answers[:switch]) == {before} and set(answers[switch:]) == {after}
    assert "FailureReason" not in described


def test_an_update_that_cannot_start_rolls_back(endpoints: Session) -> None:
    session = endpoints
    xgboost_model(session, "good")
    code_model(session, "bad", BROKEN_MODEL)
    config(session, "good", realtime("AllTraffic", "good"))
    config(session, "bad", realtime("AllTraffic", "bad"))
    deploy(session, "steady", "good")
    session.control.update_endpoint(EndpointName="steady", EndpointConfigName="bad")
    wait_for(
        lambda: "FailureReason" in session.control.describe_endpoint(EndpointName="steady"),
        message="the update did not fail",
    )
    described = session.control.describe_endpoint(EndpointName="steady")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == "good"
    assert "rolled back to good" in described["FailureReason"]
    assert "this model cannot load" in described["FailureReason"]
    assert 0 < _score(invoke(session, "steady")) < 1  # still the good model


def test_weights_split_traffic_and_change_at_once(endpoints: Session) -> None:
    session = endpoints
    xgboost_model(session, "blue")
    xgboost_model(session, "green", rounds=20)
    config(
        session, "split", realtime("Blue", "blue", weight=1), realtime("Green", "green", weight=0)
    )
    deploy(session, "canary", "split")
    served = {invoke(session, "canary")["InvokedProductionVariant"] for _ in range(20)}
    assert served == {"Blue"}
    assert invoke(session, "canary", TargetVariant="Green")["InvokedProductionVariant"] == "Green"

    session.control.update_endpoint_weights_and_capacities(
        EndpointName="canary",
        DesiredWeightsAndCapacities=[
            {"VariantName": "Blue", "DesiredWeight": 0},
            {"VariantName": "Green", "DesiredWeight": 1, "DesiredInstanceCount": 2},
        ],
    )
    described = wait_status(session, "canary", ("InService",))
    variants = {v["VariantName"]: v for v in described["ProductionVariants"]}
    assert variants["Blue"]["CurrentWeight"] == 0
    assert variants["Green"]["CurrentWeight"] == 1
    assert variants["Green"]["CurrentInstanceCount"] == 2
    served = {invoke(session, "canary")["InvokedProductionVariant"] for _ in range(20)}
    assert served == {"Green"}
    green = next(v for v in routes(session, "canary")["variants"] if v["name"] == "Green")
    assert len(green["sockets"]) == 2

    with pytest.raises(ValidationError, match="not present in the endpoint"):
        session.control.update_endpoint_weights_and_capacities(
            EndpointName="canary",
            DesiredWeightsAndCapacities=[{"VariantName": "Red", "DesiredWeight": 1}],
        )


def test_workers_per_instance_and_a_dead_worker_is_restarted(endpoints: Session) -> None:
    session = endpoints
    xgboost_model(session, "pair", SAGEMAKER_MODEL_SERVER_WORKERS="2")
    config(session, "pair", realtime("AllTraffic", "pair"))
    deploy(session, "pair", "pair")
    sockets = routes(session, "pair")["variants"][0]["sockets"]
    assert len(sockets) == 2
    assert session.home is not None
    workers = json.loads((session.home.path / "endpoints/pair/workers.json").read_text())
    victim = workers[0]["pid"]
    os.killpg(victim, signal.SIGKILL)
    wait_for(
        lambda: victim not in _pids(session, "pair") and len(_pids(session, "pair")) >= 3,
        message="the worker was not restarted",
    )
    wait_for(lambda: len(routes(session, "pair")["variants"][0]["sockets"]) == 2)
    assert 0 < _score(invoke(session, "pair")) < 1
    log = (session.home.path / "logs/endpoint/pair/host.log").read_text()
    assert f"(pid {victim})" in log and "restarting it" in log


def _pids(session: Session, endpoint: str) -> list[int]:
    from sagebox.runtime.processes import is_alive

    assert session.home is not None
    path = session.home.path / "endpoints" / endpoint / "workers.json"
    return [e["pid"] for e in json.loads(path.read_text()) if is_alive(e["pid"], e["ticks"])]


def test_a_dead_host_is_restarted_by_reconcile(endpoints: Session) -> None:
    session = endpoints
    xgboost_model(session, "sturdy")
    config(session, "sturdy", realtime("AllTraffic", "sturdy"))
    deploy(session, "sturdy", "sturdy")
    first = host_pid(session, "sturdy")
    old_workers = _pids(session, "sturdy")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not _alive(first))
    assert 0 < _score(invoke(session, "sturdy")) < 1  # its workers still answer

    assert session.home is not None
    Session(session.home.path)  # a new session reconciles: the host comes back
    wait_for(lambda: host_pid(session, "sturdy") != first and _alive(host_pid(session, "sturdy")))
    wait_for(
        lambda: not any(_alive(pid) for pid in old_workers),
        message="the dead host's workers were not replaced",
    )
    assert routes(session, "sturdy")["generation"] > 1
    assert 0 < _score(invoke(session, "sturdy")) < 1
    assert session.control.describe_endpoint(EndpointName="sturdy")["EndpointStatus"] == (
        "InService"
    )
