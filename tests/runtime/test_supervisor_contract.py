"""The runner's contract seen from a reporter: statuses, metrics, environment, outcome."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import pytest

from sagebox.home import Home
from sagebox.runtime.local import LocalExecutor
from sagebox.runtime.reporting import Outcome
from sagebox.runtime.spec import JobSpec, MetricDefinition
from sagebox.store.metadata import MetricPoint

ROOT = Path(__file__).parents[2]


class FileReporter:
    """Writes every report as a JSON line next to the home, for the test to read."""

    def __init__(self, home: Home, spec: JobSpec) -> None:
        self.path = home.path / f"{spec.name}.events"

    def _write(self, *event: object) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(event, default=str) + "\n")

    def started(self, at: datetime) -> None:
        self._write("started", at.isoformat())

    def secondary_status(self, status: str, message: str, at: datetime) -> None:
        self._write("secondary", status)

    def metrics(self, points: Sequence[MetricPoint]) -> None:
        for p in points:
            self._write("metric", p.name, p.value, p.timestamp.isoformat())

    def stop_requested(self) -> bool:
        return False

    def finished(self, outcome: Outcome) -> None:
        self._write("finished", outcome.status, outcome.failure_reason)


def _events(home: Home, name: str, timeout: float = 60) -> list[list[object]]:
    path = home.path / f"{name}.events"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            events = [json.loads(line) for line in path.read_text().splitlines()]
            if events and events[-1][0] == "finished":
                return events
        time.sleep(0.05)
    raise AssertionError(f"{name} did not finish")


@pytest.fixture
def executor(home_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalExecutor:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the supervisor imports FileReporter
    return LocalExecutor(Home.open(home_path))


def _spec(home: Home, name: str, code: str, **extra: object) -> JobSpec:
    return JobSpec(
        kind="test-job",
        name=name,
        arn=f"arn:aws:sagemaker:::test-job/{name}",
        home=str(home.path),
        role_arn="arn:aws:iam::123456789012:role/R",
        instance_type="ml.m5.large",
        instance_count=1,
        command=(sys.executable, "-c", code),
        reporter="tests.runtime.test_supervisor_contract:FileReporter",
        **extra,  # type: ignore[arg-type]
    )


def test_metrics_are_parsed_from_the_log_with_timestamps(executor: LocalExecutor) -> None:
    code = (
        "import time\n"
        "for i in range(3):\n"
        "    print(f'[{i}]#011train-logloss:{0.5 - i / 10:.2f}#011validation-auc:{0.7 + i / 100}',"
        " flush=True)\n"
        "    time.sleep(0.05)\n"
    )
    spec = _spec(
        executor.home,
        "metrics",
        code,
        metric_definitions=(
            MetricDefinition("train:logloss", r"train-logloss:([0-9.]+)"),
            MetricDefinition("validation:auc", r"validation-auc:([0-9.]+)"),
        ),
    )
    executor.submit(spec)
    events = _events(executor.home, "metrics")
    assert events[0][0] == "started"
    assert [e[1] for e in events if e[0] == "secondary"] == ["Downloading", "Training", "Uploading"]
    metrics = [e for e in events if e[0] == "metric"]
    assert [(m[1], m[2]) for m in metrics if m[1] == "train:logloss"] == [
        ("train:logloss", 0.5),
        ("train:logloss", 0.4),
        ("train:logloss", 0.3),
    ]
    assert [m[2] for m in metrics if m[1] == "validation:auc"] == [0.7, 0.71, 0.72]
    stamps = [datetime.fromisoformat(str(m[3])) for m in metrics]
    assert stamps == sorted(stamps) and stamps[0].tzinfo is not None
    assert events[-1] == ["finished", "Completed", None]


def test_environment_and_sm_variables(executor: LocalExecutor) -> None:
    code = (
        "import json, os\n"
        "keys = ['SM_CURRENT_HOST', 'SM_HOSTS', 'SM_NUM_CPUS', 'LOAN_BOOK', 'AWS_REGION']\n"
        "print(json.dumps({k: os.environ.get(k) for k in keys}), flush=True)\n"
        "assert 'AWS_SECRET_ACCESS_KEY' not in os.environ\n"
    )
    spec = _spec(executor.home, "env", code, environment={"LOAN_BOOK": "retail"})
    executor.submit(spec)
    assert _events(executor.home, "env")[-1] == ["finished", "Completed", None]
    log = (executor.home.logs_path / "test-job" / "env" / "algo-1.log").read_text()
    seen = json.loads(log.strip().splitlines()[-1])
    assert seen == {
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": '["algo-1"]',
        "SM_NUM_CPUS": seen["SM_NUM_CPUS"],
        "LOAN_BOOK": "retail",
        "AWS_REGION": executor.home.region,
    }
    assert int(seen["SM_NUM_CPUS"]) >= 1
