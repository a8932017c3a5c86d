"""The built-in LightGBM algorithm run in-process against SageMaker-style folders."""

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

from sagebox.algorithms import lightgbm as algo
from sagebox.algorithms.inference import load_model
from sagebox.errors import ValidationError
from sagebox.session import Session
from tests.algorithms.harness import Job, csv, problem

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
    job.channel("train", {"train.csv": csv(*problem(600, 0))}, "text/csv")
    job.channel("validation", {"validation.csv": csv(*problem(300, 1))}, "text/csv")
    return job


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
    assert values["num_boost_round"] == 100 and values["early_stopping_rounds"] == 10
    assert values["num_leaves"] == 64 and values["max_depth"] == 6
    assert values["min_data_in_leaf"] == 3 and values["bagging_freq"] == 1
    assert values["objective"] == "auto" and values["metric"] == "auto"
    with pytest.raises(ValidationError) as info:
        algo.validate_hyperparameters({"learning_rate": "1"})
    assert info.value.message == (
        "The 'learning_rate' parameter of LightGBM must be a float in (0, 1). Got 1 instead."
    )
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


def test_invalid_hyperparameter_fails_the_job(binary: LightGBMJob, capsys: Any) -> None:
    rc, _ = binary.run(capsys, num_boost_round=5, learning_rate=0)
    assert rc == 1
    assert binary.failure.strip() == (
        "The 'learning_rate' parameter of LightGBM must be a float in (0, 1). Got 0 instead."
    )
    assert not (binary.model / "lightgbm-model").exists()


# --- training, metrics, problems ---------------------------------------------------------


def test_binary_metric_lines_every_round(binary: LightGBMJob, capsys: Any) -> None:
    rc, lines = binary.run(capsys, num_boost_round=12, metric="auc", **QUIET)
    assert rc == 0, binary.failure if rc else ""
    assert "objective 'auto' chose 'binary' from the labels" in lines
    metrics = _metrics(lines)
    assert len(metrics["validation:auc"]) == len(metrics["train:auc"]) == 12
    assert metrics["auc"] == metrics["validation:auc"]  # SageMaker's documented name
    assert metrics["validation:auc"][-1] > 0.8
    # SageMaker's own regex for LightGBM ("auc: ([0-9\\.]+)") reads the validation value too.
    first = next(line for line in lines if line.startswith("[1]\t"))
    assert float(re.search(r"auc: ([0-9\.]+)", first).group(1)) == metrics["validation:auc"][0]  # type: ignore[union-attr]
    assert binary.evaluation["problem"] == "binary"
    loaded = load_model(binary.model)
    assert loaded.algorithm == "lightgbm" and loaded.problem == "binary"


def test_multiclass_quick_run(job: LightGBMJob, capsys: Any) -> None:
    def data(n: int, seed: int) -> str:
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3))
        return csv(x, np.digitize(x[:, 0] + 0.3 * rng.normal(size=n), [-0.5, 0.5]))

    job.channel("train", {"t.csv": data(600, 0)}, "text/csv")
    job.channel("validation", {"v.csv": data(300, 1)}, "text/csv")
    rc, lines = job.run(capsys, num_boost_round=10, **QUIET)
    assert rc == 0, job.failure if rc else ""
    assert "objective 'auto' chose 'multiclass' from the labels (3 classes)" in lines
    assert len(_metrics(lines)["validation:multi_logloss"]) == 10
    loaded = load_model(job.model)
    assert loaded.problem == "multiclass"
    x = np.array([[-2.0, 0, 0], [0.0, 0, 0], [2.0, 0, 0]], dtype="float32")
    scores = loaded.predict(x)
    assert scores.shape == (3, 3)
    assert list(scores.argmax(axis=1)) == [0, 1, 2]
    assert job.evaluation["problem"] == "multiclass"


def test_regression_quick_run(job: LightGBMJob, capsys: Any) -> None:
    def floats(n: int, seed: int) -> str:  # the harness's csv() writes integer labels
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(n, 3))
        y = 3 * x[:, 0] + 0.5 + rng.normal(scale=0.1, size=n)
        return "".join(",".join(map(str, [t, *r])) + "\n" for t, r in zip(y, x, strict=True))

    job.channel("train", {"t.csv": floats(600, 0)}, "text/csv")
    job.channel("validation", {"v.csv": floats(300, 1)}, "text/csv")
    rc, lines = job.run(capsys, num_boost_round=30, **QUIET)
    assert rc == 0, job.failure if rc else ""
    assert "objective 'auto' chose 'regression' from the labels" in lines
    rmse = _metrics(lines)["validation:rmse"]
    assert len(rmse) == 30 and rmse[-1] < rmse[0] / 3
    loaded = load_model(job.model)
    assert loaded.problem == "regression"
    prediction = loaded.predict(np.array([[1.0, 0, 0], [-1.0, 0, 0]], dtype="float32"))
    assert prediction[0] > 2 and prediction[1] < -1


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
    rng = np.random.default_rng(3)  # pure noise: validation loss soon stops improving
    job.channel("train", {"t.csv": csv(rng.normal(size=(300, 5)), rng.integers(0, 2, 300))})
    job.channel("validation", {"v.csv": csv(rng.normal(size=(200, 5)), rng.integers(0, 2, 200))})
    rc, lines = job.run(
        capsys, num_boost_round=200, early_stopping_rounds=3, learning_rate=0.5, num_threads=1
    )
    assert rc == 0, job.failure if rc else ""
    printed = _rounds(lines)
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
    assert _metrics(lines)["validation:auc"][-1] > 0.9  # a constant model scores 0.5
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


def test_resumes_from_the_latest_checkpoint(binary: LightGBMJob, capsys: Any) -> None:
    rc, _ = binary.run(capsys, num_boost_round=6, early_stopping_rounds=0, **QUIET)
    assert rc == 0
    assert (binary.checkpoints / "lightgbm-checkpoint.6").is_file()
    # A spot interruption after round 6 of 10: the restarted job trains only rounds 7..10.
    (binary.model / "lightgbm-model").unlink()
    rc, lines = binary.run(capsys, num_boost_round=10, early_stopping_rounds=0, **QUIET)
    assert rc == 0
    assert "resuming from checkpoint round 6" in lines
    assert _rounds(lines) == [7, 8, 9, 10]
    assert binary.booster().current_iteration() == 10


def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buffer.getvalue()


def _member(name: str, data: bytes = b"", **attrs: Any) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, data


def test_incremental_training_adds_rounds(job: LightGBMJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": csv(*problem(400, 0))}, "text/csv")
    rc, _ = job.run(capsys, num_boost_round=5, **QUIET)
    assert rc == 0
    first = (job.model / "lightgbm-model").read_bytes()
    for checkpoint in job.checkpoints.iterdir():
        checkpoint.unlink()
    job.channel("model", {"model.tar.gz": _tar([_member("lightgbm-model", first)])})
    rc, lines = job.run(capsys, num_boost_round=3, **QUIET)
    assert rc == 0, job.failure if rc else ""
    assert "continuing training from model lightgbm-model" in lines
    assert _rounds(lines) == [6, 7, 8]
    assert job.booster().current_iteration() == 8


def test_hostile_model_tar_is_refused(binary: LightGBMJob, capsys: Any) -> None:
    link = _member("lightgbm-model", type=tarfile.SYMTYPE, linkname="/etc/passwd")
    binary.channel("model", {"model.tar.gz": _tar([link])})
    rc, _ = binary.run(capsys, num_boost_round=3)
    assert rc == 1
    assert "Refusing model archive model.tar.gz: member 'lightgbm-model' is a link" in (
        binary.failure
    )
    assert not list(binary.root.rglob("passwd"))


def test_a_model_of_another_kind_is_refused(binary: LightGBMJob, capsys: Any) -> None:
    binary.channel("model", {"lightgbm-model": b"\x00\x01not a model"})
    rc, _ = binary.run(capsys, num_boost_round=3)
    assert rc == 1 and "is not a LightGBM model" in binary.failure


# --- one real training job through the control plane ----------------------------------------


def test_a_training_job_with_the_lightgbm_image(session: Session) -> None:
    objects = session.home.objects
    objects.create_bucket("lgb")
    objects.put_object("lgb", "train/train.csv", csv(*problem(1500, 1)).encode())
    objects.put_object("lgb", "validation/validation.csv", csv(*problem(500, 2)).encode())
    session.control.create_training_job(
        TrainingJobName="lgb-1",
        AlgorithmSpecification={"TrainingImage": "sagebox/lightgbm", "TrainingInputMode": "File"},
        RoleArn=session.get_execution_role(),
        HyperParameters={
            "num_boost_round": "20",
            "metric": "auc",
            "verbosity": "-1",
            "num_threads": "1",
        },
        InputDataConfig=[
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://lgb/{channel}/"}
                },
            }
            for channel in ("train", "validation")
        ],
        OutputDataConfig={"S3OutputPath": "s3://lgb/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    end = time.monotonic() + 180
    while True:
        described = session.control.describe_training_job(TrainingJobName="lgb-1")
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < end, "the job did not finish"
        time.sleep(0.2)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    final = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert final["validation:auc"] > 0.8 and final["auc"] == final["validation:auc"]
    packed = objects.get_object("lgb", "models/lgb-1/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        assert "lightgbm-model" in tar.getnames()
