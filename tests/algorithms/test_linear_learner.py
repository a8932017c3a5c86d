"""The built-in Linear Learner run in-process against SageMaker-style folders."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.algorithms import linear_learner as algo
from sagebox.algorithms.inference import load_model
from sagebox.errors import ValidationError
from tests.algorithms.harness import (
    Job,
    binary_channels,
    csv,
    feed_pipe,
    final_metrics,
    member,
    metric_values,
    model_files,
    problem,
    run_training_job,
    tar,
)

BINARY = {"predictor_type": "binary_classifier", "mini_batch_size": 50}


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Job:
    return Job(tmp_path / "job", monkeypatch, algo.main)


@pytest.fixture
def binary(job: Job) -> Job:
    return binary_channels(job)


def _model(job: Job) -> algo.LinearModel:
    return algo.load_model(job.model)


def _table(x: np.ndarray, y: np.ndarray) -> str:
    return "".join(
        ",".join([f"{t:g}", *(f"{v:.6f}" for v in row)]) + "\n" for t, row in zip(y, x, strict=True)
    )


# --- hyperparameters ---------------------------------------------------------------------


def test_auto_or_number_hyperparameters_parse_and_explain_their_range() -> None:
    values = algo.validate_hyperparameters(
        {
            "predictor_type": "binary_classifier",
            "learning_rate": "auto",
            "wd": "0.01",
            "positive_example_weight_mult": "balanced",
            "normalize_data": "false",
        }
    )
    assert values["learning_rate"] == "auto" and values["wd"] == 0.01
    assert values["positive_example_weight_mult"] == "balanced"
    assert values["normalize_data"] is False and values["normalize_label"] == "auto"
    assert values["loss"] == "logistic" and values["epochs"] == 15
    assert values["mini_batch_size"] == 1000 and values["num_models"] == "auto"
    with pytest.raises(ValidationError) as info:
        algo.validate_hyperparameters({"predictor_type": "regressor", "learning_rate": "-1"})
    assert info.value.message == (
        "The 'learning_rate' parameter of Linear Learner must be 'auto' or a float in "
        "(0, inf). Got -1 instead."
    )
    with pytest.raises(ValidationError, match=r"'positive_example_weight_mult' .* 'balanced'"):
        algo.validate_hyperparameters(
            {"predictor_type": "binary_classifier", "positive_example_weight_mult": "heavy"}
        )
    with pytest.raises(ValidationError, match=r"'beta_1' .* 'auto' or a float in \[0, 1\)"):
        algo.validate_hyperparameters({"predictor_type": "regressor", "beta_1": "1"})


def test_cross_field_rules() -> None:
    with pytest.raises(ValidationError, match=r"'predictor_type' hyperparameter .* required"):
        algo.validate_hyperparameters({"epochs": "3"})
    with pytest.raises(ValidationError, match=r"'num_classes' .* required"):
        algo.validate_hyperparameters({"predictor_type": "multiclass_classifier"})
    with pytest.raises(ValidationError, match=r"'num_classes' .* int in \[3, 1000000\]. Got 2"):
        algo.validate_hyperparameters(
            {"predictor_type": "multiclass_classifier", "num_classes": "2"}
        )
    with pytest.raises(ValidationError, match="'hinge_loss' does not fit predictor_type"):
        algo.validate_hyperparameters({"predictor_type": "regressor", "loss": "hinge_loss"})
    tuned = algo.validate_hyperparameters(
        {"predictor_type": "regressor", "num_models": "8", "_tuning_objective_metric": "x"}
    )
    assert tuned["num_models"] == 1  # SageMaker turns its own grid off under tuning


# --- training ----------------------------------------------------------------------------


def test_binary_metrics_per_epoch_and_final(binary: Job, capsys: Any) -> None:
    rc, lines = binary.run(capsys, epochs=6, **BINARY)
    assert rc == 0, binary.failure if rc else ""
    metrics = metric_values(algo, lines)
    assert len(metrics["train:objective_loss"]) == len(metrics["validation:objective_loss"])
    assert metrics["validation:objective_loss"][-1] < metrics["validation:objective_loss"][0]
    for name in ("binary_classification_accuracy", "binary_f_beta", "precision", "recall"):
        assert len(metrics[f"validation:{name}"]) == 1
    assert metrics["validation:roc_auc_score"][0] > 0.85
    assert metrics["validation:binary_classification_accuracy"][0] > 0.75
    model = _model(binary)
    x, y = problem(400, 7)
    scores = algo.predict(model, x.astype("float32"))
    assert ((scores >= model.threshold) == y).mean() > 0.75
    assert binary.evaluation["problem"] == "binary"


def test_multiclass(job: Job, capsys: Any) -> None:
    def data(n: int, seed: int) -> str:
        rng = np.random.default_rng(seed)
        y = rng.integers(0, 3, n)
        x = rng.normal(size=(n, 3)) + 2.5 * np.eye(3)[y]
        return _table(x, y)

    job.channel("train", {"train.csv": data(600, 0)}, "text/csv")
    job.channel("validation", {"validation.csv": data(300, 1)}, "text/csv")
    rc, lines = job.run(
        capsys, predictor_type="multiclass_classifier", num_classes=3, epochs=5, mini_batch_size=50
    )
    assert rc == 0, job.failure if rc else ""
    metrics = metric_values(algo, lines)
    assert metrics["validation:multiclass_accuracy"][0] > 0.85
    assert metrics["validation:multiclass_top_k_accuracy"][0] == 1.0  # k=3 of 3 classes
    assert metrics["validation:macro_recall"][0] > 0.85
    loaded = load_model(job.model)
    assert loaded.problem == "multiclass"
    probabilities = loaded.predict(np.eye(3, dtype="float32") * 3)
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert list(probabilities.argmax(axis=1)) == [0, 1, 2]
    assert job.evaluation["problem"] == "multiclass"


def test_regressor_normalises_labels_and_reports_mse(job: Job, capsys: Any) -> None:
    def data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3)) * [1.0, 10.0, 0.1]
        return x, 1000 + 30 * x[:, 0] - 2 * x[:, 1] + rng.normal(scale=1.0, size=n)

    job.channel("train", {"train.csv": _table(*data(800, 0))}, "text/csv")
    job.channel("validation", {"validation.csv": _table(*data(200, 1))}, "text/csv")
    rc, lines = job.run(capsys, predictor_type="regressor", epochs=8, mini_batch_size=40)
    assert rc == 0, job.failure if rc else ""
    metrics = metric_values(algo, lines)
    assert metrics["validation:mse"][0] < 5.0  # the labels' variance is about 1300
    assert metrics["validation:absolute_loss"][0] < 2.0
    x, y = data(100, 2)
    predictions = algo.predict(_model(job), x)
    assert np.abs(predictions - y).mean() < 2.0
    assert load_model(job.model).problem == "regression"


@pytest.mark.parametrize(
    ("loss", "optimizer"),
    [
        ("absolute_loss", "adam"),
        ("eps_insensitive_squared_loss", "adam"),
        ("eps_insensitive_absolute_loss", "adam"),
        ("quantile_loss", "adam"),
        ("huber_loss", "adam"),
        ("squared_loss", "sgd"),
        ("squared_loss", "rmsprop"),
    ],
)
def test_every_regression_loss_and_optimizer_learns(
    job: Job, capsys: Any, loss: str, optimizer: str
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 2))
    y = 3 * x[:, 0] - x[:, 1] + rng.normal(scale=0.3, size=500)
    job.channel("train", {"train.csv": _table(x[:400], y[:400])}, "text/csv")
    job.channel("validation", {"validation.csv": _table(x[400:], y[400:])}, "text/csv")
    rc, lines = job.run(
        capsys,
        predictor_type="regressor",
        loss=loss,
        optimizer=optimizer,
        epochs=6,
        mini_batch_size=20,
        num_models=4,
    )
    assert rc == 0, job.failure if rc else ""
    absolute_loss = metric_values(algo, lines)["validation:absolute_loss"]
    assert absolute_loss[0] < 0.5  # the labels' spread is 3.2


def test_hinge_loss_classifies(binary: Job, capsys: Any) -> None:
    rc, lines = binary.run(capsys, loss="hinge_loss", optimizer="sgd", epochs=4, **BINARY)
    assert rc == 0, binary.failure if rc else ""
    metrics = metric_values(algo, lines)
    assert any("hinge_loss_objective" in line for line in lines)
    assert metrics["validation:binary_classification_accuracy"][0] > 0.75
    assert metrics["validation:roc_auc_score"][0] > 0.85


def test_parquet_input(job: Job, capsys: Any) -> None:
    import pandas as pd

    x, y = problem(400, 0)
    frame = pd.DataFrame(np.c_[y, x], columns=["label", "a", "b", "c", "d"])
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    job.channel("train", {"train.parquet": buffer.getvalue()}, "application/x-parquet")
    rc, lines = job.run(capsys, epochs=3, **BINARY)
    assert rc == 0, job.failure if rc else ""
    assert metric_values(algo, lines)["train:roc_auc_score"][0] > 0.85


def test_l1_makes_weights_of_noise_features_exactly_zero(job: Job, capsys: Any) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 8))
    y = (x[:, 0] - x[:, 1] + 0.3 * rng.normal(size=1000) > 0).astype(float)
    job.channel("train", {"train.csv": _table(x, y)}, "text/csv")
    common = {"epochs": 5, "num_models": 1, "learning_rate": 0.05, "wd": 0, **BINARY}
    rc, _ = job.run(capsys, l1=0, **common)
    assert rc == 0
    assert np.count_nonzero(_model(job).weights[2:]) == 6
    job.clear_checkpoints()
    rc, _ = job.run(capsys, l1=0.05, **common)
    assert rc == 0
    weights = _model(job).weights[:, 0]
    assert np.all(weights[2:] == 0.0)
    assert weights[0] > 0.3 and weights[1] < -0.3


def test_early_stopping_by_patience(binary: Job, capsys: Any) -> None:
    # A tolerance of 50% means no epoch after the first counts as an improvement.
    rc, lines = binary.run(
        capsys, epochs=40, early_stopping_patience=2, early_stopping_tolerance=0.5, **BINARY
    )
    assert rc == 0
    assert len(metric_values(algo, lines)["validation:objective_loss"]) == 3
    assert any("early stopping patience" in line for line in lines)


def test_selection_criterion_moves_the_threshold(binary: Job, capsys: Any) -> None:
    common = {"epochs": 4, "num_models": 1, **BINARY}
    rc, lines = binary.run(
        capsys,
        binary_classifier_model_selection_criteria="precision_at_target_recall",
        target_recall=0.95,
        **common,
    )
    assert rc == 0
    low = _model(binary).threshold
    assert metric_values(algo, lines)["validation:recall"][0] >= 0.95
    binary.clear_checkpoints()
    rc, lines = binary.run(
        capsys,
        binary_classifier_model_selection_criteria="recall_at_target_precision",
        target_precision=0.95,
        **common,
    )
    assert rc == 0
    high = _model(binary).threshold
    assert metric_values(algo, lines)["validation:precision"][0] >= 0.95
    assert low < 0.5 < high
    binary.clear_checkpoints()
    rc, _ = binary.run(capsys, binary_classifier_model_selection_criteria="loss_function", **common)
    assert rc == 0 and _model(binary).threshold == 0.5


def test_pipe_mode_streams_one_fifo_per_epoch(job: Job, capsys: Any) -> None:
    # Without validation, the model is selected on one more pass over train.
    threads = feed_pipe(job, "train", csv(*problem(500, 0)).encode(), epochs=4)
    rc, lines = job.run(capsys, epochs=3, **BINARY)
    assert rc == 0, job.failure if rc else ""
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()
    metrics = metric_values(algo, lines)
    assert len(metrics["train:objective_loss"]) == 3
    assert metrics["train:binary_classification_accuracy"][0] > 0.75


def test_resumes_mid_training_from_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, binary: Job, capsys: Any
) -> None:
    hp = {"epochs": 5, "early_stopping_patience": 10, **BINARY}
    save = algo.State.save
    saved: list[int] = []

    def save_then_die(state: algo.State, path: Path, fingerprint: str) -> None:
        save(state, path, fingerprint)
        saved.append(state.epoch)
        if len(saved) == 2:
            raise RuntimeError("instance interrupted")

    monkeypatch.setattr(algo.State, "save", save_then_die)
    rc, _ = binary.run(capsys, **hp)
    assert rc == 1 and saved == [1, 2]
    monkeypatch.setattr(algo.State, "save", save)
    rc, lines = binary.run(capsys, **hp)
    assert rc == 0
    assert "resuming from checkpoint epoch 2" in lines
    assert len(metric_values(algo, lines)["validation:objective_loss"]) == 3
    clean = binary_channels(Job(tmp_path / "clean", monkeypatch, algo.main))
    rc, _ = clean.run(capsys, **hp)
    assert rc == 0
    # Weights, optimiser state and early-stopping counters all came back: the same model.
    np.testing.assert_allclose(_model(binary).weights, _model(clean).weights, rtol=1e-12)


def _pack(model_dir: Path) -> bytes:
    """The model.tar.gz the earlier job's model folder would be packed into."""
    return tar([member(algo.MODEL_FILENAME, (model_dir / algo.MODEL_FILENAME).read_bytes())])


def test_warm_start_from_a_model_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, binary: Job, capsys: Any
) -> None:
    rc, _ = binary.run(capsys, epochs=4, **BINARY)
    assert rc == 0
    first = _model(binary)
    second = Job(tmp_path / "second", monkeypatch, algo.main)
    x, y = problem(400, 5)
    second.channel("train", {"train.csv": csv(3 * x + 1, y)}, "text/csv")
    second.channel("model", {"model.tar.gz": _pack(binary.model)})
    rc, lines = second.run(capsys, epochs=1, num_models=1, learning_rate=1e-9, **BINARY)
    assert rc == 0, second.failure if rc else ""
    assert any("continuing training from model" in line for line in lines)
    x, _ = problem(100, 9)
    # Another scaler, the same function: the warm start keeps what the first job learned.
    np.testing.assert_allclose(algo.predict(_model(second), x), algo.predict(first, x), atol=1e-4)


def test_warm_start_needs_the_same_features(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, binary: Job, capsys: Any
) -> None:
    rc, _ = binary.run(capsys, epochs=1, **BINARY)
    assert rc == 0
    other = Job(tmp_path / "other", monkeypatch, algo.main)
    x, y = problem(200, 3)
    other.channel("train", {"train.csv": csv(np.c_[x, x[:, :1]], y)}, "text/csv")
    other.channel("model", {"model.tar.gz": _pack(binary.model)})
    rc, _ = other.run(capsys, epochs=1, **BINARY)
    assert rc == 1
    assert "model for 4 features, but the 'train' channel has 5" in other.failure


def test_bad_labels_and_missing_values_fail_clearly(job: Job, capsys: Any) -> None:
    x, y = problem(100, 0)
    y[10] = 2
    job.channel("train", {"train.csv": csv(x, y)}, "text/csv")
    rc, _ = job.run(capsys, **BINARY)
    assert rc == 1
    assert "Label 2 in row 11 of the 'train' channel" in job.failure
    assert "0 and 1" in job.failure
    body = csv(*problem(100, 0)).splitlines()
    body[4] = ",".join([*body[4].split(",")[:-1], ""])
    job.channel("train", {"train.csv": "\n".join(body) + "\n"}, "text/csv")
    rc, _ = job.run(capsys, **BINARY)
    assert rc == 1 and "row 5" in job.failure and "missing values" in job.failure


def test_libsvm_input_and_feature_dim(job: Job, capsys: Any) -> None:
    x, y = problem(400, 0)
    lines = [
        f"{int(t)} " + " ".join(f"{i}:{v:.5f}" for i, v in enumerate(row))
        for t, row in zip(y, x, strict=True)
    ]
    job.channel("train", {"train.libsvm": "\n".join(lines) + "\n"}, "text/libsvm")
    rc, _ = job.run(capsys, feature_dim=4, epochs=3, **BINARY)
    assert rc == 0, job.failure if rc else ""
    assert _model(job).features == 4
    rc, _ = job.run(capsys, feature_dim=3, epochs=3, **BINARY)
    assert rc == 1 and "feature_dim" in job.failure


def test_predict_refuses_the_wrong_width(binary: Job, capsys: Any) -> None:
    rc, _ = binary.run(capsys, epochs=1, **BINARY)
    assert rc == 0
    with pytest.raises(ValidationError, match="takes 4 features; got rows with 3"):
        algo.predict(_model(binary), np.zeros((2, 3), "float32"))


# --- a real training job through the control plane ----------------------------------------


def test_training_job_through_the_control_plane(session: Any) -> None:
    described = run_training_job(
        session,
        "sagebox/linear-learner",
        {"predictor_type": "binary_classifier", "epochs": "5", "mini_batch_size": "100"},
    )
    final = final_metrics(described)
    assert final["validation:roc_auc_score"] > 0.85
    assert final["validation:objective_loss"] < 0.6
    assert algo.MODEL_FILENAME in model_files(session, described)
