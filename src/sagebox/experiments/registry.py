"""The model registry in MLflow: each model package group is a registered model.

Every versioned model package of a group is a version of the MLflow registered model of
the same name. Its source is the package's ``ModelDataUrl``; its run is the training
job's run when the model came from a sagebox training job (so MLflow links the version
to the run that made it); its tags name the package it mirrors and its approval status.
The alias ``approved`` points at the newest Approved version, so
``models:/<group>@approved`` is what a deployment of the group's latest approved model
takes.

The mirror is derived state. :func:`sync_group` makes the registered model match the
metadata store (versions created, updated and deleted, the alias moved), so every change
and every later sync heals what an MLflow outage left behind. The control plane calls
:func:`try_sync_group`, which never raises: a registry call never fails because of
MLflow. ``SAGEBOX_MLFLOW_REGISTRY=off`` in the environment turns the mirror off.

MLflow numbers versions itself, so an MLflow version number matches the package's only
while the two registries stay in step; the tag ``sagemaker.model_package_version`` always
gives the package's.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sagebox.errors import ResourceNotFound
from sagebox.experiments.runs import ARN_TAG, _quoted, _safe_uri
from sagebox.experiments.store import open_client, store_lock
from sagebox.home import Home
from sagebox.store.metadata import ListQuery

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

log = logging.getLogger(__name__)

# Metadata-store kinds of sagebox.control.model_packages (literals keep this package
# below the control plane that calls it).
GROUP_KIND = "model-package-group"
PACKAGE_KIND = "model-package"
TRAINING_KIND = "training-job"
GROUP_ARN_TAG = "sagemaker.model_package_group_arn"
PACKAGE_ARN_TAG = "sagemaker.model_package_arn"
VERSION_TAG = "sagemaker.model_package_version"
APPROVAL_TAG = "sagemaker.model_approval_status"
APPROVAL_DESCRIPTION_TAG = "sagemaker.approval_description"
TRAINING_JOB_TAG = "sagemaker.training_job_name"
APPROVED_ALIAS = "approved"
SWITCH_ENV = "SAGEBOX_MLFLOW_REGISTRY"
_OFF = ("0", "off", "false", "no")
_TRAINED_MODEL = re.compile(r"s3://[^/]+/(?:.*/)?(?P<job>[^/]+)/output/model\.tar\.gz")


@dataclass(frozen=True)
class PackageVersion:
    """What the mirror shows of one versioned model package."""

    arn: str
    version: int
    approval: str
    source: str
    description: str | None = None
    approval_description: str | None = None

    @classmethod
    def from_document(cls, doc: Any) -> PackageVersion:
        containers = (doc.get("InferenceSpecification") or {}).get("Containers") or [{}]
        first = containers[0]
        source = (
            first.get("ModelDataUrl")
            or ((first.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
            or doc["ModelPackageArn"]  # a model inside its image: the package is the source
        )
        return cls(
            arn=doc["ModelPackageArn"],
            version=int(doc["ModelPackageVersion"]),
            approval=doc.get("ModelApprovalStatus", "PendingManualApproval"),
            source=source,
            description=doc.get("ModelPackageDescription"),
            approval_description=doc.get("ApprovalDescription"),
        )

    @property
    def tags(self) -> dict[str, str]:
        tags = {
            PACKAGE_ARN_TAG: self.arn,
            VERSION_TAG: str(self.version),
            APPROVAL_TAG: self.approval,
        }
        if self.approval_description:
            tags[APPROVAL_DESCRIPTION_TAG] = self.approval_description
        return tags


def _packages(home: Home, group: str) -> list[PackageVersion]:
    """Every version of ``group`` in the metadata store, oldest first."""
    found: list[PackageVersion] = []
    cursor: str | None = None
    while True:
        query = ListQuery(
            document_equals={"ModelPackageGroupName": group},
            sort_by="name",
            descending=False,
            limit=100,
            cursor=cursor,
        )
        page = home.metadata.list(PACKAGE_KIND, query)
        found.extend(PackageVersion.from_document(r.document) for r in page.records)
        if page.next_cursor is None:
            return sorted(found, key=lambda p: p.version)
        cursor = page.next_cursor


def _training_run(home: Home, client: MlflowClient, source: str) -> tuple[str | None, str | None]:
    """(training job, its MLflow run id) when ``source`` is a sagebox training job's model."""
    match = _TRAINED_MODEL.fullmatch(source)
    if match is None:
        return None, None
    try:
        job = home.metadata.get(TRAINING_KIND, match["job"])
    except ResourceNotFound:
        return None, None
    if (job.document.get("ModelArtifacts") or {}).get("S3ModelArtifacts") != source:
        return None, None
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(
        experiments, filter_string=f"tags.`{ARN_TAG}` = {_quoted(job.arn)}", max_results=1
    )
    return job.name, (str(runs[0].info.run_id) if runs else None)


def _mirrored(client: MlflowClient, name: str) -> dict[str, ModelVersion]:
    """The versions of registered model ``name`` that mirror a package, by package ARN."""
    versions: dict[str, ModelVersion] = {}
    token: str | None = None
    while True:
        page = client.search_model_versions(f"name = {_quoted(name)}", page_token=token)
        for version in page:
            arn = version.tags.get(PACKAGE_ARN_TAG)
            if arn:
                versions[arn] = version
        token = page.token
        if not token:
            return versions


def _registered_model(client: MlflowClient, name: str, arn: str, description: str | None) -> None:
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name, tags={GROUP_ARN_TAG: arn}, description=description)
        return
    if model.tags.get(GROUP_ARN_TAG) != arn:
        client.set_registered_model_tag(name, GROUP_ARN_TAG, arn)
    if description and model.description != description:
        client.update_registered_model(name, description=description)


def _drop(client: MlflowClient, name: str, arn: str) -> None:
    """The group is gone: remove its mirror (versions that are not ours stay)."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return
        raise
    if model.tags.get(GROUP_ARN_TAG) != arn:
        return  # a registered model of the same name that a user made
    for version in _mirrored(client, name).values():
        client.delete_model_version(name, version.version)
    if client.search_model_versions(f"name = {_quoted(name)}", max_results=1):
        client.delete_registered_model_tag(name, GROUP_ARN_TAG)
    else:
        client.delete_registered_model(name)


def _update(client: MlflowClient, name: str, package: PackageVersion, mirror: Any) -> None:
    for key, value in package.tags.items():
        if mirror.tags.get(key) != value:
            client.set_model_version_tag(name, mirror.version, key, value)
    if APPROVAL_DESCRIPTION_TAG in mirror.tags and not package.approval_description:
        client.delete_model_version_tag(name, mirror.version, APPROVAL_DESCRIPTION_TAG)
    if (mirror.description or None) != package.description:
        client.update_model_version(name, mirror.version, description=package.description or "")


def _create(home: Home, client: MlflowClient, name: str, package: PackageVersion) -> str:
    job, run_id = _training_run(home, client, package.source)
    tags = package.tags
    if job:
        tags[TRAINING_JOB_TAG] = job
    created = client.create_model_version(
        name, package.source, run_id=run_id, tags=tags, description=package.description
    )
    return str(created.version)


def _point_alias(
    client: MlflowClient, name: str, model: Any, target: str | None, ours: set[str]
) -> None:
    current = (getattr(model, "aliases", None) or {}).get(APPROVED_ALIAS)
    current = None if current is None else str(current)
    if target is not None and current != target:
        client.set_registered_model_alias(name, APPROVED_ALIAS, target)
    elif target is None and current is not None and current in ours:
        client.delete_registered_model_alias(name, APPROVED_ALIAS)


def sync_group(home: Home, name: str, arn: str) -> None:
    """Make the registered model ``name`` mirror model package group ``name`` (ARN ``arn``)."""
    client = open_client(home)
    with store_lock(home):  # the state is read under the lock: the last sync sees the last change
        try:
            group = home.metadata.get(GROUP_KIND, name)
        except ResourceNotFound:
            group = None
        if group is None or group.arn != arn:
            _drop(client, name, arn)
            return
        _registered_model(client, name, arn, group.document.get("ModelPackageGroupDescription"))
        packages = _packages(home, name)
        mirrored = _mirrored(client, name)
        numbers: dict[str, str] = {}
        for package in packages:
            mirror = mirrored.pop(package.arn, None)
            if mirror is None:
                numbers[package.arn] = _create(home, client, name, package)
            else:
                _update(client, name, package, mirror)
                numbers[package.arn] = str(mirror.version)
        for stale in mirrored.values():
            client.delete_model_version(name, stale.version)
        approved = [p for p in packages if p.approval == "Approved"]
        target = numbers[approved[-1].arn] if approved else None
        model = client.get_registered_model(name)
        _point_alias(client, name, model, target, set(numbers.values()))


def try_sync_group(home: Home, name: str, arn: str) -> bool:
    """:func:`sync_group` for the control plane: never raises; False when it did not run."""
    if os.environ.get(SWITCH_ENV, "").strip().lower() in _OFF:
        return False
    try:
        sync_group(home, name, arn)
    except Exception as exc:
        log.warning(
            "sagebox: model package group %s was not mirrored to the MLflow registry at %s "
            "(%s: %s); the next change to the group, or `sagebox model-package-groups sync "
            "%s`, mirrors it.",
            name,
            _safe_uri(home),
            type(exc).__name__,
            str(exc).replace("\n", " "),
            name,
        )
        return False
    return True
