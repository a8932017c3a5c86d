"""Helpers for tests that run real processing jobs."""

from __future__ import annotations

import textwrap
import time
from typing import Any

from sagebox.session import Session

CODE = "/opt/ml/processing/input/code"
ROLE = "arn:aws:iam::123456789012:role/TestRole"  # a role in no home: for refusals


def put_script(session: Session, name: str, source: str, bucket: str = "code") -> str:
    objects = session.home.objects
    if not objects.bucket_exists(bucket):
        objects.create_bucket(bucket)
    objects.put_object(bucket, f"{name}/script.py", textwrap.dedent(source).encode())
    return f"s3://{bucket}/{name}/"


def job_request(
    session: Session,
    name: str,
    source: str,
    *,
    instance_count: int = 1,
    instance_type: str = "ml.m5.large",
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    code = put_script(session, name, source)
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "RoleArn": session.get_execution_role(),
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": instance_count,
                "InstanceType": instance_type,
                "VolumeSizeInGB": 1,
            }
        },
        "AppSpecification": {
            "ImageUri": "sagebox/sklearn",
            "ContainerEntrypoint": ["python3", f"{CODE}/script.py"],
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": code,
                    "LocalPath": CODE,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            *(inputs or []),
        ],
    }
    if outputs:
        request["ProcessingOutputConfig"] = {"Outputs": outputs}
    request.update(extra)
    return request


def s3_input(
    name: str, uri: str, local: str, distribution: str = "FullyReplicated"
) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": distribution,
        },
    }


def s3_output(name: str, local: str, uri: str, mode: str = "EndOfJob") -> dict[str, Any]:
    return {
        "OutputName": name,
        "S3Output": {"S3Uri": uri, "LocalPath": local, "S3UploadMode": mode},
    }


def wait(
    session: Session,
    name: str,
    timeout: float = 60,
    statuses: tuple[str, ...] = ("Completed", "Failed", "Stopped"),
) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        description = session.control.describe_processing_job(ProcessingJobName=name)
        if description["ProcessingJobStatus"] in statuses:
            return description
        if time.monotonic() > end:
            raise AssertionError(f"{name} still {description['ProcessingJobStatus']}")
        time.sleep(0.1)
