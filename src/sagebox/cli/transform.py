"""``sagebox transform-jobs create|describe|list|stop``."""

from __future__ import annotations

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
    "Transform",
    (
        "TransformJobName",
        "TransformJobStatus",
        "CreationTime",
        "TransformEndTime",
        "FailureReason",
    ),
)


def build_request(spec: dict[str, Any], **flags: Any) -> dict[str, Any]:
    """A CreateTransformJob request: the spec file's fields, then the flags over them."""
    request = dict(spec)

    def put(path: tuple[str, ...], value: Any) -> None:
        if value is None:
            return
        target = request
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value

    put(("TransformJobName",), flags["name"])
    put(("ModelName",), flags["model"])
    source = ("TransformInput", "DataSource", "S3DataSource")
    if flags["input"]:
        put((*source, "S3Uri"), flags["input"])
        put((*source, "S3DataType"), "ManifestFile" if flags["manifest"] else "S3Prefix")
    put(("TransformInput", "ContentType"), flags["content_type"])
    put(("TransformInput", "SplitType"), flags["split_type"])
    put(("TransformInput", "CompressionType"), flags["compression"])
    put(("TransformOutput", "S3OutputPath"), flags["output_path"])
    put(("TransformOutput", "Accept"), flags["accept"])
    put(("TransformOutput", "AssembleWith"), flags["assemble_with"])
    put(("TransformResources", "InstanceType"), flags["instance_type"])
    put(("TransformResources", "InstanceCount"), flags["instance_count"])
    request.setdefault("TransformResources", {}).setdefault("InstanceType", "ml.m5.xlarge")
    request["TransformResources"].setdefault("InstanceCount", 1)
    put(("BatchStrategy",), flags["strategy"])
    put(("MaxPayloadInMB",), flags["max_payload"])
    put(("MaxConcurrentTransforms",), flags["max_concurrent"])
    put(("DataProcessing", "InputFilter"), flags["input_filter"])
    put(("DataProcessing", "OutputFilter"), flags["output_filter"])
    put(("DataProcessing", "JoinSource"), flags["join_source"])
    return request


@app.command()
@aws_errors("CreateTransformJob")
def create(
    spec_file: Annotated[
        Path | None,
        typer.Option("--spec", help="A JSON or YAML file with a CreateTransformJob request."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="TransformJobName.")] = None,
    model: Annotated[str | None, typer.Option(help="ModelName (see 'sagebox models').")] = None,
    input_: Annotated[
        str | None, typer.Option("--input", help="S3 URI of the input prefix (or manifest).")
    ] = None,
    manifest: Annotated[
        bool, typer.Option("--manifest", help="--input is a manifest file.")
    ] = False,
    output_path: Annotated[
        str | None, typer.Option("--output-path", help="TransformOutput.S3OutputPath.")
    ] = None,
    content_type: Annotated[
        str | None, typer.Option(help="TransformInput.ContentType, e.g. text/csv.")
    ] = None,
    accept: Annotated[str | None, typer.Option(help="TransformOutput.Accept.")] = None,
    split_type: Annotated[str | None, typer.Option(help="None or Line.")] = None,
    compression: Annotated[str | None, typer.Option(help="None or Gzip.")] = None,
    assemble_with: Annotated[str | None, typer.Option(help="None or Line.")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="BatchStrategy: SingleRecord or MultiRecord.")
    ] = None,
    max_payload: Annotated[int | None, typer.Option(help="MaxPayloadInMB (0-100).")] = None,
    max_concurrent: Annotated[
        int | None, typer.Option(help="MaxConcurrentTransforms per instance.")
    ] = None,
    instance_type: Annotated[str | None, typer.Option(help="e.g. ml.m5.xlarge.")] = None,
    instance_count: Annotated[int | None, typer.Option(help="Number of instances.")] = None,
    input_filter: Annotated[
        str | None, typer.Option(help="DataProcessing.InputFilter, e.g. '$[1:]'.")
    ] = None,
    output_filter: Annotated[
        str | None, typer.Option(help="DataProcessing.OutputFilter, e.g. '$[0,-1]'.")
    ] = None,
    join_source: Annotated[
        str | None, typer.Option(help="DataProcessing.JoinSource: None or Input.")
    ] = None,
    wait: WaitOption = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "json",
) -> None:
    """Create a batch transform job from a spec file and/or flags."""
    fmt = check_output(output)
    request = build_request(
        load_spec(spec_file) if spec_file else {},
        name=name,
        model=model,
        input=input_,
        manifest=manifest,
        output_path=output_path,
        content_type=content_type,
        accept=accept,
        split_type=split_type,
        compression=compression,
        assemble_with=assemble_with,
        strategy=strategy,
        max_payload=max_payload,
        max_concurrent=max_concurrent,
        instance_type=instance_type,
        instance_count=instance_count,
        input_filter=input_filter,
        output_filter=output_filter,
        join_source=join_source,
    )
    s = session(home, endpoint_url, profile)
    response = s.control.create_transform_job(**request)
    JOBS.finish(s, response, request["TransformJobName"], fmt, wait)


JOBS.register(app)
