"""The built-in CatBoost algorithm run in-process against SageMaker-style folders."""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.algorithms import catboost as algo
from sagebox.algorithms.inference import load_model
from sagebox.errors import ValidationError
from sagebox.session import Session
from tests.algorithms.harness import Job, csv, problem

FAST = {"learning_rate": 0.3, "depth": 3, "thread_count": 1, "verbose": 0}


class CatBoostJob(Job):
    def trained(self) -> Any:
        return algo.load_model(self.model)


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CatBoostJob:
    return CatBoostJob(tmp_path, monkeypatch, algo.main)


def _metrics(lines: list[str]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for line in lines:
        for definition in algo.METRIC_DEFINITIONS:
            match = re.match(definition["Regex"], line)
            if match:
                found.setdefault(definition["Name"], []).append(float(match.group(1)))
    return found


def _rounds(lines: list[str]) -> list[int]:
    return [int(line[1 : line.index("]")]) for line in lines if re.match(r"\[[0-9]+\]\t", line)]


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


def test_invalid_hyperparameter_fails_the_job(job: CatBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": csv(*problem(100, 0))})
    rc, _ = job.run(capsys, iterations=5, learning_rate=2)
    assert rc == 1
    assert job.failure.strip() == (
        "The 'learning_rate' parameter of CatBoost must be a float in (0, 1). Got 2 instead."
    )


# --- training, metrics, problems ---------------------------------------------------------


def test_binary_metric_lines_every_iteration(job: CatBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": csv(*problem(600, 0))}, "text/csv")
    job.channel("validation", {"v.csv": csv(*problem(300, 1))}, "text/csv")
    rc, lines = job.run(capsys, iterations=15, early_stopping_rounds=0, **FAST)
    assert rc == 0, job.failure if rc else ""
    assert "loss_function 'auto' chose 'Logloss' from the labels" in lines
    metrics = _metrics(lines)
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


def test_multiclass_quick_run(job: CatBoostJob, capsys: Any) -> None:
    def data(n: int, seed: int) -> str:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3))
        return csv(x, np.digitize(x[:, 0] + 0.3 * rng.normal(size=n), [-0.5, 0.5]))

    job.channel("train", {"t.csv": data(600, 0)}, "text/csv")
    job.channel("validation", {"v.csv": data(300, 1)}, "text/csv")
    rc, lines = job.run(capsys, iterations=10, **FAST)
    assert rc == 0, job.failure if rc else ""
    assert "loss_function 'auto' chose 'MultiClass' from the labels (3 classes)" in lines
    assert len(_metrics(lines)["validation:MultiClass"]) > 3
    loaded = load_model(job.model)
    assert loaded.problem == "multiclass"
    scores = loaded.predict(np.array([[-2.0, 0, 0], [0.0, 0, 0], [2.0, 0, 0]], dtype="float32"))
    assert scores.shape == (3, 3)
    assert list(scores.argmax(axis=1)) == [0, 1, 2]
    assert job.evaluation["problem"] == "multiclass"


def test_regression_quick_run(job: CatBoostJob, capsys: Any) -> None:
    def floats(n: int, seed: int) -> str:  # the harness's csv() writes integer labels
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3))
        y = 3 * x[:, 0] + 0.5 + rng.normal(scale=0.1, size=n)
        return "".join(",".join(map(str, [t, *r])) + "\n" for t, r in zip(y, x, strict=True))

    job.channel("train", {"t.csv": floats(600, 0)}, "text/csv")
    job.channel("validation", {"v.csv": floats(300, 1)}, "text/csv")
    rc, lines = job.run(capsys, iterations=30, **FAST)
    assert rc == 0, job.failure if rc else ""
    assert "loss_function 'auto' chose 'RMSE' from the labels" in lines
    rmse = _metrics(lines)["validation:RMSE"]
    assert rmse[-1] < rmse[0] / 3
    loaded = load_model(job.model)
    assert loaded.problem == "regression"
    prediction = loaded.predict(np.array([[1.0, 0, 0], [-1.0, 0, 0]], dtype="float32"))
    assert prediction[0] > 2 and prediction[1] < -1


def test_early_stopping_stops_early(job: CatBoostJob, capsys: Any) -> None:
    rng = np.random.default_rng(3)  # pure noise: the validation metric soon stops improving
    job.channel("train", {"t.csv": csv(rng.normal(size=(300, 5)), rng.integers(0, 2, 300))})
    job.channel("validation", {"v.csv": csv(rng.normal(size=(200, 5)), rng.integers(0, 2, 200))})
    rc, lines = job.run(capsys, iterations=300, early_stopping_rounds=3, **FAST)
    assert rc == 0, job.failure if rc else ""
    printed = _rounds(lines)
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
    assert _metrics(lines)["validation:AUC"][-1] > 0.9  # a constant model scores 0.5
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


def test_resumes_from_its_snapshot(job: CatBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": csv(*problem(400, 0))}, "text/csv")
    rc, _ = job.run(capsys, iterations=6, **FAST)
    assert rc == 0
    assert (job.checkpoints / "catboost-snapshot").is_file()
    # A spot interruption after iteration 6 of 10: the restarted job trains only 7..10.
    (job.model / "catboost-model").unlink()
    rc, lines = job.run(capsys, iterations=10, **FAST)
    assert rc == 0, job.failure if rc else ""
    assert "resuming from checkpoint catboost-snapshot" in lines
    assert _rounds(lines) == [7, 8, 9, 10]
    assert job.trained().tree_count_ == 10


def _tar(name: str, data: bytes = b"", **attrs: Any) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def test_incremental_training_adds_trees(job: CatBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": csv(*problem(400, 0))}, "text/csv")
    rc, _ = job.run(capsys, iterations=5, **FAST)
    assert rc == 0
    first = (job.model / "catboost-model").read_bytes()
    (job.checkpoints / "catboost-snapshot").unlink()
    job.channel("model", {"model.tar.gz": _tar("catboost-model", first)})
    rc, lines = job.run(capsys, iterations=3, **FAST)
    assert rc == 0, job.failure if rc else ""
    assert "continuing training from model catboost-model (5 trees)" in lines
    assert _rounds(lines) == [6, 7, 8]
    assert job.trained().tree_count_ == 8


def test_hostile_model_tar_is_refused(job: CatBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": csv(*problem(100, 0))}, "text/csv")
    job.channel("model", {"model.tar.gz": _tar("../../catboost-model", b"x")})
    rc, _ = job.run(capsys, iterations=3)
    assert rc == 1
    assert "Refusing model archive model.tar.gz" in job.failure and "'..'" in job.failure
    assert not (job.root.parent / "catboost-model").exists()


# --- one real training job through the control plane ----------------------------------------


def test_a_training_job_with_the_catboost_image(session: Session) -> None:
    objects = session.home.objects
    objects.create_bucket("cb-data")
    objects.put_object("cb-data", "train/data.csv", _colours(1000, 1).encode())
    objects.put_object("cb-data", "train/categorical_index.json", b'{"cat_index_list": [2]}')
    objects.put_object("cb-data", "validation/data.csv", _colours(400, 2).encode())
    session.control.create_training_job(
        TrainingJobName="cb-1",
        AlgorithmSpecification={"TrainingImage": "sagebox/catboost", "TrainingInputMode": "File"},
        RoleArn=session.get_execution_role(),
        HyperParameters={"iterations": "30", "learning_rate": "0.3", "thread_count": "1"},
        InputDataConfig=[
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://cb-data/{channel}/"}
                },
            }
            for channel in ("train", "validation")
        ],
        OutputDataConfig={"S3OutputPath": "s3://cb-data/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    end = time.monotonic() + 180
    while True:
        described = session.control.describe_training_job(TrainingJobName="cb-1")
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < end, "the job did not finish"
        time.sleep(0.2)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    final = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert final["validation:AUC"] > 0.9
    packed = objects.get_object("cb-data", "models/cb-1/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        assert "catboost-model" in tar.getnames()
