"""Responses shaped by the service model, and the AWS JSON 1.1 wire form of shapes.

:func:`shape_output` turns a handler's internal document into what a boto3 user
gets: only the output shape's members, timestamps as timezone-aware datetimes.
:func:`to_json_wire` and :func:`from_json_wire` convert between that form and
the JSON body AWS sends (timestamps as epoch seconds, blobs as base64).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from sagebox.control.shapes_model import MapKey, Path, Spec, input_spec, output_spec
from sagebox.control.shapes_validate import (
    ShapeValidationError,
    Violation,
    aws_path,
    field_path,
    to_datetime,
    validate_input,
)
from sagebox.errors import InternalError

__all__ = ["from_json_wire", "shape_output", "to_json_wire"]

Direction = Literal["input", "output"]


def shape_output(service: str, operation: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The response of ``operation`` built from ``data`` by the output shape.

    Members the shape does not declare and None values are dropped; timestamps
    (datetimes, ISO 8601 strings or epoch seconds) become timezone-aware datetimes.
    A missing required member is a sagebox bug and raises :class:`InternalError`.
    """
    missing: list[str] = []
    out = _shape(output_spec(service, operation), data, None, missing, operation)
    if missing:
        raise InternalError(
            f"sagebox bug: the {operation} response lacks required member(s) "
            f"{', '.join(missing)}. The request was carried out; please report this "
            "with the operation and the resource involved."
        )
    return dict(out)


def _shape(spec: Spec, value: Any, path: Path, missing: list[str], operation: str) -> Any:
    kind = spec.type
    if spec.opaque:
        return value
    if kind == "structure":
        if not isinstance(value, Mapping):
            raise _bug(operation, path, "a structure", value)
        members, out = spec.members, {}
        for name, item in value.items():
            member = members.get(name)
            if member is not None and item is not None:
                out[name] = _shape(member, item, (path, name), missing, operation)
        missing.extend(field_path((path, r)) for r in spec.required if out.get(r) is None)
        return out
    if kind == "list":
        element = spec.member
        assert element is not None
        if not isinstance(value, (list, tuple)):
            raise _bug(operation, path, "a list", value)
        return [
            _shape(element, item, (path, i), missing, operation)
            for i, item in enumerate(value)
            if item is not None
        ]
    if kind == "map":
        element = spec.value
        assert element is not None
        if not isinstance(value, Mapping):
            raise _bug(operation, path, "a map", value)
        return {
            k: _shape(element, item, (path, MapKey(k)), missing, operation)
            for k, item in value.items()
            if item is not None
        }
    if kind == "timestamp":
        parsed = to_datetime(value)
        if parsed is None:
            raise _bug(operation, path, "a timestamp", value)
        return parsed
    return value


def _bug(operation: str, path: Path, expected: str, value: Any) -> InternalError:
    return InternalError(
        f"sagebox bug: the {operation} response member {field_path(path) or 'root'} "
        f"should be {expected}, not {type(value).__name__} {value!r:.80}."
    )


def to_json_wire(
    service: str, operation: str, data: Mapping[str, Any], *, direction: Direction = "output"
) -> dict[str, Any]:
    """``data`` shaped (output) or validated (input), then encoded for AWS JSON 1.1."""
    if direction == "output":
        shaped, spec = shape_output(service, operation, data), output_spec(service, operation)
    elif direction != "input":
        raise ValueError(f"direction must be 'input' or 'output', not {direction!r}")
    else:
        shaped, spec = validate_input(service, operation, data), input_spec(service, operation)
    return dict(_encode(spec, shaped))


def _encode(spec: Spec, value: Any) -> Any:
    kind = spec.type
    if spec.opaque:
        return value
    if kind == "structure":
        members = spec.members
        return {k: _encode(members[k], v) if k in members else v for k, v in value.items()}
    if kind == "list":
        assert spec.member is not None
        return [_encode(spec.member, v) for v in value]
    if kind == "map":
        assert spec.value is not None
        return {k: _encode(spec.value, v) for k, v in value.items()}
    if kind == "timestamp":
        if spec.timestamp_format == "iso8601":
            return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
        return value.timestamp()
    if kind == "blob":
        return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()
    return value


def from_json_wire(
    service: str, operation: str, body: Mapping[str, Any], *, direction: Direction = "input"
) -> dict[str, Any]:
    """A JSON 1.1 body decoded by the shape: epoch seconds to datetimes, base64 to bytes.

    Nothing else is checked here: pass an input through :func:`validate_input` next.
    Members the shape does not know are kept, so that validation can name them.
    """
    spec = (
        input_spec(service, operation) if direction == "input" else output_spec(service, operation)
    )
    return dict(_decode(spec, body, None))


def _decode(spec: Spec, value: Any, path: Path) -> Any:
    kind = spec.type
    if spec.opaque or value is None:
        return value
    if kind == "structure" and isinstance(value, Mapping):
        members = spec.members
        return {
            k: _decode(members[k], v, (path, k)) if k in members else v for k, v in value.items()
        }
    if kind == "list" and isinstance(value, list):
        assert spec.member is not None
        return [_decode(spec.member, v, (path, i)) for i, v in enumerate(value)]
    if kind == "map" and isinstance(value, Mapping):
        assert spec.value is not None
        return {k: _decode(spec.value, v, (path, MapKey(k))) for k, v in value.items()}
    if kind == "timestamp" and not isinstance(value, datetime):
        return to_datetime(value) or value  # an unparsable value is left for validation
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            where = aws_path(path)
            constraint = "Member must be base64-encoded"
            message = f"Value at '{where}' failed to satisfy constraint: {constraint}"
            hint = "Blobs travel base64-encoded in AWS JSON bodies."
            raise ShapeValidationError(
                [Violation(where, value, constraint, field_path(path), message, hint)]
            ) from None
    return value
