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
    WaitOption,
    aws_errors,
    check_output,
    load_spec,
    session,
)
from sagebox.cli._jobs import JobCommands

app = typer.Typer(no_args_is_help=True)

JOBS = JobCommands(
    "Processing",
    (
        "ProcessingJobName",
        "ProcessingJobStatus",
        "CreationTime",
        "ProcessingEndTime",
        "FailureReason",
    ),
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
    wait: WaitOption = False,
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
    JOBS.finish(s, response, request["ProcessingJobName"], fmt, wait)


JOBS.register(app)
