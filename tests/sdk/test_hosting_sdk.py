"""The SageMaker SDK's hosting flow: fit, deploy, predict, transform, register, and the
framework estimator whose training script also serves (``model_fn``)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import sagebox
from sagebox.errors import SageboxError
from sagebox.sdk.deserializers import CSVDeserializer, JSONDeserializer
from sagebox.sdk.estimator import Estimator, TrainingInput
from sagebox.sdk.model import Model
from sagebox.sdk.model_monitor import DataCaptureConfig
from sagebox.sdk.serializers import CSVSerializer
from sagebox.sdk.serverless import ServerlessInferenceConfig
from sagebox.sdk.sklearn import SKLearn
from sagebox.session import Session
from tests.control.test_training_jobs import _data
from tests.serving.hosting import wait_for

CHANNELS = {
    "train": TrainingInput("s3://mlbucket/train/", content_type="text/csv"),
    "validation": TrainingInput("s3://mlbucket/validation/", content_type="text/csv"),
}


def _trained(session: Session) -> Estimator:
    _data(session)
    estimator = Estimator(
        "sagebox/xgboost",
        sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        output_path="s3://mlbucket/sdk",
        hyperparameters={"objective": "binary:logistic", "num_round": 10, "eval_metric": "auc"},
        sagemaker_session=session,
    )
    estimator.fit(CHANNELS, logs=False)
    return estimator


def _rows(session: Session, count: int) -> list[list[float]]:
    body = session.objects.get_object("mlbucket", "validation/validation.csv").decode()
    return [[float(v) for v in line.split(",")[1:]] for line in body.splitlines()[:count]]


def test_fit_deploy_serverless_predict_and_delete(endpoints: Session) -> None:
    session = endpoints
    estimator = _trained(session)
    predictor = estimator.deploy(
        serverless_inference_config=ServerlessInferenceConfig(
            memory_size_in_mb=2048, max_concurrency=5
        ),
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
        data_capture_config=DataCaptureConfig(
            enable_capture=True,
            sampling_percentage=100,
            destination_s3_uri="s3://mlbucket/capture",
        ),
    )
    scores = predictor.predict(_rows(session, 4))
    assert len(scores) == 4 and all(0 < float(row[0]) < 1 for row in scores)
    described = session.control.describe_endpoint(EndpointName=predictor.endpoint_name)
    assert described["ProductionVariants"][0]["CurrentServerlessConfig"]["MemorySizeInMB"] == 2048
    assert described["DataCaptureConfig"]["DestinationS3Uri"] == "s3://mlbucket/capture"

    predictor.delete_endpoint()
    wait_for(lambda: not session.control.list_endpoints()["Endpoints"], message="not deleted")
    assert session.control.list_endpoint_configs()["EndpointConfigs"] == []


def test_model_deploy_real_time_then_update_to_two_instances(endpoints: Session) -> None:
    session = endpoints
    estimator = _trained(session)
    model = Model(
        "sagebox/xgboost",
        model_data=estimator.model_data,
        role=sagebox.get_execution_role(session),
        sagemaker_session=session,
    )
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name="loans-rt",
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )
    answer = predictor.predict(_rows(session, 2), initial_args={"Accept": "application/json"})
    assert len(answer["predictions"]) == 2
    predictor.update_endpoint(initial_instance_count=2, instance_type="ml.m5.large")
    described = session.control.describe_endpoint(EndpointName="loans-rt")
    assert described["EndpointStatus"] == "InService"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert predictor.predict(_rows(session, 1), initial_args={"Accept": "application/json"})

    with pytest.raises(ValueError, match="initial_instance_count and instance_type"):
        model.deploy(endpoint_name="half-given", instance_type="ml.m5.large")


def test_transformer_scores_a_prefix(session: Session) -> None:
    estimator = _trained(session)
    rows = "".join(",".join(str(v) for v in row) + "\n" for row in _rows(session, 100))
    session.objects.put_object("mlbucket", "portfolio/part-0.csv", rows.encode())
    transformer = estimator.transformer(
        instance_count=1,
        instance_type="ml.m5.xlarge",
        strategy="MultiRecord",
        assemble_with="Line",
        output_path="s3://mlbucket/scores",
    )
    transformer.transform(
        "s3://mlbucket/portfolio/", content_type="text/csv", split_type="Line", logs=False
    )
    assert transformer.describe()["TransformJobStatus"] == "Completed"
    scores = session.objects.get_object("mlbucket", "scores/part-0.csv.out").decode().split()
    assert len(scores) == 100


def test_registered_versions_deploy_only_when_approved(endpoints: Session) -> None:
    session = endpoints
    estimator = _trained(session)
    session.control.create_model_package_group(ModelPackageGroupName="loan-default")
    package = estimator.register(
        content_types=["text/csv"],
        response_types=["text/csv"],
        model_package_group_name="loan-default",
    )
    assert package.describe()["ModelApprovalStatus"] == "PendingManualApproval"
    with pytest.raises(SageboxError, match="PendingManualApproval"):
        package.deploy(
            serverless_inference_config=ServerlessInferenceConfig(1024, 1),
            endpoint_name="from-registry",
        )
    package.update_approval_status("Approved", "reviewed")
    predictor = package.deploy(
        serverless_inference_config=ServerlessInferenceConfig(1024, 1),
        endpoint_name="from-registry",
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    assert 0 < float(predictor.predict(_rows(session, 1))[0][0]) < 1


TRAIN_AND_SERVE = """
import argparse, json, os
import numpy as np
from sklearn.linear_model import LogisticRegression

def model_fn(model_dir):
    import joblib
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def predict_fn(data, model):
    return model.predict_proba(np.asarray(data, dtype=float))[:, 1]

if __name__ == "__main__":
    import joblib
    parser = argparse.ArgumentParser()
    parser.add_argument("--regularization", type=float, default=1.0)
    args = parser.parse_args()
    folder = os.environ["SM_CHANNEL_TRAIN"]
    data = np.loadtxt(os.path.join(folder, "train.csv"), delimiter=",")
    model = LogisticRegression(C=args.regularization, max_iter=500).fit(data[:, 1:], data[:, 0])
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
"""


def test_a_script_mode_estimator_serves_with_its_own_model_fn(
    endpoints: Session, tmp_path: Path
) -> None:
    session = endpoints
    _data(session)
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(TRAIN_AND_SERVE))
    estimator = SKLearn(
        entry_point=str(script),
        framework_version="1.2-1",
        role=sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        hyperparameters={"regularization": 0.5},
        sagemaker_session=session,
    )
    estimator.fit({"train": CHANNELS["train"]}, logs=False)
    predictor = estimator.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )
    answer = predictor.predict(_rows(session, 3))
    assert len(answer) == 3 and all(0 < p < 1 for p in answer)
