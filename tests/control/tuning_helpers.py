"""Helpers for tests that run real hyperparameter tuning jobs.

Two kinds of trials: the built-in XGBoost on a few hundred rows, and a tiny script-mode
"trainer" whose objective curve is a known function of its ``lr`` hyperparameter
(``validation:loss = 1 / (1 + 10 * lr * epoch)``, one value every ``delay`` seconds), so
that which trials are bad, and when they are stopped, is certain and costs no CPU.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from sagebox.session import Session

BUCKET = "tuning-data"
TERMINAL = ("Completed", "Failed", "Stopped")

TRAINER = b"""\
import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--delay", type=float, default=0.3)
args, _ = parser.parse_known_args()
for epoch in range(1, args.epochs + 1):
    print(f"epoch {epoch}: validation:loss={1.0 / (1.0 + 10 * args.lr * epoch):.6f}", flush=True)
    time.sleep(args.delay)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as handle:
    handle.write(str(args.lr))
"""
LOSS_METRIC = {"Name": "validation:loss", "Regex": r"validation:loss=([0-9.eE+-]+)"}


def _bucket(session: Session) -> None:
    objects = session.home.objects
    if not objects.bucket_exists(BUCKET):
        objects.create_bucket(BUCKET)


def _csv(rows: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    lines = [
        ",".join([str(label), *(f"{v:.4f}" for v in row)]) for label, row in zip(y, x, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def put_data(session: Session) -> None:
    """A small binary classification problem: 400 training rows, 150 validation rows."""
    _bucket(session)
    session.home.objects.put_object(BUCKET, "train/train.csv", _csv(400, 1))
    session.home.objects.put_object(BUCKET, "validation/validation.csv", _csv(150, 2))


def channels() -> list[dict[str, Any]]:
    return [
        {
            "ChannelName": channel,
            "ContentType": "text/csv",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{channel}/"}
            },
        }
        for channel in ("train", "validation")
    ]


def _common(session: Session) -> dict[str, Any]:
    return {
        "RoleArn": session.get_execution_role(),
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def xgboost_definition(session: Session, **static: str) -> dict[str, Any]:
    """A TrainingJobDefinition for the built-in XGBoost (AWS ML guide's static values)."""
    put_data(session)
    return {
        "AlgorithmSpecification": {"TrainingImage": "sagebox/xgboost", "TrainingInputMode": "File"},
        "StaticHyperParameters": {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "num_round": "10",
            **static,
        },
        "InputDataConfig": channels(),
        **_common(session),
    }


def trainer_definition(session: Session, **static: str) -> dict[str, Any]:
    """A TrainingJobDefinition for the script-mode trainer (module docstring)."""
    _bucket(session)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(TRAINER)
        tar.addfile(info, io.BytesIO(TRAINER))
    session.home.objects.put_object(BUCKET, "code/sourcedir.tar.gz", buffer.getvalue())
    return {
        "AlgorithmSpecification": {
            "TrainingImage": "sagebox/sklearn",
            "TrainingInputMode": "File",
            "MetricDefinitions": [LOSS_METRIC],
        },
        "StaticHyperParameters": {
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/sourcedir.tar.gz"),
            **static,
        },
        **_common(session),
    }


def ranges(
    continuous: Sequence[tuple[str, str, str]] = (),
    integer: Sequence[tuple[str, str, str]] = (),
    categorical: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """ParameterRanges from (name, min, max) triples and categorical value lists."""
    return {
        "ContinuousParameterRanges": [
            {"Name": n, "MinValue": lo, "MaxValue": hi} for n, lo, hi in continuous
        ],
        "IntegerParameterRanges": [
            {"Name": n, "MinValue": lo, "MaxValue": hi} for n, lo, hi in integer
        ],
        "CategoricalParameterRanges": [
            {"Name": n, "Values": values} for n, values in (categorical or {}).items()
        ],
    }


def tuning_request(
    name: str,
    definition: dict[str, Any],
    parameter_ranges: dict[str, Any],
    *,
    metric: str = "validation:auc",
    objective_type: str = "Maximize",
    strategy: str = "Random",
    max_jobs: int | None = 4,
    parallel: int = 2,
    **config: Any,
) -> dict[str, Any]:
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"MetricName": metric, "Type": objective_type},
            "ResourceLimits": limits,
            "ParameterRanges": parameter_ranges,
            "RandomSeed": 11,
            **config,
        },
        "TrainingJobDefinition": definition,
    }


def wait_tuning(session: Session, name: str, timeout: float = 120) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        described = session.control.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        )
        if described["HyperParameterTuningJobStatus"] in TERMINAL:
            return described
        if time.monotonic() > end:
            raise AssertionError(f"{name} still {described['HyperParameterTuningJobStatus']}")
        time.sleep(0.25)


def trials(session: Session, name: str, **params: Any) -> list[dict[str, Any]]:
    """Every trial's summary (all pages)."""
    out: list[dict[str, Any]] = []
    request: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100, **params}
    while True:
        page = session.control.list_training_jobs_for_hyper_parameter_tuning_job(**request)
        out.extend(page["TrainingJobSummaries"])
        if not page.get("NextToken"):
            return out
        request["NextToken"] = page["NextToken"]
