"""A finished training job as the run that records it: the typed view of its document.

SageMaker Experiments files a job as experiment > trial > trial component; in MLflow that
is experiment > parent run (the trial) > run. The names come from the job's
``ExperimentConfig``; a job without one goes to MLflow's "Default" experiment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sagebox.errors import ResourceNotFound, ValidationError
from sagebox.experiments.lineage import ChannelInput
from sagebox.home import Home

# The metadata-store kind of training jobs (sagebox.control.training.TRAINING.kind); the
# literal keeps this package below the control plane that calls it.
TRAINING_KIND = "training-job"
RUN_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Stopped": "KILLED"}
_BAD_NAME_CHARS = re.compile(r"[^\w.\- :/]")


def metric_key(name: str) -> str:
    """``name`` as MLflow accepts metric and param keys (other characters become ``_``)."""
    key = _BAD_NAME_CHARS.sub("_", name).strip("/") or "_"
    return key.replace("//", "/").replace("..", "_")


def _millis(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@dataclass(frozen=True)
class FinishedTrainingJob:
    name: str
    arn: str
    status: str  # Completed / Failed / Stopped
    run_name: str
    start_ms: int
    end_ms: int
    image: str
    instance_type: str
    instance_count: int
    input_mode: str
    output_path: str  # OutputDataConfig.S3OutputPath, without a trailing slash
    experiment_name: str | None = None
    trial_name: str | None = None
    tuning_job_arn: str | None = None  # a tuning job's trial: its run nests under the job's
    failure_reason: str | None = None
    model_uri: str | None = None
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    channels: tuple[ChannelInput, ...] = ()
    final_metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def run_status(self) -> str:
        return RUN_STATUS[self.status]

    @property
    def output_uri(self) -> str:
        """Where ``/opt/ml/output/data`` is uploaded, packed (as SageMaker does)."""
        return f"{self.output_path}/{self.name}/output/output.tar.gz"

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> FinishedTrainingJob:
        name = doc["TrainingJobName"]
        status = doc["TrainingJobStatus"]
        if status not in RUN_STATUS:
            raise ValidationError(
                f"Training job '{name}' is {status}; it is logged to MLflow once it has "
                "finished (Completed, Failed or Stopped). Wait for it, then log it again."
            )
        experiment = doc.get("ExperimentConfig") or {}
        algorithm = doc["AlgorithmSpecification"]
        resources = doc["ResourceConfig"]
        end = doc.get("TrainingEndTime") or doc.get("LastModifiedTime") or doc["CreationTime"]
        start = doc.get("TrainingStartTime") or doc["CreationTime"]
        channels = tuple(
            ChannelInput(
                name=item["ChannelName"],
                s3_uri=item["DataSource"]["S3DataSource"]["S3Uri"],
                data_type=item["DataSource"]["S3DataSource"].get("S3DataType", "S3Prefix"),
            )
            for item in doc.get("InputDataConfig", [])
            if "S3DataSource" in item.get("DataSource", {})
        )
        model = (doc.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        return cls(
            name=name,
            arn=doc["TrainingJobArn"],
            status=status,
            run_name=experiment.get("RunName")
            or experiment.get("TrialComponentDisplayName")
            or name,
            start_ms=_millis(start),
            end_ms=_millis(end),
            image=algorithm.get("TrainingImage", ""),
            instance_type=resources.get("InstanceType", ""),
            instance_count=int(resources.get("InstanceCount", 1)),
            input_mode=algorithm.get("TrainingInputMode", "File"),
            output_path=doc["OutputDataConfig"]["S3OutputPath"].rstrip("/"),
            experiment_name=experiment.get("ExperimentName"),
            trial_name=experiment.get("TrialName"),
            tuning_job_arn=doc.get("TuningJobArn"),
            failure_reason=doc.get("FailureReason"),
            model_uri=model if status == "Completed" else None,
            hyperparameters={k: str(v) for k, v in doc.get("HyperParameters", {}).items()},
            channels=channels,
            final_metrics={
                m["MetricName"]: float(m["Value"]) for m in doc.get("FinalMetricDataList", [])
            },
        )


def read_job(home: Home, name: str) -> FinishedTrainingJob:
    """The finished training job ``name`` of ``home`` (ResourceNotFound if there is none)."""
    try:
        record = home.metadata.get(TRAINING_KIND, name)
    except ResourceNotFound:
        raise ResourceNotFound(
            f"Training job '{name}' does not exist in account {home.account_id} "
            f"({home.region}). Check the name, or list training jobs to find it."
        ) from None
    return FinishedTrainingJob.from_document(record.document)
