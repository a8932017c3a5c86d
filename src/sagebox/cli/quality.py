"""``sagebox data report``: the data quality and insights report of ``s3://`` data.

``register(app)`` adds the ``report`` command to the ``data`` sub-app. The heavy libraries
(pyarrow, pandas, scikit-learn) are imported when the command runs, not when the CLI loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, cast

import typer

from sagebox.cli._common import HomeOption, aws_errors, check_output, print_json

_SEVERITIES = ("high", "medium", "low", "info")
_SHOWN = 8


def register(app: typer.Typer) -> None:
    """Add ``report`` to ``app`` (the ``sagebox data`` sub-app)."""
    app.command("report")(aws_errors()(report))


def report(
    source: Annotated[
        str, typer.Argument(help="The data: an object or a prefix, e.g. s3://loan-data/raw/.")
    ],
    out: Annotated[
        str,
        typer.Option(
            "--out", help="Where report.json and report.html go, e.g. s3://loan-data/reports/q1."
        ),
    ],
    target: Annotated[
        str | None,
        typer.Option(
            "--target", help="The label column (enables imbalance, leakage, quick model)."
        ),
    ] = None,
    format: Annotated[
        str | None,
        typer.Option("--format", help="csv, parquet, json, jsonl or orc (default: detect)."),
    ] = None,
    problem_type: Annotated[
        str | None,
        typer.Option("--problem-type", help="classification or regression (default: infer)."),
    ] = None,
    on_error: Annotated[
        str,
        typer.Option("--on-error", help="Malformed rows: skip (count them), fail or quarantine."),
    ] = "skip",
    quarantine: Annotated[
        str | None,
        typer.Option("--quarantine", help="With --on-error quarantine: the s3:// error file."),
    ] = None,
    seed: Annotated[int, typer.Option(help="The random seed of sampling and the quick model.")] = 0,
    batch_rows: Annotated[
        int, typer.Option("--batch-rows", min=1, help="Rows per streamed batch.")
    ] = 65536,
    model: Annotated[
        bool, typer.Option("--model/--no-model", help="Run the quick model (needs --target).")
    ] = True,
    output: Annotated[str, typer.Option("--output", "-o", help="json or table.")] = "table",
    home: HomeOption = None,
) -> None:
    """Profile data and write its quality report (JSON and a self-contained HTML page)."""
    check_output(output)
    if problem_type not in (None, "classification", "regression"):
        typer.echo(
            f"--problem-type must be classification or regression; got {problem_type!r}.",
            err=True,
        )
        raise typer.Exit(2)
    from sagebox.data.formats import DataSource
    from sagebox.data.quality import quality_report

    written = quality_report(
        _store(home),
        # DataSource and the reader validate these strings, with messages that say how to fix them.
        DataSource(source, format=cast(Any, format)),
        out,
        target=target,
        problem_type=cast(Any, problem_type),
        on_error=cast(Any, on_error),
        quarantine_uri=quarantine,
        batch_rows=batch_rows,
        seed=seed,
        quick_model=model,
    )
    if output == "json":
        print_json(
            {
                "Report": written.html_uri,
                "ReportJson": written.json_uri,
                "Summary": written.report["summary"],
            }
        )
        return
    _print_summary(written.report, source)
    typer.echo(f"Report: {written.html_uri}")
    typer.echo(f"        {written.json_uri}")


def _store(home: Path | None) -> Any:
    from sagebox.home import Home

    return Home.open(home).objects


def _print_summary(report: dict[str, Any], source: str) -> None:
    summary = report["summary"]
    typer.echo(
        f"Profiled {summary['rows']:,} rows, {summary['columns']} columns of {source} "
        f"({summary['malformed_rows']:,} malformed rows skipped, "
        f"{summary['duplicate_rows']:,} duplicate rows)."
    )
    quick = report.get("quick_model")
    if quick and "skipped" in quick:
        typer.echo(f"Quick model: not run ({quick['skipped']})")
    elif quick:
        typer.echo(
            f"Quick model: {quick['metric'].upper()} {quick['score']:.3f} "
            f"± {quick['score_std']:.3f} ({quick['folds']}-fold random forest on "
            f"{quick['rows']:,} rows); top features: "
            + ", ".join(i["feature"] for i in quick["importances"][:3])
        )
    counts = summary["insights"]
    typer.echo("Insights: " + ", ".join(f"{counts[s]} {s}" for s in _SEVERITIES))
    for insight in report["insights"][:_SHOWN]:
        typer.echo(f"  [{insight['severity']}] {insight['message']}")
    if len(report["insights"]) > _SHOWN:
        typer.echo(f"  ... and {len(report['insights']) - _SHOWN} more in the report.")
