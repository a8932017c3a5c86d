"""The HTTP server's application: AWS protocols in, one control-plane call, AWS shapes out.

Routes:
- ``GET /health``: the only route that needs no credentials.
- ``POST /`` with ``X-Amz-Target``: AWS JSON 1.1 (SageMaker).
- ``POST /`` with a form body: the AWS query protocol (IAM, STS), chosen by the
  service in the request's SigV4 credential scope.
- ``POST /endpoints/{name}/invocations``: SageMaker Runtime (REST-JSON), on its own
  fast path (:mod:`sagebox.api.invocations`).
- ``GET /metrics``: endpoint metrics for Prometheus (SigV4 or HTTP Basic with an access
  key; IAM action ``cloudwatch:GetMetricData``).
Anything else is authenticated first and then answered as unknown.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sagebox.api.gate import Gate
from sagebox.api.throttle import RateLimiter, Throttled
from sagebox.control import ControlPlane, Principal
from sagebox.control.identity import Credential, CredentialStore
from sagebox.errors import InternalError, SageboxError, UnknownOperation
from sagebox.home import Home

log = logging.getLogger("sagebox.api")
QUERY_SERVICES = frozenset({"iam", "sts"})
# Services whose operations this server answers over HTTP. S3's REST API is not served
# yet: bucket policies are set in-process (SDK, CLI).
SERVED_SERVICES = frozenset({"sagemaker", "sagemaker-runtime", "glue", *QUERY_SERVICES})
_SCOPE = re.compile(r"Credential=[^/\s,]+/\d{8}/[^/\s,]+/([^/\s,]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"X-Amz-Credential=[^&]*?%2F\d{8}%2F[^&%]+%2F([^&%]+)%2F")


def _scope_service(request: Request) -> str | None:
    match = _SCOPE.search(request.headers.get("authorization", ""))
    if match:
        return match.group(1)
    match = _QUERY_SCOPE.search(request.url.query)
    return match.group(1) if match else None


class Server:
    """Everything a request needs: the control plane, credentials, limits."""

    def __init__(
        self,
        home: Home,
        *,
        control: ControlPlane | None = None,
        rate: float = 100.0,
        burst: float = 200.0,
    ) -> None:
        self.home = home
        self.control = control or ControlPlane(home)
        self.credentials = CredentialStore(home)
        self.limiter = RateLimiter(rate, burst)

    # ---- authentication ---------------------------------------------------------------
    async def authenticate(self, request: Request, body: bytes) -> Credential:
        from sagebox.api.sigv4 import SignedRequest, authenticate

        signed = SignedRequest(
            method=request.method,
            path=request.scope.get("raw_path", request.url.path.encode())
            .decode("latin-1")
            .split("?", 1)[0],
            query=request.url.query,
            headers={k: ",".join(request.headers.getlist(k)) for k in request.headers},
            body=body,
            host=request.headers.get("host"),
        )
        return await run_in_threadpool(
            authenticate, signed, self.credentials.lookup, region=self.home.region
        )

    async def authenticate_metrics(self, request: Request) -> Credential:
        """``GET /metrics``: SigV4, or HTTP Basic with an access key id and its secret
        (what Prometheus' scrape config can send); ``cloudwatch:GetMetricData`` decides."""
        import base64
        import hmac

        from sagebox.api.sigv4 import MissingAuthenticationToken, UnrecognizedClient

        header = request.headers.get("authorization", "")
        if header[:6].lower() == "basic ":
            try:
                key_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                key_id, secret = "", ""
            credential = await run_in_threadpool(self.credentials.lookup, key_id)
            if (
                credential is None
                or not credential.active
                or credential.session_token is not None
                or not hmac.compare_digest(credential.secret_access_key.encode(), secret.encode())
            ):
                raise UnrecognizedClient(
                    "The access key id and secret in the Basic authorization header are not "
                    "an active long-term access key of this home.",
                    "json",
                )
        elif not header and "X-Amz-Credential=" not in request.url.query:
            raise MissingAuthenticationToken(
                "GET /metrics needs credentials: SigV4, or HTTP Basic with an access key id "
                "as user name and its secret access key as password.",
                "json",
            )
        else:
            credential = await self.authenticate(request, b"")
        await run_in_threadpool(
            self.control.authorizer.authorize,
            credential.principal,
            "cloudwatch:GetMetricData",
            "*",
            self.context_keys(request, credential),
        )
        return credential

    def context_keys(self, request: Request, credential: Credential) -> dict[str, Any]:
        keys: dict[str, Any] = {
            "aws:SourceIp": request.client.host if request.client else None,
            "aws:SecureTransport": request.url.scheme == "https",
            "sagebox:request_id": request.state.request_id,
        }
        if credential.session_token:
            record = self.home.metadata.get("access-key", credential.access_key_id)
            keys["sagebox:session"] = dict(record.document)
        return keys

    async def call(
        self,
        request: Request,
        service: str,
        operation: str,
        params: Mapping[str, Any],
        credential: Credential,
    ) -> dict[str, Any]:
        principal: Principal = credential.principal
        self.limiter.check(principal.arn)
        keys = self.context_keys(request, credential)
        result: dict[str, Any] = await run_in_threadpool(
            self.control.call,
            operation,
            params,
            service=service,
            principal=principal,
            context_keys=keys,
        )
        return result


def _request_id() -> str:
    return str(uuid.uuid4())


def _json_error(error: SageboxError) -> Response:
    from sagebox.api.protocols import serialize_json_error

    status, headers, body = serialize_json_error(error)
    response = Response(
        body, status_code=status, headers=headers, media_type="application/x-amz-json-1.1"
    )
    if isinstance(error, Throttled):
        response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return response


def _query_error(service: str, error: SageboxError, request_id: str) -> Response:
    from sagebox.api.protocols import serialize_query_error

    status, body = serialize_query_error(service, error, request_id)
    response = Response(body, status_code=status, media_type="text/xml")
    if isinstance(error, Throttled):
        response.headers["Retry-After"] = str(max(1, round(error.retry_after)))
    return response


def build_app(
    home: Home,
    *,
    allowed_hosts: tuple[str, ...] = (),
    allowed_origins: tuple[str, ...] = (),
    server: Server | None = None,
) -> Gate:
    """The ASGI app for ``home``, wrapped in the Host/Origin/size gate."""
    srv = server or Server(home)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def aws_root(request: Request) -> Response:
        request.state.request_id = _request_id()
        target = request.headers.get("x-amz-target")
        body = await request.body()
        service = _scope_service(request) or ("sagemaker" if target else "unknown")
        if target is None and service in QUERY_SERVICES:
            return await _query(request, service, body)
        try:
            credential = await srv.authenticate(request, body)
            if target is None:
                raise UnknownOperation(
                    "The request names no operation: send AWS JSON 1.1 with an X-Amz-Target "
                    "header (SageMaker), or the query protocol (IAM, STS)."
                )
            from sagebox.api.protocols import parse_json_request, serialize_json_response

            operation, params = parse_json_request(service, target, body)
            result = await srv.call(request, service, operation, params, credential)
            return Response(
                serialize_json_response(service, operation, result),
                media_type="application/x-amz-json-1.1",
                headers={"x-amzn-RequestId": request.state.request_id},
            )
        except SageboxError as error:
            return _with_id(_json_error(error), request)
        except Exception:
            log.exception("request %s failed", request.state.request_id)
            return _with_id(
                _json_error(
                    InternalError(
                        "The server had an internal error. The request id is "
                        f"{request.state.request_id}; the server log has the details."
                    )
                ),
                request,
            )

    async def _query(request: Request, service: str, body: bytes) -> Response:
        from sagebox.api.protocols import parse_query_request, serialize_query_response

        request_id = request.state.request_id
        try:
            credential = await srv.authenticate(request, body)
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            operation, params = parse_query_request(service, form)
            result = await srv.call(request, service, operation, params, credential)
            return Response(
                serialize_query_response(service, operation, result, request_id),
                media_type="text/xml",
            )
        except SageboxError as error:
            return _query_error(service, error, request_id)
        except Exception:
            log.exception("request %s failed", request_id)
            return _query_error(
                service,
                InternalError(f"The server had an internal error. The request id is {request_id}."),
                request_id,
            )

    async def anything_else(request: Request) -> Response:
        request.state.request_id = _request_id()
        body = await request.body()
        try:
            await srv.authenticate(request, body)
            raise UnknownOperation(
                f"No operation is served at {request.method} {request.url.path}. AWS APIs are "
                "served at POST / (JSON 1.1 and query) and POST /endpoints/NAME/invocations."
            )
        except SageboxError as error:
            return _with_id(_json_error(error), request)

    async def prometheus(request: Request) -> Response:
        request.state.request_id = _request_id()
        try:
            await srv.authenticate_metrics(request)
        except SageboxError as error:
            return _with_id(_json_error(error), request)
        from sagebox.serving.metrics import recorder

        return Response(
            recorder(home).prometheus(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/", aws_root, methods=["POST"]),
            Route("/metrics", prometheus, methods=["GET"]),
            Route("/{path:path}", anything_else, methods=methods),  # "/" with other methods too
        ]
    )
    # SageMaker Runtime's InvokeEndpoint: its own raw ASGI fast path (api/invocations.py)
    from sagebox.api.invocations import InvocationsApp, is_invocation

    invocations = InvocationsApp(srv)

    async def dispatch(scope: Any, receive: Any, send: Any) -> None:
        if is_invocation(scope):
            await invocations(scope, receive, send)
        else:
            await app(scope, receive, send)

    hosts = {"localhost", "127.0.0.1", "[::1]", *allowed_hosts}
    gate = Gate(dispatch, allowed_hosts=hosts, allowed_origins=allowed_origins)
    gate.invocations = invocations  # for the server's front protocol (api/front.py)
    return gate


def _with_id(response: Response, request: Request) -> Response:
    response.headers["x-amzn-RequestId"] = request.state.request_id
    return response
