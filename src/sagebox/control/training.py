"""SageMaker training jobs: Create, Describe, List, Stop.

A training job runs a built-in algorithm (``AlgorithmSpecification.TrainingImage`` is
an algorithm's ECR URI or short name, e.g. ``sagebox/xgboost``) on ``InstanceCount``
instances by the container contract: channels staged under ``/opt/ml/input/data``,
hyperparameters in ``/opt/ml/input/config``, the model in ``/opt/ml/model`` packed as
``model.tar.gz`` under ``OutputDataConfig.S3OutputPath``. Metrics are read from the log
with the algorithm's metric definitions (and the request's ``MetricDefinitions``).
A framework image (sklearn, pytorch; xgboost with ``sagemaker_program``) runs the user's
script instead: script mode, see :mod:`sagebox.runtime.script_mode`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sagebox.control import jobs, shapes
from sagebox.control.context import Context
from sagebox.control.execution_role import check_execution_role
from sagebox.errors import ValidationError
from sagebox.experiments import try_log_training_job
from sagebox.home import Home
from sagebox.runtime import script_mode
from sagebox.runtime.images import ResolvedImage, resolve_image
from sagebox.runtime.instance_types import instance_profile
from sagebox.runtime.reporting import Outcome
from sagebox.runtime.spec import InputChannel, JobSpec, MetricDefinition, OutputChannel
from sagebox.store.metadata.documents import jsonable
from sagebox.store.objects import parse_s3_uri

TRAINING = jobs.register(
    jobs.JobKind(
        kind="training-job",
        title="Training job",
        name_field="TrainingJobName",
        arn_field="TrainingJobArn",
        status_field="TrainingJobStatus",
        start_field="TrainingStartTime",
        end_field="TrainingEndTime",
        secondary_field="SecondaryStatus",
    )
)
SUMMARY_FIELDS = (
    "TrainingJobName",
    "TrainingJobArn",
    "CreationTime",
    "TrainingEndTime",
    "LastModifiedTime",
    "TrainingJobStatus",
    "SecondaryStatus",
)
DATA_ROOT = "/opt/ml/input/data"


class TrainingReporter(jobs.JobStateReporter):
    """Adds what a finished training job reports: final metrics, times, transitions."""

    def __init__(self, home: Home, spec: JobSpec) -> None:
        super().__init__(home, TRAINING, spec.name, spec.arn)

    def finalize(self, outcome: Outcome, doc: dict[str, Any]) -> None:
        latest: dict[str, Any] = {}
        for point in self.home.metadata.get_metrics(self.arn):
            latest[point.name] = point
        if latest:
            doc["FinalMetricDataList"] = [
                {"MetricName": p.name, "Value": p.value, "Timestamp": p.timestamp.isoformat()}
                for p in latest.values()
            ]
        start = datetime.fromisoformat(doc[TRAINING.start_field])
        end = datetime.fromisoformat(doc[TRAINING.end_field])
        seconds = max(1, round((end - start).total_seconds()))
        doc["TrainingTimeInSeconds"] = seconds
        doc["BillableTimeInSeconds"] = seconds * int(doc["ResourceConfig"].get("InstanceCount", 1))
        status = outcome.status
        doc["SecondaryStatus"] = status
        transitions = list(doc.get("SecondaryStatusTransitions", []))
        stamp = doc[TRAINING.end_field]
        if transitions and "EndTime" not in transitions[-1]:
            transitions[-1] = {**transitions[-1], "EndTime": stamp}
        message = {
            "Completed": "Training job completed",
            "Failed": outcome.failure_reason or "Training job failed",
            "Stopped": outcome.exit_message or "Training job stopped",
        }[status]
        message = message[:1024]
        transitions.append(
            {"Status": status, "StartTime": stamp, "EndTime": stamp, "StatusMessage": message}
        )
        doc["SecondaryStatusTransitions"] = transitions

    def released(self) -> None:
        # After the final state is visible and the job's capacity is free: logging delays
        # no one, and never fails the job.
        try_log_training_job(self.home, self.name)


def reporter(home: Home, spec: JobSpec) -> TrainingReporter:
    """The JobReporter a training job's supervisor loads (see JobSpec.reporter)."""
    return TrainingReporter(home, spec)


def _channels(request: Mapping[str, Any]) -> tuple[tuple[InputChannel, ...], dict[str, Any]]:
    channels, config = [], {}
    mode = request["AlgorithmSpecification"].get("TrainingInputMode", "File")
    for index, item in enumerate(request.get("InputDataConfig", [])):
        where = f"InputDataConfig.{index + 1}"
        name = item["ChannelName"]
        source = item["DataSource"].get("S3DataSource")
        if source is None:
            raise ValidationError(
                f"{where} ('{name}') has no S3DataSource; sagebox reads channels from S3."
            )
        channel_mode = item.get("InputMode", mode)
        compression = item.get("CompressionType", "None")
        if compression != "None" and channel_mode != "Pipe":
            raise ValidationError(
                f"{where} ('{name}'): CompressionType {compression!r} is for Pipe mode, which "
                f"decompresses while streaming; with {channel_mode} mode leave it 'None' and "
                "upload gzip files: the built-in algorithms detect gzip themselves."
            )
        shuffle = item.get("ShuffleConfig")
        if shuffle is not None and channel_mode != "Pipe":
            raise ValidationError(
                f"{where} ('{name}'): ShuffleConfig shuffles the order of S3 objects in Pipe "
                f"mode only; the channel's mode is {channel_mode!r}. Remove it or use 'Pipe'."
            )
        parse_s3_uri(source["S3Uri"])
        if source["S3DataType"] == "AugmentedManifestFile":
            raise ValidationError(
                f"{where} ('{name}'): S3DataType 'AugmentedManifestFile' (JSON lines with "
                "labels, streamed as RecordIO in Pipe mode) is not supported by sagebox; use "
                "'S3Prefix' or a 'ManifestFile' that lists the objects."
            )
        channels.append(
            InputChannel(
                name=name,
                s3_uri=source["S3Uri"],
                container_path=f"{DATA_ROOT}/{name}",
                distribution=source.get("S3DataDistributionType", "FullyReplicated"),
                data_type=source["S3DataType"],
                input_mode=channel_mode,
                compression=compression,
                shuffle_seed=int(shuffle["Seed"]) if shuffle is not None else None,
            )
        )
        config[name] = {
            "ContentType": item.get("ContentType", "text/csv"),
            "TrainingInputMode": channel_mode,
            "S3DistributionType": source.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": item.get("RecordWrapperType", "None"),
        }
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise ValidationError(f"Channel names must be unique; got {names}.")
    return tuple(channels), config


def _checkpoints(request: Mapping[str, Any]) -> tuple[OutputChannel, ...]:
    """CheckpointConfig: the local folder synced with S3 while the job runs."""
    config = request.get("CheckpointConfig")
    if not config:
        return ()
    parse_s3_uri(config["S3Uri"])
    local = config.get("LocalPath") or "/opt/ml/checkpoints"
    if local.rstrip("/") != "/opt/ml/checkpoints":
        raise ValidationError(
            f"CheckpointConfig.LocalPath {local!r} is not supported: sagebox syncs "
            "/opt/ml/checkpoints (SM_CHECKPOINT_DIR). Leave LocalPath unset."
        )
    return (
        OutputChannel(
            name="checkpoints",
            container_path="/opt/ml/checkpoints",
            s3_uri=config["S3Uri"].rstrip("/"),
            upload_mode="Continuous",
        ),
    )


@dataclass(frozen=True)
class _Program:
    """What a training job's instances run, from its image and hyperparameters."""

    command: tuple[str, ...]
    metrics: tuple[MetricDefinition, ...]  # the image's own metric definitions
    inputs: tuple[InputChannel, ...] = ()  # staged besides the channels: script-mode code


def _program(image: ResolvedImage, hyperparameters: dict[str, str]) -> _Program:
    """A built-in algorithm, or the user's script in script mode (docs/script-mode.md)."""
    entry = image.entry
    if script_mode.wants_script_mode(entry.kind, entry.script_mode, hyperparameters):
        settings = script_mode.ScriptSettings.from_hyperparameters(hyperparameters, image.uri)
        missing = script_mode.missing_framework(entry.requires)
        if missing:
            raise ValidationError(f"{missing} (the image {image.uri!r} runs it).")
        code = InputChannel(
            name=script_mode.SOURCE_CHANNEL,
            s3_uri=settings.submit_directory,
            container_path=script_mode.SOURCE_PATH,
        )
        command = (sys.executable, "-m", "sagebox.runtime.script_mode", entry.name)
        return _Program(command, (), (code,))
    if entry.module is None:
        raise ValidationError(
            f"The image {image.uri!r} has no built-in program to run; set the hyperparameters "
            "sagemaker_program and sagemaker_submit_directory to run your script."
        )
    algorithm = importlib.import_module(entry.module)
    algorithm.validate_hyperparameters(hyperparameters)
    metrics = tuple(MetricDefinition(m["Name"], m["Regex"]) for m in algorithm.METRIC_DEFINITIONS)
    return _Program((sys.executable, "-m", entry.module), metrics)


def image_metrics(image_uri: str, hyperparameters: dict[str, str]) -> tuple[MetricDefinition, ...]:
    """The metric definitions a training image brings (none for script mode), after
    checking ``hyperparameters`` as CreateTrainingJob does (tuning jobs check each trial's)."""
    return _program(resolve_image(image_uri), hyperparameters).metrics


def check_request(ctx: Context, request: dict[str, Any]) -> None:
    """Everything CreateTrainingJob checks, creating nothing (a tuning job's trials)."""
    _prepare(ctx, shapes.validate_input("sagemaker", "CreateTrainingJob", request))


def create(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    document, spec, now = _prepare(ctx, request)
    return jobs.start_job(ctx, TRAINING, request, document, spec, now)


def _prepare(ctx: Context, request: dict[str, Any]) -> tuple[dict[str, Any], JobSpec, datetime]:
    """Check a CreateTrainingJob request; the job's document and spec, and its creation time."""
    name = request["TrainingJobName"]
    algorithm_spec = request["AlgorithmSpecification"]
    image_uri = algorithm_spec.get("TrainingImage")
    if not image_uri:
        raise ValidationError(
            "AlgorithmSpecification.TrainingImage is required (sagebox runs built-in "
            "algorithms; AlgorithmName for marketplace algorithms is not supported)."
        )
    hyperparameters = dict(request.get("HyperParameters", {}))
    program = _program(resolve_image(image_uri), hyperparameters)
    resources = request["ResourceConfig"]
    instance_profile(resources["InstanceType"])
    count = int(resources["InstanceCount"])
    if count > 1 and request.get("EnableNetworkIsolation") and not program.inputs:
        raise ValidationError(
            f"A built-in algorithm on {count} instances trains across them over the network, "
            "but EnableNetworkIsolation gives each instance a private network here. Use one "
            "instance, or set EnableNetworkIsolation to false."
        )
    ctx.executor.check_fits(count)
    channels, channel_config = _channels(request)
    output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    parse_s3_uri(output_path)
    check_execution_role(ctx, request["RoleArn"])

    metrics = list(program.metrics)
    metrics += [
        MetricDefinition(m["Name"], m["Regex"]) for m in algorithm_spec.get("MetricDefinitions", [])
    ]
    arn = ctx.home.arn("sagemaker", f"training-job/{name.lower()}")
    now = ctx.now()
    document = {
        **jsonable({k: v for k, v in request.items() if k != "Tags"}),
        "TrainingJobArn": arn,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "SecondaryStatusTransitions": [
            {
                "Status": "Starting",
                "StartTime": now.isoformat(),
                "StatusMessage": "Preparing the instances for training",
            }
        ],
        "CreationTime": now.isoformat(),
        # Where the model is configured to go (AWS always describes it; the object exists
        # once the job has Completed).
        "ModelArtifacts": {"S3ModelArtifacts": f"{output_path}/{name}/output/model.tar.gz"},
    }
    document["AlgorithmSpecification"] = {
        **document["AlgorithmSpecification"],
        "TrainingInputMode": algorithm_spec.get("TrainingInputMode", "File"),
        "MetricDefinitions": [{"Name": m.name, "Regex": m.regex} for m in metrics],
    }
    spec = JobSpec(
        kind=TRAINING.kind,
        name=name,
        arn=arn,
        home=str(ctx.home.path),
        role_arn=request["RoleArn"],
        instance_type=resources["InstanceType"],
        instance_count=count,
        command=program.command,
        reporter="sagebox.control.training:reporter",
        access="sagebox.control.job_access:role_objects",
        environment=dict(request.get("Environment", {})),
        inputs=(*channels, *program.inputs),
        max_runtime_seconds=request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
        metric_definitions=tuple(metrics),
        config_files={
            "/opt/ml/input/config/hyperparameters.json": hyperparameters,
            "/opt/ml/input/config/inputdataconfig.json": channel_config,
        },
        network_isolation=bool(request.get("EnableNetworkIsolation", False)),
        stop_grace_seconds=ctx.home.config.stop_grace_seconds,
        model_uri=f"{output_path}/{name}/output/model.tar.gz",
        output_data_uri=f"{output_path}/{name}/output/output.tar.gz",
        outputs=_checkpoints(request),
        max_retry_attempts=int(request.get("RetryStrategy", {}).get("MaximumRetryAttempts", 0)),
    )
    return document, spec, now


describe = jobs.describe_handler(TRAINING)
list_jobs = jobs.list_handler(TRAINING, "TrainingJobSummaries", SUMMARY_FIELDS)
stop = jobs.stop_handler(TRAINING)
