"""Insights fire on data crafted to have each problem, and stay quiet on clean data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sagebox.data.quality import build_report

N = 2000


def _clean(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.3, N)
    age = rng.integers(21, 70, N)
    grade = rng.choice(["A", "B", "C", "D"], N)
    score = -0.00002 * income + 0.03 * (age - 45) + (grade == "D") * 0.8 + rng.normal(0, 1, N)
    return pd.DataFrame(
        {
            "income": income,
            "age": age,
            "grade": grade,
            "purpose": rng.choice(["car", "home", "education", "business"], N),
            "default": np.where(score > np.median(score), "yes", "no"),
        }
    )


def _kinds(report: dict, kind: str) -> list[dict]:
    return [i for i in report["insights"] if i["kind"] == kind]


@pytest.fixture(scope="module")
def clean_report() -> dict:
    return build_report(_clean(), target="default", quick_model=False)


@pytest.fixture(scope="module")
def dirty_report() -> dict:
    rng = np.random.default_rng(1)
    data = _clean()
    data["default"] = np.where(rng.random(N) < 0.05, "yes", "no")  # 95/5
    data["charged_off"] = np.where(data["default"] == "yes", "Y", "N")  # a leaked copy
    data["recovery_amount"] = np.where(data["default"] == "yes", rng.uniform(100, 900, N), 0.0)
    data["income_monthly"] = data["income"] / 12 + rng.normal(0, 1, N)  # correlated
    data["grade_letter"] = data["grade"].str.lower()  # same information, as categories
    data["country"] = "NO"  # constant
    data["application_id"] = [f"APP-{i:06d}" for i in range(N)]  # an identifier
    data["row_number"] = np.arange(N)
    data["employer_phone"] = np.where(rng.random(N) < 0.8, None, "555-0100")  # mostly missing
    return build_report(data, target="default", quick_model=False)


def test_clean_data_raises_no_warnings(clean_report: dict) -> None:
    serious = [i for i in clean_report["insights"] if i["severity"] in ("high", "medium")]
    assert serious == []
    kinds = {i["kind"] for i in clean_report["insights"]}
    for kind in (
        "class_imbalance",
        "target_leakage",
        "high_correlation",
        "constant_column",
        "id_like_column",
        "missing_values",
        "duplicate_rows",
    ):
        assert kind not in kinds


def test_class_imbalance(dirty_report: dict) -> None:
    (insight,) = _kinds(dirty_report, "class_imbalance")
    assert insight["severity"] == "high"
    assert insight["columns"] == ["default"]
    assert insight["details"]["minority_class"] == "yes"
    assert 0.03 < insight["details"]["minority_share"] < 0.07
    assert "SMOTE" in insight["fix"]


def test_target_leakage(dirty_report: dict) -> None:
    leaked = {i["columns"][0]: i for i in _kinds(dirty_report, "target_leakage")}
    assert set(leaked) == {"charged_off", "recovery_amount"}
    assert leaked["charged_off"]["severity"] == "high"
    assert leaked["charged_off"]["details"]["score"] >= 0.99
    # An identifier is unique per row, yet not "perfectly predictive" out of fold.
    signal = {s["column"]: s["score"] for s in dirty_report["target_signal"]}
    assert signal["application_id"] < 0.7


def test_high_correlation(dirty_report: dict) -> None:
    pairs = {tuple(sorted(i["columns"])) for i in _kinds(dirty_report, "high_correlation")}
    assert ("income", "income_monthly") in pairs
    assert ("grade", "grade_letter") in pairs


def test_constant_id_and_missing_columns(dirty_report: dict) -> None:
    assert [i["columns"] for i in _kinds(dirty_report, "constant_column")] == [["country"]]
    ids = {i["columns"][0] for i in _kinds(dirty_report, "id_like_column")}
    assert ids == {"application_id", "row_number"}
    (missing,) = _kinds(dirty_report, "missing_values")
    assert missing["columns"] == ["employer_phone"] and missing["severity"] == "high"


def test_every_insight_says_how_to_fix_it(dirty_report: dict) -> None:
    severities = [i["severity"] for i in dirty_report["insights"]]
    order = ["high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)
    for insight in dirty_report["insights"]:
        assert insight["message"] and insight["fix"]
        assert insight["severity"] in order


def test_duplicates_and_anomalies() -> None:
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"amount": rng.normal(100, 10, 1000), "kind": rng.choice(["a", "b"], 1000)})
    data.loc[3, "amount"] = 10_000.0
    data = pd.concat([data, data.iloc[:30]], ignore_index=True)
    report = build_report(data)
    (duplicates,) = _kinds(report, "duplicate_rows")
    assert duplicates["details"]["count"] == 30
    (anomaly,) = _kinds(report, "anomalous_values")
    assert anomaly["columns"] == ["amount"] and 10_000.0 in anomaly["details"]["examples"]


def test_malformed_rows_from_the_read_report() -> None:
    read = {
        "rows": 100,
        "bad_rows": 3,
        "examples": [{"file": "s3://b/a.csv", "line": 7, "error": "3 cells", "raw": "a,b,c"}],
        "files": ["s3://b/a.csv"],
    }
    report = build_report(_clean().head(100), read_report=read)
    (insight,) = _kinds(report, "malformed_rows")
    assert insight["severity"] == "high"
    assert report["summary"]["malformed_rows"] == 3
    assert report["read"]["examples"][0]["line"] == 7
