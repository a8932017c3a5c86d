"""SageMaker batch transform jobs: Create, Describe, List, Stop.

A transform job is a job of the job runner (its supervisor, capacity, logs and Stop, as
for processing and training jobs) whose ``TransformResources.InstanceCount`` instances
run :mod:`sagebox.transform.batch`. Each instance gets the model (``ModelDataUrl``,
unpacked in ``/opt/ml/model``) and its share of the input objects (``ShardedByS3Key``:
dealt round-robin in key order), loads the model in-process through the inference
contract (:class:`sagebox.serving.handlers.InferenceSession`, no HTTP), and writes one
``<input key>.out`` per input file, uploaded under ``TransformOutput.S3OutputPath``. The
job reads and writes S3 as the model's execution role.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from sagebox.control import jobs
from sagebox.control.context import Context
from sagebox.control.transform_request import batch_settings
from sagebox.errors import ValidationError
from sagebox.home import Home
from sagebox.runtime.instance_types import instance_profile
from sagebox.runtime.reporting import Outcome
from sagebox.runtime.spec import InputChannel, JobSpec, MetricDefinition, OutputChannel
from sagebox.serving.deployment import ModelSpec
from sagebox.store.metadata.documents import jsonable
from sagebox.transform.settings import (
    DATA_DIR,
    MANIFEST_DIR,
    MB,
    MODEL_DIR,
    OUTPUT_DIR,
    SETTINGS_FILE,
    BatchSettings,
)

TRANSFORM = jobs.register(
    jobs.JobKind(
        kind="transform-job",
        title="Transform job",
        name_field="TransformJobName",
        arn_field="TransformJobArn",
        status_field="TransformJobStatus",
        start_field="TransformStartTime",
        end_field="TransformEndTime",
    )
)
SUMMARY_FIELDS = (
    "TransformJobName",
    "TransformJobArn",
    "CreationTime",
    "TransformEndTime",
    "LastModifiedTime",
    "TransformJobStatus",
    "FailureReason",
)
# The batch program's closing log line, as a metric of the job (rows/s per instance).
METRICS = (MetricDefinition("transform:records_per_second", r"throughput=([0-9.]+) records/s"),)
_PREFIX = "AlgorithmError: "
_CLIENT = "ClientError: "


class TransformReporter(jobs.JobStateReporter):
    def __init__(self, home: Home, spec: JobSpec) -> None:
        super().__init__(home, TRANSFORM, spec.name, spec.arn)

    def finalize(self, outcome: Outcome, doc: dict[str, Any]) -> None:
        # The batch program says itself when the data is at fault ("ClientError: ...").
        reason = doc.get("FailureReason", "")
        if reason.startswith(_PREFIX + _CLIENT):
            doc["FailureReason"] = reason[len(_PREFIX) :]


def reporter(home: Home, spec: JobSpec) -> TransformReporter:
    """The JobReporter a transform job's supervisor loads (see JobSpec.reporter)."""
    return TransformReporter(home, spec)


def _model(ctx: Context, name: str) -> ModelSpec:
    from sagebox.control.models import model_spec

    model = model_spec(ctx.home, name)
    if not model.role_arn:
        raise ValidationError(
            f"The model {name!r} has no ExecutionRoleArn. A transform job reads its input and "
            "writes its output as the model's execution role: create the model with "
            "ExecutionRoleArn (sagebox.get_execution_role() gives one)."
        )
    return model


def _channels(
    request: Mapping[str, Any], model: ModelSpec, settings: BatchSettings
) -> tuple[InputChannel, ...]:
    """What the job runner stages on each instance before the batch program starts."""
    channels = []
    if model.model_data:
        channels.append(
            InputChannel(
                name="model",
                s3_uri=model.model_data,
                container_path=MODEL_DIR,
                input_mode="FastFile",
            )
        )
    submit = model.environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if settings.code_staged:
        channels.append(
            InputChannel(
                name="code",
                s3_uri=submit,
                container_path=f"{MODEL_DIR}/code",
                input_mode="FastFile",
            )
        )
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    channels.append(
        InputChannel(
            name="transform",
            s3_uri=source["S3Uri"],
            container_path=DATA_DIR,
            distribution="ShardedByS3Key",
            data_type=source["S3DataType"],
            input_mode="FastFile",  # linked in place: nothing copied on a local store
        )
    )
    if settings.manifest:
        channels.append(
            InputChannel(name="manifest", s3_uri=source["S3Uri"], container_path=MANIFEST_DIR)
        )
    return tuple(channels)


def create(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["TransformJobName"]
    model = _model(ctx, request["ModelName"])
    resources = request["TransformResources"]
    profile = instance_profile(resources["InstanceType"])
    count = int(resources["InstanceCount"])
    settings = batch_settings(request, model, profile)
    ctx.executor.check_fits(count)

    arn = ctx.home.arn("sagemaker", f"transform-job/{name.lower()}")
    now = ctx.now()
    document = {
        **jsonable({k: v for k, v in request.items() if k != "Tags"}),
        "TransformJobArn": arn,
        "TransformJobStatus": "InProgress",
        "CreationTime": now.isoformat(),
        # the values in force, as AWS describes them after applying defaults
        "MaxConcurrentTransforms": settings.max_concurrent,
        "MaxPayloadInMB": settings.max_payload_bytes // MB,
        "BatchStrategy": settings.strategy,
    }
    command = [sys.executable, "-m", "sagebox.transform.batch", SETTINGS_FILE, MODEL_DIR]
    command += [DATA_DIR, OUTPUT_DIR]
    if settings.manifest:
        command.append(MANIFEST_DIR)
    spec = JobSpec(
        kind=TRANSFORM.kind,
        name=name,
        arn=arn,
        home=str(ctx.home.path),
        role_arn=str(model.role_arn),
        instance_type=resources["InstanceType"],
        instance_count=count,
        command=tuple(command),
        reporter="sagebox.control.transform:reporter",
        access="sagebox.control.job_access:role_objects",
        environment={**model.environment, **dict(request.get("Environment") or {})},
        inputs=_channels(request, model, settings),
        outputs=(
            OutputChannel(
                name="output",
                container_path=OUTPUT_DIR,
                s3_uri=request["TransformOutput"]["S3OutputPath"].rstrip("/"),
            ),
        ),
        metric_definitions=METRICS,
        config_files={SETTINGS_FILE: jsonable(settings.__dict__)},
        network_isolation=model.network_isolation,
        stop_grace_seconds=ctx.home.config.stop_grace_seconds,
    )
    return jobs.start_job(ctx, TRANSFORM, request, document, spec, now)


describe = jobs.describe_handler(TRANSFORM)
list_jobs = jobs.list_handler(TRANSFORM, "TransformJobSummaries", SUMMARY_FIELDS)
stop = jobs.stop_handler(TRANSFORM)
