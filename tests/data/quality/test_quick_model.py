"""The quick model: learns what is learnable, finds nothing in noise, same seed same answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sagebox.data.quality import quick_model
from sagebox.errors import ValidationError

N = 1000


def _problem(signal: bool, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({f"noise_{i}": rng.normal(size=N) for i in range(5)})
    data.insert(2, "debt_ratio", rng.normal(size=N))
    data["region"] = rng.choice(["north", "south", "east", "west"], N)
    logit = 2.5 * data["debt_ratio"] if signal else 0 * data["debt_ratio"]
    data["default"] = np.where(rng.random(N) < 1 / (1 + np.exp(-logit)), "bad", "good")
    return data


def test_a_learnable_problem_scores_high_and_ranks_the_signal_first() -> None:
    result = quick_model(_problem(signal=True), "default", "classification", seed=0)
    assert result.metric == "auc"
    assert result.score > 0.8
    assert result.folds == 5 and len(result.fold_scores) == 5
    assert result.importances[0][0] == "debt_ratio"
    assert sum(share for _, share in result.importances) == pytest.approx(1.0)
    assert result.classes == ["bad", "good"]
    assert "region" in result.features  # categoricals are encoded, not dropped


def test_noise_scores_about_one_half() -> None:
    result = quick_model(_problem(signal=False), "default", "classification", seed=0)
    assert abs(result.score - 0.5) < 0.06


def test_the_same_seed_gives_the_same_result() -> None:
    data = _problem(signal=True)
    first = quick_model(data, "default", "classification", seed=3, n_estimators=25)
    again = quick_model(data, "default", "classification", seed=3, n_estimators=25)
    other = quick_model(data, "default", "classification", seed=4, n_estimators=25)
    assert first.fold_scores == again.fold_scores
    assert first.importances == again.importances
    assert first.fold_scores != other.fold_scores


def test_regression_and_multiclass() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=N)
    data = pd.DataFrame({"x": x, "z": rng.normal(size=N), "y": 3 * x + rng.normal(0, 0.5, N)})
    regression = quick_model(data, "y", "regression")
    assert regression.metric == "r2" and regression.score > 0.8
    data["band"] = pd.cut(data["y"], [-np.inf, -2, 2, np.inf], labels=["low", "mid", "high"])
    data["band"] = data["band"].astype(str)
    multiclass = quick_model(data.drop(columns="y"), "band", "classification")
    assert multiclass.metric == "auc_ovr" and multiclass.score > 0.8


def test_permutation_importance_on_a_holdout() -> None:
    result = quick_model(
        _problem(signal=True),
        "default",
        "classification",
        importance="permutation",
        n_estimators=30,
    )
    assert result.importance_method == "permutation"
    assert result.importances[0][0] == "debt_ratio"


def test_excluded_columns_and_bad_targets() -> None:
    data = _problem(signal=True)
    data["loan_id"] = np.arange(N)
    result = quick_model(data, "default", "classification", exclude={"loan_id": "identifier"})
    assert "loan_id" not in result.features and result.excluded == {"loan_id": "identifier"}
    with pytest.raises(ValidationError, match="single class"):
        quick_model(data.assign(default="good"), "default", "classification")
    with pytest.raises(ValidationError, match="not a column"):
        quick_model(data, "missing", "classification")
