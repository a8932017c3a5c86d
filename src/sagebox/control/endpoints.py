"""SageMaker endpoints: Create, Describe, List, Update, UpdateEndpointWeightsAndCapacities,
Delete.

Each endpoint is served by one detached host process (:mod:`sagebox.serving.host`) that
outlives the process that created it. These operations check the request, resolve what
is to be served into a :class:`~sagebox.serving.deployment.Deployment` (so that deleting
the config or its models later changes nothing, as on AWS), record it with the new
status, and wake the host; the host reports back through
:mod:`sagebox.control.endpoint_state`. Statuses: Creating -> InService or Failed;
InService -> Updating -> InService (a failed update rolls back and leaves a
FailureReason); any -> Deleting -> gone.

Capacity: real-time workers do not take the job capacity (``capacity.max_instances``),
and an instance type's memory is each worker's limit (RLIMIT_AS), not a reservation, so
CreateEndpoint does not refuse by the machine's memory. See docs/hosting.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sagebox.control import resources
from sagebox.control.context import Context
from sagebox.control.endpoint_configs import ENDPOINT_CONFIG, check_concurrency
from sagebox.control.endpoint_state import (
    ACTIVE,
    DEPLOY,
    LIVE,
    SCALE,
    capture_summary,
    deployment_of,
    now_iso,
    scaled_variant,
    variant_summaries,
)
from sagebox.control.models import model_spec
from sagebox.errors import ResourceNotFound, ValidationError
from sagebox.home import Home
from sagebox.serving import hostctl
from sagebox.serving.deployment import Deployment, ServerlessSpec, VariantSpec
from sagebox.store.metadata import Change, Record

ENDPOINT = resources.ResourceKind(
    kind="endpoint",
    title="endpoint",
    name_field="EndpointName",
    arn_field="EndpointArn",
    list_hint="ListEndpoints",
)
SUMMARY_FIELDS = (
    "EndpointName",
    "EndpointArn",
    "CreationTime",
    "LastModifiedTime",
    "EndpointStatus",
)


def create(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["EndpointName"]
    deployment = build_deployment(ctx.home, request["EndpointConfigName"])
    now = ctx.now()
    document: dict[str, Any] = {
        "EndpointName": name,
        "EndpointArn": ENDPOINT.arn(ctx.home, name),
        "EndpointConfigName": deployment.config_name,
        "EndpointStatus": "Creating",
        "CreationTime": now.isoformat(),
        "ProductionVariants": variant_summaries(deployment, current=False, status="Creating"),
        DEPLOY: deployment.to_dict(),
    }
    capture = capture_summary(deployment.capture)
    if capture:
        document["DataCaptureConfig"] = capture
    if request.get("DeploymentConfig"):
        document["LastDeploymentConfig"] = request["DeploymentConfig"]
    hostctl.teardown_leftovers(ctx.home, name)  # a deleted endpoint's folder, if any
    arn = resources.create(ctx.home, ENDPOINT, name, "Creating", document, request.get("Tags"), now)
    hostctl.start_host(ctx.home, name)
    return {"EndpointArn": arn}


def describe(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["EndpointName"]
    described = resources.describe(ctx.home, ENDPOINT, name)
    if described["EndpointStatus"] == "Deleting" and hostctl.finish_deleting(ctx.home, name):
        # its host had exited before it could finish the deletion: done now
        return resources.describe(ctx.home, ENDPOINT, name)  # not found, in AWS's words
    return described


def list_endpoints(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return resources.list_page(ctx.home, ENDPOINT, request, "Endpoints", SUMMARY_FIELDS)


def update(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["EndpointName"]
    record = _in_service(ctx.home, name)
    deployment = build_deployment(ctx.home, request["EndpointConfigName"])
    live = deployment_of(record.document, LIVE)
    if request.get("RetainAllVariantProperties") and live is not None:
        excluded = {
            p["VariantPropertyType"] for p in request.get("ExcludeRetainedVariantProperties", [])
        }
        deployment = _retain(deployment, live, excluded)
    elif request.get("ExcludeRetainedVariantProperties"):
        raise ValidationError(
            "ExcludeRetainedVariantProperties applies only with RetainAllVariantProperties "
            "set to true; set it, or remove ExcludeRetainedVariantProperties."
        )

    def updating(current: Record) -> Change:
        _check_in_service(ctx.home, current)
        doc = dict(current.document)
        doc.pop("FailureReason", None)
        doc[DEPLOY] = deployment.to_dict()
        doc["PendingDeploymentSummary"] = {
            "EndpointConfigName": deployment.config_name,
            "StartTime": now_iso(),
            "ProductionVariants": variant_summaries(deployment, current=False, status="Creating"),
        }
        if request.get("DeploymentConfig"):
            doc["LastDeploymentConfig"] = request["DeploymentConfig"]
        doc["EndpointStatus"] = "Updating"
        return Change("Updating", doc)

    ctx.home.metadata.update(ENDPOINT.kind, name, updating)
    hostctl.ensure_host(ctx.home, name)
    return {"EndpointArn": record.arn}


def update_weights_and_capacities(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["EndpointName"]
    record = _in_service(ctx.home, name)
    live = deployment_of(record.document, LIVE)
    if live is None:  # InService always has one; a record from elsewhere may not
        raise ValidationError(f"Endpoint {name} has no deployed variants to update.")
    target = live
    seen: set[str] = set()
    for index, wanted in enumerate(request["DesiredWeightsAndCapacities"]):
        target = target.with_variant(_scaled(target, index, wanted, seen))
    if sum(v.weight for v in target.variants) <= 0:
        raise ValidationError(
            "These weights would set every variant's weight to 0, so no variant would get "
            "traffic. Keep at least one DesiredWeight above 0."
        )

    def scaling(current: Record) -> Change:
        _check_in_service(ctx.home, current)
        doc = dict(current.document)
        doc.pop("FailureReason", None)
        doc[SCALE] = target.to_dict()
        summaries = {s["VariantName"]: s for s in doc.get("ProductionVariants", [])}
        for desired in variant_summaries(target, current=False):  # the Desired* members
            variant = desired["VariantName"]
            summaries[variant] = {**summaries.get(variant, {}), **desired}
        doc["ProductionVariants"] = list(summaries.values())
        doc["EndpointStatus"] = "Updating"
        return Change("Updating", doc)

    ctx.home.metadata.update(ENDPOINT.kind, name, scaling)
    hostctl.ensure_host(ctx.home, name)
    return {"EndpointArn": record.arn}


def delete(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["EndpointName"]
    resources.get(ctx.home, ENDPOINT, name)

    def deleting(current: Record) -> Change | None:
        if current.status == "Deleting":
            return None
        return Change("Deleting", {**current.document, "EndpointStatus": "Deleting"})

    try:
        ctx.home.metadata.update(ENDPOINT.kind, name, deleting)
    except ResourceNotFound:
        return {}  # deleted meanwhile
    hostctl.finish_deleting(ctx.home, name)
    return {}


def reconcile(home: Home) -> None:
    """Restart the host of every endpoint whose host died; finish interrupted deletions."""
    for record in home.metadata.find(ENDPOINT.kind, list(ACTIVE)):
        if record.status == "Deleting":
            hostctl.finish_deleting(home, record.name)
        elif not hostctl.host_alive(home, record.name):
            hostctl.start_host(home, record.name)


def build_deployment(home: Home, config_name: str) -> Deployment:
    """What an endpoint with the config ``config_name`` serves, resolved now."""
    config = resources.get(home, ENDPOINT_CONFIG, config_name).document
    isolate = bool(config.get("EnableNetworkIsolation", False))
    variants = []
    for given in config["ProductionVariants"]:
        model = model_spec(home, given["ModelName"])
        if isolate and not model.network_isolation:
            model = replace(model, network_isolation=True)
        serverless = given.get("ServerlessConfig")
        variants.append(
            VariantSpec(
                name=given["VariantName"],
                model=model,
                weight=float(given.get("InitialVariantWeight", 1.0)),
                instance_type=given.get("InstanceType"),
                instance_count=int(given.get("InitialInstanceCount", 0)),
                serverless=ServerlessSpec(
                    int(serverless["MemorySizeInMB"]),
                    int(serverless["MaxConcurrency"]),
                    int(serverless.get("ProvisionedConcurrency", 0)),
                )
                if serverless
                else None,
                startup_timeout=int(given.get("ContainerStartupHealthCheckTimeoutInSeconds", 600)),
            )
        )
    return Deployment(config_name, tuple(variants), config.get("DataCaptureConfig"))


def _retain(deployment: Deployment, live: Deployment, excluded: set[str]) -> Deployment:
    """RetainAllVariantProperties: keep the live weights and counts of same-named variants,
    and the live capture settings, except the properties in ``excluded``."""
    variants = []
    for variant in deployment.variants:
        before = live.variant(variant.name)
        if before is not None:
            if "DesiredWeight" not in excluded:
                variant = replace(variant, weight=before.weight)
            same_kind = (before.serverless is None) == (variant.serverless is None)
            if "DesiredInstanceCount" not in excluded and same_kind:
                variant = replace(variant, instance_count=before.instance_count)
        variants.append(variant)
    capture = deployment.capture if "DataCaptureConfig" in excluded else live.capture
    return replace(deployment, variants=tuple(variants), capture=capture)


def _scaled(
    target: Deployment, index: int, wanted: Mapping[str, Any], seen: set[str]
) -> VariantSpec:
    name = wanted["VariantName"]
    where = f"DesiredWeightsAndCapacities.{index + 1} ('{name}')"
    variant = target.variant(name)
    if variant is None:
        names = ", ".join(v.name for v in target.variants)
        raise ValidationError(
            f'The variant(s) "[{name}]" is/are not present in the endpoint. Its variants are: '
            f"{names}."
        )
    if name in seen:
        raise ValidationError(f"{where}: the variant is listed more than once; list it once.")
    seen.add(name)
    members = ("DesiredWeight", "DesiredInstanceCount", "ServerlessUpdateConfig")
    if not any(wanted.get(m) is not None for m in members):
        raise ValidationError(
            f"{where} changes nothing: set DesiredWeight, DesiredInstanceCount or (for a "
            "serverless variant) ServerlessUpdateConfig."
        )
    if variant.serverless is not None and wanted.get("DesiredInstanceCount") is not None:
        raise ValidationError(
            f"{where}: a serverless variant has no instances; use ServerlessUpdateConfig "
            "(MaxConcurrency, ProvisionedConcurrency) instead of DesiredInstanceCount."
        )
    update = wanted.get("ServerlessUpdateConfig")
    if update and variant.serverless is None:
        raise ValidationError(
            f"{where}: ServerlessUpdateConfig is for serverless variants; this variant runs "
            "on instances (use DesiredInstanceCount)."
        )
    count = wanted.get("DesiredInstanceCount")
    if count is not None and int(count) < 1:
        raise ValidationError(f"{where}: DesiredInstanceCount must be at least 1; got {count}.")
    scaled = scaled_variant(variant, wanted)
    if update and scaled.serverless is not None:
        provisioned = scaled.serverless.provisioned_concurrency
        check_concurrency(where, scaled.serverless.max_concurrency, provisioned or None)
    return scaled


def _in_service(home: Home, name: str) -> Record:
    record = resources.get(home, ENDPOINT, name)
    _check_in_service(home, record)
    return record


def _check_in_service(home: Home, record: Record) -> None:
    if record.status == "InService":
        return
    arn = ENDPOINT.arn(home, record.name)
    if record.status in ("Creating", "Updating"):
        raise ValidationError(
            f'Cannot update in-progress endpoint "{arn}". Wait until DescribeEndpoint reports '
            "it InService, then try again."
        )
    raise ValidationError(
        f'Cannot update endpoint "{arn}" in status {record.status}: only an InService '
        "endpoint can be updated. Delete it and create it again."
    )
