"""Each threshold rule picks the threshold it should: on crafted cases and by brute force."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from sagebox.evaluation import Costs, evaluate


def crafted() -> tuple[np.ndarray, np.ndarray]:
    """50 defaulters and 20 good borrowers in three score groups, so that the rules disagree.

    score 0.9: 35 defaulters, 2 good  -> ROC point (0.10, 0.70): J 0.60, distance^2 0.10
    score 0.8: 14 defaulters, 5 good  -> ROC point (0.35, 0.98): J 0.63, distance^2 0.12
    score 0.1:  1 defaulter, 13 good  -> ROC point (1, 1)
    """
    groups = [(0.9, 35, 2), (0.8, 14, 5), (0.1, 1, 13)]
    labels = np.concatenate([[1] * p + [0] * n for _, p, n in groups])
    scores = np.concatenate([[s] * (p + n) for s, p, n in groups])
    return labels, scores


def chosen(costs: Costs | None = None) -> dict[str, float]:
    labels, scores = crafted()
    choices = evaluate(labels, scores, costs=costs).to_dict()["threshold_choices"]
    return {rule: choice["threshold"] for rule, choice in choices.items()}


def test_distance_to_the_perfect_corner_and_youden_disagree_as_worked_out() -> None:
    picked = chosen()
    assert picked["closest_to_perfect"] == 0.9
    assert picked["youden"] == 0.8
    assert picked["max_f1"] == 0.8  # F1 0.805 at 0.9, 0.925 at 0.8, 0.833 at 0.1


def test_the_cost_rule_lowers_the_threshold_as_missed_defaults_cost_more() -> None:
    # expected cost = (FP x cost_fp + FN x cost_fn) / 70 at each threshold
    assert chosen(Costs(false_positive=10, false_negative=1))["min_cost"] == 0.9
    assert chosen(Costs(false_positive=1, false_negative=1))["min_cost"] == 0.8
    assert chosen(Costs(false_positive=1, false_negative=100))["min_cost"] == 0.1


def test_the_cost_rule_can_choose_to_refuse_nobody() -> None:
    picked = chosen(Costs(false_positive=50, false_negative=1))
    assert picked["min_cost"] > 0.9  # above every score: approve every applicant
    labels, scores = crafted()
    at = evaluate(labels, scores, costs=Costs(false_positive=50, false_negative=1))
    best = at.to_dict()["threshold_choices"]["min_cost"]
    assert best["tp"] == best["fp"] == 0 and best["expected_cost"] == pytest.approx(50 / 70)


def test_gains_count_as_negative_costs_and_profit_is_minus_cost() -> None:
    labels, scores = crafted()
    costs = Costs(false_positive=1, false_negative=5, true_negative=-0.5)
    best = evaluate(labels, scores, costs=costs).to_dict()["threshold_choices"]["min_cost"]
    cost = (best["fp"] * 1 + best["fn"] * 5 + best["tn"] * -0.5) / 70
    assert best["expected_cost"] == pytest.approx(cost) and best["profit"] == -best["expected_cost"]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_rule_agrees_with_a_brute_force_search_using_scikit_learn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 120)
    scores = np.round(np.clip(rng.normal(0.35 + 0.25 * labels, 0.2), 0, 1), 2)
    costs = Costs(false_positive=1, false_negative=4, true_positive=0.5)
    choices = evaluate(labels, scores, costs=costs).to_dict()["threshold_choices"]
    candidates = sorted({*scores.tolist(), np.nextafter(scores.max(), 2)}, reverse=True)

    def score(rule: str, t: float) -> float:
        predicted = (scores >= t).astype(int)
        tn, fp, fn, tp = skm.confusion_matrix(labels, predicted, labels=[0, 1]).ravel()
        tpr, fpr = tp / (tp + fn), fp / (fp + tn)
        return {
            "closest_to_perfect": -(fpr**2 + (1 - tpr) ** 2),
            "youden": tpr - fpr,
            "max_f1": skm.f1_score(labels, predicted, zero_division=0),
            "min_cost": -(fp * 1 + fn * 4 + tp * 0.5) / len(labels),
        }[rule]

    for rule, choice in choices.items():
        values = [score(rule, t) for t in candidates]
        best = candidates[int(np.argmax(values))]  # first = highest threshold on ties
        assert choice["threshold"] == pytest.approx(best), rule
        predicted = (scores >= choice["threshold"]).astype(int)
        assert choice["precision"] == pytest.approx(skm.precision_score(labels, predicted))
        assert choice["recall"] == pytest.approx(skm.recall_score(labels, predicted))
