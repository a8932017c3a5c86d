"""Endpoints for the hosting tests: models in S3, endpoints up, invoked, and always removed.

Every endpoint runs a detached host process; the :func:`endpoints` fixture deletes every
endpoint of the test's home afterwards and kills any host still running, so no test
leaves processes behind.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import tarfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sagebox.errors import SageboxError
from sagebox.session import Session
from tests.serving.trained import xgboost_booster

BUCKET = "hosting"
XGBOOST = "sagebox/xgboost"
ROW = b"0.5,0.1,0.2,0.3\n"

# A model of the user's own, served by the scikit-learn framework image: it answers with
# the worker's pid (to count workers), after sleeping SLEEP seconds, and allocates
# ALLOCATE_MB when asked (to hit the memory limit).
PID_MODEL = """
import os
import time

def model_fn(model_dir):
    return {"tag": os.environ.get("TAG", "")}

def input_fn(body, content_type):
    return body

def predict_fn(data, model):
    text = data if isinstance(data, str) else data.decode()
    if text.startswith("allocate"):
        hog = bytearray(int(text.split()[1]) * 1024 * 1024)
        return len(hog)
    if text.startswith("sleep"):
        time.sleep(float(text.split()[1]))
    return model["tag"] + ":" + str(os.getpid())

def output_fn(prediction, accept):
    return str(prediction).encode(), "text/plain"
"""

BROKEN_MODEL = """
def model_fn(model_dir):
    raise RuntimeError("this model cannot load")
"""


def _bucket(session: Session) -> None:
    if not session.objects.bucket_exists(BUCKET):
        session.objects.create_bucket(BUCKET)


def upload_xgboost(session: Session, key: str, rounds: int = 5, objective: str = "") -> str:
    """A trained XGBoost model as a training job leaves it; its model.tar.gz URI."""
    import tempfile

    _bucket(session)
    booster: Any = xgboost_booster(objective or "binary:logistic", rounds)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "xgboost-model"
        booster.save_model(str(path.with_suffix(".json")))
        path.with_suffix(".json").rename(path)
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            tar.add(path, arcname="xgboost-model")
    session.objects.put_object(BUCKET, f"{key}/model.tar.gz", archive.getvalue())
    return f"s3://{BUCKET}/{key}/model.tar.gz"


def upload_code(session: Session, key: str, source: str) -> str:
    """A sourcedir.tar.gz holding ``inference.py``, as the SageMaker SDK uploads it."""
    _bucket(session)
    body = textwrap.dedent(source).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("inference.py")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    session.objects.put_object(BUCKET, f"{key}/sourcedir.tar.gz", archive.getvalue())
    return f"s3://{BUCKET}/{key}/sourcedir.tar.gz"


def xgboost_model(session: Session, name: str, rounds: int = 5, **environment: str) -> str:
    uri = upload_xgboost(session, f"models/{name}", rounds)
    session.control.create_model(
        ModelName=name,
        PrimaryContainer={"Image": XGBOOST, "ModelDataUrl": uri, "Environment": environment},
        ExecutionRoleArn=session.get_execution_role(),
    )
    return name


def code_model(session: Session, name: str, source: str = PID_MODEL, **environment: str) -> str:
    """A model that is only the user's inference.py, on the scikit-learn image."""
    code = upload_code(session, f"code/{name}", source)
    env = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": code}
    session.control.create_model(
        ModelName=name,
        PrimaryContainer={"Image": "sagebox/sklearn", "Environment": {**env, **environment}},
        ExecutionRoleArn=session.get_execution_role(),
    )
    return name


def realtime(name: str, model: str, count: int = 1, weight: float = 1.0) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": count,
        "InitialVariantWeight": weight,
    }


def serverless(
    name: str, model: str, memory: int = 1024, maximum: int = 2, provisioned: int = 0
) -> dict[str, Any]:
    config: dict[str, Any] = {"MemorySizeInMB": memory, "MaxConcurrency": maximum}
    if provisioned:
        config["ProvisionedConcurrency"] = provisioned
    return {"VariantName": name, "ModelName": model, "ServerlessConfig": config}


def config(session: Session, name: str, *variants: dict[str, Any], **extra: Any) -> str:
    session.control.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=list(variants), **extra
    )
    return name


def wait_status(
    session: Session,
    endpoint: str,
    statuses: tuple[str, ...] = ("InService", "Failed"),
    timeout: float = 90,
) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        described = session.control.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] in statuses:
            return described
        if time.monotonic() > end:
            raise AssertionError(f"{endpoint} is still {described['EndpointStatus']}")
        time.sleep(0.05)


def deploy(session: Session, endpoint: str, config_name: str) -> dict[str, Any]:
    session.control.create_endpoint(EndpointName=endpoint, EndpointConfigName=config_name)
    described = wait_status(session, endpoint)
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    return described


def wait_gone(session: Session, endpoint: str, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            session.control.describe_endpoint(EndpointName=endpoint)
        except SageboxError:
            return
        time.sleep(0.05)
    raise AssertionError(f"{endpoint} was not deleted")


def invoke(session: Session, endpoint: str, body: bytes = ROW, **params: Any) -> dict[str, Any]:
    request = {"EndpointName": endpoint, "Body": body, "ContentType": "text/csv", **params}
    return session.control.call("InvokeEndpoint", request, service="sagemaker-runtime")


def routes(session: Session, endpoint: str) -> dict[str, Any]:
    assert session.home is not None
    path = session.home.path / "endpoints" / endpoint / "routes.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def worker_sockets(session: Session, endpoint: str) -> list[Path]:
    """The sockets of the endpoint's running workers (a worker's goes when it stops)."""
    assert session.home is not None
    folder = session.home.path / "endpoints" / endpoint / "sock"
    return sorted(p for p in folder.glob("*-w*.sock")) if folder.is_dir() else []


def wait_for(condition: Any, timeout: float = 30, message: str = "") -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(message or "the condition did not come true")
        time.sleep(0.05)


def host_pid(session: Session, endpoint: str) -> int:
    assert session.home is not None
    path = session.home.path / "endpoints" / endpoint / "host.pid"
    return int(json.loads(path.read_text())["pid"])


def _kill_leftovers(home: Path) -> None:
    from sagebox.runtime.processes import is_alive

    for pid_file in home.glob("endpoints/*/host.pid"):
        entry = json.loads(pid_file.read_text())
        if is_alive(entry.get("pid"), entry.get("ticks")):
            os.kill(entry["pid"], signal.SIGKILL)
    for workers in home.glob("endpoints/*/workers.json"):
        for entry in json.loads(workers.read_text()):
            if is_alive(entry.get("pid"), entry.get("ticks")):
                os.killpg(entry["pid"], signal.SIGKILL)


@pytest.fixture
def endpoints(session: Session) -> Iterator[Session]:
    """The test's session; every endpoint it made is deleted afterwards."""
    yield session
    assert session.home is not None
    names = []
    for summary in session.control.list_endpoints(MaxResults=100)["Endpoints"]:
        names.append(summary["EndpointName"])
        with contextlib.suppress(SageboxError):
            session.control.delete_endpoint(EndpointName=summary["EndpointName"])
    try:
        for name in names:
            wait_gone(session, name, timeout=30)
    finally:
        _kill_leftovers(session.home.path)
