"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no scripts.

:func:`render_html` reads only the report dict (so a stored ``report.json`` can be rendered
again) and escapes every value taken from the data.
"""

from __future__ import annotations

from html import escape
from typing import Any

from sagebox.data.quality._svg import hbars, meter, sparkline

_SEVERITY_COLORS = {"high": "#c0392b", "medium": "#d9822b", "low": "#3b6ea8", "info": "#7b8794"}
_STYLE = """
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933;
margin:0;background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}
.sub{color:#616e7c;margin:0 0 20px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:18px 20px;
margin:0 0 18px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:12px}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:10px 12px}
.card .k{color:#616e7c;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:22px;font-weight:600;margin-top:2px}
.card .d{color:#616e7c;font-size:12px}
ul.insights{list-style:none;margin:0;padding:0}
ul.insights li{border-left:4px solid;padding:8px 12px;margin:0 0 8px;background:#fafbfc}
.badge{display:inline-block;color:#fff;border-radius:3px;padding:0 6px;font-size:11px;
font-weight:600;text-transform:uppercase;margin-right:6px;vertical-align:1px}
.kind{font-weight:600}.fix{color:#3e4c59;margin-top:3px}.fix b{color:#1f2933}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
th{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.03em}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.muted{color:#7b8794}.small{font-size:12px}.mono{font-family:ui-monospace,Menlo,monospace}
.chart .lbl,.chart .val{font-size:12px;fill:#3e4c59}
.note{color:#7b8794;font-size:12px}
code{background:#eef1f4;border-radius:3px;padding:0 4px}
"""


def render_html(report: dict[str, Any]) -> str:
    """The report as one HTML page that needs nothing but a browser."""
    summary = report.get("summary", {})
    source = (report.get("source") or {}).get("uri") or "in-memory data"
    sections = [
        _summary(summary, report),
        _insights(report.get("insights", [])),
        _target(report.get("target")),
        _quick_model(report.get("quick_model")),
        _columns(report.get("columns", [])),
        _malformed(report.get("read")),
        _duplicates(report.get("duplicates")),
    ]
    body = "\n".join(s for s in sections if s)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Data quality report: {escape(source)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>Data quality and insights</h1>"
        f'<p class="sub">{escape(source)} · generated {escape(str(report.get("generated_at")))}'
        f" · {summary.get('rows', 0):,} rows</p>\n{body}\n"
        '<p class="note">sagebox quality report, schema '
        f"{escape(str(report.get('schema_version')))}."
        " Exact counts unless marked estimated; quantiles and outlier counts come from a "
        "uniform sample when the data is larger than the sample.</p>"
        "</main></body></html>\n"
    )


def _card(key: str, value: str, detail: str = "") -> str:
    extra = f'<div class="d">{detail}</div>' if detail else ""
    return (
        f'<div class="card"><div class="k">{escape(key)}</div><div class="v">{value}</div>'
        f"{extra}</div>"
    )


def _summary(summary: dict[str, Any], report: dict[str, Any]) -> str:
    counts = summary.get("insights", {})
    badges = " ".join(
        f'<span class="badge" style="background:{_SEVERITY_COLORS[s]}">'
        f"{counts.get(s, 0)} {s}</span>"
        for s in ("high", "medium", "low")
    )
    cards = [
        _card("Rows", f"{summary.get('rows', 0):,}"),
        _card(
            "Columns",
            f"{summary.get('columns', 0)}",
            f"{summary.get('input_columns', 0)} in the input",
        ),
        _card(
            "Missing cells",
            f"{summary.get('missing_share', 0):.1%}",
            f"{summary.get('missing_cells', 0):,} cells",
        ),
        _card(
            "Duplicate rows",
            f"{summary.get('duplicate_rows', 0):,}",
            f"{summary.get('duplicate_share', 0):.1%}"
            + ("" if summary.get("duplicates_exact", True) else ", at least"),
        ),
        _card("Malformed rows", f"{summary.get('malformed_rows', 0):,}", "skipped by the reader"),
        _card("Insights", f"{sum(counts.values())}", badges),
    ]
    model = summary.get("quick_model")
    if model:
        cards.append(
            _card("Quick model", f"{model['score']:.3f}", escape(str(model["metric"]).upper()))
        )
    return (
        f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div></section>'
    )


def _insights(insights: list[dict[str, Any]]) -> str:
    if not insights:
        items = '<p class="muted">No issues found.</p>'
    else:
        rows = []
        for insight in insights:
            color = _SEVERITY_COLORS.get(insight["severity"], "#7b8794")
            rows.append(
                f'<li style="border-color:{color}"><span class="badge" style="background:{color}">'
                f"{escape(insight['severity'])}</span>"
                f'<span class="kind">{escape(insight["kind"].replace("_", " "))}</span> '
                f"{escape(insight['message'])}"
                f'<div class="fix"><b>Fix:</b> {escape(insight["fix"])}</div></li>'
            )
        items = f'<ul class="insights">{"".join(rows)}</ul>'
    return f'<section id="insights"><h2>Insights</h2>{items}</section>'


def _target(target: dict[str, Any] | None) -> str:
    if not target:
        return ""
    name = escape(str(target["name"]))
    if target.get("classes"):
        bars = [(str(c["value"]), float(c["share"])) for c in target["classes"][:20]]
        chart = hbars(bars, value_format="{:.1%}", maximum=1.0)
        detail = ", ".join(
            f"{escape(str(c['value']))}: {c['count']:,}" for c in target["classes"][:20]
        )
        body = f"{chart}<p class='small muted'>{detail}</p>"
    else:
        numeric = target.get("numeric") or {}
        body = "<p>" + _numbers(numeric) + "</p>"
    return (
        f'<section id="target"><h2>Target: <code>{name}</code> '
        f'<span class="muted small">({escape(str(target["problem_type"]))})</span></h2>'
        f"{body}</section>"
    )


def _quick_model(quick: dict[str, Any] | None) -> str:
    if not quick:
        return ""
    if "skipped" in quick:
        return (
            '<section id="quick-model"><h2>Quick model</h2><p class="muted">Not run: '
            f"{escape(str(quick['skipped']))}</p></section>"
        )
    folds = ", ".join(f"{s:.3f}" for s in quick["fold_scores"])
    importances = [(str(i["feature"]), float(i["importance"])) for i in quick["importances"][:20]]
    excluded = quick.get("excluded") or {}
    dropped = (
        "<p class='small muted'>Not used: "
        + ", ".join(f"{escape(k)} ({escape(str(v))})" for k, v in excluded.items())
        + "</p>"
        if excluded
        else ""
    )
    metric = str(quick["metric"]).upper()
    model = str(quick["model"]).replace("RandomForest", "Random forest ")
    cards = [
        _card(
            metric,
            f"{quick['score']:.3f}",
            f"± {quick['score_std']:.3f} over {quick['folds']} folds",
        ),
        _card("Rows", f"{quick['rows']:,}", "bounded sample"),
        _card("Model", escape(model), f"seed {quick['seed']}"),
    ]
    method = str(quick["importance_method"]).capitalize()
    return (
        '<section id="quick-model"><h2>Quick model</h2>'
        f'<div class="cards">{"".join(cards)}</div>'
        f'<p class="small muted">Fold scores: {folds}. {method} feature importance, as a '
        "share of the total:</p>"
        f"{hbars(importances, value_format='{:.1%}')}{dropped}</section>"
    )


def _columns(columns: list[dict[str, Any]]) -> str:
    rows = []
    for column in columns:
        chart, stats = _distribution(column)
        notes = "".join(f'<div class="note">{escape(n)}</div>' for n in column.get("notes", []))
        distinct = f"{column['distinct']:,}" + ("" if column["distinct_exact"] else " (est.)")
        missing = float(column["missing_share"])
        rows.append(
            f"<tr><td><b>{escape(column['name'])}</b>{notes}</td>"
            f"<td>{escape(column['kind'])}<div class='small muted mono'>"
            f"{escape(column['arrow_type'])}</div></td>"
            f"<td class='num'>{missing:.1%}<br>{meter(missing)}</td>"
            f"<td class='num'>{distinct}</td><td class='small'>{stats}</td><td>{chart}</td></tr>"
        )
    return (
        '<section id="columns"><h2>Columns</h2><table><thead><tr><th>Column</th><th>Type</th>'
        "<th>Missing</th><th>Distinct</th><th>Summary</th><th>Distribution</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _distribution(column: dict[str, Any]) -> tuple[str, str]:
    top = column.get("top_values") or []
    histogram = column.get("histogram")
    few = column["distinct_exact"] and column["distinct"] <= 12 and top
    if histogram and not few:
        edges, counts = histogram["edges"], histogram["counts"]
        labels = [f"{_short(edges[i])} to {_short(edges[i + 1])}" for i in range(len(counts))]
        chart = sparkline(counts, labels)
    elif top:
        chart = sparkline([t["count"] for t in top[:12]], [str(t["value"]) for t in top[:12]])
    else:
        chart = ""
    if column.get("numeric"):
        stats = _numbers(column["numeric"])
    elif column.get("lengths"):
        stats = "length " + _numbers(column["lengths"])
        stats += f"; {column.get('empty_lists') or 0:,} empty"
    elif column.get("datetime"):
        d = column["datetime"]
        stats = f"{escape(str(d['min']))} to {escape(str(d['max']))}"
    else:
        shown = ", ".join(f"{escape(_short(t['value']))} ({t['share']:.0%})" for t in top[:3])
        stats = f"top: {shown}" if shown else ""
    outliers = column.get("outliers")
    if outliers:
        about = "~" if outliers["estimated"] else ""
        stats += f"<div class='note'>{about}{outliers['count']:,} anomalous values</div>"
    return chart, stats


def _numbers(numeric: dict[str, Any]) -> str:
    if not numeric or numeric.get("mean") is None:
        return ""
    q = numeric.get("quantiles") or {}
    std = numeric.get("std")
    return (
        f"mean {_short(numeric['mean'])}"
        + (f" ± {_short(std)}" if std is not None else "")
        + f"<br>min {_short(numeric['min'])} · median {_short(q.get('p50'))} · "
        f"max {_short(numeric['max'])}"
    )


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = "n/a" if value is None else str(value)
    return text if len(text) <= 40 else text[:38] + "…"


def _malformed(read: dict[str, Any] | None) -> str:
    if not read:
        return ""
    files = len(read.get("files") or [])
    head = (
        f"<p>{read.get('rows', 0):,} rows read from {files} file(s); "
        f"{read.get('bad_rows', 0):,} malformed rows skipped.</p>"
    )
    examples = read.get("examples") or []
    if not examples:
        return f'<section id="malformed"><h2>Malformed rows</h2>{head}</section>'
    rows = "".join(
        f"<tr><td class='mono small'>{escape(str(e.get('file', '')))}</td>"
        f"<td class='num'>{escape(str(e.get('line', e.get('row', ''))))}</td>"
        f"<td class='small'>{escape(str(e.get('error', '')))}</td>"
        f"<td class='mono small'>{escape(str(e.get('raw', '')))}</td></tr>"
        for e in examples
    )
    return (
        f'<section id="malformed"><h2>Malformed rows</h2>{head}<table><thead><tr><th>File</th>'
        f"<th>Line</th><th>Error</th><th>Text</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _duplicates(duplicates: dict[str, Any] | None) -> str:
    if not duplicates or not duplicates.get("examples"):
        return ""
    rows = "".join(
        f"<li class='mono small'>{escape(_short_row(e))}</li>" for e in duplicates["examples"]
    )
    return (
        f'<section id="duplicates"><h2>Duplicate rows</h2><p>{duplicates["count"]:,} rows repeat '
        f"an earlier row. Examples:</p><ul>{rows}</ul></section>"
    )


def _short_row(row: Any) -> str:
    text = str(row)
    return text if len(text) <= 300 else text[:298] + "…"
