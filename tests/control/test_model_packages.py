"""The model registry: groups, versioned packages, approval, the MLflow mirror, the CLI."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sagebox.control.model_packages import resolve_container
from sagebox.errors import AccessDenied, ConflictError, ValidationError
from sagebox.experiments.registry import (
    APPROVAL_TAG,
    APPROVED_ALIAS,
    GROUP_ARN_TAG,
    PACKAGE_ARN_TAG,
    SWITCH_ENV,
    TRAINING_JOB_TAG,
)
from sagebox.session import Session
from tests.e2e.conftest import RunningServer, server  # noqa: F401  (the fixture)

BUCKET = "models"
MODEL = f"s3://{BUCKET}/loan-default/output/model.tar.gz"
REPORT = f"s3://{BUCKET}/loan-default/evaluation.json"


@pytest.fixture(autouse=True)
def _mlflow_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests are about the API; the mirror's own tests turn it back on."""
    monkeypatch.setenv(SWITCH_ENV, "off")


@pytest.fixture
def registry(session: Session) -> Session:
    objects = session.home.objects
    objects.create_bucket(BUCKET)
    objects.put_object(BUCKET, "loan-default/output/model.tar.gz", b"a model")
    objects.put_object(BUCKET, "loan-default/evaluation.json", json.dumps({"auc": 0.81}).encode())
    return session


def _spec(model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {
        "Containers": [
            {"Image": "sagebox/xgboost", "ModelDataUrl": model, "Environment": {"A": "1"}}
        ],
        "SupportedContentTypes": ["text/csv", "application/json"],
        "SupportedResponseMIMETypes": ["text/csv", "application/json"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
        "SupportedTransformInstanceTypes": ["ml.m5.large"],
        **extra,
    }


def _version(session: Session, group: str, **extra: Any) -> str:
    arn: str = session.control.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=_spec(), **extra
    )["ModelPackageArn"]
    return arn


def _arn(session: Session, resource: str) -> str:
    return f"arn:aws:sagemaker:{session.region_name}:{session.account_id}:{resource}"


def test_group_lifecycle(registry: Session) -> None:
    control = registry.control
    arn = control.create_model_package_group(
        ModelPackageGroupName="LoanDefault",
        ModelPackageGroupDescription="Default risk of loan applicants",
        Tags=[{"Key": "team", "Value": "credit-risk"}],
    )["ModelPackageGroupArn"]
    assert arn == _arn(registry, "model-package-group/loandefault")  # lower case, as AWS

    for name_or_arn in ("LoanDefault", "loandefault", arn):
        described = control.describe_model_package_group(ModelPackageGroupName=name_or_arn)
        assert described["ModelPackageGroupName"] == "LoanDefault"
        assert described["ModelPackageGroupStatus"] == "Completed"
        assert described["ModelPackageGroupDescription"] == "Default risk of loan applicants"
        assert described["CreatedBy"]["IamIdentity"]["Arn"].endswith(":root")
    assert control.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "credit-risk"}]

    with pytest.raises(ValidationError, match="Model Package Group already exists: " + arn):
        control.create_model_package_group(ModelPackageGroupName="loandefault")

    for name in ("churn", "fraud"):
        control.create_model_package_group(ModelPackageGroupName=name)
    first = control.list_model_package_groups(MaxResults=2)
    assert [g["ModelPackageGroupName"] for g in first["ModelPackageGroupSummaryList"]] == [
        "LoanDefault",
        "churn",
    ]  # oldest first: AWS's default order is ascending
    rest = control.list_model_package_groups(MaxResults=2, NextToken=first["NextToken"])
    assert [g["ModelPackageGroupName"] for g in rest["ModelPackageGroupSummaryList"]] == ["fraud"]
    by_name = control.list_model_package_groups(SortBy="Name", SortOrder="Descending")
    assert [g["ModelPackageGroupName"] for g in by_name["ModelPackageGroupSummaryList"]] == [
        "fraud",
        "churn",
        "LoanDefault",
    ]
    found = control.list_model_package_groups(NameContains="LOAN")["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupArn"] for g in found] == [arn]
    assert control.list_model_package_groups(CrossAccountFilterOption="CrossAccount") == {
        "ModelPackageGroupSummaryList": []
    }

    control.delete_model_package_group(ModelPackageGroupName=arn)
    with pytest.raises(ValidationError, match="'LoanDefault' does not exist in account"):
        control.describe_model_package_group(ModelPackageGroupName="LoanDefault")


def test_versions_are_numbered_per_group_and_described(registry: Session) -> None:
    control = registry.control
    for group in ("loan-default", "churn"):
        control.create_model_package_group(ModelPackageGroupName=group)
    arns = [
        _version(
            registry,
            "loan-default",
            ModelPackageDescription=f"candidate {n}",
            ModelMetrics={
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": REPORT}}
            },
            CustomerMetadataProperties={"data": "german-credit"},
        )
        for n in (1, 2, 3)
    ]
    churn = _version(registry, _arn(registry, "model-package-group/churn"))
    assert arns == [_arn(registry, f"model-package/loan-default/{n}") for n in (1, 2, 3)]
    assert churn == _arn(registry, "model-package/churn/1")

    for name in ("loan-default/2", "LOAN-DEFAULT/02", arns[1]):
        described = control.describe_model_package(ModelPackageName=name)
        assert described["ModelPackageArn"] == arns[1]
    assert described["ModelPackageName"] == "loan-default"  # a version is named by its group
    assert described["ModelPackageGroupName"] == "loan-default"
    assert described["ModelPackageVersion"] == 2
    assert described["ModelPackageDescription"] == "candidate 2"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["ModelPackageStatusDetails"] == {"ValidationStatuses": []}
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["InferenceSpecification"] == _spec()
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == REPORT
    assert described["CustomerMetadataProperties"] == {"data": "german-credit"}
    assert described["LastModifiedTime"] >= described["CreationTime"]

    control.delete_model_package(ModelPackageName=arns[2])
    # A deleted version's number is not given out again.
    assert _version(registry, "loan-default").endswith("model-package/loan-default/4")


def test_concurrent_creates_get_distinct_versions(registry: Session) -> None:
    registry.control.create_model_package_group(ModelPackageGroupName="busy")
    arns: list[str] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            arns.append(_version(registry, "busy"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(int(a.rsplit("/", 1)[1]) for a in arns) == [1, 2, 3, 4, 5, 6]


def test_approval_transitions_gate_deployment(registry: Session) -> None:
    control = registry.control
    control.create_model_package_group(ModelPackageGroupName="loan-default")
    arn = _version(registry, "loan-default")
    with pytest.raises(ValidationError, match=r"is PendingManualApproval.*must be Approved"):
        resolve_container(registry.home, arn)

    control.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="AUC 0.81"
    )
    approved = control.describe_model_package(ModelPackageName=arn)
    assert approved["ModelApprovalStatus"] == "Approved"
    assert approved["ApprovalDescription"] == "AUC 0.81"
    assert approved["LastModifiedBy"]["IamIdentity"]["Arn"].endswith(":root")
    assert resolve_container(registry.home, "loan-default/1") == {
        "Image": "sagebox/xgboost",
        "ModelDataUrl": MODEL,
        "Environment": {"A": "1"},
    }

    control.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    with pytest.raises(ValidationError, match="is Rejected"):
        resolve_container(registry.home, arn)
    control.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    assert resolve_container(registry.home, arn)["ModelDataUrl"] == MODEL

    # Created approved; and an unversioned package has no approval to give.
    assert (
        control.describe_model_package(
            ModelPackageName=_version(registry, "loan-default", ModelApprovalStatus="Approved")
        )["ModelApprovalStatus"]
        == "Approved"
    )
    control.create_model_package(ModelPackageName="standalone", InferenceSpecification=_spec())
    assert resolve_container(registry.home, "standalone")["Image"] == "sagebox/xgboost"
    with pytest.raises(ValidationError, match="updates versioned model packages"):
        control.update_model_package(
            ModelPackageArn=_arn(registry, "model-package/standalone"),
            ModelApprovalStatus="Approved",
        )
    with pytest.raises(ValidationError, match="modelApprovalStatus"):
        control.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approve")


def test_update_metadata_and_additional_specifications(registry: Session) -> None:
    control = registry.control
    control.create_model_package_group(ModelPackageGroupName="loan-default")
    arn = _version(registry, "loan-default", CustomerMetadataProperties={"a": "1", "b": "2"})
    control.update_model_package(
        ModelPackageArn=arn,
        CustomerMetadataProperties={"c": "3", "a": "10"},
        CustomerMetadataPropertiesToRemove=["b"],
        AdditionalInferenceSpecificationsToAdd=[
            {"Name": "batch", "Containers": [{"Image": "sagebox/xgboost", "ModelDataUrl": MODEL}]}
        ],
    )
    described = control.describe_model_package(ModelPackageName=arn)
    assert described["CustomerMetadataProperties"] == {"a": "10", "c": "3"}
    assert [s["Name"] for s in described["AdditionalInferenceSpecifications"]] == ["batch"]
    with pytest.raises(ValidationError, match=r"both set .* and removed"):
        control.update_model_package(
            ModelPackageArn=arn,
            CustomerMetadataProperties={"c": "4"},
            CustomerMetadataPropertiesToRemove=["c"],
        )
    with pytest.raises(ValidationError, match="names must be unique"):
        control.update_model_package(
            ModelPackageArn=arn,
            AdditionalInferenceSpecificationsToAdd=[
                {"Name": "batch", "Containers": [{"Image": "sagebox/xgboost"}]}
            ],
        )
    missing = f"s3://{BUCKET}/nope/model.tar.gz"
    with pytest.raises(ValidationError, match=f"Could not find model data at {missing}"):
        control.update_model_package(
            ModelPackageArn=arn,
            AdditionalInferenceSpecificationsToAdd=[
                {
                    "Name": "other",
                    "Containers": [{"Image": "sagebox/xgboost", "ModelDataUrl": missing}],
                }
            ],
        )
    assert control.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"] == {
        "a": "10",
        "c": "3",
    }  # a refused update changes nothing


def _names(page: dict[str, Any]) -> list[str]:
    return [
        s["ModelPackageArn"].split("model-package/")[1] for s in page["ModelPackageSummaryList"]
    ]


def test_list_filters(registry: Session) -> None:
    control = registry.control
    for group in ("loan-default", "churn"):
        control.create_model_package_group(ModelPackageGroupName=group)
    _version(registry, "loan-default")
    _version(registry, "loan-default", ModelApprovalStatus="Approved")
    _version(registry, "loan-default", ModelApprovalStatus="Rejected")
    _version(registry, "churn", ModelApprovalStatus="Approved")
    control.create_model_package(ModelPackageName="loan-standalone", InferenceSpecification=_spec())

    assert _names(control.list_model_packages()) == ["loan-standalone"]  # Unversioned by default
    assert _names(control.list_model_packages(ModelPackageGroupName="loan-default")) == [
        "loan-default/1",
        "loan-default/2",
        "loan-default/3",
    ]
    assert _names(
        control.list_model_packages(ModelPackageGroupName="loan-default", SortOrder="Descending")
    ) == ["loan-default/3", "loan-default/2", "loan-default/1"]
    assert _names(
        control.list_model_packages(ModelApprovalStatus="Approved", ModelPackageType="Both")
    ) == [
        "loan-default/2",
        "churn/1",
    ]
    assert _names(
        control.list_model_packages(ModelPackageType="Versioned", NameContains="churn")
    ) == ["churn/1"]
    assert _names(
        control.list_model_packages(ModelPackageType="Both", NameContains="loan", SortBy="Name")
    ) == ["loan-default/1", "loan-default/2", "loan-default/3", "loan-standalone"]
    summary = control.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"][
        0
    ]
    assert summary["ModelPackageGroupName"] == "churn"
    assert summary["ModelPackageVersion"] == 1
    assert summary["ModelApprovalStatus"] == "Approved"
    assert summary["ModelPackageStatus"] == "Completed"

    pages, request = [], {"ModelPackageType": "Both", "MaxResults": 2}
    while True:
        page = control.list_model_packages(**request)
        pages.append(_names(page))
        if "NextToken" not in page:
            break
        request["NextToken"] = page["NextToken"]
    assert [len(p) for p in pages] == [2, 2, 1]
    with pytest.raises(ValidationError, match="NextToken"):
        control.list_model_packages(ModelPackageType="Versioned", NextToken=request["NextToken"])
    with pytest.raises(ValidationError, match="'nope' does not exist"):
        control.list_model_packages(ModelPackageGroupName="nope")

    batch = control.batch_describe_model_package(
        ModelPackageArnList=[
            _arn(registry, "model-package/churn/1"),
            _arn(registry, "model-package/loan-standalone"),
            _arn(registry, "model-package/churn/9"),
        ]
    )
    assert list(batch["ModelPackageSummaries"]) == [_arn(registry, "model-package/churn/1")]
    assert set(batch["BatchDescribeModelPackageErrorMap"]) == {
        _arn(registry, "model-package/loan-standalone"),
        _arn(registry, "model-package/churn/9"),
    }


def test_bad_requests_say_what_and_how(registry: Session) -> None:
    control = registry.control
    control.create_model_package_group(ModelPackageGroupName="loan-default")

    def refused(match: str, **request: Any) -> None:
        with pytest.raises(ValidationError, match=match):
            control.create_model_package(**request)

    refused("exactly one of ModelPackageGroupName .* Got neither", InferenceSpecification=_spec())
    refused(
        "Got both",
        ModelPackageName="x",
        ModelPackageGroupName="loan-default",
        InferenceSpecification=_spec(),
    )
    refused("InferenceSpecification is required", ModelPackageGroupName="loan-default")
    refused(
        "Tags cannot be given for a versioned model package",
        ModelPackageGroupName="loan-default",
        InferenceSpecification=_spec(),
        Tags=[{"Key": "a", "Value": "b"}],
    )
    refused(
        "applies only to versioned model packages",
        ModelPackageName="x",
        InferenceSpecification=_spec(),
        ModelApprovalStatus="Approved",
    )
    refused(
        f"Could not find model data at s3://{BUCKET}/missing.tar.gz "
        r"\(InferenceSpecification.Containers.1.ModelDataUrl\)",
        ModelPackageGroupName="loan-default",
        InferenceSpecification=_spec(f"s3://{BUCKET}/missing.tar.gz"),
    )
    refused(
        "ModelDataUrl 'https://example.com/m.tar.gz' is not an s3:// URI",
        ModelPackageGroupName="loan-default",
        InferenceSpecification=_spec("https://example.com/m.tar.gz"),
    )
    refused(
        "Containers.1.Image: The image 'my-own:latest' is not one sagebox can run",
        ModelPackageGroupName="loan-default",
        InferenceSpecification={"Containers": [{"Image": "my-own:latest", "ModelDataUrl": MODEL}]},
    )
    refused(
        "Model package group 'nope' does not exist",
        ModelPackageGroupName="nope",
        InferenceSpecification=_spec(),
    )
    refused(
        "'bad name!' at 'modelPackageGroupName' failed",  # botocore's pattern check
        ModelPackageGroupName="bad name!",
        InferenceSpecification=_spec(),
    )

    objects = registry.home.objects
    objects.put_object(BUCKET, "reports/not-json.json", b"<html>not json</html>")
    body = json.dumps({"auc": 0.8}).encode()
    objects.put_object(BUCKET, "reports/good.json", body)

    def metrics(uri: str, **extra: str) -> dict[str, Any]:
        source = {"ContentType": "application/json", "S3Uri": uri, **extra}
        return {"ModelQuality": {"Statistics": source}}

    refused(
        rf"Could not find the report at s3://{BUCKET}/reports/none.json "
        r"\(ModelMetrics.ModelQuality.Statistics.S3Uri\)",
        ModelPackageGroupName="loan-default",
        InferenceSpecification=_spec(),
        ModelMetrics=metrics(f"s3://{BUCKET}/reports/none.json"),
    )
    refused(
        "has ContentType 'application/json' but is not JSON",
        ModelPackageGroupName="loan-default",
        InferenceSpecification=_spec(),
        ModelMetrics=metrics(f"s3://{BUCKET}/reports/not-json.json"),
    )
    refused(
        "ContentDigest .* does not match the report",
        ModelPackageGroupName="loan-default",
        InferenceSpecification=_spec(),
        ModelMetrics=metrics(
            f"s3://{BUCKET}/reports/good.json", ContentDigest="sha256:" + "0" * 64
        ),
    )
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    ok = _version(
        registry,
        "loan-default",
        ModelMetrics=metrics(f"s3://{BUCKET}/reports/good.json", ContentDigest=digest),
        DriftCheckBaselines={
            "ModelQuality": {"Statistics": metrics(REPORT)["ModelQuality"]["Statistics"]}
        },
    )
    assert ok.endswith("/loan-default/1")  # the refused requests used no version number

    with pytest.raises(ValidationError, match="'loan-default' is a model package group: name one"):
        control.describe_model_package(ModelPackageName="loan-default")
    with pytest.raises(ValidationError, match="'loan-default/7' does not exist"):
        control.describe_model_package(ModelPackageName="loan-default/7")


def test_delete_rules(registry: Session) -> None:
    control = registry.control
    control.create_model_package_group(ModelPackageGroupName="loan-default")
    arns = [_version(registry, "loan-default") for _ in range(2)]
    with pytest.raises(ConflictError, match=r"still holds model packages .*loan-default/1"):
        control.delete_model_package_group(ModelPackageGroupName="loan-default")
    # The refusal left the group as it was.
    assert (
        control.describe_model_package_group(ModelPackageGroupName="loan-default")[
            "ModelPackageGroupStatus"
        ]
        == "Completed"
    )
    assert _version(registry, "loan-default").endswith("/loan-default/3")
    for arn in [*arns, _arn(registry, "model-package/loan-default/3")]:
        control.delete_model_package(ModelPackageName=arn)
    with pytest.raises(ValidationError, match="does not exist"):
        control.delete_model_package(ModelPackageName=arns[0])
    control.delete_model_package_group(ModelPackageGroupName="loan-default")
    assert control.list_model_package_groups()["ModelPackageGroupSummaryList"] == []


def test_iam_decides_on_the_group_and_version_arns(registry: Session) -> None:
    from tests.control.test_listing_and_authorization import _user

    registry.control.create_model_package_group(ModelPackageGroupName="loan-default")
    registry.control.create_model_package_group(ModelPackageGroupName="fraud")
    prefix = f"arn:aws:sagemaker:{registry.region_name}:{registry.account_id}"
    analyst = _user(
        registry,
        "analyst",
        [
            {
                "Effect": "Allow",
                "Action": ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
                "Resource": f"{prefix}:model-package/loan-default/*",
            },
            {
                "Effect": "Allow",
                "Action": "sagemaker:DescribeModelPackageGroup",
                "Resource": f"{prefix}:model-package-group/loan-*",
            },
        ],
    )

    def call(operation: str, **request: Any) -> dict[str, Any]:
        return registry.control.call(operation, request, principal=analyst)

    arn = call(
        "CreateModelPackage", ModelPackageGroupName="loan-default", InferenceSpecification=_spec()
    )["ModelPackageArn"]
    assert call("DescribeModelPackage", ModelPackageName=arn)["ModelPackageVersion"] == 1
    group_arn = f"{prefix}:model-package-group/loan-default"
    assert call("DescribeModelPackageGroup", ModelPackageGroupName=group_arn)
    with pytest.raises(AccessDenied, match="model-package/fraud/1"):
        call("CreateModelPackage", ModelPackageGroupName="fraud", InferenceSpecification=_spec())
    with pytest.raises(AccessDenied, match="model-package-group/fraud"):
        call("DescribeModelPackageGroup", ModelPackageGroupName="fraud")
    with pytest.raises(AccessDenied, match="UpdateModelPackage"):
        call("UpdateModelPackage", ModelPackageArn=arn, ModelApprovalStatus="Approved")


# ---- the MLflow registry -------------------------------------------------------------
@pytest.fixture
def mlflow_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(SWITCH_ENV)
    yield


def _versions(session: Session, name: str) -> dict[str, Any]:
    """The mirrored versions of registered model ``name`` by package version number."""
    from sagebox.experiments import open_client

    client = open_client(session.home)
    found = client.search_model_versions(f"name = '{name}'")
    return {v.tags["sagemaker.model_package_version"]: v for v in found}


def _alias(session: Session, name: str) -> str | None:
    from sagebox.experiments import open_client

    aliases = open_client(session.home).get_registered_model(name).aliases
    value = aliases.get(APPROVED_ALIAS)
    return None if value is None else str(value)


@pytest.mark.usefixtures("mlflow_on")
def test_mlflow_registry_shows_versions_and_approval(registry: Session) -> None:
    from sagebox.experiments import open_client

    control = registry.control
    group_arn = control.create_model_package_group(
        ModelPackageGroupName="loan-default", ModelPackageGroupDescription="loans"
    )["ModelPackageGroupArn"]
    client = open_client(registry.home)
    model = client.get_registered_model("loan-default")
    assert model.description == "loans"
    assert model.tags[GROUP_ARN_TAG] == group_arn

    arns = [_version(registry, "loan-default", ModelPackageDescription=f"v{n}") for n in (1, 2, 3)]
    versions = _versions(registry, "loan-default")
    assert sorted(versions) == ["1", "2", "3"]
    assert versions["2"].source == MODEL
    assert versions["2"].description == "v2"
    assert versions["2"].tags[PACKAGE_ARN_TAG] == arns[1]
    assert {v.tags[APPROVAL_TAG] for v in versions.values()} == {"PendingManualApproval"}
    assert _alias(registry, "loan-default") is None

    control.update_model_package(ModelPackageArn=arns[0], ModelApprovalStatus="Approved")
    control.update_model_package(
        ModelPackageArn=arns[1], ModelApprovalStatus="Approved", ApprovalDescription="best AUC"
    )
    versions = _versions(registry, "loan-default")
    assert versions["2"].tags[APPROVAL_TAG] == "Approved"
    assert versions["2"].tags["sagemaker.approval_description"] == "best AUC"
    assert _alias(registry, "loan-default") == str(versions["2"].version)  # the newest approved

    control.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="Rejected")
    assert _versions(registry, "loan-default")["2"].tags[APPROVAL_TAG] == "Rejected"
    assert _alias(registry, "loan-default") == str(versions["1"].version)  # falls back

    control.delete_model_package(ModelPackageName=arns[0])
    assert sorted(_versions(registry, "loan-default")) == ["2", "3"]
    assert _alias(registry, "loan-default") is None  # no approved version is left
    for arn in arns[1:]:
        control.delete_model_package(ModelPackageName=arn)
    control.delete_model_package_group(ModelPackageGroupName="loan-default")
    assert [m.name for m in client.search_registered_models()] == []


@pytest.mark.usefixtures("mlflow_on")
def test_mlflow_down_never_fails_a_call_and_the_next_sync_heals(
    registry: Session, home_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sagebox.home import Home

    config_path = home_path / "config.json"
    config = json.loads(config_path.read_text())
    config["mlflow_tracking_uri"] = f"sqlite:///{config_path}/mlflow.db"  # a file, not a folder
    config_path.write_text(json.dumps(config))
    down = Session(home_path)
    with caplog.at_level(logging.WARNING, logger="sagebox.experiments.registry"):
        down.control.create_model_package_group(ModelPackageGroupName="loan-default")
        arn = _version(down, "loan-default", ModelApprovalStatus="Approved")
    assert "was not mirrored to the MLflow registry" in caplog.text
    assert down.control.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"] == (
        "Approved"
    )

    config["mlflow_tracking_uri"] = None
    config_path.write_text(json.dumps(config))
    result = CliRunner().invoke(
        _app(), ["model-package-groups", "sync", "loan-default", "--home", str(home_path)]
    )
    assert result.exit_code == 0, result.output
    versions = _versions(Session(Home.open(home_path).path), "loan-default")
    assert versions["1"].tags[APPROVAL_TAG] == "Approved"
    assert _alias(registry, "loan-default") == str(versions["1"].version)


def _app() -> Any:
    from sagebox.cli.app import app

    return app


# ---- the CLI, and a real training job's model --------------------------------------
@pytest.mark.usefixtures("mlflow_on")
def test_cli_registers_a_training_jobs_model_linked_to_its_mlflow_run(
    registry: Session, home_path: Path
) -> None:
    from tests.control.test_training_jobs import _data, _request, _wait
    from tests.experiments.conftest import wait_for_run

    _data(registry)
    registry.control.create_training_job(**_request(registry, "loan-xgb", num_round="3"))
    assert _wait(registry, "loan-xgb")["TrainingJobStatus"] == "Completed"
    run_id = wait_for_run(registry, "loan-xgb")

    runner, home = CliRunner(), ["--home", str(home_path)]

    def cli(*args: str) -> str:
        result = runner.invoke(_app(), [*args, *home])
        assert result.exit_code == 0, result.output
        return result.stdout

    cli("model-package-groups", "create", "loan-default", "--description", "loans", "--tag", "t=1")
    arn = cli(
        "model-packages", "create", "--group", "loan-default", "--training-job", "loan-xgb",
        "--content-type", "text/csv", "--metrics-report", REPORT, "--metadata", "owner=risk",
    ).strip()  # fmt: skip
    assert arn.endswith(":model-package/loan-default/1")
    described = json.loads(cli("model-packages", "describe", "loan-default/1"))
    container = described["InferenceSpecification"]["Containers"][0]
    assert container["Image"] == "sagebox/xgboost"
    assert container["ModelDataUrl"].endswith("/loan-xgb/output/model.tar.gz")
    assert described["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]
    assert described["CustomerMetadataProperties"] == {"owner": "risk"}

    mirrored = _versions(registry, "loan-default")["1"]
    assert mirrored.run_id == run_id  # MLflow links the version to the run that trained it
    assert mirrored.tags[TRAINING_JOB_TAG] == "loan-xgb"

    assert "Approved " + arn in cli(
        "model-packages", "approve", "loan-default/1", "--description", "ok"
    )
    listed = json.loads(
        cli(
            "model-packages",
            "list",
            "--group",
            "loan-default",
            "--approval-status",
            "Approved",
            "-o",
            "json",
        )
    )
    assert [s["ModelPackageArn"] for s in listed["ModelPackageSummaryList"]] == [arn]
    assert _alias(registry, "loan-default") == str(mirrored.version)
    groups = json.loads(cli("model-package-groups", "list", "-o", "json"))
    assert [g["ModelPackageGroupName"] for g in groups["ModelPackageGroupSummaryList"]] == [
        "loan-default"
    ]

    refused = runner.invoke(_app(), ["model-package-groups", "delete", "loan-default", *home])
    assert refused.exit_code == 1
    assert "An error occurred (ConflictException) when calling the DeleteModelPackageGroup" in (
        refused.output
    )
    cli("model-packages", "reject", arn)
    assert "Rejected" in cli("model-packages", "describe", arn)
    cli("model-packages", "delete", arn)
    cli("model-package-groups", "delete", "loan-default")
    assert json.loads(cli("model-package-groups", "list", "-o", "json")) == {
        "ModelPackageGroupSummaryList": []
    }


def test_client_token_makes_a_create_idempotent(registry: Session) -> None:
    control = registry.control
    control.create_model_package_group(ModelPackageGroupName="loan-default")
    first = control.create_model_package(
        ModelPackageGroupName="loan-default", InferenceSpecification=_spec(), ClientToken="t-1"
    )
    again = control.create_model_package(
        ModelPackageGroupName="loan-default", InferenceSpecification=_spec(), ClientToken="t-1"
    )
    assert again == first  # a retried create is not a second version
    listed = control.list_model_packages(ModelPackageGroupName="loan-default")
    assert len(listed["ModelPackageSummaryList"]) == 1


def test_boto3_through_the_server(server: RunningServer) -> None:  # noqa: F811
    from botocore.exceptions import ClientError

    session = Session(server.home_path)
    session.home.objects.create_bucket(BUCKET)
    session.home.objects.put_object(BUCKET, "loan-default/output/model.tar.gz", b"a model")
    sagemaker = server.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="loan-default")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="loan-default", InferenceSpecification=_spec()
    )["ModelPackageArn"]
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    described = sagemaker.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["CreationTime"].tzinfo is not None
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName="loan-default"
    )
    assert [s["ModelPackageVersion"] for p in pages for s in p["ModelPackageSummaryList"]] == [1]
    batch = sagemaker.batch_describe_model_package(ModelPackageArnList=[arn])
    assert batch["ModelPackageSummaries"][arn]["ModelApprovalStatus"] == "Approved"
    with pytest.raises(ClientError) as refused:
        sagemaker.delete_model_package_group(ModelPackageGroupName="loan-default")
    assert refused.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_model_package_group(ModelPackageGroupName="nope")
    assert missing.value.response["Error"]["Code"] == "ValidationException"
