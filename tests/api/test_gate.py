"""The edge through a real server: Host allowlist, Origin check, body limit, throttling.

What a browser under DNS rebinding, a cross-site page, an oversized upload and a busy
boto3 client meet. Every answer is an AWS-shaped error, before authentication where the
gate decides, and never a 500.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from sagebox.api.gate import DEFAULT_MAX_BODY
from tests.api.conftest import Serve
from tests.e2e.conftest import RunningServer
from tests.helpers import job_request

LIST_JOBS = "SageMaker.ListProcessingJobs"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def error_type(self) -> str | None:
        return self.headers.get("x-amzn-errortype")

    @property
    def code(self) -> str:
        return str(json.loads(self.body)["__type"])


def _port(server: RunningServer) -> int:
    return int(urlsplit(server.url).port or 80)


def _send(
    server: RunningServer,
    method: str,
    path: str = "/",
    *,
    headers: dict[str, str] | None = None,
    body: bytes | Iterable[bytes] | None = None,
    chunked: bool = False,
) -> Answer:
    """One request over http.client; a ``Host`` in ``headers`` replaces the real one."""
    headers = dict(headers or {})
    connection = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=30)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers)
        for name, value in headers.items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        elif isinstance(body, bytes) and "Content-Length" not in headers:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        if isinstance(body, bytes):
            connection.send(body)
        elif body is not None:
            for chunk in body:
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        answer = Answer(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        connection.close()
    assert answer.status < 500, answer
    return answer


def _signed_headers(
    server: RunningServer, target: str, body: bytes, host: str | None = None
) -> dict[str, str]:
    """SigV4 headers for a SageMaker JSON request, signed for ``host`` (default: the real one)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"http://{host}/" if host else f"{server.url}/"
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    SigV4Auth(Credentials(server.key_id, server.secret), "sagemaker", server.region).add_auth(
        request
    )
    headers = dict(request.headers.items())
    headers["Host"] = host or urlsplit(server.url).netloc
    return headers


def _audit_lines(server: RunningServer) -> int:
    folder = server.home_path / "logs" / "audit"
    return sum(len(p.read_text().splitlines()) for p in folder.glob("*.jsonl"))


def _client(
    server: RunningServer, service: str, keys: tuple[str, str] | None = None, attempts: int = 1
) -> Any:
    """A boto3 client that makes ``attempts`` attempts in all (1: no retries).

    botocore's ``max_attempts`` counts retries (RunningServer.client's 1 allows one),
    ``total_max_attempts`` counts every attempt.
    """
    import boto3
    from botocore.config import Config

    key_id, secret = keys or (server.key_id, server.secret)
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=server.region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}),
    )


def _statuses(client: Any) -> list[int]:
    """Every HTTP status ``client`` receives, retried attempts included."""
    seen: list[int] = []

    def record(response: Any = None, **_: Any) -> None:
        if response is not None:
            seen.append(response[0].status_code)

    client.meta.events.register("needs-retry", record)
    return seen


@pytest.fixture
def server(serve: Serve) -> RunningServer:
    return serve()


# ---- Host -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8642", "127.0.0.1.evil.example", "localhost.evil:80"]
)
def test_a_foreign_host_is_refused_before_authentication(server: RunningServer, host: str) -> None:
    unsigned = _send(server, "POST", headers={"Host": host, "X-Amz-Target": LIST_JOBS}, body=b"{}")
    # Not MissingAuthenticationTokenException (403): the gate answered first.
    assert (unsigned.status, unsigned.error_type) == (400, "InvalidHostHeader")
    assert unsigned.code == "InvalidHostHeader"
    assert repr(host.split(":")[0]) in unsigned.body.decode()
    assert "--allow-host" in str(unsigned.body)
    # A request signed for that host is no different: it never reaches authorization.
    before = _audit_lines(server)
    signed = _send(
        server, "POST", headers=_signed_headers(server, LIST_JOBS, b"{}", host), body=b"{}"
    )
    assert (signed.status, signed.error_type) == (400, "InvalidHostHeader")
    health = _send(server, "GET", "/health", headers={"Host": host})
    assert (health.status, health.error_type) == (400, "InvalidHostHeader")
    assert _audit_lines(server) == before


def test_loopback_hosts_are_answered(server: RunningServer) -> None:
    port = _port(server)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "LOCALHOST"):
        answer = _send(server, "GET", "/health", headers={"Host": host})
        assert answer.status == 200, host
    signed = _send(server, "POST", headers=_signed_headers(server, LIST_JOBS, b"{}"), body=b"{}")
    assert signed.status == 200 and json.loads(signed.body)["ProcessingJobSummaries"] == []


# ---- Origin ---------------------------------------------------------------------------
def _with_origin(client: Any, origin: str) -> None:
    def add(request: Any, **_: Any) -> None:
        request.headers["Origin"] = origin

    client.meta.events.register("before-sign", add)


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost.evil"])
def test_a_state_changing_request_from_a_foreign_origin_is_refused(
    server: RunningServer, origin: str
) -> None:
    from sagebox.session import Session

    session = Session(server.home_path)
    request = job_request(session, "cross-site", "print('ran')\n")
    request["RoleArn"] = session.get_execution_role()
    sagemaker = _client(server, "sagemaker")
    statuses = _statuses(sagemaker)
    cross_site = _client(server, "sagemaker")
    _with_origin(cross_site, origin)
    with pytest.raises(ClientError) as refused:
        cross_site.create_processing_job(**request)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"Cross-origin request from {origin} refused" in str(refused.value)
    assert sagemaker.list_processing_jobs()["ProcessingJobSummaries"] == []
    # The very same request without an Origin is authenticated and runs.
    arn = sagemaker.create_processing_job(**request)["ProcessingJobArn"]
    assert arn.endswith(":processing-job/cross-site")
    assert 500 not in statuses


@pytest.mark.parametrize("refusal", ["origin", "host"])
def test_the_gate_refuses_query_protocol_clients_in_their_own_format(
    server: RunningServer, refusal: str
) -> None:
    iam = _client(server, "iam")
    if refusal == "origin":
        _with_origin(iam, "https://evil.example")
    else:
        iam.meta.events.register(
            "before-sign", lambda request, **_: request.headers.__setitem__("Host", "evil.example")
        )
    with pytest.raises(ClientError) as refused:
        iam.create_user(UserName="mallory")
    expected = {"origin": (403, "AccessDenied"), "host": (400, "InvalidHostHeader")}[refusal]
    error = refused.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == expected


def test_safe_methods_and_allowed_origins_pass_the_origin_check(serve: Serve) -> None:
    server = serve(allowed_origins=("https://Console.example",))
    health = _send(server, "GET", "/health", headers={"Origin": "https://evil.example"})
    assert health.status == 200
    for origin in ("https://console.example", "https://console.example/"):
        sagemaker = _client(server, "sagemaker")
        _with_origin(sagemaker, origin)
        assert sagemaker.list_processing_jobs()["ProcessingJobSummaries"] == []
    unsigned = _send(
        server,
        "POST",
        headers={"Origin": "https://console.example", "X-Amz-Target": LIST_JOBS},
        body=b"{}",
    )
    assert unsigned.status == 403 and unsigned.code == "MissingAuthenticationTokenException"


# ---- body size ------------------------------------------------------------------------
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(
    server: RunningServer,
) -> None:
    # Only the headers are sent: the gate must answer without waiting for the body.
    answer = _send(
        server,
        "POST",
        headers={"Content-Length": str(DEFAULT_MAX_BODY + 1), "X-Amz-Target": LIST_JOBS},
    )
    assert (answer.status, answer.error_type) == (413, "RequestEntityTooLarge")
    assert str(DEFAULT_MAX_BODY + 1) in str(answer.body)


def test_a_body_at_the_limit_goes_on_to_authentication(server: RunningServer) -> None:
    body = b" " * DEFAULT_MAX_BODY
    declared = _send(server, "POST", headers={"X-Amz-Target": LIST_JOBS}, body=body)
    assert declared.status == 403 and declared.code == "MissingAuthenticationTokenException"
    streamed = _send(
        server,
        "POST",
        headers={"X-Amz-Target": LIST_JOBS},
        body=_chunks(DEFAULT_MAX_BODY),
        chunked=True,
    )
    assert streamed.status == 403 and streamed.code == "MissingAuthenticationTokenException"


def _chunks(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
    while total > 0:
        yield b" " * min(size, total)
        total -= size


def test_a_chunked_body_over_the_limit_is_refused(server: RunningServer) -> None:
    # No Content-Length: the limit can only be found while the body streams in. The body
    # goes out from a thread, so the answer is read while the server still refuses it.
    connection = socket.create_connection(("127.0.0.1", _port(server)), timeout=30)
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{_port(server)}\r\n"
        f"X-Amz-Target: {LIST_JOBS}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()

    def send_body() -> None:
        try:
            connection.sendall(head)
            for chunk in _chunks(DEFAULT_MAX_BODY + 1):
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            connection.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server may close the connection once it has refused the body

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    try:
        response = http.client.HTTPResponse(connection)
        response.begin()
        status, errortype = response.status, response.getheader("x-amzn-errortype")
    finally:
        sender.join(timeout=10)
        connection.close()
    assert status != 500
    assert (status, errortype) == (413, "RequestEntityTooLarge")


# ---- throttling -----------------------------------------------------------------------
def _user(server: RunningServer, name: str, actions: list[str]) -> tuple[str, str]:
    """A user allowed ``actions``, made in-process so the root's tokens are not spent."""
    from sagebox.session import Session

    control = Session(server.home_path).control
    control.call("CreateUser", {"UserName": name}, service="iam")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    control.call(
        "PutUserPolicy",
        {"UserName": name, "PolicyName": "work", "PolicyDocument": json.dumps(policy)},
        service="iam",
    )
    key = control.call("CreateAccessKey", {"UserName": name}, service="iam")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def _until_throttled(call: Callable[[], object], attempts: int = 30) -> tuple[int, ClientError]:
    """Call until throttled; return how many calls passed first and the error.

    Calls that take long (a service model loading on first use) refill tokens, so a few
    more than the burst may pass; the loop still drains the bucket in the end.
    """
    for passed in range(attempts):
        try:
            call()
        except ClientError as error:
            return passed, error
    raise AssertionError(f"{attempts} calls in a row were not throttled")


def test_a_principal_past_its_burst_is_throttled_and_others_are_not(serve: Serve) -> None:
    server = serve(rate=2, burst=3)
    other = _user(server, "other", ["sagemaker:ListProcessingJobs"])
    root, user = _client(server, "sagemaker"), _client(server, "sagemaker", other)
    iam = _client(server, "iam")
    user.list_processing_jobs()  # loads the service model in the server and the client
    statuses = _statuses(root)
    passed, error = _until_throttled(root.list_processing_jobs)
    assert passed >= 3  # the burst
    response = error.response
    assert response["Error"]["Code"] == "ThrottlingException"
    assert "at most 2 requests a second (bursts of 3)" in response["Error"]["Message"]
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert int(response["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) >= 1
    assert statuses == [200] * passed + [400]
    # The throttle is per principal: another caller still has its burst.
    for _ in range(2):
        assert user.list_processing_jobs()["ProcessingJobSummaries"] == []
    # The bucket is the principal's, whatever the service; IAM answers in XML.
    _, iam_error = _until_throttled(iam.list_users)
    assert iam_error.response["Error"]["Code"] in ("Throttling", "ThrottlingException")
    assert iam_error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert int(iam_error.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) >= 1


def test_botocore_standard_retries_absorb_the_throttle(serve: Serve) -> None:
    server = serve(rate=2, burst=3)
    patient = _client(server, "sagemaker", attempts=6)  # max_attempts=5: five retries
    statuses = _statuses(patient)
    _until_throttled(_client(server, "sagemaker").list_processing_jobs)
    response = patient.list_processing_jobs()
    assert response["ProcessingJobSummaries"] == []
    assert response["ResponseMetadata"]["RetryAttempts"] >= 1
    assert statuses == [400] * (len(statuses) - 1) + [200]
