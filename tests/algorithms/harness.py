"""A SageMaker /opt/ml layout in a temporary folder, for running algorithm programs in-process.

Shared by the algorithm tests and the contract suite over every built-in algorithm: data
sets, the job layout, reading metric lines, model archives, and one training job run
through the control plane of an embedded session.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

CHANNELS = ("train", "validation", "test", "model")


def problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A learnable but noisy binary problem: the label depends on two of four features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.7, size=n) > 0).astype(float)
    return x, y


def csv(x: np.ndarray, y: np.ndarray) -> str:
    return "".join(",".join(map(str, [int(t), *row])) + "\n" for t, row in zip(y, x, strict=True))


def multiclass_csv(n: int, seed: int) -> str:
    """Three classes 0, 1, 2 set by the first of three features (with some noise)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return csv(x, np.digitize(x[:, 0] + 0.3 * rng.normal(size=n), [-0.5, 0.5]))


def regression_csv(n: int, seed: int) -> str:
    """A real-valued target, 3 * the first of three features + 0.5 (csv() writes integers)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = 3 * x[:, 0] + 0.5 + rng.normal(scale=0.1, size=n)
    return "".join(",".join(map(str, [t, *r])) + "\n" for t, r in zip(y, x, strict=True))


class Job:
    """SageMaker's /opt/ml layout under tmp_path, with the SM_* variables pointing at it."""

    def __init__(
        self, root: Path, monkeypatch: pytest.MonkeyPatch, main: Callable[[], int]
    ) -> None:
        self.root = root
        self.main = main
        self.config = root / "input" / "config"
        self.config.mkdir(parents=True)
        self.model = root / "model"
        self.output = root / "output"
        self.checkpoints = root / "checkpoints"
        self.checkpoints.mkdir()  # as for a job with a CheckpointConfig
        self.content_types: dict[str, Any] = {}
        self.monkeypatch = monkeypatch
        for var, path in [
            ("SM_INPUT_CONFIG_DIR", self.config),
            ("SM_MODEL_DIR", self.model),
            ("SM_OUTPUT_DIR", self.output),
            ("SM_CHECKPOINT_DIR", self.checkpoints),
        ]:
            monkeypatch.setenv(var, str(path))
        for name in CHANNELS:
            monkeypatch.setenv(f"SM_CHANNEL_{name.upper()}", str(root / "data" / name))

    def channel(self, name: str, files: dict[str, str | bytes], content_type: str = "") -> Path:
        directory = self.root / "data" / name
        directory.mkdir(parents=True, exist_ok=True)
        for filename, body in files.items():
            path = directory / filename
            if isinstance(body, bytes):
                path.write_bytes(body)
            else:
                path.write_text(body)
        if content_type:
            self.content_types[name] = {"ContentType": content_type}
        return directory

    def run(self, capsys: pytest.CaptureFixture[str], **hp: object) -> tuple[int, list[str]]:
        (self.config / "hyperparameters.json").write_text(
            json.dumps({k: str(v) for k, v in hp.items()})
        )
        (self.config / "inputdataconfig.json").write_text(json.dumps(self.content_types))
        rc = self.main()
        return rc, capsys.readouterr().out.splitlines()

    def clear_checkpoints(self) -> None:
        """A new job with the same CheckpointConfig folder, but nothing in it to resume."""
        import shutil

        shutil.rmtree(self.checkpoints)
        self.checkpoints.mkdir()

    @property
    def failure(self) -> str:
        return (self.output / "failure").read_text()

    @property
    def evaluation(self) -> dict[str, Any]:
        return json.loads((self.output / "data" / "evaluation.json").read_text())


AnyJob = TypeVar("AnyJob", bound=Job)


def binary_channels(job: AnyJob, rows: int = 600) -> AnyJob:
    """``train`` (``rows`` rows) and ``validation`` (300 rows) of the binary problem, CSV."""
    job.channel("train", {"train.csv": csv(*problem(rows, 0))}, "text/csv")
    job.channel("validation", {"validation.csv": csv(*problem(300, 1))}, "text/csv")
    return job


def noise_channels(job: AnyJob) -> AnyJob:
    """Labels that are pure noise: the validation metric soon stops improving."""
    rng = np.random.default_rng(3)
    job.channel("train", {"t.csv": csv(rng.normal(size=(300, 5)), rng.integers(0, 2, 300))})
    job.channel("validation", {"v.csv": csv(rng.normal(size=(200, 5)), rng.integers(0, 2, 200))})
    return job


def metric_values(algorithm: Any, lines: list[str]) -> dict[str, list[float]]:
    """Every value each of the algorithm's METRIC_DEFINITIONS reads from the log lines."""
    found: dict[str, list[float]] = {}
    for line in lines:
        for definition in algorithm.METRIC_DEFINITIONS:
            match = re.match(definition["Regex"], line)
            if match:
                found.setdefault(definition["Name"], []).append(float(match.group(1)))
    return found


def rounds(lines: list[str]) -> list[int]:
    """The round numbers of LightGBM's and CatBoost's metric lines (``[12]<TAB>...``)."""
    return [int(line[1 : line.index("]")]) for line in lines if re.match(r"\[[0-9]+\]\t", line)]


def member(name: str, data: bytes = b"", **attrs: Any) -> tuple[tarfile.TarInfo, bytes]:
    """One tar member: a file holding ``data``, or whatever ``attrs`` (type, linkname) make it."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """A model.tar.gz of ``members``, written as they are (hostile ones too)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def feed_pipe(job: Job, channel: str, body: bytes, epochs: int = 1) -> list[Any]:
    """Pipe mode as the supervisor does it: a FIFO per epoch beside the channel folder.

    Returns the writer threads (join them after the run).
    """
    import os
    import threading

    data_root = job.root / "data"
    data_root.mkdir(parents=True, exist_ok=True)
    threads = []
    for epoch in range(epochs):
        fifo = data_root / f"{channel}_{epoch}"
        os.mkfifo(fifo)

        def write(path: Path = fifo) -> None:
            with path.open("wb") as fh:  # blocks until the algorithm opens the epoch
                fh.write(body)

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        threads.append(thread)
    return threads


# --- a training job through the control plane ------------------------------------------------


def run_training_job(
    session: Any,
    image: str,
    hyperparameters: Mapping[str, str],
    objects: Mapping[str, bytes] | None = None,
    name: str = "job-1",
    timeout: float = 180,
) -> dict[str, Any]:
    """Run a File-mode training job of ``image`` through the session's control plane.

    ``objects`` (``{"train/train.csv": ...}``; by default the binary problem, 1000 rows to
    train on and 300 to validate with) go to a bucket, one ``text/csv`` channel per top
    folder. Returns DescribeTrainingJob once the job has completed.
    """
    if objects is None:
        objects = {
            "train/train.csv": csv(*problem(1000, 0)).encode(),
            "validation/validation.csv": csv(*problem(300, 1)).encode(),
        }
    store = session.home.objects
    store.create_bucket("data")
    for key, body in objects.items():
        store.put_object("data", key, body)
    channels = dict.fromkeys(key.split("/")[0] for key in objects)
    session.control.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=session.get_execution_role(),
        HyperParameters=dict(hyperparameters),
        InputDataConfig=[
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://data/{channel}/"}
                },
            }
            for channel in channels
        ],
        OutputDataConfig={"S3OutputPath": "s3://data/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = session.control.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < deadline, f"the training job {name} did not finish"
        time.sleep(0.2)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    return described


def final_metrics(described: Mapping[str, Any]) -> dict[str, float]:
    """The job's FinalMetricDataList by metric name."""
    return {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}


def model_files(session: Any, described: Mapping[str, Any]) -> list[str]:
    """The names inside the job's model.tar.gz (its ModelArtifacts)."""
    bucket, _, key = (
        described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").partition("/")
    )
    with tarfile.open(fileobj=io.BytesIO(session.home.objects.get_object(bucket, key))) as packed:
        return packed.getnames()
