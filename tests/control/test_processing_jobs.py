"""Processing jobs end to end in-process: validation, state machine, data in and out."""

from __future__ import annotations

import json
import time

import pytest

from sagebox.errors import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    UnknownOperation,
    ValidationError,
)
from sagebox.runtime.processes import namespace_mode
from sagebox.session import Session
from tests.helpers import job_request, s3_input, s3_output, wait

needs_namespaces = pytest.mark.skipif(
    namespace_mode() is None, reason="this machine cannot make mount namespaces"
)

WRITE_OUTPUT = """
    import json, os, pathlib
    cfg = json.loads(pathlib.Path('/opt/ml/config/processingjobconfig.json').read_text())
    res = json.loads(pathlib.Path('/opt/ml/config/resourceconfig.json').read_text())
    data = sorted(p.name for p in pathlib.Path('/opt/ml/processing/input/data').iterdir())
    out = pathlib.Path('/opt/ml/processing/output')
    (out / f"{res['current_host']}.json").write_text(json.dumps(
        {"job": cfg["ProcessingJobName"], "files": data, "hosts": res["hosts"],
         "env": os.environ["SM_CURRENT_HOST"]}))
    print("hello from", res["current_host"], flush=True)
"""


def _data(session: Session, count: int) -> str:
    objects = session.home.objects
    objects.create_bucket("data")
    for index in range(count):
        objects.put_object("data", f"raw/part-{index}.csv", f"{index}\n".encode())
    return "s3://data/raw/"


@needs_namespaces
def test_job_runs_with_literal_paths_and_uploads_outputs(session: Session) -> None:
    uri = _data(session, 2)
    request = job_request(
        session,
        "uploads",
        WRITE_OUTPUT,
        inputs=[s3_input("data", uri, "/opt/ml/processing/input/data")],
        outputs=[s3_output("out", "/opt/ml/processing/output", "s3://data/out")],
    )
    arn = session.control.create_processing_job(**request)["ProcessingJobArn"]
    assert (
        arn
        == f"arn:aws:sagemaker:{session.region_name}:{session.account_id}:processing-job/uploads"
    )
    described = wait(session, "uploads")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ProcessingStartTime"] <= described["ProcessingEndTime"]
    result = json.loads(session.home.objects.get_object("data", "out/algo-1.json"))
    assert result == {
        "job": "uploads",
        "files": ["part-0.csv", "part-1.csv"],
        "hosts": ["algo-1"],
        "env": "algo-1",
    }
    log = session.home.logs_path / "processing-job" / "uploads" / "algo-1.log"
    assert "hello from algo-1" in log.read_text()
    # the supervisor records the final state first, then removes the job's working folder
    folder = session.home.jobs_path / "processing-job" / "uploads"
    end = time.monotonic() + 30
    while folder.exists():
        assert time.monotonic() < end, "the job folder was not cleaned up"
        time.sleep(0.05)


@needs_namespaces
def test_two_instances_shard_by_s3_key_and_replicate(session: Session) -> None:
    uri = _data(session, 5)
    for distribution, name in (("ShardedByS3Key", "sharded"), ("FullyReplicated", "replicated")):
        request = job_request(
            session,
            name,
            WRITE_OUTPUT,
            instance_count=2,
            inputs=[s3_input("data", uri, "/opt/ml/processing/input/data", distribution)],
            outputs=[s3_output("out", "/opt/ml/processing/output", f"s3://data/{name}")],
        )
        session.control.create_processing_job(**request)
    for name in ("sharded", "replicated"):
        assert wait(session, name)["ProcessingJobStatus"] == "Completed"
    one = json.loads(session.home.objects.get_object("data", "sharded/algo-1.json"))
    two = json.loads(session.home.objects.get_object("data", "sharded/algo-2.json"))
    assert one["hosts"] == ["algo-1", "algo-2"]
    assert not set(one["files"]) & set(two["files"])
    assert sorted(one["files"] + two["files"]) == [f"part-{i}.csv" for i in range(5)]
    both = [
        json.loads(session.home.objects.get_object("data", f"replicated/algo-{i}.json"))
        for i in (1, 2)
    ]
    assert both[0]["files"] == both[1]["files"] == [f"part-{i}.csv" for i in range(5)]


def test_bad_requests_are_refused_with_aws_errors(session: Session) -> None:
    good = job_request(session, "good", "print('x')")
    with pytest.raises(ValidationError, match="processingJobName"):
        session.control.create_processing_job(**{**good, "ProcessingJobName": "bad_name"})
    missing = {k: v for k, v in good.items() if k != "RoleArn"}
    with pytest.raises(ValidationError, match="roleArn"):
        session.control.create_processing_job(**missing)
    outside = job_request(
        session, "outside", "print('x')", inputs=[s3_input("d", "s3://code/x", "/tmp/data")]
    )
    with pytest.raises(ValidationError, match="/opt/ml/processing/"):
        session.control.create_processing_job(**outside)
    image = {**good, "AppSpecification": {"ImageUri": "docker.io/library/python:3"}}
    with pytest.raises(ValidationError, match="not one sagebox can run"):
        session.control.create_processing_job(**image)
    too_many = job_request(session, "too-many", "print('x')", instance_count=99)
    with pytest.raises(ResourceLimitExceeded, match="99 instances"):
        session.control.create_processing_job(**too_many)
    with pytest.raises(ResourceNotFound, match="'nope' does not exist"):
        session.control.describe_processing_job(ProcessingJobName="nope")
    with pytest.raises(UnknownOperation, match="does not implement"):
        session.control.call("CreateCompilationJob", {})
    session.control.create_processing_job(**good)
    with pytest.raises(ResourceInUse):
        session.control.create_processing_job(**good)
    wait(session, "good")
    with pytest.raises(ValidationError, match="only an InProgress job"):
        session.control.stop_processing_job(ProcessingJobName="good")


def test_script_error_becomes_failure_reason(session: Session) -> None:
    source = """
        def load():
            raise ValueError("column 'income' has text where numbers belong")
        load()
    """
    session.control.create_processing_job(**job_request(session, "raises", source))
    described = wait(session, "raises")
    assert described["ProcessingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "ValueError: column 'income' has text where numbers belong" in reason
    assert "exit code: 1" in reason


def test_failure_file_wins(session: Session) -> None:
    source = """
        import os, pathlib
        pathlib.Path('/opt/ml/output/failure').write_text('Bad input: no rows\\nmore')
        raise SystemExit(3)
    """
    session.control.create_processing_job(**job_request(session, "failfile", source))
    if namespace_mode() is None:
        pytest.skip("literal /opt/ml paths need a mount namespace")
    assert wait(session, "failfile")["FailureReason"] == "AlgorithmError: Bad input: no rows"


def test_missing_input_prefix_fails_naming_the_uri(session: Session) -> None:
    session.home.objects.create_bucket("empty")
    request = job_request(
        session,
        "noinput",
        "print('x')",
        inputs=[s3_input("raw", "s3://empty/raw/", "/opt/ml/processing/raw")],
    )
    session.control.create_processing_job(**request)
    described = wait(session, "noinput")
    assert described["ProcessingJobStatus"] == "Failed"
    assert "s3://empty/raw/" in described["FailureReason"]
    assert described["FailureReason"].startswith("ClientError:")


def test_killed_by_the_os_reports_memory(session: Session) -> None:
    source = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
    session.control.create_processing_job(**job_request(session, "killed", source))
    reason = wait(session, "killed")["FailureReason"]
    assert "SIGKILL" in reason and "memory" in reason


def test_memory_limit_of_the_instance_type(session: Session) -> None:
    # ml.t3.medium has 4 GiB; allocating 6 GiB must fail as out of memory.
    source = "block = bytearray(6 * 1024**3)\n"
    request = job_request(session, "oom", source, instance_type="ml.t3.medium")
    session.control.create_processing_job(**request)
    described = wait(session, "oom")
    assert described["ProcessingJobStatus"] == "Failed"
    assert "out of memory" in described["FailureReason"]
    assert "ml.t3.medium: 4096 MiB" in described["FailureReason"]


def test_stop_sends_sigterm_then_records_stopped(session: Session) -> None:
    source = """
        import signal, sys, time
        def bye(*_):
            print("got SIGTERM, cleaning up", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print("working", flush=True)
        time.sleep(60)
    """
    session.control.create_processing_job(**job_request(session, "stopme", source))
    log = session.home.logs_path / "processing-job" / "stopme" / "algo-1.log"
    end = time.monotonic() + 30
    while "working" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < end
        time.sleep(0.05)
    session.control.stop_processing_job(ProcessingJobName="stopme")
    assert session.control.describe_processing_job(ProcessingJobName="stopme")[
        "ProcessingJobStatus"
    ] in ("Stopping", "Stopped")
    described = wait(session, "stopme", timeout=30)
    assert described["ProcessingJobStatus"] == "Stopped"
    assert "got SIGTERM" in log.read_text()


def test_stop_kills_a_program_that_ignores_sigterm(session: Session) -> None:
    source = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stubborn", flush=True)
        time.sleep(120)
    """
    session.control.create_processing_job(**job_request(session, "stubborn", source))
    log = session.home.logs_path / "processing-job" / "stubborn" / "algo-1.log"
    end = time.monotonic() + 30
    while "stubborn" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < end
        time.sleep(0.05)
    session.control.stop_processing_job(ProcessingJobName="stubborn")
    # the grace period of the test home is 2 s, then SIGKILL
    assert wait(session, "stubborn", timeout=20)["ProcessingJobStatus"] == "Stopped"


def test_max_runtime_stops_the_job(session: Session) -> None:
    request = job_request(
        session,
        "slow",
        "import time\ntime.sleep(60)\n",
        StoppingCondition={"MaxRuntimeInSeconds": 1},
    )
    session.control.create_processing_job(**request)
    described = wait(session, "slow", timeout=30)
    assert described["ProcessingJobStatus"] == "Stopped"
    assert "MaxRuntimeInSeconds (1 s) exceeded" in described["ExitMessage"]


def test_continuous_upload_happens_while_running(session: Session) -> None:
    source = """
        import pathlib, time
        out = pathlib.Path('/opt/ml/processing/output')
        (out / 'progress.txt').write_text('half way')
        time.sleep(4)
    """
    if namespace_mode() is None:
        pytest.skip("literal /opt/ml paths need a mount namespace")
    session.home.objects.create_bucket("live")
    request = job_request(
        session,
        "continuous",
        source,
        outputs=[s3_output("out", "/opt/ml/processing/output", "s3://live/out", "Continuous")],
    )
    session.control.create_processing_job(**request)
    end = time.monotonic() + 20
    while True:
        keys = [o.key for o in session.home.objects.iter_objects("live", "out/")]
        status = session.control.describe_processing_job(ProcessingJobName="continuous")[
            "ProcessingJobStatus"
        ]
        if keys:
            break
        assert time.monotonic() < end
        time.sleep(0.1)
    assert keys == ["out/progress.txt"]
    assert status == "InProgress"
    assert wait(session, "continuous")["ProcessingJobStatus"] == "Completed"


def test_tags(session: Session) -> None:
    request = job_request(
        session, "tagged", "print(1)", Tags=[{"Key": "Project", "Value": "LoanDefault"}]
    )
    arn = session.control.create_processing_job(**request)["ProcessingJobArn"]
    assert session.control.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "Project", "Value": "LoanDefault"}
    ]
    session.control.add_tags(ResourceArn=arn, Tags=[{"Key": "Team", "Value": "Risk"}])
    session.control.delete_tags(ResourceArn=arn, TagKeys=["Project"])
    assert session.control.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "Team", "Value": "Risk"}]
    missing = arn.replace("tagged", "ghost")
    with pytest.raises(ResourceNotFound):
        session.control.list_tags(ResourceArn=missing)
    wait(session, "tagged")


@needs_namespaces
def test_network_isolation_has_no_network(session: Session) -> None:
    source = """
        import socket
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=2)
        except OSError as error:
            print("network unreachable:", error.errno)
        names = [n for _, n in socket.if_nameindex()]
        print("interfaces:", names)
    """
    request = job_request(
        session, "isolated", source, NetworkConfig={"EnableNetworkIsolation": True}
    )
    session.control.create_processing_job(**request)
    assert wait(session, "isolated")["ProcessingJobStatus"] == "Completed"
    log = (session.home.logs_path / "processing-job" / "isolated" / "algo-1.log").read_text()
    assert "network unreachable" in log
    assert "interfaces: ['lo']" in log


LEAVES_A_CHILD = """
import os, subprocess, sys
# a background process the script never waits for (a daemon, a pool's fork server ...)
child = subprocess.Popen(["sleep", "600"], stdout=sys.stdout, stderr=sys.stderr)
os.makedirs("/opt/ml/processing/output", exist_ok=True)
with open("/opt/ml/processing/output/pid", "w") as handle:
    handle.write(str(child.pid))
print("left", child.pid)
"""


def test_what_a_job_leaves_running_ends_with_it(session: Session) -> None:
    """As a container ends with its main process, so does everything the job started."""
    from sagebox.runtime.processes import is_alive

    request = job_request(
        session,
        "leaves-a-child",
        LEAVES_A_CHILD,
        outputs=[s3_output("out", "/opt/ml/processing/output", "s3://code/leftover")],
    )
    session.control.create_processing_job(**request)
    described = wait(session, "leaves-a-child")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    pid = int(session.home.objects.get_object("code", "leftover/pid"))
    end = time.monotonic() + 10
    while is_alive(pid, None):
        assert time.monotonic() < end, f"the job's child {pid} outlived the job"
        time.sleep(0.05)
