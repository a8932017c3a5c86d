"""The first thing every request meets: Host allowlist, Origin check, size limit.

A pure ASGI middleware. It refuses, before any parsing, requests whose ``Host`` is not
one this server answers to (DNS rebinding), state-changing requests from a browser
``Origin`` that is not allowed (cross-site requests), and bodies over the size limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_MAX_BODY = 10 * 1024 * 1024


def _host_only(value: str) -> str:
    if value.startswith("["):  # [::1]:8080
        return value[: value.index("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"__type": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/x-amz-json-1.1"),
                (b"x-amzn-errortype", code.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Gate:
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
        host = _host_only(headers.get("host", "")).lower()
        if host not in self.allowed_hosts:
            await _refuse(
                send,
                400,
                "InvalidHostHeader",
                f"This server does not answer to host {host!r}. Use one of "
                f"{sorted(self.allowed_hosts)}, or start it with --allow-host.",
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
            )
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _refuse(
                send,
                413,
                "RequestEntityTooLarge",
                f"The request body is {length} bytes; the limit is {self.max_body}.",
            )
            return
        received = 0
        limit = self.max_body

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except BodyTooLarge:
            await _refuse(
                send,
                413,
                "RequestEntityTooLarge",
                f"The request body is over the limit of {self.max_body} bytes.",
            )


class BodyTooLarge(Exception):
    """A streamed body went past the limit (no Content-Length to check up front)."""
