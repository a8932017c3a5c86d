"""SigV4 verification against requests that boto3 and botocore really sign.

Each request is signed at a fixed instant (botocore's clock is pinned) and
checked at fixed ``now`` values, so no test sleeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from sagebox.api.sigv4 import (
    AuthenticationError,
    ExpiredToken,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureExpired,
    SignedRequest,
    UnrecognizedClient,
    authenticate,
)
from sagebox.control.authorize import Principal
from sagebox.control.identity import Credential

REGION = "us-east-1"
ENDPOINT = "http://sagebox.test:8080"
SIGNED_AT = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
USER = Credential(
    "AKIAUSEREXAMPLE00001",
    "user-secret/with+odd=chars",
    Principal(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT),
)
SESSION = Credential(
    "ASIASESSIONEXAMPLE01",
    "session-secret",
    Principal(f"arn:aws:sts::{ACCOUNT}:assumed-role/Trainer/job", ACCOUNT),
    session_token="FwoGZXIvYXdzEJr//session-token==",
    expiration=SIGNED_AT + timedelta(minutes=10),
)
RETIRED = dataclasses.replace(USER, access_key_id="AKIARETIREDEXAMPLE01", active=False)
KEYS = {c.access_key_id: c for c in (USER, SESSION, RETIRED)}


def lookup(access_key_id: str) -> Credential | None:
    return KEYS.get(access_key_id)


def check(request: SignedRequest, *, now: datetime = SIGNED_AT, **kwargs: Any) -> Credential:
    return authenticate(request, lookup, region=REGION, now=now, **kwargs)


def refusal(request: SignedRequest, **kwargs: Any) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        check(request, **kwargs)
    return caught.value


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "botocore.auth.get_current_datetime",
        lambda remove_tzinfo=True: SIGNED_AT.replace(tzinfo=None),
    )


def received(prepared: Any) -> SignedRequest:
    """What the server sees of a request botocore prepared to send."""
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    body = body.read() if hasattr(body, "read") else body
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in prepared.headers.items()}
    return SignedRequest(
        prepared.method,
        url.path,
        url.query,
        headers,
        body.encode() if isinstance(body, str) else body,
        host=url.netloc,
    )


class _Sent(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def _stop(request: Any, **kwargs: Any) -> None:
    raise _Sent(request)


def client(service: str, credential: Credential = USER, endpoint: str = ENDPOINT) -> Any:
    import boto3
    from botocore.config import Config

    made = boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id=credential.access_key_id,
        aws_secret_access_key=credential.secret_access_key,
        aws_session_token=credential.session_token,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"})
        if service == "s3"
        else None,
    )
    made.meta.events.register("before-send", _stop)
    return made


def sent(call: Callable[[], object]) -> SignedRequest:
    """The request a boto3 call signs, caught just before it leaves."""
    with pytest.raises(_Sent) as caught:
        call()
    return received(caught.value.request)


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    yield {s: client(s) for s in ("sagemaker", "iam", "sts", "s3", "sagemaker-runtime")}


CALLS: dict[str, Callable[[dict[str, Any]], object]] = {
    "sagemaker JSON": lambda c: c["sagemaker"].list_training_jobs(NameContains="loan"),
    "iam query form": lambda c: c["iam"].create_user(UserName="a+b", Path="/team x/"),
    "sts query": lambda c: c["sts"].get_caller_identity(),
    "s3 odd key": lambda c: c["s3"].get_object(Bucket="bkt", Key="a b/ü/../x"),
    "s3 list with prefix": lambda c: c["s3"].list_objects_v2(Bucket="bkt", Prefix="a b/+~*"),
    "s3 put": lambda c: c["s3"].put_object(Bucket="bkt", Key="k/..//v", Body=b"\x00data"),
    "runtime binary": lambda c: c["sagemaker-runtime"].invoke_endpoint(
        EndpointName="my-endpoint", Body=bytes(range(256)), ContentType="application/x-npy"
    ),
}


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_boto3_requests_are_accepted(clients: dict[str, Any], call: Callable[..., object]) -> None:
    assert check(sent(lambda: call(clients))) == USER


def test_s3_path_is_signed_as_sent_and_other_services_normalised(clients: dict[str, Any]) -> None:
    s3 = sent(lambda: clients["s3"].get_object(Bucket="bkt", Key="a b/ü/../x"))
    assert s3.path == "/bkt/a%20b/%C3%BC/../x"
    assert check(s3) == USER
    with pytest.raises(InvalidSignature):  # S3 keeps "..": another key is another request
        check(dataclasses.replace(s3, path="/bkt/a%20b/x"))

    runtime = sent(lambda: clients["sagemaker-runtime"].invoke_endpoint(EndpointName="e", Body=b""))
    # Other services sign the normalised path, so both spellings verify.
    assert check(dataclasses.replace(runtime, path="/endpoints/x/../e//invocations")) == USER
    # ... and encode it a second time: "%20" is signed as "%2520".
    encoded = sign(path="/endpoints/a%20b%2Fc/invocations", service="sagemaker")
    assert check(encoded) == USER
    with pytest.raises(InvalidSignature):
        check(dataclasses.replace(encoded, path="/endpoints/a b%2Fc/invocations"))


@pytest.mark.parametrize("service", ["s3", "sts"])
def test_presigned_urls_are_accepted_until_they_expire(service: str) -> None:
    if service == "s3":
        url = client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": "bkt", "Key": "a b/ü/../x"}, ExpiresIn=300
        )
    else:
        url = client("sts").generate_presigned_url(
            "get_caller_identity", ExpiresIn=300, HttpMethod="GET"
        )
    parts = urlsplit(url)
    request = SignedRequest("GET", parts.path, parts.query, {"Host": parts.netloc}, b"")
    assert check(request, now=SIGNED_AT + timedelta(seconds=300)) == USER
    with pytest.raises(RequestExpired) as caught:
        check(request, now=SIGNED_AT + timedelta(seconds=301))
    assert "Request has expired" in caught.value.message
    assert "20261128T120500Z" in caught.value.message
    if service == "s3":
        assert (caught.value.code, caught.value.http_status) == ("AccessDenied", 403)
        assert caught.value.details["Expires"] == "2026-11-28T12:05:00Z"
    else:
        assert (caught.value.code, caught.value.http_status) == ("RequestExpired", 400)


def sign(
    method: str = "POST",
    path: str = "/",
    *,
    service: str = "sagemaker",
    region: str = REGION,
    headers: dict[str, str] | None = None,
    body: bytes = b"{}",
    credential: Credential = USER,
    secret: str | None = None,
    token: str | None = None,
    presign: int | None = None,
    sign_body: bool = True,
) -> SignedRequest:
    """A request signed by botocore's own signers (S3's for S3, query auth to presign)."""
    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    keys = Credentials(
        credential.access_key_id, secret or credential.secret_access_key, token=token
    )
    request = AWSRequest(method, ENDPOINT + path, headers=dict(headers or {}), data=body)
    if not sign_body:  # what boto3's Config(s3={"payload_signing_enabled": False}) does
        from botocore.config import Config

        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    if presign is None:
        signer = auth.S3SigV4Auth if service == "s3" else auth.SigV4Auth
        signer(keys, service, region).add_auth(request)
    else:
        query_signer = auth.S3SigV4QueryAuth if service == "s3" else auth.SigV4QueryAuth
        query_signer(keys, service, region, expires=presign).add_auth(request)
    return received(request.prepare())


TARGET = {
    "X-Amz-Target": "SageMaker.ListTrainingJobs",
    "Content-Type": "application/x-amz-json-1.1",
}


def _with_header(request: SignedRequest, name: str, value: str) -> SignedRequest:
    return dataclasses.replace(request, headers={**request.headers, name: value})


TAMPERINGS: dict[str, Callable[[SignedRequest], SignedRequest]] = {
    "method": lambda r: dataclasses.replace(r, method="PUT"),
    "path": lambda r: dataclasses.replace(r, path="/endpoints/other/invocations"),
    "query": lambda r: dataclasses.replace(r, query="extra=1"),
    "signed header": lambda r: _with_header(r, "X-Amz-Target", "SageMaker.DeleteEndpoint"),
    "body": lambda r: dataclasses.replace(r, body=b'{"NameContains": "x"}'),
    "date": lambda r: _with_header(r, "X-Amz-Date", "20261128T120001Z"),
    "host": lambda r: _with_header(r, "Host", "elsewhere.test:8080"),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampering_is_refused(tamper: Callable[[SignedRequest], SignedRequest]) -> None:
    request = sign(headers=TARGET)
    assert check(request) == USER
    error = refusal(tamper(request))
    assert isinstance(error, InvalidSignature)
    assert (error.code, error.http_status) == ("InvalidSignatureException", 403)
    assert error.message.startswith("The request signature we calculated does not match")


def test_a_wrong_secret_is_refused_without_leaking_the_right_signature() -> None:
    genuine = sign(headers=TARGET)
    forged = sign(headers=TARGET, secret="guessed")
    error = refusal(forged)
    assert error.code == "InvalidSignatureException"
    right_signature = genuine.headers["Authorization"].rsplit("Signature=", 1)[1]
    assert right_signature not in str(error) and right_signature not in str(error.details)
    assert USER.secret_access_key not in str(error) + str(error.details)
    assert "The Canonical String for this request should have been" in error.message


def test_another_region_is_refused_naming_the_expected_one() -> None:
    error = refusal(sign(headers=TARGET, region="eu-west-1"))
    assert isinstance(error, InvalidSignature)
    assert error.code == "InvalidSignatureException"
    assert error.message.startswith(
        "Credential should be scoped to a valid region, not 'eu-west-1'."
    )
    assert "'us-east-1'" in error.message


def test_s3_in_another_region_gets_the_error_botocore_redirects_on() -> None:
    error = refusal(sign("GET", "/bkt/k", service="s3", region="eu-west-1", body=b""))
    assert (error.code, error.http_status) == ("AuthorizationHeaderMalformed", 400)
    assert error.message == (
        "The authorization header is malformed; the region 'eu-west-1' is wrong; "
        "expecting 'us-east-1'"
    )
    assert error.details["Region"] == REGION  # what botocore's S3RegionRedirector reads


def test_the_expected_service_is_enforced_when_given() -> None:
    request = sign(headers=TARGET)
    assert check(request, service="sagemaker") == USER
    error = refusal(request, service="glue")
    assert error.message == "Credential should be scoped to correct service: 'glue'."


@pytest.mark.parametrize("service", ["sagemaker", "iam", "s3"])
def test_unknown_and_deactivated_keys_are_refused(service: str) -> None:
    for credential in (dataclasses.replace(USER, access_key_id="AKIANOSUCHKEY0000001"), RETIRED):
        error = refusal(sign("GET", "/", service=service, body=b"", credential=credential))
        assert isinstance(error, UnrecognizedClient)
        expected = {
            "sagemaker": ("UnrecognizedClientException", 400),
            "iam": ("InvalidClientTokenId", 403),
            "s3": ("InvalidAccessKeyId", 403),
        }[service]
        assert (error.code, error.http_status) == expected
        assert error.message in (
            "The security token included in the request is invalid.",
            "The AWS Access Key Id you provided does not exist in our records.",
        )


@pytest.mark.parametrize("minutes", [14, -14])
def test_clock_skew_within_fifteen_minutes_is_accepted(minutes: int) -> None:
    assert check(sign(headers=TARGET), now=SIGNED_AT + timedelta(minutes=minutes)) == USER


def test_clock_skew_beyond_fifteen_minutes_is_refused_in_aws_words() -> None:
    request = sign(headers=TARGET)
    late = refusal(request, now=SIGNED_AT + timedelta(minutes=16))
    assert isinstance(late, SignatureExpired) and isinstance(late, InvalidSignature)
    assert late.code == "InvalidSignatureException"
    assert late.message == (
        "Signature expired: 20261128T120000Z is now earlier than 20261128T120100Z "
        "(20261128T121600Z - 15 min.)"
    )
    early = refusal(request, now=SIGNED_AT - timedelta(minutes=16))
    assert early.code == "InvalidSignatureException"
    assert early.message == (
        "Signature not yet current: 20261128T120000Z is still later than 20261128T115900Z "
        "(20261128T114400Z + 15 min.)"
    )


def test_clock_skew_on_s3_and_iam() -> None:
    s3 = refusal(sign("GET", "/bkt", service="s3", body=b""), now=SIGNED_AT + timedelta(hours=1))
    assert (s3.code, s3.http_status) == ("RequestTimeTooSkewed", 403)
    assert s3.details["MaxAllowedSkewMilliseconds"] == "900000"
    iam = refusal(sign(service="iam", body=b""), now=SIGNED_AT + timedelta(hours=1))
    assert iam.code == "SignatureDoesNotMatch" and iam.message.startswith("Signature expired: ")


def test_session_credentials_need_their_own_unexpired_token() -> None:
    runtime = client("sagemaker-runtime", SESSION)
    with_token = sent(lambda: runtime.invoke_endpoint(EndpointName="e", Body=b"1,2"))
    assert check(with_token) == SESSION
    expired = refusal(with_token, now=SESSION.expiration)
    assert isinstance(expired, ExpiredToken)
    assert (expired.code, expired.http_status) == ("ExpiredTokenException", 403)
    assert expired.message.startswith("The security token included in the request is expired")

    for token in (None, "another-session-token"):
        error = refusal(sign(headers=TARGET, credential=SESSION, token=token))
        assert isinstance(error, UnrecognizedClient)
        assert error.code == "UnrecognizedClientException"
        assert error.message.startswith("The security token included in the request is invalid")
    error = refusal(sign(headers=TARGET, credential=USER, token="stray-token"))
    assert error.code == "UnrecognizedClientException"


def test_presigned_session_urls_carry_the_token() -> None:
    url = client("s3", SESSION).generate_presigned_url(
        "get_object", Params={"Bucket": "bkt", "Key": "k"}, ExpiresIn=60
    )
    assert "X-Amz-Security-Token=" in url
    parts = urlsplit(url)
    assert check(SignedRequest("GET", parts.path, parts.query, {}, b"", host=parts.netloc))


def test_presigned_url_limits() -> None:
    request = sign("GET", "/bkt/k", service="s3", body=b"", presign=300)
    early = refusal(request, now=SIGNED_AT - timedelta(minutes=16))
    assert (early.code, early.message[:24]) == ("AccessDenied", "Request is not yet valid")
    week = dataclasses.replace(request, query=request.query.replace("Expires=300", "Expires=9e9"))
    assert refusal(week).message.startswith("X-Amz-Expires should be a number")
    too_long = sign("GET", "/bkt/k", service="s3", body=b"", presign=604801)
    error = refusal(too_long)
    assert (error.code, error.http_status) == ("AuthorizationQueryParametersError", 400)
    assert error.message.startswith("X-Amz-Expires must be less than a week")


MALFORMED = {
    "no signature": (
        "AWS4-HMAC-SHA256 Credential=AKIAUSEREXAMPLE00001/20261128/us-east-1/sagemaker/"
        "aws4_request, SignedHeaders=host;x-amz-date",
        "Authorization header requires 'Signature' parameter. Authorization=",
    ),
    "missing equal sign": (
        "AWS4-HMAC-SHA256 Credential=AKIAUSEREXAMPLE00001/20261128/us-east-1/sagemaker/"
        "aws4_request, SignedHeaders, Signature=abc",
        "'SignedHeaders' not a valid key=value pair (missing equal-sign) in Authorization header",
    ),
    "short credential": (
        "AWS4-HMAC-SHA256 Credential=AKIAUSEREXAMPLE00001/20261128/us-east-1, "
        "SignedHeaders=host;x-amz-date, Signature=abc",
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term, got 'AKIAUSEREXAMPLE00001/20261128/us-east-1'",
    ),
    "other algorithm": (
        "AWS4-HMAC-SHA512 Credential=A/20261128/us-east-1/sagemaker/aws4_request, "
        "SignedHeaders=host, Signature=abc",
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now).",
    ),
    "sigv2": ("AWS AKIAUSEREXAMPLE00001:c2lnbmF0dXJl", "Please use AWS4-HMAC-SHA256"),
}


@pytest.mark.parametrize("header, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_authorization_headers_are_refused(header: str, message: str) -> None:
    request = _with_header(sign(headers=TARGET), "Authorization", header)
    error = refusal(request)
    assert isinstance(error, IncompleteSignature)
    assert (error.code, error.http_status) == ("IncompleteSignatureException", 400)
    assert message in error.message


def test_unsigned_requests_are_refused() -> None:
    request = SignedRequest("POST", "/", "", {"Host": "sagebox.test:8080", **TARGET}, b"{}")
    error = refusal(request)
    assert isinstance(error, MissingAuthenticationToken)
    assert (error.code, error.http_status, error.message) == (
        "MissingAuthenticationTokenException",
        403,
        "Missing Authentication Token",
    )
    assert refusal(request, service="iam").code == "MissingAuthenticationToken"
    bearer = refusal(_with_header(request, "Authorization", "Bearer eyJhbGciOi"))
    assert bearer.code == "MissingAuthenticationTokenException"


def test_a_sigv2_presigned_url_is_told_to_use_sigv4() -> None:
    import boto3

    s3 = boto3.client(
        "s3", region_name=REGION, endpoint_url=ENDPOINT, aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )  # fmt: skip
    parts = urlsplit(s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}))
    error = refusal(SignedRequest("GET", parts.path, parts.query, {}, b"", host=parts.netloc))
    assert (error.code, error.http_status) == ("InvalidRequest", 400)
    assert "signature_version='s3v4'" in error.message


def test_signed_headers_must_cover_host_date_and_every_x_amz_header() -> None:
    request = sign(headers=TARGET)
    auth = request.headers["Authorization"]
    no_host = _with_header(request, "Authorization", auth.replace("host;", ""))
    assert refusal(no_host).message == (
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    )
    no_date = _with_header(request, "Authorization", auth.replace(";x-amz-date", ""))
    assert refusal(no_date).message.startswith("'X-Amz-Date' must be a 'SignedHeader'")
    injected = refusal(_with_header(request, "x-amz-acl", "public-read"))
    assert injected.code == "InvalidSignatureException"
    assert "not signed: x-amz-acl" in injected.message
    s3 = refusal(_with_header(sign("GET", "/b/k", service="s3", body=b""), "x-amz-acl", "x"))
    assert (s3.code, s3.details["HeadersNotSigned"]) == ("AccessDenied", "x-amz-acl")


def test_header_and_query_auth_together_are_refused() -> None:
    request = sign(headers=TARGET)
    both = dataclasses.replace(request, query="X-Amz-Algorithm=AWS4-HMAC-SHA256")
    assert refusal(both).message.startswith("Found both 'X-Amz-Algorithm'")


def test_s3_payload_hash_rules() -> None:
    put = sign("PUT", "/b/k", service="s3", body=b"payload")
    assert check(put) == USER
    swapped = refusal(dataclasses.replace(put, body=b"swapped"))
    assert (swapped.code, swapped.http_status) == ("XAmzContentSHA256Mismatch", 400)
    unsigned = sign("PUT", "/b/k", service="s3", body=b"x", sign_body=False)
    assert unsigned.headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert check(dataclasses.replace(unsigned, body=b"any body")) == USER  # S3 allows it
    # Signed aws-chunked bodies carry per-chunk signatures this module does not check.
    streaming = _with_header(put, "X-Amz-Content-SHA256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    assert (refusal(streaming).code, refusal(streaming).http_status) == ("NotImplemented", 501)
    not_s3 = sign(headers={**TARGET, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    assert refusal(not_s3).code == "InvalidSignatureException"  # only S3 takes unsigned bodies


def test_s3_uploads_over_tls_stream_an_unsigned_trailer() -> None:
    s3 = client("s3", endpoint="https://sagebox.test:8443")
    upload = sent(lambda: s3.put_object(Bucket="bkt", Key="k", Body=b"rows"))
    assert upload.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert upload.headers["Content-Encoding"] == "aws-chunked"
    assert check(upload) == USER


def test_a_date_header_may_stand_in_for_x_amz_date() -> None:
    request = sign(headers={**TARGET, "Date": "Sat, 28 Nov 2026 12:00:00 GMT"})
    assert "X-Amz-Date" not in request.headers
    assert check(request) == USER


def test_error_classes_carry_json_codes_for_the_edge_table() -> None:
    assert (InvalidSignature.code, InvalidSignature.http_status) == (
        "InvalidSignatureException",
        403,
    )
    assert MissingAuthenticationToken.code == "MissingAuthenticationTokenException"
    assert issubclass(SignatureExpired, InvalidSignature)
