"""SageMaker's model registry: model package groups and their versioned model packages.

A group (``model-package-group/<name>``) holds versions 1, 2, ... of one model
(``model-package/<group>/<version>``); each version carries its inference specification,
its evaluation (``ModelMetrics``) and an approval status (PendingManualApproval,
Approved, Rejected) that gates deployment. Unversioned packages
(``model-package/<name>``, made with ``ModelPackageName``) stand alone, as on AWS.

Every versioned package is also a version of the MLflow registered model named after
its group (:mod:`sagebox.experiments.registry`), mirrored after each change; MLflow
being down never fails a call here.

Versions are numbered by an atomic counter on the group's record, so concurrent creates
never share a number. A group holding packages cannot be deleted (ConflictException).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagebox.control.context import Context
from sagebox.control.listing import list_query, summaries_page
from sagebox.control.model_package_specs import (
    check_containers,
    check_inference_specification,
    check_reports,
    check_sample_payload,
)
from sagebox.errors import ConflictError, ResourceInUse, ResourceNotFound, ValidationError
from sagebox.home import Home
from sagebox.store.metadata import Change, ListQuery, Record
from sagebox.store.metadata.documents import jsonable

GROUP_KIND = "model-package-group"
PACKAGE_KIND = "model-package"
VERSIONED, UNVERSIONED = "Versioned", "Unversioned"
APPROVED = "Approved"
PENDING = "PendingManualApproval"
# Document fields that are not API members (responses drop them): the group's version
# counter, and whether a package is versioned (for ListModelPackages' type filter).
LATEST_FIELD = "SageboxLatestVersion"
TYPE_FIELD = "SageboxPackageType"
_VERSION_DIGITS = 9  # versions are 1 to 9 digits; record names pad them to sort by number
_MAX_ADDITIONAL_SPECIFICATIONS = 15
_GROUP_SUMMARY = (
    "ModelPackageGroupName",
    "ModelPackageGroupArn",
    "ModelPackageGroupDescription",
    "CreationTime",
    "ModelPackageGroupStatus",
)
_PACKAGE_SUMMARY = (
    "ModelPackageName",
    "ModelPackageGroupName",
    "ModelPackageVersion",
    "ModelPackageArn",
    "ModelPackageDescription",
    "CreationTime",
    "ModelPackageStatus",
    "ModelApprovalStatus",
    "ModelLifeCycle",
    "ModelPackageRegistrationType",
)


# ---- names and ARNs ------------------------------------------------------------------
def _arn(home: Home, value: str, resource_type: str) -> str:
    """The ARN a name or ARN stands for; names are lower case in SageMaker ARNs."""
    if value.startswith("arn:"):
        prefix, sep, rest = value.partition(f":{resource_type}/")
        return f"{prefix}{sep}{rest.lower()}" if sep else value
    return home.arn("sagemaker", f"{resource_type}/{value.lower()}")


def _package_path(value: str) -> str:
    """``name`` or ``group/version`` with the version as a plain number (``g/03`` -> ``g/3``)."""
    name, sep, version = value.partition("/")
    return f"{name}/{int(version)}" if sep and version.isdigit() else value


def group_arn(home: Home, name_or_arn: str) -> str:
    return _arn(home, name_or_arn, "model-package-group")


def package_arn(home: Home, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        prefix, sep, rest = name_or_arn.partition(":model-package/")
        return f"{prefix}{sep}{_package_path(rest).lower()}" if sep else name_or_arn
    return _arn(home, _package_path(name_or_arn), "model-package")


def _by_arn(home: Home, arn: str, kind: str) -> Record | None:
    try:
        record = home.metadata.get_by_arn(arn)
    except ResourceNotFound:
        return None
    return record if record.kind == kind else None


def get_group(home: Home, name_or_arn: str) -> Record:
    """The group a name or ARN names; ValidationException (as AWS answers) if none."""
    record = _by_arn(home, group_arn(home, name_or_arn), GROUP_KIND)
    if record is None:
        raise ValidationError(
            f"Model package group '{name_or_arn}' does not exist in account "
            f"{home.account_id} ({home.region}). Check the name or ARN, or list the groups "
            "with ListModelPackageGroups (sagebox model-package-groups list)."
        )
    return record


def get_package(home: Home, name_or_arn: str) -> Record:
    """The package a name, ``group/version`` or ARN names; ValidationException if none."""
    record = _by_arn(home, package_arn(home, name_or_arn), PACKAGE_KIND)
    if record is not None:
        return record
    message = (
        f"Model package '{name_or_arn}' does not exist in account {home.account_id} "
        f"({home.region})."
    )
    if "/" not in name_or_arn and _by_arn(home, group_arn(home, name_or_arn), GROUP_KIND):
        message += (
            f" '{name_or_arn}' is a model package group: name one of its versions, e.g. "
            f"'{name_or_arn}/1' or its ARN (ListModelPackages with ModelPackageGroupName="
            f"'{name_or_arn}' lists them)."
        )
    else:
        message += " Check the name or ARN, or list packages with ListModelPackages."
    raise ValidationError(message)


def _next_version_arn(home: Home, group: str) -> str:
    """The ARN the next version of ``group`` would get (what IAM decides a create on)."""
    record = _by_arn(home, group_arn(home, group), GROUP_KIND)
    name = record.name if record else group.rpartition("/")[2]
    latest = int(record.document.get(LATEST_FIELD, 0)) if record else 0
    return package_arn(home, f"{name}/{latest + 1}")


def group_resource(home: Home, request: Mapping[str, Any]) -> str:
    """The ARN IAM decides a group operation on (the request may name it or give its ARN)."""
    value = request.get("ModelPackageGroupName")
    return group_arn(home, value) if isinstance(value, str) and value else "*"


def package_resource(home: Home, request: Mapping[str, Any]) -> str:
    """The ARN IAM decides a package operation on; a new version's is the one it will get."""
    for member in ("ModelPackageArn", "ModelPackageName"):
        value = request.get(member)
        if isinstance(value, str) and value:
            return package_arn(home, value)
    group = request.get("ModelPackageGroupName")
    if isinstance(group, str) and group:
        return _next_version_arn(home, group)
    return "*"


def _user(ctx: Context) -> dict[str, Any]:
    return {"IamIdentity": {"Arn": ctx.principal.arn}}


def _mirror(home: Home, group: Record | str) -> None:
    """Bring the group's MLflow registered model up to date (never raises)."""
    from sagebox.experiments.registry import try_sync_group

    if isinstance(group, Record):
        try_sync_group(home, group.name, group.arn)
    else:
        try_sync_group(home, group, group_arn(home, group))


# ---- groups --------------------------------------------------------------------------
def create_group(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["ModelPackageGroupName"]
    arn = group_arn(ctx.home, name)
    now = ctx.now()
    document = {
        **jsonable({k: v for k, v in request.items() if k != "Tags"}),
        "ModelPackageGroupArn": arn,
        "CreationTime": now.isoformat(),
        "CreatedBy": _user(ctx),
        "ModelPackageGroupStatus": "Completed",
        LATEST_FIELD: 0,
    }
    try:
        record = ctx.home.metadata.create(
            GROUP_KIND, name, arn, "Completed", document, creation_time=now
        )
    except ResourceInUse:
        raise ValidationError(
            f"Model Package Group already exists: {arn}. Choose another name, or add "
            "versions to the existing group (CreateModelPackage with ModelPackageGroupName)."
        ) from None
    if request.get("Tags"):
        ctx.home.metadata.set_tags(arn, {t["Key"]: t["Value"] for t in request["Tags"]})
    _mirror(ctx.home, record)
    return {"ModelPackageGroupArn": arn}


def describe_group(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return dict(get_group(ctx.home, request["ModelPackageGroupName"]).document)


def list_groups(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    if request.get("CrossAccountFilterOption") == "CrossAccount":
        return {"ModelPackageGroupSummaryList": []}  # no other account shares groups here
    query = list_query(request, "Ascending")
    return summaries_page(
        ctx.home, GROUP_KIND, query, "ModelPackageGroupSummaryList", _GROUP_SUMMARY
    )


def _set_group_status(home: Home, name: str, status: str, *expected: str) -> Record:
    def change(record: Record) -> Change:
        if record.status not in expected:
            raise ConflictError(
                f"Model package group '{name}' is {record.status}, so it cannot be changed "
                "now. Retry when the operation in progress has finished."
            )
        return Change(status, {**record.document, "ModelPackageGroupStatus": status})

    return home.metadata.update(GROUP_KIND, name, change)


def delete_group(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    home = ctx.home
    record = get_group(home, request["ModelPackageGroupName"])
    # Deleting first, so that a version created meanwhile sees it and backs out. A group
    # left Deleting by a process that died part-way can be deleted again.
    _set_group_status(home, record.name, "Deleting", "Completed", "Deleting")
    held = home.metadata.list(
        PACKAGE_KIND,
        ListQuery(
            limit=1, descending=False, document_equals={"ModelPackageGroupName": record.name}
        ),
    )
    if held.records:
        _set_group_status(home, record.name, "Completed", "Deleting")
        raise ConflictError(
            f"Model package group '{record.name}' still holds model packages (the oldest: "
            f"{held.records[0].arn}), so it cannot be deleted. Delete its packages first "
            "(DeleteModelPackage; sagebox model-packages list --group "
            f"{record.name} shows them), then the group."
        )
    try:
        home.metadata.delete(GROUP_KIND, record.name)
    except ResourceNotFound:  # a concurrent delete won
        get_group(home, request["ModelPackageGroupName"])
    _mirror(home, record)
    return {}


# ---- packages ------------------------------------------------------------------------
def _check_request(request: Mapping[str, Any]) -> None:
    name, group = request.get("ModelPackageName"), request.get("ModelPackageGroupName")
    if bool(name) == bool(group):
        raise ValidationError(
            "Give exactly one of ModelPackageGroupName (a new version in that model package "
            "group, the model registry's way) or ModelPackageName (an unversioned package). "
            f"Got {'both' if name else 'neither'}."
        )
    if request.get("SourceAlgorithmSpecification"):
        raise ValidationError(
            "SourceAlgorithmSpecification (a package made from an algorithm resource) is not "
            "supported by sagebox. Give InferenceSpecification with the image and the "
            "ModelDataUrl of the trained model instead."
        )
    if request.get("ValidationSpecification"):
        raise ValidationError(
            "ValidationSpecification is not supported by sagebox: it does not run validation "
            "transform jobs for packages. Leave it out, and score the model with a batch "
            "transform job (CreateTransformJob) if you want that check."
        )
    if not request.get("InferenceSpecification"):
        raise ValidationError(
            "InferenceSpecification is required: the containers (Image, ModelDataUrl) that "
            "serve the model, e.g. {'Containers': [{'Image': 'sagebox/xgboost', "
            "'ModelDataUrl': 's3://bucket/job/output/model.tar.gz'}]}."
        )
    if group and request.get("Tags"):
        raise ValidationError(
            f"Tags cannot be given for a versioned model package: it uses the tags of its "
            f"model package group '{group}'. Tag the group (AddTags on its ARN), or leave "
            "Tags out."
        )
    if group and request.get("CertifyForMarketplace"):
        raise ValidationError(
            "CertifyForMarketplace does not apply to versioned model packages; leave it out."
        )
    if name and request.get("ModelApprovalStatus"):
        raise ValidationError(
            "ModelApprovalStatus applies only to versioned model packages (made with "
            f"ModelPackageGroupName); leave it out for the unversioned package '{name}'."
        )


def _check_contents(home: Home, request: Mapping[str, Any]) -> None:
    """What the package points at exists: images, model data, reports, sample payload."""
    if request.get("InferenceSpecification"):
        check_inference_specification(
            home, request["InferenceSpecification"], "InferenceSpecification"
        )
    for member in ("AdditionalInferenceSpecifications", "AdditionalInferenceSpecificationsToAdd"):
        for index, extra in enumerate(request.get(member, []), start=1):
            check_containers(home, extra["Containers"], f"{member}.{index}")
    check_reports(home, request)
    check_sample_payload(home, request.get("SamplePayloadUrl"))


def _next_version(home: Home, group: str) -> int:
    def bump(record: Record) -> Change:
        if record.status != "Completed":
            raise ConflictError(
                f"Model package group '{group}' is {record.status}; no version can be added "
                "to it now."
            )
        latest = int(record.document.get(LATEST_FIELD, 0)) + 1
        return Change(record.status, {**record.document, LATEST_FIELD: latest})

    return int(home.metadata.update(GROUP_KIND, group, bump).document[LATEST_FIELD])


def _group_open(home: Home, name: str) -> bool:
    try:
        return home.metadata.get(GROUP_KIND, name).status == "Completed"
    except ResourceNotFound:
        return False


def _create_version(
    ctx: Context, request: Mapping[str, Any], document: dict[str, Any]
) -> dict[str, Any]:
    home = ctx.home
    group = get_group(home, request["ModelPackageGroupName"])
    version = _next_version(home, group.name)
    arn = package_arn(home, f"{group.name}/{version}")
    document.update(
        ModelPackageName=group.name,
        ModelPackageGroupName=group.name,
        ModelPackageVersion=version,
        ModelPackageArn=arn,
        ModelApprovalStatus=request.get("ModelApprovalStatus", PENDING),
        **{TYPE_FIELD: VERSIONED},
    )
    record_name = f"{group.name}/{version:0{_VERSION_DIGITS}d}"
    home.metadata.create(
        PACKAGE_KIND, record_name, arn, "Completed", document, creation_time=ctx.now()
    )
    if not _group_open(home, group.name):  # deleted meanwhile: no version outlives it
        home.metadata.delete(PACKAGE_KIND, record_name)
        raise ConflictError(
            f"Model package group '{group.name}' was deleted while version {version} was "
            "being added. Create the group again, then the version."
        )
    _mirror(home, group)
    return {"ModelPackageArn": arn}


def create_package(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    _check_request(request)
    _check_contents(ctx.home, request)
    now = ctx.now()
    skip = ("Tags", "ClientToken", "ModelPackageName", "ModelPackageGroupName")
    document: dict[str, Any] = {
        **jsonable({k: v for k, v in request.items() if k not in skip}),
        "CreationTime": now.isoformat(),
        "CreatedBy": _user(ctx),
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
    }
    if request.get("ModelPackageGroupName"):
        return _create_version(ctx, request, document)
    name = request["ModelPackageName"]
    arn = package_arn(ctx.home, name)
    document.update(ModelPackageName=name, ModelPackageArn=arn, **{TYPE_FIELD: UNVERSIONED})
    try:
        ctx.home.metadata.create(PACKAGE_KIND, name, arn, "Completed", document, creation_time=now)
    except ResourceInUse:
        raise ValidationError(
            f"Model package already exists: {arn}. Choose another ModelPackageName, or "
            "register versions in a model package group instead (ModelPackageGroupName)."
        ) from None
    if request.get("Tags"):
        ctx.home.metadata.set_tags(arn, {t["Key"]: t["Value"] for t in request["Tags"]})
    return {"ModelPackageArn": arn}


def describe_package(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    record = get_package(ctx.home, request["ModelPackageName"])
    return {**record.document, "LastModifiedTime": record.last_modified_time.isoformat()}


def list_packages(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    equals: dict[str, str] = {}
    package_type = request.get("ModelPackageType")
    if request.get("ModelPackageGroupName"):
        equals["ModelPackageGroupName"] = get_group(ctx.home, request["ModelPackageGroupName"]).name
        package_type = package_type or VERSIONED
    package_type = package_type or UNVERSIONED  # AWS's default without a group
    if package_type != "Both":
        equals[TYPE_FIELD] = package_type
    if request.get("ModelApprovalStatus"):
        equals["ModelApprovalStatus"] = request["ModelApprovalStatus"]
    query = list_query(request, "Ascending", document_equals=equals)
    return summaries_page(
        ctx.home, PACKAGE_KIND, query, "ModelPackageSummaryList", _PACKAGE_SUMMARY
    )


def batch_describe_packages(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    summaries: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for arn in request["ModelPackageArnList"]:
        try:
            document = get_package(ctx.home, arn).document
        except ValidationError as exc:
            errors[arn] = {"ErrorCode": exc.code, "ErrorResponse": exc.message}
            continue
        if document.get(TYPE_FIELD) != VERSIONED:
            errors[arn] = {
                "ErrorCode": ValidationError.code,
                "ErrorResponse": f"Model package {arn} is unversioned; BatchDescribeModelPackage "
                "describes versioned packages. Use DescribeModelPackage for it.",
            }
            continue
        summaries[arn] = document
    return {"ModelPackageSummaries": summaries, "BatchDescribeModelPackageErrorMap": errors}


def _updated(
    request: Mapping[str, Any], document: Mapping[str, Any], user: dict[str, Any]
) -> dict[str, Any]:
    """The document of a versioned package after UpdateModelPackage ``request``."""
    doc = dict(document)
    if request.get("ModelApprovalStatus"):
        doc["ModelApprovalStatus"] = request["ModelApprovalStatus"]
    if "ApprovalDescription" in request:
        doc["ApprovalDescription"] = request["ApprovalDescription"]
    added = dict(request.get("CustomerMetadataProperties", {}))
    removed = list(request.get("CustomerMetadataPropertiesToRemove", []))
    both = sorted(set(added) & set(removed))
    if both:
        raise ValidationError(
            f"The metadata key(s) {', '.join(both)} are both set (CustomerMetadataProperties) "
            "and removed (CustomerMetadataPropertiesToRemove) in one request; do one or the "
            "other."
        )
    metadata = {**doc.get("CustomerMetadataProperties", {}), **added}
    for key in removed:
        metadata.pop(key, None)
    doc["CustomerMetadataProperties"] = metadata
    extras = [
        *doc.get("AdditionalInferenceSpecifications", []),
        *jsonable(request.get("AdditionalInferenceSpecificationsToAdd", [])),
    ]
    if len(extras) > _MAX_ADDITIONAL_SPECIFICATIONS:
        raise ValidationError(
            f"A model package can hold at most {_MAX_ADDITIONAL_SPECIFICATIONS} additional "
            f"inference specifications; this update would give it {len(extras)}."
        )
    names = [e["Name"] for e in extras]
    if len(set(names)) != len(names):
        raise ValidationError(
            f"Additional inference specification names must be unique; got {names}. "
            "Give each a new Name."
        )
    doc["AdditionalInferenceSpecifications"] = extras
    for member in (
        "InferenceSpecification",
        "SourceUri",
        "ModelCard",
        "ModelLifeCycle",
        "ModelPackageRegistrationType",
    ):
        if member in request:
            doc[member] = jsonable(request[member])
    doc["LastModifiedBy"] = user
    return {k: v for k, v in doc.items() if v not in ({}, [])}


def update_package(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    home = ctx.home
    record = get_package(home, request["ModelPackageArn"])
    if record.document.get(TYPE_FIELD) != VERSIONED:
        raise ValidationError(
            f"UpdateModelPackage updates versioned model packages, and {record.arn} is "
            "unversioned. Register the model as a version of a model package group "
            "(CreateModelPackage with ModelPackageGroupName) to update its approval."
        )
    _check_contents(home, request)
    user = _user(ctx)

    def change(current: Record) -> Change:
        return Change(current.status, _updated(request, current.document, user))

    home.metadata.update(PACKAGE_KIND, record.name, change)
    _mirror(home, str(record.document["ModelPackageGroupName"]))
    return {"ModelPackageArn": record.arn}


def delete_package(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    record = get_package(ctx.home, request["ModelPackageName"])
    ctx.home.metadata.delete(PACKAGE_KIND, record.name)
    if record.document.get(TYPE_FIELD) == VERSIONED:
        _mirror(ctx.home, str(record.document["ModelPackageGroupName"]))
    return {}


# ---- deploying from a package --------------------------------------------------------
def resolve_container(home: Home, name_or_arn: str) -> dict[str, Any]:
    """The container a model made from package ``name_or_arn`` runs.

    ``Image``, ``Environment`` and ``ModelDataUrl`` (or ``ModelDataSource``) of the
    package's first inference container. A versioned package must be Approved, as the
    SageMaker API reference says of ``ModelApprovalStatus``: "For versioned models, the
    value of this parameter must be set to Approved to deploy the model."
    """
    record = get_package(home, name_or_arn)
    document = record.document
    status = document.get("ModelApprovalStatus")
    if document.get(TYPE_FIELD) == VERSIONED and status != APPROVED:
        raise ValidationError(
            f"Model package {record.arn} is {status}, and a versioned model package must be "
            "Approved before it is deployed. Approve it first: UpdateModelPackage("
            f"ModelPackageArn='{record.arn}', ModelApprovalStatus='Approved') or sagebox "
            f"model-packages approve {record.arn}."
        )
    containers = (document.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers:
        raise ValidationError(
            f"Model package {record.arn} has no inference container to deploy. Register a "
            "version with InferenceSpecification.Containers."
        )
    first = containers[0]
    container: dict[str, Any] = {
        "Image": first["Image"],
        "Environment": dict(first.get("Environment", {})),
    }
    for member in ("ModelDataUrl", "ModelDataSource"):
        if first.get(member):
            container[member] = first[member]
    return container
