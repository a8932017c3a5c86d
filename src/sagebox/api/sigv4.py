"""AWS Signature Version 4 verification: how every request proves who sent it.

:func:`authenticate` checks a request signed in its ``Authorization`` header or
presigned in its query string, as AWS does, and returns the signing
:class:`~sagebox.control.identity.Credential`. It is pure logic: the HTTP server
turns what it received into a :class:`SignedRequest`.

The canonical request is rebuilt here, step by step as ``botocore.auth.SigV4Auth``
builds it, rather than by handing an ``AWSRequest`` to that class: a verifier must
sign exactly the headers the client listed, while ``SigV4Auth`` recomputes that
list (dropping names on its blacklist, adding ``host``) and takes its payload
policy from client context. botocore's ``normalize_url_path`` is reused, and the
tests sign with botocore itself.

Its errors (:mod:`sagebox.api.sigv4_errors`, re-exported here) carry the code,
message and HTTP status AWS gives in the protocol family of the service named in
the credential scope, so boto3 users get the ``ClientError`` they already handle.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_plus, unquote_to_bytes

from sagebox.api.sigv4_errors import (
    AuthenticationError,
    Dialect,
    ExpiredToken,
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    RequestExpired,
    SignatureExpired,
    UnrecognizedClient,
    error,
    text,
)
from sagebox.control.identity import Credential

__all__ = [
    "AuthenticationError",
    "ExpiredToken",
    "IncompleteSignature",
    "InvalidSignature",
    "MissingAuthenticationToken",
    "RequestExpired",
    "SignatureExpired",
    "SignedRequest",
    "UnrecognizedClient",
    "authenticate",
]

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
UNSIGNED_PAYLOADS = frozenset({"UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"})
MAX_EXPIRES = 604800  # seven days: AWS's ceiling for X-Amz-Expires
QUERY_SERVICES = frozenset({"iam", "sts"})
S3_SERVICES = frozenset({"s3"})
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_RE = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_SHA256_RE = re.compile(r"[0-9a-fA-F]{64}")
_PRESIGN_MARKERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_PRESIGN_REQUIRED = (*_PRESIGN_MARKERS, "X-Amz-SignedHeaders", "X-Amz-Date")


@dataclass(frozen=True)
class SignedRequest:
    """A request as received: raw path and query (still percent-encoded), all headers.

    Repeated headers must arrive joined by ``","``, as SigV4 canonicalises them.
    ``host`` stands in for a missing ``Host`` header (HTTP/2 ``:authority``).
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes
    host: str | None = None


@dataclass(frozen=True)
class _Claim:
    """What a request says about its own signature, before any of it is trusted."""

    credential: str
    signed_headers: str
    signature: str
    date: str  # as given: ISO 8601 basic, or RFC 1123 from a Date header
    date_header: str | None  # "x-amz-date" or "date"; None when presigned
    expires: str | None
    token: str | None
    presigned: bool


def authenticate(
    request: SignedRequest,
    lookup: Callable[[str], Credential | None],
    *,
    region: str,
    now: datetime | None = None,
    max_skew: timedelta = timedelta(minutes=15),
    service: str | None = None,
) -> Credential:
    """The credential that signed ``request``, or the AWS error saying why none did.

    ``service``, when the server knows where it routes the request, must be the
    credential scope's; otherwise the scope's (covered by the signature) decides
    path normalisation and error codes.
    """
    now = _utc(now or datetime.now(UTC))
    headers = _lower_headers(request.headers)
    query = [(n, v) for n, _, v in (p.partition("=") for p in request.query.split("&") if p)]
    params: dict[str, list[str]] = {}
    for name, value in query:
        params.setdefault(unquote_plus(name), []).append(unquote_plus(value))
    claim = _claim(headers, params, service)

    parts = claim.credential.split("/")
    dialect = _dialect(service or (parts[3] if len(parts) == 5 else ""), claim.presigned)
    if len(parts) != 5:
        raise error("credential", dialect, credential=claim.credential)
    access_key, scope_date, scope_region, scope_service, terminator = parts
    amz_date = _check_time(claim, dialect, now, max_skew)
    names = claim.signed_headers.split(";")
    _check_signed_headers(claim, names, headers, dialect)
    _check_scope(parts, amz_date, region, service, dialect)

    credential = lookup(access_key)
    if credential is None or not credential.active:
        raise error("unknown-key", dialect, details={"AWSAccessKeyId": access_key})
    s3 = scope_service in S3_SERVICES
    canonical = "\n".join(
        [
            request.method.upper(),
            _canonical_path(request.path, s3),
            _canonical_query(query, claim.presigned),
            "".join(f"{n}:{_header_value(n, headers, request.host)}\n" for n in names),
            claim.signed_headers,
            _payload_hash(request.body, headers, params, claim.presigned, s3, dialect),
        ]
    )
    scope = f"{scope_date}/{scope_region}/{scope_service}/{terminator}"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
    key = _signing_key(credential.secret_access_key, scope_date, scope_region, scope_service)
    expected = hmac.digest(key, string_to_sign.encode(), "sha256").hex()
    if not hmac.compare_digest(expected.encode(), claim.signature.encode("utf-8", "replace")):
        raise error(
            "mismatch",
            dialect,
            canonical=canonical,
            string_to_sign=string_to_sign,
            details={
                "AWSAccessKeyId": access_key,
                "StringToSign": string_to_sign,
                "CanonicalRequest": canonical,
            },
        )
    _check_session(credential, claim.token, now, dialect)
    return credential


@functools.lru_cache(maxsize=1024)
def _signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """SigV4's derived key for a secret and scope: the same all day, so derived once."""
    key = ("AWS4" + secret).encode()
    for step in (day, region, service, TERMINATOR):
        key = hmac.digest(key, step.encode(), "sha256")
    return key


def _claim(
    headers: Mapping[str, str], params: Mapping[str, list[str]], service: str | None
) -> _Claim:
    """Where the request says it is signed: its Authorization header or its query."""
    authorization = headers.get("authorization")
    presigned = any(p in params for p in _PRESIGN_MARKERS)
    dialect = _dialect(service or "", False)
    if authorization is not None and presigned:
        raise error("both", dialect)
    if authorization is not None:
        return _claim_from_header(authorization, headers, service)
    if presigned:
        return _claim_from_query(params, service)
    if "AWSAccessKeyId" in params and "Signature" in params:  # a SigV2 presigned S3 URL
        raise error("sigv2", _dialect(service or "s3", True))
    raise error("missing", dialect)


def _claim_from_header(header: str, headers: Mapping[str, str], service: str | None) -> _Claim:
    algorithm, _, rest = header.strip().partition(" ")
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        name, equal, value = part.partition("=")
        if not equal and algorithm.startswith("AWS4-"):
            raise error("pair", _dialect(service or "", False), part=part, header=header)
        fields[name.strip()] = value.strip()
    credential = fields.get("Credential", "")
    scope_service = credential.split("/")[3] if credential.count("/") == 4 else ""
    dialect = _dialect(service or scope_service, False)
    if algorithm == "AWS":  # SigV2: "AWS AKID:signature"
        raise error("sigv2", dialect)
    if not algorithm.startswith("AWS4-"):  # "Bearer ...": not an AWS signature at all
        raise error("missing", dialect)
    if algorithm != ALGORITHM:
        raise error("algorithm", dialect, algorithm=algorithm)
    required = ("Credential", "Signature", "SignedHeaders")
    problems = [
        f"Authorization header requires '{n}' parameter." for n in required if not fields.get(n)
    ]
    if problems:
        raise error("components", dialect, problems=" ".join(problems), header=header)
    date_header = next((h for h in ("x-amz-date", "date") if h in headers), None)
    if date_header is None:
        raise error("no-date", dialect, header=header)
    return _Claim(
        credential,
        fields["SignedHeaders"],
        fields["Signature"],
        headers[date_header],
        date_header,
        expires=None,
        token=headers.get("x-amz-security-token"),
        presigned=False,
    )


def _claim_from_query(params: Mapping[str, list[str]], service: str | None) -> _Claim:
    credential = params.get("X-Amz-Credential", [""])[0]
    scope_service = credential.split("/")[3] if credential.count("/") == 4 else ""
    dialect = _dialect(service or scope_service, True)
    required = _PRESIGN_REQUIRED + (("X-Amz-Expires",) if dialect == "s3-query" else ())
    missing = [p for p in required if not params.get(p, [""])[0]]
    if missing:
        problems = "".join(f"AWS query-string parameters must include '{p}'. " for p in missing)
        raise error("query-params", dialect, problems=problems, missing=", ".join(missing))
    repeated = sorted(p for p, vs in params.items() if p.startswith("X-Amz-") and len(vs) > 1)
    if repeated:  # which of two X-Amz-Date would the signature vouch for?
        raise error("repeated", dialect, names=", ".join(repeated))
    if params["X-Amz-Algorithm"][0] != ALGORITHM:
        raise error("algorithm", dialect, algorithm=params["X-Amz-Algorithm"][0])
    return _Claim(
        credential,
        params["X-Amz-SignedHeaders"][0],
        params["X-Amz-Signature"][0],
        params["X-Amz-Date"][0],
        date_header=None,
        expires=params.get("X-Amz-Expires", [None])[0],
        token=params.get("X-Amz-Security-Token", [None])[0],
        presigned=True,
    )


def _check_time(claim: _Claim, dialect: Dialect, now: datetime, max_skew: timedelta) -> str:
    """The date SigV4 signs, once the request is inside its window of validity."""
    rfc1123 = claim.date_header == "date"
    when = _parse_date(claim.date, rfc1123=rfc1123)
    if when is None:
        raise error("date-format", dialect, date=claim.date)
    date = claim.date if not rfc1123 else _fmt(when)  # an ISO basic date is its own text

    def texts() -> tuple[dict[str, str], dict[str, str]]:  # only for the error messages
        skew = f"{max_skew.total_seconds() / 60:g} min."
        times = {"date": date, "now": _fmt(now), "skew": skew, "sign": "+"}
        details = {
            "RequestTime": date,
            "ServerTime": _iso(now),
            "MaxAllowedSkewMilliseconds": str(int(max_skew.total_seconds() * 1000)),
        }
        return times, details

    if when > now + max_skew:
        times, details = texts()
        name = "not-yet-valid" if dialect == "s3-query" else "future"
        limit = _fmt(now + max_skew)
        raise error(name, dialect, limit=limit, relation="still later", details=details, **times)
    if not claim.presigned:
        if when < now - max_skew:
            times, details = texts()
            times.update(sign="-", limit=_fmt(now - max_skew), relation="now earlier")
            raise error("past", dialect, details=details, **times)
        return date
    times, details = texts()
    if claim.expires is None:  # optional outside S3: the skew window bounds it
        expires = int(max_skew.total_seconds())
    elif not claim.expires.isdigit():
        negative = claim.expires.startswith("-") and claim.expires[1:].isdigit()
        problem = "must be non-negative" if negative else "should be a number"
        raise error("expires", dialect, problem=problem, expires=claim.expires)
    elif int(claim.expires) > MAX_EXPIRES:
        raise error("expires-week", dialect)
    else:
        expires = int(claim.expires)
    end = when + timedelta(seconds=expires)
    if now > end:
        details = {"X-Amz-Expires": str(expires), "Expires": _iso(end), "ServerTime": _iso(now)}
        raise error("expired", dialect, end=_fmt(end), expires=expires, details=details, **times)
    return date


def _check_signed_headers(
    claim: _Claim, names: list[str], headers: Mapping[str, str], dialect: Dialect
) -> None:
    if "host" not in names and ":authority" not in names:
        raise error("host", dialect)
    if claim.date_header is not None and claim.date_header not in names:
        shown = "X-Amz-Date" if claim.date_header == "x-amz-date" else "Date"
        raise error("date-unsigned", dialect, header=shown)
    # An unsigned x-amz-* header could change what a signed request does (S3's rule).
    unsigned = ", ".join(sorted(h for h in headers if h.startswith("x-amz-") and h not in names))
    if unsigned:
        raise error("unsigned", dialect, names=unsigned, details={"HeadersNotSigned": unsigned})


def _check_scope(
    parts: list[str], amz_date: str, region: str, service: str | None, dialect: Dialect
) -> None:
    """Every wrong element of the credential scope (S3 names the first only)."""
    _, day, scope_region, scope_service, terminator = parts
    wrong: list[tuple[str, dict[str, str]]] = []
    if scope_region != region:
        wrong.append(("region", {"got": scope_region, "region": region}))
    if service is not None and scope_service != service:
        wrong.append(("service", {"got": scope_service, "service": service}))
    if terminator != TERMINATOR:
        wrong.append(("terminator", {"got": terminator}))
    if day != amz_date[:8]:
        wrong.append(("scope-date", {"got": day, "day": amz_date[:8], "date": amz_date}))
    if not wrong:
        return
    details = {"Region": region} if scope_region != region else None
    if not dialect.startswith("s3"):
        raise InvalidSignature(" ".join(text(n, dialect, v) for n, v in wrong), dialect)
    raise error(wrong[0][0], dialect, details=details, **wrong[0][1])


def _payload_hash(
    body: bytes,
    headers: Mapping[str, str],
    params: Mapping[str, list[str]],
    presigned: bool,
    s3: bool,
    dialect: Dialect,
) -> str:
    """The payload line of the canonical request, once the body matches what it claims."""
    declared = headers.get("x-amz-content-sha256")  # signed: unsigned x-amz-* are refused
    if declared is None and s3:
        if not presigned:
            raise error("sha-missing", dialect)
        declared = params.get("X-Amz-Content-Sha256", ["UNSIGNED-PAYLOAD"])[0]
    if declared is not None and s3 and declared in UNSIGNED_PAYLOADS:
        return declared  # the client chose not to sign the body, which S3 allows
    if declared is not None and declared.startswith("STREAMING-"):
        raise error("streaming", dialect, declared=declared)
    actual = hashlib.sha256(body).hexdigest()
    if declared is None:
        return actual
    if s3 and not _SHA256_RE.fullmatch(declared):
        raise error("sha-invalid", dialect, declared=declared)
    if declared.lower() != actual:
        details = {"ClientComputedContentSHA256": declared, "S3ComputedContentSHA256": actual}
        raise error("sha-mismatch", dialect, declared=declared, actual=actual, details=details)
    return declared


def _check_session(
    credential: Credential, token: str | None, now: datetime, dialect: Dialect
) -> None:
    """Session credentials need their own token; long-term keys take none."""
    expected = credential.session_token
    if token is None and expected is None:
        pass
    elif token is None:
        why = "its access key belongs to a temporary session; send the session token with it"
        raise error("bad-token", dialect, why=why, s3_code="InvalidAccessKeyId 403")
    elif expected is None:
        why = "its access key is a long-term key, which takes no X-Amz-Security-Token"
        raise error("bad-token", dialect, why=why)
    elif not hmac.compare_digest(token.encode(), expected.encode()):
        why = "the X-Amz-Security-Token is not the one issued with its access key"
        raise error("bad-token", dialect, why=why)
    if credential.expiration is not None and now >= _utc(credential.expiration):
        raise error("expired-token", dialect, at=_fmt(_utc(credential.expiration)))


@functools.lru_cache(maxsize=4096)
def _canonical_path(raw_path: str, s3: bool) -> str:
    """S3 signs the path as sent; other services normalise it and encode it again."""
    if s3:
        return raw_path or "/"
    from botocore.utils import normalize_url_path

    return quote(str(normalize_url_path(raw_path)), safe="/~")


def _canonical_query(pairs: list[tuple[str, str]], presigned: bool) -> str:
    def encode(raw: str) -> str:  # "+" is a space, as botocore's form-encoded params send it
        return quote(unquote_to_bytes(raw.replace("+", " ")), safe="-_.~")

    encoded = sorted(
        (encode(name), encode(value))
        for name, value in pairs
        if not (presigned and unquote_plus(name) == "X-Amz-Signature")
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def _header_value(name: str, headers: Mapping[str, str], host: str | None) -> str:
    value = headers.get(name)
    if value is None and name in ("host", ":authority"):
        value = headers.get("host", headers.get(":authority", host))
    return " ".join((value or "").split())


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    return lowered


def _dialect(service: str, presigned: bool) -> Dialect:
    if service in S3_SERVICES:
        return "s3-query" if presigned else "s3"
    return "query" if service in QUERY_SERVICES else "json"


def _parse_date(value: str, *, rfc1123: bool) -> datetime | None:
    try:
        if rfc1123:
            return _utc(parsedate_to_datetime(value))
        if _AMZ_DATE_RE.fullmatch(value):  # YYYYMMDDTHHMMSSZ, by hand: strptime is slow
            return datetime(
                int(value[0:4]),
                int(value[4:6]),
                int(value[6:8]),
                int(value[9:11]),
                int(value[11:13]),
                int(value[13:15]),
                tzinfo=UTC,
            )
    except (TypeError, ValueError):
        pass
    return None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _fmt(moment: datetime) -> str:
    return moment.strftime(_AMZ_DATE)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
