"""The evaluation as ``evaluation.json`` and one self-contained ``evaluation.html``.

:func:`render_html` reads only the JSON dict, so a stored ``evaluation.json`` can be
rendered again; every text that came from the caller (title, class names) is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from sagebox.errors import ValidationError
from sagebox.evaluation import plots
from sagebox.evaluation.result import Evaluation

DEFAULT_TITLE = "Model evaluation"
JSON_NAME = "evaluation.json"
HTML_NAME = "evaluation.html"

MEANINGS = {
    "auc": "chance a random defaulter scores above a random good borrower",
    "gini": "2 x AUC - 1, the accuracy ratio used in credit scoring",
    "ks": "largest gap between the two classes' score distributions",
    "ks_threshold": "the score where that gap occurs",
    "average_precision": "area under the precision-recall curve",
    "log_loss": "penalty for confident wrong probabilities (lower is better)",
    "brier": "mean squared error of the probabilities (lower is better)",
    "threshold": "refuse when the score is at or above this",
    "accuracy": "share of decisions that were right",
    "precision": "of those refused, the share who would have defaulted",
    "recall": "of the defaulters, the share refused (TPR)",
    "f1": "harmonic mean of precision and recall",
    "false_positive_rate": "of the good borrowers, the share refused",
    "specificity": "of the good borrowers, the share approved",
    "balanced_accuracy": "mean of recall and specificity",
    "expected_cost": "average cost per applicant at the threshold",
    "positive_rate": "share of rows labelled 1 (the default rate)",
    "balanced_accuracy_mc": "mean recall over the classes",
    "mse": "mean squared error",
    "rmse": "root mean squared error, in the label's units",
    "mae": "mean absolute error, in the label's units",
    "median_absolute_error": "median absolute error, robust to outliers",
    "r2": "share of the label's variance explained (1 is perfect)",
    "explained_variance": "like R2, ignoring a constant bias",
    "mape": "mean absolute percentage error (rows with label 0 skipped)",
    "precision_macro": "precision per class, averaged with equal weight",
    "recall_macro": "recall per class, averaged with equal weight",
    "f1_macro": "F1 per class, averaged with equal weight",
    "precision_weighted": "precision per class, averaged by class size",
    "recall_weighted": "recall per class, averaged by class size",
    "f1_weighted": "F1 per class, averaged by class size",
    "log_loss_mc": "penalty for confident wrong probabilities (lower is better)",
    "auc_ovr_macro": "one-vs-rest AUC, averaged over the classes",
}

_STYLE = """
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2933;
margin:0;background:#f5f7fa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}
.sub{color:#616e7c;margin:0 0 20px}
section{background:#fff;border:1px solid #e4e7eb;border-radius:8px;padding:18px 20px;
margin:0 0 18px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
th{font-size:12px;color:#616e7c;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.muted{color:#7b8794}.note{color:#7b8794;font-size:12px}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:14px}
.plots figure{margin:0}.plots img{width:100%;height:auto;border:1px solid #eef1f4}
.cm{width:auto}.cm td,.cm th{padding:8px 16px}.cm td.hit{background:#eaf4ea}
.cm td.miss{background:#fbeaea}
ul.notes{margin:0;padding-left:20px}
"""


def write_report(
    result: Evaluation, directory: Path, title: str = DEFAULT_TITLE
) -> tuple[Path, Path]:
    """Write ``directory/evaluation.json`` and ``directory/evaluation.html``; return both."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            f"Cannot create the report folder {directory}: {exc.strerror or exc}. "
            "Choose a folder you can write to."
        ) from None
    body = result.to_dict()
    json_path, html_path = directory / JSON_NAME, directory / HTML_NAME
    json_path.write_text(json.dumps(body, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    html_path.write_text(render_html(body, title), encoding="utf-8")
    return json_path, html_path


def render_html(report: dict[str, Any], title: str = DEFAULT_TITLE) -> str:
    """The evaluation dict (``Evaluation.to_dict()``) as one HTML page needing only a browser."""
    problem = report["problem"]
    sections = [_headline(report), _notes(report.get("notes", []))]
    sections += _SECTIONS[problem](report)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="sub">{escape(problem)} problem · {report["n_samples"]:,} rows · '
        f"generated {generated}</p>\n" + "\n".join(s for s in sections if s) + "\n"
        f'<p class="note">sagebox evaluation, schema {escape(str(report["schema_version"]))}. '
        "The same numbers are in evaluation.json.</p></main></body></html>\n"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return '<span class="muted">undefined</span>'
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    return escape(str(value))


def _cell(at: dict[str, Any], column: str) -> str:
    """A threshold that no score reaches is shown as such (it only just exceeds the top)."""
    if column == "threshold" and at["tp"] + at["fp"] == 0:
        return f"{_fmt(at[column])}<div class='note'>above every score: refuses nobody</div>"
    return _fmt(at[column])


def _headline(report: dict[str, Any]) -> str:
    suffix = "_mc" if report["problem"] == "multiclass" else ""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td class='num'>{_fmt(value)}</td>"
        f"<td class='muted'>{escape(MEANINGS.get(name + suffix, MEANINGS.get(name, '')))}</td>"
        "</tr>"
        for name, value in report["metrics"].items()
    )
    return (
        "<section><h2>Headline metrics</h2><table><tr><th>Metric</th>"
        f"<th class='num'>Value</th><th>What it means</th></tr>{rows}</table></section>"
    )


def _notes(notes: list[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return f"<section><h2>Notes</h2><ul class='notes'>{items}</ul></section>"


def _plots(images: Sequence[tuple[str, str | None]]) -> str:
    figures = "".join(
        f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{png}"></figure>'
        for alt, png in images
        if png is not None
    )
    return f"<section><h2>Plots</h2><div class='plots'>{figures}</div></section>"


def _binary(report: dict[str, Any]) -> list[str]:
    cm = report["confusion_matrix"]
    no, yes = (escape(n) for n in report["classes"]["names"])
    matrix = (
        f"<section><h2>Confusion matrix at threshold {cm['threshold']:g}</h2>"
        "<table class='cm'><tr><th></th>"
        f"<th class='num'>predicted {yes}</th><th class='num'>predicted {no}</th></tr>"
        f"<tr><th>actual {yes}</th><td class='num hit'>TP {cm['tp']:,}</td>"
        f"<td class='num miss'>FN {cm['fn']:,}</td></tr>"
        f"<tr><th>actual {no}</th><td class='num miss'>FP {cm['fp']:,}</td>"
        f"<td class='num hit'>TN {cm['tn']:,}</td></tr></table>"
        f"<p class='note'>Predicted {yes} means the score is at or above the threshold. "
        f"{report['classes']['positives']:,} rows are labelled {yes} and "
        f"{report['classes']['negatives']:,} {no}.</p></section>"
    )
    columns = (
        "threshold",
        "precision",
        "recall",
        "false_positive_rate",
        "f1",
        "accuracy",
        "expected_cost",
    )
    head = "".join(f"<th class='num'>{c.replace('_', ' ')}</th>" for c in columns)
    rows = [("decision threshold", "the threshold you passed", report["at_threshold"])]
    rows += [
        (rule.replace("_", " "), choice["rule"], choice)
        for rule, choice in report["threshold_choices"].items()
        if choice is not None
    ]
    body = "".join(
        f"<tr><td>{escape(name)}<div class='note'>{escape(why)}</div></td>"
        + "".join(f"<td class='num'>{_cell(at, c)}</td>" for c in columns)
        + "</tr>"
        for name, why, at in rows
    )
    costs = report["costs"]
    thresholds = (
        "<section><h2>Threshold choices</h2>"
        f"<table><tr><th>Rule</th>{head}</tr>{body}</table>"
        f"<p class='note'>Costs per applicant: false positive {costs['false_positive']:g}, "
        f"false negative {costs['false_negative']:g}, true positive "
        f"{costs['true_positive']:g}, true negative {costs['true_negative']:g}. "
        "Profit is minus the expected cost.</p></section>"
    )
    images = [
        ("ROC curve", plots.roc(report)),
        ("Precision-recall curve", plots.precision_recall(report)),
        ("KS plot", plots.ks(report)),
        ("Cost curve", plots.cost(report)),
        ("Calibration curve", plots.calibration(report)),
    ]
    return [matrix, thresholds, _plots(images)]


def _multiclass(report: dict[str, Any]) -> list[str]:
    rows = "".join(
        f"<tr><td>{escape(c['class'])}</td>"
        + "".join(f"<td class='num'>{_fmt(c[k])}</td>" for k in ("precision", "recall", "f1"))
        + f"<td class='num'>{c['support']:,}</td></tr>"
        for c in report["per_class"]
    )
    per_class = (
        "<section><h2>Per class</h2><table><tr><th>Class</th><th class='num'>precision</th>"
        "<th class='num'>recall</th><th class='num'>F1</th><th class='num'>support</th>"
        f"</tr>{rows}</table></section>"
    )
    cm = report["confusion_matrix"]
    names = [escape(n) for n in cm["labels"]]
    head = "".join(f"<th class='num'>{n}</th>" for n in names)
    cells = "".join(
        f"<tr><th>{name}</th>"
        + "".join(
            f"<td class='num{' hit' if i == j else ''}'>{value:,}</td>"
            for j, value in enumerate(row)
        )
        + "</tr>"
        for i, (name, row) in enumerate(zip(names, cm["matrix"], strict=True))
    )
    table = (
        "<section><h2>Confusion matrix</h2><table class='cm'>"
        f"<tr><th>true \\ predicted</th>{head}</tr>{cells}</table></section>"
    )
    heatmap = plots.confusion_heatmap(cm["matrix"], cm["labels"])
    return [per_class, table, _plots([("Confusion matrix", heatmap)])]


def _regression(report: dict[str, Any]) -> list[str]:
    def line(name: str, summary: dict[str, Any]) -> str:
        values = [
            summary["mean"],
            summary["std"],
            summary["min"],
            *summary["quantiles"].values(),
            summary["max"],
        ]
        return (
            f"<tr><td>{name}</td>"
            + "".join(f"<td class='num'>{_fmt(v)}</td>" for v in values)
            + "</tr>"
        )

    quantiles = list(report["residuals"]["quantiles"])
    head = "".join(f"<th class='num'>{h}</th>" for h in ["mean", "std", "min", *quantiles, "max"])
    table = (
        "<section><h2>Residuals</h2>"
        f"<table><tr><th></th>{head}</tr>"
        f"{line('residual (predicted - actual)', report['residuals'])}"
        f"{line('label', report['labels'])}</table></section>"
    )
    images = [
        ("Predicted vs actual", plots.predicted_vs_actual(report)),
        ("Residuals", plots.residuals(report)),
    ]
    return [table, _plots(images)]


_SECTIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "binary": _binary,
    "multiclass": _multiclass,
    "regression": _regression,
}
