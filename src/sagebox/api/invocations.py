"""``POST /endpoints/{name}/invocations``: SageMaker Runtime's InvokeEndpoint, the hot path.

A raw ASGI app, mounted in front of the Starlette routes. It does what the generic
routes do (SigV4, IAM, the REST-JSON codec, the model's validation) without their
costs: no thread-pool hop, no database read per request. Instead:

- the credential behind an access key, and an allowed IAM decision for a principal,
  endpoint and source, are kept for :data:`CACHE_SECONDS`: IAM changes (a revoked key,
  a removed policy) reach InvokeEndpoint within that time, as AWS's IAM is eventually
  consistent too. Denials are never kept;
- every decision still goes to the audit log: decided ones as always, the ones served
  from the cache through a background writer;
- InvokeEndpoint has no per-principal request rate: like SageMaker, an endpoint's
  capacity (its workers, a serverless MaxConcurrency) is its limit.

Then :meth:`Router.ainvoke <sagebox.serving.router.Router.ainvoke>` forwards the request
to a worker over a keep-alive Unix socket.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool

from sagebox.api.protocols import parse_rest_request, serialize_rest_response
from sagebox.api.sigv4 import SignedRequest, authenticate
from sagebox.control.audit import AuditLine, AuditLog
from sagebox.control.shapes import ShapeValidationError, validate_input
from sagebox.errors import InternalError, RuntimeValidationError, SageboxError
from sagebox.serving.router import Invocation, check_payload, router_for

if TYPE_CHECKING:
    from sagebox.api.app import Server
    from sagebox.control.authorize import Principal
    from sagebox.control.identity import Credential

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("sagebox.api")

SERVICE = "sagemaker-runtime"
SIGNING_SERVICE = "sagemaker"  # the runtime's SigV4 signing name, as in botocore's model
ACTION = "sagemaker:InvokeEndpoint"
OPERATION = "InvokeEndpoint"
CACHE_SECONDS = 1.0
MAX_CACHED = 10_000
AUDIT_SECONDS = 0.2  # how often the audit of cached decisions is written
PATH = re.compile(r"/endpoints/([^/]*)/invocations")


def is_invocation(scope: Scope) -> bool:
    """Whether this fast path answers the request."""
    return (
        scope["type"] == "http"
        and scope["method"] == "POST"
        and bool(PATH.fullmatch(scope["path"]))
    )


@dataclass(frozen=True, slots=True)
class _Known:
    credential: Credential
    session: dict[str, Any] | None  # an STS session's record, for its session policies
    expires: float


@dataclass(frozen=True, slots=True)
class _Allowed:
    statement: dict[str, Any] | None
    expires: float


class InvocationsApp:
    """The ASGI app of the runtime route (see the module docstring)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.home = server.home
        self.router = router_for(server.home)
        self._credentials: dict[str, _Known] = {}
        self._allowed: dict[tuple[Any, ...], _Allowed] = {}
        self._audit = _AuditQueue(server)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI form, for requests that reach the route through uvicorn."""
        body = await _read_body(receive)
        client = scope.get("client")
        raw_path = scope.get("raw_path") or scope["path"].encode()
        status, headers, payload = await self.answer(
            scope["path"],
            raw_path.decode("latin-1"),
            scope.get("query_string", b"").decode("latin-1"),
            _headers(scope),
            body,
            client[0] if client else None,
            scope.get("scheme") == "https",
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def answer(
        self,
        path: str,
        raw_path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        client: str | None,
        https: bool,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """One InvokeEndpoint: its status, response headers (``content-length`` last) and
        body. ``headers`` are by lower-case name, repeated ones joined by commas; ``path``
        is percent-decoded, ``raw_path`` as sent; ``client`` is the caller's address."""
        started = time.perf_counter()
        request_id = _request_id()
        try:
            status, out, payload = await self._invoke(
                path, raw_path, query, headers, body, (client, https), request_id, started
            )
        except SageboxError as error:
            status, out, payload = _error(error)
        except Exception:
            log.exception("request %s failed", request_id)
            status, out, payload = _error(
                InternalError(
                    f"The server had an internal error. The request id is {request_id}; "
                    "the server log has the details."
                )
            )
        raw = list(out)
        raw.append((b"x-amzn-requestid", request_id.encode()))
        raw.append((b"content-length", str(len(payload)).encode()))
        return status, raw, payload

    async def _invoke(
        self,
        path: str,
        raw_path: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
        source: tuple[str | None, bool],
        request_id: str,
        started: float,
    ) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
        access_key = _access_key(headers, query)
        if access_key is not None and not self._fresh_credential(access_key):
            await run_in_threadpool(self._remember, access_key)  # a database read
        known = self._authenticate(headers, raw_path.split("?", 1)[0], query, body)
        match = PATH.fullmatch(path)
        name = unquote(match.group(1)) if match else ""
        if not self._authorize_cached(source, known, name, request_id):
            await run_in_threadpool(self._authorize, source, known, name, request_id)
        check_payload(body)  # 413 as SageMaker answers it, before the model's 400
        if body:
            members = tuple(item for item in headers.items() if item[0] in _MEMBER_HEADERS)
            request = _request(name, members, query)
        else:  # the generic path says what is wrong with an empty Body
            request = _validated(name, tuple(headers.items()), query, body)
        invocation = Invocation.from_api(request, body=body)
        answer = await self.router.ainvoke(invocation, started=started)
        status, out = _response(answer.content_type, answer.variant, answer.custom_attributes)
        return status, out, answer.body

    # ---- who is calling -----------------------------------------------------------------
    def _fresh_credential(self, access_key: str) -> bool:
        known = self._credentials.get(access_key)
        return known is not None and known.expires >= time.monotonic()

    def _remember(self, access_key: str) -> None:
        """Look the access key up (its credential, an STS session's record) and keep it."""
        credential = self.server.credentials.lookup(access_key)
        if credential is None:
            self._credentials.pop(access_key, None)
            return
        session = None
        if credential.session_token:
            record = self.home.metadata.get("access-key", credential.access_key_id)
            session = dict(record.document)
        if len(self._credentials) > MAX_CACHED:
            self._credentials.clear()
        self._credentials[access_key] = _Known(
            credential, session, time.monotonic() + CACHE_SECONDS
        )

    def _authenticate(self, headers: dict[str, str], path: str, query: str, body: bytes) -> _Known:
        """The SigV4 check, pure CPU: the credential was looked up before."""

        def lookup(access_key: str) -> Credential | None:
            known = self._credentials.get(access_key)
            return None if known is None else known.credential

        signed = SignedRequest("POST", path, query, headers, body, headers.get("host"))
        credential = authenticate(signed, lookup, region=self.home.region, service=SIGNING_SERVICE)
        return self._credentials[credential.access_key_id]

    def _decision_key(
        self, source: tuple[str | None, bool], known: _Known, endpoint: str
    ) -> tuple[Any, ...]:
        return (
            known.credential.principal.arn,
            known.credential.access_key_id,
            self.home.arn("sagemaker", f"endpoint/{endpoint.lower()}"),
            *source,
        )

    def _authorize_cached(
        self, source: tuple[str | None, bool], known: _Known, endpoint: str, request_id: str
    ) -> bool:
        """True when an allow for this caller, endpoint and source is still fresh."""
        key = self._decision_key(source, known, endpoint)
        allowed = self._allowed.get(key)
        if allowed is None or allowed.expires < time.monotonic():
            return False
        self._audit.allowed(
            known.credential.principal, key[2], key[3], allowed.statement, request_id
        )
        return True

    def _authorize(
        self, source: tuple[str | None, bool], known: _Known, endpoint: str, request_id: str
    ) -> None:
        """IAM's decision (audited; AccessDenied when it is no), kept when it allows."""
        key = self._decision_key(source, known, endpoint)
        principal, resource = known.credential.principal, key[2]
        context: dict[str, Any] = {
            "aws:SourceIp": key[3],
            "aws:SecureTransport": key[4],
            "sagebox:request_id": request_id,
        }
        if known.session is not None:
            context["sagebox:session"] = known.session
        # the allowing statement goes into the audit of the decisions served from the cache
        statement = self.server.control.authorizer.authorize(principal, ACTION, resource, context)
        if len(self._allowed) > MAX_CACHED:
            self._allowed.clear()
        self._allowed[key] = _Allowed(statement, time.monotonic() + CACHE_SECONDS)


# ---- the REST-JSON codec, memoized ------------------------------------------------------
# A client sends the same few headers (ContentType, Accept, ...) request after request:
# what the model's codec and validation make of them is kept, keyed by their values.
# Only answers are kept; a request the codec refuses goes through it every time.


def _member_headers() -> frozenset[str]:
    from sagebox.api.protocols._nodes import input_node

    node = input_node(SERVICE, OPERATION)
    assert node is not None
    if any(member.location == "headers" for member in node.members.values()):
        raise InternalError("sagebox bug: InvokeEndpoint's input has a header-prefix member.")
    return frozenset(
        (member.wire_name or name).lower()
        for name, member in node.members.items()
        if member.location == "header"
    )


_MEMBER_HEADERS = _member_headers()
_BODY_STANDIN = b"\0"  # the Body's one constraint, its length, is check_payload's


def _validated(
    name: str, headers: tuple[tuple[str, str], ...], query: str, body: bytes
) -> dict[str, Any]:
    params = parse_rest_request(
        SERVICE, OPERATION, {"EndpointName": name}, headers, _query(query), body
    )
    try:
        return validate_input(SERVICE, OPERATION, params)
    except ShapeValidationError as error:  # the runtime's code for it: ValidationError
        raise RuntimeValidationError(error.message) from None


@functools.lru_cache(maxsize=4096)
def _request(name: str, members: tuple[tuple[str, str], ...], query: str) -> Mapping[str, Any]:
    """The validated input of a request with a Body (a stand-in for it: read-only)."""
    return MappingProxyType(_validated(name, members, query, _BODY_STANDIN))


@functools.lru_cache(maxsize=4096)
def _response(
    content_type: str, variant: str, custom_attributes: str | None
) -> tuple[int, tuple[tuple[bytes, bytes], ...]]:
    """The status and headers of an answer (the Body is the payload, as it is)."""
    shaped: dict[str, Any] = {
        "Body": b"",
        "ContentType": content_type,
        "InvokedProductionVariant": variant,
        "CustomAttributes": custom_attributes,
    }
    status, headers, _ = serialize_rest_response(SERVICE, OPERATION, shaped)
    return status, _encoded(headers)


def _encoded(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())


def _request_id() -> str:
    """A random (version 4) UUID, as ``str(uuid.uuid4())`` writes it, at a quarter of
    its cost."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


_CREDENTIAL = re.compile(r"Credential=([^/\s,&]+)/")


def _access_key(headers: dict[str, str], query: str) -> str | None:
    """The access key a request says signed it (nothing is trusted yet)."""
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    if match is None and "X-Amz-Credential=" in query:
        match = _CREDENTIAL.search(unquote(query))
    return match.group(1) if match else None


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body"):
        return bytes(body)
    chunks = [body]
    while message.get("more_body"):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    """Headers by lower-case name, repeated ones joined by commas (as SigV4 signs them)."""
    out: dict[str, str] = {}
    for key, value in scope["headers"]:
        name, text = key.decode("latin-1"), value.decode("latin-1")
        out[name] = f"{out[name]},{text}" if name in out else text
    return out


def _query(query: str) -> list[tuple[str, str]]:
    if not query:
        return []
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


def _error(error: SageboxError) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes]:
    from sagebox.api.protocols import serialize_rest_error

    status, headers, payload = serialize_rest_error(error)
    return status, _encoded(headers), payload


class _AuditQueue:
    """Audit events of decisions served from the cache, written in the background.

    A request only queues what its event needs (a tuple); the background writer encodes
    the lines, the fields a cached decision's events share once (``AuditLine``), and
    appends them to the authorizer's audit log five times a second: a few microseconds
    an event, so a batch does not hold the requests' thread up for long. A batch that
    cannot be written goes back to the queue for the next try.
    """

    def __init__(self, server: Server) -> None:
        self._audit: AuditLog | None = getattr(server.control.authorizer, "audit", None)
        self._pending: list[tuple[float, str, str, str | None, dict[str, Any] | None, str]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # (principal, resource, source IP) -> (the statement object, its line's encoding)
        self._lines: dict[tuple[str, str, str | None], tuple[object, AuditLine]] = {}

    def allowed(
        self,
        principal: Principal,
        resource: str,
        source_ip: str | None,
        statement: dict[str, Any] | None,
        request_id: str,
    ) -> None:
        if self._audit is None:
            return
        queued = (time.time(), principal.arn, resource, source_ip, statement, request_id)
        with self._lock:
            self._pending.append(queued)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sagebox-audit", daemon=True)
                self._thread.start()
                import atexit

                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            time.sleep(AUDIT_SECONDS)
            try:
                self.flush()
            except Exception:  # never end the thread: the batch is queued again
                log.exception("writing the audit log failed; trying again")

    def flush(self) -> None:
        with self._lock:
            queued, self._pending = self._pending, []
        if not queued or self._audit is None:
            return
        try:
            days: dict[str, list[bytes]] = {}
            for at, principal, resource, source_ip, statement, request_id in queued:
                moment = datetime.fromtimestamp(at, UTC).isoformat()
                line = self._line(principal, resource, source_ip, statement)
                days.setdefault(moment[:10], []).append(line.encode(moment, request_id))
            self._audit.append(days)
        except BaseException:
            with self._lock:  # first, in their order, before what came since
                self._pending[:0] = queued
            raise

    def _line(
        self, principal: str, resource: str, source_ip: str | None, statement: Any
    ) -> AuditLine:
        key = (principal, resource, source_ip)
        known = self._lines.get(key)
        if known is not None and known[0] is statement:  # held here: its id is not reused
            return known[1]
        if len(self._lines) > MAX_CACHED:
            self._lines.clear()
        line = AuditLine(principal, ACTION, resource, source_ip, "allowed", statement)
        self._lines[key] = (statement, line)
        return line
