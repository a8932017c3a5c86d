"""Tiny models of the built-in algorithms, trained in-process and packed as a training job
packs them (the model file at the top of ``model.tar.gz``), for the serving tests."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np

from sagebox.algorithms.archive import safe_extract
from tests.algorithms.harness import problem

FEATURES = 4


def multiclass_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes 0, 1, 2 set by the first of four features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, FEATURES))
    return x, np.digitize(x[:, 0], [-0.5, 0.5]).astype(float)


def _data(objective: str) -> tuple[np.ndarray, np.ndarray]:
    if objective.startswith("multi"):
        return multiclass_problem(300, 0)
    x, y = problem(300, 0)
    if objective.startswith("reg"):
        return x, 3 * x[:, 0] + 0.5
    return x, y


def xgboost_booster(objective: str = "binary:logistic", rounds: int = 5) -> object:
    import xgboost

    x, y = _data(objective)
    params: dict[str, object] = {"objective": objective, "max_depth": 3, "nthread": 1}
    if objective.startswith("multi"):
        params["num_class"] = 3
    return xgboost.train(params, xgboost.DMatrix(x, label=y), num_boost_round=rounds)


def lightgbm_booster(objective: str = "binary", trees: int = 5) -> object:
    import lightgbm

    x, y = _data(objective)
    params: dict[str, object] = {
        "objective": objective,
        "num_leaves": 8,
        "num_threads": 1,
        "verbosity": -1,
        "min_data_in_leaf": 3,
    }
    if objective.startswith("multi"):
        params["num_class"] = 3
    return lightgbm.train(params, lightgbm.Dataset(x, label=y), num_boost_round=trees)


def packed(folder: Path, booster: object, filename: str) -> Path:
    """``booster`` as a training job leaves it: ``model.tar.gz`` extracted into ``folder/model``.

    Returns the model folder (what an endpoint's host stages for its workers).
    """
    staging = folder / "job-model"
    staging.mkdir(parents=True)
    # as the training programs do: a temporary name whose ending picks XGBoost's JSON format
    booster.save_model(str(staging / "partial.json"))  # type: ignore[attr-defined]
    (staging / "partial.json").rename(staging / filename)
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging / filename, arcname=filename)
    model_dir = folder / "model"
    model_dir.mkdir()
    safe_extract(archive, model_dir)
    return model_dir


def xgboost_model(folder: Path, objective: str = "binary:logistic", rounds: int = 5) -> Path:
    return packed(folder, xgboost_booster(objective, rounds), "xgboost-model")


def lightgbm_model(folder: Path, objective: str = "binary", trees: int = 5) -> Path:
    return packed(folder, lightgbm_booster(objective, trees), "lightgbm-model")
