"""SageMaker training jobs: Create, Describe, List, Stop.

A training job runs a built-in algorithm (``AlgorithmSpecification.TrainingImage`` is
an algorithm's ECR URI or short name, e.g. ``sagebox/xgboost``) on ``InstanceCount``
instances by the container contract: channels staged under ``/opt/ml/input/data``,
hyperparameters in ``/opt/ml/input/config``, the model in ``/opt/ml/model`` packed as
``model.tar.gz`` under ``OutputDataConfig.S3OutputPath``. Metrics are read from the log
with the algorithm's metric definitions (and the request's ``MetricDefinitions``).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sagebox.control import jobs
from sagebox.control.context import Context
from sagebox.control.execution_role import check_execution_role
from sagebox.errors import ValidationError
from sagebox.home import Home
from sagebox.runtime.images import resolve_image
from sagebox.runtime.instance_types import instance_profile
from sagebox.runtime.reporting import Outcome
from sagebox.runtime.spec import InputChannel, JobSpec, MetricDefinition
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

    def finished(self, outcome: Outcome) -> None:
        latest: dict[str, Any] = {}
        for point in self.home.metadata.get_metrics(self.arn):
            latest[point.name] = point
        final = [
            {"MetricName": p.name, "Value": p.value, "Timestamp": p.timestamp.isoformat()}
            for p in latest.values()
        ]
        super().finished(outcome)

        def mutate(status: str | None, doc: dict[str, Any]) -> str | None:
            if "TrainingTimeInSeconds" in doc or status not in jobs.TERMINAL:
                return None  # already recorded (a reconciled job can finish twice)
            start = datetime.fromisoformat(doc[TRAINING.start_field])
            end = datetime.fromisoformat(doc[TRAINING.end_field])
            seconds = max(1, round((end - start).total_seconds()))
            doc["TrainingTimeInSeconds"] = seconds
            doc["BillableTimeInSeconds"] = seconds * int(
                doc["ResourceConfig"].get("InstanceCount", 1)
            )
            if final:
                doc["FinalMetricDataList"] = final
            doc["SecondaryStatus"] = status
            transitions = list(doc.get("SecondaryStatusTransitions", []))
            stamp = doc[TRAINING.end_field]
            if transitions and "EndTime" not in transitions[-1]:
                transitions[-1] = {**transitions[-1], "EndTime": stamp}
            message = {
                "Completed": "Training job completed",
                "Failed": outcome.failure_reason or "Training job failed",
                "Stopped": outcome.exit_message or "Training job stopped",
            }[str(status)]
            transitions.append(
                {
                    "Status": status,
                    "StartTime": stamp,
                    "EndTime": stamp,
                    "StatusMessage": message[:1024],
                }
            )
            doc["SecondaryStatusTransitions"] = transitions
            return status

        self._update(mutate)


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
        if channel_mode != "File":
            raise ValidationError(
                f"{where} ('{name}'): TrainingInputMode {channel_mode!r} is not supported by "
                "sagebox yet; use 'File'."
            )
        if item.get("CompressionType", "None") != "None":
            raise ValidationError(
                f"{where} ('{name}'): CompressionType 'Gzip' is for Pipe mode; with File "
                "mode, upload gzip files and the algorithm reads them."
            )
        parse_s3_uri(source["S3Uri"])
        channels.append(
            InputChannel(
                name=name,
                s3_uri=source["S3Uri"],
                container_path=f"{DATA_ROOT}/{name}",
                distribution=source.get("S3DataDistributionType", "FullyReplicated"),
                data_type=source["S3DataType"]
                if source["S3DataType"] != "AugmentedManifestFile"
                else "ManifestFile",
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


def create(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["TrainingJobName"]
    algorithm_spec = request["AlgorithmSpecification"]
    image_uri = algorithm_spec.get("TrainingImage")
    if not image_uri:
        raise ValidationError(
            "AlgorithmSpecification.TrainingImage is required (sagebox runs built-in "
            "algorithms; AlgorithmName for marketplace algorithms is not supported)."
        )
    image = resolve_image(image_uri)
    if image.entry.kind != "algorithm" or image.entry.module is None:
        raise ValidationError(
            f"The image {image_uri!r} is a framework image; training jobs in sagebox run "
            "built-in algorithms so far (e.g. sagebox.image_uris.retrieve('xgboost', "
            "region, '1.7-1')). Script mode comes with the framework estimators."
        )
    algorithm = importlib.import_module(image.entry.module)
    hyperparameters = dict(request.get("HyperParameters", {}))
    algorithm.validate_hyperparameters(hyperparameters)
    resources = request["ResourceConfig"]
    instance_profile(resources["InstanceType"])
    count = int(resources["InstanceCount"])
    ctx.executor.check_fits(count)
    channels, channel_config = _channels(request)
    output_path = request["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    parse_s3_uri(output_path)
    check_execution_role(ctx, request["RoleArn"])

    metrics = [MetricDefinition(m["Name"], m["Regex"]) for m in algorithm.METRIC_DEFINITIONS]
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
        command=(sys.executable, "-m", image.entry.module),
        reporter="sagebox.control.training:reporter",
        access="sagebox.control.job_access:role_objects",
        environment=dict(request.get("Environment", {})),
        inputs=channels,
        max_runtime_seconds=request.get("StoppingCondition", {}).get("MaxRuntimeInSeconds"),
        metric_definitions=tuple(metrics),
        config_files={
            "/opt/ml/input/config/hyperparameters.json": hyperparameters,
            "/opt/ml/input/config/inputdataconfig.json": channel_config,
        },
        network_isolation=bool(request.get("EnableNetworkIsolation", False)),
        stop_grace_seconds=ctx.home.config.stop_grace_seconds,
        model_uri=f"{output_path}/{name}/output/model.tar.gz",
    )
    return jobs.start_job(ctx, TRAINING, request, document, spec, now)


describe = jobs.describe_handler(TRAINING)
list_jobs = jobs.list_handler(TRAINING, "TrainingJobSummaries", SUMMARY_FIELDS)
stop = jobs.stop_handler(TRAINING)
