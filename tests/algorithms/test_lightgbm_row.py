"""One-row LightGBM predictions (``algorithms/lightgbm_row.py``): the scores
``Booster.predict`` gives, bit for bit, whatever the objective."""

from __future__ import annotations

import threading

import lightgbm
import numpy as np
import pytest

from sagebox.algorithms import lightgbm as algorithm
from sagebox.algorithms.lightgbm_row import single_row

RNG = np.random.default_rng(11)
X = RNG.normal(size=(600, 6))
X[RNG.random(X.shape) < 0.1] = np.nan  # missing values take the trees' default branches


def _booster(objective: str) -> lightgbm.Booster:
    params: dict[str, object] = {"objective": objective, "verbose": -1, "num_leaves": 7}
    if objective == "multiclass":
        params["num_class"] = 3
        y = RNG.integers(0, 3, len(X)).astype(float)
    elif objective == "binary":
        y = (np.nan_to_num(X[:, 0]) > 0).astype(float)
    else:
        y = RNG.normal(size=len(X))
    return lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round=15)


@pytest.mark.parametrize("objective", ["binary", "multiclass", "regression"])
def test_one_row_scores_are_booster_predicts_bit_for_bit(objective: str) -> None:
    booster = _booster(objective)
    assert single_row(booster) is not None  # this lightgbm has the fast path
    for i in range(100):
        for row in (X[i : i + 1], X[i : i + 1].astype(np.float32)):
            want = np.asarray(booster.predict(row))
            got = algorithm.predict(booster, row)
            assert got.shape == want.shape and got.dtype == want.dtype
            assert np.array_equal(got, want, equal_nan=True)


def test_the_best_iteration_is_used_as_booster_predict_uses_it() -> None:
    booster = _booster("regression")
    booster.best_iteration = 4
    fresh = lightgbm.Booster(model_str=booster.model_to_string())
    fresh.best_iteration = 4
    assert np.array_equal(algorithm.predict(fresh, X[:1]), booster.predict(X[:1]))
    all_trees = booster.predict(X[:1], num_iteration=15)
    assert not np.array_equal(algorithm.predict(fresh, X[:1]), all_trees)


def test_other_shapes_go_through_booster_predict() -> None:
    booster = _booster("binary")
    assert np.array_equal(algorithm.predict(booster, X[:5]), booster.predict(X[:5]))
    with pytest.raises(lightgbm.basic.LightGBMError, match="number of features"):
        algorithm.predict(booster, X[:1, :4])  # the library's own message


def test_threads_sharing_a_booster_each_get_their_rows_scores() -> None:
    booster = _booster("binary")
    want = booster.predict(X[:200])
    wrong: list[int] = []

    def score(offset: int) -> None:
        for i in range(offset, 200, 4):
            if algorithm.predict(booster, X[i : i + 1])[0] != want[i]:
                wrong.append(i)

    threads = [threading.Thread(target=score, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_sparse_and_frame_rows_and_a_changed_best_iteration_use_booster_predict() -> None:
    import pandas as pd
    from scipy import sparse

    booster = _booster("regression")
    dense_row = np.nan_to_num(X[:1])
    want = booster.predict(dense_row)
    assert np.array_equal(algorithm.predict(booster, sparse.csr_matrix(dense_row)), want)
    assert np.array_equal(algorithm.predict(booster, pd.DataFrame(dense_row)), want)
    assert np.array_equal(algorithm.predict(booster, dense_row), want)  # the fast path made
    booster.best_iteration = 3  # as training sets it after early stopping
    fewer = booster.predict(dense_row)
    assert not np.array_equal(fewer, want)
    assert np.array_equal(algorithm.predict(booster, dense_row), fewer)
