"""Binary classifiers (will this borrower default?): metrics, curves and threshold choices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sagebox.evaluation._inputs import FloatArray
from sagebox.evaluation.result import Costs, Evaluation, number
from sagebox.evaluation.thresholds import (
    RULES,
    ConfusionTable,
    choose,
    confusion_table,
    downsample,
    ks,
    metrics_at,
)

CALIBRATION_BINS = 10
_AT_THRESHOLD = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "false_positive_rate",
    "specificity",
    "balanced_accuracy",
    "expected_cost",
)


def evaluate_binary(
    labels: FloatArray,
    scores: FloatArray,
    threshold: float,
    costs: Costs,
    class_names: Sequence[str] = ("0", "1"),
) -> Evaluation:
    """Everything a lender reads off a scorer of ``P(default)``, deciding at ``threshold``."""
    from sklearn.metrics import average_precision_score, brier_score_loss, log_loss

    notes: list[str] = []
    table = confusion_table(labels, scores)
    both = bool(table.positives and table.negatives)
    if not both:
        present = "1 (positive)" if table.positives else "0 (negative)"
        notes.append(
            f"Only class {present} is present in the labels, so AUC, Gini, KS, the ROC "
            "curve and the ROC-based thresholds are undefined and reported as null. "
            "Evaluate on data holding both classes."
        )
    if not table.positives:
        notes.append("No positive labels: recall, F1, average precision and PR are undefined.")
    auc = _auc(labels, scores) if both else None
    statistic, ks_threshold = ks(table)
    at = metrics_at(labels, scores, threshold, costs)
    if at["precision"] is None:
        notes.append(
            f"No score reaches the threshold {threshold:g}, so nobody is predicted 1 and "
            "precision is undefined (null)."
        )
    metrics: dict[str, float | None] = {
        "auc": auc,
        "gini": None if auc is None else 2.0 * auc - 1.0,
        "ks": statistic,
        "ks_threshold": ks_threshold,
        "average_precision": (
            number(average_precision_score(labels, scores)) if table.positives else None
        ),
        "log_loss": number(log_loss(labels, scores, labels=[0, 1])),
        "brier": number(brier_score_loss(labels, scores, pos_label=1)),
        "threshold": threshold,
        **{name: at[name] for name in _AT_THRESHOLD},
        "positive_rate": table.positives / len(labels),
    }
    picks = choose(table, costs)
    choices = {
        rule: None
        if index is None
        else {
            "rule": RULES[rule],
            **metrics_at(labels, scores, float(table.thresholds[index]), costs),
        }
        for rule, index in picks.items()
    }
    details = {
        "threshold": threshold,
        "costs": costs.to_dict(),
        "classes": {
            "names": list(class_names),
            "positives": table.positives,
            "negatives": table.negatives,
            "positive_rate": table.positives / len(labels),
        },
        "confusion_matrix": {k: at[k] for k in ("threshold", "tp", "fp", "tn", "fn")},
        "at_threshold": at,
        "threshold_choices": choices,
        "curves": {
            "roc": _roc(labels, scores, table) if both else None,
            "precision_recall": _precision_recall(labels, scores, table)
            if table.positives
            else None,
            "calibration": _calibration(labels, scores),
            "ks": _ks_curve(table, statistic, ks_threshold) if both else None,
            "cost": _cost_curve(table, costs, picks["min_cost"]),
        },
    }
    return Evaluation("binary", len(labels), metrics, details, tuple(notes))


def _auc(labels: FloatArray, scores: FloatArray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return number(roc_auc_score(labels, scores))


def _first_threshold(thresholds: FloatArray, table: ConfusionTable) -> FloatArray:
    """scikit-learn's ``inf`` (predict nobody) as the table's threshold above every score."""
    result = thresholds.astype(np.float64)
    result[~np.isfinite(result)] = table.thresholds[0]
    return result


def _roc(labels: FloatArray, scores: FloatArray, table: ConfusionTable) -> dict[str, Any]:
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(labels, scores)
    keep = downsample(len(fpr))
    return {
        "fpr": fpr[keep],
        "tpr": tpr[keep],
        "thresholds": _first_threshold(thresholds, table)[keep],
    }


def _precision_recall(
    labels: FloatArray, scores: FloatArray, table: ConfusionTable
) -> dict[str, Any]:
    """Precision against recall; the last point (recall 0) is deciding above every score."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(labels, scores)
    thresholds = np.r_[thresholds, table.thresholds[0]]
    keep = downsample(len(precision))
    return {
        "precision": precision[keep],
        "recall": recall[keep],
        "thresholds": thresholds[keep],
    }


def _calibration(labels: FloatArray, scores: FloatArray) -> dict[str, Any]:
    """Ten equal-width bins of the score: mean score against the share that defaulted."""
    from sklearn.calibration import calibration_curve

    fraction, mean = calibration_curve(labels, scores, n_bins=CALIBRATION_BINS, pos_label=1)
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    # the bin of each score exactly as calibration_curve assigns it, for the counts
    counts = np.bincount(np.searchsorted(edges[1:-1], scores), minlength=CALIBRATION_BINS)
    filled = counts > 0
    mean_all = np.full(CALIBRATION_BINS, np.nan)
    fraction_all = np.full(CALIBRATION_BINS, np.nan)
    mean_all[filled], fraction_all[filled] = mean, fraction
    return {
        "bin_edges": edges,
        "count": counts,
        "mean_predicted": mean_all,
        "fraction_positive": fraction_all,
    }


def _ks_curve(table: ConfusionTable, statistic: float | None, at: float | None) -> dict[str, Any]:
    """Per threshold, the share of each class scored below it (its cumulative distribution)."""
    index = int(np.argmax(np.abs(table.tpr - table.fpr)))
    keep = downsample(len(table.thresholds), keep=[index])
    return {
        "thresholds": table.thresholds[keep],
        "cdf_positive": (1.0 - table.tpr)[keep],
        "cdf_negative": (1.0 - table.fpr)[keep],
        "statistic": statistic,
        "threshold": at,
    }


def _cost_curve(table: ConfusionTable, costs: Costs, best: int | None) -> dict[str, Any]:
    cost = table.expected_cost(costs)
    keep = downsample(len(cost), keep=[] if best is None else [best])
    return {
        "thresholds": table.thresholds[keep],
        "expected_cost": cost[keep],
        "profit": -cost[keep],
    }
