"""``sagebox.Session``: the embedded control plane on a home, for the SDK and scripts."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagebox.control import ControlPlane
from sagebox.errors import BucketAlreadyOwnedByYou, ValidationError
from sagebox.home import Home
from sagebox.store.objects import parse_s3_uri

TERMINAL = ("Completed", "Failed", "Stopped")


class Session:
    """A home plus its control plane, like ``sagemaker.Session`` is a region plus clients.

    ``Session()`` opens ``$SAGEBOX_HOME`` (or ``~/.sagebox``), creating it on first use,
    and brings every job to a true state (jobs whose process died while nobody
    watched are recorded).
    """

    def __init__(
        self,
        home: str | Path | Home | None = None,
        *,
        endpoint_url: str | None = None,
        default_bucket: str | None = None,
    ) -> None:
        if endpoint_url is not None:
            raise ValidationError(
                "Remote sessions (endpoint_url) need 'sagebox server', which is not part of "
                "this release yet. Use Session(home=...) to run the control plane in-process."
            )
        self.home = home if isinstance(home, Home) else Home.open(home)
        self.control = ControlPlane(self.home)
        self.control.reconcile()
        self._default_bucket = default_bucket

    @property
    def sagemaker_client(self) -> ControlPlane:
        """Operations in boto3's shape, e.g. ``sagemaker_client.describe_processing_job(...)``."""
        return self.control

    @property
    def region_name(self) -> str:
        return self.home.region

    @property
    def account_id(self) -> str:
        return self.home.account_id

    def default_bucket(self) -> str:
        """``sagemaker-<region>-<account>``, created on first use, as the SageMaker SDK does."""
        name = self._default_bucket or f"sagemaker-{self.region_name}-{self.account_id}"
        with contextlib.suppress(BucketAlreadyOwnedByYou):
            self.home.objects.create_bucket(name)
        self._default_bucket = name
        return name

    def get_execution_role(self, name: str = "SageboxExecutionRole") -> str:
        """The ARN of an execution role SageMaker may assume, made on first use.

        Like ``sagemaker.get_execution_role()``: the role trusts
        ``sagemaker.amazonaws.com`` and may read and write S3 in this home. Create a
        narrower role through IAM (``boto3.client("iam", endpoint_url=...)``) for real
        least privilege.
        """
        import json

        from sagebox.errors import EntityAlreadyExists

        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sagemaker.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        access = {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ObjectStorage", "Effect": "Allow", "Action": "s3:*", "Resource": "*"}
            ],
        }
        try:
            role = self.control.call(
                "CreateRole",
                {
                    "RoleName": name,
                    "AssumeRolePolicyDocument": json.dumps(trust),
                    "Description": "sagebox's default execution role",
                },
                service="iam",
            )["Role"]
            self.control.call(
                "PutRolePolicy",
                {
                    "RoleName": name,
                    "PolicyName": "SageboxExecutionAccess",
                    "PolicyDocument": json.dumps(access),
                },
                service="iam",
            )
        except EntityAlreadyExists:
            role = self.control.call("GetRole", {"RoleName": name}, service="iam")["Role"]
        return str(role["Arn"])

    def upload_data(
        self, path: str | Path, bucket: str | None = None, key_prefix: str = "data"
    ) -> str:
        """Upload a file or a folder; returns its S3 URI (as ``sagemaker.Session.upload_data``)."""
        source = Path(path)
        bucket = bucket or self.default_bucket()
        prefix = key_prefix.strip("/")
        if source.is_dir():
            for file in sorted(p for p in source.rglob("*") if p.is_file()):
                key = f"{prefix}/{file.relative_to(source).as_posix()}".lstrip("/")
                self.home.objects.put_object(bucket, key, file)
            return f"s3://{bucket}/{prefix}"
        if not source.is_file():
            raise ValidationError(f"Cannot upload {str(source)!r}: no such file or folder.")
        key = f"{prefix}/{source.name}".lstrip("/")
        self.home.objects.put_object(bucket, key, source)
        return f"s3://{bucket}/{key}"

    def download_data(self, path: str | Path, s3_uri: str) -> list[Path]:
        """Download every object under ``s3_uri`` into the folder ``path``."""
        uri = parse_s3_uri(s3_uri)
        target = Path(path)
        written = []
        base = uri.key.rsplit("/", 1)[0] + "/" if "/" in uri.key else ""
        for info in self.home.objects.iter_objects(uri.bucket, uri.key):
            destination = target / info.key[len(base) :]
            self.home.objects.download_file(uri.bucket, info.key, destination)
            written.append(destination)
        return written

    def wait_for_job(
        self,
        describe: Callable[[], dict[str, Any]],
        status_field: str,
        poll: float = 0.2,
        on_poll: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll ``describe`` until the job is in a final state; returns the last description."""
        while True:
            description = describe()
            if on_poll:
                on_poll(description)
            if description[status_field] in TERMINAL:
                return description
            time.sleep(poll)
