"""Wire views of botocore's shapes, compiled once per operation, and scalar conversions.

The validation specs of :mod:`sagebox.control.shapes` say what a value must be; the
codecs also need how it travels: the name it travels under (``locationName``), where
(uri, header, querystring, payload), flattened lists and maps, timestamp formats.
botocore merges a member reference's serialization into the member's shape, so one
shape can travel differently from two references: a :class:`Node` is one (shape,
reference) pair, and each operation's graph is compiled once and cached.

The scalar helpers turn the text forms every protocol shares (query values, headers,
uri labels) into Python values and back, the way botocore's serializers and parsers do.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from sagebox.control.shapes import operation_model, service_model
from sagebox.control.shapes_validate import to_datetime
from sagebox.errors import InternalError, ValidationError

if TYPE_CHECKING:
    from botocore.model import Shape

__all__ = [
    "Node",
    "check_protocol",
    "float_text",
    "format_timestamp",
    "from_text",
    "input_node",
    "output_node",
    "scalar_text",
]

_NUMERIC = frozenset({"integer", "long", "float", "double"})


@dataclass(eq=False, slots=True)
class Node:
    """One shape as reached through one reference, with what its wire form needs."""

    shape: str
    type: str
    wire_name: str | None = None  # the reference's locationName, if any
    location: str | None = None  # uri, header, headers, querystring, statusCode
    flattened: bool = False
    timestamp_format: str | None = None
    jsonvalue: bool = False  # a JSON document carried base64-encoded in a header
    opaque: bool = False  # documents and event streams
    members: dict[str, Node] = field(default_factory=dict)
    xml_names: dict[str, str] = field(default_factory=dict)  # member -> tag / query key
    by_xml_name: dict[str, str] = field(default_factory=dict)
    payload: str | None = None
    result_wrapper: str | None = None
    member: Node | None = None
    member_name: str = "member"
    key: Node | None = None
    value: Node | None = None
    key_name: str = "key"
    value_name: str = "value"


def _build(shape: Shape, memo: dict[tuple[str, str], Node]) -> Node:
    ser = shape.serialization
    memo_key = (shape.name, repr(sorted(ser.items())))
    node = memo.get(memo_key)
    if node is not None:
        return node  # a recursive shape, or one reached twice the same way
    kind = shape.type_name
    node = memo[memo_key] = Node(
        shape=shape.name,
        type=kind,
        wire_name=ser.get("name"),
        location=ser.get("location"),
        flattened=bool(ser.get("flattened")),
        timestamp_format=(ser.get("timestampFormat") or "").lower() or None,
        jsonvalue=bool(ser.get("jsonvalue")),
        opaque=bool(shape.metadata.get("document") or ser.get("eventstream")),
        payload=ser.get("payload"),
        result_wrapper=ser.get("resultWrapper"),
    )
    if node.opaque:
        return node
    if kind == "structure":
        for name, member_shape in shape.members.items():
            child = node.members[name] = _build(member_shape, memo)
            tag = child.wire_name or name
            if child.type == "list" and child.flattened and child.member is not None:
                # A flattened list travels under its element's name when it has one.
                tag = child.member.wire_name or tag
            node.xml_names[name] = tag
            node.by_xml_name[tag] = name
    elif kind == "list":
        node.member = _build(shape.member, memo)
        node.member_name = node.member.wire_name or "member"
    elif kind == "map":
        node.key = _build(shape.key, memo)
        node.value = _build(shape.value, memo)
        node.key_name = node.key.wire_name or "key"
        node.value_name = node.value.wire_name or "value"
    return node


@functools.cache
def _roots(service: str, operation: str) -> tuple[Node | None, Node | None]:
    op = operation_model(service, operation)
    # One memo per operation: a graph is published only once it is complete.
    memo: dict[tuple[str, str], Node] = {}
    inp = _build(op.input_shape, memo) if op.input_shape is not None else None
    out = _build(op.output_shape, memo) if op.output_shape is not None else None
    return inp, out


def input_node(service: str, operation: str) -> Node | None:
    """The compiled input shape of an operation (None if it takes no input)."""
    return _roots(service, operation)[0]


def output_node(service: str, operation: str) -> Node | None:
    """The compiled output shape of an operation (None if it returns nothing)."""
    return _roots(service, operation)[1]


@functools.cache
def check_protocol(service: str, protocol: str) -> None:
    """Raise :class:`InternalError` unless ``service`` speaks ``protocol``."""
    metadata = service_model(service).metadata
    spoken = metadata.get("protocols") or [metadata.get("protocol")]
    if protocol not in spoken:
        raise InternalError(
            f"sagebox bug: the {service} model speaks {', '.join(map(str, spoken))}, "
            f"not {protocol}; route its requests to that protocol's codec."
        )


# --------------------------------------------------------------------------- scalars


def float_text(value: float) -> str:
    """A float as AWS writes it in text: NaN and Infinity spelled out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def format_timestamp(value: datetime, fmt: str) -> str | float | int:
    """A timestamp in a model format: iso8601, rfc822 or unixtimestamp."""
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if fmt == "rfc822":
        return formatdate(int(value.timestamp()), usegmt=True)
    if fmt == "unixtimestamp":
        seconds = value.timestamp()
        return int(seconds) if value.microsecond == 0 else round(seconds, 6)
    # botocore's iso8601: whole seconds, or microseconds when there are any.
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if value.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return value.strftime(pattern)


def scalar_text(node: Node, value: Any, default_timestamp: str) -> str:
    """A scalar as text for XML, headers, uri labels or query strings."""
    kind = node.type
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("float", "double"):
        return float_text(value)
    if kind == "timestamp":
        return str(format_timestamp(value, node.timestamp_format or default_timestamp))
    if kind == "blob":
        return base64.b64encode(value.encode() if isinstance(value, str) else value).decode()
    return str(value)


def from_text(node: Node, text: str, where: str, default_timestamp: str = "iso8601") -> Any:
    """A text value decoded by its shape's type.

    A value that cannot be read as its type is returned as it came, so that
    validation reports it with the member's path and constraint. Blobs are the
    exception: their text is always base64, and a bad one is rejected here.
    """
    kind = node.type
    if kind in _NUMERIC:
        try:
            return int(text) if kind in ("integer", "long") else float(text)
        except ValueError:
            return text
    if kind == "boolean":
        lowered = text.lower()
        return {"true": True, "false": False}.get(lowered, text)
    if kind == "timestamp":
        if (node.timestamp_format or default_timestamp) == "rfc822":
            try:
                return to_datetime(parsedate_to_datetime(text)) or text
            except (TypeError, ValueError):
                return text
        return to_datetime(text) or text
    if kind == "blob":
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError(
                f"The value of {where} is not valid base64: blobs travel base64-encoded. "
                f"Got {text!r:.80}."
            ) from None
    return text
