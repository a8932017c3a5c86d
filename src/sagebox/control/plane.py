"""The ControlPlane: every way in (HTTP, SDK, CLI) reaches :meth:`ControlPlane.call`.

``call`` authorizes, validates the request against botocore's service model, runs the
operation's handler and shapes the response by the model. Operations are also methods
in snake_case (``plane.create_processing_job(ProcessingJobName=...)``), as on a boto3
client.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sagebox.control import idempotency, shapes
from sagebox.control.authorize import Authorizer, Principal
from sagebox.control.authorizer import PolicyAuthorizer, bump_policy_generation
from sagebox.control.condition_keys import request_keys
from sagebox.control.context import Context
from sagebox.control.operations import OPERATIONS, Operation
from sagebox.errors import UnknownOperation, ValidationError
from sagebox.home import Home
from sagebox.runtime.local import LocalExecutor

_SERVICE_TITLES = {"sagemaker": "SageMaker"}


class ControlPlane:
    def __init__(self, home: Home, authorizer: Authorizer | None = None) -> None:
        self.home = home
        self.executor = LocalExecutor(home)
        self.authorizer = authorizer or PolicyAuthorizer(home)
        self.root = Principal(home.root_arn, home.account_id)

    def call(
        self,
        operation: str,
        params: Mapping[str, Any] | None = None,
        *,
        service: str = "sagemaker",
        principal: Principal | None = None,
        context_keys: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run one AWS operation and return its response in the service model's shape."""
        op = self._lookup(service, operation)
        caller = principal or self.root
        raw = dict(params or {})
        if op.authorized:  # before validation, as AWS does: no probing without permission
            keys = {
                "sagebox:request_id": str(uuid.uuid4()),
                **request_keys(service, raw),
                **(context_keys or {}),
            }
            self.authorizer.authorize(caller, op.action, self._resource_arn(op, raw), keys)
        request = shapes.validate_input(service, operation, raw)
        context = Context(self.home, self.executor, caller, self.authorizer)
        handler = op.load()
        member = idempotency.token_member(service, operation)
        if member and request.get(member):
            result = idempotency.run_once(
                self.home,
                service,
                operation,
                caller.arn,
                str(request[member]),
                member,
                request,
                lambda: handler(context, request),
            )
        else:
            result = handler(context, request)
        if service == "iam" and not operation.startswith(("Get", "List", "Simulate")):
            bump_policy_generation(self.home)  # cached policy sets are now stale
        return shapes.shape_output(service, operation, result)

    def _lookup(self, service: str, operation: str) -> Operation:
        op = OPERATIONS.get((service, operation))
        if op is not None:
            return op
        shapes.operation_model(service, operation)  # raises for a name AWS does not have
        title = _SERVICE_TITLES.get(service, service)
        raise UnknownOperation(
            f"{title} operation {operation} exists in AWS but sagebox does not implement it "
            f"yet. Implemented: {', '.join(sorted(n for s, n in OPERATIONS if s == service))}."
        )

    def _resource_arn(self, op: Operation, request: Mapping[str, Any]) -> str:
        if op.resource == "*":
            return "*"
        resolve = op.resolver()
        if resolve is not None:  # worked out by the operation's module
            return str(resolve(self.home, request))
        if op.resource.startswith("{") and op.resource.endswith("}"):
            return str(request.get(op.resource[1:-1], "*"))
        names = {k: v for k, v in request.items() if isinstance(v, str)}
        if op.arn_service in ("sagemaker", "glue"):  # they write names in ARNs in lower case
            names = {k: v.lower() for k, v in names.items()}
        try:
            if op.resource.startswith("arn:"):  # S3 ARNs name no region or account
                return op.resource.format(**names)
            return self.home.arn(op.arn_service, op.resource.format(**names))
        except KeyError:  # an optional name left out (GetUser of the caller)
            return "*"

    def __getattr__(self, name: str) -> Callable[..., dict[str, Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            operation = shapes.operation_for_method("sagemaker", name)
        except (UnknownOperation, ValidationError):
            raise AttributeError(name) from None

        def method(**params: Any) -> dict[str, Any]:
            return self.call(operation, params)

        method.__name__ = name
        return method

    def reconcile(self) -> None:
        """Bring every job to a true state after a restart, then start queued jobs; restart
        the hosts of endpoints whose host died."""
        from sagebox.control import endpoints, jobs

        self.executor.reconcile()
        jobs.fail_untracked(self.home, self.executor)
        self.executor.schedule()
        endpoints.reconcile(self.home)
