"""The AWS rest-json protocol, as SageMaker Runtime uses it.

An operation is a method and a ``requestUri`` template (``POST
/endpoints/{EndpointName}/invocations``); each input member travels where its
``location`` says: a uri label, a header, a query-string parameter, or the body.
A structure with a ``payload`` member sends that member as the whole body (raw bytes
for a blob, JSON for a structure); otherwise the body is a JSON object of the members
without a location. Responses mirror this, with the status code from the model;
errors are ``{"message": ...}`` with the code in ``x-amzn-ErrorType``.

Event streams (``InvokeEndpointWithResponseStream``'s output) are not encoded here.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from sagebox.api.protocols._nodes import (
    Node,
    check_protocol,
    format_timestamp,
    from_text,
    input_node,
    output_node,
    scalar_text,
)
from sagebox.api.protocols.json11 import SerializationError, load_json_object
from sagebox.control.shapes import from_json_wire, operation_model, service_model, shape_output
from sagebox.errors import InternalError, SageboxError

__all__ = [
    "match_rest_operation",
    "parse_rest_request",
    "serialize_rest_error",
    "serialize_rest_response",
]

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
Query = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]

_HEADER_TIMESTAMP = "rfc822"
_LABEL_TIMESTAMP = "iso8601"
_BODY_TIMESTAMP = "unixtimestamp"

# --------------------------------------------------------------------------- routing


@dataclass(frozen=True, slots=True)
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: tuple[str, ...]
    query: tuple[tuple[str, str], ...]  # literal query keys (and values) in the template


@functools.cache
def _routes(service: str) -> tuple[_Route, ...]:
    model = service_model(service)
    ranked = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, literal_query = http["requestUri"].partition("?")
        regex, labels, literal, greedy = [], [], 0, 0
        for part in re.split(r"(\{[^}]+\})", path):
            if part.startswith("{") and part.endswith("}"):
                label = part[1:-1]
                if label.endswith("+"):
                    labels.append(label[:-1])
                    regex.append("(.+)")
                    greedy += 1
                else:
                    labels.append(label)
                    regex.append("([^/]+)")
            else:
                regex.append(re.escape(part))
                literal += len(part)
        query = tuple(parse_qsl(literal_query, keep_blank_values=True))
        route = _Route(
            name, http.get("method", "POST"), re.compile("".join(regex)), tuple(labels), query
        )
        # The most specific template wins: more literal text, more required query
        # keys, then fewer greedy and fewer plain labels.
        ranked.append(((-literal, -len(query), greedy, len(labels), name), route))
    return tuple(route for _, route in sorted(ranked, key=lambda item: item[0]))


def match_rest_operation(
    service: str, method: str, path: str, query: Query | None = None
) -> tuple[str, dict[str, str]] | None:
    """The operation a request's method and raw path name, with its uri labels decoded.

    ``path`` is as received (percent-encoded); a query string on it is used when
    ``query`` is not given, to tell apart templates that differ only by query keys.
    None when no operation matches.
    """
    check_protocol(service, "rest-json")
    path, _, query_string = path.partition("?")
    params = _multi(query if query is not None else parse_qsl(query_string, True))
    method = method.upper()
    for route in _routes(service):
        if route.method != method:
            continue
        match = route.pattern.fullmatch(path)
        if match is None:
            continue
        if all(k in params and (not v or v in params[k]) for k, v in route.query):
            values = map(unquote, match.groups())
            return route.operation, dict(zip(route.labels, values, strict=True))
    return None


def _multi(query: Query) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(query, Mapping):
        for key, value in query.items():
            out[key] = [value] if isinstance(value, str) else list(value)
    else:
        for key, value in query:
            out.setdefault(key, []).append(value)
    return out


# --------------------------------------------------------------------------- requests


def parse_rest_request(
    service: str,
    operation: str,
    path_params: Mapping[str, str],
    headers: Headers,
    query: Query,
    body: bytes,
) -> dict[str, Any]:
    """The input document of a request, each member read from where the model puts it.

    Values are typed (integers, booleans, timestamps, bytes) but not validated;
    pass the result through ``validate_input`` next. A body that should be JSON and
    is not raises :class:`SerializationError`.
    """
    check_protocol(service, "rest-json")
    node = input_node(service, operation)
    if node is None:
        return {}
    header_map = _header_map(headers)
    params = _multi(query)
    claimed = {m.wire_name or n for n, m in node.members.items() if m.location == "querystring"}
    out: dict[str, Any] = {}
    body_members: dict[str, str] = {}
    for name, member in node.members.items():
        wire = member.wire_name or name
        location = member.location
        if location == "uri":
            if wire in path_params:
                out[name] = from_text(member, path_params[wire], f"uri label {wire!r}")
        elif location == "header":
            if wire.lower() in header_map:
                out[name] = _header_value(member, header_map[wire.lower()][1], wire)
        elif location == "headers":
            prefix = wire.lower()
            prefixed = {
                original[len(prefix) :]: value
                for lower, (original, value) in header_map.items()
                if lower.startswith(prefix)
            }
            if prefixed:
                out[name] = prefixed
        elif location == "querystring":
            value = _query_value(member, wire, params, claimed)
            if value is not None:
                out[name] = value
        elif name != node.payload:
            body_members[member.wire_name or name] = name
    if node.payload is not None:
        payload = node.members[node.payload]
        if payload.opaque:
            raise InternalError(f"sagebox does not decode event-stream input ({operation}).")
        if payload.type in ("blob", "string"):
            if body:
                out[node.payload] = body if payload.type == "blob" else _text(body, operation)
        elif body.strip():
            document = load_json_object(body, f"body of the {operation} request")
            wrapped = from_json_wire(service, operation, {node.payload: document})
            out[node.payload] = wrapped[node.payload]
    elif body_members:
        document = load_json_object(body, f"body of the {operation} request")
        # Only the body's own members count: a location member's name in the body
        # is not that member. Unknown keys are kept for validation to name.
        renamed = {
            body_members.get(key, key): value
            for key, value in document.items()
            if key in body_members or key not in node.members
        }
        out.update(from_json_wire(service, operation, renamed))
    return out


def _text(body: bytes, operation: str) -> str:
    try:
        return body.decode()
    except UnicodeDecodeError as exc:
        raise SerializationError(
            f"The body of the {operation} request must be UTF-8 text ({exc})."
        ) from None


def _header_map(headers: Headers) -> dict[str, tuple[str, str]]:
    """Headers by lower-case name; repeated headers joined with commas (RFC 9110)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, tuple[str, str]] = {}
    for key, value in pairs:
        lower = key.lower()
        if lower in out:
            value = f"{out[lower][1]},{value}"
        out[lower] = (key, value)
    return out


def _header_value(node: Node, text: str, name: str) -> Any:
    where = f"header {name!r}"
    if node.type == "list":
        assert node.member is not None
        member = node.member
        return [from_text(member, item, where, _HEADER_TIMESTAMP) for item in _split_list(text)]
    if node.jsonvalue:
        try:
            return json.loads(base64.b64decode(text, validate=True))
        except ValueError:
            raise SerializationError(
                f"The {where} must be base64-encoded JSON. Got {text!r:.80}."
            ) from None
    return from_text(node, text, where, _HEADER_TIMESTAMP)


def _split_list(text: str) -> list[str]:
    """A header list: comma-separated items, double-quoted where they hold a comma."""
    items: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            chars, i = [], i + 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and text[i + 1 : i + 2] in ('"', "\\"):
                    i += 1
                chars.append(text[i])
                i += 1
            items.append("".join(chars))
            i = text.find(",", i)
        else:
            end = text.find(",", i)
            items.append(text[i : None if end < 0 else end].strip())
            i = end
        if i < 0:
            break
        i += 1
    return items


def _query_value(node: Node, wire: str, params: dict[str, list[str]], claimed: set[str]) -> Any:
    where = f"query parameter {wire!r}"
    if node.type == "map":
        assert node.value is not None
        as_list = node.value.type == "list"
        unclaimed = {
            key: values if as_list else values[-1]
            for key, values in params.items()
            if key not in claimed
        }
        return unclaimed or None
    values = params.get(wire)
    if not values:
        return None
    if node.type == "list":
        assert node.member is not None
        return [from_text(node.member, value, where) for value in values]
    return from_text(node, values[-1], where, _LABEL_TIMESTAMP)


# --------------------------------------------------------------------------- responses


def serialize_rest_response(
    service: str, operation: str, data: Mapping[str, Any]
) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of a successful response, ``data`` shaped first."""
    check_protocol(service, "rest-json")
    shaped = shape_output(service, operation, data)
    status = int(operation_model(service, operation).http.get("responseCode", 200))
    node = output_node(service, operation)
    headers: dict[str, str] = {}
    if node is None:
        return status, headers, b""
    document: dict[str, Any] = {}
    has_body_members = False
    for name, member in node.members.items():
        location, wire = member.location, member.wire_name or name
        value = shaped.get(name)
        if location is None and name != node.payload:
            has_body_members = True
            if value is not None:
                document[wire] = _json_value(member, value)
        elif value is None:
            continue
        elif location == "statusCode":
            status = int(value)
        elif location == "header":
            headers[wire] = _header_text(member, value, operation)
        elif location == "headers":
            for key, item in value.items():
                headers[wire + key] = _header_text(member.value or member, item, operation)
    body, content_type = b"", None
    if node.payload is not None:
        payload, value = node.members[node.payload], shaped.get(node.payload)
        if payload.opaque:
            raise InternalError(f"sagebox does not encode event-stream output ({operation}).")
        if payload.type == "blob":
            body = value.encode() if isinstance(value, str) else bytes(value or b"")
            content_type = "application/octet-stream"
        elif payload.type == "string":
            body, content_type = (value or "").encode(), "text/plain; charset=utf-8"
        elif value is not None:
            body, content_type = _dumps(_json_value(payload, value)), "application/json"
    elif has_body_members:
        body, content_type = _dumps(document), "application/json"
    # A default only where the model has no member for the header: a member left
    # unset must read back unset.
    if content_type and not _content_type_bound(service, operation):
        headers["Content-Type"] = content_type
    return status, headers, body


@functools.cache
def _content_type_bound(service: str, operation: str) -> bool:
    node = output_node(service, operation)
    return node is not None and any(
        m.location == "header" and (m.wire_name or "").lower() == "content-type"
        for m in node.members.values()
    )


def _dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _json_value(node: Node, value: Any) -> Any:
    kind = node.type
    if node.opaque:
        return value
    if kind == "structure":
        return {
            (node.members[k].wire_name or k): _json_value(node.members[k], v)
            for k, v in value.items()
        }
    if kind == "list":
        assert node.member is not None
        return [_json_value(node.member, v) for v in value]
    if kind == "map":
        assert node.value is not None
        return {k: _json_value(node.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return format_timestamp(value, node.timestamp_format or _BODY_TIMESTAMP)
    if kind == "blob":
        return scalar_text(node, value, _BODY_TIMESTAMP)
    return value


def _header_text(node: Node, value: Any, operation: str) -> str:
    if node.type == "list":
        assert node.member is not None
        member = node.member
        items = [_header_text(member, v, operation) for v in value]
        if member.type == "string":
            items = [
                '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                if ("," in v or '"' in v)
                else v
                for v in items
            ]
        return ",".join(items)
    if node.jsonvalue:
        text = base64.b64encode(_dumps(value)).decode()
    else:
        text = scalar_text(node, value, _HEADER_TIMESTAMP)
    if "\r" in text or "\n" in text:
        raise InternalError(
            f"The {operation} response header value {text!r:.80} contains a line break, "
            "which HTTP headers cannot carry; remove it from the value."
        )
    return text


def serialize_rest_error(error: SageboxError) -> tuple[int, dict[str, str], bytes]:
    """The HTTP status, headers and body of an error response.

    An error with ``members`` (SageMaker Runtime's ModelError: ``OriginalStatusCode``
    ...) sends them beside the message, where botocore reads the error shape's fields.
    """
    headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error.code}
    members = getattr(error, "members", None) or {}
    return error.http_status, headers, _dumps({"message": error.message, **members})
