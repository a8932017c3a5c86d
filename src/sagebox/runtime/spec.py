"""What an executor needs to run a job: typed, immutable, serialisable to the job directory.

The control plane builds a :class:`JobSpec` from a validated API request; the
supervisor process reads it back from ``<job dir>/spec.json``. Paths inside a spec are
container paths (``/opt/ml/...``); the executor maps them onto each instance's folder.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

CONTAINER_ROOT = "/opt/ml"

Distribution = Literal["FullyReplicated", "ShardedByS3Key"]
UploadMode = Literal["EndOfJob", "Continuous"]
InputMode = Literal["File", "Pipe", "FastFile"]


@dataclass(frozen=True)
class InputChannel:
    """S3 objects an instance reads.

    File mode stages them before the program starts; Pipe mode streams them through a
    FIFO per epoch (``<container_path>_<epoch>``) while it runs; FastFile links them in
    place where the object store is local (no copy), else stages them.
    """

    name: str
    s3_uri: str
    container_path: str
    distribution: Distribution = "FullyReplicated"
    data_type: Literal["S3Prefix", "ManifestFile"] = "S3Prefix"
    input_mode: InputMode = "File"
    compression: Literal["None", "Gzip"] = "None"  # Pipe mode: decompressed while streaming
    shuffle_seed: int | None = None  # ShuffleConfig: object order shuffled per epoch
    optional: bool = False  # an empty prefix is fine (checkpoints to resume from)


@dataclass(frozen=True)
class OutputChannel:
    """A container folder uploaded to S3 at the end of the job, or continuously."""

    name: str
    container_path: str
    s3_uri: str
    upload_mode: UploadMode = "EndOfJob"


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    regex: str


@dataclass(frozen=True)
class JobSpec:
    kind: str  # metadata-store kind, e.g. "processing-job"
    name: str
    arn: str
    home: str
    role_arn: str
    instance_type: str
    instance_count: int
    command: tuple[str, ...]
    reporter: str  # "module:Class" of the JobReporter that records what happens
    # "module:function" giving the ObjectStore the job sees (its role's permissions);
    # None: the home's store unrestricted
    access: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    inputs: tuple[InputChannel, ...] = ()
    outputs: tuple[OutputChannel, ...] = ()
    max_runtime_seconds: int | None = None
    metric_definitions: tuple[MetricDefinition, ...] = ()
    # container path -> JSON document written there before the program starts
    config_files: dict[str, Any] = field(default_factory=dict)
    network_isolation: bool = False
    # where the first instance's /opt/ml/model goes, packed as model.tar.gz (training jobs)
    model_uri: str | None = None
    # where /opt/ml/output/data goes, packed as output.tar.gz, when it holds anything
    output_data_uri: str | None = None
    stop_grace_seconds: float = 30.0
    # RetryStrategy.MaximumRetryAttempts: restarts after an instance is lost (not after
    # the program's own error), resuming from checkpoints
    max_retry_attempts: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        data = json.loads(text)
        data["command"] = tuple(data["command"])
        data["inputs"] = tuple(InputChannel(**i) for i in data["inputs"])
        data["outputs"] = tuple(OutputChannel(**o) for o in data["outputs"])
        data["metric_definitions"] = tuple(
            MetricDefinition(**m) for m in data["metric_definitions"]
        )
        return cls(**data)

    def host_names(self) -> list[str]:
        return [f"algo-{i + 1}" for i in range(self.instance_count)]


def job_dir(home: Path, kind: str, name: str) -> Path:
    """Where a job's working files live while it runs."""
    return home / "jobs" / kind / name


def log_dir(home: Path, kind: str, name: str) -> Path:
    """Where a job's log streams live; kept after the job ends."""
    return home / "logs" / kind / name


def host_path(instance_root: Path, container_path: str) -> Path:
    """Map a container path under /opt/ml onto an instance's folder."""
    relative = Path(container_path).relative_to(CONTAINER_ROOT)
    return instance_root / relative
