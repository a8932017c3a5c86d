"""``sagebox datasets generate loans``: synthetic loan applications written to the object store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sagebox.cli._common import HomeOption, aws_errors, check_output, print_json

if TYPE_CHECKING:
    from sagebox.store.objects import ObjectStore

app = typer.Typer(no_args_is_help=True, help="Synthetic datasets for trying the platform.")

DATASETS = ("loans",)


@app.callback()
def datasets() -> None:
    """Synthetic datasets for trying the platform (a group, so that verbs can be added)."""


@app.command()
@aws_errors()
def generate(
    name: Annotated[str, typer.Argument(help="The dataset to generate: loans.")],
    out: Annotated[
        str, typer.Option("--out", help="Where to write, e.g. s3://loan-data/raw/applications/.")
    ],
    rows: Annotated[int, typer.Option("--rows", min=1, help="How many records.")] = 10_000,
    format: Annotated[
        str, typer.Option("--format", help="jsonl, parquet, csv (flattened) or orc.")
    ] = "jsonl",
    seed: Annotated[int, typer.Option(help="The random seed; the same seed, the same data.")] = 0,
    duplicates: Annotated[
        float,
        typer.Option(
            help="Share of near-duplicate re-applications (e.g. 0.02), marked in 'duplicate_of'."
        ),
    ] = 0.0,
    drift: Annotated[
        float,
        typer.Option(
            help="Population drift in [-1, 1]: lower incomes, younger applicants, "
            "larger loans for > 0."
        ),
    ] = 0.0,
    part_rows: Annotated[
        int, typer.Option("--part-rows", min=1, help="At most this many rows per object.")
    ] = 100_000,
    output: Annotated[str, typer.Option("--output", "-o", help="json or table.")] = "table",
    home: HomeOption = None,
) -> None:
    """Generate nested loan applications with a known true default probability."""
    check_output(output)
    if name not in DATASETS:
        typer.echo(f"Unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}.", err=True)
        raise typer.Exit(2)
    if format not in ("jsonl", "parquet", "csv", "orc"):
        typer.echo(f"--format must be jsonl, parquet, csv or orc; got {format!r}.", err=True)
        raise typer.Exit(2)
    store = _store(home)
    bucket = _ensure_bucket(store, out)
    from sagebox.data.synthetic import write_loans

    keys = write_loans(
        store,
        out,
        rows,
        format,
        seed=seed,
        batch_rows=part_rows,
        duplicate_rate=duplicates,
        drift=drift,
    )
    uris = [f"s3://{bucket}/{key}" for key in keys]
    if output == "json":
        print_json({"Dataset": name, "Rows": rows, "Format": format, "Seed": seed, "Objects": uris})
        return
    for uri in uris:
        typer.echo(f"wrote: {uri}")
    typer.echo(f"{rows} loan applications in {len(uris)} {format} object(s) under {out}")


def _store(home: Path | None) -> ObjectStore:
    from sagebox.session import Session

    return Session(home).objects


def _ensure_bucket(store: ObjectStore, uri: str) -> str:
    """The bucket of ``uri``, created when it does not exist yet."""
    from sagebox.store.objects import parse_s3_uri

    bucket = parse_s3_uri(uri).bucket
    if not store.bucket_exists(bucket):
        store.create_bucket(bucket)
    return bucket
