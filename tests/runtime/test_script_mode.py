"""Script mode through CreateTrainingJob as boto3 sends it: the launcher, the toolkit's
environment, host names, failures, and what is refused."""

from __future__ import annotations

import io
import json
import socket
import sys
import tarfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from sagebox.errors import ValidationError
from sagebox.runtime import script_mode
from sagebox.runtime.logs import JobLogs
from sagebox.runtime.processes import namespace_mode
from sagebox.session import Session

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
BUCKET = "scripts"


def _tar(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = textwrap.dedent(content).encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _put(session: Session, key: str, data: bytes) -> str:
    objects = session.home.objects
    if not objects.bucket_exists(BUCKET):
        objects.create_bucket(BUCKET)
    objects.put_object(BUCKET, key, data)
    return f"s3://{BUCKET}/{key}"


def _request(
    session: Session,
    name: str,
    submit: str,
    *,
    image: str = "sagebox/sklearn",
    program: str = '"train.py"',
    hyperparameters: dict[str, str] | None = None,
    channels: list[dict[str, Any]] | None = None,
    instance_count: int = 1,
) -> dict[str, Any]:
    """A request in boto3's shape, hyperparameters JSON-quoted as the SageMaker SDK sends."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "RoleArn": session.get_execution_role(),
        "HyperParameters": {
            "sagemaker_program": program,
            "sagemaker_submit_directory": json.dumps(submit),
            "sagemaker_container_log_level": "20",
            "sagemaker_region": '"us-east-1"',
            "sagemaker_job_name": json.dumps(name),
            **(hyperparameters or {}),
        },
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.large",
            "InstanceCount": instance_count,
            "VolumeSizeInGB": 1,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        **({"InputDataConfig": channels} if channels else {}),
    }


def _channel(name: str, uri: str, distribution: str = "FullyReplicated") -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": distribution,
            }
        },
    }


def _wait(session: Session, name: str, timeout: float = 120) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        described = session.control.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        assert time.monotonic() < end, f"{name} still {described['TrainingJobStatus']}"
        time.sleep(0.1)


def _model_files(session: Session, described: dict[str, Any]) -> dict[str, bytes]:
    uri = described["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(session.home.objects.get_object(bucket, key))) as tar:
        return {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }


def _reports(session: Session, name: str) -> dict[str, dict[str, Any]]:
    """The ``REPORT {...}`` line each instance printed, by host."""
    found = {}
    for line in JobLogs(session.home.path, "training-job", name).read():
        if line.text.startswith("REPORT "):
            found[line.stream.rsplit("/", 1)[-1]] = json.loads(line.text[len("REPORT ") :])
    return found


ENV_SCRIPT = """
    import json, os, socket, sys
    from pathlib import Path
    import helper  # a module next to the script: /opt/ml/code is on sys.path

    model_dir = Path(os.environ["SM_MODEL_DIR"])
    seen = sorted(p.name for p in Path(os.environ["SM_CHANNEL_TRAIN"]).iterdir())
    report = {
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "host": os.environ["SM_CURRENT_HOST"],
        "hosts": json.loads(os.environ["SM_HOSTS"]),
        "seen": seen,
        "hps": json.loads(os.environ["SM_HPS"]),
        "hp_rate": os.environ.get("SM_HP_LEARNING-RATE"),
        "user_args": json.loads(os.environ["SM_USER_ARGS"]),
        "channels": json.loads(os.environ["SM_CHANNELS"]),
        "module": os.environ["SM_MODULE_NAME"],
        "module_dir": os.environ["SM_MODULE_DIR"],
        "training_env": json.loads(os.environ["SM_TRAINING_ENV"]),
        "log_level": os.environ["SM_LOG_LEVEL"],
        "algo2": socket.gethostbyname("algo-2") if os.environ["SM_HOSTS"].count(",") else None,
        "helper": helper.VALUE,
        "distributed": os.environ.get("WORLD_SIZE"),
    }
    print("REPORT " + json.dumps(report), flush=True)
    (model_dir / "host.txt").write_text(report["host"])
"""


def test_a_boto3_request_runs_the_script_with_the_toolkit_environment(session: Session) -> None:
    submit = _put(
        session, "env/sourcedir.tar.gz", _tar({"train.py": ENV_SCRIPT, "helper.py": "VALUE = 7\n"})
    )
    _put(session, "data/a.csv", b"1,2\n")
    request = _request(
        session,
        "env-1",
        submit,
        hyperparameters={"learning-rate": "0.5", "epochs": "3", "kernel": '"rbf"', "v": "true"},
        channels=[_channel("train", f"s3://{BUCKET}/data/")],
    )
    session.control.create_training_job(**request)
    described = _wait(session, "env-1")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    report = _reports(session, "env-1")["algo-1"]
    # hyperparameters decoded from JSON and passed as the toolkit passes them: sorted
    assert report["argv"] == [
        "--epochs", "3", "--kernel", "rbf", "--learning-rate", "0.5", "-v", "True",
    ]  # fmt: skip
    assert report["user_args"] == report["argv"]
    assert report["hps"] == {"learning-rate": 0.5, "epochs": 3, "kernel": "rbf", "v": True}
    assert report["hp_rate"] == "0.5"
    assert report["channels"] == ["train"]  # the source directory is no channel
    assert report["seen"] == ["a.csv"]
    assert report["module"] == "train"
    assert report["module_dir"] == submit
    assert report["log_level"] == "20"
    assert report["helper"] == 7
    assert report["distributed"] is None
    env = report["training_env"]
    assert env["hosts"] == ["algo-1"] and env["current_host"] == "algo-1"
    assert env["hyperparameters"] == report["hps"]
    assert env["job_name"] == "env-1"
    assert env["user_entry_point"] == "train.py"
    assert set(env["channel_input_dirs"]) == {"train"}
    if namespace_mode() is not None:
        assert report["cwd"] == "/opt/ml/code"
        assert env["model_dir"] == "/opt/ml/model"
    assert _model_files(session, described)["host.txt"] == b"algo-1"


def test_raw_unquoted_hyperparameters_work_too(session: Session) -> None:
    submit = _put(
        session, "raw/sourcedir.tar.gz", _tar({"train.py": ENV_SCRIPT, "helper.py": "VALUE=1\n"})
    )
    _put(session, "data/a.csv", b"1\n")
    request = _request(
        session, "raw-1", submit, program="train.py", hyperparameters={"kernel": "rbf"}
    )
    request["HyperParameters"]["sagemaker_submit_directory"] = submit  # not JSON-quoted
    request["InputDataConfig"] = [_channel("train", f"s3://{BUCKET}/data/")]
    session.control.create_training_job(**request)
    described = _wait(session, "raw-1")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert _reports(session, "raw-1")["algo-1"]["argv"] == ["--kernel", "rbf"]


def test_two_instances_have_their_host_names_and_their_shards(session: Session) -> None:
    if namespace_mode() is None:
        pytest.skip("host names resolve only inside a mount namespace")
    submit = _put(
        session, "two/sourcedir.tar.gz", _tar({"train.py": ENV_SCRIPT, "helper.py": "VALUE=2\n"})
    )
    for index in range(4):
        _put(session, f"shards/part-{index}.csv", f"{index}\n".encode())
    request = _request(
        session,
        "two-1",
        submit,
        instance_count=2,
        channels=[_channel("train", f"s3://{BUCKET}/shards/", "ShardedByS3Key")],
    )
    session.control.create_training_job(**request)
    described = _wait(session, "two-1")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    reports = _reports(session, "two-1")
    assert {host: r["host"] for host, r in reports.items()} == {
        "algo-1": "algo-1",
        "algo-2": "algo-2",
    }
    assert all(r["hosts"] == ["algo-1", "algo-2"] for r in reports.values())
    assert reports["algo-1"]["seen"] == ["part-0.csv", "part-2.csv"]
    assert reports["algo-2"]["seen"] == ["part-1.csv", "part-3.csv"]
    assert reports["algo-1"]["algo2"] == "127.0.0.1"  # algo-2 resolves inside the instance
    assert _model_files(session, described)["host.txt"] == b"algo-1"  # the first's model


def test_a_failing_script_reports_the_error_like_sagemaker(session: Session) -> None:
    script = """
        import sys
        def load(path):
            raise ValueError(f"could not parse {path}")
        print("starting", flush=True)
        load("data.csv")
    """
    submit = _put(session, "fail/sourcedir.tar.gz", _tar({"train.py": script}))
    session.control.create_training_job(
        **_request(session, "fail-1", submit, hyperparameters={"epochs": "2"})
    )
    described = _wait(session, "fail-1")
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError: ExitCode 1")
    assert "ValueError: could not parse data.csv" in reason
    assert 'Command "python train.py --epochs 2"' in reason


def test_a_hostile_source_archive_is_refused(session: Session) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = b"print('hi')\n"
        info = tarfile.TarInfo("train.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        evil = tarfile.TarInfo("../../escaped.py")
        evil.size = len(data)
        tar.addfile(evil, io.BytesIO(data))
    submit = _put(session, "evil/sourcedir.tar.gz", buffer.getvalue())
    session.control.create_training_job(**_request(session, "evil-1", submit))
    described = _wait(session, "evil-1")
    assert described["TrainingJobStatus"] == "Failed"
    assert "Refusing the source archive sourcedir.tar.gz" in described["FailureReason"]
    assert "'../../escaped.py'" in described["FailureReason"]


def test_extract_source_refuses_links_and_absolute_paths(tmp_path: Path) -> None:
    for member in ("link", "/etc/passwd-copy"):
        archive = tmp_path / "sourcedir.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            info = tarfile.TarInfo(member)
            if member == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = 1
                tar.addfile(info, io.BytesIO(b"x"))
        with pytest.raises(script_mode.LaunchError, match="Refusing"):
            script_mode.extract_source(archive, tmp_path / "code")
        assert not (tmp_path / "code").exists()  # nothing written before the check


def test_a_missing_requirement_fails_with_its_name(session: Session) -> None:
    files = {
        "train.py": "print('never runs')\n",
        "requirements.txt": "numpy\nsagebox-no-such-package==1.0  # pinned\n",
    }
    submit = _put(session, "req/sourcedir.tar.gz", _tar(files))
    session.control.create_training_job(**_request(session, "req-1", submit))
    described = _wait(session, "req-1")
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "InstallRequirementsError" in reason
    assert "sagebox-no-such-package==1.0" in reason
    assert "does not pip-install" in reason


def test_a_framework_image_without_a_program_is_refused(session: Session) -> None:
    request = _request(session, "noprog", f"s3://{BUCKET}/x/sourcedir.tar.gz")
    del request["HyperParameters"]["sagemaker_program"]
    with pytest.raises(ValidationError, match="sagemaker_program") as caught:
        session.control.create_training_job(**request)
    assert "entry_point" in caught.value.message
    request = _request(session, "nosub", f"s3://{BUCKET}/x/sourcedir.tar.gz")
    request["HyperParameters"]["sagemaker_submit_directory"] = '"/home/me/code"'
    with pytest.raises(ValidationError, match="sagemaker_submit_directory"):
        session.control.create_training_job(**request)
    request = _request(session, "mpi", f"s3://{BUCKET}/x/sourcedir.tar.gz", image=SKLEARN)
    request["HyperParameters"]["sagemaker_mpi_enabled"] = "true"
    with pytest.raises(ValidationError, match="MPI"):
        session.control.create_training_job(**request)


def test_pytorch_jobs_say_when_torch_is_missing(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # find_spec("torch") is None
    request = _request(session, "notorch", f"s3://{BUCKET}/x/sourcedir.tar.gz")
    request["AlgorithmSpecification"]["TrainingImage"] = "sagebox/pytorch"
    with pytest.raises(ValidationError, match="PyTorch is not installed in this sagebox") as c:
        session.control.create_training_job(**request)
    assert "pip install torch" in c.value.message


def test_settings_decode_like_the_toolkit() -> None:
    quoted = script_mode.ScriptSettings.from_hyperparameters(
        {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://bkt/j/source/sourcedir.tar.gz"',
            "sagemaker_pytorch_ddp_enabled": "true",
            "sagemaker_custom": '"x"',
            "alpha": "0.1",
            "layers": "[1, 2]",
            "opts": '{"b": 2, "a": 1}',
        }
    )
    assert quoted.program == "train.py" and quoted.module_name == "train"
    assert quoted.distributed
    assert quoted.framework_parameters == {
        "sagemaker_pytorch_ddp_enabled": True,
        "sagemaker_custom": "x",
    }
    assert script_mode.to_cmd_args(quoted.hyperparameters) == [
        "--alpha", "0.1", "--layers", "[1, 2]", "--opts", "a=1,b=2",
    ]  # fmt: skip
    with pytest.raises(ValidationError, match="inside the source directory"):
        script_mode.ScriptSettings.from_hyperparameters(
            {"sagemaker_program": "../x.py", "sagemaker_submit_directory": "s3://bkt/k"}
        )
    assert script_mode.wants_script_mode("algorithm", True, {"sagemaker_program": "t.py"})
    assert not script_mode.wants_script_mode("algorithm", True, {"num_round": "3"})
    assert script_mode.wants_script_mode("framework", True, {})


def test_a_stop_request_stops_the_script(session: Session) -> None:
    script = "import time\nprint('ready', flush=True)\ntime.sleep(120)\n"
    submit = _put(session, "stop/sourcedir.tar.gz", _tar({"train.py": script}))
    session.control.create_training_job(**_request(session, "stop-1", submit))
    logs = JobLogs(session.home.path, "training-job", "stop-1")
    end = time.monotonic() + 60
    while not any(line.text == "ready" for line in logs.read()):
        assert time.monotonic() < end, "the script never started"
        time.sleep(0.1)
    session.control.stop_training_job(TrainingJobName="stop-1")
    described = _wait(session, "stop-1", timeout=60)
    assert described["TrainingJobStatus"] == "Stopped"


def test_the_launcher_without_a_mount_namespace(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The SM_* paths point into the instance folder; torchrun's variables are set."""
    root = tmp_path / "algo-2"
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (root / "input" / "data" / "train").mkdir(parents=True)
    hyperparameters = {
        "sagemaker_program": '"run.py"',
        "sagemaker_submit_directory": '"s3://code-bucket/job/source/sourcedir.tar.gz"',
        "sagemaker_torch_distributed_enabled": "true",
        "lr": "0.1",
    }
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps({"train": {}}))
    resource = {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}
    (config / "resourceconfig.json").write_text(json.dumps(resource))
    source = root / "input" / "source"
    source.mkdir()
    script = """
        import json, os
        keys = ["MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK",
                "SM_CHANNEL_TRAIN", "SM_CURRENT_HOST"]
        found = {k: os.environ.get(k) for k in keys}
        found["cwd"] = os.getcwd()
        with open(os.path.join(os.environ["SM_MODEL_DIR"], "env.json"), "w") as f:
            json.dump(found, f)
    """
    (source / "sourcedir.tar.gz").write_bytes(_tar({"run.py": script}))
    env = {
        "PATH": "/usr/bin:/bin",
        "SM_INPUT_DIR": str(root / "input"),
        "SM_INPUT_CONFIG_DIR": str(config),
        "SM_MODEL_DIR": str(root / "model"),
        "SM_OUTPUT_DIR": str(root / "output"),
        "SM_OUTPUT_DATA_DIR": str(root / "output" / "data"),
        "SM_CURRENT_HOST": "algo-2",
        "SAGEBOX_MASTER_PORT": "29123",
    }
    assert script_mode.launch(None, env) == 0
    found = json.loads((root / "model" / "env.json").read_text())
    assert found["cwd"] == str(root / "code")
    assert found["SM_CHANNEL_TRAIN"] == str(root / "input" / "data" / "train")
    assert found["SM_CURRENT_HOST"] == "algo-2"
    assert (found["RANK"], found["WORLD_SIZE"], found["LOCAL_RANK"]) == ("1", "2", "0")
    assert found["MASTER_PORT"] == "29123"
    try:
        socket.gethostbyname("algo-1")
    except OSError:  # outside an instance's namespace the name does not resolve
        assert found["MASTER_ADDR"] == "127.0.0.1"
        assert "does not resolve" in capfd.readouterr().out
    else:
        assert found["MASTER_ADDR"] == "algo-1"
