"""The built-in CatBoost algorithm run in-process against SageMaker-style folders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.algorithms import catboost as algo
from sagebox.algorithms.inference import load_model
from sagebox.errors import ValidationError
from sagebox.session import Session
from tests.algorithms.harness import (
    Job,
    csv,
    final_metrics,
    metric_values,
    model_files,
    noise_channels,
    problem,
    rounds,
    run_training_job,
)

FAST = {"learning_rate": 0.3, "depth": 3, "thread_count": 1, "verbose": 0}


class CatBoostJob(Job):
    def trained(self) -> Any:
        return algo.load_model(self.model)


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CatBoostJob:
    return CatBoostJob(tmp_path, monkeypatch, algo.main)


# --- hyperparameters ---------------------------------------------------------------------


def test_sagemaker_defaults_and_messages() -> None:
    values = algo.validate_hyperparameters({})
    assert values["iterations"] == 500 and values["early_stopping_rounds"] == 5
    assert values["learning_rate"] == 0.009 and values["depth"] == 6
    assert values["loss_function"] == "auto" and values["eval_metric"] == "auto"
    assert values["grow_policy"] == "SymmetricTree" and values["max_bin"] == 254
    with pytest.raises(ValidationError) as info:
        algo.validate_hyperparameters({"depth": "17"})
    assert info.value.message == (
        "The 'depth' parameter of CatBoost must be an int in [1, 16]. Got 17 instead."
    )
    with pytest.raises(ValidationError, match=r"'learning_rate' .* \(0, 1\)\. Got 2 instead"):
        algo.validate_hyperparameters({"learning_rate": "2"})
    with pytest.raises(ValidationError, match=r"'rsm' .* float in \(0, 1\]\. Got 0 instead"):
        algo.validate_hyperparameters({"rsm": "0"})
    with pytest.raises(ValidationError, match=r"'grow_policy' .*'Lossguide'.* Got Oblivious"):
        algo.validate_hyperparameters({"grow_policy": "Oblivious"})
    with pytest.raises(ValidationError, match=r"'thread_count' .* -1 .* Got 0 instead"):
        algo.validate_hyperparameters({"thread_count": "0"})
    with pytest.raises(ValidationError, match="Valid hyperparameters: bagging_temperature"):
        algo.validate_hyperparameters({"num_boost_round": "10"})


def test_cross_field_checks() -> None:
    with pytest.raises(ValidationError, match=r"'Ordered' works only with .*'SymmetricTree'"):
        algo.validate_hyperparameters({"boosting_type": "Ordered", "grow_policy": "Depthwise"})
    with pytest.raises(ValidationError, match=r"'PerTreeLevel' is not supported with .*Lossguide"):
        algo.validate_hyperparameters(
            {"grow_policy": "Lossguide", "sampling_frequency": "PerTreeLevel"}
        )
    with pytest.raises(ValidationError, match=r"eval_metric 'AUC' does not apply to .*'RMSE'"):
        algo.validate_hyperparameters({"loss_function": "RMSE", "eval_metric": "AUC"})
    # SageMaker's default sampling frequency quietly gives way to Lossguide's only choice.
    assert algo.validate_hyperparameters({"grow_policy": "Lossguide"})["grow_policy"] == "Lossguide"


# --- training, metrics, problems ---------------------------------------------------------


def test_binary_metric_lines_every_iteration(job: CatBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": csv(*problem(600, 0))}, "text/csv")
    job.channel("validation", {"v.csv": csv(*problem(300, 1))}, "text/csv")
    rc, lines = job.run(capsys, iterations=15, early_stopping_rounds=0, **FAST)
    assert rc == 0, job.failure if rc else ""
    assert "loss_function 'auto' chose 'Logloss' from the labels" in lines
    metrics = metric_values(algo, lines)
    assert len(metrics["validation:AUC"]) == len(metrics["train:Logloss"]) == 15
    assert metrics["AUC"] == metrics["validation:AUC"]  # SageMaker's documented name
    assert metrics["validation:AUC"][-1] > 0.8
    best = max(metrics["validation:AUC"])
    assert any(re.fullmatch(r"bestTest = ([0-9.]+)", line) for line in lines)
    assert float(next(line for line in lines if line.startswith("bestTest"))[11:]) == (
        pytest.approx(best, abs=1e-6)
    )
    assert job.evaluation["problem"] == "binary"
    loaded = load_model(job.model)
    assert loaded.algorithm == "catboost" and loaded.problem == "binary"


def test_early_stopping_stops_early(job: CatBoostJob, capsys: Any) -> None:
    noise_channels(job)
    rc, lines = job.run(capsys, iterations=300, early_stopping_rounds=3, **FAST)
    assert rc == 0, job.failure if rc else ""
    printed = rounds(lines)
    assert 3 < len(printed) < 60
    assert job.trained().tree_count_ == len(printed) - 3  # the best iteration is kept


# --- categorical features ------------------------------------------------------------------


def _colours(n: int, seed: int) -> str:
    """Column 2 is a colour name and carries the signal; column 1 is noise."""
    rng = np.random.default_rng(seed)
    colours = np.array(["red", "green", "blue", "pink", "teal", "gold"])
    colour = colours[rng.integers(0, len(colours), n)]
    y = np.isin(colour, ["red", "teal", "gold"]) ^ (rng.random(n) < 0.05)
    noise = rng.normal(size=n)
    return "".join(f"{int(t)},{v:.4f},{c}\n" for t, v, c in zip(y, noise, colour, strict=True))


def test_string_categories_are_used_natively(job: CatBoostJob, capsys: Any) -> None:
    index = json.dumps({"cat_index_list": [2]})
    job.channel("train", {"data.csv": _colours(800, 0), "categorical_index.json": index})
    job.channel("validation", {"data.csv": _colours(300, 1)})
    rc, lines = job.run(capsys, iterations=20, **FAST)
    assert rc == 0, job.failure if rc else ""
    assert metric_values(algo, lines)["validation:AUC"][-1] > 0.9  # a constant model scores 0.5
    assert job.evaluation["metrics"]["auc"] > 0.9
    model = job.trained()
    assert list(model.get_cat_feature_indices()) == [1]
    x = np.array([[0.0, "red"], [0.0, "blue"], [1.0, "gold"], [1.0, "pink"]], dtype=object)
    scores = load_model(job.model).predict(x)
    assert list(scores > 0.5) == [True, False, True, False]


def test_numeric_category_codes_match_at_inference(job: CatBoostJob, capsys: Any) -> None:
    rng = np.random.default_rng(0)
    code = rng.integers(0, 6, 600)
    y = np.isin(code, [1, 3]).astype(int)
    rows = "".join(
        f"{t},{c}.0,{v:.3f}\n" for t, c, v in zip(y, code, rng.normal(size=600), strict=True)
    )
    job.channel("train", {"d.csv": rows, "categorical_index.json": '{"cat_index_list": [1]}'})
    rc, _ = job.run(capsys, iterations=20, **FAST)
    assert rc == 0, job.failure if rc else ""
    # The CSV said "3.0"; a float32 3.0 at inference is the same category "3".
    scores = load_model(job.model).predict(np.array([[3, 0], [2, 0]], dtype="float32"))
    assert scores[0] > 0.5 > scores[1]


def test_a_category_column_beyond_the_data_is_refused(job: CatBoostJob, capsys: Any) -> None:
    index = '{"cat_index_list": [2, 3]}'
    job.channel("train", {"d.csv": _colours(50, 0), "categorical_index.json": index})
    rc, _ = job.run(capsys, iterations=3)
    assert rc == 1
    assert "lists column 3, but the training data has only 3 columns" in job.failure


def test_strings_outside_categorical_columns_are_refused(job: CatBoostJob, capsys: Any) -> None:
    job.channel("train", {"d.csv": _colours(50, 0)})
    rc, _ = job.run(capsys, iterations=3)
    assert rc == 1 and "Non-numeric value" in job.failure and "column 3" in job.failure


# --- checkpoints and incremental training ------------------------------------------------


# --- one real training job through the control plane ----------------------------------------


def test_a_training_job_with_the_catboost_image(session: Session) -> None:
    described = run_training_job(
        session,
        "sagebox/catboost",
        {"iterations": "30", "learning_rate": "0.3", "thread_count": "1"},
        {
            "train/data.csv": _colours(1000, 1).encode(),
            "train/categorical_index.json": b'{"cat_index_list": [2]}',
            "validation/data.csv": _colours(400, 2).encode(),
        },
    )
    assert final_metrics(described)["validation:AUC"] > 0.9
    assert "catboost-model" in model_files(session, described)
