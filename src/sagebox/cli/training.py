"""``sagebox training-jobs create|describe|list|stop``."""

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
    pairs,
    session,
)
from sagebox.cli._jobs import JobCommands

app = typer.Typer(no_args_is_help=True)

JOBS = JobCommands(
    "Training",
    (
        "TrainingJobName",
        "TrainingJobStatus",
        "SecondaryStatus",
        "CreationTime",
        "TrainingEndTime",
    ),
)


def build_request(
    spec: dict[str, Any],
    *,
    name: str | None,
    image: str | None,
    role: str | None,
    instance_type: str | None,
    instance_count: int | None,
    hyperparameters: dict[str, str],
    channels: dict[str, str],
    content_type: str,
    input_mode: str | None,
    output_path: str | None,
    max_runtime: int | None,
    checkpoint_s3_uri: str | None,
) -> dict[str, Any]:
    """A CreateTrainingJob request: the spec file's fields, then the flags over them."""
    request = dict(spec)
    if name:
        request["TrainingJobName"] = name
    algorithm = dict(request.get("AlgorithmSpecification", {}))
    if image:
        algorithm["TrainingImage"] = image
    if input_mode:
        algorithm["TrainingInputMode"] = input_mode
    algorithm.setdefault("TrainingInputMode", "File")
    request["AlgorithmSpecification"] = algorithm
    if role:
        request["RoleArn"] = role
    if hyperparameters:
        request["HyperParameters"] = {**request.get("HyperParameters", {}), **hyperparameters}
    if channels:
        request["InputDataConfig"] = [
            {
                "ChannelName": channel,
                "ContentType": content_type,
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": uri,
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel, uri in channels.items()
        ]
    if output_path:
        request["OutputDataConfig"] = {"S3OutputPath": output_path}
    resources = dict(request.get("ResourceConfig", {}))
    if instance_type:
        resources["InstanceType"] = instance_type
    if instance_count:
        resources["InstanceCount"] = instance_count
    resources.setdefault("InstanceType", "ml.m5.xlarge")
    resources.setdefault("InstanceCount", 1)
    resources.setdefault("VolumeSizeInGB", 30)
    request["ResourceConfig"] = resources
    if max_runtime:
        request["StoppingCondition"] = {"MaxRuntimeInSeconds": max_runtime}
    request.setdefault("StoppingCondition", {"MaxRuntimeInSeconds": 86400})
    if checkpoint_s3_uri:
        request["CheckpointConfig"] = {"S3Uri": checkpoint_s3_uri}
    return request


@app.command()
@aws_errors("CreateTrainingJob")
def create(
    spec_file: Annotated[
        Path | None,
        typer.Option("--spec", help="A JSON or YAML file with a CreateTrainingJob request."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="TrainingJobName.")] = None,
    image: Annotated[
        str | None,
        typer.Option(help="AlgorithmSpecification.TrainingImage, e.g. sagebox/xgboost."),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option(help="RoleArn; default: the home's SageboxExecutionRole (embedded only)."),
    ] = None,
    instance_type: Annotated[str | None, typer.Option(help="e.g. ml.m5.xlarge.")] = None,
    instance_count: Annotated[int | None, typer.Option(help="Number of instances.")] = None,
    hyperparameter: Annotated[
        list[str] | None,
        typer.Option("--hyperparameter", "-p", help="NAME=VALUE (repeatable), e.g. num_round=100."),
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", "-c", help="NAME=S3URI (repeatable), e.g. train=s3://b/train/."),
    ] = None,
    content_type: Annotated[
        str, typer.Option(help="ContentType of the --channel channels.")
    ] = "text/csv",
    input_mode: Annotated[str | None, typer.Option(help="File, Pipe or FastFile.")] = None,
    output_path: Annotated[
        str | None, typer.Option(help="OutputDataConfig.S3OutputPath for model.tar.gz.")
    ] = None,
    max_runtime: Annotated[int | None, typer.Option(help="MaxRuntimeInSeconds.")] = None,
    checkpoint_s3_uri: Annotated[
        str | None, typer.Option(help="CheckpointConfig.S3Uri (synced while training).")
    ] = None,
    wait: WaitOption = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "json",
) -> None:
    """Create a training job from a spec file and/or flags."""
    fmt = check_output(output)
    s = session(home, endpoint_url, profile)
    request = build_request(
        load_spec(spec_file) if spec_file else {},
        name=name,
        image=image,
        role=role,
        instance_type=instance_type,
        instance_count=instance_count,
        hyperparameters=pairs(hyperparameter or [], "--hyperparameter"),
        channels=pairs(channel or [], "--channel"),
        content_type=content_type,
        input_mode=input_mode,
        output_path=output_path,
        max_runtime=max_runtime,
        checkpoint_s3_uri=checkpoint_s3_uri,
    )
    if "RoleArn" not in request and not endpoint_url:
        request["RoleArn"] = s.get_execution_role()
    if "OutputDataConfig" not in request and not endpoint_url:
        request["OutputDataConfig"] = {"S3OutputPath": f"s3://{s.default_bucket()}"}
    response = s.control.create_training_job(**request)
    name = request["TrainingJobName"]
    JOBS.finish(s, response, name, fmt, wait, lambda d: f"({d.get('SecondaryStatus', '')})")


JOBS.register(app)
