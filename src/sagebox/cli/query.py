"""``sagebox query "SELECT ... FROM db.table WHERE year = 2024"``: SQL over the lake."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sagebox.cli._common import HomeOption, aws_errors, print_table

MAX_SHOWN = 100


def register(app: typer.Typer) -> None:
    """Add the ``query`` command to the root app."""
    app.command("query")(query)


@aws_errors()
def query(
    sql: Annotated[str, typer.Argument(help="One SELECT over catalog tables (db.table).")],
    out: Annotated[
        str | None,
        typer.Option("--out", help="Also write the result to S3 (s3://bucket/key or prefix/)."),
    ] = None,
    format: Annotated[
        str | None, typer.Option("--format", help="Result format in S3: csv or parquet.")
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", "-d", help="Database of unqualified tables.")
    ] = None,
    max_rows: Annotated[int, typer.Option(help="Rows to print at most.")] = MAX_SHOWN,
    home: HomeOption = None,
) -> None:
    """Run SQL over Data Catalog tables with partition pruning (DuckDB), as Athena does."""
    from sagebox.glue.query import QueryStats, run_query
    from sagebox.session import Session

    if format not in (None, "csv", "parquet"):
        typer.echo(f"--format must be csv or parquet; got {format!r}.", err=True)
        raise typer.Exit(2)
    stats = QueryStats()
    result = run_query(
        Session(home),
        sql,
        output=out,
        output_format=format,  # type: ignore[arg-type]
        database=database,
        stats=stats,
    )
    shown_part = result.slice(0, max_rows)
    labels = _labels(result.column_names)
    columns = [shown_part.column(i).to_pylist() for i in range(result.num_columns)]
    rows: list[dict[str, Any]] = [
        dict(zip(labels, values, strict=True)) for values in zip(*columns, strict=False)
    ]
    if result.num_columns:
        print_table(rows, labels)
    shown = f" ({len(rows)} shown)" if result.num_rows > len(rows) else ""
    del shown_part
    typer.echo(f"{result.num_rows} row{'s' * (result.num_rows != 1)}{shown}; {stats.line()}")
    if stats.output_uri:
        typer.echo(f"written to {stats.output_uri}")


def _labels(names: list[str]) -> list[str]:
    """Column headings, made distinct (a join may return two columns called ``id``)."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return labels
