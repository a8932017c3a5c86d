"""Encoders, missing values, outliers and scaling: fitted states and outputs with known answers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from sagebox.errors import ValidationError
from sagebox.wrangler import registry
from sagebox.wrangler.transforms.encode import similarity


def fit_apply(
    step_type: str, table: pa.Table, **parameters: Any
) -> tuple[dict[str, Any], pa.Table]:
    transform = registry.create(step_type, parameters)
    state = transform.fit(table)
    return state, transform.apply(table, state)


def test_one_hot_top_categories_other_and_unseen_at_apply_time() -> None:
    train = pa.table({"purpose": ["car", "car", "car", "home", "home", "edu", None]})
    transform = registry.create("encode-one-hot", {"column": "purpose", "max_categories": 2})
    state = transform.fit(train)
    assert state["categories"] == ["car", "home"]
    later = pa.table({"purpose": ["home", "boat", None, "edu"]})
    out = transform.apply(later, state)
    assert out.column_names == ["purpose_car", "purpose_home", "purpose_other"]
    assert out.to_pylist() == [
        {"purpose_car": 0, "purpose_home": 1, "purpose_other": 0},
        {"purpose_car": 0, "purpose_home": 0, "purpose_other": 1},  # unseen -> other
        {"purpose_car": 0, "purpose_home": 0, "purpose_other": 0},  # null -> nothing
        {"purpose_car": 0, "purpose_home": 0, "purpose_other": 1},  # beyond the top 2
    ]
    without = registry.create("encode-one-hot", {"column": "purpose", "other": False})
    assert without.apply(later, without.fit(train)).column_names == [
        "purpose_car",
        "purpose_home",
        "purpose_edu",
    ]


def test_one_hot_names_never_collide() -> None:
    train = pa.table({"p": ["other", "other", "a b", "a_b", "car"]})
    transform = registry.create("encode-one-hot", {"column": "p"})
    state = transform.fit(train)
    out = transform.apply(pa.table({"p": ["other", "boat", "a b", "a_b"]}), state)
    assert out.column_names == ["p_other", "p_a_b", "p_a_b_2", "p_car"]
    assert out.column("p_other").to_pylist() == [1, 1, 0, 0], "'other' and unseen: one column"
    assert out.column("p_a_b").to_pylist() == [0, 0, 1, 0]
    assert out.column("p_a_b_2").to_pylist() == [0, 0, 0, 1]


def test_ordinal_encoding_sorted_categories_and_unknowns() -> None:
    table = pa.table({"grade": ["b", "a", "c", "a"]})
    state, out = fit_apply("encode-ordinal", table, column="grade", output_column="grade_code")
    assert state["categories"] == ["a", "b", "c"]
    assert out.column("grade_code").to_pylist() == [1, 0, 2, 0]
    transform = registry.create("encode-ordinal", {"column": "grade", "unknown_value": -1})
    applied = transform.apply(pa.table({"grade": ["z", None, "c"]}), state)
    assert applied.column("grade").to_pylist() == [-1, None, 2]


def test_similarity_encoding_is_ngram_jaccard_to_the_top_categories() -> None:
    assert similarity("abc", "abc") == 1.0
    assert similarity("abc", "xyz") == 0.0
    # " ab", "ab", "b " ... : the typo keeps most n-grams
    assert similarity("employed", "employd") > similarity("employed", "retired")
    table = pa.table({"status": ["employed"] * 3 + ["retired"] * 2 + ["student"]})
    state, out = fit_apply("encode-similarity", table, column="status", top_k=2)
    assert state["categories"] == ["employed", "retired"]
    assert out.column_names == ["status_sim_employed", "status_sim_retired"]
    transform = registry.create("encode-similarity", {"column": "status", "top_k": 2})
    typo = transform.apply(pa.table({"status": ["employd", None]}), state).to_pylist()
    assert typo[0]["status_sim_employed"] == pytest.approx(similarity("employd", "employed"))
    assert typo[0]["status_sim_employed"] > typo[0]["status_sim_retired"]
    assert typo[1] == {"status_sim_employed": None, "status_sim_retired": None}


def test_target_encoding_smoothing_and_training_rows_only() -> None:
    table = pa.table(
        {
            "city": ["a", "a", "a", "b", "c", "c"],
            "default": [1, 1, 0, 0, 1, 1],
            "split": ["train", "train", "train", "train", "test", "test"],
        }
    )
    # fitted on the training rows: prior = 2/4; a: (2 + 2*0.5) / (3 + 2) = 0.6; b: 0.5/3
    state, out = fit_apply(
        "encode-target", table, column="city", target="default", smoothing=2.0, split_column="split"
    )
    assert state["prior"] == 0.5
    assert dict(zip(state["categories"], state["encoding"], strict=True)) == pytest.approx(
        {"a": 0.6, "b": 1.0 / 3.0}
    )
    # c was never in training (only in test): it gets the prior, its labels do not leak
    assert out.column("city").to_pylist() == pytest.approx([0.6, 0.6, 0.6, 1 / 3, 0.5, 0.5])
    no_smoothing, _ = fit_apply(
        "encode-target", table, column="city", target="default", smoothing=0
    )
    assert dict(zip(no_smoothing["categories"], no_smoothing["encoding"], strict=True)) == (
        pytest.approx({"a": 2 / 3, "b": 0.0, "c": 1.0})
    )


def test_handle_missing_fills_and_drop_missing() -> None:
    table = pa.table(
        {"x": [1, None, 3, 10], "f": [1.0, float("nan"), None, 5.0], "s": ["a", None, "a", "b"]}
    )
    state, mean = fit_apply("handle-missing", table, strategy="mean", columns=["x", "f"])
    assert state["fill_values"] == {"x": pytest.approx(14 / 3), "f": 3.0}
    assert mean.column("x").to_pylist() == pytest.approx([1, 14 / 3, 3, 10])
    assert mean.column("f").to_pylist() == [1.0, 3.0, 3.0, 5.0]
    _, median = fit_apply("handle-missing", table, strategy="median", columns=["x"])
    assert median.column("x").to_pylist() == [1.0, 3.0, 3.0, 10.0]
    _, mode = fit_apply("handle-missing", table, strategy="mode", columns=["s"])
    assert mode.column("s").to_pylist() == ["a", "a", "a", "b"]
    constant = registry.create(
        "handle-missing", {"strategy": "constant", "value": 0, "columns": ["x"]}
    )
    assert not constant.is_stateful()
    assert constant.apply(table).column("x").to_pylist() == [1, 0, 3, 10]
    with pytest.raises(ValidationError, match="needs numeric columns; 's'"):
        fit_apply("handle-missing", table, strategy="mean", columns=["s"])
    drop = registry.create("drop-missing", {"columns": ["x", "f"]})
    assert drop.apply(table).column("s").to_pylist() == ["a", "b"]
    drop_all = registry.create("drop-missing", {"columns": ["x", "f"], "how": "all"})
    assert drop_all.apply(table).num_rows == 3


def test_outliers_iqr_clip_std_remove_and_quantiles() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 100.0]
    table = pa.table({"x": values, "n": [1, 2, 3, 4, 5, 100]})
    state, clipped = fit_apply("handle-outliers", table, columns=["x", "n"], method="iqr")
    q1, q3 = np.quantile(values, [0.25, 0.75])
    high = q3 + 1.5 * (q3 - q1)
    assert state["bounds"]["x"] == pytest.approx([q1 - 1.5 * (q3 - q1), high])
    assert clipped.column("x").to_pylist() == pytest.approx([1, 2, 3, 4, 5, high])
    assert clipped.schema.field("n").type == pa.int64(), "integers stay integers"
    assert clipped.column("n").to_pylist()[-1] == math.floor(high)
    many = pa.table({"x": [0.0] * 50 + [1.0] * 50 + [1000.0]})
    _, removed = fit_apply("handle-outliers", many, method="std", action="remove", factor=2.0)
    assert removed.num_rows == 100
    state, _ = fit_apply("handle-outliers", many, method="quantile", upper_quantile=0.5)
    assert state["bounds"]["x"][1] == 1.0


def test_scalers_match_scikit_learn() -> None:
    from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

    values = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 33.0])
    table = pa.table({"x": values, "const": [5.0] * 6})
    for method, reference in (
        ("standard", StandardScaler()),
        ("min-max", MinMaxScaler()),
        ("robust", RobustScaler()),
    ):
        _, out = fit_apply("scale", table, columns=["x", "const"], method=method)
        expected = reference.fit_transform(values.reshape(-1, 1)).ravel()
        assert out.column("x").to_pylist() == pytest.approx(expected), method
        assert not any(math.isnan(v) for v in out.column("const").to_pylist())
    _, ranged = fit_apply(
        "scale", table, columns=["x"], method="min-max", min_value=-1, max_value=1
    )
    assert ranged.column("x").to_pylist()[0] == -1 and ranged.column("x").to_pylist()[-1] == 1
