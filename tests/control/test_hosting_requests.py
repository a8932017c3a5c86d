"""CreateModel, CreateEndpointConfig and CreateEndpoint refuse what AWS refuses, with a
message that says what to change; nothing is created by a refused request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagebox.errors import ValidationError
from sagebox.session import Session
from tests.serving.hosting import BUCKET, realtime, serverless, upload_xgboost


def _model(session: Session, name: str = "m") -> str:
    uri = upload_xgboost(session, f"models/{name}")
    session.control.create_model(
        ModelName=name,
        PrimaryContainer={"Image": "sagebox/xgboost", "ModelDataUrl": uri},
        ExecutionRoleArn=session.get_execution_role(),
    )
    return uri


def _refused(call: Any, match: str, **request: Any) -> None:
    with pytest.raises(ValidationError, match=match):
        call(**request)


def test_create_model_checks_image_data_and_role(session: Session) -> None:
    uri = _model(session)
    role = session.get_execution_role()
    create = session.control.create_model
    described = session.control.describe_model(ModelName="m")
    assert described["PrimaryContainer"]["ModelDataUrl"] == uri
    assert described["ModelArn"].endswith(":model/m")

    _refused(
        create,
        "needs ModelDataUrl",
        ModelName="x",
        PrimaryContainer={"Image": "sagebox/xgboost"},
        ExecutionRoleArn=role,
    )
    _refused(
        create,
        r"Could not find model data at s3://hosting/nope/model\.tar\.gz",
        ModelName="x",
        PrimaryContainer={
            "Image": "sagebox/xgboost",
            "ModelDataUrl": f"s3://{BUCKET}/nope/model.tar.gz",
        },
        ExecutionRoleArn=role,
    )
    _refused(
        create,
        "not one sagebox can",
        ModelName="x",
        PrimaryContainer={"Image": "docker.io/library/python:3", "ModelDataUrl": uri},
        ExecutionRoleArn=role,
    )
    _refused(
        create,
        "inference pipeline",
        ModelName="x",
        Containers=[{"Image": "sagebox/xgboost", "ModelDataUrl": uri}] * 2,
        ExecutionRoleArn=role,
    )
    _refused(
        create,
        "multi-model endpoints",
        ModelName="x",
        PrimaryContainer={"Image": "sagebox/xgboost", "ModelDataUrl": uri, "Mode": "MultiModel"},
        ExecutionRoleArn=role,
    )
    _refused(
        create,
        "Cannot create already existing model",
        ModelName="m",
        PrimaryContainer={"Image": "sagebox/xgboost", "ModelDataUrl": uri},
        ExecutionRoleArn=role,
    )
    _refused(session.control.describe_model, 'Could not find model "arn:', ModelName="x")
    assert [m["ModelName"] for m in session.control.list_models()["Models"]] == ["m"]


def test_a_role_that_cannot_read_the_model_data_is_refused(session: Session) -> None:
    uri = _model(session)
    iam = session.control
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.call(
        "CreateRole",
        {"RoleName": "NoS3", "AssumeRolePolicyDocument": json.dumps(trust)},
        service="iam",
    )["Role"]["Arn"]
    with pytest.raises(ValidationError, match="may not read it"):
        session.control.create_model(
            ModelName="blind",
            PrimaryContainer={"Image": "sagebox/xgboost", "ModelDataUrl": uri},
            ExecutionRoleArn=role,
        )


def test_create_endpoint_config_checks_variants(session: Session) -> None:
    _model(session)
    create = session.control.create_endpoint_config
    create(EndpointConfigName="ok", ProductionVariants=[realtime("A", "m"), serverless("B", "m")])
    described = session.control.describe_endpoint_config(EndpointConfigName="ok")
    assert [v["VariantName"] for v in described["ProductionVariants"]] == ["A", "B"]
    assert described["ProductionVariants"][0]["InitialVariantWeight"] == 1.0

    def refused(match: str, *variants: dict[str, Any], **extra: Any) -> None:
        _refused(
            create, match, EndpointConfigName="bad", ProductionVariants=list(variants), **extra
        )

    refused('Could not find model "arn:', realtime("A", "nope"))
    refused("unique VariantNames", realtime("A", "m"), realtime("A", "m"))
    refused("every production variant is 0", realtime("A", "m", weight=0))
    refused(
        "either serverless or instance-based",
        {**serverless("A", "m"), "InstanceType": "ml.m5.large"},
    )
    refused("needs either InstanceType", {"VariantName": "A", "ModelName": "m"})
    refused("MemorySizeInMB must be one of 1024, 2048", serverless("A", "m", memory=1500))
    refused("less than or equal to 200", serverless("A", "m", maximum=201))
    refused(
        r"ProvisionedConcurrency must be from 1 to MaxConcurrency \(2\); got 3",
        serverless("A", "m", maximum=2, provisioned=3),
    )
    refused("Member must satisfy enum value set", {**realtime("A", "m"), "InstanceType": "ml.x"})
    refused("asynchronous inference", realtime("A", "m"), AsyncInferenceConfig={"OutputConfig": {}})
    refused(
        "initialSamplingPercentage. failed to satisfy constraint",
        realtime("A", "m"),
        DataCaptureConfig={
            "InitialSamplingPercentage": 101,
            "DestinationS3Uri": f"s3://{BUCKET}/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}],
        },
    )
    refused(
        "each once",
        realtime("A", "m"),
        DataCaptureConfig={
            "InitialSamplingPercentage": 10,
            "DestinationS3Uri": f"s3://{BUCKET}/capture",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Input"}],
        },
    )
    listed = session.control.list_endpoint_configs()["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in listed] == ["ok"]


def test_create_endpoint_needs_its_config_and_a_free_name(session: Session) -> None:
    _refused(
        session.control.create_endpoint,
        'Could not find endpoint configuration "arn:',
        EndpointName="e",
        EndpointConfigName="nope",
    )
    _refused(session.control.describe_endpoint, 'Could not find endpoint "arn:', EndpointName="e")
    _refused(session.control.delete_endpoint, 'Could not find endpoint "arn:', EndpointName="e")
    assert session.control.list_endpoints()["Endpoints"] == []


def test_hosting_operations_are_iam_actions_on_their_arns(session: Session) -> None:
    from sagebox.control.operations import OPERATIONS

    account, region = session.control.home.account_id, session.control.home.region
    expected = {
        "CreateModel": "model/{ModelName}",
        "CreateEndpointConfig": "endpoint-config/{EndpointConfigName}",
        "CreateEndpoint": "endpoint/{EndpointName}",
        "CreateTransformJob": "transform-job/{TransformJobName}",
    }
    for operation, resource in expected.items():
        op = OPERATIONS[("sagemaker", operation)]
        assert op.action == f"sagemaker:{operation}"
        assert op.resource == resource
    invoke = OPERATIONS[("sagemaker-runtime", "InvokeEndpoint")]
    assert invoke.action == "sagemaker:InvokeEndpoint"
    arn = session.control._resource_arn(invoke, {"EndpointName": "Loans"})
    assert arn == f"arn:aws:sagemaker:{region}:{account}:endpoint/loans"
