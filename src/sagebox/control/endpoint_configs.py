"""SageMaker endpoint configurations: Create, Describe, List, Delete.

A config names the production variants an endpoint serves: each either instance-based
(``InstanceType`` and ``InitialInstanceCount``) or serverless (``ServerlessConfig``),
never both, as AWS requires, with a traffic weight; and the endpoint's
``DataCaptureConfig``. Its models must exist when it is created. Deleting a config that
an endpoint uses is allowed, as on AWS: the endpoint keeps serving what it deployed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.control import resources
from sagebox.control.context import Context
from sagebox.errors import ValidationError
from sagebox.runtime.instance_types import instance_profile
from sagebox.store.metadata.documents import jsonable
from sagebox.store.objects import parse_s3_uri

ENDPOINT_CONFIG = resources.ResourceKind(
    kind="endpoint-config",
    title="endpoint configuration",
    name_field="EndpointConfigName",
    arn_field="EndpointConfigArn",
    list_hint="ListEndpointConfigs",
)
SUMMARY_FIELDS = ("EndpointConfigName", "EndpointConfigArn", "CreationTime")
MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)

# Members whose behaviour sagebox does not have; accepting them silently would mislead.
_UNSUPPORTED = {
    "AsyncInferenceConfig": "asynchronous inference",
    "ShadowProductionVariants": "shadow variants",
    "ExplainerConfig": "online explainability (SageMaker Clarify)",
}
_UNSUPPORTED_VARIANT = {
    "AcceleratorType": "Elastic Inference accelerators (no longer offered by AWS either)",
    "InstancePools": "instance pools",
    "CapacityReservationConfig": "capacity reservations",
}


def create(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["EndpointConfigName"]
    for member, feature in _UNSUPPORTED.items():
        if request.get(member):
            raise ValidationError(
                f"{member} ({feature}) is not supported by sagebox; remove it. Real-time and "
                "serverless variants are."
            )
    variants = [_variant(ctx, index, v) for index, v in enumerate(request["ProductionVariants"])]
    names = [v["VariantName"] for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(
            f"ProductionVariants must have unique VariantNames; {', '.join(duplicates)} "
            "appears more than once."
        )
    if sum(float(v["InitialVariantWeight"]) for v in variants) <= 0:
        raise ValidationError(
            "The InitialVariantWeight of every production variant is 0, so no variant would "
            "get traffic. Give at least one variant a weight above 0."
        )
    capture = request.get("DataCaptureConfig")
    if capture:
        check_capture(capture)

    now = ctx.now()
    arn = ENDPOINT_CONFIG.arn(ctx.home, name)
    document = {
        **jsonable({k: v for k, v in request.items() if k != "Tags"}),
        "EndpointConfigArn": arn,
        "ProductionVariants": variants,
        "CreationTime": now.isoformat(),
    }
    resources.create(ctx.home, ENDPOINT_CONFIG, name, None, document, request.get("Tags"), now)
    return {"EndpointConfigArn": arn}


def describe(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return resources.describe(ctx.home, ENDPOINT_CONFIG, request["EndpointConfigName"])


def list_configs(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return resources.list_page(
        ctx.home, ENDPOINT_CONFIG, request, "EndpointConfigs", SUMMARY_FIELDS
    )


def delete(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["EndpointConfigName"]
    resources.get(ctx.home, ENDPOINT_CONFIG, name)
    ctx.home.metadata.delete(ENDPOINT_CONFIG.kind, name)
    return {}


def _variant(ctx: Context, index: int, given: Mapping[str, Any]) -> dict[str, Any]:
    from sagebox.control.models import MODEL

    where = f"ProductionVariants.{index + 1} ('{given['VariantName']}')"
    for member, feature in _UNSUPPORTED_VARIANT.items():
        if given.get(member):
            raise ValidationError(f"{where}: {member} ({feature}) is not supported; remove it.")
    model = given.get("ModelName")
    if not model:
        raise ValidationError(f"{where} has no ModelName; name the model it serves.")
    resources.get(ctx.home, MODEL, model)
    serverless = given.get("ServerlessConfig")
    instance_type = given.get("InstanceType")
    count = given.get("InitialInstanceCount")
    if serverless and (instance_type or count is not None):
        raise ValidationError(
            f"{where} sets ServerlessConfig and also InstanceType/InitialInstanceCount. A "
            "variant is either serverless or instance-based: remove one or the other."
        )
    if not serverless and not (instance_type and count is not None):
        raise ValidationError(
            f"{where} needs either InstanceType and InitialInstanceCount (a real-time "
            "variant on instances) or ServerlessConfig (a serverless variant)."
        )
    if serverless:
        check_serverless(where, serverless)
    else:
        instance_profile(str(instance_type))
        if int(str(count)) < 1:
            raise ValidationError(f"{where}: InitialInstanceCount must be at least 1; got {count}.")
    return {
        **jsonable(given),
        "InitialVariantWeight": float(given.get("InitialVariantWeight", 1.0)),
    }


def check_serverless(where: str, config: Mapping[str, Any]) -> None:
    """AWS's rules for a ``ServerlessConfig``."""
    memory = int(config["MemorySizeInMB"])
    if memory not in MEMORY_SIZES:
        raise ValidationError(
            f"{where}: ServerlessConfig.MemorySizeInMB must be one of "
            f"{', '.join(map(str, MEMORY_SIZES))} (1 GB steps); got {memory}."
        )
    check_concurrency(where, int(config["MaxConcurrency"]), config.get("ProvisionedConcurrency"))


def check_concurrency(where: str, maximum: int, provisioned: int | None) -> None:
    if not 1 <= maximum <= 200:
        raise ValidationError(
            f"{where}: ServerlessConfig.MaxConcurrency must be from 1 to 200; got {maximum}."
        )
    if provisioned is not None and not 1 <= int(provisioned) <= maximum:
        raise ValidationError(
            f"{where}: ServerlessConfig.ProvisionedConcurrency must be from 1 to "
            f"MaxConcurrency ({maximum}); got {provisioned}."
        )


def check_capture(capture: Mapping[str, Any]) -> None:
    """AWS's rules for a ``DataCaptureConfig``."""
    parse_s3_uri(capture["DestinationS3Uri"])
    percentage = int(capture["InitialSamplingPercentage"])
    if not 0 <= percentage <= 100:
        raise ValidationError(
            f"DataCaptureConfig.InitialSamplingPercentage must be from 0 to 100; got {percentage}."
        )
    modes = [o["CaptureMode"] for o in capture["CaptureOptions"]]
    if not modes or len(set(modes)) != len(modes):
        raise ValidationError(
            "DataCaptureConfig.CaptureOptions must list 'Input', 'Output' or both, each "
            f"once; got {modes}."
        )
    header = capture.get("CaptureContentTypeHeader") or {}
    for member in ("CsvContentTypes", "JsonContentTypes"):
        types = header.get(member)
        if types is not None and not 1 <= len(types) <= 10:
            raise ValidationError(
                f"DataCaptureConfig.CaptureContentTypeHeader.{member} must list 1 to 10 "
                f"content types; got {len(types)}."
            )
