"""``sagebox model-package-groups ...`` and ``sagebox model-packages ...``: the model registry."""

# No "from __future__ import annotations": typer reads these annotations at run time.
from pathlib import Path
from typing import Annotated, Any

import typer

from sagebox.cli._common import (
    EndpointOption,
    HomeOption,
    OutputOption,
    ProfileOption,
    aws_errors,
    check_output,
    fail,
    load_spec,
    pairs,
    print_json,
    print_mapping,
    print_table,
    session,
)

groups = typer.Typer(no_args_is_help=True, help="Model package groups: one per model.")
packages = typer.Typer(
    no_args_is_help=True, help="Model packages: the versions of a model, and their approval."
)

GroupArg = Annotated[str, typer.Argument(help="The group's name or ARN.")]
PackageArg = Annotated[
    str, typer.Argument(help="The package: GROUP/VERSION (e.g. loan-default/3), a name, or an ARN.")
]
SortBy = Annotated[str, typer.Option(help="Name or CreationTime.")]
SortOrder = Annotated[str, typer.Option(help="Ascending or Descending.")]
MaxResults = Annotated[int, typer.Option(help="Page size (1-100).")]
NextToken = Annotated[str | None, typer.Option(help="NextToken of the previous page.")]
AllPages = Annotated[bool, typer.Option("--all", help="Follow NextToken to the end.")]


def _show(data: dict[str, Any], output: str) -> None:
    if check_output(output) == "json":
        print_json(data)
    else:
        print_mapping(data)


def _list(
    method: Any,
    request: dict[str, Any],
    member: str,
    columns: tuple[str, ...],
    all_pages: bool,
    output: str,
) -> None:
    fmt = check_output(output)
    rows: list[dict[str, Any]] = []
    while True:
        page = method(**request)
        rows.extend(page[member])
        token = page.get("NextToken")
        if not (all_pages and token):
            break
        request["NextToken"] = token
    if fmt == "json":
        print_json({member: rows, **({"NextToken": token} if token and not all_pages else {})})
        return
    print_table(rows, columns)
    if token and not all_pages:
        typer.echo(f"More: --next-token {token}")


# ---- groups --------------------------------------------------------------------------
@groups.command("create")
@aws_errors("CreateModelPackageGroup")
def create_group(
    name: Annotated[str, typer.Argument(help="ModelPackageGroupName, e.g. loan-default.")],
    description: Annotated[str | None, typer.Option(help="What the model is for.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="KEY=VALUE (repeatable).")] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Create a model package group (also a registered model in MLflow)."""
    request: dict[str, Any] = {"ModelPackageGroupName": name}
    if description:
        request["ModelPackageGroupDescription"] = description
    tags = pairs(tag, "--tag", "KEY=VALUE")
    if tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
    control = session(home, endpoint_url, profile).control
    typer.echo(control.create_model_package_group(**request)["ModelPackageGroupArn"])


@groups.command("describe")
@aws_errors("DescribeModelPackageGroup")
def describe_group(
    name: GroupArg,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "json",
) -> None:
    """Describe a model package group."""
    control = session(home, endpoint_url, profile).control
    _show(control.describe_model_package_group(ModelPackageGroupName=name), output)


@groups.command("list")
@aws_errors("ListModelPackageGroups")
def list_groups(
    name_contains: Annotated[str | None, typer.Option(help="NameContains.")] = None,
    sort_by: SortBy = "CreationTime",
    sort_order: SortOrder = "Ascending",
    max_results: MaxResults = 10,
    next_token: NextToken = None,
    all_pages: AllPages = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "table",
) -> None:
    """List model package groups, oldest first."""
    request: dict[str, Any] = {"SortBy": sort_by, "SortOrder": sort_order}
    request["MaxResults"] = max_results
    if name_contains:
        request["NameContains"] = name_contains
    if next_token:
        request["NextToken"] = next_token
    control = session(home, endpoint_url, profile).control
    columns = ("ModelPackageGroupName", "ModelPackageGroupDescription", "CreationTime")
    _list(
        control.list_model_package_groups,
        request,
        "ModelPackageGroupSummaryList",
        columns,
        all_pages,
        output,
    )


@groups.command("delete")
@aws_errors("DeleteModelPackageGroup")
def delete_group(
    name: GroupArg,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Delete an empty model package group (delete its packages first)."""
    session(home, endpoint_url, profile).control.delete_model_package_group(
        ModelPackageGroupName=name
    )
    typer.echo(f"Deleted model package group {name}")


@groups.command("sync")
@aws_errors()
def sync_group(name: GroupArg, home: HomeOption = None) -> None:
    """Mirror a group into the MLflow registry again (after MLflow was unreachable)."""
    from sagebox.control.model_packages import get_group
    from sagebox.experiments.registry import sync_group as sync
    from sagebox.home import Home

    h = Home.open(home)
    record = get_group(h, name)
    try:
        sync(h, record.name, record.arn)
    except Exception as exc:  # MLflow's own errors: say what failed, no traceback
        fail(f"Could not mirror model package group {record.name} to MLflow: {exc}")
    typer.echo(f"Mirrored model package group {record.name} to the MLflow registered model")


# ---- packages ------------------------------------------------------------------------
def build_package_request(
    spec: dict[str, Any],
    *,
    group: str | None,
    name: str | None,
    image: str | None,
    model_data_url: str | None,
    content_types: list[str],
    response_types: list[str],
    approval_status: str | None,
    description: str | None,
    metrics_report: str | None,
    metadata: dict[str, str],
) -> dict[str, Any]:
    """A CreateModelPackage request: the spec file's fields, then the flags over them."""
    request = dict(spec)
    if group:
        request["ModelPackageGroupName"] = group
    if name:
        request["ModelPackageName"] = name
    inference = dict(request.get("InferenceSpecification", {}))
    containers = [dict(c) for c in inference.get("Containers", [])] or [{}]
    if image:
        containers[0]["Image"] = image
    if model_data_url:
        containers[0]["ModelDataUrl"] = model_data_url
    if containers != [{}]:
        inference["Containers"] = containers
    if content_types:
        inference["SupportedContentTypes"] = content_types
    if response_types:
        inference["SupportedResponseMIMETypes"] = response_types
    if inference:
        request["InferenceSpecification"] = inference
    if approval_status:
        request["ModelApprovalStatus"] = approval_status
    if description:
        request["ModelPackageDescription"] = description
    if metrics_report:
        metrics = dict(request.get("ModelMetrics", {}))
        metrics["ModelQuality"] = {
            **metrics.get("ModelQuality", {}),
            "Statistics": {"ContentType": "application/json", "S3Uri": metrics_report},
        }
        request["ModelMetrics"] = metrics
    if metadata:
        request["CustomerMetadataProperties"] = {
            **request.get("CustomerMetadataProperties", {}),
            **metadata,
        }
    return request


def _from_training_job(control: Any, job: str) -> tuple[str, str]:
    """(image, model data URL) of a completed training job."""
    described = control.describe_training_job(TrainingJobName=job)
    if described["TrainingJobStatus"] != "Completed":
        fail(
            f"Training job {job} is {described['TrainingJobStatus']}; only a Completed job "
            "has a model to register."
        )
    image = described["AlgorithmSpecification"]["TrainingImage"]
    return str(image), str(described["ModelArtifacts"]["S3ModelArtifacts"])


@packages.command("create")
@aws_errors("CreateModelPackage")
def create_package(
    spec_file: Annotated[
        Path | None,
        typer.Option("--spec", help="A JSON or YAML file with a CreateModelPackage request."),
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", "-g", help="ModelPackageGroupName: a new version.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="ModelPackageName: an unversioned package.")
    ] = None,
    training_job: Annotated[
        str | None,
        typer.Option(help="Register this training job's model (its image and model.tar.gz)."),
    ] = None,
    image: Annotated[str | None, typer.Option(help="The container's Image.")] = None,
    model_data_url: Annotated[
        str | None, typer.Option(help="The container's ModelDataUrl (s3://.../model.tar.gz).")
    ] = None,
    content_type: Annotated[
        list[str] | None, typer.Option(help="SupportedContentTypes (repeatable).")
    ] = None,
    response_type: Annotated[
        list[str] | None, typer.Option(help="SupportedResponseMIMETypes (repeatable).")
    ] = None,
    approval_status: Annotated[
        str | None,
        typer.Option(help="PendingManualApproval (default), Approved or Rejected."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="ModelPackageDescription.")] = None,
    metrics_report: Annotated[
        str | None,
        typer.Option(help="s3:// URI of the evaluation report (ModelQuality.Statistics, JSON)."),
    ] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", help="CustomerMetadataProperties KEY=VALUE (repeatable)."),
    ] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Register a model: a new version in a group (--group) or an unversioned package."""
    control = session(home, endpoint_url, profile).control
    if training_job:
        trained_image, trained_model = _from_training_job(control, training_job)
        image, model_data_url = image or trained_image, model_data_url or trained_model
    request = build_package_request(
        load_spec(spec_file) if spec_file else {},
        group=group,
        name=name,
        image=image,
        model_data_url=model_data_url,
        content_types=content_type or [],
        response_types=response_type or [],
        approval_status=approval_status,
        description=description,
        metrics_report=metrics_report,
        metadata=pairs(metadata, "--metadata", "KEY=VALUE"),
    )
    typer.echo(control.create_model_package(**request)["ModelPackageArn"])


@packages.command("describe")
@aws_errors("DescribeModelPackage")
def describe_package(
    package: PackageArg,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "json",
) -> None:
    """Describe a model package."""
    control = session(home, endpoint_url, profile).control
    _show(control.describe_model_package(ModelPackageName=package), output)


@packages.command("list")
@aws_errors("ListModelPackages")
def list_packages(
    group: Annotated[
        str | None, typer.Option("--group", "-g", help="The versions of this group.")
    ] = None,
    approval_status: Annotated[
        str | None, typer.Option(help="PendingManualApproval, Approved or Rejected.")
    ] = None,
    package_type: Annotated[
        str | None,
        typer.Option(
            "--type", help="Versioned, Unversioned or Both (default: Versioned with --group)."
        ),
    ] = None,
    name_contains: Annotated[str | None, typer.Option(help="NameContains.")] = None,
    sort_by: SortBy = "CreationTime",
    sort_order: SortOrder = "Ascending",
    max_results: MaxResults = 10,
    next_token: NextToken = None,
    all_pages: AllPages = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "table",
) -> None:
    """List model packages, oldest first."""
    request: dict[str, Any] = {"SortBy": sort_by, "SortOrder": sort_order}
    request["MaxResults"] = max_results
    optional = {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": approval_status,
        "ModelPackageType": package_type,
        "NameContains": name_contains,
        "NextToken": next_token,
    }
    request.update({k: v for k, v in optional.items() if v})
    control = session(home, endpoint_url, profile).control
    columns = (
        "ModelPackageGroupName",
        "ModelPackageVersion",
        "ModelApprovalStatus",
        "ModelPackageArn",
        "CreationTime",
    )
    _list(
        control.list_model_packages, request, "ModelPackageSummaryList", columns, all_pages, output
    )


def _update(control: Any, package: str, **fields: Any) -> str:
    """UpdateModelPackage on ``package`` given by name or ARN; its ARN."""
    arn = str(control.describe_model_package(ModelPackageName=package)["ModelPackageArn"])
    control.update_model_package(ModelPackageArn=arn, **{k: v for k, v in fields.items() if v})
    return arn


ApprovalNote = Annotated[
    str | None, typer.Option("--description", help="ApprovalDescription: why.")
]


def _approval_command(name: str, status: str, verb: str, doc: str) -> None:
    """``approve`` and ``reject``: UpdateModelPackage of the approval status alone."""

    @aws_errors("UpdateModelPackage")
    def command(
        package: PackageArg,
        description: ApprovalNote = None,
        home: HomeOption = None,
        endpoint_url: EndpointOption = None,
        profile: ProfileOption = None,
    ) -> None:
        control = session(home, endpoint_url, profile).control
        arn = _update(control, package, ModelApprovalStatus=status, ApprovalDescription=description)
        typer.echo(f"{verb} {arn}")

    command.__doc__ = doc
    packages.command(name)(command)


_approval_command(
    "approve", "Approved", "Approved", "Approve a model package version for deployment."
)
_approval_command("reject", "Rejected", "Rejected", "Reject a model package version.")


@packages.command("update")
@aws_errors("UpdateModelPackage")
def update_package(
    package: PackageArg,
    approval_status: Annotated[
        str | None, typer.Option(help="PendingManualApproval, Approved or Rejected.")
    ] = None,
    approval_description: Annotated[str | None, typer.Option(help="ApprovalDescription.")] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", help="Set CustomerMetadataProperties KEY=VALUE (repeatable)."),
    ] = None,
    remove_metadata: Annotated[
        list[str] | None,
        typer.Option("--remove-metadata", help="Remove a CustomerMetadataProperties KEY."),
    ] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Update a model package version's approval or metadata."""
    control = session(home, endpoint_url, profile).control
    arn = _update(
        control,
        package,
        ModelApprovalStatus=approval_status,
        ApprovalDescription=approval_description,
        CustomerMetadataProperties=pairs(metadata, "--metadata", "KEY=VALUE"),
        CustomerMetadataPropertiesToRemove=remove_metadata,
    )
    typer.echo(f"Updated {arn}")


@packages.command("delete")
@aws_errors("DeleteModelPackage")
def delete_package(
    package: PackageArg,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Delete a model package."""
    session(home, endpoint_url, profile).control.delete_model_package(ModelPackageName=package)
    typer.echo(f"Deleted model package {package}")
