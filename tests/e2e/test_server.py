"""boto3 against a running sagebox server: authentication, authorization, the route walk."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sagebox.api.app import SERVED_SERVICES
from sagebox.control.operations import OPERATIONS
from tests.e2e.conftest import RunningServer
from tests.helpers import ROLE, job_request

# Operations AWS answers for any authenticated caller, by design.
NO_PERMISSION_NEEDED = {("sts", "GetCallerIdentity")}


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _http(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    status, body, _ = _http_with_headers(url, method, data, headers)
    return status, body


def _http_with_headers(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                response.read(),
                {k.lower(): v for k, v in response.headers.items()},
            )
    except urllib.error.HTTPError as error:
        return error.code, error.read(), {k.lower(): v for k, v in error.headers.items()}


def test_health_needs_no_credentials_and_nothing_else_is_open(server: RunningServer) -> None:
    status, body = _http(f"{server.url}/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    paths = ["/", "/health", "/endpoints/x/invocations", "/anything", "/metrics"]
    for path in paths:
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if (method, path) == ("GET", "/health"):
                continue
            status, body, headers = _http_with_headers(
                f"{server.url}{path}", method, b"{}" if method != "GET" else None
            )
            assert status in (403, 404, 405), (method, path, status)
            if status == 403:
                # JSON 1.1 and query errors name the code in the body, REST-JSON (the
                # runtime's InvokeEndpoint) in the x-amzn-ErrorType header, as AWS does
                code = headers.get("x-amzn-errortype", "").encode() + body
                assert b"MissingAuthenticationToken" in code, (method, path, body)


def test_boto3_runs_a_processing_job_through_the_server(server: RunningServer) -> None:
    from sagebox.session import Session

    session = Session(server.home_path)
    request = job_request(session, "over-http", "print('hello over http')\n")
    sagemaker = server.client("sagemaker")
    arn = sagemaker.create_processing_job(**request)["ProcessingJobArn"]
    assert arn.endswith(":processing-job/over-http")
    waiter_deadline = datetime.now(UTC) + timedelta(seconds=60)
    while True:
        described = sagemaker.describe_processing_job(ProcessingJobName="over-http")
        if described["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert datetime.now(UTC) < waiter_deadline
    assert described["ProcessingJobStatus"] == "Completed"
    assert isinstance(described["CreationTime"], datetime)
    names = [
        s["ProcessingJobName"] for s in sagemaker.list_processing_jobs()["ProcessingJobSummaries"]
    ]
    assert names == ["over-http"]
    with pytest.raises(ClientError) as bad:
        sagemaker.describe_processing_job(ProcessingJobName="nope")
    assert _code(bad) == "ResourceNotFound"


def test_bad_credentials_get_the_errors_boto3_users_know(server: RunningServer) -> None:
    wrong = server.client("sagemaker", secret="x" * 40)
    with pytest.raises(ClientError) as error:
        wrong.list_processing_jobs()
    assert _code(error) == "InvalidSignatureException"
    unknown = server.client("sagemaker", key_id="AKIAUNKNOWNUNKNOWN00")
    with pytest.raises(ClientError) as error:
        unknown.list_processing_jobs()
    assert _code(error) == "UnrecognizedClientException"


@pytest.mark.parametrize(
    ("minutes", "words"), [(20, "Signature not yet current"), (-20, "Signature expired")]
)
def test_clock_skew_is_refused(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch, minutes: int, words: str
) -> None:
    import botocore.auth

    skewed = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=minutes)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: skewed)
    with pytest.raises(ClientError) as error:
        server.client("sagemaker").list_processing_jobs()
    assert _code(error) == "InvalidSignatureException"
    assert words in str(error.value)


def _user_with_keys(server: RunningServer, name: str, policy: dict[str, Any] | None) -> Any:
    iam = server.client("iam")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="access", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_route_walk_a_user_without_policy_is_refused_everything(server: RunningServer) -> None:
    key_id, secret = _user_with_keys(server, "nobody", None)
    clients: dict[str, Any] = {}
    for (service, operation), op in sorted(OPERATIONS.items()):
        assert op.action, f"{service}:{operation} maps to no IAM action"
        if (service, operation) in NO_PERMISSION_NEEDED:
            assert not op.authorized
            continue
        assert op.authorized, f"{service}:{operation} is not authorized"
        if service not in SERVED_SERVICES:
            continue
        client = clients.setdefault(
            service, server.client(service, key_id, secret, parameter_validation=False)
        )
        # Parameters are left out on purpose: authorization comes before validation, so
        # a caller without permission learns nothing about the request's shape. A REST
        # operation needs its URI's labels, or there is no URL to call.
        labels = {"EndpointName": "x"} if service == "sagemaker-runtime" else {}
        with pytest.raises(ClientError) as error:
            client._make_api_call(operation, labels)
        assert _code(error) in ("AccessDeniedException", "AccessDenied"), (
            service,
            operation,
            _code(error),
        )


def test_iam_user_policies_decide_over_http(server: RunningServer) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sagemaker:DescribeProcessingJob", "sagemaker:ListProcessingJobs"],
                "Resource": "*",
            }
        ],
    }
    key_id, secret = _user_with_keys(server, "DataScientist", policy)
    sagemaker = server.client("sagemaker", key_id, secret)
    assert sagemaker.list_processing_jobs()["ProcessingJobSummaries"] == []
    with pytest.raises(ClientError) as error:
        sagemaker.create_processing_job(
            ProcessingJobName="x",
            RoleArn=ROLE,
            ProcessingResources={
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 1,
                }
            },
            AppSpecification={"ImageUri": "sagebox/sklearn"},
        )
    assert _code(error) == "AccessDeniedException"
    assert "DataScientist is not authorized to perform: sagemaker:CreateProcessingJob" in str(
        error.value
    )
    sts = server.client("sts", key_id, secret)
    assert sts.get_caller_identity()["Arn"].endswith(":user/DataScientist")


def test_assume_role_gives_temporary_credentials_the_trust_policy_decides(
    server: RunningServer,
) -> None:
    iam = server.client("iam")
    key_id, secret = _user_with_keys(
        server,
        "analyst",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
        },
    )
    user_arn = iam.get_user(UserName="analyst")["User"]["Arn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = iam.create_role(RoleName="Scoring", AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName="Scoring",
        PolicyName="list",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sagemaker:ListProcessingJobs", "Resource": "*"}
                ],
            }
        ),
    )
    untrusted = iam.create_role(
        RoleName="Other",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "sagemaker.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]

    sts = server.client("sts", key_id, secret)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName="nightly")["Credentials"]
    session_sts = server.client(
        "sts",
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    assert session_sts.get_caller_identity()["Arn"].endswith(":assumed-role/Scoring/nightly")
    session_sm = server.client(
        "sagemaker",
        credentials["AccessKeyId"],
        credentials["SecretAccessKey"],
        credentials["SessionToken"],
    )
    session_sm.list_processing_jobs()
    with pytest.raises(ClientError) as error:
        session_sm.describe_processing_job(ProcessingJobName="x")
    assert _code(error) == "AccessDeniedException"
    with pytest.raises(ClientError) as error:
        sts.assume_role(RoleArn=untrusted, RoleSessionName="intruder")
    assert _code(error) == "AccessDenied"

    from sagebox.home import Home
    from sagebox.store.metadata import Change

    home = Home.open(server.home_path)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    home.metadata.update(
        "access-key",
        credentials["AccessKeyId"],
        lambda r: Change(r.status, {**r.document, "Expiration": past}),
    )
    with pytest.raises(ClientError) as error:
        session_sts.get_caller_identity()
    assert _code(error) == "ExpiredToken"  # the query services' name for it
    with pytest.raises(ClientError) as error:
        session_sm.list_processing_jobs()
    assert _code(error) == "ExpiredTokenException"


def test_boto3_create_training_job_end_to_end(server: RunningServer) -> None:
    from sagebox.session import Session
    from tests.control.test_training_jobs import _data, _request

    session = Session(server.home_path)
    _data(session)
    sagemaker = server.client("sagemaker")
    sagemaker.create_training_job(**_request(session, "over-http-xgb"))
    deadline = datetime.now(UTC) + timedelta(seconds=120)
    while True:
        described = sagemaker.describe_training_job(TrainingJobName="over-http-xgb")
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert datetime.now(UTC) < deadline
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith("/output/model.tar.gz")
    assert {m["MetricName"] for m in described["FinalMetricDataList"]} >= {"validation:auc"}
