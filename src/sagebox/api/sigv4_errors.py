"""The errors SigV4 verification gives, in AWS's words, codes and HTTP statuses.

Each error's code, status and wording follow the protocol family of the service
named in the request's credential scope (its *dialect*): JSON services
(SageMaker, Glue, KMS), query services (IAM, STS), or S3, header-signed or
presigned. The tables below are the one place these words live::

    SageboxError
    +-- AuthenticationError           codes: JSON services / IAM, STS / S3
        +-- MissingAuthenticationToken  MissingAuthenticationTokenException / ... / AccessDenied
        +-- IncompleteSignature         IncompleteSignatureException / ... / AuthorizationHeader-
        |                               Malformed (S3 presigned: AuthorizationQueryParametersError)
        +-- UnrecognizedClient          UnrecognizedClientException / InvalidClientTokenId / ...
        +-- ExpiredToken                ExpiredTokenException / ExpiredToken / ExpiredToken
        +-- InvalidSignature            InvalidSignatureException / SignatureDoesNotMatch / ...
        |   +-- SignatureExpired        clock skew; S3: RequestTimeTooSkewed
        +-- RequestExpired              presigned URL past X-Amz-Expires; S3: AccessDenied
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

from sagebox.errors import SageboxError

__all__ = [
    "AuthenticationError",
    "Dialect",
    "ExpiredToken",
    "IncompleteSignature",
    "InvalidSignature",
    "MissingAuthenticationToken",
    "RequestExpired",
    "SignatureExpired",
    "UnrecognizedClient",
    "error",
    "text",
]

# "s3-query" is S3 reached by a presigned URL, whose malformations AWS names differently.
Dialect = Literal["json", "query", "s3", "s3-query"]


def _codes(json: str, query: str, s3: str, s3_query: str | None = None) -> dict[str, str]:
    """An error's "Code status" in each dialect."""
    return {"json": json, "query": query, "s3": s3, "s3-query": s3_query or s3}


def _split(code: str) -> tuple[str, int]:
    name, status = code.split()
    return name, int(status)


class AuthenticationError(SageboxError):
    """A request that does not prove who sent it.

    ``code`` and ``http_status`` are AWS's for the request's protocol family;
    ``details`` holds the extra fields AWS puts in S3 error bodies (``Region``,
    ``ServerTime``, ``CanonicalRequest`` ...) for the edge to render.
    """

    codes: ClassVar[Mapping[str, str]] = _codes(*["AccessDenied 403"] * 3)  # "Code status"

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.code, cls.http_status = _split(cls.codes["json"])  # class defaults for tables

    def __init__(
        self,
        message: str,
        dialect: Dialect = "json",
        *,
        s3_code: str | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.dialect: Dialect = dialect
        if s3_code is None or not dialect.startswith("s3"):
            s3_code = self.codes[dialect]
        self.code, self.http_status = _split(s3_code)
        self.details = dict(details or {})


class MissingAuthenticationToken(AuthenticationError):
    codes = _codes(
        "MissingAuthenticationTokenException 403",
        "MissingAuthenticationToken 403",
        "AccessDenied 403",
    )


class IncompleteSignature(AuthenticationError):
    codes = _codes(
        "IncompleteSignatureException 400",
        "IncompleteSignature 400",
        "AuthorizationHeaderMalformed 400",
        "AuthorizationQueryParametersError 400",
    )


class UnrecognizedClient(AuthenticationError):
    codes = _codes(
        "UnrecognizedClientException 400", "InvalidClientTokenId 403", "InvalidAccessKeyId 403"
    )


class ExpiredToken(AuthenticationError):
    codes = _codes("ExpiredTokenException 403", "ExpiredToken 403", "ExpiredToken 400")


class InvalidSignature(AuthenticationError):
    codes = _codes(
        "InvalidSignatureException 403", "SignatureDoesNotMatch 403", "SignatureDoesNotMatch 403"
    )


class SignatureExpired(InvalidSignature):
    """X-Amz-Date outside the clock-skew window (presigned S3: not yet valid)."""

    codes = _codes(
        "InvalidSignatureException 400",
        "SignatureDoesNotMatch 403",
        "RequestTimeTooSkewed 403",
        "AccessDenied 403",
    )


class RequestExpired(AuthenticationError):
    codes = _codes("RequestExpired 400", "RequestExpired 400", "AccessDenied 403")


_MISMATCH = "The request signature we calculated does not match the signature you provided."
_SCOPE = "Credential should be scoped "
_TIME = "{date} is {relation} than {limit} ({now} {sign} {skew})"
# AWS's texts, by the error they belong to; {placeholders} are filled where raised.
_TEXTS: dict[type[AuthenticationError], dict[str, str]] = {
    MissingAuthenticationToken: {"missing": "Missing Authentication Token"},
    IncompleteSignature: {
        "sigv2": "The authorization mechanism you have provided is not supported. Please use "
        "AWS4-HMAC-SHA256. (boto3 presigns S3 URLs with it given "
        "Config(signature_version='s3v4').)",
        "pair": "'{part}' not a valid key=value pair (missing equal-sign) in Authorization "
        "header: '{header}'.",
        "algorithm": "Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now).",
        "components": "{problems} Authorization={header}",
        "no-date": "Authorization header requires existence of either a 'X-Amz-Date' or a "
        "'Date' header. Authorization={header}",
        "query-params": "{problems}Re-examine the query-string parameters.",
        "repeated": "The query-string parameters {names} appear more than once; each SigV4 "
        "parameter must appear once. Re-examine the query-string parameters.",
        "credential": "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term, got '{credential}'",
        "date-format": "Date must be in ISO-8601 'basic format'. Got '{date}'. See "
        "http://en.wikipedia.org/wiki/ISO_8601",
        "expires": "X-Amz-Expires {problem}; got '{expires}'.",
        "expires-week": "X-Amz-Expires must be less than a week (in seconds); that is, the given "
        "X-Amz-Expires must be less than 604800 seconds",
        "sha-missing": "Missing required header for this request: x-amz-content-sha256",
        "sha-invalid": "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value; got '{declared}'.",
        "streaming": "A header you provided implies functionality that is not implemented: "
        "x-amz-content-sha256 {declared} (signed aws-chunked uploads). Sign the whole body, or "
        "send UNSIGNED-PAYLOAD over TLS.",
    },
    SignatureExpired: {
        "future": "Signature not yet current: " + _TIME,
        "past": "Signature expired: " + _TIME,
        "not-yet-valid": "Request is not yet valid: X-Amz-Date " + _TIME,
    },
    RequestExpired: {
        "expired": "Request has expired: the presigned request was valid until {end} "
        "(X-Amz-Date {date} + X-Amz-Expires {expires} s) and it is now {now}. Presign it again.",
    },
    InvalidSignature: {
        "both": "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as "
        "HTTP header.",
        "host": "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        "date-unsigned": "'{header}' must be a 'SignedHeader' in the AWS Authorization.",
        "unsigned": "There were headers present in the request which were not signed: {names}. "
        "Include every x-amz-* header in SignedHeaders.",
        "region": _SCOPE + "to a valid region, not '{got}'. This server's region is '{region}': "
        "sign for it.",
        "service": _SCOPE + "to correct service: '{service}'.",
        "terminator": _SCOPE + "with a valid terminator: 'aws4_request', not '{got}'.",
        "scope-date": "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
        "date from HTTP: '{got}' != '{day}', from '{date}'.",
        "sha-mismatch": "The provided 'x-amz-content-sha256' header does not match what was "
        "computed: the header says {declared}, the body's SHA-256 is {actual}.",
        "mismatch": _MISMATCH + " Check your AWS Secret Access Key and signing method. Consult "
        "the service documentation for details.\n\nThe Canonical String for this request should "
        "have been\n'{canonical}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n",
    },
    UnrecognizedClient: {
        "unknown-key": "The security token included in the request is invalid.",
        "bad-token": "The security token included in the request is invalid: {why}.",
    },
    ExpiredToken: {
        "expired-token": "The security token included in the request is expired (at {at}; get "
        "new credentials).",
    },
}
_ERROR_OF = {name: error for error, texts in _TEXTS.items() for name in texts}
# Where IAM/STS or S3 word it otherwise: {aws} is the text above, {malformed} S3's prefix.
_OTHER_TEXTS: dict[str, dict[str, str]] = {
    "query": {"missing": "Request is missing Authentication Token"},
    "s3": {
        "missing": "Access Denied. The request is not signed and sagebox serves no anonymous "
        "request: sign it with SigV4 or use a presigned URL.",
        "both": "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
        "Signature query string parameter or the Authorization header should be specified",
        "components": "{malformed}the authorization header requires three components: "
        "Credential, SignedHeaders, and Signature.",
        "no-date": "AWS authentication requires a valid Date or x-amz-date header",
        "query-params": "Query-string authentication version 4 requires the X-Amz-Algorithm, "
        "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires "
        "parameters. Missing: {missing}.",
        "credential": '{malformed}the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/'
        'REGION/SERVICE/aws4_request".',
        "date-format": "{malformed}X-Amz-Date must be in the ISO8601 Long Format "
        "\"yyyyMMdd'T'HHmmss'Z'\"; got '{date}'.",
        "future": "The difference between the request time and the current time is too large. "
        "{aws}",
        "past": "The difference between the request time and the current time is too large. {aws}",
        "region": "{malformed}the region '{got}' is wrong; expecting '{region}'",
        "service": '{malformed}incorrect service "{got}". This endpoint belongs to "{service}".',
        "terminator": '{malformed}incorrect terminal "{got}". This endpoint uses "aws4_request".',
        "scope-date": "{malformed}Invalid credential date. Date is not the same as X-Amz-Date.",
        "unknown-key": "The AWS Access Key Id you provided does not exist in our records.",
        "mismatch": _MISMATCH + " Check your key and signing method.",
        "bad-token": "The provided token is malformed or otherwise invalid: {why}.",
        "expired-token": "The provided token has expired (at {at}; get new credentials).",
    },
}
# Where S3's code is not the one its error class gives.
_S3_CODES = {
    "both": "InvalidArgument 400",
    "sigv2": "InvalidRequest 400",
    "no-date": "AccessDenied 403",
    "unsigned": "AccessDenied 403",
    "sha-missing": "InvalidRequest 400",
    "sha-invalid": "InvalidArgument 400",
    "streaming": "NotImplemented 501",
    "sha-mismatch": "XAmzContentSHA256Mismatch 400",
    "bad-token": "InvalidToken 400",
    **dict.fromkeys(
        ("region", "service", "terminator", "scope-date"), "AuthorizationHeaderMalformed 400"
    ),
}


def text(name: str, dialect: Dialect, values: Mapping[str, object]) -> str:
    """The message ``_TEXTS[...][name]`` in ``dialect``'s words, filled with ``values``."""
    aws = _TEXTS[_ERROR_OF[name]][name].format(**values)
    other = _OTHER_TEXTS.get(dialect.split("-")[0], {}).get(name)
    if other is None:
        return aws
    malformed = "The authorization header is malformed; "
    if dialect == "s3-query":
        malformed = "Error parsing the X-Amz-Credential parameter; "
    return other.format(aws=aws, malformed=malformed, **values)


def error(
    name: str,
    dialect: Dialect,
    *,
    s3_code: str | None = None,
    details: Mapping[str, str] | None = None,
    **values: object,
) -> AuthenticationError:
    """The error named ``name`` in the tables above, worded and coded for ``dialect``."""
    code = s3_code or _S3_CODES.get(name)
    if code == "AuthorizationHeaderMalformed 400" and dialect == "s3-query":
        code = "AuthorizationQueryParametersError 400"  # S3's name for a bad presigned URL
    message = text(name, dialect, values)
    return _ERROR_OF[name](message, dialect, s3_code=code, details=details)
