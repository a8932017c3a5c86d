"""Decision thresholds for a binary scorer: the counts at every cut-off and the rules that pick one.

Everywhere in sagebox a row is predicted 1 (refuse the loan) when its score is *at or
above* the threshold, as scikit-learn's ``roc_curve`` counts it, so a threshold chosen
here reproduces exactly the point of the curve it was chosen from.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sagebox.evaluation._inputs import FloatArray
from sagebox.evaluation.result import Costs, number

IntArray = npt.NDArray[np.int64]
CURVE_POINTS = 200


@dataclass(frozen=True)
class ConfusionTable:
    """True and false positives at every distinct threshold, highest threshold first.

    The first threshold lies just above the highest score (nobody is predicted 1); the
    last is the lowest score (everybody is).
    """

    thresholds: FloatArray
    tp: IntArray
    fp: IntArray
    positives: int
    negatives: int

    @property
    def fn(self) -> IntArray:
        return self.positives - self.tp

    @property
    def tn(self) -> IntArray:
        return self.negatives - self.fp

    @property
    def tpr(self) -> FloatArray:
        return _ratio(self.tp, self.positives)

    @property
    def fpr(self) -> FloatArray:
        return _ratio(self.fp, self.negatives)

    def expected_cost(self, costs: Costs) -> FloatArray:
        """The average cost per row of deciding at each threshold."""
        total = (
            costs.false_positive * self.fp
            + costs.false_negative * self.fn
            + costs.true_positive * self.tp
            + costs.true_negative * self.tn
        )
        result: FloatArray = total / (self.positives + self.negatives)
        return result


def _ratio(count: IntArray, total: int) -> FloatArray:
    if total == 0:
        return np.full(count.shape, np.nan)
    result: FloatArray = count / total
    return result


def confusion_table(labels: FloatArray, scores: FloatArray) -> ConfusionTable:
    """Cumulative counts over the scores sorted high to low, one entry per distinct score."""
    order = np.argsort(-scores, kind="mergesort")
    ordered, truth = scores[order], labels[order]
    ends = np.r_[np.flatnonzero(np.diff(ordered)), len(ordered) - 1]  # last row of each tie
    tp = np.cumsum(truth)[ends].astype(np.int64)
    fp = (ends + 1 - tp).astype(np.int64)
    above = np.nextafter(ordered[0], np.inf)
    return ConfusionTable(
        thresholds=np.r_[above, ordered[ends]],
        tp=np.r_[0, tp],
        fp=np.r_[0, fp],
        positives=int(truth.sum()),
        negatives=int(len(truth) - truth.sum()),
    )


def downsample(length: int, limit: int = CURVE_POINTS, keep: Iterable[int] = ()) -> IntArray:
    """At most about ``limit`` evenly spread indices of a curve, its ends and ``keep`` kept."""
    if length <= limit:
        return np.arange(length, dtype=np.int64)
    spread = np.round(np.linspace(0, length - 1, limit)).astype(np.int64)
    return np.unique(np.r_[spread, np.asarray(list(keep), dtype=np.int64)])


# --- the metrics at one threshold ---------------------------------------------------------


def metrics_at(
    labels: FloatArray, scores: FloatArray, threshold: float, costs: Costs
) -> dict[str, Any]:
    """The confusion matrix and the rates a lender reads, deciding at ``threshold``."""
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_score,
        recall_score,
    )

    predicted = (scores >= threshold).astype(np.int64)
    truth = labels.astype(np.int64)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(truth, predicted, labels=[0, 1]).ravel())
    both = tp + fn > 0 and tn + fp > 0
    with warnings.catch_warnings():  # undefined values are reported as None, not warned
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        precision = precision_score(truth, predicted, zero_division=np.nan)
        recall = recall_score(truth, predicted, zero_division=np.nan)
        f1 = f1_score(truth, predicted, zero_division=np.nan)
        balanced = balanced_accuracy_score(truth, predicted) if both else np.nan
    cost = (
        costs.false_positive * fp
        + costs.false_negative * fn
        + costs.true_positive * tp
        + costs.true_negative * tn
    ) / len(truth)
    return {
        "threshold": float(threshold),
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "accuracy": number(accuracy_score(truth, predicted)),
        "precision": number(precision),
        "recall": number(recall),
        "f1": number(f1),
        "false_positive_rate": number(fp / (fp + tn)) if fp + tn else None,
        "specificity": number(tn / (fp + tn)) if fp + tn else None,
        "balanced_accuracy": number(balanced),
        "predicted_positive_rate": (tp + fp) / len(truth),
        "expected_cost": float(cost),
        "profit": float(-cost),
    }


# --- the rules that choose a threshold ------------------------------------------------------

RULES: dict[str, str] = {
    "closest_to_perfect": "the ROC point nearest to (FPR 0, TPR 1)",
    "youden": "the largest Youden's J = TPR - FPR",
    "max_f1": "the largest F1 (harmonic mean of precision and recall)",
    "min_cost": "the smallest expected cost per applicant under the given costs (max profit)",
}


def choose(table: ConfusionTable, costs: Costs) -> dict[str, int | None]:
    """The index in ``table`` each rule picks, or ``None`` where the rule is undefined.

    Ties go to the highest threshold (the first index), the most cautious about refusing.
    """
    picks: dict[str, int | None] = {}
    if table.positives and table.negatives:
        tpr, fpr = table.tpr, table.fpr
        picks["closest_to_perfect"] = int(np.argmin(fpr**2 + (1.0 - tpr) ** 2))
        picks["youden"] = int(np.argmax(tpr - fpr))
    else:
        picks["closest_to_perfect"] = picks["youden"] = None
    if table.positives:
        f1 = 2 * table.tp / (2 * table.tp + table.fp + table.fn)
        picks["max_f1"] = int(np.argmax(f1))
    else:
        picks["max_f1"] = None
    picks["min_cost"] = int(np.argmin(table.expected_cost(costs)))
    return picks


def ks(table: ConfusionTable) -> tuple[float | None, float | None]:
    """The Kolmogorov-Smirnov statistic between the classes' score distributions, and where.

    The largest gap between the share of defaulters and the share of good borrowers
    scored below a threshold, which is ``max |TPR - FPR|`` over the thresholds.
    """
    if not (table.positives and table.negatives):
        return None, None
    gap = np.abs(table.tpr - table.fpr)
    at = int(np.argmax(gap))
    return float(gap[at]), float(table.thresholds[at])
