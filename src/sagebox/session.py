"""``sagebox.Session``: the embedded control plane on a home, for the SDK and scripts."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagebox.control import ControlPlane
from sagebox.errors import BucketAlreadyOwnedByYou, ValidationError
from sagebox.home import Home
from sagebox.store.objects import ObjectStore, parse_s3_uri

if TYPE_CHECKING:
    from sagebox.remote import RemoteControlPlane

TERMINAL = ("Completed", "Failed", "Stopped")


class RuntimeClient:
    """SageMaker Runtime's operations (InvokeEndpoint) on a control plane, embedded or
    remote; errors are sagebox's exceptions either way."""

    def __init__(self, control: ControlPlane | RemoteControlPlane) -> None:
        self.control = control

    def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        return self.control.call("InvokeEndpoint", params, service="sagemaker-runtime")


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
        profile: str | None = None,
        region: str | None = None,
        objects_url: str | None = None,
        default_bucket: str | None = None,
    ) -> None:
        self._default_bucket = default_bucket
        self._objects: ObjectStore | None = None
        self.home: Home | None
        self.control: ControlPlane | RemoteControlPlane
        if endpoint_url is not None:
            # Remote: every operation is a SigV4-signed request to `sagebox server`.
            from sagebox.remote import RemoteControlPlane

            self.home = None
            self.control = RemoteControlPlane(endpoint_url, profile=profile, region=region)
            self._region = self.control.region
            self._account = self.control.caller_arn().split(":")[4]
            if objects_url:
                from sagebox.store.objects import open_object_store

                self._objects = open_object_store(objects_url)
            return
        self.home = home if isinstance(home, Home) else Home.open(home)
        local = ControlPlane(self.home)
        local.reconcile()
        self.control = local
        self._region, self._account = self.home.region, self.home.account_id
        self._objects = self.home.objects

    @property
    def objects(self) -> ObjectStore:
        """The object store: the home's, or for a remote session the one at ``objects_url``."""
        if self._objects is None:
            raise ValidationError(
                "This remote session has no object store. Pass objects_url= (the S3-compatible "
                "store the server uses, e.g. 's3+http://minio:9000'); the server does not "
                "serve S3's API itself yet."
            )
        return self._objects

    def local_home(self) -> Home:
        """The home of an embedded session (job logs are read from it)."""
        if self.home is None:
            raise ValidationError(
                "Job logs are read from the home's folder; a remote session has none. Use "
                "'sagebox logs' on the server's machine."
            )
        return self.home

    @property
    def sagemaker_client(self) -> ControlPlane | RemoteControlPlane:
        """Operations in boto3's shape, e.g. ``sagemaker_client.describe_processing_job(...)``."""
        return self.control

    @property
    def sagemaker_runtime_client(self) -> RuntimeClient:
        """``invoke_endpoint`` in boto3's shape, on this session's control plane."""
        return RuntimeClient(self.control)

    @property
    def region_name(self) -> str:
        return self._region

    @property
    def account_id(self) -> str:
        return self._account

    def default_bucket(self) -> str:
        """``sagemaker-<region>-<account>``, created on first use, as the SageMaker SDK does."""
        name = self._default_bucket or f"sagemaker-{self.region_name}-{self.account_id}"
        with contextlib.suppress(BucketAlreadyOwnedByYou):
            self.objects.create_bucket(name)
        self._default_bucket = name
        return name

    def get_execution_role(self, name: str = "SageboxExecutionRole") -> str:
        """The ARN of an execution role SageMaker may assume, made on first use.

        Like ``sagemaker.get_execution_role()``: the role trusts
        ``sagemaker.amazonaws.com`` and ``glue.amazonaws.com`` (crawlers) and may read and
        write S3 in this home. Create a
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
                    "Principal": {"Service": ["sagemaker.amazonaws.com", "glue.amazonaws.com"]},
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
                self.objects.put_object(bucket, key, file)
            return f"s3://{bucket}/{prefix}"
        if not source.is_file():
            raise ValidationError(f"Cannot upload {str(source)!r}: no such file or folder.")
        key = f"{prefix}/{source.name}".lstrip("/")
        self.objects.put_object(bucket, key, source)
        return f"s3://{bucket}/{key}"

    def download_data(self, path: str | Path, s3_uri: str) -> list[Path]:
        """Download every object under ``s3_uri`` into the folder ``path``."""
        uri = parse_s3_uri(s3_uri)
        target = Path(path)
        written = []
        base = uri.key.rsplit("/", 1)[0] + "/" if "/" in uri.key else ""
        for info in self.objects.iter_objects(uri.bucket, uri.key):
            destination = target / info.key[len(base) :]
            self.objects.download_file(uri.bucket, info.key, destination)
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

    def follow_job(
        self,
        kind: str,
        name: str,
        describe: Callable[[], dict[str, Any]],
        status_field: str,
        *,
        logs: bool = True,
        host_prefix: bool = False,
    ) -> dict[str, Any]:
        """Print the job's log lines as they come (``logs``, with a home on this machine;
        ``[algo-N]`` before each with ``host_prefix``) until it ends; its last description.
        ``kind`` names its log folder: ``training-job``, ``processing-job`` ..."""
        import sys

        from sagebox.runtime.logs import JobLogs

        if logs and self.home is not None:  # log files are on the home's machine
            streams = JobLogs(self.home.path, kind, name)
            for line in streams.follow(lambda: describe()[status_field] in TERMINAL):
                prefix = f"[{line.stream.rsplit('/', 1)[-1]}] " if host_prefix else ""
                print(f"{prefix}{line.text}", file=sys.stdout, flush=True)
        return self.wait_for_job(describe, status_field)
