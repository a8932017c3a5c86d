"""What the tabular boosting built-ins (LightGBM, CatBoost) share, checked once over both.

The problem an ``auto`` objective chooses from the labels, a job that resumes from its
checkpoint after an interruption, and training that continues the model of a ``model``
channel. Each row of BOOSTERS says how an algorithm spells these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.algorithms import algorithm
from sagebox.algorithms.inference import load_model
from tests.algorithms.harness import (
    Job,
    csv,
    member,
    metric_values,
    multiclass_csv,
    problem,
    regression_csv,
    rounds,
    tar,
)


@dataclass(frozen=True)
class Booster:
    rounds: str  # the hyperparameter that counts rounds
    fast: dict[str, object]  # hyperparameters for a quick, quiet run
    objective: str  # the hyperparameter that names the objective
    chooses: dict[str, str]  # problem -> the objective 'auto' chooses for it
    metric: dict[str, str]  # problem -> the validation metric of that objective
    checkpoint: str  # the checkpoint file after 6 rounds
    resumes_from: str  # how the log names it when a job resumes
    continuing: str  # the log line when a job continues a 5-round model
    trees: Callable[[Any], int]  # the rounds in a loaded model


BOOSTERS: dict[str, Booster] = {
    "lightgbm": Booster(
        rounds="num_boost_round",
        fast={"verbosity": -1, "num_leaves": 8, "num_threads": 1},
        objective="objective",
        chooses={"multiclass": "multiclass", "regression": "regression"},
        metric={"multiclass": "validation:multi_logloss", "regression": "validation:rmse"},
        checkpoint="lightgbm-checkpoint.6",
        resumes_from="round 6",
        continuing="continuing training from model lightgbm-model",
        trees=lambda booster: booster.current_iteration(),
    ),
    "catboost": Booster(
        rounds="iterations",
        fast={"learning_rate": 0.3, "depth": 3, "thread_count": 1, "verbose": 0},
        objective="loss_function",
        chooses={"multiclass": "MultiClass", "regression": "RMSE"},
        metric={"multiclass": "validation:MultiClass", "regression": "validation:RMSE"},
        checkpoint="catboost-snapshot",
        resumes_from="catboost-snapshot",
        continuing="continuing training from model catboost-model (5 trees)",
        trees=lambda model: model.tree_count_,
    ),
}


@pytest.fixture(params=sorted(BOOSTERS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def booster(name: str) -> Booster:
    return BOOSTERS[name]


@pytest.fixture
def job(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Job:
    return Job(tmp_path, monkeypatch, algorithm(name).main)


def _run(
    job: Job, booster: Booster, capsys: pytest.CaptureFixture[str], rounds: int, **hp: object
) -> list[str]:
    rc, lines = job.run(capsys, **{booster.rounds: rounds}, **booster.fast, **hp)
    assert rc == 0, job.failure if rc else ""
    return lines


def _values(name: str, lines: list[str], metric: str) -> list[float]:
    return metric_values(algorithm(name), lines)[metric]


def _trees(name: str, job: Job) -> int:
    return BOOSTERS[name].trees(algorithm(name).load_model(job.model))


def _auto(
    name: str,
    booster: Booster,
    job: Job,
    capsys: pytest.CaptureFixture[str],
    problem: str,
    data: Callable[[int, int], str],
    rounds: int,
) -> list[float]:
    """Train on ``data`` with the objective left 'auto'; the validation metric per round."""
    job.channel("train", {"t.csv": data(600, 0)}, "text/csv")
    job.channel("validation", {"v.csv": data(300, 1)}, "text/csv")
    lines = _run(job, booster, capsys, rounds, early_stopping_rounds=0)
    chosen, classes = booster.chooses[problem], " (3 classes)" if problem == "multiclass" else ""
    assert f"{booster.objective} 'auto' chose {chosen!r} from the labels{classes}" in lines
    values = _values(name, lines, booster.metric[problem])
    assert len(values) == rounds
    assert job.evaluation["problem"] == problem
    return values


def test_auto_chooses_multiclass_from_class_labels(
    name: str, booster: Booster, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    _auto(name, booster, job, capsys, "multiclass", multiclass_csv, 10)
    loaded = load_model(job.model)
    assert loaded.problem == "multiclass"
    scores = loaded.predict(np.array([[-2.0, 0, 0], [0.0, 0, 0], [2.0, 0, 0]], dtype="float32"))
    assert scores.shape == (3, 3)
    assert list(scores.argmax(axis=1)) == [0, 1, 2]


def test_auto_chooses_regression_for_a_numeric_target(
    name: str, booster: Booster, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    rmse = _auto(name, booster, job, capsys, "regression", regression_csv, 30)
    assert rmse[-1] < rmse[0] / 3
    loaded = load_model(job.model)
    assert loaded.problem == "regression"
    prediction = loaded.predict(np.array([[1.0, 0, 0], [-1.0, 0, 0]], dtype="float32"))
    assert prediction[0] > 2 and prediction[1] < -1


def test_resumes_from_its_checkpoint(
    name: str, booster: Booster, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    job.channel("train", {"t.csv": csv(*problem(400, 0))}, "text/csv")
    _run(job, booster, capsys, 6)
    assert (job.checkpoints / booster.checkpoint).is_file()
    # A spot interruption after round 6 of 10: the restarted job trains only rounds 7..10.
    (job.model / algorithm(name).MODEL_FILENAME).unlink()
    lines = _run(job, booster, capsys, 10)
    assert f"resuming from checkpoint {booster.resumes_from}" in lines
    assert rounds(lines) == [7, 8, 9, 10]
    assert _trees(name, job) == 10


def test_continues_the_model_of_a_model_channel(
    name: str, booster: Booster, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    filename = algorithm(name).MODEL_FILENAME
    job.channel("train", {"t.csv": csv(*problem(400, 0))}, "text/csv")
    _run(job, booster, capsys, 5)
    first = (job.model / filename).read_bytes()
    job.clear_checkpoints()  # a new job: nothing to resume
    job.channel("model", {"model.tar.gz": tar([member(filename, first)])})
    lines = _run(job, booster, capsys, 3)
    assert booster.continuing in lines
    assert rounds(lines) == [6, 7, 8]
    assert _trees(name, job) == 8
