"""Linear Learner's model selection, decision threshold and final quality metrics.

For a binary classifier the threshold on P(class 1) is tuned on the selection data
(validation, else train) for ``binary_classifier_model_selection_criteria``, as SageMaker
does: the accuracy- or F-beta-maximising threshold, the best precision whose recall reaches
``target_recall`` (or the reverse), or 0.5 for ``loss_function``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = Any


def _curve(scores: Array, labels: Array) -> tuple[Array, Array, Array]:
    """Candidate thresholds (descending) with true and false positives at each.

    Predicting 1 for ``score >= threshold``; the first candidate (+inf) predicts no 1s.
    """
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    tp, fp = np.cumsum(y), np.cumsum(1.0 - y)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the end of each run of ties
    lower = np.r_[s[last[1:]], -np.inf]
    # Between a distinct score and the next one down, so unseen scores in the gap split
    # the way the tuning data did.
    cut = np.where(np.isfinite(lower), (s[last] + lower) / 2, s[last])
    return np.r_[np.inf, cut], np.r_[0.0, tp[last]], np.r_[0.0, fp[last]]


def _rates(tp: Array, fp: Array, positives: float, n: int, beta: float) -> dict[str, Array]:
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 1.0)
        recall = tp / positives if positives else np.ones_like(tp)
        b2 = beta * beta
        denominator = b2 * precision + recall
        f_beta = np.where(denominator > 0, (1 + b2) * precision * recall / denominator, 0.0)
    accuracy = (tp + (n - positives - fp)) / n
    return {"accuracy": accuracy, "precision": precision, "recall": recall, "f_beta": f_beta}


def tune_threshold(scores: Array, labels: Array, hp: dict[str, Any]) -> tuple[float, float]:
    """The decision threshold on P(class 1) for the selection criterion, and its value."""
    criterion = hp["binary_classifier_model_selection_criteria"]
    if criterion == "loss_function" or len(labels) == 0:
        return 0.5, 0.0
    thresholds, tp, fp = _curve(scores, labels)
    rates = _rates(tp, fp, float(labels.sum()), len(labels), hp["f_beta"])
    if criterion in ("accuracy", "f_beta"):
        value = rates[criterion]
        best = int(np.argmax(value))
        return float(thresholds[best]), float(value[best])
    if criterion == "precision_at_target_recall":
        target, goal, held = "recall", "precision", hp["target_recall"]
    else:
        target, goal, held = "precision", "recall", hp["target_precision"]
    meets = rates[target] >= held
    if not meets.any():  # unreachable target: the closest one
        best = int(np.argmax(rates[target]))
        return float(thresholds[best]), float(rates[goal][best])
    value = np.where(meets, rates[goal], -np.inf)
    best = int(np.argmax(value))
    return float(thresholds[best]), float(value[best])


def roc_auc(scores: Array, labels: Array) -> float:
    """Area under the ROC curve (ties count half); 0.5 when one class is absent."""
    from scipy.stats import rankdata

    positives = float(labels.sum())
    negatives = len(labels) - positives
    if not positives or not negatives:
        return 0.5
    ranks = rankdata(scores)
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def binary_metrics(scores: Array, labels: Array, threshold: float, beta: float) -> dict[str, float]:
    predicted = scores >= threshold
    tp = float((predicted & (labels == 1)).sum())
    fp = float((predicted & (labels == 0)).sum())
    rates = _rates(np.asarray([tp]), np.asarray([fp]), float(labels.sum()), len(labels), beta)
    return {
        "binary_classification_accuracy": float(rates["accuracy"][0]),
        f"binary_f_{beta:.3f}": float(rates["f_beta"][0]),
        "precision": float(rates["precision"][0]),
        "recall": float(rates["recall"][0]),
        "roc_auc_score": roc_auc(scores, labels),
    }


def multiclass_metrics(
    probabilities: Array, labels: Array, top_k: int, beta: float
) -> dict[str, float]:
    k = probabilities.shape[1]
    truth = labels.astype(np.int64)
    predicted = probabilities.argmax(axis=1)
    rank = (probabilities > probabilities[np.arange(len(truth)), truth][:, None]).sum(axis=1)
    precision, recall = [], []
    for c in range(k):
        hits = float(((predicted == c) & (truth == c)).sum())
        said, present = float((predicted == c).sum()), float((truth == c).sum())
        if present:
            recall.append(hits / present)
        if said or present:
            precision.append(hits / said if said else 0.0)
    p = float(np.mean(precision)) if precision else 0.0
    r = float(np.mean(recall)) if recall else 0.0
    b2 = beta * beta
    return {
        "multiclass_accuracy": float((predicted == truth).mean()),
        f"multiclass_top_k_accuracy_{top_k}": float((rank < top_k).mean()),
        "dcg": float((1.0 / np.log2(rank + 2.0)).mean()),
        "macro_precision": p,
        "macro_recall": r,
        f"macro_f_{beta:.3f}": (1 + b2) * p * r / (b2 * p + r) if b2 * p + r > 0 else 0.0,
    }


def regression_metrics(predictions: Array, labels: Array) -> dict[str, float]:
    error = predictions - labels
    return {"mse": float((error * error).mean()), "absolute_loss": float(np.abs(error).mean())}
