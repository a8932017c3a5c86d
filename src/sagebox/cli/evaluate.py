"""``sagebox evaluate``: score data with a built-in algorithm's model and report on it.

The model is a training job's ``model.tar.gz`` (or the folder it unpacks to); the data
is labelled the way SageMaker's built-in algorithms read it (``text/csv`` with the label
in the first column and no header, ``text/libsvm`` or ``application/x-parquet``). Either
can be a local path or an ``s3://`` URI in the home's object store.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sagebox.cli._common import HomeOption, aws_errors
from sagebox.errors import ValidationError

if TYPE_CHECKING:
    from sagebox.evaluation import Evaluation
    from sagebox.store.objects import ObjectStore

CONTENT_TYPES = {
    "text/csv": "text/csv",
    "csv": "text/csv",
    "text/libsvm": "text/libsvm",
    "libsvm": "text/libsvm",
    "application/x-parquet": "application/x-parquet",
    "parquet": "application/x-parquet",
}
SHOWN_CHOICES = ("precision", "recall", "false_positive_rate", "expected_cost")


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the root app."""
    app.command("evaluate")(evaluate)


@aws_errors()
def evaluate(
    model: Annotated[
        str, typer.Option("--model", help="model.tar.gz or its folder: a path or s3:// URI.")
    ],
    data: Annotated[
        str,
        typer.Option("--data", help="Labelled data: a file, folder, s3:// object or prefix."),
    ],
    content_type: Annotated[
        str,
        typer.Option(
            "--content-type",
            help="text/csv (label first, no header), text/libsvm or application/x-parquet.",
        ),
    ] = "text/csv",
    threshold: Annotated[
        float | None,
        typer.Option(help="Binary decision threshold: refuse at or above it (default 0.5)."),
    ] = None,
    cost_fp: Annotated[
        float | None,
        typer.Option("--cost-fp", help="Cost of refusing a good borrower (default 1)."),
    ] = None,
    cost_fn: Annotated[
        float | None, typer.Option("--cost-fn", help="Cost of approving a defaulter (default 1).")
    ] = None,
    cost_tp: Annotated[
        float | None, typer.Option("--cost-tp", help="Cost of refusing a defaulter (default 0).")
    ] = None,
    cost_tn: Annotated[
        float | None,
        typer.Option("--cost-tn", help="Cost of approving a good borrower (negative: a gain)."),
    ] = None,
    output: Annotated[
        str,
        typer.Option(
            "--output", help="Folder or s3:// prefix for evaluation.json and evaluation.html."
        ),
    ] = "evaluation",
    title: Annotated[str | None, typer.Option(help="The report's title.")] = None,
    home: HomeOption = None,
) -> None:
    """Score labelled data with a model and write evaluation.json and evaluation.html."""
    from sagebox.evaluation import Costs
    from sagebox.evaluation import evaluate as run_evaluation

    kind = CONTENT_TYPES.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        raise ValidationError(
            f"--content-type {content_type!r} is not one the built-in algorithms read; use "
            "text/csv, text/libsvm or application/x-parquet."
        )
    stores = _Stores(home)
    with tempfile.TemporaryDirectory(prefix="sagebox-evaluate-") as scratch:
        loaded = _load(_local(stores, model, Path(scratch) / "model", "--model"))
        labels, scores = _score(
            loaded, _local(stores, data, Path(scratch) / "data", "--data"), kind
        )
    if loaded.problem is None:
        raise ValidationError(
            f"The {loaded.algorithm} model's objective gives neither probabilities nor values "
            "(margins, hinge or ranking scores), so there is nothing to evaluate. Train with a "
            "probability objective such as binary:logistic or multi:softprob."
        )
    given = {
        "false_positive": cost_fp,
        "false_negative": cost_fn,
        "true_positive": cost_tp,
        "true_negative": cost_tn,
    }
    costs = Costs(**{k: v for k, v in given.items() if v is not None})
    binary = loaded.problem == "binary"
    if not binary and (threshold is not None or any(v is not None for v in given.values())):
        typer.echo(
            f"warning: --threshold and --cost-* apply to binary models; this "
            f"{loaded.algorithm} model is {loaded.problem}, so they are ignored.",
            err=True,
        )
    result = run_evaluation(
        labels,
        scores,
        problem=loaded.problem,
        threshold=threshold if binary else None,
        costs=costs if binary else None,
    )
    heading = title or f"{loaded.algorithm} model on {Path(data.rstrip('/')).name}"
    _print(result, heading)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    for path in _write(stores, result, output, heading):
        typer.echo(f"wrote: {path}")


class _Stores:
    """The home's object store, opened only when an s3:// URI needs it."""

    def __init__(self, home: Path | None) -> None:
        self.home = home
        self._store: ObjectStore | None = None

    @property
    def objects(self) -> ObjectStore:
        if self._store is None:
            from sagebox.home import Home

            self._store = Home.open(self.home).objects
        return self._store


def _local(stores: _Stores, where: str, scratch: Path, option: str) -> Path:
    """A local path for ``where``: itself, or a download of the s3:// object or prefix."""
    from sagebox.errors import NoSuchKey
    from sagebox.store.objects import parse_s3_uri
    from sagebox.store.objects.uri import is_s3_uri

    if not is_s3_uri(where):
        path = Path(where).expanduser()
        if not path.exists():
            raise ValidationError(f"{option} {where} does not exist; give a file or folder.")
        return path
    uri = parse_s3_uri(where)
    store = stores.objects
    if uri.key and not uri.key.endswith("/"):
        try:
            store.head_object(uri.bucket, uri.key)
        except NoSuchKey:  # not an object: try it as a prefix below
            pass
        else:
            target = scratch / Path(uri.key).name
            store.download_file(uri.bucket, uri.key, target)
            return target
    prefix = uri.key if not uri.key or uri.key.endswith("/") else uri.key + "/"
    found = [i for i in store.iter_objects(uri.bucket, prefix) if not i.key.endswith("/")]
    if not found:
        raise ValidationError(f"{option} {where} names no object and no objects under it.")
    for info in found:
        relative = info.key[len(prefix) :]
        if any(part in ("", ".", "..") for part in relative.split("/")):
            continue  # a key that is no safe path on disk cannot be a model or data file
        store.download_file(uri.bucket, info.key, scratch / relative)
    return scratch


def _load(path: Path) -> Any:
    """The model in ``path``; a folder holding just one model.tar.gz (an S3 prefix) is that."""
    from sagebox.algorithms.archive import ARCHIVE_SUFFIXES
    from sagebox.algorithms.inference import load_model

    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file()]
        if len(files) == 1 and files[0].name.endswith(ARCHIVE_SUFFIXES):
            path = files[0]
    return load_model(path)


def _data_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.stat().st_size > 0
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise ValidationError(f"--data {path} holds no non-empty files.")
    return files


def _score(loaded: Any, path: Path, content_type: str) -> tuple[Any, Any]:
    """Labels and the model's scores, file by file (features are never stacked)."""
    import numpy as np

    from sagebox.algorithms.channels import read_file

    labels, scores = [], []
    for file in _data_files(path):
        dataset = read_file(file, content_type, who="sagebox evaluate")
        labels.append(np.asarray(dataset.labels, dtype=np.float64))
        scores.append(np.asarray(loaded.predict(dataset.features), dtype=np.float64))
    return np.concatenate(labels), np.concatenate(scores)


def _print(result: Evaluation, heading: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        "Metric", "Value", title=f"{heading} ({result.problem}, {result.n_samples:,} rows)"
    )
    for name, value in result.metrics.items():
        table.add_row(name, "undefined" if value is None else f"{value:.4f}")
    console.print(table)
    if result.problem != "binary":
        return
    choices = result.to_dict()["threshold_choices"]
    table = Table("Threshold rule", "Threshold", *SHOWN_CHOICES, title="Threshold choices")
    for rule, at in choices.items():
        if at is not None:
            cells = ["" if at[c] is None else f"{at[c]:.4f}" for c in SHOWN_CHOICES]
            table.add_row(rule, f"{at['threshold']:.4f}", *cells)
    console.print(table)


def _write(stores: _Stores, result: Evaluation, output: str, title: str) -> list[str]:
    from sagebox.evaluation import write_report
    from sagebox.store.objects import parse_s3_uri
    from sagebox.store.objects.uri import is_s3_uri

    if not is_s3_uri(output):
        return [str(p) for p in write_report(result, Path(output).expanduser(), title=title)]
    uri = parse_s3_uri(output)
    prefix = uri.key if not uri.key or uri.key.endswith("/") else uri.key + "/"
    written = []
    with tempfile.TemporaryDirectory(prefix="sagebox-evaluate-out-") as scratch:
        for path in write_report(result, Path(scratch), title=title):
            kind = "application/json" if path.suffix == ".json" else "text/html"
            stores.objects.put_object(uri.bucket, prefix + path.name, path, content_type=kind)
            written.append(f"s3://{uri.bucket}/{prefix}{path.name}")
    return written
