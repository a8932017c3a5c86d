"""``sagebox data preview|sample``: look at data in the object store before importing it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sagebox.cli._common import HomeOption, aws_errors, check_output, print_json

if TYPE_CHECKING:
    import pyarrow as pa

    from sagebox.data.formats import DataSource

app = typer.Typer(
    no_args_is_help=True, help="Preview and sample data files (CSV, Parquet, JSON...)."
)

FormatOption = Annotated[
    str | None,
    typer.Option("--format", help="csv, parquet, json, jsonl or orc (default: detected)."),
]
NoHeaderOption = Annotated[bool, typer.Option("--no-header", help="CSV files have no header row.")]
DelimiterOption = Annotated[str, typer.Option("--delimiter", help="The CSV delimiter.")]
OutputOption = Annotated[str, typer.Option("--output", "-o", help="json or table.")]


def _source(uri: str, format: str | None, no_header: bool, delimiter: str) -> DataSource:
    from sagebox.data.formats import DataSource

    return DataSource(
        uri,
        format=format,  # type: ignore[arg-type]  # checked by DataSource
        csv_header=not no_header,
        csv_delimiter=delimiter,
    )


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    """Rows as plain JSON values (dates as ISO text, decimals as numbers)."""
    from sagebox.data.writers import json_default

    rows: list[dict[str, Any]] = json.loads(json.dumps(table.to_pylist(), default=json_default))
    return rows


def _print_schema(fields: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    def add(tree: Tree, field: dict[str, Any]) -> None:
        label = f"[bold]{escape(field['name'])}[/bold]: {escape(field['type'])}"
        branch = tree.add(label)
        for child in field["children"]:
            add(branch, child)

    root = Tree("schema")
    for field in fields:
        add(root, field)
    Console().print(root)


WIDE = 8


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested row as dotted keys (``applicant.address.city``); lists stay whole."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _print_rows(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A table when it fits; one block per record (as psql's expanded mode) when wide."""
    from sagebox.cli._common import print_mapping, print_table

    flat = [_flat(row) for row in rows]
    names = list(flat[0]) if flat else columns
    if len(names) <= WIDE:
        print_table(flat, names)
        return
    for number, row in enumerate(flat, start=1):
        typer.echo(f"-[ row {number} ]-")
        print_mapping(row)


@app.command()
@aws_errors()
def preview(
    uri: Annotated[str, typer.Argument(help="An object or prefix: s3://bucket/prefix/.")],
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="Rows to show.")] = 20,
    format: FormatOption = None,
    no_header: NoHeaderOption = False,
    delimiter: DelimiterOption = ",",
    output: OutputOption = "table",
    home: HomeOption = None,
) -> None:
    """Show the inferred schema (nested) and the first rows, reading only what they need."""
    check_output(output)
    from sagebox.data.preview import preview as take_preview
    from sagebox.data.preview import schema_as_json
    from sagebox.session import Session

    store = Session(home).objects
    result = take_preview(store, _source(uri, format, no_header, delimiter), rows)
    if output == "json":
        body = result.to_dict()
        body["rows"] = _rows(result.table)
        print_json(body)
        return
    _print_schema(schema_as_json(result.schema))
    _print_rows(_rows(result.table), result.schema.names)
    typer.echo(
        f"{result.table.num_rows} row(s) from {len(result.files)} file(s); "
        f"{result.bytes_read:,} bytes read, of {result.total_bytes:,} under the URI"
    )
    if result.report.bad_rows:
        typer.echo(f"{result.report.bad_rows} malformed row(s) skipped, e.g.:", err=True)
        for example in result.report.examples[:3]:
            typer.echo(f"  {json.dumps(example)}", err=True)


@app.command()
@aws_errors()
def sample(
    uri: Annotated[str, typer.Argument(help="An object or prefix: s3://bucket/prefix/.")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="How many rows.")] = 100,
    method: Annotated[
        str, typer.Option(help="first, random (uniform) or stratified (by --column).")
    ] = "first",
    column: Annotated[
        str | None, typer.Option(help="The column whose classes a stratified sample keeps.")
    ] = None,
    seed: Annotated[int, typer.Option(help="The random seed.")] = 0,
    out: Annotated[
        str | None, typer.Option("--out", help="Write the sample to this s3:// URI.")
    ] = None,
    out_format: Annotated[
        str, typer.Option("--out-format", help="csv, parquet, json, jsonl or orc.")
    ] = "parquet",
    format: FormatOption = None,
    no_header: NoHeaderOption = False,
    delimiter: DelimiterOption = ",",
    output: OutputOption = "table",
    home: HomeOption = None,
) -> None:
    """Take a sample in one streaming pass; print it, or write it with --out."""
    check_output(output)
    if method not in ("first", "random", "stratified"):
        typer.echo(f"--method must be first, random or stratified; got {method!r}.", err=True)
        raise typer.Exit(2)
    from sagebox.data.sampling import sample as take_sample
    from sagebox.session import Session

    store = Session(home).objects
    table = take_sample(
        store,
        _source(uri, format, no_header, delimiter),
        n,
        method=method,  # type: ignore[arg-type]
        column=column,
        seed=seed,
    )
    if out:
        from sagebox.data.writers import write_table
        from sagebox.store.objects import parse_s3_uri

        bucket = parse_s3_uri(out).bucket
        keys = write_table(store, out, table, out_format)  # type: ignore[arg-type]
        written = [f"s3://{bucket}/{key}" for key in keys]
        if output == "json":
            print_json({"Rows": table.num_rows, "Objects": written})
        else:
            for uri_written in written:
                typer.echo(f"wrote: {uri_written} ({table.num_rows} rows)")
        return
    rows = _rows(table)
    if output == "json":
        print_json(rows)
    else:
        _print_rows(rows, table.schema.names)
