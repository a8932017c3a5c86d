"""A control plane that dies mid-job, and a supervisor that dies: every job ends true."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sagebox.runtime.processes import is_alive
from sagebox.session import Session
from tests.helpers import job_request, wait

CREATE_AND_HANG = """
import sys, time
from sagebox.session import Session
from tests.helpers import job_request
session = Session(sys.argv[1])
source = "import time\\nprint('started', flush=True)\\ntime.sleep(2)\\nprint('done', flush=True)\\n"
session.control.create_processing_job(**job_request(session, "survivor", source))
print("created", flush=True)
time.sleep(600)
"""


def _executor_record(session: Session, name: str) -> dict[str, object]:
    return dict(session.home.metadata.get("executor-job", f"processing-job/{name}").document)


def test_kill_9_of_the_control_plane_leaves_a_true_state(home_path: Path) -> None:
    script = home_path.parent / "create_and_hang.py"
    script.write_text(CREATE_AND_HANG)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    control = subprocess.Popen(
        [sys.executable, str(script), str(home_path)], env=env, stdout=subprocess.PIPE, text=True
    )
    assert control.stdout is not None
    assert control.stdout.readline().strip() == "created"
    control.send_signal(signal.SIGKILL)
    control.wait()

    session = Session(home_path)  # a restart: reconciles
    described = wait(session, "survivor", timeout=60)
    assert described["ProcessingJobStatus"] == "Completed"
    log = session.home.logs_path / "processing-job" / "survivor" / "algo-1.log"
    assert "done" in log.read_text()
    assert session.home.metadata.integrity_check() == "ok"


def test_a_dead_supervisor_is_failed_with_a_reason_on_restart(session: Session) -> None:
    source = "import time\nprint('working', flush=True)\ntime.sleep(120)\n"
    session.control.create_processing_job(**job_request(session, "orphan", source))
    end = time.monotonic() + 30
    while not _executor_record(session, "orphan").get("pid"):
        assert time.monotonic() < end
        time.sleep(0.05)
    record = _executor_record(session, "orphan")
    pid = int(record["pid"])  # type: ignore[arg-type]
    log = session.home.logs_path / "processing-job" / "orphan" / "algo-1.log"
    while "working" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < end
        time.sleep(0.05)
    instances_file = session.home.jobs_path / "processing-job" / "orphan" / "instances.json"
    instances = json.loads(instances_file.read_text())
    os.kill(pid, signal.SIGKILL)
    while is_alive(pid, record.get("ticks")):  # type: ignore[arg-type]
        time.sleep(0.05)

    restarted = Session(session.home.path)
    described = restarted.control.describe_processing_job(ProcessingJobName="orphan")
    assert described["ProcessingJobStatus"] == "Failed"
    assert f"pid {pid}" in described["FailureReason"]
    assert "ended without recording a result" in described["FailureReason"]
    assert restarted.home.metadata.integrity_check() == "ok"
    # Its instance process is not left running either.
    for entry in instances:
        assert not is_alive(entry["pid"], entry["ticks"])


def test_capacity_queue_runs_jobs_in_order(home_path: Path) -> None:
    config = json.loads((home_path / "config.json").read_text())
    config["capacity"] = {"max_instances": 1}
    (home_path / "config.json").write_text(json.dumps(config))
    session = Session(home_path)
    source = "import time\ntime.sleep(1)\n"
    for name in ("first", "second"):
        session.control.create_processing_job(**job_request(session, name, source))
    second = session.control.describe_processing_job(ProcessingJobName="second")
    assert second["ProcessingJobStatus"] == "InProgress"
    assert "ProcessingStartTime" not in second  # queued: waiting for capacity
    first = wait(session, "first")
    second = wait(session, "second")
    assert first["ProcessingJobStatus"] == second["ProcessingJobStatus"] == "Completed"
    assert second["ProcessingStartTime"] >= first["ProcessingEndTime"]


def test_stopping_a_queued_job_stops_it_at_once(home_path: Path) -> None:
    config = json.loads((home_path / "config.json").read_text())
    config["capacity"] = {"max_instances": 1}
    (home_path / "config.json").write_text(json.dumps(config))
    session = Session(home_path)
    session.control.create_processing_job(
        **job_request(session, "busy", "import time\ntime.sleep(2)\n")
    )
    session.control.create_processing_job(**job_request(session, "waiting", "print(1)\n"))
    session.control.stop_processing_job(ProcessingJobName="waiting")
    described = session.control.describe_processing_job(ProcessingJobName="waiting")
    assert described["ProcessingJobStatus"] == "Stopped"
    assert wait(session, "busy")["ProcessingJobStatus"] == "Completed"
