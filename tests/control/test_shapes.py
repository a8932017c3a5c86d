"""Requests validated and responses shaped by botocore's models, with AWS's messages."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sagebox.control import shapes
from sagebox.control.shapes_model import fullmatcher
from sagebox.errors import InternalError, UnknownOperation, ValidationError

NAME_PATTERN = "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
JOB_ARN = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/loan-prep-1"


def processing_job(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ProcessingJobName": "loan-prep-1",
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
            }
        },
        "AppSpecification": {
            "ImageUri": "sagebox/sklearn",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/prep.py"],
        },
        "ProcessingInputs": [
            {
                "InputName": "data",
                "S3Input": {
                    "S3Uri": "s3://loans/raw/",
                    "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": "s3://loans/code/prep.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "S3Output": {
                        "S3Uri": "s3://loans/train/",
                        "LocalPath": "/opt/ml/processing/train",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Environment": {"SPLIT": "0.2"},
        "Tags": [{"Key": "project", "Value": "loan default"}],
    }
    request.update(overrides)
    return request


def errors_of(
    operation: str, params: dict[str, Any], service: str = "sagemaker"
) -> shapes.ShapeValidationError:
    with pytest.raises(shapes.ShapeValidationError) as caught:
        shapes.validate_input(service, operation, params)
    return caught.value


# --------------------------------------------------------------------------- valid input


def test_valid_request_returns_an_equal_independent_copy() -> None:
    request = processing_job()
    result = shapes.validate_input("sagemaker", "CreateProcessingJob", request)
    assert result == request
    result["ProcessingInputs"][0]["S3Input"]["S3Uri"] = "s3://elsewhere/"
    result["Tags"].append({"Key": "k", "Value": "v"})
    assert request == processing_job()


def test_none_optional_members_are_dropped() -> None:
    result = shapes.validate_input(
        "sagemaker", "CreateProcessingJob", processing_job(Environment=None, Tags=None)
    )
    assert "Environment" not in result and "Tags" not in result


def test_other_operations_and_services_validate() -> None:
    training = {
        "TrainingJobName": "xgb-1",
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingImage": "sagebox/xgboost", "TrainingInputMode": "File"},
        "HyperParameters": {"max_depth": "5", "eta": "0.2"},
        "OutputDataConfig": {"S3OutputPath": "s3://loans/models/"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    assert shapes.validate_input("sagemaker", "CreateTrainingJob", training) == training
    tags = {"ResourceArn": JOB_ARN, "Tags": []}
    assert shapes.validate_input("sagemaker", "AddTags", tags) == tags
    database = {"DatabaseInput": {"Name": "loans", "Parameters": {"owner": "risk"}}}
    assert shapes.validate_input("glue", "CreateDatabase", database) == database


def test_numpy_style_integers_and_bytes_like_blobs_are_normalised() -> None:
    class Int64(int):  # stands in for numpy.int64: an Integral that is not int
        pass

    job = processing_job()
    job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = Int64(2)
    result = shapes.validate_input("sagemaker", "CreateProcessingJob", job)
    assert type(result["ProcessingResources"]["ClusterConfig"]["InstanceCount"]) is int


# --------------------------------------------------------------------------- each violation


def test_bad_name_reports_the_pattern_in_aws_format_with_a_hint() -> None:
    error = errors_of("CreateProcessingJob", processing_job(ProcessingJobName="my_job"))
    assert isinstance(error, ValidationError)
    assert error.code == "ValidationException"
    assert error.aws_message == (
        "1 validation error detected: Value 'my_job' at 'processingJobName' failed to "
        f"satisfy constraint: Member must satisfy regular expression pattern: {NAME_PATTERN}"
    )
    assert "letters, digits and hyphens" in error.message
    assert "at most 63 characters" in error.message
    assert "'my-job'" in error.message  # a corrected name to copy
    [violation] = error.violations
    path, value, constraint = violation[:3]
    assert (path, value, violation.field) == ("processingJobName", "my_job", "ProcessingJobName")
    assert constraint.endswith(NAME_PATTERN)


def test_missing_required_member_is_null() -> None:
    request = processing_job()
    del request["RoleArn"]
    error = errors_of("CreateProcessingJob", request)
    assert error.aws_message == (
        "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
        "Member must not be null"
    )
    assert error.violations[0].value is None


def test_number_below_minimum() -> None:
    job = processing_job()
    job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 0
    error = errors_of("CreateProcessingJob", job)
    assert error.violations[0].message == (
        "Value '0' at 'processingResources.clusterConfig.instanceCount' failed to satisfy "
        "constraint: Member must have value greater than or equal to 1"
    )
    assert error.violations[0].field == "ProcessingResources.ClusterConfig.InstanceCount"


def test_string_length_limits() -> None:
    error = errors_of("CreateProcessingJob", processing_job(ProcessingJobName="a" * 64))
    assert [v.constraint for v in error.violations] == [
        "Member must have length less than or equal to 63",
        f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
    ]
    error = errors_of("CreateProcessingJob", processing_job(ProcessingJobName=""))
    assert error.violations[0].constraint == "Member must have length greater than or equal to 1"


def test_unknown_members_are_named_with_the_valid_ones_and_a_suggestion() -> None:
    error = errors_of("CreateProcessingJob", processing_job(RoleARN="arn:aws:iam::1:role/x"))
    message = error.violations[0].message
    assert message.startswith('Unknown parameter in input: "RoleARN", must be one of: ')
    assert "ProcessingJobName, ProcessingResources" in message
    assert "Did you mean 'RoleArn'?" in error.message

    job = processing_job()
    job["ProcessingResources"]["ClusterConfig"]["Count"] = 2
    nested = errors_of("CreateProcessingJob", job).violations[0]
    assert nested.message.startswith(
        'Unknown parameter in processingResources.clusterConfig: "Count", must be one of: '
        "InstanceCount, InstanceType, VolumeSizeInGB, VolumeKmsKeyId"
    )
    assert nested.field == "ProcessingResources.ClusterConfig.Count"


@pytest.mark.parametrize(
    ("value", "got", "hint"),
    [("1", "string", "not '1'"), (True, "boolean", None), (1.0, "float", None)],
)
def test_wrong_types_are_rejected(value: object, got: str, hint: str | None) -> None:
    job = processing_job()
    job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = value
    violation = errors_of("CreateProcessingJob", job).violations[0]
    assert violation.constraint == f"Member must be of type integer; got {got}"
    assert violation.value is value
    assert (hint in (violation.hint or "")) if hint else violation.hint is None


def test_wrong_container_types() -> None:
    error = errors_of("CreateProcessingJob", processing_job(ProcessingInputs={"a": 1}, Tags="x"))
    assert [v.constraint for v in error.violations] == [
        "Member must be of type list; got structure",
        "Member must be of type list; got string",
    ]


def test_enum_violation_lists_the_allowed_values() -> None:
    job = processing_job()
    job["ProcessingInputs"][1]["S3Input"]["S3InputMode"] = "Bogus"
    violation = errors_of("CreateProcessingJob", job).violations[0]
    assert violation.message == (
        "Value 'Bogus' at 'processingInputs.2.member.s3Input.s3InputMode' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Pipe, File]"
    )
    assert violation.field == "ProcessingInputs[1].S3Input.S3InputMode"
    job["ProcessingInputs"][1]["S3Input"]["S3InputMode"] = "file"
    assert "use 'File'" in errors_of("CreateProcessingJob", job).message


def test_list_too_long() -> None:
    inputs = [
        {"InputName": f"in{i}", "S3Input": processing_job()["ProcessingInputs"][0]["S3Input"]}
        for i in range(11)
    ]
    violation = errors_of("CreateProcessingJob", processing_job(ProcessingInputs=inputs))
    [only] = violation.violations
    assert only.path == "processingInputs"
    assert only.constraint == "Member must have length less than or equal to 10"
    assert only.message.startswith("Value '[{InputName=in0, S3Input={S3Uri=s3://loans/raw/")


def test_nested_path_with_list_index() -> None:
    job = processing_job()
    job["ProcessingInputs"][1]["S3Input"]["S3Uri"] = "loans/code"
    del job["ProcessingOutputConfig"]["Outputs"][0]["OutputName"]
    error = errors_of("CreateProcessingJob", job)
    assert [(v.path, v.field) for v in error.violations] == [
        ("processingInputs.2.member.s3Input.s3Uri", "ProcessingInputs[1].S3Input.S3Uri"),
        (
            "processingOutputConfig.outputs.1.member.outputName",
            "ProcessingOutputConfig.Outputs[0].OutputName",
        ),
    ]
    assert "s3://my-bucket/prefix/" in error.message


def test_scalar_lists_and_maps_are_reported_once_with_all_constraints() -> None:
    error = errors_of(
        "DeleteTags",
        {"ResourceArn": JOB_ARN, "TagKeys": ["ok", "bad!", "no?"]},
    )
    [violation] = error.violations
    assert violation.message == (
        "Value '[ok, bad!, no?]' at 'tagKeys' failed to satisfy constraint: Member must satisfy "
        "constraint: [Member must have length less than or equal to 128, Member must have "
        "length greater than or equal to 1, Member must satisfy regular expression pattern: "
        "([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)]"
    )
    assert violation.field == "TagKeys[1]"

    error = errors_of("CreateProcessingJob", processing_job(Environment={"1X": "v", "OK": "v"}))
    [violation] = error.violations
    assert violation.path == "environment"
    assert violation.message.startswith(
        "Value '{1X=v, OK=v}' at 'environment' failed to satisfy constraint: Map keys must "
        "satisfy constraint: [Member must have length less than or equal to 256"
    )
    assert violation.field == "Environment['1X']"


def test_null_elements_and_map_values() -> None:
    error = errors_of("DeleteTags", {"ResourceArn": JOB_ARN, "TagKeys": ["ok", None]})
    [violation] = error.violations
    assert violation.constraint.endswith(", Member must not be null]")
    assert (violation.path, violation.field) == ("tagKeys", "TagKeys[1]")

    error = errors_of("CreateProcessingJob", processing_job(Environment={"A": None, "B": 1}))
    assert [(v.path, v.field, v.constraint.split(":")[0]) for v in error.violations] == [
        ("environment.B", "Environment['B']", "Member must be of type string; got integer"),
        ("environment", "Environment['A']", "Map value must satisfy constraint"),
    ]

    error = errors_of("CreateProcessingJob", processing_job(ProcessingInputs=[None]))
    assert error.violations[0].message == (
        "Value null at 'processingInputs.1.member' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_a_request_that_is_not_an_object() -> None:
    violation = errors_of("ListProcessingJobs", ["MaxResults", 1]).violations[0]  # type: ignore[arg-type]
    assert violation.message == (
        "Value '[MaxResults, 1]' at 'input' failed to satisfy constraint: "
        "Member must be of type structure; got list"
    )


def test_multiple_errors_are_counted_and_structured() -> None:
    job = processing_job(ProcessingJobName="my_job", RoleArn=None)
    job["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 0
    error = errors_of("CreateProcessingJob", job)
    assert error.aws_message.startswith("3 validation errors detected: Value 'my_job' at ")
    assert error.aws_message.count("; ") == 2
    assert [v[:3] for v in error.violations] == [
        (
            "processingJobName",
            "my_job",
            f"Member must satisfy regular expression pattern: {NAME_PATTERN}",
        ),
        (
            "processingResources.clusterConfig.instanceCount",
            0,
            "Member must have value greater than or equal to 1",
        ),
        ("roleArn", None, "Member must not be null"),
    ]
    assert error.message.startswith(error.aws_message + "\nHint for 'processingJobName': ")


def test_sensitive_values_are_not_echoed() -> None:
    request = {"ModelCardName": "card", "Content": "x" * 100_001, "ModelCardStatus": "Draft"}
    violation = errors_of("CreateModelCard", request).violations[0]
    assert violation.message.startswith("Value at 'content' failed to satisfy constraint: ")
    assert "xxx" not in violation.message


def test_union_needs_exactly_one_member() -> None:
    two = {"AttributeFilter": {"Attribute": "Name"}, "MapFilter": {"Key": "k"}}
    with pytest.raises(shapes.ShapeValidationError, match="exactly one of its members"):
        shapes.validate_input("glue", "SearchAssets", {"FilterClause": two})
    one = {"AndAllFilters": [{"AttributeFilter": {"Attribute": "Name"}}]}
    assert shapes.validate_input("glue", "SearchAssets", {"FilterClause": one})


def test_java_patterns_compile_for_every_model_we_serve() -> None:
    for service in ("sagemaker", "sagemaker-runtime", "glue", "iam", "sts"):
        model = shapes.service_model(service)
        patterns = {model.shape_for(n).metadata.get("pattern") for n in model.shape_names}
        uncheckable = [p for p in patterns - {None} if fullmatcher(p) is None]
        assert uncheckable == [], service


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        # Glue's "any XML character": Java's surrogate-pair range is all astral planes.
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "a 😀\t", "a\nb"),
        ("\\A\\S[\\p{Print}]*\\z", "ab c", " ab"),
        ("([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,128}", "Ünïcode 42", "semi;colon"),
        ("arn:[\\p{Alnum}\\-]+:lambda:.*", "arn:aws-cn:lambda:x", "arn:aws_cn:lambda:x"),
        ("\\d+", "123", "١٢٣"),  # Java's \d is ASCII digits only
    ],
)
def test_java_patterns_keep_their_java_meaning(pattern: str, good: str, bad: str) -> None:
    matcher = fullmatcher(pattern)
    assert matcher is not None
    assert matcher(good) is not None
    assert matcher(bad) is None


def test_unicode_tag_values_match_java_classes() -> None:
    tags = [{"Key": "équipe", "Value": "crédit à la consommation 2024"}]
    assert shapes.validate_input("sagemaker", "CreateProcessingJob", processing_job(Tags=tags))
    error = errors_of("CreateProcessingJob", processing_job(Tags=[{"Key": "a;b", "Value": "v"}]))
    assert error.violations[0].path == "tags.1.member.key"


def test_pattern_matches_the_whole_value() -> None:
    # "ok-name" matches at the start; AWS (Java's matches()) needs the whole value to.
    error = errors_of("CreateProcessingJob", processing_job(ProcessingJobName="ok-name-"))
    assert error.violations[0].constraint.startswith("Member must satisfy regular expression")


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 5, 1, 12, tzinfo=UTC),
        datetime(2024, 5, 1, 12),  # naive: read as UTC
        datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2))),
        1714564800,
        1714564800.0,
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00+00:00",
        "2024-05-01T12:00:00.000Z",
    ],
)
def test_timestamps_become_aware_datetimes(value: object) -> None:
    result = shapes.validate_input("sagemaker", "ListProcessingJobs", {"CreationTimeAfter": value})
    parsed = result["CreationTimeAfter"]
    assert parsed.tzinfo is not None
    assert parsed == datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("value", ["yesterday", True, [1]])
def test_bad_timestamps_are_rejected(value: object) -> None:
    violation = errors_of("ListProcessingJobs", {"CreationTimeAfter": value}).violations[0]
    assert violation.path == "creationTimeAfter"
    assert violation.constraint == "Member must be a timestamp"
    assert "ISO 8601" in (violation.hint or "")


# --------------------------------------------------------------------------- output


def describe_document() -> dict[str, Any]:
    return {
        "ProcessingJobName": "loan-prep-1",
        "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/loan-prep-1",
        "ProcessingJobStatus": "Completed",
        "CreationTime": "2024-05-01T12:00:00.250Z",
        "ProcessingEndTime": 1714568400,
        "LastModifiedTime": datetime(2024, 5, 1, 13),
        "FailureReason": None,
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
                "Spot": True,
            }
        },
        "AppSpecification": {"ImageUri": "sagebox/sklearn"},
        "ProcessingInputs": [{"InputName": "data", "Internal": "x", "S3Input": None}],
        "owner_pid": 4242,  # internal bookkeeping, not part of the API
    }


def test_shape_output_keeps_only_the_model_members_and_parses_timestamps() -> None:
    out = shapes.shape_output("sagemaker", "DescribeProcessingJob", describe_document())
    assert "owner_pid" not in out and "FailureReason" not in out
    assert out["ProcessingResources"] == {
        "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
    }
    assert out["ProcessingInputs"] == [{"InputName": "data"}]
    assert out["CreationTime"] == datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    assert out["ProcessingEndTime"] == datetime(2024, 5, 1, 13, tzinfo=UTC)
    assert out["LastModifiedTime"] == datetime(2024, 5, 1, 13, tzinfo=UTC)


def test_shape_output_converts_timestamps_inside_lists() -> None:
    summaries = [
        {
            "ProcessingJobName": f"job-{i}",
            "ProcessingJobArn": f"arn:aws:sagemaker:us-east-1:1:processing-job/job-{i}",
            "ProcessingJobStatus": "InProgress",
            "CreationTime": f"2024-05-0{i + 1}T00:00:00Z",
            "Secret": "dropped",
        }
        for i in range(2)
    ]
    out = shapes.shape_output(
        "sagemaker", "ListProcessingJobs", {"ProcessingJobSummaries": summaries, "NextToken": None}
    )
    assert [s["CreationTime"].day for s in out["ProcessingJobSummaries"]] == [1, 2]
    assert all("Secret" not in s for s in out["ProcessingJobSummaries"])
    assert "NextToken" not in out


def test_missing_required_output_member_is_a_sagebox_bug() -> None:
    document = describe_document()
    del document["ProcessingJobStatus"]
    with pytest.raises(InternalError, match=r"sagebox bug.*ProcessingJobStatus"):
        shapes.shape_output("sagemaker", "DescribeProcessingJob", document)


def test_malformed_output_is_a_sagebox_bug() -> None:
    document = describe_document() | {"CreationTime": "not a time"}
    with pytest.raises(InternalError, match="CreationTime should be a timestamp"):
        shapes.shape_output("sagemaker", "DescribeProcessingJob", document)


# --------------------------------------------------------------------------- wire


def test_output_wire_round_trip() -> None:
    wire = shapes.to_json_wire("sagemaker", "DescribeProcessingJob", describe_document())
    assert wire["CreationTime"] == pytest.approx(1714564800.25)
    assert isinstance(wire["ProcessingEndTime"], float)
    back = shapes.from_json_wire("sagemaker", "DescribeProcessingJob", wire, direction="output")
    assert back == shapes.shape_output("sagemaker", "DescribeProcessingJob", describe_document())


def test_input_wire_round_trip_with_timestamps_and_blobs() -> None:
    request = {"CreationTimeAfter": "2024-05-01T12:00:00.123456Z", "MaxResults": 10}
    wire = shapes.to_json_wire("sagemaker", "ListProcessingJobs", request, direction="input")
    assert wire == {"CreationTimeAfter": pytest.approx(1714564800.123456), "MaxResults": 10}
    back = shapes.from_json_wire("sagemaker", "ListProcessingJobs", wire)
    assert back == shapes.validate_input("sagemaker", "ListProcessingJobs", request)

    # Glue (JSON 1.1) carries a blob deep inside a list: ...MinimumValue.UnscaledValue.
    decimal = {"UnscaledValue": b"\x01\x00", "Scale": 2}
    stats = {
        "ColumnName": "amount",
        "ColumnType": "decimal(10,2)",
        "AnalyzedTime": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "StatisticsData": {
            "Type": "DECIMAL",
            "DecimalColumnStatisticsData": {
                "MinimumValue": decimal,
                "NumberOfNulls": 0,
                "NumberOfDistinctValues": 10,
            },
        },
    }
    body = {
        "DatabaseName": "loans",
        "TableName": "applications",
        "PartitionValues": ["2024"],
        "ColumnStatisticsList": [stats],
    }
    operation = "UpdateColumnStatisticsForPartition"
    wire = shapes.to_json_wire("glue", operation, body, direction="input")
    [wired] = wire["ColumnStatisticsList"]
    assert wired["AnalyzedTime"] == 1714564800.0
    assert wired["StatisticsData"]["DecimalColumnStatisticsData"]["MinimumValue"] == {
        "UnscaledValue": "AQA=",
        "Scale": 2,
    }
    assert shapes.from_json_wire("glue", operation, wire) == body


def test_bad_base64_on_the_wire() -> None:
    stats: dict[str, Any] = {"StatisticsData": {"BinaryColumnStatisticsData": {}}}
    decimal = {"DecimalColumnStatisticsData": {"MinimumValue": {"UnscaledValue": "%%%"}}}
    body = {"ColumnStatisticsList": [stats, {"StatisticsData": decimal}]}
    with pytest.raises(shapes.ShapeValidationError) as caught:
        shapes.from_json_wire("glue", "UpdateColumnStatisticsForPartition", body)
    assert caught.value.violations[0].path == (
        "columnStatisticsList.2.member.statisticsData.decimalColumnStatisticsData."
        "minimumValue.unscaledValue"
    )
    assert "base64" in caught.value.message


def test_unknown_wire_members_survive_decoding_for_validation_to_name() -> None:
    body = shapes.from_json_wire("sagemaker", "ListProcessingJobs", {"Bogus": 1})
    with pytest.raises(shapes.ShapeValidationError, match='"Bogus"'):
        shapes.validate_input("sagemaker", "ListProcessingJobs", body)


# --------------------------------------------------------------------------- names


def test_unknown_operation() -> None:
    with pytest.raises(UnknownOperation) as caught:
        shapes.validate_input("sagemaker", "CreateFoo", {})
    assert caught.value.message.startswith(
        "SageMaker has no operation 'CreateFoo'. Check the spelling; operation names are "
        "PascalCase as in the AWS API reference (e.g. CreateProcessingJob)."
    )
    with pytest.raises(UnknownOperation, match="Did you mean 'CreateProcessingJob'"):
        shapes.operation_model("sagemaker", "createProcessingJob")
    with pytest.raises(UnknownOperation, match="Glue has no operation 'GetTabel'"):
        shapes.operation_model("glue", "GetTabel")
    with pytest.raises(UnknownOperation, match="no AWS service 'sagemakr'"):
        shapes.operation_model("sagemakr", "CreateProcessingJob")


def test_operation_for_method() -> None:
    assert shapes.operation_for_method("create_processing_job") == "CreateProcessingJob"
    assert shapes.operation_for_method("sagemaker", "add_tags") == "AddTags"
    assert shapes.operation_for_method("glue", "get_table") == "GetTable"
    assert shapes.operation_for_method("sagemaker", "create_auto_ml_job_v2") == "CreateAutoMLJobV2"
    with pytest.raises(UnknownOperation, match="Did you mean 'describe_processing_job'"):
        shapes.operation_for_method("sagemaker", "describe_procesing_job")


def test_member_names() -> None:
    names = shapes.member_names("sagemaker", "ProcessingClusterConfig")
    assert names[:4] == ["InstanceCount", "InstanceType", "VolumeSizeInGB", "VolumeKmsKeyId"]
    with pytest.raises(InternalError):
        shapes.member_names("sagemaker", "ProcessingInstanceCount")
    with pytest.raises(InternalError):
        shapes.member_names("sagemaker", "NoSuchShape")


def test_importing_shapes_does_not_load_botocore() -> None:
    code = (
        "import sys, sagebox.control.shapes; print(sorted(m for m in sys.modules if 'boto' in m))"
    )
    src = str(Path(shapes.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "[]", "botocore must load on first use, not on import"


# --------------------------------------------------------------------------- properties

NAME_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
VALID_NAMES = st.builds(
    lambda first, rest: first + "".join(hyphens + char for hyphens, char in rest),
    NAME_CHARS,
    st.lists(st.tuples(st.sampled_from(["", "", "-", "--"]), NAME_CHARS), max_size=30),
).filter(lambda name: len(name) <= 63)


@settings(max_examples=200, deadline=None)
@given(VALID_NAMES)
def test_any_name_of_the_pattern_validates(name: str) -> None:
    assert re.fullmatch(NAME_PATTERN, name)
    result = shapes.validate_input(
        "sagemaker", "CreateProcessingJob", processing_job(ProcessingJobName=name)
    )
    assert result["ProcessingJobName"] == name


@settings(max_examples=200, deadline=None)
@given(
    VALID_NAMES.filter(lambda n: len(n) < 63),
    st.characters(exclude_characters="-", exclude_categories=["Cs"]).filter(
        lambda c: not (c.isascii() and c.isalnum())
    ),
    st.integers(min_value=0),
)
def test_a_name_with_any_other_character_fails(name: str, bad: str, where: int) -> None:
    at = where % (len(name) + 1)
    broken = name[:at] + bad + name[at:]
    error = errors_of("CreateProcessingJob", processing_job(ProcessingJobName=broken))
    assert any(
        v.path == "processingJobName" and v.constraint.endswith(NAME_PATTERN)
        for v in error.violations
    )


def test_validation_does_not_mutate_its_input() -> None:
    request = processing_job(ProcessingJobName="bad_name")
    snapshot = copy.deepcopy(request)
    with pytest.raises(ValidationError):
        shapes.validate_input("sagemaker", "CreateProcessingJob", request)
    assert request == snapshot
