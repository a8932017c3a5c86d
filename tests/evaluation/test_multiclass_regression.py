"""Multiclass and regression metrics, checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from sagebox.evaluation import evaluate


@pytest.fixture(scope="module")
def grades() -> tuple[np.ndarray, np.ndarray]:
    """Risk grades A/B/C (0..2) for 200 loans and a model's class probabilities."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3)) + 1.5 * np.eye(3)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return labels, probabilities


def test_multiclass_metrics_match_scikit_learn(grades: tuple[np.ndarray, np.ndarray]) -> None:
    labels, probabilities = grades
    result = evaluate(labels, probabilities, class_names=["A", "B", "C"])
    predicted = probabilities.argmax(axis=1)
    m = result.metrics
    assert result.problem == "multiclass"
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))
    for average in ("macro", "weighted"):
        for name, fn in (
            ("precision", skm.precision_score),
            ("recall", skm.recall_score),
            ("f1", skm.f1_score),
        ):
            assert m[f"{name}_{average}"] == pytest.approx(fn(labels, predicted, average=average))
    assert m["log_loss"] == pytest.approx(skm.log_loss(labels, probabilities))
    assert m["auc_ovr_macro"] == pytest.approx(
        skm.roc_auc_score(labels, probabilities, multi_class="ovr", average="macro")
    )
    body = result.to_dict()
    assert body["confusion_matrix"]["labels"] == ["A", "B", "C"]
    assert body["confusion_matrix"]["matrix"] == skm.confusion_matrix(labels, predicted).tolist()
    assert [c["support"] for c in body["per_class"]] == np.bincount(labels).tolist()
    assert body["per_class"][1]["recall"] == pytest.approx(
        skm.recall_score(labels, predicted, average=None)[1]
    )


def test_predicted_classes_give_no_log_loss_or_auc(grades: tuple[np.ndarray, np.ndarray]) -> None:
    labels, probabilities = grades
    predicted = probabilities.argmax(axis=1)
    result = evaluate(labels, predicted, problem="multiclass")
    assert result.metrics["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))
    assert result.metrics["log_loss"] is None and result.metrics["auc_ovr_macro"] is None
    assert any("not probabilities" in n for n in result.notes)


def test_a_class_missing_from_the_labels_makes_auc_null_not_a_crash() -> None:
    probabilities = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    result = evaluate([0, 1, 0], probabilities, class_names=["A", "B", "C"])
    assert result.metrics["auc_ovr_macro"] is None and result.metrics["accuracy"] == 1.0
    assert any("C never occur" in n for n in result.notes)
    assert result.to_dict()["per_class"][2]["precision"] is None  # never predicted


def test_regression_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    labels = rng.gamma(2.0, 1000.0, 300)  # loss given default, in currency
    predictions = labels * rng.normal(1.0, 0.2, 300) + 50
    result = evaluate(labels, predictions)
    m = result.metrics
    assert result.problem == "regression" and result.notes == ()
    assert m["mse"] == pytest.approx(skm.mean_squared_error(labels, predictions))
    assert m["rmse"] == pytest.approx(np.sqrt(skm.mean_squared_error(labels, predictions)))
    assert m["mae"] == pytest.approx(skm.mean_absolute_error(labels, predictions))
    assert m["median_absolute_error"] == pytest.approx(
        skm.median_absolute_error(labels, predictions)
    )
    assert m["r2"] == pytest.approx(skm.r2_score(labels, predictions))
    assert m["explained_variance"] == pytest.approx(
        skm.explained_variance_score(labels, predictions)
    )
    assert m["mape"] == pytest.approx(skm.mean_absolute_percentage_error(labels, predictions))
    body = result.to_dict()
    assert body["residuals"]["mean"] == pytest.approx((predictions - labels).mean())
    assert len(body["sample"]["actual"]) == 300


def test_mape_skips_zero_labels_and_says_so() -> None:
    labels = np.array([0.0, 100.0, 200.0, 0.0])
    predictions = np.array([5.0, 110.0, 180.0, 1.0])
    result = evaluate(labels, predictions)
    assert result.metrics["mape"] == pytest.approx((0.1 + 0.1) / 2)
    assert any("skips the 2 row(s) whose label is 0" in n for n in result.notes)
    assert result.to_dict()["mape_rows"] == 2
    only_zeros = evaluate([0.0, 0.0, 0.0], [1.0, 2.0, 3.0])
    assert only_zeros.metrics["mape"] is None and only_zeros.metrics["r2"] is None
    assert only_zeros.metrics["mae"] == 2.0
