"""``sagebox models|endpoint-configs|endpoints ...``: what hosting is made of.

``sagebox endpoints create`` makes the endpoint config and the endpoint in one go, from
flags (one variant) or a spec file in CreateEndpointConfig's shape.
"""

# No "from __future__ import annotations": typer reads these annotations at run time.
from dataclasses import dataclass
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
from sagebox.cli._jobs import snake_case

models_app = typer.Typer(no_args_is_help=True)
configs_app = typer.Typer(no_args_is_help=True)
endpoints_app = typer.Typer(no_args_is_help=True)


def _article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


@dataclass(frozen=True)
class ResourceCommands:
    """describe, list and delete for a resource named ``<Noun>Name``."""

    noun: str  # "Model", "EndpointConfig", "Endpoint"
    plural_key: str  # the List response's member: "Models"
    columns: tuple[str, ...]
    has_status: bool = False

    @property
    def title(self) -> str:  # "endpoint config"
        return "".join(f" {c.lower()}" if c.isupper() else c for c in self.noun).strip()

    def register(self, app: typer.Typer) -> None:
        spec = self
        name_field = f"{self.noun}Name"
        snake = snake_case(self.noun)

        @app.command()
        @aws_errors(f"Describe{self.noun}")
        def describe(
            name: Annotated[str, typer.Argument(help=f"{name_field}.")],
            home: HomeOption = None,
            endpoint_url: EndpointOption = None,
            profile: ProfileOption = None,
            output: OutputOption = "json",
        ) -> None:
            fmt = check_output(output)
            control = session(home, endpoint_url, profile).control
            result = getattr(control, f"describe_{snake}")(**{name_field: name})
            print_json(result) if fmt == "json" else print_mapping(result)

        describe.__doc__ = f"Describe {_article(self.title)}."

        @app.command("list")
        @aws_errors(f"List{self.noun}s")
        def list_(
            name_contains: Annotated[str | None, typer.Option(help="NameContains.")] = None,
            status: Annotated[
                str | None, typer.Option(help="StatusEquals (endpoints only).")
            ] = None,
            max_results: Annotated[int, typer.Option(help="Page size (1-100).")] = 100,
            home: HomeOption = None,
            endpoint_url: EndpointOption = None,
            profile: ProfileOption = None,
            output: OutputOption = "table",
        ) -> None:
            fmt = check_output(output)
            control = session(home, endpoint_url, profile).control
            request: dict[str, Any] = {"MaxResults": max_results}
            if name_contains:
                request["NameContains"] = name_contains
            if status:
                if not spec.has_status:
                    fail(f"--status filters endpoints only; {spec.noun}s have no status.")
                request["StatusEquals"] = status
            items = getattr(control, f"list_{snake}s")(**request)[spec.plural_key]
            if fmt == "json":
                print_json({spec.plural_key: items})
            else:
                print_table(items, spec.columns)

        list_.__doc__ = f"List {self.title}s, newest first."

        @app.command()
        @aws_errors(f"Delete{self.noun}")
        def delete(
            name: Annotated[str, typer.Argument(help=f"{name_field}.")],
            home: HomeOption = None,
            endpoint_url: EndpointOption = None,
            profile: ProfileOption = None,
        ) -> None:
            control = session(home, endpoint_url, profile).control
            getattr(control, f"delete_{snake}")(**{name_field: name})
            typer.echo(f"Deleted {spec.noun} {name}.")

        delete.__doc__ = f"Delete {_article(self.title)}."


ResourceCommands("Model", "Models", ("ModelName", "CreationTime", "ModelArn")).register(models_app)
ResourceCommands(
    "EndpointConfig", "EndpointConfigs", ("EndpointConfigName", "CreationTime")
).register(configs_app)
ResourceCommands(
    "Endpoint",
    "Endpoints",
    ("EndpointName", "EndpointStatus", "CreationTime", "LastModifiedTime"),
    has_status=True,
).register(endpoints_app)


@models_app.command()
@aws_errors("CreateModel")
def create(
    name: Annotated[str, typer.Argument(help="ModelName.")],
    image: Annotated[
        str | None, typer.Option(help="The inference image: an ECR URI or a short name.")
    ] = None,
    model_data: Annotated[
        str | None, typer.Option(help="ModelDataUrl: the model.tar.gz a training job wrote.")
    ] = None,
    role: Annotated[str | None, typer.Option(help="ExecutionRoleArn.")] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="Environment NAME=VALUE (repeatable).")
    ] = None,
    from_training_job: Annotated[
        str | None,
        typer.Option(help="Take the image, model data and role of this training job."),
    ] = None,
    spec: Annotated[
        Path | None, typer.Option(help="A JSON/YAML file in CreateModel's shape.")
    ] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Create a model: an inference image, model data and an execution role."""
    s = session(home, endpoint_url, profile)
    request: dict[str, Any] = load_spec(spec) if spec else {}
    request["ModelName"] = name
    container = dict(request.get("PrimaryContainer", {}))
    if from_training_job:
        job = s.control.describe_training_job(TrainingJobName=from_training_job)
        if "ModelArtifacts" not in job:
            fail(
                f"Training job {from_training_job} has no model yet (status "
                f"{job['TrainingJobStatus']}); wait for it to complete."
            )
        container.setdefault("Image", job["AlgorithmSpecification"]["TrainingImage"])
        container.setdefault("ModelDataUrl", job["ModelArtifacts"]["S3ModelArtifacts"])
        request.setdefault("ExecutionRoleArn", job["RoleArn"])
    if image:
        container["Image"] = image
    if model_data:
        container["ModelDataUrl"] = model_data
    if env:
        container["Environment"] = {**container.get("Environment", {}), **pairs(env, "--env")}
    if role:
        request["ExecutionRoleArn"] = role
    if container and "Containers" not in request:
        request["PrimaryContainer"] = container
    if "ExecutionRoleArn" not in request:
        request["ExecutionRoleArn"] = s.get_execution_role()
    result = s.control.create_model(**request)
    typer.echo(result["ModelArn"])


@configs_app.command("create")
@aws_errors("CreateEndpointConfig")
def create_config(
    spec: Annotated[Path, typer.Argument(help="A JSON/YAML file in CreateEndpointConfig's shape.")],
    name: Annotated[str | None, typer.Option(help="EndpointConfigName (overrides)")] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Create an endpoint config from a spec file."""
    request = load_spec(spec)
    if name:
        request["EndpointConfigName"] = name
    result = session(home, endpoint_url, profile).control.create_endpoint_config(**request)
    typer.echo(result["EndpointConfigArn"])


def _variant(
    model: str,
    variant: str,
    instance_type: str | None,
    instance_count: int,
    memory: int | None,
    max_concurrency: int | None,
    provisioned: int | None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"VariantName": variant, "ModelName": model}
    if memory or max_concurrency or provisioned:
        serverless: dict[str, Any] = {
            "MemorySizeInMB": memory or 2048,
            "MaxConcurrency": max_concurrency or 5,
        }
        if provisioned:
            serverless["ProvisionedConcurrency"] = provisioned
        entry["ServerlessConfig"] = serverless
        return entry
    entry.update(
        InstanceType=instance_type or "ml.m5.large",
        InitialInstanceCount=instance_count,
        InitialVariantWeight=1.0,
    )
    return entry


def _wait(s: Any, name: str) -> dict[str, Any]:
    from rich.console import Console

    from sagebox.sdk.model import EndpointFailedError, wait_for_endpoint

    console = Console(stderr=True)
    with console.status(f"{name}: Creating"):
        try:
            description = wait_for_endpoint(s, name)
        except EndpointFailedError as error:
            fail(str(error))
    console.print(f"{name}: {description['EndpointStatus']}")
    return description


@endpoints_app.command("create")
@aws_errors("CreateEndpoint")
def create_endpoint(
    name: Annotated[str, typer.Argument(help="EndpointName.")],
    model: Annotated[
        str | None, typer.Option(help="ModelName of the one variant (or give --spec).")
    ] = None,
    variant: Annotated[str, typer.Option(help="VariantName.")] = "AllTraffic",
    instance_type: Annotated[str | None, typer.Option(help="Real-time: InstanceType.")] = None,
    instance_count: Annotated[int, typer.Option(help="Real-time: InitialInstanceCount.")] = 1,
    memory: Annotated[
        int | None, typer.Option(help="Serverless: MemorySizeInMB (1024-6144, step 1024).")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(help="Serverless: MaxConcurrency (1-200).")
    ] = None,
    provisioned_concurrency: Annotated[
        int | None, typer.Option(help="Serverless: ProvisionedConcurrency.")
    ] = None,
    capture_to: Annotated[
        str | None, typer.Option(help="DataCaptureConfig.DestinationS3Uri: capture traffic.")
    ] = None,
    capture_percent: Annotated[
        int, typer.Option(help="DataCaptureConfig.InitialSamplingPercentage.")
    ] = 100,
    spec: Annotated[
        Path | None,
        typer.Option(help="A JSON/YAML file in CreateEndpointConfig's shape (instead of flags)."),
    ] = None,
    config_name: Annotated[
        str | None, typer.Option(help="EndpointConfigName (default: the endpoint's name).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait until InService.")] = True,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "json",
) -> None:
    """Create an endpoint config and an endpoint that serves it."""
    fmt = check_output(output)
    s = session(home, endpoint_url, profile)
    if spec is not None:
        config = load_spec(spec)
    elif model is not None:
        config = {
            "ProductionVariants": [
                _variant(
                    model,
                    variant,
                    instance_type,
                    instance_count,
                    memory,
                    max_concurrency,
                    provisioned_concurrency,
                )
            ]
        }
    else:
        fail("Give --model (one variant from flags) or --spec (a CreateEndpointConfig file).")
    if capture_to:
        config["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": capture_percent,
            "DestinationS3Uri": capture_to,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        }
    config["EndpointConfigName"] = config_name or config.get("EndpointConfigName") or name
    s.control.create_endpoint_config(**config)
    s.control.create_endpoint(EndpointName=name, EndpointConfigName=config["EndpointConfigName"])
    description = _wait(s, name) if wait else s.control.describe_endpoint(EndpointName=name)
    print_json(description) if fmt == "json" else print_mapping(description)


@endpoints_app.command()
@aws_errors("UpdateEndpoint")
def update(
    name: Annotated[str, typer.Argument(help="EndpointName.")],
    config: Annotated[str, typer.Option(help="The new EndpointConfigName.")],
    wait: Annotated[bool, typer.Option(help="Wait until InService again.")] = True,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Switch an endpoint to another config, without a dropped request."""
    s = session(home, endpoint_url, profile)
    s.control.update_endpoint(EndpointName=name, EndpointConfigName=config)
    if wait:
        _wait(s, name)


@endpoints_app.command()
@aws_errors("UpdateEndpointWeightsAndCapacities")
def weights(
    name: Annotated[str, typer.Argument(help="EndpointName.")],
    weight: Annotated[
        list[str] | None, typer.Option("--weight", help="VARIANT=WEIGHT (repeatable).")
    ] = None,
    count: Annotated[
        list[str] | None, typer.Option("--count", help="VARIANT=INSTANCES (repeatable).")
    ] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Change variants' weights and instance counts."""
    desired: dict[str, dict[str, Any]] = {}
    for variant, value in pairs(weight or [], "--weight").items():
        desired.setdefault(variant, {"VariantName": variant})["DesiredWeight"] = float(value)
    for variant, value in pairs(count or [], "--count").items():
        desired.setdefault(variant, {"VariantName": variant})["DesiredInstanceCount"] = int(value)
    if not desired:
        fail("Give at least one --weight VARIANT=WEIGHT or --count VARIANT=INSTANCES.")
    s = session(home, endpoint_url, profile)
    s.control.update_endpoint_weights_and_capacities(
        EndpointName=name, DesiredWeightsAndCapacities=list(desired.values())
    )
    _wait(s, name)
