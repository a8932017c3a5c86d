"""The registry of implemented operations: what each one runs and which ARN it acts on.

One line per operation. ``resource`` is a template over the request's top-level members
(``{ProcessingJobName}``) giving the resource part of the ARN that IAM decides on, a
full-ARN member (``{ResourceArn}``), or ``*`` for operations on no single resource.
Handlers are imported lazily, on first call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagebox.control.context import Context

Handler = Callable[["Context", dict[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    handler: str  # "module:function"
    resource: str

    @property
    def action(self) -> str:
        prefix = {"sagemaker": "sagemaker"}.get(self.service, self.service)
        return f"{prefix}:{self.name}"

    def load(self) -> Handler:
        module, _, function = self.handler.partition(":")
        loaded: Handler = getattr(importlib.import_module(f"sagebox.control.{module}"), function)
        return loaded


def _sm(name: str, handler: str, resource: str) -> Operation:
    return Operation("sagemaker", name, handler, resource)


OPERATIONS: dict[tuple[str, str], Operation] = {
    (op.service, op.name): op
    for op in (
        _sm("CreateProcessingJob", "processing:create", "processing-job/{ProcessingJobName}"),
        _sm("DescribeProcessingJob", "processing:describe", "processing-job/{ProcessingJobName}"),
        _sm("ListProcessingJobs", "processing:list_jobs", "*"),
        _sm("StopProcessingJob", "processing:stop", "processing-job/{ProcessingJobName}"),
        _sm("AddTags", "tags:add_tags", "{ResourceArn}"),
        _sm("ListTags", "tags:list_tags", "{ResourceArn}"),
        _sm("DeleteTags", "tags:delete_tags", "{ResourceArn}"),
    )
}
