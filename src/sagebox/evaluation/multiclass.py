"""Multiclass classifiers: accuracy, averaged precision/recall/F1, the confusion matrix,
and log loss and one-vs-rest AUC when class probabilities are given."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from sagebox.errors import ValidationError
from sagebox.evaluation._inputs import FloatArray, class_indices
from sagebox.evaluation.result import Evaluation, number

ROW_SUM_TOLERANCE = 1e-3


def evaluate_multiclass(
    labels: FloatArray, scores: FloatArray, class_names: Sequence[str] | None
) -> Evaluation:
    """Scores are (n, k) class probabilities, or 1-d predicted class indices."""
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
        precision_score,
        recall_score,
    )

    truth = class_indices(labels, "labels")
    probabilities = scores if scores.ndim == 2 else None
    if probabilities is not None:
        _check_probabilities(probabilities)
        # rows within the tolerance of 1 (float32 scores) are made exact for scikit-learn
        probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
        k = probabilities.shape[1]
        predicted = np.argmax(probabilities, axis=1)
    else:
        predicted = class_indices(scores, "scores (predicted classes)")
        k = int(max(truth.max(), predicted.max())) + 1
    if truth.max() >= k:
        raise ValidationError(
            f"labels hold class {int(truth.max())} but scores have only {k} columns "
            f"(classes 0..{k - 1}); pass one probability column per class."
        )
    names = _names(class_names, k)
    classes = list(range(k))
    notes: list[str] = []
    with warnings.catch_warnings():  # classes never predicted count as 0, as documented
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", UserWarning)
        metrics: dict[str, float | None] = {
            "accuracy": number(accuracy_score(truth, predicted)),
            "balanced_accuracy": number(balanced_accuracy_score(truth, predicted)),
        }
        for average in ("macro", "weighted"):
            kwargs: dict[str, Any] = {"labels": classes, "average": average, "zero_division": 0}
            metrics[f"precision_{average}"] = number(precision_score(truth, predicted, **kwargs))
            metrics[f"recall_{average}"] = number(recall_score(truth, predicted, **kwargs))
            metrics[f"f1_{average}"] = number(f1_score(truth, predicted, **kwargs))
        precision, recall, f1, support = precision_recall_fscore_support(
            truth, predicted, labels=classes, zero_division=np.nan
        )
    metrics["log_loss"] = None
    metrics["auc_ovr_macro"] = None
    if probabilities is not None:
        metrics["log_loss"], metrics["auc_ovr_macro"] = _probability_metrics(
            truth, probabilities, classes, names, notes
        )
    else:
        notes.append(
            "Scores are predicted classes, not probabilities: log loss and AUC need "
            "class probabilities and are null."
        )
    details = {
        "classes": names,
        "confusion_matrix": {
            "labels": names,
            "matrix": confusion_matrix(truth, predicted, labels=classes),
        },
        "per_class": [
            {
                "class": names[i],
                "precision": number(precision[i]),
                "recall": number(recall[i]),
                "f1": number(f1[i]),
                "support": int(support[i]),
            }
            for i in classes
        ],
    }
    return Evaluation("multiclass", len(truth), metrics, details, tuple(notes))


def _probability_metrics(
    truth: Any, probabilities: FloatArray, classes: list[int], names: list[str], notes: list[str]
) -> tuple[float | None, float | None]:
    from sklearn.metrics import log_loss, roc_auc_score

    loss = number(log_loss(truth, probabilities, labels=classes))
    missing = [names[c] for c in classes if not (truth == c).any()]
    if missing:
        notes.append(
            f"Class(es) {', '.join(missing)} never occur in the labels, so one-vs-rest AUC "
            "is undefined (null). Evaluate on data holding every class."
        )
        return loss, None
    if len(classes) == 2:  # both one-vs-rest AUCs equal the plain AUC of column 1
        return loss, number(roc_auc_score(truth, probabilities[:, 1]))
    auc = roc_auc_score(truth, probabilities, multi_class="ovr", average="macro", labels=classes)
    return loss, number(auc)


def _check_probabilities(probabilities: FloatArray) -> None:
    outside = np.flatnonzero(((probabilities < 0) | (probabilities > 1)).any(axis=1))
    if outside.size:
        raise ValidationError(
            f"Multiclass scores must be class probabilities in [0, 1]; row {int(outside[0])} "
            f"holds {probabilities[outside[0]].round(4).tolist()}. Apply the softmax to raw "
            "margins, or pass predicted classes as a 1-d array."
        )
    sums = probabilities.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOLERANCE)
    if off.size:
        raise ValidationError(
            f"Each row of multiclass probabilities must sum to 1; {off.size} row(s) do not, "
            f"e.g. row {int(off[0])} sums to {sums[off[0]]:.4g}. Normalise the rows "
            "(divide by their sum) or apply the softmax."
        )


def _names(class_names: Sequence[str] | None, k: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(k)]
    names = [str(n) for n in class_names]
    if len(names) != k:
        raise ValidationError(
            f"class_names has {len(names)} name(s) but the problem has {k} classes; "
            "pass one name per class, in class-index order."
        )
    return names
