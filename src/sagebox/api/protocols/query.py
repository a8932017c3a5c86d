"""The AWS query protocol (IAM, STS): form-encoded requests, XML responses.

A request is a flat form: ``Action``, ``Version`` and one key per scalar, its dotted
path spelling the structure (``Tags.member.1.Key``; maps as
``Attributes.entry.1.key``; flattened lists without the ``member`` step). The
operation's input shape says how to fold the keys back into a document. A response
is ``<{Op}Response>`` holding the output shape's ``resultWrapper`` element and
``ResponseMetadata``; an error is an ``<ErrorResponse>``. Both are what botocore's
query parser reads.

Decoding only types the values; validating them is ``validate_input``'s job, so
unknown keys are kept (and reported there) and values that are not of their
type are passed on as they came.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sagebox.api.protocols._nodes import (
    Node,
    check_protocol,
    from_text,
    input_node,
    output_node,
    scalar_text,
)
from sagebox.control.shapes import service_model, shape_output
from sagebox.errors import SageboxError, ValidationError

__all__ = [
    "XML_CONTENT_TYPE",
    "InvalidAction",
    "MissingAction",
    "parse_query_request",
    "serialize_query_error",
    "serialize_query_response",
]

XML_CONTENT_TYPE = "text/xml"

# Signature parameters that may ride in the form (presigned URLs, SigV2): they are
# the authenticator's business, not the operation's.
_AUTH_PARAMS = frozenset(
    {
        "AWSAccessKeyId",
        "Expires",
        "SecurityToken",
        "Signature",
        "SignatureMethod",
        "SignatureVersion",
        "Timestamp",
    }
)
_XML_TEXT = {"\r": "&#13;"}  # XML parsers fold a bare CR into LF
# Characters XML 1.0 cannot carry, even as references: sent as U+FFFD rather than
# as a body no client can parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class InvalidAction(SageboxError):
    """The ``Action`` names no operation of the service."""

    code = "InvalidAction"
    http_status = 400


class MissingAction(InvalidAction):
    """The request has no ``Action`` at all."""

    code = "MissingAction"


# --------------------------------------------------------------------------- requests


class _Trie:
    """The form's keys split at their dots: one node per path step."""

    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, _Trie] = {}

    def insert(self, steps: list[str], value: str) -> None:
        node = self
        for step in steps:
            node = node.children.setdefault(step, _Trie())
        node.value = value

    def raw(self) -> Any:
        """The subtree as plain strings and dicts, for keys the shape does not know."""
        if not self.children:
            return self.value
        return {step: child.raw() for step, child in self.children.items()}


def parse_query_request(
    service: str, form: Mapping[str, str] | Iterable[tuple[str, str]]
) -> tuple[str, dict[str, Any]]:
    """The operation a query request names, and its parameters decoded by the input shape.

    ``form`` is the decoded form (body and query string merged); when a key repeats,
    its last value wins. Raises :class:`MissingAction` / :class:`InvalidAction` for a
    missing or unknown ``Action``, and :class:`ValidationError` for a ``Version`` other
    than the model's or a key that breaks the protocol's numbering.
    """
    check_protocol(service, "query")
    params = dict(form.items() if isinstance(form, Mapping) else form)
    action = params.pop("Action", None)
    version = params.pop("Version", None)
    model = service_model(service)
    names = model.operation_names
    if not action:
        raise MissingAction(
            f"The {model.metadata.get('serviceId', service)} request has no Action "
            "parameter. Send the operation name as Action, e.g. Action=ListUsers."
        )
    if action not in names:
        message = f"{model.metadata.get('serviceId', service)} has no action {action!r}."
        close = difflib.get_close_matches(action, names, n=1)
        message += f" Did you mean {close[0]!r}?" if close else " Check the spelling."
        raise InvalidAction(message)
    expected = model.metadata["apiVersion"]
    if version != expected:
        raise ValidationError(
            f"The Version parameter must be {expected!r}, the API version of "
            f"{model.metadata.get('serviceId', service)}. Got {version!r}."
        )
    trie = _Trie()
    for key, value in params.items():
        if key in _AUTH_PARAMS or key.lower().startswith("x-amz-"):
            continue
        trie.insert(key.split("."), value)
    root = input_node(service, action)
    if root is None:
        return action, dict(trie.raw() or {})
    return action, _decode_structure(root, trie, "")


def _join(prefix: str, step: str) -> str:
    return f"{prefix}.{step}" if prefix else step


def _decode(node: Node, trie: _Trie, key: str) -> Any:
    kind = node.type
    if kind == "structure" and trie.children:
        return _decode_structure(node, trie, key)
    if kind == "list":
        return _decode_list(node, trie, key)
    if kind == "map":
        return _decode_map(node, trie, key)
    if trie.children or trie.value is None:
        return trie.raw()  # a structure where a scalar belongs, or vice versa: for validation
    return from_text(node, trie.value, f"the query parameter {key!r}")


def _decode_structure(node: Node, trie: _Trie, key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for step, child in trie.children.items():
        name = node.by_xml_name.get(step)
        if name is None:
            out[step] = child.raw()  # unknown: validation names it
        else:
            out[name] = _decode(node.members[name], child, _join(key, step))
    return out


def _numbered(trie: _Trie, key: str, example: str) -> list[tuple[str, _Trie]]:
    """The children of a list or map in their 1-based order."""
    for step in trie.children:
        if not step.isdigit() or int(step) < 1:
            raise ValidationError(
                f"The query parameter {_join(key, step)!r} does not number its element: "
                f"elements are numbered from 1, as in {example}. Got {step!r}."
            )
    return sorted(trie.children.items(), key=lambda item: int(item[0]))


def _container(node: Node, trie: _Trie, key: str, step: str) -> tuple[_Trie | None, str]:
    """The trie holding the numbered elements of a non-flattened list or map."""
    extra = [s for s in trie.children if s != step]
    if extra:
        raise ValidationError(
            f"The query parameter {_join(key, extra[0])!r} is not part of the "
            f"{node.type} {key!r}, whose elements are sent as {key}.{step}.1, "
            f"{key}.{step}.2, ..."
        )
    return trie.children.get(step), _join(key, step)


def _decode_list(node: Node, trie: _Trie, key: str) -> Any:
    assert node.member is not None
    if not trie.children:
        # botocore sends an empty list as the bare key with an empty value.
        return [] if trie.value == "" else trie.raw()
    if node.flattened:
        elements: _Trie | None = trie
    else:
        elements, key = _container(node, trie, key, node.member_name)
    if elements is None:
        return []
    return [
        _decode(node.member, child, _join(key, step))
        for step, child in _numbered(elements, key, f"{key}.1")
    ]


def _decode_map(node: Node, trie: _Trie, key: str) -> Any:
    assert node.key is not None and node.value is not None
    if not trie.children:
        return {} if trie.value == "" else trie.raw()
    if node.flattened:
        entries: _Trie | None = trie
    else:
        entries, key = _container(node, trie, key, "entry")
    out: dict[Any, Any] = {}
    if entries is None:
        return out
    for step, entry in _numbered(entries, key, f"{key}.1.{node.key_name}"):
        where = _join(key, step)
        key_trie = entry.children.get(node.key_name)
        if key_trie is None or key_trie.value is None:
            raise ValidationError(
                f"The map entry {where!r} has no key: send it as "
                f"{where}.{node.key_name} with its value as {where}.{node.value_name}."
            )
        value_trie = entry.children.get(node.value_name)
        out[from_text(node.key, key_trie.value, repr(_join(where, node.key_name)))] = (
            None
            if value_trie is None
            else _decode(node.value, value_trie, _join(where, node.value_name))
        )
    return out


# --------------------------------------------------------------------------- responses


def _namespace(service: str) -> str:
    namespace = service_model(service).metadata.get("xmlNamespace", "")
    return str(namespace.get("uri", "") if isinstance(namespace, Mapping) else namespace)


def serialize_query_response(
    service: str, operation: str, data: Mapping[str, Any], request_id: str
) -> bytes:
    """The XML body of a successful response, ``data`` shaped by the output shape first."""
    check_protocol(service, "query")
    shaped = shape_output(service, operation, data)
    node = output_node(service, operation)
    out = [f"<{operation}Response xmlns={quoteattr(_namespace(service))}>"]
    if node is not None:
        wrapper = node.result_wrapper
        if wrapper:
            out.append(f"<{wrapper}>")
        _write_members(node, shaped, out)
        if wrapper:
            out.append(f"</{wrapper}>")
    out.append(f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>")
    out.append(f"</{operation}Response>")
    return "".join(out).encode()


def _write_members(node: Node, value: Mapping[str, Any], out: list[str]) -> None:
    for name, item in value.items():
        _write(node.members[name], node.xml_names[name], item, out)


def _write(node: Node, tag: str, value: Any, out: list[str]) -> None:
    kind = node.type
    if kind == "structure" and not node.opaque:
        out.append(f"<{tag}>")
        _write_members(node, value, out)
        out.append(f"</{tag}>")
    elif kind == "list":
        assert node.member is not None
        if node.flattened:
            for item in value:
                _write(node.member, tag, item, out)
            return
        out.append(f"<{tag}>")
        for item in value:
            _write(node.member, node.member_name, item, out)
        out.append(f"</{tag}>")
    elif kind == "map":
        assert node.key is not None and node.value is not None
        entry = tag if node.flattened else "entry"
        if not node.flattened:
            out.append(f"<{tag}>")
        for key, item in value.items():
            out.append(f"<{entry}>")
            _write(node.key, node.key_name, key, out)
            _write(node.value, node.value_name, item, out)
            out.append(f"</{entry}>")
        if not node.flattened:
            out.append(f"</{tag}>")
    else:
        text = scalar_text(node, value, "iso8601")
        out.append(f"<{tag}>{_xml_text(text)}</{tag}>")


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text), _XML_TEXT)


# The query services (IAM, STS) name some common errors differently from JSON services.
QUERY_ERROR_CODES = {
    "ValidationException": "ValidationError",
    "AccessDeniedException": "AccessDenied",
    "ThrottlingException": "Throttling",
}


def serialize_query_error(service: str, error: SageboxError, request_id: str) -> tuple[int, bytes]:
    """The HTTP status and XML body of an error response, with the query services' codes."""
    fault = "Sender" if error.http_status < 500 else "Receiver"
    code = QUERY_ERROR_CODES.get(error.code, error.code)
    body = (
        f"<ErrorResponse xmlns={quoteattr(_namespace(service))}>"
        f"<Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
        f"<Message>{_xml_text(error.message)}</Message></Error>"
        f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    )
    return error.http_status, body.encode()
