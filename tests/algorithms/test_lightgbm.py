"""The built-in LightGBM algorithm run in-process against SageMaker-style folders."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.algorithms import lightgbm as algo
from sagebox.algorithms.inference import load_model
from sagebox.errors import ValidationError
from sagebox.session import Session
from tests.algorithms.harness import (
    Job,
    binary_channels,
    csv,
    final_metrics,
    metric_values,
    model_files,
    noise_channels,
    problem,
    rounds,
    run_training_job,
)

QUIET = {"verbosity": -1, "num_leaves": 8, "num_threads": 1}


class LightGBMJob(Job):
    def booster(self) -> Any:
        import lightgbm

        return lightgbm.Booster(model_file=str(self.model / "lightgbm-model"))


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LightGBMJob:
    return LightGBMJob(tmp_path, monkeypatch, algo.main)


@pytest.fixture
def binary(job: LightGBMJob) -> LightGBMJob:
    return binary_channels(job)


# --- hyperparameters ---------------------------------------------------------------------


def test_sagemaker_defaults_and_messages() -> None:
    values = algo.validate_hyperparameters({})
    assert values["num_boost_round"] == 100 and values["early_stopping_rounds"] == 10
    assert values["num_leaves"] == 64 and values["max_depth"] == 6
    assert values["min_data_in_leaf"] == 3 and values["bagging_freq"] == 1
    assert values["objective"] == "auto" and values["metric"] == "auto"
    with pytest.raises(ValidationError) as info:
        algo.validate_hyperparameters({"learning_rate": "1"})
    assert info.value.message == (
        "The 'learning_rate' parameter of LightGBM must be a float in (0, 1). Got 1 instead."
    )
    with pytest.raises(ValidationError, match=r"'learning_rate' .* \(0, 1\)\. Got 0 instead"):
        algo.validate_hyperparameters({"learning_rate": "0"})
    with pytest.raises(ValidationError, match=r"'num_leaves' .* int in \[2, 131072\]\. Got 1 "):
        algo.validate_hyperparameters({"num_leaves": "1"})
    with pytest.raises(ValidationError, match=r"'boosting' .*'goss'.* Got xgb instead"):
        algo.validate_hyperparameters({"boosting": "xgb"})
    with pytest.raises(ValidationError, match=r"'is_unbalance' .* boolean .* Got yes instead"):
        algo.validate_hyperparameters({"is_unbalance": "yes"})
    assert algo.validate_hyperparameters({"is_unbalance": "True"})["is_unbalance"] is True


def test_cross_field_checks() -> None:
    with pytest.raises(ValidationError, match="is_unbalance=True and scale_pos_weight=3"):
        algo.validate_hyperparameters({"is_unbalance": "True", "scale_pos_weight": "3"})
    with pytest.raises(ValidationError, match=r"goss.*bagging_freq=0"):
        algo.validate_hyperparameters({"boosting": "goss", "bagging_fraction": "0.5"})
    with pytest.raises(ValidationError, match=r"'rf' .* needs row or feature sampling"):
        algo.validate_hyperparameters(
            {"boosting": "rf", "bagging_freq": "0", "feature_fraction": "1"}
        )
    with pytest.raises(ValidationError, match=r"metric 'auc' is for binary .* 'regression'"):
        algo.validate_hyperparameters({"objective": "regression", "metric": "auc"})


def test_goss_runs_with_sagemaker_default_bagging(binary: LightGBMJob, capsys: Any) -> None:
    rc, _ = binary.run(capsys, num_boost_round=5, boosting="goss", **QUIET)
    assert rc == 0, binary.failure if rc else ""


# --- training, metrics, problems ---------------------------------------------------------


def test_binary_metric_lines_every_round(binary: LightGBMJob, capsys: Any) -> None:
    rc, lines = binary.run(capsys, num_boost_round=12, metric="auc", **QUIET)
    assert rc == 0, binary.failure if rc else ""
    assert "objective 'auto' chose 'binary' from the labels" in lines
    metrics = metric_values(algo, lines)
    assert len(metrics["validation:auc"]) == len(metrics["train:auc"]) == 12
    assert metrics["auc"] == metrics["validation:auc"]  # SageMaker's documented name
    assert metrics["validation:auc"][-1] > 0.8
    # SageMaker's own regex for LightGBM ("auc: ([0-9\\.]+)") reads the validation value too.
    first = next(line for line in lines if line.startswith("[1]\t"))
    assert float(re.search(r"auc: ([0-9\.]+)", first).group(1)) == metrics["validation:auc"][0]  # type: ignore[union-attr]
    assert binary.evaluation["problem"] == "binary"
    loaded = load_model(binary.model)
    assert loaded.algorithm == "lightgbm" and loaded.problem == "binary"


@pytest.mark.parametrize(
    ("objective", "label", "message"),
    [
        ("binary", "2", "label 2, but LightGBM is training a binary model with 2 classes"),
        ("multiclass", "5000", "The largest label is 5000: LightGBM reads class labels as 0..n-1"),
        ("cross_entropy", "1.5", "label 1.5, but LightGBM's objective 'cross_entropy' takes"),
    ],
)
def test_labels_must_fit_the_objective(
    job: LightGBMJob, capsys: Any, objective: str, label: str, message: str
) -> None:
    rows = csv(*problem(100, 0)).replace("\n1,", f"\n{label},", 1)
    job.channel("train", {"t.csv": rows}, "text/csv")
    rc, _ = job.run(capsys, num_boost_round=3, objective=objective, **QUIET)
    assert rc == 1 and message in job.failure


def test_cross_entropy_takes_probabilities(job: LightGBMJob, capsys: Any) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    p = 1 / (1 + np.exp(-2 * x[:, 0]))
    rows = "".join(f"{t:.3f},{a},{b}\n" for t, (a, b) in zip(p, x, strict=True))
    job.channel("train", {"t.csv": rows}, "text/csv")
    rc, _ = job.run(capsys, num_boost_round=20, objective="cross_entropy", **QUIET)
    assert rc == 0, job.failure if rc else ""
    loaded = load_model(job.model)
    assert loaded.problem == "binary"
    scores = loaded.predict(np.array([[2.0, 0], [-2.0, 0]], dtype="float32"))
    assert scores[0] > 0.8 and scores[1] < 0.2


def test_early_stopping_keeps_the_best_round(job: LightGBMJob, capsys: Any) -> None:
    noise_channels(job)
    rc, lines = job.run(
        capsys, num_boost_round=200, early_stopping_rounds=3, learning_rate=0.5, num_threads=1
    )
    assert rc == 0, job.failure if rc else ""
    printed = rounds(lines)
    assert 3 < len(printed) < 50
    kept = job.booster().current_iteration()
    assert kept == len(printed) - 3
    assert f"early stopping: keeping the best {kept} of {len(printed)} rounds" in lines


# --- categorical features ------------------------------------------------------------------


def _categorical(n: int, seed: int) -> str:
    """Column 2 (a category code 0..7) carries the signal, and not monotonically."""
    rng = np.random.default_rng(seed)
    code = rng.integers(0, 8, n)
    noise = rng.normal(size=n)
    y = np.isin(code, [1, 4, 6]) ^ (rng.random(n) < 0.05)
    return "".join(f"{int(t)},{v:.4f},{c}\n" for t, v, c in zip(y, noise, code, strict=True))


def test_categorical_index_makes_a_feature_categorical(job: LightGBMJob, capsys: Any) -> None:
    index = json.dumps({"cat_index_list": [2]})
    job.channel("train", {"data.csv": _categorical(800, 0), "categorical_index.json": index})
    job.channel("validation", {"data.csv": _categorical(300, 1)})
    rc, lines = job.run(capsys, num_boost_round=5, metric="auc", **QUIET)
    assert rc == 0, job.failure if rc else ""
    assert metric_values(algo, lines)["validation:auc"][-1] > 0.9  # a constant model scores 0.5
    infos = job.booster().dump_model()["feature_infos"]
    assert set(range(8)) <= set(infos["Column_1"]["values"])  # a category list
    assert infos["Column_0"]["values"] == []  # a numeric range


def test_string_categories_are_refused_with_a_hint(job: LightGBMJob, capsys: Any) -> None:
    job.channel(
        "train",
        {"d.csv": "1,0.5,red\n0,0.1,blue\n", "categorical_index.json": '{"cat_index_list": [2]}'},
    )
    rc, _ = job.run(capsys, num_boost_round=3)
    assert rc == 1 and "'red'" in job.failure and "numeric features" in job.failure

    job.channel("train", {"d.csv": "1,0.5,2.5\n0,0.1,1\n"})
    rc, _ = job.run(capsys, num_boost_round=3)
    assert rc == 1
    assert "Categorical column 2 of the 'train' channel holds 2.5 in row 1" in job.failure
    assert "CatBoost" in job.failure


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"cat_index_list": [0]}', "column 0: categorical columns are CSV column indices from 1"),
        ('{"cat_index_list": [9]}', "lists column 9, but the training data has only 3 columns"),
        ('{"cat": [1]}', "must hold a list of integer column indices under 'cat_index_list'"),
        ("[1, 2", "is not valid JSON"),
    ],
)
def test_bad_categorical_index_is_refused(
    job: LightGBMJob, capsys: Any, document: str, message: str
) -> None:
    job.channel("train", {"d.csv": _categorical(50, 0), "categorical_index.json": document})
    rc, _ = job.run(capsys, num_boost_round=3)
    assert rc == 1 and message in job.failure


# --- checkpoints and incremental training ------------------------------------------------


def test_a_model_of_another_kind_is_refused(binary: LightGBMJob, capsys: Any) -> None:
    binary.channel("model", {"lightgbm-model": b"\x00\x01not a model"})
    rc, _ = binary.run(capsys, num_boost_round=3)
    assert rc == 1 and "is not a LightGBM model" in binary.failure


# --- one real training job through the control plane ----------------------------------------


def test_a_training_job_with_the_lightgbm_image(session: Session) -> None:
    described = run_training_job(
        session,
        "sagebox/lightgbm",
        {"num_boost_round": "20", "metric": "auc", "verbosity": "-1", "num_threads": "1"},
    )
    final = final_metrics(described)
    assert final["validation:auc"] > 0.8 and final["auc"] == final["validation:auc"]
    assert "lightgbm-model" in model_files(session, described)
