"""``sagebox invoke``: one InvokeEndpoint call, the body from a flag, a file or stdin."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sagebox.cli._common import EndpointOption, HomeOption, ProfileOption, aws_errors, session


def register(app: typer.Typer) -> None:
    """Add the ``invoke`` command to the root app."""
    app.command("invoke")(invoke)


@aws_errors("InvokeEndpoint")
def invoke(
    endpoint: Annotated[str, typer.Argument(help="The endpoint's name.")],
    body: Annotated[
        str | None, typer.Option("--body", "-b", help="The request body, as text.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Read the request body from this file ('-': stdin)."),
    ] = None,
    content_type: Annotated[
        str, typer.Option("--content-type", "-t", help="The body's MIME type.")
    ] = "text/csv",
    accept: Annotated[
        str | None, typer.Option("--accept", "-a", help="The MIME type wanted back.")
    ] = None,
    target_variant: Annotated[
        str | None,
        typer.Option("--target-variant", help="Send to this production variant, not by weight."),
    ] = None,
    custom_attributes: Annotated[
        str | None,
        typer.Option("--custom-attributes", help="Passed to the model as the AWS header is."),
    ] = None,
    inference_id: Annotated[
        str | None, typer.Option("--inference-id", help="An id for data capture records.")
    ] = None,
    show_variant: Annotated[
        bool,
        typer.Option("--show-variant", help="Print the invoked variant on stderr."),
    ] = False,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Invoke an endpoint and print the model's answer (InvokeEndpoint)."""
    if (body is None) == (file is None):
        typer.echo("Give the request body with exactly one of --body or --file.", err=True)
        raise typer.Exit(2)
    if file is not None:
        payload = sys.stdin.buffer.read() if str(file) == "-" else _read(file)
    else:
        payload = (body or "").encode()
    request: dict[str, object] = {
        "EndpointName": endpoint,
        "Body": payload,
        "ContentType": content_type,
    }
    optional = {
        "Accept": accept,
        "TargetVariant": target_variant,
        "CustomAttributes": custom_attributes,
        "InferenceId": inference_id,
    }
    request.update({k: v for k, v in optional.items() if v is not None})
    client = session(home, endpoint_url, profile).sagemaker_runtime_client
    response = client.invoke_endpoint(**request)
    answer = response["Body"]
    data = answer.read() if hasattr(answer, "read") else answer  # boto3's stream, remote
    if show_variant:
        typer.echo(
            f"variant {response.get('InvokedProductionVariant')}, "
            f"content type {response.get('ContentType')}",
            err=True,
        )
    sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
    sys.stdout.flush()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        typer.echo(f"Cannot read --file {path}: {error.strerror}.", err=True)
        raise typer.Exit(2) from None
