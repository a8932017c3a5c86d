"""``sagebox metrics get``: an endpoint's per-minute metrics, with CloudWatch's names."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from sagebox.cli._common import HomeOption, OutputOption, aws_errors, check_output, print_json

app = typer.Typer(
    help="Endpoint metrics (Invocations, ModelLatency ...) per minute, as CloudWatch has them.",
    subcommand_metavar="",
)

_STATISTICS = ("Average", "Sum", "SampleCount", "Minimum", "Maximum")


@app.command("get")
@aws_errors()
def get(
    endpoint: Annotated[str, typer.Option("--endpoint", "-e", help="The endpoint's name.")],
    variant: Annotated[
        str | None, typer.Option("--variant", help="Only this production variant.")
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", "-m", help="Only this metric, e.g. ModelLatency."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this long ago (30m, 12h, 7d) or an ISO-8601 time."),
    ] = "1h",
    statistic: Annotated[
        list[str] | None,
        typer.Option(
            "--statistic", "-s", help="Statistics to show (repeatable); default all five."
        ),
    ] = None,
    output: OutputOption = "table",
    home: HomeOption = None,
) -> None:
    """Print an endpoint's metrics, one row per minute, variant and metric."""
    from sagebox.cli.audit import parse_since_option
    from sagebox.errors import ResourceNotFound
    from sagebox.home import Home
    from sagebox.serving.metrics import METRICS, query

    fmt = check_output(output)
    if metric is not None and metric not in METRICS:
        typer.echo(f"Unknown --metric {metric!r}; use one of {', '.join(METRICS)}.", err=True)
        raise typer.Exit(2)
    wanted = tuple(statistic or _STATISTICS)
    unknown = [s for s in wanted if s not in _STATISTICS]
    if unknown:
        typer.echo(
            f"Unknown --statistic {unknown[0]!r}; use any of {', '.join(_STATISTICS)}.", err=True
        )
        raise typer.Exit(2)
    opened = Home.open(home, create=False)
    try:
        arn = opened.metadata.get("endpoint", endpoint).arn
    except ResourceNotFound:
        arn = opened.arn("sagemaker", f"endpoint/{endpoint.lower()}")
    try:
        points = query(opened, arn, variant=variant, metric=metric, since=parse_since_option(since))
    except ResourceNotFound:
        points = []
    rows: list[dict[str, Any]] = [
        {
            "Timestamp": p.timestamp,
            "Variant": p.variant,
            "Metric": p.metric,
            **{s: p.statistic(s) for s in wanted},
            "Unit": p.unit,
        }
        for p in points
    ]
    if fmt == "json":
        print_json({"Endpoint": endpoint, "Datapoints": rows})
        return
    if not rows:
        typer.echo(
            f"No metrics for endpoint {endpoint} in that time. Metrics appear once the "
            "endpoint is invoked, each minute after it ends."
        )
        return
    _table(rows, ("Timestamp", "Variant", "Metric", *wanted, "Unit"))


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns)
    for row in rows:
        cells = []
        for column in columns:
            value = row[column]
            if column == "Timestamp":
                cells.append(value.strftime("%Y-%m-%d %H:%M"))
            elif isinstance(value, float):
                cells.append("" if math.isnan(value) else f"{value:,.6g}")
            else:
                cells.append(str(value))
        table.add_row(*cells)
    Console().print(table)
