"""An endpoint's record: the requests the API leaves in it and the state its host reports.

The endpoint is stored as its DescribeEndpoint document plus three private members that
the response shape drops:

- ``_Deploy``: the :class:`Deployment` to bring up next (CreateEndpoint, UpdateEndpoint);
- ``_Live``: the deployment serving now, with its current weights and capacities;
- ``_Scale``: the live deployment as UpdateEndpointWeightsAndCapacities wants it.

The API writes a request and sets the status (Creating, Updating, Deleting); the
endpoint's host (:mod:`sagebox.serving.host`) carries it out and reports through
:class:`EndpointState`, which writes the matching Describe fields in the same update
as the status, so no reader sees one without the other. A host never overwrites a
Deleting endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sagebox.home import Home
from sagebox.serving.deployment import Deployment, VariantSpec
from sagebox.store.metadata import Change, Record

KIND = "endpoint"
DEPLOY, LIVE, SCALE = "_Deploy", "_Live", "_Scale"
ACTIVE = ("Creating", "InService", "Updating", "Deleting")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def variant_summaries(
    deployment: Deployment, *, current: bool, status: str | None = None
) -> list[dict[str, Any]]:
    """``ProductionVariants`` of DescribeEndpoint for ``deployment``.

    ``current``: the deployment serves now (Current* and DeployedImages are set);
    otherwise only the Desired* members, with ``status`` as the variant's status.
    """
    summaries = []
    stamp = now_iso()
    for variant in deployment.variants:
        summary: dict[str, Any] = {"VariantName": variant.name, "DesiredWeight": variant.weight}
        if variant.serverless is not None:
            summary["DesiredServerlessConfig"] = variant.serverless.to_api()
        else:
            summary["DesiredInstanceCount"] = variant.instance_count
        if current:
            summary["CurrentWeight"] = variant.weight
            summary["DeployedImages"] = [
                {
                    "SpecifiedImage": variant.model.image,
                    "ResolvedImage": variant.model.image,
                    "ResolutionTime": stamp,
                }
            ]
            if variant.serverless is not None:
                summary["CurrentServerlessConfig"] = variant.serverless.to_api()
            else:
                summary["CurrentInstanceCount"] = variant.instance_count
        if status:
            summary["VariantStatus"] = [{"Status": status, "StartTime": stamp}]
        summaries.append(summary)
    return summaries


def capture_summary(capture: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """DescribeEndpoint's ``DataCaptureConfig`` (a summary) for a config's capture."""
    if not capture:
        return None
    enabled = bool(capture.get("EnableCapture", True))
    summary = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(capture["InitialSamplingPercentage"]),
        "DestinationS3Uri": capture["DestinationS3Uri"],
        # required in the summary's shape (length 0 allowed): empty when no key was given
        "KmsKeyId": capture.get("KmsKeyId") or "",
    }
    return summary


def deployment_of(document: Mapping[str, Any], member: str) -> Deployment | None:
    data = document.get(member)
    return Deployment.from_dict(data) if data else None


class EndpointState:
    """What an endpoint's host reports, each in one atomic update of the record."""

    def __init__(self, home: Home, name: str) -> None:
        self.home = home
        self.name = name

    def read(self) -> Record | None:
        from sagebox.errors import ResourceNotFound

        try:
            return self.home.metadata.get(KIND, self.name)
        except ResourceNotFound:
            return None

    def _update(self, mutate: Callable[[dict[str, Any]], str | None]) -> Record | None:
        """Apply ``mutate`` (new status, or None to leave it) unless the endpoint is being
        deleted or is gone; the record after, or None."""
        from sagebox.errors import ResourceNotFound

        def change(record: Record) -> Change | None:
            if record.status == "Deleting":
                return None
            doc = dict(record.document)
            status = mutate(doc)
            if status is None:
                return None
            doc["EndpointStatus"] = status
            return Change(status, doc)

        try:
            return self.home.metadata.update(KIND, self.name, change)
        except ResourceNotFound:
            return None

    def deployed(self, deployment: Deployment) -> Record | None:
        """``deployment`` serves now (created, updated, or brought back by a new host)."""

        def mutate(doc: dict[str, Any]) -> str:
            doc[LIVE] = deployment.to_dict()
            doc["EndpointConfigName"] = deployment.config_name
            doc["ProductionVariants"] = variant_summaries(deployment, current=True)
            capture = capture_summary(deployment.capture)
            if capture:
                doc["DataCaptureConfig"] = capture
            else:
                doc.pop("DataCaptureConfig", None)
            for member in (DEPLOY, SCALE, "PendingDeploymentSummary", "FailureReason"):
                doc.pop(member, None)
            return "InService"

        return self._update(mutate)

    def failed(self, reason: str) -> Record | None:
        """Creating failed, or a host could not bring the endpoint back: Failed."""

        def mutate(doc: dict[str, Any]) -> str:
            doc["FailureReason"] = reason[:1024]
            for member in (DEPLOY, SCALE, "PendingDeploymentSummary"):
                doc.pop(member, None)
            return "Failed"

        return self._update(mutate)

    def update_failed(self, reason: str) -> Record | None:
        """An update failed and was rolled back: InService on the previous deployment,
        with the reason (as DescribeEndpoint reports a failed update on AWS)."""

        def mutate(doc: dict[str, Any]) -> str:
            doc["FailureReason"] = reason[:1024]
            live = deployment_of(doc, LIVE)
            if live is not None:
                doc["ProductionVariants"] = variant_summaries(live, current=True)
            for member in (DEPLOY, SCALE, "PendingDeploymentSummary"):
                doc.pop(member, None)
            return "InService"

        return self._update(mutate)


def scaled_variant(variant: VariantSpec, wanted: Mapping[str, Any]) -> VariantSpec:
    """``variant`` with one ``DesiredWeightAndCapacity`` applied."""
    from dataclasses import replace

    from sagebox.serving.deployment import ServerlessSpec

    weight = float(wanted.get("DesiredWeight", variant.weight))
    count = int(wanted.get("DesiredInstanceCount", variant.instance_count))
    serverless = variant.serverless
    update = wanted.get("ServerlessUpdateConfig")
    if update and serverless is not None:
        serverless = ServerlessSpec(
            serverless.memory_mb,
            int(update.get("MaxConcurrency", serverless.max_concurrency)),
            int(update.get("ProvisionedConcurrency", serverless.provisioned_concurrency)),
        )
    return replace(variant, weight=weight, instance_count=count, serverless=serverless)


def requests_of(record: Record) -> tuple[Deployment | None, Deployment | None, Deployment | None]:
    """(to deploy, live, scaled) of an endpoint record: what its host should do."""
    doc = record.document
    return deployment_of(doc, DEPLOY), deployment_of(doc, LIVE), deployment_of(doc, SCALE)
