"""The protocol codecs, with botocore itself as the oracle.

Requests are built by botocore's own serializers and must decode to exactly the
parameters a boto3 user passed; responses and errors must parse, with botocore's own
response parsers, into exactly the data sent (and into ``ClientError`` codes and
messages). The last tests run real botocore clients against the codecs through a
``before-send`` hook, so the whole client pipeline is exercised without a network.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from botocore.awsrequest import (
    AWSPreparedRequest,
    AWSResponse,
    HeadersDict,
    create_request_object,
    prepare_request_dict,
)
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer
from botocore.session import get_session

from sagebox.api.protocols import (
    InvalidAction,
    MissingAction,
    SerializationError,
    match_rest_operation,
    parse_json_request,
    parse_query_request,
    parse_rest_request,
    serialize_json_error,
    serialize_json_response,
    serialize_query_error,
    serialize_query_response,
    serialize_rest_error,
    serialize_rest_response,
)
from sagebox.api.protocols.query import QUERY_ERROR_CODES
from sagebox.control.shapes import operation_model, shape_output, validate_input
from sagebox.errors import (
    InternalError,
    ResourceNotFound,
    SageboxError,
    UnknownOperation,
    ValidationError,
)

os.environ.setdefault("DO_NOT_TRACK", "1")

WHEN = datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)
WHEN_MS = datetime(2024, 5, 1, 13, 0, 0, 123000, tzinfo=UTC)
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)


# --------------------------------------------------------------------------- helpers


def _prepared(service: str, operation: str, params: Mapping[str, Any]) -> AWSPreparedRequest:
    """The HTTP request botocore would send for ``params``."""
    op = operation_model(service, operation)
    request = create_serializer(op.metadata["protocol"]).serialize_to_request(params, op)
    prepare_request_dict(request, endpoint_url="https://sagebox.test")
    return create_request_object(request).prepare()


def _body_bytes(request: AWSPreparedRequest) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return bytes(body.read())


def _form(request: AWSPreparedRequest) -> list[tuple[str, str]]:
    return parse_qsl(_body_bytes(request).decode(), keep_blank_values=True)


def _query_roundtrip(service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    name, decoded = parse_query_request(service, _form(_prepared(service, operation, params)))
    assert name == operation
    return decoded


def _json_roundtrip(service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    request = _prepared(service, operation, params)
    name, decoded = parse_json_request(
        service, request.headers["X-Amz-Target"], _body_bytes(request)
    )
    assert name == operation
    return decoded


def _rest_roundtrip(service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    request = _prepared(service, operation, params)
    url = urlsplit(request.url)
    matched = match_rest_operation(service, request.method, url.path, parse_qsl(url.query))
    assert matched is not None and matched[0] == operation
    headers = {key: str(value) for key, value in request.headers.items()}
    query = parse_qsl(url.query, keep_blank_values=True)
    return parse_rest_request(service, operation, matched[1], headers, query, _body_bytes(request))


def _parse(
    service: str, operation: str, status: int, headers: Mapping[str, str], body: bytes
) -> dict[str, Any]:
    op = operation_model(service, operation)
    wire_body: Any = body
    if op.has_streaming_output and status < 300:
        wire_body = StreamingBody(io.BytesIO(body), len(body))
    response = {"status_code": status, "headers": HeadersDict(headers), "body": wire_body}
    parsed = create_parser(op.metadata["protocol"]).parse(response, op.output_shape)
    return dict(parsed)


def _query_parse(service: str, operation: str, body: bytes, status: int = 200) -> dict[str, Any]:
    return _parse(service, operation, status, {}, body)


def _strip(parsed: dict[str, Any]) -> dict[str, Any]:
    parsed.pop("ResponseMetadata", None)
    return parsed


# --------------------------------------------------------------------------- query: requests

QUERY_REQUESTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "iam CreateUser with Tags": (
        "iam",
        "CreateUser",
        {
            "UserName": "alice",
            "Path": "/analysts/",
            "PermissionsBoundary": "arn:aws:iam::aws:policy/PowerUserAccess",
            "Tags": [
                {"Key": "team", "Value": "credit risk + scoring"},
                {"Key": "cost-center", "Value": "4711=ops:x.y/z@a"},
            ],
        },
    ),
    "iam PutUserPolicy": (
        "iam",
        "PutUserPolicy",
        {
            "UserName": "alice",
            "PolicyName": "read-data",
            "PolicyDocument": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Action":"s3:GetObject","Resource":"arn:aws:s3:::loans/*"}]}',
        },
    ),
    "iam CreateRole": (
        "iam",
        "CreateRole",
        {
            "RoleName": "SageMakerExecution",
            "AssumeRolePolicyDocument": TRUST,
            "Description": "Runs jobs + endpoints",
            "MaxSessionDuration": 7200,
            "Tags": [{"Key": "app", "Value": "loans"}],
        },
    ),
    "iam AttachRolePolicy": (
        "iam",
        "AttachRolePolicy",
        {"RoleName": "SageMakerExecution", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnly"},
    ),
    "iam ListUsers": ("iam", "ListUsers", {"Marker": "b64+/=token", "MaxItems": 25}),
    "iam SimulateCustomPolicy": (
        "iam",
        "SimulateCustomPolicy",
        {
            "PolicyInputList": [
                '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*",'
                '"Resource":"*"}]}'
            ],
            "ActionNames": ["s3:GetObject", "s3:PutObject"],
            "ResourceArns": ["arn:aws:s3:::loans/a.csv", "arn:aws:s3:::loans/b.csv"],
            "ContextEntries": [
                {
                    "ContextKeyName": "aws:SourceIp",
                    "ContextKeyValues": ["10.0.0.1", "10.0.0.2"],
                    "ContextKeyType": "ipList",
                },
                {
                    "ContextKeyName": "aws:MultiFactorAuthPresent",
                    "ContextKeyValues": ["true"],
                    "ContextKeyType": "boolean",
                },
            ],
            "MaxItems": 100,
        },
    ),
    "iam CreateLoginProfile boolean": (
        "iam",
        "CreateLoginProfile",
        {"UserName": "alice", "Password": "S3cret!&=", "PasswordResetRequired": True},
    ),
    "sts AssumeRole": (
        "sts",
        "AssumeRole",
        {
            "RoleArn": ROLE,
            "RoleSessionName": "training-job",
            "DurationSeconds": 3600,
            "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnly"}],
            "Tags": [{"Key": "project", "Value": "loans"}],
            "TransitiveTagKeys": ["project"],
            "ExternalId": "ext-1",
        },
    ),
    "sts GetCallerIdentity": ("sts", "GetCallerIdentity", {}),
    # Beyond IAM and STS, the same codec reads every query model's encodings.
    "sns Publish map with blob": (
        "sns",
        "Publish",
        {
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
            "Message": "drift detected",
            "MessageAttributes": {
                "model": {"DataType": "String", "StringValue": "xgb-v3"},
                "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xffbytes"},
            },
        },
    ),
    "sdb PutAttributes flattened lists": (
        "sdb",
        "PutAttributes",
        {
            "DomainName": "loans",
            "ItemName": "app-1",
            "Attributes": [
                {"Name": "score", "Value": "0.91", "Replace": True},
                {"Name": "grade", "Value": "B", "Replace": False},
            ],
            "Expected": {"Name": "grade", "Exists": False},
        },
    ),
    "rds DescribeEvents timestamps": (
        "rds",
        "DescribeEvents",
        {"StartTime": WHEN, "EndTime": WHEN_MS, "Duration": 60, "EventCategories": []},
    ),
}


@pytest.mark.parametrize("case", list(QUERY_REQUESTS), ids=list(QUERY_REQUESTS))
def test_query_request_decodes_to_the_params_botocore_sent(case: str) -> None:
    service, operation, params = QUERY_REQUESTS[case]
    decoded = _query_roundtrip(service, operation, params)
    assert decoded == params
    assert validate_input(service, operation, decoded) == params


def test_query_request_accepts_a_mapping_and_ignores_signature_parameters() -> None:
    form = {
        "Action": "GetUser",
        "Version": "2010-05-08",
        "UserName": "bob",
        "X-Amz-Signature": "abc",
        "X-Amz-Credential": "AKID/20240501/us-east-1/iam/aws4_request",
        "SignatureVersion": "2",
    }
    assert parse_query_request("iam", form) == ("GetUser", {"UserName": "bob"})


def test_query_request_keeps_unknown_parameters_for_validation_to_name() -> None:
    form = {"Action": "GetUser", "Version": "2010-05-08", "UserNmae": "bob"}
    operation, params = parse_query_request("iam", form)
    assert params == {"UserNmae": "bob"}
    with pytest.raises(ValidationError, match="UserNmae"):
        validate_input("iam", operation, params)


def test_query_request_passes_a_mistyped_value_on_to_validation() -> None:
    form = {"Action": "ListUsers", "Version": "2010-05-08", "MaxItems": "lots"}
    operation, params = parse_query_request("iam", form)
    assert params == {"MaxItems": "lots"}
    with pytest.raises(ValidationError, match="maxItems"):
        validate_input("iam", operation, params)


def test_query_request_orders_list_elements_by_their_number() -> None:
    form = [
        ("Action", "SimulateCustomPolicy"),
        ("Version", "2010-05-08"),
        ("ActionNames.member.10", "j"),
        ("ActionNames.member.2", "b"),
        ("ActionNames.member.1", "a"),
    ]
    assert parse_query_request("iam", form)[1] == {"ActionNames": ["a", "b", "j"]}


@pytest.mark.parametrize(
    ("form", "error", "fragment"),
    [
        ({"Version": "2010-05-08"}, MissingAction, "no Action"),
        ({"Action": "GetUsr", "Version": "2010-05-08"}, InvalidAction, "'GetUser'"),
        ({"Action": "GetUser", "Version": "2011-06-15"}, ValidationError, "'2010-05-08'"),
        ({"Action": "GetUser"}, ValidationError, "Version"),
        (
            {"Action": "CreateUser", "Version": "2010-05-08", "Tags.member.x.Key": "k"},
            ValidationError,
            "numbered from 1",
        ),
        (
            {"Action": "CreateUser", "Version": "2010-05-08", "Tags.items.1.Key": "k"},
            ValidationError,
            "Tags.member.1",
        ),
    ],
)
def test_query_request_errors_say_what_was_wrong(
    form: dict[str, str], error: type[SageboxError], fragment: str
) -> None:
    with pytest.raises(error, match=fragment.replace("(", r"\(")):
        parse_query_request("iam", form)


def test_query_error_codes_are_those_aws_query_services_use() -> None:
    assert (InvalidAction.code, InvalidAction.http_status) == ("InvalidAction", 400)
    assert issubclass(MissingAction, InvalidAction) and MissingAction.code == "MissingAction"


def test_query_blob_that_is_not_base64_is_rejected() -> None:
    form = {
        "Action": "Publish",
        "Version": "2010-03-31",
        "Message": "m",
        "MessageAttributes.entry.1.Name": "raw",
        "MessageAttributes.entry.1.Value.DataType": "Binary",
        "MessageAttributes.entry.1.Value.BinaryValue": "not base64!",
    }
    with pytest.raises(ValidationError, match="base64"):
        parse_query_request("sns", form)


# --------------------------------------------------------------------------- query: responses

USER = {
    "Path": "/analysts/",
    "UserName": "alice",
    "UserId": "AIDAEXAMPLE00000001",
    "Arn": "arn:aws:iam::123456789012:user/analysts/alice",
    "CreateDate": WHEN,
    "PasswordLastUsed": WHEN_MS,
    "PermissionsBoundary": {
        "PermissionsBoundaryType": "Policy",
        "PermissionsBoundaryArn": "arn:aws:iam::aws:policy/PowerUserAccess",
    },
    "Tags": [{"Key": "team", "Value": "risk & <credit> \"quoted\" 'single'"}],
}

QUERY_RESPONSES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "iam GetUser": ("iam", "GetUser", {"User": USER}),
    "iam ListUsers truncated": (
        "iam",
        "ListUsers",
        {
            "Users": [USER, {**USER, "UserName": "bob", "Tags": []}],
            "IsTruncated": True,
            "Marker": "next+/=page",
        },
    ),
    "iam ListUsers empty": ("iam", "ListUsers", {"Users": [], "IsTruncated": False}),
    "iam CreateAccessKey": (
        "iam",
        "CreateAccessKey",
        {
            "AccessKey": {
                "UserName": "alice",
                "AccessKeyId": "AKIAEXAMPLE000000001",
                "Status": "Active",
                "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "CreateDate": WHEN,
            }
        },
    ),
    "iam AttachRolePolicy (no output)": ("iam", "AttachRolePolicy", {}),
    "sts AssumeRole": (
        "sts",
        "AssumeRole",
        {
            "Credentials": {
                "AccessKeyId": "ASIAEXAMPLE000000001",
                "SecretAccessKey": "secret/key+value",
                "SessionToken": "FwoGZXIvYXdzE\nlong<token>",
                "Expiration": WHEN_MS,
            },
            "AssumedRoleUser": {
                "AssumedRoleId": "AROAEXAMPLE:training-job",
                "Arn": "arn:aws:sts::123456789012:assumed-role/SageMakerExecution/training-job",
            },
            "PackedPolicySize": 6,
            "SourceIdentity": "alice",
        },
    ),
    "sts GetCallerIdentity": (
        "sts",
        "GetCallerIdentity",
        {
            "UserId": "AIDAEXAMPLE00000001",
            "Account": "123456789012",
            "Arn": "arn:aws:iam::123456789012:user/alice",
        },
    ),
    "sns GetTopicAttributes map": (
        "sns",
        "GetTopicAttributes",
        {"Attributes": {"DisplayName": "Alerts & more", "Policy": '{"a": "<b>"}'}},
    ),
    "sdb GetAttributes flattened": (
        "sdb",
        "GetAttributes",
        {"Attributes": [{"Name": "score", "Value": "0.91"}, {"Name": "grade", "Value": "B"}]},
    ),
}


@pytest.mark.parametrize("case", list(QUERY_RESPONSES), ids=list(QUERY_RESPONSES))
def test_query_response_parses_back_with_botocore(case: str) -> None:
    service, operation, data = QUERY_RESPONSES[case]
    body = serialize_query_response(service, operation, data, "req-42")
    parsed = _query_parse(service, operation, body)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-42"
    assert parsed == shape_output(service, operation, data) == data


def test_query_response_is_aws_xml() -> None:
    body = serialize_query_response(
        "sts", "GetCallerIdentity", QUERY_RESPONSES["sts GetCallerIdentity"][2], "rid"
    )
    text = body.decode()
    assert text.startswith(
        '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        "<GetCallerIdentityResult>"
    )
    assert text.endswith(
        "</GetCallerIdentityResult><ResponseMetadata><RequestId>rid</RequestId>"
        "</ResponseMetadata></GetCallerIdentityResponse>"
    )
    user = serialize_query_response("iam", "GetUser", {"User": USER}, "r").decode()
    assert "<CreateDate>2024-05-01T12:30:15Z</CreateDate>" in user
    assert "<Tags><member><Key>team</Key>" in user
    listed = serialize_query_response(
        "iam", "ListUsers", {"Users": [], "IsTruncated": True}, "r"
    ).decode()
    assert "<IsTruncated>true</IsTruncated>" in listed


def test_query_response_drops_members_the_shape_does_not_declare() -> None:
    data = {"UserId": "u", "Account": "123456789012", "Arn": "arn", "Secret": "leak"}
    body = serialize_query_response("sts", "GetCallerIdentity", data, "r")
    assert b"leak" not in body


@pytest.mark.parametrize(
    ("error", "status", "fault"),
    [
        (ResourceNotFound("The user with name nobody cannot be found."), 400, "Sender"),
        (ValidationError("Value 'x<y' at 'userName' failed & more"), 400, "Sender"),
        (InvalidAction("IAM has no action 'Nope'."), 400, "Sender"),
        (InternalError("The server had an internal error."), 500, "Receiver"),
    ],
)
def test_query_error_parses_into_code_and_message(
    error: SageboxError, status: int, fault: str
) -> None:
    got_status, body = serialize_query_error("iam", error, "req-err")
    assert got_status == status
    parsed = _query_parse("iam", "GetUser", body, status)
    code = QUERY_ERROR_CODES.get(error.code, error.code)  # ValidationException -> ValidationError
    assert parsed["Error"] == {"Type": fault, "Code": code, "Message": error.message}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-err"


# --------------------------------------------------------------------------- json 1.1

PROCESSING_JOB = {
    "ProcessingJobName": "loan-preprocess-1",
    "ProcessingResources": {
        "ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
    },
    "AppSpecification": {
        "ImageUri": "sagebox/sklearn",
        "ContainerEntrypoint": ["python3", "/opt/ml/processing/code/preprocess.py"],
        "ContainerArguments": ["--test-size", "0.2"],
    },
    "RoleArn": ROLE,
    "ProcessingInputs": [
        {
            "InputName": "raw",
            "S3Input": {
                "S3Uri": "s3://loans/raw/",
                "LocalPath": "/opt/ml/processing/input",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }
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
    "Environment": {"LOG_LEVEL": "debug", "SEED": "42"},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "Tags": [{"Key": "project", "Value": "loans"}],
}


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("sagemaker", "CreateProcessingJob", PROCESSING_JOB),
        (
            "sagemaker",
            "ListTrainingJobs",
            {"CreationTimeAfter": WHEN, "CreationTimeBefore": WHEN_MS, "MaxResults": 10},
        ),
        ("glue", "GetTable", {"DatabaseName": "loans", "Name": "applications"}),
    ],
    ids=["CreateProcessingJob", "ListTrainingJobs timestamps", "glue GetTable"],
)
def test_json_request_decodes_to_the_params_botocore_sent(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    decoded = _json_roundtrip(service, operation, params)
    assert decoded == params
    assert validate_input(service, operation, decoded) == params


@pytest.mark.parametrize(
    ("target", "body", "error", "fragment"),
    [
        ("AWSGlue.CreateProcessingJob", b"{}", UnknownOperation, "SageMaker.<Operation>"),
        ("SageMaker.CreateProcesingJob", b"{}", UnknownOperation, "'CreateProcessingJob'"),
        ("", b"{}", UnknownOperation, "X-Amz-Target"),
        ("SageMaker.ListTrainingJobs", b'{"MaxResults": 1', SerializationError, "not valid"),
        ("SageMaker.ListTrainingJobs", b"[1, 2]", SerializationError, "JSON object"),
        ("SageMaker.ListTrainingJobs", b"\xff\xfe", SerializationError, "not valid"),
    ],
)
def test_json_request_errors(
    target: str, body: bytes, error: type[SageboxError], fragment: str
) -> None:
    with pytest.raises(error, match=fragment.replace(".", r"\.")) as raised:
        parse_json_request("sagemaker", target, body)
    if error is SerializationError:
        assert (raised.value.code, raised.value.http_status) == ("SerializationException", 400)


def test_json_request_with_an_empty_body_is_an_empty_document() -> None:
    assert parse_json_request("sagemaker", "SageMaker.ListTrainingJobs", b"") == (
        "ListTrainingJobs",
        {},
    )


def test_json_response_parses_back_with_botocore() -> None:
    data = {
        **{k: v for k, v in PROCESSING_JOB.items() if k not in ("Tags",)},
        "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/x",
        "ProcessingJobStatus": "Completed",
        "ExitMessage": "done \u2713",
        "CreationTime": WHEN,
        "ProcessingStartTime": WHEN_MS,
        "ProcessingEndTime": WHEN_MS,
        "LastModifiedTime": WHEN,
        "InternalBookkeeping": "dropped",
    }
    body = serialize_json_response("sagemaker", "DescribeProcessingJob", data)
    parsed = _strip(_parse("sagemaker", "DescribeProcessingJob", 200, {}, body))
    expected = shape_output("sagemaker", "DescribeProcessingJob", data)
    assert "InternalBookkeeping" not in expected
    assert parsed == expected


def test_json_error_parses_into_code_and_message() -> None:
    error = ResourceNotFound("Processing job loan-preprocess-9 does not exist.")
    status, headers, body = serialize_json_error(error)
    assert status == 400 and headers["x-amzn-ErrorType"] == "ResourceNotFound"
    parsed = _parse("sagemaker", "DescribeProcessingJob", status, headers, body)
    assert parsed["Error"] == {"Code": "ResourceNotFound", "Message": error.message}


# --------------------------------------------------------------------------- rest-json

INVOKE = {
    "EndpointName": "loan-default-prod",
    "Body": b'{"instances": [[0.1, 2, "A11"]]}\x00\xff',
    "ContentType": "application/json",
    "Accept": "text/csv",
    "CustomAttributes": 'c000b4f9-df62-4c85-a0bf-7c525f9104a4, trace=1; x="y"',
    "TargetVariant": "AllTraffic",
    "InferenceId": "inf-1",
}


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        ("sagemaker-runtime", "InvokeEndpoint", INVOKE),
        (
            "sagemaker-runtime",
            "InvokeEndpointAsync",
            {
                "EndpointName": "loan-default-async",
                "InputLocation": "s3://loans/async/in.json",
                "ContentType": "application/json",
                "RequestTTLSeconds": 600,
                "InvocationTimeoutSeconds": 90,
            },
        ),
        # The codec is generic: greedy labels, querystring maps and lists.
        (
            "mediastore-data",
            "PutObject",
            {
                "Path": "folder/sub.dir/file~1.csv",
                "Body": b"a,b\n1,2\n",
                "ContentType": "text/csv",
                "CacheControl": "no-cache",
                "StorageClass": "TEMPORAL",
            },
        ),
        ("mediastore-data", "ListItems", {"Path": "folder", "MaxResults": 5}),
        (
            "route53globalresolver",
            "ListAccessSources",
            {"maxResults": 10, "nextToken": "t/1", "filters": {"a": ["1", "2"], "b": ["3"]}},
        ),
    ],
    ids=["InvokeEndpoint", "InvokeEndpointAsync", "greedy label", "querystring", "query map"],
)
def test_rest_request_decodes_to_the_params_botocore_sent(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    decoded = _rest_roundtrip(service, operation, params)
    assert decoded == params
    assert validate_input(service, operation, decoded) == params


@pytest.mark.parametrize(
    ("service", "method", "path", "expected"),
    [
        (
            "sagemaker-runtime",
            "POST",
            "/endpoints/loan-default/invocations",
            ("InvokeEndpoint", {"EndpointName": "loan-default"}),
        ),
        (
            "sagemaker-runtime",
            "post",
            "/endpoints/loan-default/async-invocations",
            ("InvokeEndpointAsync", {"EndpointName": "loan-default"}),
        ),
        ("sagemaker-runtime", "GET", "/endpoints/loan-default/invocations", None),
        ("sagemaker-runtime", "POST", "/endpoints/a/b/invocations", None),
        ("sagemaker-runtime", "POST", "/endpoints//invocations", None),
        ("mediastore-data", "GET", "/", ("ListItems", {})),
        ("mediastore-data", "GET", "/a/b%20c/d.txt", ("GetObject", {"Path": "a/b c/d.txt"})),
        ("mediastore-data", "HEAD", "/a/b", ("DescribeObject", {"Path": "a/b"})),
    ],
)
def test_match_rest_operation(
    service: str, method: str, path: str, expected: tuple[str, dict[str, str]] | None
) -> None:
    assert match_rest_operation(service, method, path) == expected


def test_rest_body_members_travel_as_json() -> None:
    status, headers, body = serialize_rest_response(
        "sagemaker-runtime",
        "InvokeEndpointAsync",
        {"InferenceId": "inf-9", "OutputLocation": "s3://loans/async/out/inf-9.out"},
    )
    assert status == 202
    assert headers["Content-Type"] == "application/json"
    parsed = _strip(_parse("sagemaker-runtime", "InvokeEndpointAsync", status, headers, body))
    assert parsed == {"InferenceId": "inf-9", "OutputLocation": "s3://loans/async/out/inf-9.out"}


def test_rest_invoke_endpoint_response_parses_back_with_botocore() -> None:
    data = {
        "Body": b"0.93\n0.12\n\x00",
        "ContentType": "text/csv",
        "InvokedProductionVariant": "AllTraffic",
        "CustomAttributes": "model=xgb-v3",
    }
    status, headers, body = serialize_rest_response("sagemaker-runtime", "InvokeEndpoint", data)
    assert (status, body) == (200, data["Body"])
    assert headers["Content-Type"] == "text/csv"
    parsed = _strip(_parse("sagemaker-runtime", "InvokeEndpoint", status, headers, body))
    assert parsed.pop("Body").read() == data["Body"]
    assert parsed == {k: v for k, v in data.items() if k != "Body"}


def test_rest_response_header_timestamps_longs_and_status_code() -> None:
    data = {
        "Body": b"partial",
        "ContentRange": "bytes 0-6/100",
        "ContentLength": 7,
        "ETag": '"abc"',
        "LastModified": WHEN,
        "StatusCode": 206,
    }
    status, headers, body = serialize_rest_response("mediastore-data", "GetObject", data)
    assert status == 206 and headers["Last-Modified"] == "Wed, 01 May 2024 12:30:15 GMT"
    assert "Content-Type" not in headers  # the model's ContentType member was not set
    parsed = _strip(_parse("mediastore-data", "GetObject", status, headers, body))
    assert parsed.pop("Body").read() == b"partial"
    assert parsed == {k: v for k, v in data.items() if k != "Body"}


def test_rest_response_refuses_a_header_value_with_a_line_break() -> None:
    data = {"Body": b"x", "CustomAttributes": "a\r\nSet-Cookie: evil=1"}
    with pytest.raises(InternalError, match="line break"):
        serialize_rest_response("sagemaker-runtime", "InvokeEndpoint", data)


def test_rest_error_parses_into_code_and_message() -> None:
    error = ValidationError("Endpoint loan-default of account 123456789012 not found.")
    status, headers, body = serialize_rest_error(error)
    assert status == 400
    parsed = _parse("sagemaker-runtime", "InvokeEndpoint", status, headers, body)
    assert parsed["Error"]["Code"] == "ValidationException"
    assert parsed["Error"]["Message"] == error.message


def test_rest_request_with_a_malformed_json_body() -> None:
    with pytest.raises(SerializationError):
        parse_rest_request("route53globalresolver", "CreateAccessSource", {}, {}, [], b"{not json")


# --------------------------------------------------------------------------- real clients


class _Raw:
    """Just enough of urllib3's response for botocore to read a body."""

    def __init__(self, body: bytes) -> None:
        self._io = io.BytesIO(body)

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._io.read()

    def read(self, amt: int | None = None) -> bytes:
        return self._io.read(amt)


Handler = Callable[[AWSPreparedRequest], tuple[int, dict[str, str], bytes]]


def _client(service: str, handler: Handler) -> Any:
    client = get_session().create_client(
        service,
        region_name="us-east-1",
        endpoint_url="http://sagebox.test",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )

    def before_send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        status, headers, body = handler(request)
        headers = {**headers, "Content-Length": str(len(body))}
        return AWSResponse(request.url, status, HeadersDict(headers), _Raw(body))

    client.meta.events.register("before-send", before_send)
    return client


def test_a_real_iam_client_round_trips_through_the_query_codec() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def handler(request: AWSPreparedRequest) -> tuple[int, dict[str, str], bytes]:
        operation, params = parse_query_request("iam", _form(request))
        calls.append((operation, params))
        if params.get("UserName") == "nobody":
            error = ResourceNotFound("The user with name nobody cannot be found.")
            error.code = "NoSuchEntity"
            status, body = serialize_query_error("iam", error, "rid-2")
            return status, {}, body
        return 200, {}, serialize_query_response("iam", operation, {"User": USER}, "rid-1")

    iam = _client("iam", handler)
    created = iam.create_user(UserName="alice", Tags=USER["Tags"])
    assert created["User"] == USER
    assert created["ResponseMetadata"]["RequestId"] == "rid-1"
    assert calls[0] == ("CreateUser", {"UserName": "alice", "Tags": USER["Tags"]})
    with pytest.raises(ClientError) as raised:
        iam.get_user(UserName="nobody")
    assert raised.value.response["Error"]["Code"] == "NoSuchEntity"
    assert raised.value.response["Error"]["Message"] == "The user with name nobody cannot be found."


def test_a_real_sagemaker_client_round_trips_through_the_json_codec() -> None:
    def handler(request: AWSPreparedRequest) -> tuple[int, dict[str, str], bytes]:
        operation, params = parse_json_request(
            "sagemaker", request.headers["X-Amz-Target"].decode(), _body_bytes(request)
        )
        if operation == "CreateProcessingJob":
            assert params == PROCESSING_JOB
            arn = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/loan-preprocess-1"
            return (
                200,
                {},
                serialize_json_response("sagemaker", operation, {"ProcessingJobArn": arn}),
            )
        return serialize_json_error(ResourceNotFound("Processing job nope does not exist."))

    sagemaker = _client("sagemaker", handler)
    assert sagemaker.create_processing_job(**PROCESSING_JOB)["ProcessingJobArn"].endswith(
        "/loan-preprocess-1"
    )
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_processing_job(ProcessingJobName="nope")
    assert raised.value.response["Error"] == {
        "Code": "ResourceNotFound",
        "Message": "Processing job nope does not exist.",
    }


def test_a_real_runtime_client_round_trips_through_the_rest_json_codec() -> None:
    def handler(request: AWSPreparedRequest) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(request.url)
        matched = match_rest_operation("sagemaker-runtime", request.method, url.path)
        assert matched is not None
        operation, labels = matched
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        params = parse_rest_request(
            "sagemaker-runtime", operation, labels, headers, [], _body_bytes(request)
        )
        if labels["EndpointName"] == "missing":
            return serialize_rest_error(ValidationError("Endpoint missing not found."))
        assert params == INVOKE
        answer = {"Body": b"0.93", "ContentType": "text/csv", "CustomAttributes": "ok"}
        return serialize_rest_response("sagemaker-runtime", operation, answer)

    runtime = _client("sagemaker-runtime", handler)
    result = runtime.invoke_endpoint(**INVOKE)
    assert result["Body"].read() == b"0.93"
    assert (result["ContentType"], result["CustomAttributes"]) == ("text/csv", "ok")
    with pytest.raises(ClientError) as raised:
        runtime.invoke_endpoint(EndpointName="missing", Body=b"x")
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert raised.value.response["Error"]["Message"] == "Endpoint missing not found."


# --------------------------------------------------------------------------- the package


def test_importing_the_codecs_does_not_import_botocore() -> None:
    code = (
        "import sys, sagebox.api.protocols as p; "
        "assert not [m for m in sys.modules if m.startswith('botocore')], 'botocore imported'; "
        "print(len(p.__all__))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_public_surface() -> None:
    import sagebox.api.protocols as protocols

    for name in protocols.__all__:
        assert getattr(protocols, name) is not None
    assert {"parse_query_request", "parse_json_request", "match_rest_operation"} <= set(
        protocols.__all__
    )


def test_compiled_shape_walks_are_cached() -> None:
    from sagebox.api.protocols._nodes import input_node, output_node

    assert input_node("iam", "CreateUser") is input_node("iam", "CreateUser")
    assert output_node("sagemaker-runtime", "InvokeEndpoint") is output_node(
        "sagemaker-runtime", "InvokeEndpoint"
    )


def test_query_xml_keeps_carriage_returns_and_replaces_what_xml_cannot_carry() -> None:
    data = {"UserId": "line1\r\nline2\ttab", "Account": "123456789012", "Arn": "a\x00b\x1fc"}
    body = serialize_query_response("sts", "GetCallerIdentity", data, "r")
    parsed = _strip(_query_parse("sts", "GetCallerIdentity", body))
    assert parsed == {**data, "Arn": "a\ufffdb\ufffdc"}


@pytest.mark.parametrize(
    ("service", "operation", "params"),
    [
        (
            "entityresolution",
            "BatchDeleteUniqueId",
            {"workflowName": "loans", "inputSource": "src", "uniqueIds": ["a", "b,c", 'd"e']},
        ),
        (
            "connect",
            "CreateTestCase",
            {
                "InstanceId": "inst-1",
                "Name": "case",
                "Content": "{}",
                "EntryPoint": {"Type": "VOICE_CALL"},
                "Tags": {"team": "risk"},
                "LastModifiedTime": WHEN,
            },
        ),
        (
            "lex-runtime",
            "PostContent",
            {
                "botName": "Loans",
                "botAlias": "prod",
                "userId": "user@example.com:1",
                "sessionAttributes": {"applicant": "a-1"},
                "activeContexts": [{"name": "ctx", "parameters": {"k": "v"}}],
                "contentType": "text/plain; charset=utf-8",
                "inputStream": b"hello",
            },
        ),
    ],
    ids=["header list", "body members and header timestamp", "jsonvalue headers"],
)
def test_rest_request_header_lists_timestamps_jsonvalues_and_body_members(
    service: str, operation: str, params: dict[str, Any]
) -> None:
    assert _rest_roundtrip(service, operation, params) == params


def test_rest_response_jsonvalue_and_list_headers_parse_back() -> None:
    data = {
        "contentType": "audio/mpeg",
        "intentName": "Apply",
        "sessionAttributes": {"applicant": "a-1"},
        "slots": {"amount": "1000"},
        "audioStream": b"\x01\x02",
    }
    status, headers, body = serialize_rest_response("lex-runtime", "PostContent", data)
    parsed = _strip(_parse("lex-runtime", "PostContent", status, headers, body))
    assert parsed.pop("audioStream").read() == b"\x01\x02"
    assert parsed == {k: v for k, v in data.items() if k != "audioStream"}
