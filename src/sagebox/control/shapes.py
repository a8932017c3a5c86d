"""AWS request and response shapes, straight from botocore's service models.

The one place that reads the models: every way into sagebox validates requests
with :func:`validate_input` and builds responses with :func:`shape_output`, so
each operation has exactly AWS's shapes and AWS's validation messages.

    service_model / operation_model     botocore's models, loaded once
    validate_input                      request -> normalised copy, or ShapeValidationError
    shape_output                        internal document -> response (InternalError on a bug)
    to_json_wire / from_json_wire       the AWS JSON 1.1 body of either
    member_names / operation_for_method names for SDKs and the CLI

botocore itself is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import difflib
import functools

from sagebox.control.shapes_model import operation_model, service_id, service_model, shape_spec
from sagebox.control.shapes_output import from_json_wire, shape_output, to_json_wire
from sagebox.control.shapes_validate import ShapeValidationError, Violation, validate_input
from sagebox.errors import InternalError, UnknownOperation

__all__ = [
    "ShapeValidationError",
    "Violation",
    "from_json_wire",
    "member_names",
    "operation_for_method",
    "operation_model",
    "service_id",
    "service_model",
    "shape_output",
    "to_json_wire",
    "validate_input",
]


def member_names(service: str, shape_name: str) -> list[str]:
    """The members of a structure shape, in model order."""
    spec = shape_spec(service, shape_name)
    if spec.type != "structure":
        raise InternalError(
            f"The {service} shape {shape_name!r} is a {spec.type}, not a structure."
        )
    return list(spec.members)


@functools.cache
def _methods(service: str) -> dict[str, str]:
    from botocore import xform_name

    return {xform_name(name): name for name in service_model(service).operation_names}


def operation_for_method(service: str, method: str | None = None) -> str:
    """The operation a snake_case method names: ``("sagemaker", "create_processing_job")``.

    With one argument the service is SageMaker: ``operation_for_method("add_tags")``.
    """
    if method is None:
        service, method = "sagemaker", service
    methods = _methods(service)
    operation = methods.get(method)
    if operation is None:
        message = (
            f"{service_id(service)} has no operation for the method {method!r}. Methods are "
            "the operation names in snake_case, as on a boto3 client "
            "(e.g. create_processing_job)."
        )
        close = difflib.get_close_matches(method, methods, n=1)
        if close:
            message += f" Did you mean {close[0]!r}?"
        raise UnknownOperation(message)
    return operation
