"""The report's charts as base64 PNG, drawn with matplotlib from the evaluation's dict.

Figures are made with ``matplotlib.figure.Figure`` directly rather than pyplot: that needs
no GUI, renders with Agg, and leaves the caller's pyplot state and backend alone.
"""

from __future__ import annotations

import base64
import io
import itertools
from collections.abc import Sequence
from typing import Any

COLORS = {"positive": "#c0392b", "negative": "#2f6fa8", "curve": "#2f6fa8", "muted": "#9aa5b1"}
MARKERS: dict[str, tuple[str, str, str]] = {  # rule: (label, marker, colour)
    "threshold": ("decision threshold", "o", "#1f2933"),
    "closest_to_perfect": ("closest to (0, 1)", "s", "#8e44ad"),
    "youden": ("Youden's J max", "^", "#27ae60"),
    "max_f1": ("max F1", "D", "#d9822b"),
    "min_cost": ("min expected cost", "*", "#c0392b"),
}


def _figure(width: float = 5.2, height: float = 4.0) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return figure, figure.subplots()


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _points(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The decision threshold and each rule's choice, with the metrics at each."""
    found = [("threshold", report["at_threshold"])]
    for rule, choice in report["threshold_choices"].items():
        if choice is not None:
            found.append((rule, choice))
    return found


def _mark(axes: Any, points: list[tuple[str, dict[str, Any]]], x: str, y: str) -> None:
    for rule, at in points:
        if at.get(x) is None or at.get(y) is None:
            continue
        label, marker, colour = MARKERS[rule]
        axes.plot(
            at[x],
            at[y],
            marker=marker,
            color=colour,
            markersize=9,
            linestyle="none",
            label=f"{label} ({at['threshold']:.3g})",
        )


def _style(axes: Any, title: str, xlabel: str, ylabel: str, legend: bool = True) -> None:
    axes.set_title(title, fontsize=11)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if legend:
        axes.legend(fontsize=8, loc="best")


def roc(report: dict[str, Any]) -> str | None:
    curve = report["curves"]["roc"]
    if curve is None:
        return None
    figure, axes = _figure()
    auc = report["metrics"]["auc"]
    axes.plot(curve["fpr"], curve["tpr"], color=COLORS["curve"], label=f"ROC (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], color=COLORS["muted"], linestyle="--", label="random")
    _mark(axes, _points(report), "false_positive_rate", "recall")
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    _style(
        axes,
        "ROC curve",
        "False positive rate (good borrowers refused)",
        "True positive rate (defaulters caught)",
    )
    return _png(figure)


def precision_recall(report: dict[str, Any]) -> str | None:
    curve = report["curves"]["precision_recall"]
    if curve is None:
        return None
    figure, axes = _figure()
    ap = report["metrics"]["average_precision"]
    axes.step(
        curve["recall"],
        curve["precision"],
        where="post",
        color=COLORS["curve"],
        label=f"PR (AP {ap:.3f})",
    )
    base = report["classes"]["positive_rate"]
    axes.axhline(base, color=COLORS["muted"], linestyle="--", label=f"default rate {base:.3f}")
    _mark(axes, _points(report), "recall", "precision")
    axes.set_xlim(-0.02, 1.02)
    axes.set_ylim(-0.02, 1.02)
    _style(
        axes,
        "Precision-recall curve",
        "Recall (defaulters caught)",
        "Precision (refused who would default)",
    )
    return _png(figure)


def calibration(report: dict[str, Any]) -> str:
    curve = report["curves"]["calibration"]
    figure, axes = _figure()
    edges = curve["bin_edges"]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    counts = axes.twinx()
    counts.bar(
        centres,
        curve["count"],
        width=edges[1] - edges[0],
        color=COLORS["muted"],
        alpha=0.25,
        label="rows per bin",
    )
    counts.set_ylabel("Rows per bin", color="#616e7c")
    axes.set_zorder(counts.get_zorder() + 1)
    axes.patch.set_visible(False)
    filled = [
        (m, f)
        for m, f in zip(curve["mean_predicted"], curve["fraction_positive"], strict=True)
        if m is not None
    ]
    axes.plot([0, 1], [0, 1], color=COLORS["muted"], linestyle="--", label="perfectly calibrated")
    axes.plot(
        [m for m, _ in filled],
        [f for _, f in filled],
        marker="o",
        color=COLORS["curve"],
        label="model",
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.02, 1.02)
    _style(
        axes,
        "Calibration (10 bins)",
        "Mean predicted probability of default",
        "Observed default rate",
    )
    return _png(figure)


def ks(report: dict[str, Any]) -> str | None:
    curve = report["curves"]["ks"]
    if curve is None:
        return None
    figure, axes = _figure()
    x = curve["thresholds"]
    # thresholds run high to low; one between two scores counts like the score above it
    axes.step(
        x, curve["cdf_negative"], where="post", color=COLORS["negative"], label="good borrowers (0)"
    )
    axes.step(
        x, curve["cdf_positive"], where="post", color=COLORS["positive"], label="defaulters (1)"
    )
    at = x.index(curve["threshold"]) if curve["threshold"] in x else None
    if at is not None:
        low, high = sorted((curve["cdf_positive"][at], curve["cdf_negative"][at]))
        axes.vlines(
            x[at],
            low,
            high,
            color="#1f2933",
            linewidth=2,
            label=f"KS {curve['statistic']:.3f} at {x[at]:.3g}",
        )
    axes.set_ylim(-0.02, 1.02)
    _style(
        axes,
        "KS: score distributions of the two classes",
        "Score (threshold)",
        "Share scored below the threshold",
    )
    return _png(figure)


def cost(report: dict[str, Any]) -> str:
    curve = report["curves"]["cost"]
    costs = report["costs"]
    figure, axes = _figure()
    axes.step(  # constant between two scores, as in the KS plot
        curve["thresholds"],
        curve["expected_cost"],
        where="post",
        color=COLORS["curve"],
        label="expected cost per applicant",
    )
    best = report["threshold_choices"]["min_cost"]
    _mark(
        axes,
        [("min_cost", best), ("threshold", report["at_threshold"])],
        "threshold",
        "expected_cost",
    )
    title = f"Cost curve (FP {costs['false_positive']:g}, FN {costs['false_negative']:g})"
    _style(axes, title, "Threshold (refuse at or above)", "Expected cost per applicant")
    return _png(figure)


def confusion_heatmap(matrix: Sequence[Sequence[int]], names: Sequence[str]) -> str:
    k = len(names)
    size = min(9.0, 3.0 + 0.45 * k)
    figure, axes = _figure(size + 1.0, size)
    image = axes.imshow(matrix, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_xticks(range(k), labels=list(names), rotation=45 if k > 4 else 0, ha="right")
    axes.set_yticks(range(k), labels=list(names))
    if k <= 20:  # beyond that the numbers would not fit; the HTML table has them
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                colour = "white" if image.norm(value) > 0.55 else "#1f2933"
                axes.text(j, i, str(value), ha="center", va="center", color=colour, fontsize=9)
    _style(axes, "Confusion matrix", "Predicted class", "True class", legend=False)
    axes.grid(False)
    return _png(figure)


def predicted_vs_actual(report: dict[str, Any]) -> str:
    sample = report["sample"]
    figure, axes = _figure()
    actual, predicted = sample["actual"], sample["predicted"]
    axes.scatter(actual, predicted, s=10, alpha=0.5, color=COLORS["curve"], label="rows")
    low, high = min(actual + predicted), max(actual + predicted)
    axes.plot([low, high], [low, high], color=COLORS["muted"], linestyle="--", label="perfect")
    _style(axes, "Predicted vs actual", "Actual", "Predicted")
    return _png(figure)


def residuals(report: dict[str, Any]) -> str:
    sample = report["sample"]
    figure, axes = _figure()
    predicted = sample["predicted"]
    errors = [p - a for a, p in zip(sample["actual"], predicted, strict=True)]
    axes.scatter(predicted, errors, s=10, alpha=0.5, color=COLORS["curve"], label="rows")
    axes.axhline(0.0, color=COLORS["muted"], linestyle="--")
    _style(axes, "Residuals (predicted - actual)", "Predicted", "Residual", legend=False)
    return _png(figure)
