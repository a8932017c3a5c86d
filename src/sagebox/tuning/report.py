"""A tuning job's report: ``trials.csv``, ``tuning-report.json`` and ``tuning-report.html``.

    from sagebox.tuning.analysis import collect
    from sagebox.tuning.report import write_report

    report = collect(session.control.call, "loans-xgb", session.home)
    write_report(report, Path("tuning-report/loans-xgb"))

The HTML page needs nothing but a browser: its plots are PNGs inside it
(:mod:`sagebox.tuning.plots`), and every text that came from the job is escaped.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from sagebox.errors import ValidationError
from sagebox.tuning import plots
from sagebox.tuning.analysis import IMPORTANCE_METHOD, TrialRow, TuningReport

CSV_NAME = "trials.csv"
JSON_NAME = "tuning-report.json"
HTML_NAME = "tuning-report.html"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ReportFiles:
    csv: Path
    json: Path
    html: Path

    def all(self) -> tuple[Path, Path, Path]:
        return (self.csv, self.json, self.html)


# ---- the files ----------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def tuned_names(report: TuningReport) -> list[str]:
    """Every tuned hyperparameter, in the order of the ranges (each definition's in turn)."""
    names: list[str] = []
    for ranges in report.ranges.values():
        names += [r.name for r in ranges if r.name not in names]
    return names


def to_dict(report: TuningReport) -> dict[str, Any]:
    """The report as JSON-ready data (``tuning-report.json``)."""
    best = report.best
    return {
        "schema_version": SCHEMA_VERSION,
        "tuning_job": {
            "name": report.name,
            "arn": report.arn,
            "status": report.status,
            "strategy": report.strategy,
            "objectives": {k: dict(v) for k, v in report.objectives.items()},
            "creation_time": _iso(report.creation_time),
            "end_time": _iso(report.end_time),
            "failure_reason": report.failure_reason,
            "configuration": dict(report.params),
        },
        "best_trial": None
        if best is None
        else {
            "name": best.name,
            "number": best.number,
            "objective": _number(best.objective),
            "hyperparameters": dict(best.hyperparameters),
        },
        "counts": report.counts(),
        "parameter_importance": {
            "method": IMPORTANCE_METHOD,
            "definitions": {
                i.definition: {"importance": dict(i.values), "note": i.note}
                for i in report.importances
            },
        },
        "trials": [
            {
                "number": t.number,
                "name": t.name,
                "definition": t.definition,
                "status": t.status,
                "objective": _number(t.objective),
                "stopped_early": t.stopped_early,
                "hyperparameters": dict(t.hyperparameters),
                "creation_time": _iso(t.creation_time),
                "start_time": _iso(t.start_time),
                "end_time": _iso(t.end_time),
                "training_seconds": t.training_seconds,
                "failure_reason": t.failure_reason,
                "final_metrics": {k: _number(v) for k, v in t.final_metrics.items()},
                "objective_curve": [_number(v) for v in t.curve],
            }
            for t in report.trials
        ],
    }


def write_csv(report: TuningReport, path: Path) -> Path:
    """``trials.csv``: one row per trial, its tuned hyperparameters as columns."""
    tuned = tuned_names(report)
    metrics = sorted({k for t in report.trials for k in t.final_metrics})
    several = len(report.ranges) > 1
    head = ["number", "name", *(["definition"] if several else []), "status", "objective"]
    head += ["stopped_early", *tuned, "creation_time", "start_time", "end_time"]
    head += ["training_seconds", *metrics, "failure_reason"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(head)
        for t in report.trials:
            row: list[Any] = [t.number, t.name, *([t.definition] if several else [])]
            row += [t.status, "" if t.objective is None else repr(t.objective)]
            row += [str(t.stopped_early).lower(), *(t.hyperparameters.get(n, "") for n in tuned)]
            row += [_iso(t.creation_time) or "", _iso(t.start_time) or "", _iso(t.end_time) or ""]
            row += ["" if t.training_seconds is None else f"{t.training_seconds:g}"]
            row += [repr(t.final_metrics[m]) if m in t.final_metrics else "" for m in metrics]
            row += [t.failure_reason or ""]
            writer.writerow(row)
    return path


def write_report(report: TuningReport, directory: Path) -> ReportFiles:
    """Write ``trials.csv``, ``tuning-report.json`` and ``tuning-report.html`` in
    ``directory`` (made if missing); returns their paths."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            f"Cannot create the report folder {directory}: {exc.strerror or exc}. "
            "Choose a folder you can write to (--output)."
        ) from None
    files = ReportFiles(directory / CSV_NAME, directory / JSON_NAME, directory / HTML_NAME)
    write_csv(report, files.csv)
    body = json.dumps(to_dict(report), indent=2, allow_nan=False)
    files.json.write_text(body + "\n", encoding="utf-8")
    files.html.write_text(render_html(report), encoding="utf-8")
    return files


# ---- the HTML page ------------------------------------------------------------------

_STYLE = """
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933;
margin:0;background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}
.sub{color:#616e7c;margin:0 0 20px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:18px 20px;
margin:0 0 18px;overflow-x:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
th{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
tr.best td{background:#eaf6ee}
.muted{color:#7b8794}.note{color:#7b8794;font-size:12px}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;color:#fff}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:0 0 12px}
.card{border:1px solid #e4e7eb;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
.plots figure{margin:0}.plots img{width:100%;height:auto;border:1px solid #eef1f4}
.plots figure.wide{grid-column:1/-1}.plots figure.wide img{width:auto;max-width:100%}
ul.notes{margin:0;padding-left:20px}
"""
_STATUS_COLOURS = {  # as the plots colour them
    "Completed": "#2f8a4f",
    "Stopped": "#d9822b",
    "StoppedEarly": "#c0392b",
    "Failed": "#52606d",
    "InProgress": "#2f6fa8",
    "Stopping": "#2f6fa8",
}


def _fmt(value: float | None) -> str:
    if value is None:
        return '<span class="muted">-</span>'
    if not math.isfinite(value):
        return escape(str(value))
    return f"{value:.6g}"


def _status(text: str, early: bool = False) -> str:
    colour = _STATUS_COLOURS.get("StoppedEarly" if early else text, "#7b8794")
    label = f"{text} early" if early else text
    return f'<span class="status" style="background:{colour}">{escape(label)}</span>'


def _summary(report: TuningReport) -> str:
    counts = report.counts()
    cards = [
        ("trials", counts["trials"]),
        ("completed", counts["completed"]),
        ("stopped early", counts["stopped_early"]),
        ("stopped (other)", counts["stopped"] - counts["stopped_early"]),
        ("failed", counts["failed"]),
    ]
    if counts["in_progress"]:
        cards.append(("running", counts["in_progress"]))
    html = "".join(f'<div class="card"><b>{v}</b>{escape(k)}</div>' for k, v in cards)
    best = report.best
    if best is None:
        text = '<p class="muted">No trial has an objective value yet.</p>'
    else:
        values = ", ".join(
            f"{escape(k)} = <code>{escape(v)}</code>" for k, v in best.hyperparameters.items()
        )
        text = (
            f"<p>Best trial: <b>{escape(best.name)}</b> (trial {best.number}) with "
            f"{escape(report.metric)} = <b>{_fmt(best.objective)}</b>"
            f"{f'<br>{values}' if values else ''}</p>"
        )
    return f'<section><h2>Summary</h2><div class="cards">{html}</div>{text}</section>'


def _plots(report: TuningReport) -> str:
    images: list[tuple[str, str | None, bool]] = [
        ("Objective by trial", plots.objective_by_trial(report), False),
        ("Best objective so far", plots.best_so_far(report), False),
        ("Objective while training", plots.curves(report), False),
        ("Parameter importance", plots.importance(report), False),
    ]
    for definition in report.ranges:
        title = "Parallel coordinates" + (f" ({definition})" if definition else "")
        images.append((title, plots.parallel_coordinates(report, definition), True))
    figures = "".join(
        f'<figure class="{"wide" if wide else ""}"><img alt="{escape(alt)}" '
        f'src="data:image/png;base64,{data}"></figure>'
        for alt, data, wide in images
        if data is not None
    )
    notes = _notes(report)
    return (
        f"<section><h2>Plots</h2><div class='plots'>{figures}</div>{notes}</section>"
        if figures or notes
        else ""
    )


def _notes(report: TuningReport) -> str:
    notes = [i.note for i in report.importances if i.note]
    if report.status in ("InProgress", "Stopping"):
        notes.append("The tuning job is still running: this is the report so far.")
    if not report.has_curves:
        notes.append(
            "The objective curves are read from the home's store; this report was made "
            "without it (a remote session). Make it on the server's machine to see them."
        )
    if any(i.values for i in report.importances):
        rough = (
            " With fewer than 10 trials the importances are rough."
            if report.counts()["with_objective"] < 10
            else ""
        )
        notes.append(f"Parameter importance: {IMPORTANCE_METHOD}.{rough}")
    if not notes:
        return ""
    return "<ul class='notes'>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def _trials_table(report: TuningReport) -> str:
    tuned = tuned_names(report)
    several = len(report.ranges) > 1
    head = ["#", "Training job", *(["Definition"] if several else []), "Status"]
    head += [f"{report.metric}", *tuned, "Seconds", "Failure reason"]
    numeric = {0, len(head) - 2}

    def row(t: TrialRow) -> str:
        cells = [f"<td class='num'>{t.number}</td>", f"<td>{escape(t.name)}</td>"]
        if several:
            cells.append(f"<td>{escape(t.definition)}</td>")
        cells.append(f"<td>{_status(t.status, t.stopped_early)}</td>")
        cells.append(f"<td class='num'>{_fmt(t.objective)}</td>")
        cells += [f"<td class='code'>{escape(t.hyperparameters.get(n, ''))}</td>" for n in tuned]
        cells.append(f"<td class='num'>{_fmt(t.training_seconds)}</td>")
        reason = t.failure_reason or ""
        short = reason if len(reason) <= 160 else reason[:157] + "..."
        cells.append(f"<td class='muted' title='{escape(reason)}'>{escape(short)}</td>")
        css = " class='best'" if t.name == report.best_name else ""
        return f"<tr{css}>{''.join(cells)}</tr>"

    heads = "".join(
        f"<th class='num'>{escape(h)}</th>" if i in numeric else f"<th>{escape(h)}</th>"
        for i, h in enumerate(head)
    )
    body = "".join(row(t) for t in report.trials)
    return (
        f"<section><h2>Trials</h2><table><tr>{heads}</tr>{body}</table>"
        "<p class='note'>The best trial is highlighted. The same rows are in trials.csv, "
        "with every trial's times and final metrics.</p></section>"
    )


def _configuration(report: TuningReport) -> str:
    rows = "".join(
        f"<tr><td>{escape(k)}</td><td class='code'>{escape(v)}</td></tr>"
        for k, v in report.params.items()
    )
    return (
        "<section><h2>Configuration</h2><table><tr><th>Setting</th><th>Value</th></tr>"
        f"{rows}</table></section>"
    )


def render_html(report: TuningReport) -> str:
    """The report as one HTML page that needs only a browser (no scripts, no links out)."""
    goal = next(iter(report.objectives.values()))
    title = f"Tuning job {report.name}"
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    sub = (
        f"{_status(report.status)} · {escape(report.strategy)} strategy · "
        f"{escape(goal['Type'].lower())} {escape(report.metric)} · "
        f"{len(report.trials)} trials · generated {generated}"
    )
    failure = (
        f"<section><h2>Failure</h2><p>{escape(report.failure_reason)}</p></section>"
        if report.failure_reason
        else ""
    )
    sections = [
        failure,
        _summary(report),
        _plots(report),
        _trials_table(report),
        _configuration(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(title)}</h1><p class='sub'>{sub}</p>\n"
        + "\n".join(s for s in sections if s)
        + f"\n<p class='note'>sagebox tuning report, schema {SCHEMA_VERSION}. "
        "The same data is in tuning-report.json and trials.csv.</p></main></body></html>\n"
    )
