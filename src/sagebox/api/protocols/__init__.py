"""Server-side codecs for AWS's wire protocols, as pure functions.

Each protocol turns an HTTP request into ``(operation, params)`` decoded by the
operation's input shape in botocore's model, and a result or a
:class:`~sagebox.errors.SageboxError` into the bytes botocore's parsers expect.
No HTTP framework is involved; the server glues these to its routes.

    query       IAM, STS        form in, XML out        parse_query_request ...
    json11      SageMaker, Glue X-Amz-Target + JSON     parse_json_request ...
    rest_json   SageMaker Runtime  uri template + headers + payload
                                                        match_rest_operation ...

Protocol errors of their own: InvalidAction / MissingAction (query) and
SerializationError ("SerializationException", a body that is not JSON).
botocore is imported on first use, not on import.
"""

from __future__ import annotations

from sagebox.api.protocols.json11 import (
    JSON11_CONTENT_TYPE,
    SerializationError,
    parse_json_request,
    serialize_json_error,
    serialize_json_response,
)
from sagebox.api.protocols.query import (
    XML_CONTENT_TYPE,
    InvalidAction,
    MissingAction,
    parse_query_request,
    serialize_query_error,
    serialize_query_response,
)
from sagebox.api.protocols.rest_json import (
    match_rest_operation,
    parse_rest_request,
    serialize_rest_error,
    serialize_rest_response,
)

__all__ = [
    "JSON11_CONTENT_TYPE",
    "XML_CONTENT_TYPE",
    "InvalidAction",
    "MissingAction",
    "SerializationError",
    "match_rest_operation",
    "parse_json_request",
    "parse_query_request",
    "parse_rest_request",
    "serialize_json_error",
    "serialize_json_response",
    "serialize_query_error",
    "serialize_query_response",
    "serialize_rest_error",
    "serialize_rest_response",
]
