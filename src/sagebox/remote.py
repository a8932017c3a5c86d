"""A control plane on the other side of ``sagebox server``, reached with signed requests.

:class:`RemoteControlPlane` has the same ``call`` and snake_case methods as
:class:`sagebox.control.ControlPlane`, but every call is a boto3 request signed with
SigV4 (a profile, or explicit keys), and AWS errors come back as the same sagebox
exceptions an in-process call raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sagebox import errors


def _error_classes() -> dict[str, type[errors.SageboxError]]:
    import sagebox.glue.errors  # noqa: F401  (their classes join the tree)

    table: dict[str, type[errors.SageboxError]] = {}
    pending: list[type[errors.SageboxError]] = [errors.SageboxError]
    while pending:
        cls = pending.pop()
        table.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    table.setdefault("ValidationError", errors.ValidationError)  # the query services' name
    table.setdefault("AccessDenied", errors.AccessDenied)
    return table


class RemoteError(errors.SageboxError):
    """An AWS error code this client has no class for; ``code`` is the server's."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = status


class RemoteControlPlane:
    def __init__(
        self,
        endpoint_url: str,
        *,
        profile: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        session_token: str | None = None,
    ) -> None:
        import boto3

        self.endpoint_url = endpoint_url
        self._boto = boto3.Session(
            profile_name=profile,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            aws_session_token=session_token,
        )
        if self._boto.region_name is None:
            raise errors.ValidationError(
                "No region for the remote session. Pass region=..., set AWS_DEFAULT_REGION, "
                "or give the profile a region."
            )
        self.region = self._boto.region_name
        self._clients: dict[str, Any] = {}
        self._codes = _error_classes()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._boto.client(service, endpoint_url=self.endpoint_url)
        return self._clients[service]

    def call(
        self, operation: str, params: Mapping[str, Any] | None = None, *, service: str = "sagemaker"
    ) -> dict[str, Any]:
        from botocore import xform_name
        from botocore.exceptions import ClientError

        method = getattr(self.client(service), xform_name(operation))
        try:
            response: dict[str, Any] = method(**dict(params or {}))
        except ClientError as error:
            details = error.response.get("Error", {})
            code = str(details.get("Code", "InternalFailure"))
            message = str(details.get("Message", ""))
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            cls = self._codes.get(code)
            if cls is None:
                raise RemoteError(code, message, status) from None
            raise cls(message) from None
        response.pop("ResponseMetadata", None)
        return response

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        from sagebox.control import shapes

        try:
            operation = shapes.operation_for_method("sagemaker", name)
        except (errors.UnknownOperation, errors.ValidationError):
            raise AttributeError(name) from None

        def method(**params: Any) -> dict[str, Any]:
            return self.call(operation, params)

        method.__name__ = name
        return method

    def caller_arn(self) -> str:
        return str(self.call("GetCallerIdentity", {}, service="sts")["Arn"])
