"""The SDK and the CLI against a running server: signed requests, the same errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sagebox.errors import AccessDenied, ResourceNotFound
from sagebox.runtime.processes import namespace_mode
from sagebox.session import Session
from tests.e2e.conftest import RunningServer


@pytest.fixture
def profile_env(server: RunningServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(server.home_path / "credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.region)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.skipif(namespace_mode() is None, reason="the script uses literal /opt/ml paths")
def test_remote_session_runs_an_sdk_job(
    server: RunningServer, profile_env: None, tmp_path: Path
) -> None:
    from sagebox.sdk.processing import ProcessingOutput, SKLearnProcessor

    local = Session(server.home_path)
    role = local.get_execution_role()
    # The client shares the server's object store (here a folder; in a team, MinIO/S3).
    remote = Session(
        endpoint_url=server.url, profile="default", objects_url=(server.home_path / "s3").as_uri()
    )
    assert remote.account_id == local.account_id
    code = tmp_path / "hello.py"
    code.write_text(
        "import pathlib\npathlib.Path('/opt/ml/processing/out/x.txt').write_text('remote')\n"
    )
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=role,
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=remote,
    )
    job = processor.run(
        code=str(code),
        outputs=[ProcessingOutput(source="/opt/ml/processing/out", output_name="out")],
    )
    assert job.describe()["ProcessingJobStatus"] == "Completed"
    key = f"{job.job_name}/output/out/x.txt"
    assert remote.objects.get_object(remote.default_bucket(), key) == b"remote"
    with pytest.raises(ResourceNotFound):
        remote.control.describe_processing_job(ProcessingJobName="missing")


def test_remote_errors_are_the_same_exceptions(
    server: RunningServer, profile_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    iam = server.client("iam")
    iam.create_user(UserName="viewer")
    key = iam.create_access_key(UserName="viewer")["AccessKey"]
    iam.put_user_policy(
        UserName="viewer",
        PolicyName="read",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sagemaker:List*", "Resource": "*"}],
            }
        ),
    )
    credentials = server.home_path.parent / "viewer-credentials"
    credentials.write_text(
        f"[viewer]\naws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    viewer = Session(endpoint_url=server.url, profile="viewer")
    assert viewer.control.list_processing_jobs()["ProcessingJobSummaries"] == []
    with pytest.raises(AccessDenied, match="viewer is not authorized"):
        viewer.control.describe_processing_job(ProcessingJobName="x")


def test_cli_signs_with_a_profile(server: RunningServer, profile_env: None) -> None:
    from sagebox.cli import app

    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "processing-jobs",
            "list",
            "--endpoint-url",
            server.url,
            "--profile",
            "default",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert '"ProcessingJobSummaries": []' in result.stdout
    bad = runner.invoke(
        app,
        [
            "processing-jobs",
            "describe",
            "ghost",
            "--endpoint-url",
            server.url,
            "--profile",
            "default",
        ],
    )
    assert bad.exit_code == 1
    assert "(ResourceNotFound)" in bad.stderr
