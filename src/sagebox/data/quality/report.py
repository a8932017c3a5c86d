"""The data quality and insights report: one JSON document, rendered as one HTML page.

:func:`build_report` profiles the data in one streaming pass, derives insights, runs the
quick model and returns a JSON-serialisable ``dict``; :func:`render_html` turns that dict
(or a ``report.json`` read back) into a self-contained page; :func:`quality_report` reads
``s3://`` data through :func:`sagebox.data.readers.read_batches` and writes both to S3.

The document (``schema_version`` "1"; docs/quality.md lists every field)::

    schema_version, generated_at, seconds, source
    summary      rows, columns, input_columns, missing_cells, missing_share,
                 duplicate_rows, duplicate_share, duplicates_exact, malformed_rows,
                 insights {high, medium, low, info}, quick_model {metric, score} | null
    read         {rows, bad_rows, examples[], files[], quarantine} | null
    target       {name, problem_type, classes[{value, count, share}] | numeric, ...} | null
    insights     [{kind, severity, columns[], message, fix, details{}}], most severe first
    columns      [{name, parent, arrow_type, kind, rows, missing, missing_share, distinct,
                   distinct_exact, numeric | lengths | datetime, histogram, top_values[],
                   top_values_exact, outliers, rare_categories, string, empty_lists,
                   element_type, type_mismatches, notes[]}]
    input_columns [{name, arrow_type}]
    duplicates   {count, share, exact, examples[]}
    target_signal [{column, score, metric}]  single-feature AUC / R2, best first
    quick_model  {target, problem_type, model, metric, score, score_std, fold_scores[],
                  folds, rows, features[], excluded{}, importances[{feature, importance}],
                  importance_method, classes, seed, seconds} | {skipped: reason} | null
    sample       {rows, seed}
    limits       the ProfileConfig bounds used
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from sagebox.data.quality._results import (
    ColumnProfile,
    DatasetProfile,
    NumericSummary,
    ProfileConfig,
)
from sagebox.data.quality.insights import (
    Insight,
    ProblemType,
    column_insights,
    correlation_insights,
    leakage_insights,
    model_insights,
    read_insights,
    sort_insights,
    target_insights,
)
from sagebox.data.quality.profile import Data, Profiler, iter_batches
from sagebox.data.quality.quick_model import quick_model as run_quick_model
from sagebox.data.quality.render import render_html
from sagebox.errors import ValidationError

if TYPE_CHECKING:
    from sagebox.data.formats import DataSource
    from sagebox.data.readers import ErrorPolicy, ReadReport
    from sagebox.store.objects import ObjectStore

SCHEMA_VERSION = "1"
_TARGET_KINDS = ("numeric", "boolean", "categorical")
_NO_MODEL = ("id_like_column", "constant_column")


def build_report(
    data: Data,
    *,
    target: str | None = None,
    problem_type: ProblemType | None = None,
    read_report: ReadReport | dict[str, Any] | None = None,
    seed: int = 0,
    config: ProfileConfig | None = None,
    quick_model: bool = True,
    source: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Profile ``data`` (a table, frame, batch or iterable of batches) into a report dict.

    ``problem_type`` is inferred from the target when None: a numeric target with more
    than 20 values (or non-whole ones) is regression, anything else classification.
    ``read_report`` is read after the data is consumed, so pass the one that
    ``read_batches`` is filling.
    """
    if problem_type not in (None, "classification", "regression"):
        raise ValidationError(
            f"problem_type must be 'classification', 'regression' or None (infer it); got "
            f"{problem_type!r}."
        )
    started = time.perf_counter()
    config = dataclasses.replace(config or ProfileConfig(), seed=seed)
    profiler = Profiler(config)
    for batch in iter_batches(data):
        profiler.update(batch)
        if target is not None and profiler.rows and target not in profiler.column_names:
            break  # no need to read on: the error below names the columns
    profile = profiler.finish()
    read = _read_dict(read_report)
    insights = column_insights(profile, target) + read_insights(read)
    target_block = signal = quick = None
    if target is not None:
        column = profile.column(target)
        if column.kind not in _TARGET_KINDS:
            raise ValidationError(
                f"The target {target!r} is a {column.kind} column ({column.arrow_type}); a "
                "target must be numeric, boolean or categorical. Flatten or cast it first."
            )
        problem_type = problem_type or infer_problem_type(column)
        target_block = _target(column, problem_type)
        insights += target_insights(column, problem_type)
        leaks, scores = leakage_insights(profile.sample, target, problem_type, seed)
        insights += leaks
        metric = "auc" if problem_type == "classification" else "r2"
        signal = [
            {"column": name, "score": score, "metric": metric}
            for name, score in sorted(scores.items(), key=lambda item: -item[1])
        ]
    skip = {c for i in insights if i.kind in _NO_MODEL for c in i.columns}
    insights += correlation_insights(profile.sample, profile, target, skip)
    if target is not None and quick_model:
        quick = _quick(profile, target, problem_type or "classification", seed, skip)
        insights += model_insights(quick)
    report = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 3),
        "source": source,
        "summary": _summary(profile, read, sort_insights(insights), quick),
        "read": read,
        "target": target_block,
        "insights": [dataclasses.asdict(i) for i in sort_insights(insights)],
        "columns": [column_dict(c) for c in profile.columns],
        "input_columns": [{"name": n, "arrow_type": t} for n, t in profile.input_columns],
        "duplicates": {
            "count": profile.duplicate_rows,
            "share": profile.duplicate_rows / max(profile.rows, 1),
            "exact": profile.duplicates_exact,
            "examples": profile.duplicate_examples,
        },
        "target_signal": signal,
        "quick_model": quick,
        "sample": {"rows": len(profile.sample), "seed": seed},
        "limits": dataclasses.asdict(config),
    }
    return jsonable(report)


def infer_problem_type(column: ColumnProfile) -> ProblemType:
    """Classification for labels and few whole numbers; regression for other numbers."""
    if column.kind != "numeric":
        return "classification"
    whole = all(_is_whole(value) for value, _ in column.top_values)
    if column.distinct_exact and column.distinct <= 20 and whole:
        return "classification"
    return "regression"


def _is_whole(value: Any) -> bool:
    try:
        return float(value).is_integer()
    except (TypeError, ValueError):
        return False


def _target(column: ColumnProfile, problem_type: ProblemType) -> dict[str, Any]:
    block: dict[str, Any] = {
        "name": column.name,
        "problem_type": problem_type,
        "missing": column.missing,
    }
    if problem_type == "classification":
        total = sum(count for _, count in column.top_values) or 1
        block["classes"] = [
            {"value": value, "count": count, "share": count / total}
            for value, count in column.top_values
        ]
        block["exact"] = column.top_values_exact
    else:
        block["numeric"] = _numeric(column.numeric) if column.numeric else None
    return block


def _quick(
    profile: DatasetProfile, target: str, problem_type: ProblemType, seed: int, skip: set[str]
) -> dict[str, Any]:
    reasons = {name: "identifier or constant" for name in skip}
    try:
        result = run_quick_model(profile.sample, target, problem_type, seed=seed, exclude=reasons)
    except ValidationError as error:
        return {"skipped": error.message, "target": target}
    out = dataclasses.asdict(result)
    out["importances"] = [{"feature": f, "importance": v} for f, v in result.importances]
    return out


def _summary(
    profile: DatasetProfile,
    read: dict[str, Any] | None,
    insights: list[Insight],
    quick: dict[str, Any] | None,
) -> dict[str, Any]:
    cells = profile.rows * len(profile.columns)
    missing = sum(c.missing for c in profile.columns)
    counts = {
        s: sum(1 for i in insights if i.severity == s) for s in ("high", "medium", "low", "info")
    }
    model = None
    if quick and quick.get("score") is not None:
        model = {"metric": quick["metric"], "score": quick["score"]}
    return {
        "rows": profile.rows,
        "columns": len(profile.columns),
        "input_columns": len(profile.input_columns),
        "missing_cells": missing,
        "missing_share": missing / cells if cells else 0.0,
        "duplicate_rows": profile.duplicate_rows,
        "duplicate_share": profile.duplicate_rows / max(profile.rows, 1),
        "duplicates_exact": profile.duplicates_exact,
        "malformed_rows": int(read["bad_rows"]) if read else 0,
        "insights": counts,
        "quick_model": model,
    }


def _read_dict(read_report: Any) -> dict[str, Any] | None:
    if read_report is None:
        return None
    if isinstance(read_report, dict):
        return dict(read_report)
    if hasattr(read_report, "to_dict"):
        return dict(read_report.to_dict())
    return {
        "rows": read_report.rows,
        "bad_rows": read_report.bad_rows,
        "examples": list(read_report.examples),
        "files": list(read_report.files),
    }


# -- column profiles as JSON ------------------------------------------------------------
def column_dict(column: ColumnProfile) -> dict[str, Any]:
    """One column's profile in the report's shape."""
    out: dict[str, Any] = {
        "name": column.name,
        "parent": column.parent,
        "arrow_type": column.arrow_type,
        "kind": column.kind,
        "rows": column.rows,
        "missing": column.missing,
        "missing_share": column.missing_share,
        "distinct": column.distinct,
        "distinct_exact": column.distinct_exact,
        "numeric": None,
        "lengths": None,
        "datetime": None,
        "histogram": None,
    }
    if column.numeric is not None:
        if column.kind == "datetime":
            out["datetime"] = _dates(column.numeric, column.arrow_type)
        else:
            out["lengths" if column.kind == "list" else "numeric"] = _numeric(column.numeric)
    if column.histogram is not None:
        edges = column.histogram.edges
        if column.kind == "datetime":
            edges = [_iso(e, column.arrow_type) for e in edges]
        out["histogram"] = {
            "of": "lengths" if column.kind == "list" else "values",
            "edges": edges,
            "counts": column.histogram.counts,
        }
    non_missing = max(column.non_missing, 1)
    out["top_values"] = [
        {"value": v, "count": c, "share": c / non_missing} for v, c in column.top_values
    ]
    out["top_values_exact"] = column.top_values_exact
    out["outliers"] = dataclasses.asdict(column.outliers) if column.outliers else None
    out["rare_categories"] = (
        [{"value": v, "count": c} for v, c in column.rare_categories]
        if column.rare_categories
        else None
    )
    out["string"] = dataclasses.asdict(column.string) if column.string else None
    out["empty_lists"] = column.empty_lists
    out["element_type"] = column.element_type
    out["type_mismatches"] = column.type_mismatches
    out["notes"] = list(column.notes)
    return out


def _numeric(summary: NumericSummary) -> dict[str, Any]:
    return dataclasses.asdict(summary)


def _dates(summary: NumericSummary, arrow_type: str) -> dict[str, Any]:
    return {
        "count": summary.count,
        "min": _iso(summary.min, arrow_type),
        "max": _iso(summary.max, arrow_type),
        "mean": _iso(summary.mean, arrow_type),
        "quantiles": {k: _iso(v, arrow_type) for k, v in summary.quantiles.items()},
        "quantiles_exact": summary.quantiles_exact,
    }


def _iso(value: float | None, arrow_type: str) -> str | None:
    """An epoch value in the column's unit as ISO 8601 text."""
    if value is None or not math.isfinite(value):
        return None
    if arrow_type.startswith("date32"):
        unit = "D"
    elif arrow_type.startswith("date64"):
        unit = "ms"
    else:
        unit = arrow_type.partition("[")[2].split(",")[0].rstrip("]") or "us"
    stamp: Any = np.datetime64(round(value), unit)  # type: ignore[call-overload]
    return str(np.datetime_as_string(stamp))


def jsonable(value: Any) -> Any:
    """``value`` with every part JSON can hold: NaN and infinities become null, datetimes
    ISO text, numpy scalars Python numbers, anything else its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return jsonable(float(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    return str(value)


# -- from S3 to S3 ----------------------------------------------------------------------
@dataclass(frozen=True)
class QualityReportOutput:
    """The report, and where its JSON and HTML were written."""

    report: dict[str, Any]
    json_uri: str
    html_uri: str


def quality_report(
    store: ObjectStore,
    source: DataSource | str,
    out_uri_prefix: str,
    *,
    target: str | None = None,
    problem_type: ProblemType | None = None,
    on_error: ErrorPolicy = "skip",
    quarantine_uri: str | None = None,
    batch_rows: int = 65536,
    seed: int = 0,
    config: ProfileConfig | None = None,
    quick_model: bool = True,
) -> QualityReportOutput:
    """Read ``source`` (streamed), build the report, write ``report.html`` and ``report.json``.

    Malformed rows are skipped and counted by default (``on_error="skip"``), so the report
    shows them; ``"fail"`` stops at the first one. Each object is written atomically, and
    ``report.json`` last: once it exists, the HTML beside it is complete.
    """
    import json

    from sagebox.data.formats import DataSource
    from sagebox.data.readers import ReadReport, read_batches
    from sagebox.store.objects import parse_s3_uri

    where = parse_s3_uri(out_uri_prefix)
    source = source if isinstance(source, DataSource) else DataSource(source)
    read = ReadReport()
    batches = read_batches(
        store,
        source,
        batch_rows=batch_rows,
        on_error=on_error,
        report=read,
        quarantine_uri=quarantine_uri,
    )
    report = build_report(
        batches,
        target=target,
        problem_type=problem_type,
        read_report=read,
        seed=seed,
        config=config,
        quick_model=quick_model,
        source={"uri": source.uri, "format": source.format},
    )
    html_uri, json_uri = where.join("report.html"), where.join("report.json")
    store.put_object(
        html_uri.bucket,
        html_uri.key,
        render_html(report).encode("utf-8"),
        content_type="text/html; charset=utf-8",
    )
    store.put_object(
        json_uri.bucket,
        json_uri.key,
        json.dumps(report, indent=2, allow_nan=False).encode("utf-8"),
        content_type="application/json",
    )
    return QualityReportOutput(report=report, json_uri=str(json_uri), html_uri=str(html_uri))
