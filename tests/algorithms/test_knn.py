"""The built-in k-NN run in-process against SageMaker-style folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.algorithms import knn as algo
from sagebox.algorithms.inference import load_model
from sagebox.errors import ValidationError
from tests.algorithms.harness import (
    Job,
    csv,
    final_metrics,
    metric_values,
    model_files,
    problem,
    run_training_job,
)


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Job:
    return Job(tmp_path / "job", monkeypatch, algo.main)


def _blobs(n: int, seed: int, width: int = 20, classes: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Well separated classes: a problem k-NN must solve almost perfectly."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(scale=4.0, size=(classes, width))
    y = rng.integers(0, classes, n)
    return centres[y] + rng.normal(size=(n, width)), y.astype(float)


CLASSIFIER = {"predictor_type": "classifier", "k": 5, "sample_size": 1000}


# --- hyperparameters ---------------------------------------------------------------------


def test_hyperparameters() -> None:
    required = {"feature_dim": "4", "k": "3", "predictor_type": "classifier", "sample_size": "9"}
    values = algo.validate_hyperparameters(required)
    assert values["index_type"] == "faiss.Flat" and values["index_metric"] == "L2"
    assert values["faiss_index_ivf_nlists"] == "auto" and values["mini_batch_size"] == 5000
    with pytest.raises(ValidationError, match=r"'sample_size' hyperparameter of k-NN is required"):
        algo.validate_hyperparameters({k: v for k, v in required.items() if k != "sample_size"})
    with pytest.raises(ValidationError) as info:
        algo.validate_hyperparameters({**required, "k": "0"})
    message = "The 'k' parameter of k-NN must be an int in [1, inf). Got 0 instead."
    assert info.value.message == message
    with pytest.raises(ValidationError, match=r"'dimension_reduction_target' .* required"):
        algo.validate_hyperparameters({**required, "dimension_reduction_type": "sign"})
    with pytest.raises(ValidationError, match=r"between 0 and feature_dim \(4\), exclusive. Got 4"):
        algo.validate_hyperparameters(
            {**required, "dimension_reduction_type": "fjlt", "dimension_reduction_target": "4"}
        )
    with pytest.raises(ValidationError, match=r"IVFPQ does not support index_metric 'COSINE'"):
        algo.validate_hyperparameters(
            {**required, "index_type": "faiss.IVFPQ", "index_metric": "COSINE"}
        )
    with pytest.raises(ValidationError, match=r"'faiss_index_pq_m' .* one of 1, 2, 3, 4, 8.*Got 5"):
        algo.validate_hyperparameters({**required, "faiss_index_pq_m": "5"})
    with pytest.raises(ValidationError, match=r"'predictor_type' .* \{'classifier', 'regressor'\}"):
        algo.validate_hyperparameters({**required, "predictor_type": "binary_classifier"})


# --- training ----------------------------------------------------------------------------


def test_classifier_scores_the_test_channel_once(job: Job, capsys: Any) -> None:
    job.channel("train", {"train.csv": csv(*_blobs(600, 0))}, "text/csv")
    job.channel("test", {"test.csv": csv(*_blobs(200, 1))}, "text/csv")
    rc, lines = job.run(capsys, feature_dim=20, **CLASSIFIER)
    assert rc == 0, job.failure if rc else ""
    metrics = metric_values(algo, lines)
    assert list(metrics) == ["test:accuracy"]
    assert metrics["test:accuracy"][0] > 0.97
    assert job.evaluation["problem"] == "binary"  # the test channel, when no validation
    loaded = load_model(job.model)
    assert loaded.algorithm == "knn" and loaded.problem == "binary"
    x, y = _blobs(50, 2)
    shares = loaded.predict(x.astype("float32"))
    assert set(np.unique(shares)) <= {i / 5 for i in range(6)}  # share of 5 neighbours
    assert ((shares > 0.5) == y).mean() > 0.95


@pytest.mark.parametrize("reduction", ["sign", "fjlt"])
def test_dimension_reduction_keeps_a_separable_problem_separable(
    job: Job, capsys: Any, reduction: str
) -> None:
    job.channel("train", {"train.csv": csv(*_blobs(600, 0, width=50))}, "text/csv")
    job.channel("validation", {"validation.csv": csv(*_blobs(200, 1, width=50))}, "text/csv")
    rc, lines = job.run(
        capsys,
        feature_dim=50,
        dimension_reduction_type=reduction,
        dimension_reduction_target=8,
        **CLASSIFIER,
    )
    assert rc == 0, job.failure if rc else ""
    assert metric_values(algo, lines)["validation:accuracy"][0] > 0.95
    model = algo.load_model(job.model)
    assert model.points.shape == (600, 8) and model.projection.kind == reduction
    x, y = _blobs(100, 3, width=50)
    assert ((algo.predict(model, x) > 0.5) == y).mean() > 0.95


def test_fjlt_roughly_preserves_distances() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 100))
    projection = algo.Projection.make("fjlt", 100, 64)
    reduced = projection.apply(x)
    before = np.linalg.norm(x[:, None] - x[None], axis=2)[np.triu_indices(20, 1)]
    after = np.linalg.norm(reduced[:, None] - reduced[None], axis=2)[np.triu_indices(20, 1)]
    ratio = after / before
    assert ratio.min() > 0.7 and ratio.max() < 1.3


def test_regressor_is_the_mean_of_the_neighbours(job: Job, capsys: Any) -> None:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(300, 3))
    y = 10 * x[:, 0] + x[:, 1]
    job.channel("train", {"train.csv": csv(x, np.round(y))}, "text/csv")
    job.channel("validation", {"validation.csv": csv(x[:50], np.round(y[:50]))}, "text/csv")
    rc, lines = job.run(capsys, predictor_type="regressor", k=3, sample_size=300, feature_dim=3)
    assert rc == 0, job.failure if rc else ""
    assert metric_values(algo, lines)["validation:mse"][0] < 1.0
    model = algo.load_model(job.model)
    queries = rng.uniform(size=(10, 3))
    distances = np.linalg.norm(queries[:, None] - model.points[None], axis=2)
    expected = model.labels[np.argsort(distances, axis=1)[:, :3]].mean(axis=1)
    np.testing.assert_allclose(algo.predict(model, queries), expected)
    assert load_model(job.model).problem == "regression"


@pytest.mark.parametrize("metric", ["INNER_PRODUCT", "COSINE"])
def test_similarity_metrics(job: Job, capsys: Any, metric: str) -> None:
    points = np.array([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [1.0, 10.0]])
    job.channel("train", {"train.csv": csv(points, np.array([0, 0, 1, 1]))}, "text/csv")
    rc, _ = job.run(
        capsys, predictor_type="classifier", k=1, sample_size=4, feature_dim=2, index_metric=metric
    )
    assert rc == 0, job.failure if rc else ""
    model = algo.load_model(job.model)
    # (3, 2.9): the largest inner product and the closest angle are both (10, 1)'s;
    # (0.2, 2): both are (1, 10)'s, although (0, 1) is nearer in L2.
    assert list(algo.predict(model, np.array([[3.0, 2.9], [0.2, 2.0]]))) == [0.0, 1.0]
    assert model.metric == metric


def test_multiclass_shares(job: Job, capsys: Any) -> None:
    job.channel("train", {"train.csv": csv(*_blobs(600, 0, width=5, classes=3))}, "text/csv")
    job.channel("validation", {"v.csv": csv(*_blobs(150, 1, width=5, classes=3))}, "text/csv")
    rc, lines = job.run(capsys, feature_dim=5, **CLASSIFIER)
    assert rc == 0, job.failure if rc else ""
    assert metric_values(algo, lines)["validation:accuracy"][0] > 0.95
    loaded = load_model(job.model)
    assert loaded.problem == "multiclass"
    shares = loaded.predict(_blobs(20, 2, width=5, classes=3)[0])
    assert shares.shape == (20, 3)
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert job.evaluation["problem"] == "multiclass"


def test_sample_size_larger_than_the_data(job: Job, capsys: Any) -> None:
    job.channel("train", {"a.csv": csv(*problem(150, 0)), "b.csv": csv(*problem(50, 1))})
    rc, lines = job.run(capsys, predictor_type="classifier", k=5, sample_size=100000, feature_dim=4)
    assert rc == 0, job.failure if rc else ""
    assert "sampled 200 of 200 train rows" in " ".join(lines)
    assert algo.load_model(job.model).points.shape == (200, 4)


def test_reservoir_sample_is_uniform_over_the_stream() -> None:
    reservoir = algo.Reservoir(200)
    rows = np.arange(5000.0)
    for start in range(0, 5000, 64):
        chunk = rows[start : start + 64]
        reservoir.add(chunk[:, None], chunk)
    x, y = reservoir.sample()
    assert len(np.unique(y)) == 200 and np.array_equal(x[:, 0], y)
    assert reservoir.seen == 5000
    # Every fifth of the stream holds about a fifth of the sample.
    counts = np.bincount((y // 1000).astype(int), minlength=5)
    assert counts.min() > 20


def test_k_larger_than_the_data_and_wrong_width_fail_clearly(job: Job, capsys: Any) -> None:
    job.channel("train", {"train.csv": csv(*problem(10, 0))}, "text/csv")
    rc, _ = job.run(capsys, predictor_type="classifier", k=20, sample_size=50, feature_dim=4)
    assert rc == 1
    assert "k=20 but the 'train' channel has only 10 rows" in job.failure
    rc, _ = job.run(capsys, predictor_type="classifier", k=2, sample_size=50, feature_dim=6)
    assert rc == 1
    assert "has 4 features but feature_dim is 6" in job.failure


# --- a real training job through the control plane ----------------------------------------


def test_training_job_through_the_control_plane(session: Any) -> None:
    described = run_training_job(
        session,
        "sagebox/knn",
        {"predictor_type": "classifier", "k": "25", "sample_size": "800", "feature_dim": "4"},
    )
    assert final_metrics(described)["validation:accuracy"] > 0.75
    assert algo.MODEL_FILENAME in model_files(session, described)
