"""The sagebox command: init, processing-jobs, logs, errors, and a fast --help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml
from typer.testing import CliRunner

from sagebox.cli import app
from sagebox.session import Session
from tests.helpers import job_request

runner = CliRunner()


def test_init_creates_a_home_with_private_credentials(tmp_path: Path) -> None:
    home = tmp_path / "h"
    result = runner.invoke(app, ["init", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert f"Created sagebox home {home}" in result.output
    credentials = home / "credentials"
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    text = credentials.read_text()
    assert text.startswith("[default]\naws_access_key_id = AKIA")
    config = json.loads((home / "config.json").read_text())
    assert len(config["account_id"]) == 12 and config["account_id"].isdigit()
    again = runner.invoke(app, ["init", "--home", str(home)])
    assert "Using sagebox home" in again.output
    assert credentials.read_text() == text


def test_credentials_file_works_for_boto3(tmp_path: Path) -> None:
    import boto3

    home = tmp_path / "h"
    runner.invoke(app, ["init", "--home", str(home)])
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "credentials")
    try:
        credentials = boto3.Session(profile_name="default").get_credentials()
    finally:
        del os.environ["AWS_SHARED_CREDENTIALS_FILE"]
    assert credentials is not None and credentials.access_key.startswith("AKIA")


def test_processing_job_from_a_spec_file_then_list_describe_logs(
    home_path: Path, tmp_path: Path
) -> None:
    session = Session(home_path)
    request = job_request(session, "from-spec", "print('spec job ran')\n")
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump(request))
    home = ["--home", str(home_path)]
    created = runner.invoke(
        app, ["processing-jobs", "create", "--spec", str(spec), "--wait", *home]
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["ProcessingJobStatus"] == "Completed"

    listed = runner.invoke(app, ["processing-jobs", "list", "-o", "json", *home])
    summaries = json.loads(listed.stdout)["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in summaries] == ["from-spec"]
    table = runner.invoke(app, ["processing-jobs", "list", *home])
    assert "from-spec" in table.stdout and "Completed" in table.stdout

    described = runner.invoke(app, ["processing-jobs", "describe", "from-spec", *home])
    assert json.loads(described.stdout)["ProcessingJobArn"].endswith(":processing-job/from-spec")
    logs = runner.invoke(app, ["logs", "from-spec", *home])
    assert "from-spec/algo-1  spec job ran" in logs.stdout


def test_flags_build_the_request_and_errors_read_like_aws(home_path: Path) -> None:
    home = ["--home", str(home_path)]
    result = runner.invoke(
        app,
        [
            "processing-jobs",
            "create",
            "--name",
            "bad_name",
            "--image",
            "sagebox/sklearn",
            "--role",
            Session(home_path).get_execution_role(),
            "--entrypoint",
            "python3 -c 'print(1)'",
            *home,
        ],
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "An error occurred (ValidationException) when calling the CreateProcessingJob operation: "
    )
    assert "bad_name" in result.stderr
    missing = runner.invoke(app, ["processing-jobs", "describe", "ghost", *home])
    assert missing.exit_code == 1
    assert "(ResourceNotFound)" in missing.stderr

    ok = runner.invoke(
        app,
        [
            "processing-jobs",
            "create",
            "--name",
            "flags",
            "--image",
            "sagebox/sklearn",
            "--role",
            Session(home_path).get_execution_role(),
            "--entrypoint",
            "python3 -c 'import time; print(\"flag job\"); time.sleep(1)'",
            *home,
        ],
    )
    assert ok.exit_code == 0, ok.output
    follow = runner.invoke(app, ["logs", "flags", "--follow", *home])
    assert "flag job" in follow.stdout
    stop = runner.invoke(app, ["processing-jobs", "stop", "flags", *home])
    assert stop.exit_code == 1 and "only an InProgress job" in stop.stderr


def test_help_is_fast_and_imports_nothing_heavy() -> None:
    code = (
        "import sys, time; t = time.perf_counter(); "
        "from sagebox.cli import app; "
        "heavy = [m for m in ('sqlalchemy', 'botocore', 'boto3', 'pandas', 'sklearn', "
        "'alembic') if m in sys.modules]; print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
    help_run = subprocess.run(
        [sys.executable, "-m", "sagebox", "--help"], capture_output=True, text=True
    )
    assert "processing-jobs" in help_run.stdout
