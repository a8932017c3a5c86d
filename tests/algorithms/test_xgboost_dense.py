"""XGBoost predictions of dense arrays (``algorithms/xgboost_dense.py``): the scores
``Booster.inplace_predict`` gives, bit for bit, whatever the objective."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost

from sagebox.algorithms import xgboost as algorithm
from sagebox.algorithms.xgboost_dense import dense

RNG = np.random.default_rng(13)
X = RNG.normal(size=(600, 6))
X[RNG.random(X.shape) < 0.1] = np.nan  # missing values take the trees' default branches

OBJECTIVES = ["binary:logistic", "multi:softprob", "multi:softmax", "reg:squarederror"]


def _booster(objective: str) -> xgboost.Booster:
    params: dict[str, object] = {"objective": objective, "max_depth": 3, "nthread": 1}
    if objective.startswith("multi:"):
        params["num_class"] = 3
        y = RNG.integers(0, 3, len(X)).astype(float)
    elif objective.startswith("binary:"):
        y = (np.nan_to_num(X[:, 0]) > 0).astype(float)
    else:
        y = RNG.normal(size=len(X))
    return xgboost.train(params, xgboost.DMatrix(X, y), num_boost_round=10)


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_scores_are_inplace_predicts_bit_for_bit(objective: str) -> None:
    booster = _booster(objective)
    assert dense(booster) is not None  # this xgboost has the direct path
    for rows in (X[:1], X[7:8].astype(np.float32), X[:300], X[::3]):  # X[::3]: not contiguous
        want = booster.inplace_predict(rows)
        got = algorithm.predict(booster, rows)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got, want, equal_nan=True)


def test_a_width_the_direct_path_does_not_take_goes_the_way_it_went_before() -> None:
    booster = _booster("binary:logistic")
    narrow = X[:1, :4]
    want = booster.predict(xgboost.DMatrix(narrow))  # inplace_predict refuses it
    assert np.array_equal(algorithm.predict(booster, narrow), want)
