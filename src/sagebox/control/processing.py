"""SageMaker Processing jobs: Create, Describe, List, Stop.

A processing job runs the program named by ``AppSpecification`` on ``InstanceCount``
instances; ``ProcessingInputs`` are staged under ``/opt/ml/processing/...`` and
``ProcessingOutputConfig`` folders are uploaded to S3 at the end or continuously.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from sagebox.control import jobs
from sagebox.control.context import Context
from sagebox.control.execution_role import check_execution_role
from sagebox.errors import ValidationError
from sagebox.home import Home
from sagebox.runtime.images import resolve_image
from sagebox.runtime.instance_types import instance_profile
from sagebox.runtime.spec import InputChannel, JobSpec, OutputChannel
from sagebox.store.metadata.documents import jsonable
from sagebox.store.objects import parse_s3_uri

PROCESSING = jobs.register(
    jobs.JobKind(
        kind="processing-job",
        title="Processing job",
        name_field="ProcessingJobName",
        arn_field="ProcessingJobArn",
        status_field="ProcessingJobStatus",
        start_field="ProcessingStartTime",
        end_field="ProcessingEndTime",
    )
)
LOCAL_ROOT = "/opt/ml/processing/"
_PYTHONS = {"python", "python3", f"python3.{sys.version_info.minor}"}
SUMMARY_FIELDS = (
    "ProcessingJobName",
    "ProcessingJobArn",
    "CreationTime",
    "ProcessingEndTime",
    "LastModifiedTime",
    "ProcessingJobStatus",
    "FailureReason",
    "ExitMessage",
)


def reporter(home: Home, spec: JobSpec) -> jobs.JobStateReporter:
    """The JobReporter a processing job's supervisor loads (see JobSpec.reporter)."""
    return jobs.JobStateReporter(home, PROCESSING, spec.name, spec.arn)


def _local_path(path: str, where: str) -> str:
    if not path.startswith(LOCAL_ROOT) or ".." in path.split("/"):
        raise ValidationError(
            f"{where}.LocalPath {path!r} must be a path under {LOCAL_ROOT} "
            f"(for example {LOCAL_ROOT}input/data)."
        )
    return path.rstrip("/")


def _check_unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValidationError(f"{what} {value!r} is used twice; each must be unique.")
        seen.add(value)


def _inputs(request: Mapping[str, Any]) -> tuple[InputChannel, ...]:
    channels = []
    for index, item in enumerate(request.get("ProcessingInputs", [])):
        where = f"ProcessingInputs.{index + 1}"
        if item.get("AppManaged"):
            continue
        s3 = item.get("S3Input")
        if s3 is None:
            raise ValidationError(
                f"{where} ('{item['InputName']}') has no S3Input. sagebox stages S3 inputs; "
                "DatasetDefinition inputs (Athena, Redshift) are not supported."
            )
        if s3.get("S3InputMode", "File") != "File":
            raise ValidationError(
                f"{where}.S3Input.S3InputMode {s3['S3InputMode']!r} is not supported for "
                "processing jobs in sagebox; use 'File'."
            )
        if s3.get("S3CompressionType", "None") != "None":
            raise ValidationError(
                f"{where}.S3Input.S3CompressionType 'Gzip' needs S3InputMode 'Pipe'; "
                "use 'None' with File mode."
            )
        parse_s3_uri(s3["S3Uri"])
        channels.append(
            InputChannel(
                name=item["InputName"],
                s3_uri=s3["S3Uri"],
                container_path=_local_path(s3["LocalPath"], f"{where}.S3Input"),
                distribution=s3.get("S3DataDistributionType", "FullyReplicated"),
                data_type=s3["S3DataType"],
            )
        )
    return tuple(channels)


def _outputs(request: Mapping[str, Any]) -> tuple[OutputChannel, ...]:
    channels = []
    config = request.get("ProcessingOutputConfig", {})
    for index, item in enumerate(config.get("Outputs", [])):
        where = f"ProcessingOutputConfig.Outputs.{index + 1}"
        if item.get("AppManaged"):
            continue
        s3 = item.get("S3Output")
        if s3 is None:
            raise ValidationError(
                f"{where} ('{item['OutputName']}') has no S3Output; FeatureStoreOutput is "
                "not supported yet."
            )
        parse_s3_uri(s3["S3Uri"])
        channels.append(
            OutputChannel(
                name=item["OutputName"],
                container_path=_local_path(s3["LocalPath"], f"{where}.S3Output"),
                s3_uri=s3["S3Uri"],
                upload_mode=s3["S3UploadMode"],
            )
        )
    return tuple(channels)


def _command(request: Mapping[str, Any]) -> tuple[str, ...]:
    app = request["AppSpecification"]
    image = resolve_image(app["ImageUri"])
    entrypoint = list(app.get("ContainerEntrypoint", []))
    if not entrypoint:
        raise ValidationError(
            f"AppSpecification.ContainerEntrypoint is required for the image {image.uri!r}: "
            "it has no default entrypoint. Give the command to run, e.g. "
            '["python3", "/opt/ml/processing/input/code/preprocess.py"].'
        )
    if entrypoint[0] in _PYTHONS:
        entrypoint[0] = sys.executable  # the framework image runs the platform's Python
    return (*entrypoint, *app.get("ContainerArguments", []))


def create(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["ProcessingJobName"]
    resources = request["ProcessingResources"]["ClusterConfig"]
    instance_profile(resources["InstanceType"])
    inputs, outputs = _inputs(request), _outputs(request)
    _check_unique([i["InputName"] for i in request.get("ProcessingInputs", [])], "InputName")
    _check_unique(
        [o["OutputName"] for o in request.get("ProcessingOutputConfig", {}).get("Outputs", [])],
        "OutputName",
    )
    _check_unique(
        [c.container_path for c in inputs] + [c.container_path for c in outputs], "LocalPath"
    )
    command = _command(request)
    count = int(resources["InstanceCount"])
    ctx.executor.check_fits(count)
    check_execution_role(ctx, request["RoleArn"])

    arn = ctx.home.arn("sagemaker", f"processing-job/{name.lower()}")
    now = ctx.now()  # one instant for the document and the store's CreationTime column
    document = {
        **jsonable({k: v for k, v in request.items() if k != "Tags"}),
        "ProcessingJobArn": arn,
        "ProcessingJobStatus": "InProgress",
        "CreationTime": now.isoformat(),
    }
    max_runtime = request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    spec = JobSpec(
        kind=PROCESSING.kind,
        name=name,
        arn=arn,
        home=str(ctx.home.path),
        role_arn=request["RoleArn"],
        instance_type=resources["InstanceType"],
        instance_count=count,
        command=command,
        reporter="sagebox.control.processing:reporter",
        access="sagebox.control.job_access:role_objects",
        environment=dict(request.get("Environment", {})),
        inputs=inputs,
        outputs=outputs,
        max_runtime_seconds=max_runtime,
        config_files={"/opt/ml/config/processingjobconfig.json": document},
        network_isolation=bool(
            request.get("NetworkConfig", {}).get("EnableNetworkIsolation", False)
        ),
        stop_grace_seconds=ctx.home.config.stop_grace_seconds,
    )
    return jobs.start_job(ctx, PROCESSING, request, document, spec, now)


describe = jobs.describe_handler(PROCESSING)
list_jobs = jobs.list_handler(PROCESSING, "ProcessingJobSummaries", SUMMARY_FIELDS)
stop = jobs.stop_handler(PROCESSING)
