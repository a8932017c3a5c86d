"""The AWS JSON 1.1 protocol (SageMaker, Glue): ``POST /`` with ``X-Amz-Target``.

The target header names the operation (``SageMaker.CreateTrainingJob``, its prefix
the model's ``targetPrefix``); the body is the input document in JSON, timestamps
as epoch seconds and blobs base64. Responses are the output document the same way;
errors are ``{"__type": code, "message": ...}`` with the code also in the
``x-amzn-ErrorType`` header, which is what botocore turns into a ``ClientError``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sagebox.api.protocols._nodes import check_protocol
from sagebox.control.shapes import from_json_wire, operation_model, service_model, to_json_wire
from sagebox.errors import SageboxError, UnknownOperation

__all__ = [
    "JSON11_CONTENT_TYPE",
    "SerializationError",
    "load_json_object",
    "parse_json_request",
    "serialize_json_error",
    "serialize_json_response",
]

JSON11_CONTENT_TYPE = "application/x-amz-json-1.1"


class SerializationError(SageboxError):
    """A request body that is not the JSON document its protocol requires."""

    code = "SerializationException"
    http_status = 400


def load_json_object(body: bytes, what: str) -> dict[str, Any]:
    """``body`` parsed as a JSON object (an empty body is ``{}``); else SerializationError."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SerializationError(
            f"The {what} is not valid JSON ({exc}). Send a JSON object, "
            f'e.g. {{"Name": "value"}}; received {body[:80]!r}.'
        ) from None
    if not isinstance(document, dict):
        raise SerializationError(
            f"The {what} must be a JSON object, not {type(document).__name__}; "
            f"received {body[:80]!r}."
        )
    return document


def parse_json_request(service: str, target_header: str, body: bytes) -> tuple[str, dict[str, Any]]:
    """The operation an ``X-Amz-Target`` header names, and the body decoded by its shape.

    Raises :class:`UnknownOperation` for a target that is not ``<targetPrefix>.<Operation>``
    of this service and :class:`SerializationError` for a body that is not a JSON object.
    Timestamps become datetimes and blobs bytes; nothing else is checked, so pass the
    result through ``validate_input`` next.
    """
    check_protocol(service, "json")
    prefix = str(service_model(service).metadata.get("targetPrefix", ""))
    got_prefix, _, operation = (target_header or "").strip().rpartition(".")
    if got_prefix != prefix or not operation:
        raise UnknownOperation(
            f"The X-Amz-Target header must name an operation as {prefix}.<Operation>, "
            f"e.g. {prefix}.{min(service_model(service).operation_names)}. "
            f"Got {target_header!r}."
        )
    operation_model(service, operation)  # UnknownOperation, with a suggestion
    document = load_json_object(body, f"body of the {operation} request")
    return operation, from_json_wire(service, operation, document)


def serialize_json_response(service: str, operation: str, data: Mapping[str, Any]) -> bytes:
    """The JSON body of a successful response, ``data`` shaped by the output shape."""
    check_protocol(service, "json")
    return json.dumps(to_json_wire(service, operation, data), separators=(",", ":")).encode()


def serialize_json_error(error: SageboxError) -> tuple[int, dict[str, str], bytes]:
    """The HTTP status, headers and body of an error response."""
    body = json.dumps({"__type": error.code, "message": error.message}).encode()
    headers = {"Content-Type": JSON11_CONTENT_TYPE, "x-amzn-ErrorType": error.code}
    return error.http_status, headers, body
