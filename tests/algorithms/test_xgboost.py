"""The built-in XGBoost algorithm run in-process against SageMaker-style folders."""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.algorithms import ALGORITHMS, algorithm
from sagebox.algorithms import xgboost as algo
from sagebox.errors import ValidationError
from tests.algorithms.harness import (
    Job,
    binary_channels,
    member,
    metric_values,
    noise_channels,
    tar,
)
from tests.algorithms.harness import csv as _csv
from tests.algorithms.harness import problem as _problem


class XGBoostJob(Job):
    def booster(self) -> Any:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(bytearray((self.model / "xgboost-model").read_bytes()))
        return booster


@pytest.fixture
def job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> XGBoostJob:
    return XGBoostJob(tmp_path, monkeypatch, algo.main)


@pytest.fixture
def binary_csv(job: XGBoostJob) -> XGBoostJob:
    return binary_channels(job)


BINARY = {"objective": "binary:logistic", "eval_metric": "logloss,auc", "eta": 0.1, "max_depth": 3}


# --- hyperparameters ---------------------------------------------------------------------


def test_registry_names_the_module() -> None:
    assert ALGORITHMS["xgboost"] == "sagebox.algorithms.xgboost"
    assert algorithm("xgboost") is algo
    with pytest.raises(ValidationError, match=r"xgboost"):
        algorithm("nope")


def test_out_of_range_names_the_valid_range() -> None:
    with pytest.raises(ValidationError) as info:
        algo.validate_hyperparameters({"num_round": "10", "eta": "3"})
    assert info.value.message == (
        "The 'eta' parameter of XGBoost must be a float in [0, 1]. Got 3 instead."
    )
    with pytest.raises(ValidationError, match=r"'subsample' .* float in \(0, 1\]\. Got 0 instead"):
        algo.validate_hyperparameters({"num_round": "10", "subsample": "0"})
    with pytest.raises(ValidationError, match=r"'max_depth' .* int in \[0, inf\)\. Got 2.5"):
        algo.validate_hyperparameters({"num_round": "10", "max_depth": "2.5"})
    with pytest.raises(ValidationError, match=r"'objective'.*'binary:logistic'"):
        algo.validate_hyperparameters({"num_round": "10", "objective": "binary:nope"})
    with pytest.raises(ValidationError, match=r"'eval_metric'.*'auc'"):
        algo.validate_hyperparameters({"num_round": "10", "eval_metric": "auc,accuracy"})


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(ValidationError) as info:
        algo.validate_hyperparameters({"num_round": "10", "learning_rate": "0.1"})
    assert "'learning_rate'" in info.value.message
    assert "eta" in info.value.message and "num_round" in info.value.message


def test_required_and_typed_values() -> None:
    with pytest.raises(ValidationError, match="'num_round' hyperparameter of XGBoost is required"):
        algo.validate_hyperparameters({"eta": "0.1"})
    with pytest.raises(ValidationError, match=r"'num_class'.*required"):
        algo.validate_hyperparameters({"num_round": "5", "objective": "multi:softmax"})
    values = algo.validate_hyperparameters(
        {"num_round": "5", "eval_metric": "auc,logloss", "_tuning_objective_metric": "x"}
    )
    assert values["num_round"] == 5 and values["eta"] == 0.3
    assert values["eval_metric"] == ["auc", "logloss"]
    assert values["objective"] == "reg:squarederror"


# --- training ----------------------------------------------------------------------------


def test_trains_a_model_that_predicts_well(binary_csv: XGBoostJob, capsys: Any) -> None:
    import xgboost

    rc, lines = binary_csv.run(capsys, num_round=30, **BINARY)
    assert rc == 0, lines
    booster = binary_csv.booster()
    assert booster.num_boosted_rounds() == 30
    x, y = _problem(400, 7)
    accuracy = ((booster.predict(xgboost.DMatrix(x)) > 0.5) == y).mean()
    assert accuracy > 0.8


def test_metric_lines_match_definitions_every_round(binary_csv: XGBoostJob, capsys: Any) -> None:
    rc, lines = binary_csv.run(capsys, num_round=20, **BINARY)
    assert rc == 0
    round_lines = [line for line in lines if line.startswith("[")]
    assert len(round_lines) == 20
    assert round_lines[0].startswith("[0]#011train-logloss:")
    metrics = metric_values(algo, lines)
    assert set(metrics) == {"train:logloss", "train:auc", "validation:logloss", "validation:auc"}
    assert all(len(values) == 20 for values in metrics.values())
    auc = metrics["validation:auc"]
    assert auc[-1] > auc[0] and auc[-1] > 0.8
    assert metrics["train:logloss"][-1] < metrics["train:logloss"][0]


def test_every_metric_has_both_definitions() -> None:
    names = {d["Name"] for d in algo.METRIC_DEFINITIONS}
    for metric in ("rmse", "mae", "logloss", "error", "auc", "aucpr", "mlogloss", "merror"):
        assert {f"train:{metric}", f"validation:{metric}"} <= names
    line = "[3]#011train-merror:0.25000#011validation-error:0.12500"
    matched = {d["Name"] for d in algo.METRIC_DEFINITIONS if re.match(d["Regex"], line)}
    assert matched == {"train:merror", "validation:error"}


def test_early_stopping_stops_early(job: XGBoostJob, capsys: Any) -> None:
    noise_channels(job)  # validation loss stops improving after a few rounds
    job.content_types["train"] = {"ContentType": "csv"}  # SageMaker's short form
    job.content_types["validation"] = {"ContentType": "text/csv"}
    rc, lines = job.run(
        capsys, num_round=200, early_stopping_rounds=3, objective="binary:logistic", eta=0.5
    )
    assert rc == 0, job.failure if rc else ""
    rounds = [line for line in lines if line.startswith("[")]
    assert 3 < len(rounds) < 50
    assert job.booster().num_boosted_rounds() == len(rounds)


def test_early_stopping_needs_validation(job: XGBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": _csv(*_problem(50, 0))}, "text/csv")
    rc, _ = job.run(capsys, num_round=5, early_stopping_rounds=2)
    assert rc == 1 and "'validation' channel" in job.failure


# --- inputs ------------------------------------------------------------------------------


def test_csv_with_header_is_refused(job: XGBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": "label,a,b\n1,0.5,0.2\n0,0.1,0.3\n"}, "text/csv")
    rc, _ = job.run(capsys, num_round=3)
    assert rc == 1
    assert "the CSV has a header; SageMaker's XGBoost expects none: remove it, or" in (
        job.failure.replace("The CSV", "the CSV")
    )
    assert job.failure.count("\n") == 1


def test_non_numeric_label_is_refused(job: XGBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv": "1,0.5,0.2\nyes,0.1,0.3\n"}, "text/csv")
    rc, _ = job.run(capsys, num_round=3)
    assert rc == 1
    assert "'yes'" in job.failure and "t.csv" in job.failure and "row 2" in job.failure


def test_empty_train_channel_is_a_clear_failure(job: XGBoostJob, capsys: Any) -> None:
    job.channel("train", {"empty.csv": ""}, "text/csv")
    rc, _ = job.run(capsys, num_round=3)
    assert rc == 1 and "'train' channel" in job.failure and "no data" in job.failure


def test_gzip_csv_is_read(job: XGBoostJob, capsys: Any) -> None:
    job.channel("train", {"t.csv.gz": gzip.compress(_csv(*_problem(200, 0)).encode())}, "text/csv")
    rc, _ = job.run(capsys, num_round=4, objective="binary:logistic")
    assert rc == 0 and job.booster().num_boosted_rounds() == 4


def test_libsvm_input(job: XGBoostJob, capsys: Any) -> None:
    import xgboost

    def libsvm(x: np.ndarray, y: np.ndarray) -> str:
        rows = [
            " ".join([str(int(t))] + [f"{i}:{v:.4f}" for i, v in enumerate(r) if v > -0.5])
            for t, r in zip(y, x, strict=True)
        ]
        return "\n".join(rows) + "\n"

    job.channel("train", {"t.libsvm": libsvm(*_problem(600, 0))})  # libsvm is the default
    job.channel(
        "validation", {"v": gzip.compress(libsvm(*_problem(200, 1)).encode())}, "text/libsvm"
    )
    rc, lines = job.run(capsys, num_round=20, **BINARY)
    assert rc == 0, job.failure if rc else ""
    assert metric_values(algo, lines)["validation:auc"][-1] > 0.8
    x, y = _problem(300, 9)
    x = np.where(x > -0.5, x, np.nan)
    assert ((job.booster().predict(xgboost.DMatrix(x)) > 0.5) == y).mean() > 0.75


def test_parquet_input(job: XGBoostJob, capsys: Any) -> None:
    import pandas as pd

    def parquet(x: np.ndarray, y: np.ndarray) -> bytes:
        frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
        frame.insert(0, "target", y)
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        return buffer.getvalue()

    job.channel("train", {"part-0.parquet": parquet(*_problem(600, 0))}, "application/x-parquet")
    job.channel("validation", {"v.parquet": parquet(*_problem(200, 1))}, "application/x-parquet")
    rc, lines = job.run(capsys, num_round=20, **BINARY)
    assert rc == 0, job.failure if rc else ""
    assert metric_values(algo, lines)["validation:auc"][-1] > 0.8


# --- checkpoints and incremental training ------------------------------------------------


def test_resumes_from_the_latest_checkpoint(binary_csv: XGBoostJob, capsys: Any) -> None:
    rc, _ = binary_csv.run(capsys, num_round=6, **BINARY)
    assert rc == 0
    assert (binary_csv.checkpoints / "xgboost-checkpoint.6").is_file()
    # A spot interruption after round 6 of 10: the restarted job trains only 4 more rounds.
    (binary_csv.model / "xgboost-model").unlink()
    rc, lines = binary_csv.run(capsys, num_round=10, **BINARY)
    assert rc == 0
    assert "resuming from checkpoint round 6" in lines
    rounds = [line for line in lines if line.startswith("[")]
    assert [r.split("]")[0] for r in rounds] == ["[6", "[7", "[8", "[9"]
    assert binary_csv.booster().num_boosted_rounds() == 10


def test_incremental_training_from_a_model_tar(binary_csv: XGBoostJob, capsys: Any) -> None:
    rc, _ = binary_csv.run(capsys, num_round=5, **BINARY)
    assert rc == 0
    first = (binary_csv.model / "xgboost-model").read_bytes()
    for checkpoint in binary_csv.checkpoints.iterdir():
        checkpoint.unlink()
    binary_csv.channel("model", {"model.tar.gz": tar([member("xgboost-model", first)])})
    rc, lines = binary_csv.run(capsys, num_round=3, **BINARY)
    assert rc == 0, binary_csv.failure if rc else ""
    assert binary_csv.booster().num_boosted_rounds() == 8
    assert [line.split("]")[0] for line in lines if line.startswith("[")] == ["[5", "[6", "[7"]


def test_oversized_tar_member_is_refused_before_extraction(tmp_path: Path) -> None:
    info = tarfile.TarInfo("xgboost-model")
    info.size = (1 << 30) + 1
    archive = tmp_path / "model.tar"
    with tarfile.open(archive, "w") as tar:
        tar.addfile(info)  # header only: the size is declared, not written
    with pytest.raises(ValidationError, match="more than the 1 GiB limit"):
        algo.safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_tuning_objective_is_evaluated_without_eval_metric(
    binary_csv: XGBoostJob, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, lines = binary_csv.run(
        capsys, objective="binary:logistic", num_round=3, _tuning_objective_metric="validation:auc"
    )
    assert rc == 0
    assert len(metric_values(algo, lines)["validation:auc"]) == 3
