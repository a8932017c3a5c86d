"""ClientToken idempotency: a create retried with the same token returns the first result.

Operations whose input has a member marked ``idempotencyToken`` in botocore's model take
part. The first call records (token, a fingerprint of the other parameters) before it
runs; a repeat with the same parameters gets the recorded response, one with different
parameters ``IdempotentParameterMismatch``, and one while the first still runs
``ConflictException``. Tokens are per caller, operation and service.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from sagebox.errors import ConflictError, IdempotentParameterMismatch, ResourceInUse
from sagebox.home import Home
from sagebox.store.metadata import Change

KIND = "client-token"


@functools.cache
def token_member(service: str, operation: str) -> str | None:
    """The input member that carries the idempotency token, if the operation has one."""
    from sagebox.control import shapes

    shape = shapes.operation_model(service, operation).input_shape
    if shape is None:
        return None
    for name, member in shape.members.items():
        if member.metadata.get("idempotencyToken"):
            return str(name)
    return None


def _fingerprint(request: Mapping[str, Any], member: str) -> str:
    rest = {k: v for k, v in request.items() if k != member}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, default=str).encode()).hexdigest()


def run_once(
    home: Home,
    service: str,
    operation: str,
    principal: str,
    token: str,
    member: str,
    request: Mapping[str, Any],
    run: Callable[[], Mapping[str, Any]],
) -> Mapping[str, Any]:
    from sagebox.store.metadata.documents import jsonable

    fingerprint = _fingerprint(request, member)
    key = hashlib.sha256(f"{service}:{operation}:{principal}:{token}".encode()).hexdigest()
    name = key[:63]
    try:
        home.metadata.create(
            KIND,
            name,
            f"client-token:{key}",
            "Pending",
            {"Fingerprint": fingerprint, "Operation": operation},
        )
    except ResourceInUse:
        record = home.metadata.get(KIND, name)
        if record.document["Fingerprint"] != fingerprint:
            raise IdempotentParameterMismatch(
                f"The ClientToken {token!r} was already used for a {operation} request with "
                "different parameters. Use a new token for a new request."
            ) from None
        if record.status != "Done":
            raise ConflictError(
                f"A {operation} request with ClientToken {token!r} is still in progress. "
                "Retry shortly."
            ) from None
        return dict(record.document["Response"])
    try:
        response = run()
    except BaseException:
        home.metadata.delete(KIND, name)  # a failed request may be retried with its token
        raise
    document = {"Fingerprint": fingerprint, "Operation": operation, "Response": jsonable(response)}
    home.metadata.update(KIND, name, lambda r: Change("Done", document))
    return response
