"""The model server over its Unix socket: the container contract, limits, lifecycle."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httptools
import numpy as np
import pytest

from sagebox.serving.client import SyncWorkerClient, WorkerResponse
from sagebox.serving.errors import WorkerUnavailable
from sagebox.serving.worker import worker_command
from tests.serving import trained

CSV = {"Content-Type": "text/csv", "Accept": "text/csv"}


class Worker:
    """A worker process started as an endpoint's host starts it."""

    def __init__(
        self,
        model_dir: Path,
        socket_path: Path,
        memory_mb: int | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        self.socket = socket_path
        self.log = socket_path.with_suffix(".log")
        self.errors = socket_path.with_suffix(".err")
        with self.log.open("wb") as out, self.errors.open("wb") as err:
            self.process = subprocess.Popen(
                worker_command(model_dir, socket_path, memory_mb),
                stdout=out,
                stderr=err,
                env={**os.environ, **(environment or {})},
            )
        self.client = SyncWorkerClient(str(socket_path))

    def ready(self, timeout: float = 120) -> bool:
        """Wait for /ping to answer 200 (True) or the process to exit (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                return self.client.request("GET", "/ping", timeout=5).status == 200
            except WorkerUnavailable:
                time.sleep(0.02)
        raise AssertionError(f"the worker on {self.socket} did not come up")

    def invoke(self, body: bytes, headers: dict[str, str] | None = None) -> WorkerResponse:
        return self.client.request("POST", "/invocations", body, headers or CSV)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def lightgbm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained.lightgbm_model(tmp_path_factory.mktemp("lightgbm"), trees=20)


@pytest.fixture(scope="module")
def worker(lightgbm_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    started = Worker(lightgbm_dir, tmp_path_factory.mktemp("sockets") / "w.sock")
    assert started.ready(), started.errors.read_text()
    yield started
    started.stop()


def with_code(model_dir: Path, folder: Path, source: str) -> Path:
    import shutil

    target = folder / "model"
    shutil.copytree(model_dir, target)
    (target / "code").mkdir()
    (target / "code" / "inference.py").write_text(textwrap.dedent(source))
    return target


# --- the contract ------------------------------------------------------------------------


def test_ping_and_invocations(worker: Worker, lightgbm_dir: Path) -> None:
    import lightgbm

    ping = worker.client.request("GET", "/ping")
    assert ping.status == 200
    answer = worker.invoke(b"1,2,3,4\n0,0,0,0\n")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/csv"
    assert int(answer.headers["x-sagebox-model-latency-us"]) >= 0
    booster = lightgbm.Booster(model_file=str(lightgbm_dir / "lightgbm-model"))
    want = booster.predict(np.array([[1.0, 2, 3, 4], [0.0, 0, 0, 0]]))
    np.testing.assert_allclose([float(v) for v in answer.body.split()], want, rtol=1e-9)
    answer = worker.invoke(b'{"instances": [[1, 2, 3, 4]]}', {"Content-Type": "application/json"})
    assert answer.headers["content-type"] == "application/json"
    assert answer.body.startswith(b'{"predictions": [{"score": ')


def test_model_errors_answer_their_status_as_text(worker: Worker) -> None:
    answer = worker.invoke(b"1,2", {"Content-Type": "application/x-image"})
    assert answer.status == 415
    assert answer.headers["content-type"].startswith("text/plain")
    assert b"'application/x-image' is not supported" in answer.body
    answer = worker.invoke(b"1,2,3\n")
    assert answer.status == 400 and b"takes 4 features a row; got rows of 3" in answer.body
    assert worker.invoke(b"1,2,3,4\n").status == 200  # and it keeps serving


def test_requests_run_inline_answer_as_the_first_ones_did(worker: Worker) -> None:
    """Once the model has proved fast, requests run inline and are answered as soon as
    they are parsed (``WorkerApp.answer_now``): the same answers, errors included."""
    from sagebox.serving.worker import PROBATION

    first = worker.invoke(b"1,2,3,4\n")
    for _ in range(PROBATION + 5):
        later = worker.invoke(b"1,2,3,4\n")
    assert (later.status, later.body) == (first.status, first.body)
    assert later.headers["content-type"] == "text/csv"
    assert int(later.headers["x-sagebox-model-latency-us"]) >= 0
    refused = worker.invoke(b"1,2,3\n")
    assert refused.status == 400 and refused.headers["content-type"].startswith("text/plain")
    assert b"takes 4 features a row; got rows of 3" in refused.body
    assert "x-sagebox-model-latency-us" in refused.headers
    assert worker.invoke(b"1,2,3,4\n").body == first.body


def test_other_routes(worker: Worker) -> None:
    assert worker.client.request("GET", "/models").status == 404
    assert worker.client.request("GET", "/invocations").status == 405


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    done: list[bytes] = []

    class Callbacks:
        def on_body(self, body: bytes) -> None:
            done.append(body)

        def on_message_complete(self) -> None:
            done.append(b"")

    parser = httptools.HttpResponseParser(Callbacks())
    while not done or done[-1] != b"":
        parser.feed_data(sock.recv(65536))
    return parser.get_status_code(), b"".join(done)


def test_keep_alive_serves_many_requests_on_one_connection(worker: Worker) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(worker.socket))
        answers = []
        for i in range(200):
            body = f"{2 * (i % 3) - 2},1,2,3\n".encode()
            sock.sendall(
                b"POST /invocations HTTP/1.1\r\nHost: w\r\nContent-Type: text/csv\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            answers.append(read_response(sock))
    assert {status for status, _ in answers} == {200}
    assert len({body for _, body in answers}) == 3  # three different rows, three scores


def test_long_socket_paths_work(lightgbm_dir: Path, tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    started = Worker(lightgbm_dir, deep / "worker.sock")
    try:
        assert started.ready(), started.errors.read_text()
        assert started.invoke(b"1,2,3,4\n").status == 200
    finally:
        started.stop()


# --- lifecycle ---------------------------------------------------------------------------


def test_a_model_that_cannot_load_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("no model here")
    started = Worker(tmp_path / "model", tmp_path / "w.sock")
    assert not started.ready()
    assert started.process.returncode == 2
    lines = started.errors.read_text().splitlines()
    assert len(lines) == 1 and "No built-in algorithm's model file" in lines[0]
    assert not started.socket.exists()


def test_a_broken_inference_module_exits_2_naming_the_error(
    lightgbm_dir: Path, tmp_path: Path
) -> None:
    model_dir = with_code(lightgbm_dir, tmp_path, "import numpy\nraise KeyError('weights')\n")
    started = Worker(model_dir, tmp_path / "w.sock")
    assert not started.ready()
    assert started.process.returncode == 2
    (line,) = started.errors.read_text().splitlines()
    assert "inference.py raised KeyError: 'weights'" in line
    assert "Traceback" in started.log.read_text()  # the details are in the log


SLOW = """
import time
from pathlib import Path

def predict_fn(data, model):
    if data[0][0] == 99:  # a slow request: says it started, then takes a while
        Path(__file__).with_name("started").write_text("yes")
        time.sleep(1.5)
    return model.predict(data)
"""


def in_background(worker: Worker, body: bytes) -> tuple[threading.Thread, list[WorkerResponse]]:
    answers: list[WorkerResponse] = []
    client = SyncWorkerClient(str(worker.socket))
    thread = threading.Thread(
        target=lambda: answers.append(client.request("POST", "/invocations", body, CSV))
    )
    thread.start()
    return thread, answers


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_a_slow_request_does_not_hold_ping(lightgbm_dir: Path, tmp_path: Path) -> None:
    model_dir = with_code(lightgbm_dir, tmp_path, SLOW)
    started = Worker(model_dir, tmp_path / "w.sock")
    try:
        assert started.ready(), started.errors.read_text()
        for _ in range(30):  # the model proves fast: requests now run in the event loop
            assert started.invoke(b"1,2,3,4\n").status == 200
        thread, answers = in_background(started, b"99,2,3,4\n")
        wait_for(model_dir / "code" / "started")
        assert started.client.request("GET", "/ping").status == 200
        assert not answers  # ping answered while the slow request was still running
        thread.join()
        assert answers[0].status == 200
        (model_dir / "code" / "started").unlink()
        thread, answers = in_background(started, b"99,2,3,4\n")  # just slow: in the thread
        wait_for(model_dir / "code" / "started")
        assert started.client.request("GET", "/ping").status == 200 and not answers
        thread.join()
    finally:
        started.stop()


def test_sigterm_finishes_requests_in_flight_then_exits_0(
    lightgbm_dir: Path, tmp_path: Path
) -> None:
    model_dir = with_code(lightgbm_dir, tmp_path, SLOW)
    started = Worker(model_dir, tmp_path / "w.sock")
    try:
        assert started.ready(), started.errors.read_text()
        thread, answers = in_background(started, b"99,2,3,4\n")
        wait_for(model_dir / "code" / "started")
        started.process.send_signal(signal.SIGTERM)
        thread.join()
        assert answers[0].status == 200 and float(answers[0].body) > 0
        assert started.process.wait(timeout=60) == 0
        assert not started.socket.exists()  # gone: callers see the worker unavailable
        with pytest.raises(WorkerUnavailable):
            SyncWorkerClient(str(started.socket)).request("GET", "/ping")
    finally:
        started.stop()


def test_running_out_of_memory_is_a_500_and_the_worker_keeps_serving(
    lightgbm_dir: Path, tmp_path: Path
) -> None:
    model_dir = with_code(
        lightgbm_dir,
        tmp_path,
        """
        import numpy as np

        def predict_fn(data, model):
            if data[0][0] == 99:
                hog = np.ones(int(data[0][1]) * 1024 * 1024 // 8)  # MB of float64
                return hog[:1]
            return model.predict(data)
        """,
    )
    started = Worker(model_dir, tmp_path / "w.sock", memory_mb=2048)
    try:
        assert started.ready(), started.errors.read_text()
        answer = started.invoke(b"99,3000,0,0\n")  # 3 GB in a 2 GB worker
        assert answer.status == 500
        assert b"ran out of memory in predict_fn (the worker is limited to 2048 MB)" in answer.body
        assert started.invoke(b"99,64,0,0\n").status == 200  # 64 MB fits
        assert started.invoke(b"1,2,3,4\n").status == 200
        assert started.process.poll() is None
    finally:
        started.stop()


def test_custom_attributes_travel_both_ways(lightgbm_dir: Path, tmp_path: Path) -> None:
    model_dir = with_code(
        lightgbm_dir,
        tmp_path,
        """
        def predict_fn(data, model, context):
            asked = context.custom_attributes or ""
            context.set_response_header(0, "X-Amzn-SageMaker-Custom-Attributes", asked.upper())
            return model.predict(data)
        """,
    )
    started = Worker(model_dir, tmp_path / "w.sock")
    try:
        assert started.ready(), started.errors.read_text()
        answer = started.invoke(
            b"1,2,3,4\n", {**CSV, "X-Amzn-SageMaker-Custom-Attributes": "trace_id=ab1"}
        )
        assert answer.status == 200
        assert answer.headers["x-amzn-sagemaker-custom-attributes"] == "TRACE_ID=AB1"
    finally:
        started.stop()
