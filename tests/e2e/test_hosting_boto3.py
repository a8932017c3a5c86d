"""Hosting through the server with boto3 unchanged: ``sagemaker`` for models, endpoint
configs, endpoints and transform jobs; ``sagemaker-runtime`` for InvokeEndpoint."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sagebox.control.audit import AuditLog
from sagebox.session import Session
from tests.e2e.conftest import RunningServer
from tests.serving.hosting import BUCKET, ROW, upload_code, upload_xgboost, wait_for

ERRORING_MODEL = """
def model_fn(model_dir):
    return None

def input_fn(body, content_type):
    return body

def predict_fn(data, model):
    raise ValueError("feature 'income' must be positive")
"""


def _wait(sm: Any, name: str, timeout: float = 90) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] in ("InService", "Failed"):
            return dict(described)
        assert time.monotonic() < end, described["EndpointStatus"]
        time.sleep(0.1)


def _xgboost_model(session: Session, sm: Any, name: str) -> None:
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": "sagebox/xgboost",
            "ModelDataUrl": upload_xgboost(session, f"models/{name}"),
        },
        ExecutionRoleArn=session.get_execution_role(),
    )


def test_boto3_deploys_invokes_updates_and_deletes(
    server: RunningServer, endpoints: Session
) -> None:
    session = endpoints
    sm = server.client("sagemaker")
    runtime = server.client("sagemaker-runtime")
    _xgboost_model(session, sm, "loans-a")
    _xgboost_model(session, sm, "loans-b")
    sm.create_endpoint_config(
        EndpointConfigName="two-variants",
        ProductionVariants=[
            {
                "VariantName": "A",
                "ModelName": "loans-a",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            },
            {
                "VariantName": "B",
                "ModelName": "loans-b",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
                "InitialVariantWeight": 1.0,
            },
        ],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": f"s3://{BUCKET}/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    arn = sm.create_endpoint(EndpointName="loans", EndpointConfigName="two-variants")["EndpointArn"]
    assert arn.endswith(":endpoint/loans")
    described = _wait(sm, "loans")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert {v["VariantName"] for v in described["ProductionVariants"]} == {"A", "B"}
    assert described["DataCaptureConfig"]["CaptureStatus"] == "Started"

    answer = runtime.invoke_endpoint(
        EndpointName="loans",
        Body=ROW,
        ContentType="text/csv",
        Accept="application/json",
        TargetVariant="B",
        CustomAttributes="trace=42",
    )
    assert answer["InvokedProductionVariant"] == "B"
    assert answer["ContentType"] == "application/json"
    score = json.loads(answer["Body"].read())["predictions"][0]["score"]
    assert 0 < score < 1

    seen = {
        runtime.invoke_endpoint(EndpointName="loans", Body=ROW, ContentType="text/csv")[
            "InvokedProductionVariant"
        ]
        for _ in range(40)
    }
    assert seen == {"A", "B"}  # equal weights: both variants get traffic

    sm.update_endpoint_weights_and_capacities(
        EndpointName="loans",
        DesiredWeightsAndCapacities=[{"VariantName": "A", "DesiredWeight": 0.0}],
    )
    assert _wait(sm, "loans")["EndpointStatus"] == "InService"
    seen = {
        runtime.invoke_endpoint(EndpointName="loans", Body=ROW, ContentType="text/csv")[
            "InvokedProductionVariant"
        ]
        for _ in range(20)
    }
    assert seen == {"B"}

    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(EndpointName="loans", Body=b"{}", ContentType="text/plain")
    assert error.value.response["Error"]["Code"] == "ModelError"
    assert error.value.response["OriginalStatusCode"] == 415
    assert "text/csv" in error.value.response["OriginalMessage"]

    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(
            EndpointName="loans", Body=b"1" * (6 * 1024 * 1024 + 1), ContentType="text/csv"
        )
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413

    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(EndpointName="nope", Body=ROW, ContentType="text/csv")
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "Endpoint nope of account" in error.value.response["Error"]["Message"]

    # the capture keeps the requests and the answers (flushed every few seconds)
    def captured() -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for info in session.objects.iter_objects(BUCKET, "capture/loans/")
            for line in session.objects.get_object(BUCKET, info.key).splitlines()
        ]

    wait_for(lambda: len(captured()) >= 60, timeout=30, message="no capture written")
    record = captured()[0]
    assert record["captureData"]["endpointInput"]["data"]
    assert record["captureData"]["endpointOutput"]["observedContentType"]

    listed = sm.list_endpoints()["Endpoints"]
    assert [e["EndpointName"] for e in listed] == ["loans"]
    sm.delete_endpoint(EndpointName="loans")
    wait_for(lambda: not sm.list_endpoints()["Endpoints"], timeout=60, message="not deleted")


def test_a_models_own_error_reaches_boto3_as_model_error(
    server: RunningServer, endpoints: Session
) -> None:
    session = endpoints
    sm = server.client("sagemaker")
    runtime = server.client("sagemaker-runtime")
    code = upload_code(session, "code/erroring", ERRORING_MODEL)
    sm.create_model(
        ModelName="erroring",
        PrimaryContainer={
            "Image": "sagebox/sklearn",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": code,
            },
        },
        ExecutionRoleArn=session.get_execution_role(),
    )
    sm.create_endpoint_config(
        EndpointConfigName="erroring",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "erroring",
                "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2},
            }
        ],
    )
    sm.create_endpoint(EndpointName="erroring", EndpointConfigName="erroring")
    assert _wait(sm, "erroring")["EndpointStatus"] == "InService"
    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(EndpointName="erroring", Body=b"1", ContentType="text/csv")
    response = error.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 500
    assert "feature 'income' must be positive" in response["OriginalMessage"]
    assert "LogStreamArn" in response


def test_invoke_is_decided_by_iam_per_endpoint(server: RunningServer, endpoints: Session) -> None:
    session = endpoints
    sm = server.client("sagemaker")
    _xgboost_model(session, sm, "m")
    for name in ("allowed", "other"):
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "m",
                    "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 1},
                }
            ],
        )
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    for name in ("allowed", "other"):
        assert _wait(sm, name)["EndpointStatus"] == "InService"
    account = session.control.home.account_id
    iam = server.client("iam")
    iam.create_user(UserName="origination")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sagemaker:InvokeEndpoint",
                "Resource": f"arn:aws:sagemaker:{server.region}:{account}:endpoint/allowed",
            }
        ],
    }
    iam.put_user_policy(
        UserName="origination", PolicyName="invoke", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="origination")["AccessKey"]
    runtime = server.client("sagemaker-runtime", key["AccessKeyId"], key["SecretAccessKey"])
    answer = runtime.invoke_endpoint(EndpointName="allowed", Body=ROW, ContentType="text/csv")
    assert float(answer["Body"].read()) > 0
    with pytest.raises(ClientError) as error:
        runtime.invoke_endpoint(EndpointName="other", Body=ROW, ContentType="text/csv")
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "sagemaker:InvokeEndpoint" in error.value.response["Error"]["Message"]

    # every invocation is audited, those whose allow came from the server's cache too
    ids = [answer["ResponseMetadata"]["RequestId"]]
    for _ in range(3):  # within the second the allow is kept
        again = runtime.invoke_endpoint(EndpointName="allowed", Body=ROW, ContentType="text/csv")
        ids.append(again["ResponseMetadata"]["RequestId"])
    audit = AuditLog(server.home_path / "logs" / "audit")
    deadline = time.monotonic() + 10
    while True:  # the cached decisions' lines are written in the background
        allowed = [
            event
            for event in audit.read()
            if event.principal.endswith(":user/origination") and event.decision == "allowed"
        ]
        if len(allowed) >= len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert sorted(event.requestId for event in allowed) == sorted(ids)
    assert {event.action for event in allowed} == {"sagemaker:InvokeEndpoint"}
    assert {event.resource.rsplit(":", 1)[1] for event in allowed} == {"endpoint/allowed"}
    assert len({json.dumps(event.statement, sort_keys=True) for event in allowed}) == 1
    assert allowed[0].statement == {
        "policy": "inline:user/origination/invoke",
        "index": 0,
        "sid": None,
    }

    # Prometheus scrapes /metrics with an access key as Basic credentials; this user
    # may not (no cloudwatch:GetMetricData), root may
    def scrape(key_id: str, secret: str) -> tuple[int, str]:
        token = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
        request = urllib.request.Request(
            f"{server.url}/metrics", headers={"Authorization": f"Basic {token}"}
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as failure:
            return failure.code, failure.read().decode()

    status, _ = scrape(key["AccessKeyId"], key["SecretAccessKey"])
    assert status == 400 or status == 403
    status, text = scrape(server.key_id, server.secret)
    assert status == 200
    assert 'sagebox_invocations_total{endpoint="allowed",variant="AllTraffic"} 4' in text


def test_boto3_runs_a_batch_transform_job(server: RunningServer, session: Session) -> None:
    sm = server.client("sagemaker")
    _xgboost_model(session, sm, "batch")
    rows = "".join(f"{i / 100:.2f},0.1,0.2,0.3\n" for i in range(-50, 50))
    session.objects.put_object(BUCKET, "portfolio/part-0.csv", rows.encode())
    sm.create_transform_job(
        TransformJobName="nightly",
        ModelName="batch",
        MaxConcurrentTransforms=2,
        MaxPayloadInMB=1,
        BatchStrategy="MultiRecord",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/portfolio/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/scores/", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    )
    end = time.monotonic() + 120
    while True:
        described = sm.describe_transform_job(TransformJobName="nightly")
        if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < end
        time.sleep(0.2)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    scores = session.objects.get_object(BUCKET, "scores/part-0.csv.out").decode().split()
    assert len(scores) == 100
    assert float(scores[-1]) > float(scores[0])  # the score follows the first feature
    summaries = sm.list_transform_jobs()["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in summaries] == ["nightly"]

    with pytest.raises(ClientError) as error:
        sm.create_transform_job(
            TransformJobName="too-much",
            ModelName="batch",
            MaxConcurrentTransforms=11,
            MaxPayloadInMB=10,
            TransformInput={
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/portfolio/",
                    }
                }
            },
            TransformOutput={"S3OutputPath": f"s3://{BUCKET}/scores/"},
            TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
        )
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "11 x 10 = 110" in error.value.response["Error"]["Message"]
