"""``sagebox processing-jobs create|describe|list|stop``."""

from __future__ import annotations

import shlex
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
    load_spec,
    print_json,
    print_mapping,
    print_table,
    session,
)

app = typer.Typer(no_args_is_help=True)

_COLUMNS = (
    "ProcessingJobName",
    "ProcessingJobStatus",
    "CreationTime",
    "ProcessingEndTime",
    "FailureReason",
)


def _parse_pair(text: str, flag: str) -> tuple[str, str]:
    source, sep, destination = text.partition("=")
    if not sep or not source or not destination:
        typer.echo(f"{flag} takes SOURCE=DESTINATION; got {text!r}.", err=True)
        raise typer.Exit(2)
    return source, destination


def build_request(
    spec: dict[str, Any],
    name: str | None,
    image: str | None,
    role: str | None,
    instance_type: str | None,
    instance_count: int | None,
    entrypoint: str | None,
    arguments: list[str],
    inputs: list[str],
    outputs: list[str],
    max_runtime: int | None,
) -> dict[str, Any]:
    """A CreateProcessingJob request: the spec file's fields, then the flags over them."""
    request = dict(spec)
    if name:
        request["ProcessingJobName"] = name
    if role:
        request["RoleArn"] = role
    cluster = request.setdefault("ProcessingResources", {}).setdefault("ClusterConfig", {})
    cluster.setdefault("VolumeSizeInGB", 30)
    if instance_type:
        cluster["InstanceType"] = instance_type
    cluster.setdefault("InstanceType", "ml.m5.xlarge")
    if instance_count:
        cluster["InstanceCount"] = instance_count
    cluster.setdefault("InstanceCount", 1)
    app_spec = request.setdefault("AppSpecification", {})
    if image:
        app_spec["ImageUri"] = image
    if entrypoint:
        app_spec["ContainerEntrypoint"] = shlex.split(entrypoint)
    if arguments:
        app_spec["ContainerArguments"] = arguments
    for index, item in enumerate(inputs):
        source, destination = _parse_pair(item, "--input")
        request.setdefault("ProcessingInputs", []).append(
            {
                "InputName": f"input-{index + 1}",
                "S3Input": {
                    "S3Uri": source,
                    "LocalPath": destination,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        )
    for index, item in enumerate(outputs):
        source, destination = _parse_pair(item, "--output-data")
        config = request.setdefault("ProcessingOutputConfig", {"Outputs": []})
        config["Outputs"].append(
            {
                "OutputName": f"output-{index + 1}",
                "S3Output": {"S3Uri": destination, "LocalPath": source, "S3UploadMode": "EndOfJob"},
            }
        )
    if max_runtime:
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": max_runtime}
    return request


@app.command()
@aws_errors("CreateProcessingJob")
def create(
    spec_file: Annotated[
        Path | None,
        typer.Option("--spec", help="A JSON or YAML file with a CreateProcessingJob request."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="ProcessingJobName.")] = None,
    image: Annotated[
        str | None, typer.Option(help="AppSpecification.ImageUri, e.g. sagebox/sklearn.")
    ] = None,
    role: Annotated[str | None, typer.Option(help="RoleArn (the job's execution role).")] = None,
    instance_type: Annotated[str | None, typer.Option(help="e.g. ml.m5.xlarge.")] = None,
    instance_count: Annotated[int | None, typer.Option(help="Number of instances.")] = None,
    entrypoint: Annotated[
        str | None,
        typer.Option(
            help="ContainerEntrypoint as a shell-quoted "
            "string, e.g. 'python3 /opt/ml/processing/input/code/x.py'."
        ),
    ] = None,
    argument: Annotated[
        list[str] | None, typer.Option("--argument", help="A ContainerArguments item (repeatable).")
    ] = None,
    input_: Annotated[
        list[str] | None, typer.Option("--input", help="S3URI=LOCALPATH (repeatable).")
    ] = None,
    output_data: Annotated[
        list[str] | None, typer.Option("--output-data", help="LOCALPATH=S3URI (repeatable).")
    ] = None,
    max_runtime: Annotated[int | None, typer.Option(help="MaxRuntimeInSeconds.")] = None,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Wait for the job to end, with a live status line."),
    ] = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "json",
) -> None:
    """Create a processing job from a spec file and/or flags."""
    fmt = check_output(output)
    request = build_request(
        load_spec(spec_file) if spec_file else {},
        name,
        image,
        role,
        instance_type,
        instance_count,
        entrypoint,
        argument or [],
        input_ or [],
        output_data or [],
        max_runtime,
    )
    s = session(home, endpoint_url, profile)
    response = s.control.create_processing_job(**request)
    if wait:
        description = _wait_live(s, request["ProcessingJobName"])
        _show(description, fmt)
        if description["ProcessingJobStatus"] != "Completed":
            raise typer.Exit(1)
        return
    _show(response, fmt)


def _wait_live(s: Any, name: str) -> dict[str, Any]:
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(f"{name}: InProgress") as status:

        def on_poll(description: dict[str, Any]) -> None:
            started = description.get("ProcessingStartTime")
            since = f" since {started:%H:%M:%S}" if started else ""
            status.update(f"{name}: {description['ProcessingJobStatus']}{since}")

        def describe() -> dict[str, Any]:
            result: dict[str, Any] = s.control.describe_processing_job(ProcessingJobName=name)
            return result

        description: dict[str, Any] = s.wait_for_job(
            describe, "ProcessingJobStatus", on_poll=on_poll
        )
    console.print(f"{name}: {description['ProcessingJobStatus']}")
    return description


def _show(data: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print_json(data)
    else:
        print_mapping(data)


@app.command()
@aws_errors("DescribeProcessingJob")
def describe(
    name: Annotated[str, typer.Argument(help="ProcessingJobName.")],
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "json",
) -> None:
    """Describe a processing job."""
    fmt = check_output(output)
    _show(
        session(home, endpoint_url, profile).control.describe_processing_job(
            ProcessingJobName=name
        ),
        fmt,
    )


@app.command("list")
@aws_errors("ListProcessingJobs")
def list_(
    name_contains: Annotated[str | None, typer.Option(help="NameContains.")] = None,
    status: Annotated[str | None, typer.Option(help="StatusEquals.")] = None,
    sort_by: Annotated[str, typer.Option(help="Name, CreationTime or Status.")] = "CreationTime",
    sort_order: Annotated[str, typer.Option(help="Ascending or Descending.")] = "Descending",
    max_results: Annotated[int, typer.Option(help="Page size (1-100).")] = 10,
    next_token: Annotated[str | None, typer.Option(help="NextToken of the previous page.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow NextToken to the end.")] = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "table",
) -> None:
    """List processing jobs, newest first."""
    fmt = check_output(output)
    control = session(home, endpoint_url, profile).control
    request: dict[str, Any] = {
        "SortBy": sort_by,
        "SortOrder": sort_order,
        "MaxResults": max_results,
    }
    if name_contains:
        request["NameContains"] = name_contains
    if status:
        request["StatusEquals"] = status
    if next_token:
        request["NextToken"] = next_token
    summaries: list[dict[str, Any]] = []
    while True:
        page = control.list_processing_jobs(**request)
        summaries.extend(page["ProcessingJobSummaries"])
        token = page.get("NextToken")
        if not (all_pages and token):
            break
        request["NextToken"] = token
    if fmt == "json":
        print_json(
            {
                "ProcessingJobSummaries": summaries,
                **({"NextToken": token} if token and not all_pages else {}),
            }
        )
    else:
        print_table(summaries, _COLUMNS)
        if token and not all_pages:
            typer.echo(f"More: --next-token {token}")


@app.command()
@aws_errors("StopProcessingJob")
def stop(
    name: Annotated[str, typer.Argument(help="ProcessingJobName.")],
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Stop a running processing job (SIGTERM, a grace period, then SIGKILL)."""
    session(home, endpoint_url, profile).control.stop_processing_job(ProcessingJobName=name)
    typer.echo(f"Stopping {name}")
