"""``sagebox training-jobs`` and ``sagebox logs --kind training-job``."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from sagebox.cli.app import app
from sagebox.session import Session
from tests.control.test_training_jobs import _data

runner = CliRunner()


def test_create_with_flags_waits_then_lists_describes_and_shows_logs(home_path: Path) -> None:
    _data(Session(home_path))
    home = ["--home", str(home_path)]
    created = runner.invoke(
        app,
        [
            "training-jobs", "create", "--name", "cli-xgb", "--image", "sagebox/xgboost",
            "-p", "objective=binary:logistic", "-p", "num_round=5", "-p", "eval_metric=auc",
            "-c", "train=s3://mlbucket/train/", "-c", "validation=s3://mlbucket/validation/",
            "--wait", *home,
        ],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "cli-xgb: Completed" in created.output
    described = runner.invoke(app, ["training-jobs", "describe", "cli-xgb", *home])
    document = json.loads(described.stdout)
    assert document["TrainingJobStatus"] == "Completed"
    assert document["RoleArn"].endswith(":role/SageboxExecutionRole")
    assert document["ModelArtifacts"]["S3ModelArtifacts"].endswith("/cli-xgb/output/model.tar.gz")
    listed = runner.invoke(app, ["training-jobs", "list", "-o", "json", *home])
    assert [s["TrainingJobName"] for s in json.loads(listed.stdout)["TrainingJobSummaries"]] == [
        "cli-xgb"
    ]
    logs = runner.invoke(app, ["logs", "cli-xgb", "--kind", "training-job", *home])
    assert "validation-auc" in logs.output


def test_bad_hyperparameter_prints_the_aws_error(home_path: Path) -> None:
    _data(Session(home_path))
    result = runner.invoke(
        app,
        [
            "training-jobs", "create", "--name", "bad", "--image", "sagebox/xgboost",
            "-p", "num_round=5", "-p", "eta=3", "-c", "train=s3://mlbucket/train/",
            "--home", str(home_path),
        ],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "(ValidationException) when calling the CreateTrainingJob operation" in result.output
    assert "'eta' parameter of XGBoost must be a float in [0, 1]" in result.output
