"""``sagebox flows create|add-step|remove-step|show|history|preview|export|list``.

Data Wrangler flows from the command line. Every edit saves a new version. Heavy
libraries (pyarrow, pandas, duckdb) are imported inside the commands, so ``sagebox
--help`` stays fast.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sagebox.cli._common import (
    EndpointOption,
    HomeOption,
    OutputOption,
    ProfileOption,
    aws_errors,
    check_output,
    print_json,
    print_table,
    session,
)

if TYPE_CHECKING:
    from sagebox.wrangler import Flow

app = typer.Typer(no_args_is_help=True, help="Data Wrangler flows: build, preview, export.")

VersionOption = Annotated[
    int | None, typer.Option("--version", help="A version of the flow (default: the latest).")
]


def parse_param(text: str) -> tuple[str, Any]:
    """``k=v``: ``v`` as JSON when it is JSON (``3``, ``true``, ``["a","b"]``), else text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        typer.echo(f"--param takes NAME=VALUE; got {text!r}.", err=True)
        raise typer.Exit(2)
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _load(s: Any, name: str, version: int | None = None) -> Flow:
    from sagebox.wrangler import Flow

    return Flow.load(s, name, version)


def _saved(flow: Flow, s: Any, what: str) -> None:
    version = flow.save(s)
    typer.echo(f"{what}; saved the flow {flow.name!r} as version {version}.")


@app.command()
@aws_errors()
def create(
    name: Annotated[str, typer.Argument(help="The flow's name.")],
    source: Annotated[
        str, typer.Option("--source", help="s3:// URI of the data (object or prefix).")
    ],
    format_: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet, json, jsonl or orc (default: detect)."),
    ] = None,
    no_header: Annotated[
        bool, typer.Option("--no-header", help="CSV without a header row.")
    ] = False,
    delimiter: Annotated[str, typer.Option(help="CSV delimiter.")] = ",",
    error_policy: Annotated[
        str, typer.Option(help="Malformed rows: fail, skip or quarantine.")
    ] = "fail",
    batch_rows: Annotated[int, typer.Option(help="Rows per streaming batch.")] = 65536,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Create a flow on a data source (version 1, no steps yet)."""
    from sagebox.data.formats import DataSource
    from sagebox.errors import ResourceInUse, ResourceNotFound
    from sagebox.wrangler import Flow

    s = session(home, endpoint_url, profile)
    try:
        Flow.load(s, name)
    except ResourceNotFound:
        pass
    else:
        raise ResourceInUse(
            f"A flow named {name!r} exists. Add steps to it ('sagebox flows add-step {name} "
            "TYPE --param k=v'), or choose another name."
        )
    data = DataSource(
        source,
        format=format_,  # type: ignore[arg-type]
        csv_header=not no_header,
        csv_delimiter=delimiter,
    )
    flow = Flow(name, source=data, error_policy=error_policy, batch_rows=batch_rows)  # type: ignore[arg-type]
    _saved(flow, s, f"Created the flow {name!r} on {source}")


@app.command("add-step")
@aws_errors()
def add_step(
    name: Annotated[str, typer.Argument(help="The flow's name.")],
    step_type: Annotated[str, typer.Argument(help="The step type, e.g. flatten, encode-one-hot.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE (repeatable; VALUE may be JSON)."),
    ] = None,
    step_id: Annotated[str | None, typer.Option("--id", help="The step's id.")] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Append a step to the flow's latest version (saved as a new version)."""
    s = session(home, endpoint_url, profile)
    parameters = dict(parse_param(p) for p in param or [])
    flow = _load(s, name).add(step_type, step_id=step_id, **parameters)
    _saved(flow, s, f"Added the step {flow.steps[-1].id!r} ({step_type})")


@app.command("remove-step")
@aws_errors()
def remove_step(
    name: Annotated[str, typer.Argument(help="The flow's name.")],
    step_id: Annotated[str, typer.Argument(help="The id of the step to remove.")],
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Remove a step (saved as a new version)."""
    s = session(home, endpoint_url, profile)
    _saved(_load(s, name).remove(step_id), s, f"Removed the step {step_id!r}")


@app.command()
@aws_errors()
def show(
    name: Annotated[str, typer.Argument(help="The flow's name.")],
    version: VersionOption = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Print a version of the flow as its JSON document."""
    flow = _load(session(home, endpoint_url, profile), name, version)
    print_json({"Version": flow.version, "Flow": flow.to_document()})


@app.command()
@aws_errors()
def history(
    name: Annotated[str, typer.Argument(help="The flow's name.")],
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "table",
) -> None:
    """List the versions of a flow."""
    from sagebox.wrangler import history as flow_history

    fmt = check_output(output)
    entries = flow_history(session(home, endpoint_url, profile), name)
    rows = [
        {
            "Version": e["Version"],
            "CreatedAt": e["CreatedAt"],
            "Steps": ", ".join(f"{st['Id']}" for st in e["Flow"].get("Steps", [])),
        }
        for e in entries
    ]
    if fmt == "json":
        print_json(entries)
    else:
        print_table(rows, ("Version", "CreatedAt", "Steps"))


@app.command("list")
@aws_errors()
def list_(
    name_contains: Annotated[str | None, typer.Option(help="Only names that contain this.")] = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "table",
) -> None:
    """List the stored flows, newest first."""
    from sagebox.wrangler import list_flows

    fmt = check_output(output)
    rows = [
        {
            "Name": f.name,
            "LatestVersion": f.latest_version,
            "Steps": f.steps,
            "Source": f.source,
            "LastModified": f.modified,
        }
        for f in list_flows(session(home, endpoint_url, profile), name_contains)
    ]
    if fmt == "json":
        print_json({"Flows": rows})
    else:
        print_table(rows, ("Name", "LatestVersion", "Steps", "Source", "LastModified"))


@app.command()
@aws_errors()
def preview(
    name: Annotated[str, typer.Argument(help="The flow's name.")],
    rows: Annotated[int, typer.Option("--rows", "-n", help="Rows of the source to run on.")] = 10,
    step: Annotated[str | None, typer.Option(help="Show only this step's output.")] = None,
    version: VersionOption = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
    output: OutputOption = "table",
) -> None:
    """Run each step on the first rows of the source and show what comes out."""
    fmt = check_output(output)
    s = session(home, endpoint_url, profile)
    previews = _load(s, name, version).preview(s, rows)
    if step is not None:
        previews = [p for p in previews if p.step_id == step]
        if not previews:
            typer.echo(f"The flow {name!r} has no step {step!r}.", err=True)
            raise typer.Exit(2)
    if fmt == "json":
        print_json(
            [
                {
                    "StepId": p.step_id,
                    "Type": p.type,
                    "Rows": p.rows,
                    "Schema": [{"Name": f.name, "Type": str(f.type)} for f in p.schema],
                    "Head": p.table.to_pylist(),
                }
                for p in previews
            ]
        )
        return
    for p in previews:
        typer.echo(f"\n{p.step_id} ({p.type}): {p.rows} rows, {len(p.schema)} columns")
        columns = p.schema.names
        print_table(p.table.to_pylist(), columns)


@app.command()
@aws_errors()
def export(
    name: Annotated[str, typer.Argument(help="The flow's name.")],
    out: Annotated[str, typer.Option("--out", help="s3:// prefix to write the output under.")],
    format_: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
    label: Annotated[
        str | None,
        typer.Option("--label", help="CSV for built-in algorithms: label first, no header."),
    ] = None,
    instance_type: Annotated[
        str, typer.Option(help="The processing instance type.")
    ] = "ml.m5.xlarge",
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the job to end.")] = True,
    version: VersionOption = None,
    home: HomeOption = None,
    endpoint_url: EndpointOption = None,
    profile: ProfileOption = None,
) -> None:
    """Run the flow over all of the data in a processing job, writing under --out."""
    from sagebox.sdk.processing import UnexpectedStatusError

    s = session(home, endpoint_url, profile)
    flow = _load(s, name, version)
    try:
        job = flow.export(
            s, out, format=format_, label_column=label, wait=wait, instance_type=instance_type
        )
    except UnexpectedStatusError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    if wait:
        typer.echo(f"Exported the flow {name!r} (version {flow.version}) with the job {job}.")
        typer.echo(f"Output under {out.rstrip('/')}/, report: {out.rstrip('/')}/_report.json")
    else:
        typer.echo(f"Started the processing job {job}; follow it with 'sagebox logs {job} -f'.")
