"""The first thing every request meets: Host allowlist, Origin check, size limit.

A pure ASGI middleware. It refuses, before any parsing, requests whose ``Host`` is not
one this server answers to (DNS rebinding), state-changing requests from a browser
``Origin`` that is not allowed (cross-site requests), and bodies over the size limit.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from sagebox.errors import SageboxError

if TYPE_CHECKING:
    from sagebox.api.invocations import InvocationsApp

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_MAX_BODY = 10 * 1024 * 1024


def host_only(value: str) -> str:
    if value.startswith("["):  # [::1]:8080
        return value[: value.index("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class GateRefusal(SageboxError):
    """A request refused before it reaches the application."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = status


_SCOPE = re.compile(r"Credential=[^/\s,]+/\d{8}/[^/\s,]+/([^/\s,]+)/aws4_request")


async def _refuse(
    send: Send, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> None:
    """Answer in the protocol the client speaks: XML for query clients (IAM, STS)."""
    from sagebox.api.protocols import serialize_json_error, serialize_query_error

    request_headers = headers or {}
    error = GateRefusal(status, code, message)
    form = request_headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if form and "x-amz-target" not in request_headers:
        match = _SCOPE.search(request_headers.get("authorization", ""))
        service = match.group(1) if match and match.group(1) in ("iam", "sts") else "sts"
        status, body = serialize_query_error(service, error, str(uuid.uuid4()))
        response_headers = [(b"content-type", b"text/xml")]
    else:
        status, extra, body = serialize_json_error(error)
        response_headers = [(b"content-type", b"application/x-amz-json-1.1")]
        response_headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    response_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": body})


class Gate:
    invocations: InvocationsApp | None = None  # the app's InvokeEndpoint route, if any

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Iterable[str],
        allowed_origins: Iterable[str] = (),
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.allowed_origins = {o.rstrip("/").lower() for o in allowed_origins}
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        host = host_only(headers.get("host", "")).lower()
        if host not in self.allowed_hosts:
            await _refuse(
                send,
                400,
                "InvalidHostHeader",
                f"This server does not answer to host {host!r}. Use one of "
                f"{sorted(self.allowed_hosts)}, or start it with --allow-host.",
                headers,
            )
            return
        origin = headers.get("origin")
        if (
            origin
            and scope["method"] not in SAFE_METHODS
            and origin.rstrip("/").lower() not in self.allowed_origins
        ):
            await _refuse(
                send,
                403,
                "AccessDeniedException",
                f"Cross-origin request from {origin} refused. Requests that change "
                "state must come from the console's own origin.",
                headers,
            )
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _refuse(
                send,
                413,
                "RequestEntityTooLarge",
                f"The request body is {length} bytes; the limit is {self.max_body}.",
                headers,
            )
            return
        received = 0
        limit = self.max_body
        started = refused = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out; drop what the app still sends (its 500 too)
            started = True
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    if not refused and not started:
                        refused = True
                        await _refuse(
                            send,
                            413,
                            "RequestEntityTooLarge",
                            f"The request body is over the limit of {limit} bytes.",
                            headers,
                        )
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, guarded_send)
        except BodyTooLarge:
            if not refused:
                raise


class BodyTooLarge(Exception):
    """A streamed body went past the limit (no Content-Length to check up front)."""
