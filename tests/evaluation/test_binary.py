"""Binary metrics: checked against scikit-learn and SciPy, and on cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import ks_2samp
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from sagebox.evaluation import Costs, evaluate


@pytest.fixture(scope="module")
def loans() -> tuple[np.ndarray, np.ndarray]:
    """150 applicants: a 30% default rate and a scorer that separates them imperfectly."""
    rng = np.random.default_rng(7)
    labels = (rng.random(150) < 0.3).astype(int)
    scores = 1 / (1 + np.exp(-(rng.normal(size=150) + 1.4 * labels - 1.0)))
    return labels, np.round(scores, 2)  # rounding makes ties, which the curves must handle


def test_every_headline_metric_matches_scikit_learn(loans: tuple[np.ndarray, np.ndarray]) -> None:
    labels, scores = loans
    m = evaluate(labels, scores, threshold=0.4).metrics
    predicted = (scores >= 0.4).astype(int)
    tn, fp, _, _ = skm.confusion_matrix(labels, predicted).ravel()
    auc = skm.roc_auc_score(labels, scores)
    expected = {
        "auc": auc,
        "gini": 2 * auc - 1,
        "average_precision": skm.average_precision_score(labels, scores),
        "log_loss": skm.log_loss(labels, scores),
        "brier": skm.brier_score_loss(labels, scores),
        "accuracy": skm.accuracy_score(labels, predicted),
        "precision": skm.precision_score(labels, predicted),
        "recall": skm.recall_score(labels, predicted),
        "f1": skm.f1_score(labels, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(labels, predicted),
        "false_positive_rate": fp / (fp + tn),
        "specificity": tn / (fp + tn),
        "positive_rate": labels.mean(),
        "threshold": 0.4,
    }
    for name, value in expected.items():
        assert m[name] == pytest.approx(value), name


def test_confusion_matrix_counts_scores_at_the_threshold_as_positive() -> None:
    result = evaluate([0, 1, 0, 1], [0.5, 0.5, 0.49, 0.51], threshold=0.5)
    cm = result.to_dict()["confusion_matrix"]
    assert cm == {"threshold": 0.5, "tp": 2, "fp": 1, "tn": 1, "fn": 0}


def test_four_rows_worked_by_hand() -> None:
    result = evaluate([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1])
    d, m = result.to_dict(), result.metrics
    assert d["confusion_matrix"] == {"threshold": 0.5, "tp": 1, "fp": 1, "tn": 1, "fn": 1}
    assert m["accuracy"] == m["precision"] == m["recall"] == m["false_positive_rate"] == 0.5
    assert m["auc"] == pytest.approx(0.75)  # 3 of the 4 (defaulter, good) pairs ranked right
    assert m["gini"] == pytest.approx(0.5)
    assert m["ks"] == pytest.approx(0.5) and m["ks_threshold"] == 0.9
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.36 + 0.01) / 4)
    assert m["log_loss"] == pytest.approx(-(2 * math.log(0.9) + 2 * math.log(0.4)) / 4)
    assert m["expected_cost"] == pytest.approx(0.5)  # (1 FP x 1 + 1 FN x 1) / 4 rows


def test_perfect_separation_gives_auc_ks_and_gini_of_one() -> None:
    result = evaluate([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    m = result.metrics
    assert m["auc"] == m["ks"] == m["gini"] == 1.0
    assert m["ks_threshold"] == 0.8
    for rule, choice in result.to_dict()["threshold_choices"].items():
        assert choice["threshold"] == 0.8, rule
        assert choice["fp"] == choice["fn"] == 0


def test_ks_equals_the_two_sample_kolmogorov_smirnov_statistic(
    loans: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, scores = loans
    result = evaluate(labels, scores)
    expected = ks_2samp(scores[labels == 1], scores[labels == 0]).statistic
    assert result.metrics["ks"] == pytest.approx(expected)
    at = result.metrics["ks_threshold"]
    tpr = (scores[labels == 1] >= at).mean()
    fpr = (scores[labels == 0] >= at).mean()
    assert tpr - fpr == pytest.approx(expected)  # deciding at the KS threshold realises the gap
    curve = result.to_dict()["curves"]["ks"]
    assert curve["statistic"] == result.metrics["ks"] and curve["threshold"] == at


def test_roc_pr_and_calibration_curves_are_scikit_learns(
    loans: tuple[np.ndarray, np.ndarray],
) -> None:
    labels, scores = loans
    curves = evaluate(labels, scores).to_dict()["curves"]
    fpr, tpr, thresholds = skm.roc_curve(labels, scores)
    assert curves["roc"]["fpr"] == pytest.approx(fpr.tolist())
    assert curves["roc"]["tpr"] == pytest.approx(tpr.tolist())
    assert curves["roc"]["thresholds"][1:] == pytest.approx(thresholds[1:].tolist())
    assert curves["roc"]["thresholds"][0] > scores.max()  # sklearn's inf, as a JSON number
    precision, recall, _ = skm.precision_recall_curve(labels, scores)
    assert curves["precision_recall"]["precision"] == pytest.approx(precision.tolist())
    assert curves["precision_recall"]["recall"] == pytest.approx(recall.tolist())
    fraction, mean = calibration_curve(labels, scores, n_bins=10)
    cal = curves["calibration"]
    assert [v for v in cal["fraction_positive"] if v is not None] == pytest.approx(fraction)
    assert [v for v in cal["mean_predicted"] if v is not None] == pytest.approx(mean)
    assert sum(cal["count"]) == len(labels) and len(cal["bin_edges"]) == 11


def test_curves_are_downsampled_to_about_200_points_keeping_their_ends() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 5000)
    scores = np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1)
    curves = evaluate(labels, scores, costs=Costs(false_negative=5)).to_dict()["curves"]
    roc = curves["roc"]
    assert 50 < len(roc["fpr"]) <= 202
    assert (roc["fpr"][0], roc["tpr"][0]) == (0.0, 0.0)
    assert (roc["fpr"][-1], roc["tpr"][-1]) == (1.0, 1.0)
    for name in ("precision_recall", "ks", "cost"):
        sizes = {len(v) for v in curves[name].values() if isinstance(v, list)}
        assert len(sizes) == 1 and sizes.pop() <= 202, name
    cost = curves["cost"]
    best = min(cost["expected_cost"])  # the optimum survives the downsampling
    full = Costs(false_negative=5)
    assert best == pytest.approx(
        evaluate(labels, scores, costs=full).to_dict()["threshold_choices"]["min_cost"][
            "expected_cost"
        ]
    )


def test_one_class_reports_auc_ks_and_roc_as_null_with_a_note() -> None:
    result = evaluate([0, 0, 0], [0.1, 0.7, 0.3])
    m = result.metrics
    assert m["auc"] is None and m["gini"] is None and m["ks"] is None
    assert m["average_precision"] is None and m["recall"] is None
    assert m["accuracy"] == pytest.approx(2 / 3) and m["log_loss"] is not None
    body = result.to_dict()
    assert body["curves"]["roc"] is None and body["curves"]["ks"] is None
    assert body["threshold_choices"]["youden"] is None
    assert body["threshold_choices"]["min_cost"]["threshold"] > 0.7  # refuse nobody
    assert any("AUC" in n and "undefined" in n for n in result.notes)


def test_threshold_above_every_score_leaves_precision_undefined() -> None:
    result = evaluate([0, 1, 1], [0.1, 0.2, 0.3], threshold=0.9)
    assert result.metrics["precision"] is None
    assert result.metrics["recall"] == 0.0
    assert any("precision is undefined" in n for n in result.notes)


def test_two_probability_columns_use_the_second(loans: tuple[np.ndarray, np.ndarray]) -> None:
    labels, scores = loans
    both = np.c_[1 - scores, scores]
    assert evaluate(labels, both, problem="binary").metrics == evaluate(labels, scores).metrics
