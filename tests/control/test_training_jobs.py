"""Training jobs with the built-in XGBoost: real training, metrics, the model artifact."""

from __future__ import annotations

import io
import tarfile
import time
from typing import Any

import numpy as np
import pytest

from sagebox.errors import ValidationError
from sagebox.session import Session

XGBOOST = "sagebox/xgboost"


def _csv(rows: int, seed: int, header: bool = False) -> bytes:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    lines = ["label,a,b,c,d"] if header else []
    lines += [
        ",".join([str(label), *(f"{v:.5f}" for v in row)]) for label, row in zip(y, x, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


def _data(session: Session, header: bool = False) -> None:
    objects = session.home.objects
    if not objects.bucket_exists("mlbucket"):
        objects.create_bucket("mlbucket")
    objects.put_object("mlbucket", "train/train.csv", _csv(2000, 1, header))
    objects.put_object("mlbucket", "validation/validation.csv", _csv(500, 2, header))


def _request(session: Session, name: str, **hyperparameters: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": XGBOOST, "TrainingInputMode": "File"},
        "RoleArn": session.get_execution_role(),
        "HyperParameters": {
            "objective": "binary:logistic",
            "num_round": "20",
            "eval_metric": "auc",
            "max_depth": "3",
            **hyperparameters,
        },
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://mlbucket/{channel}/"}
                },
            }
            for channel in ("train", "validation")
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://mlbucket/models"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _wait(session: Session, name: str, timeout: float = 180) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        described = session.control.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        assert time.monotonic() < end
        time.sleep(0.1)


def test_xgboost_trains_for_real_and_reports_like_sagemaker(session: Session) -> None:
    _data(session)
    session.control.create_training_job(**_request(session, "xgb-1"))
    described = _wait(session, "xgb-1")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert [t["Status"] for t in described["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Uploading",
        "Completed",
    ]
    final = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert final["validation:auc"] > 0.8
    assert described["TrainingTimeInSeconds"] >= 1
    uri = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == "s3://mlbucket/models/xgb-1/output/model.tar.gz"
    packed = session.home.objects.get_object("mlbucket", "models/xgb-1/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        names = tar.getnames()
        assert "xgboost-model" in names
        model = tar.extractfile("xgboost-model")
        assert model is not None
        raw = model.read()
    import xgboost

    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))
    aucs = [
        p.value
        for p in session.home.metadata.get_metrics(described["TrainingJobArn"], "validation:auc")
    ]
    assert len(aucs) == 20  # one point per boosting round, read from the log
    names_listed = [
        s["TrainingJobName"] for s in session.control.list_training_jobs()["TrainingJobSummaries"]
    ]
    assert names_listed == ["xgb-1"]


def test_bad_hyperparameters_are_refused_at_create(session: Session) -> None:
    _data(session)
    with pytest.raises(ValidationError, match="eta"):
        session.control.create_training_job(**_request(session, "bad-eta", eta="3"))
    with pytest.raises(ValidationError, match="not_a_parameter"):
        session.control.create_training_job(**_request(session, "bad-name", not_a_parameter="1"))
    gzip_in_file_mode = _request(session, "gz")
    gzip_in_file_mode["InputDataConfig"][0]["CompressionType"] = "Gzip"
    with pytest.raises(ValidationError, match="CompressionType 'Gzip' is for Pipe mode"):
        session.control.create_training_job(**gzip_in_file_mode)


def test_a_csv_with_a_header_fails_with_a_hint(session: Session) -> None:
    _data(session, header=True)
    session.control.create_training_job(**_request(session, "header"))
    described = _wait(session, "header")
    assert described["TrainingJobStatus"] == "Failed"
    assert "header" in described["FailureReason"]


def test_the_estimator_sdk(session: Session) -> None:
    import sagebox
    from sagebox import image_uris
    from sagebox.sdk.estimator import Estimator, TrainingInput

    _data(session)
    xgb = Estimator(
        image_uris.retrieve("xgboost", session.region_name, "1.7-1"),
        sagebox.get_execution_role(session),
        instance_count=1,
        instance_type="ml.m5.large",
        output_path="s3://mlbucket/sdk-models",
        hyperparameters={"objective": "binary:logistic", "num_round": 10},
        sagemaker_session=session,
    )
    xgb.fit(
        {
            "train": TrainingInput("s3://mlbucket/train/", content_type="text/csv"),
            "validation": TrainingInput("s3://mlbucket/validation/", content_type="text/csv"),
        },
        logs=False,
    )
    assert xgb.model_data is not None
    assert xgb.model_data.endswith(f"/{xgb.latest_training_job}/output/model.tar.gz")
