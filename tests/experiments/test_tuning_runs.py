"""A tuning job is an MLflow parent run (params, best objective, the objective by trial,
the report as artifacts) and its trials' runs are nested under it; logging it is
idempotent. One real tuning job of the script-mode trainer, three trials at once."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from sagebox.session import Session
from tests.control.tuning_helpers import (
    ranges,
    trainer_definition,
    trials,
    tuning_request,
    wait_tuning,
)

_ARN_PREFIX = "arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job"
_AUC = {"MetricName": "validation:auc", "Type": "Maximize"}
NAME = "mlflow-tune"


def _wait_for_notes(session: Session, names: list[str], timeout: float = 150) -> None:
    """Until the tuner and every trial's supervisor have written their mlflow.log note
    (written once logging ended, well or not)."""
    logs = session.home.logs_path
    notes = [logs / "hyper-parameter-tuning-job" / NAME / "mlflow.log"]
    notes += [logs / "training-job" / name / "mlflow.log" for name in names]
    end = time.monotonic() + timeout
    while not all(n.exists() for n in notes):
        if time.monotonic() > end:
            missing = [str(n) for n in notes if not n.exists()]
            raise AssertionError(f"not logged to MLflow in {timeout} s: {missing}")
        time.sleep(0.25)
    for note in notes:
        assert "WARNING" not in note.read_text(), note.read_text()


def test_a_tuning_job_is_the_parent_run_of_its_trials(session: Session) -> None:
    from sagebox.experiments import open_client
    from sagebox.experiments.tuning import (
        experiment_name,
        log_tuning_job,
        run_for_tuning_job,
        try_log_tuning_job,
    )
    from sagebox.tuning.analysis import collect

    parameter_ranges = ranges(continuous=[("lr", "0.05", "1")], integer=[("batch", "8", "64")])
    request = tuning_request(
        NAME,
        trainer_definition(session, epochs="3", delay="0.05"),
        parameter_ranges,
        metric="validation:loss",
        objective_type="Minimize",
        max_jobs=3,
        parallel=3,
    )
    session.control.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(session, NAME, timeout=120)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    summaries = trials(session, NAME)
    _wait_for_notes(session, [s["TrainingJobName"] for s in summaries])

    client = open_client(session.home)
    experiment = client.get_experiment_by_name(experiment_name(NAME))
    assert experiment is not None and experiment.name == "mlflow-tune-aws-tuning-job"
    run_id = run_for_tuning_job(session.home, NAME)
    assert run_id is not None
    parent = client.get_run(run_id)
    assert parent.info.run_name == NAME and parent.info.status == "FINISHED"
    assert parent.data.tags["sagemaker.tuning_job_arn"] == described["HyperParameterTuningJobArn"]
    assert parent.data.tags["sagemaker.tuning_job_status"] == "Completed"
    params = parent.data.params
    assert {k: params[k] for k in ("strategy", "objective_metric", "objective_type")} == {
        "strategy": "Random",
        "objective_metric": "validation:loss",
        "objective_type": "Minimize",
    }
    assert json.loads(params["parameter_ranges"]) == parameter_ranges
    assert (params["max_number_of_training_jobs"], params["max_parallel_training_jobs"]) == (
        "3",
        "3",
    )
    assert params["random_seed"] == "11"

    # Every trial's run is a child of it, in the same experiment.
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run_id}'"
    )
    assert sorted(c.data.tags["sagemaker.training_job_name"] for c in children) == sorted(
        s["TrainingJobName"] for s in summaries
    )
    assert all(c.info.status == "FINISHED" for c in children)

    # The outcome: the best trial, the counts, the objective of each trial by number.
    best = described["BestTrainingJob"]
    best_value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert parent.data.tags["sagemaker.best_training_job"] == best["TrainingJobName"]
    assert parent.data.metrics["best_objective"] == pytest.approx(best_value)
    assert parent.data.metrics["trials"] == 3 and parent.data.metrics["trials_completed"] == 3
    by_number = {
        int(s["TrainingJobName"].split("-")[-2]): s["FinalHyperParameterTuningJobObjectiveMetric"][
            "Value"
        ]
        for s in summaries
    }
    history = client.get_metric_history(run_id, "objective")
    assert {m.step: m.value for m in history} == pytest.approx(by_number)
    assert [a.path for a in client.list_artifacts(run_id, "report")] == [
        "report/trials.csv",
        "report/tuning-report.html",
        "report/tuning-report.json",
    ]
    assert parent.info.end_time >= max(c.info.end_time for c in children) - 1000

    # Logging again keeps the run and adds nothing; a run left RUNNING (a logger that
    # died part-way) is completed with the same values.
    call: Any = session.control.call
    assert try_log_tuning_job(session.home, NAME, call) == run_id
    client.update_run(run_id, status="RUNNING")
    report = collect(call, NAME, session.home)
    assert log_tuning_job(session.home, report) == run_id
    assert client.get_run(run_id).info.status == "FINISHED"
    assert len(client.get_metric_history(run_id, "objective")) == 3
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 4  # the tuning job and its three trials


def test_a_tuning_job_that_has_not_ended_is_not_logged(tmp_path: Path) -> None:
    from sagebox.errors import ValidationError
    from sagebox.experiments.tuning import log_tuning_job
    from sagebox.home import Home
    from sagebox.tuning.analysis import build

    describe = {
        "HyperParameterTuningJobName": "running",
        "HyperParameterTuningJobArn": f"{_ARN_PREFIX}/running",
        "HyperParameterTuningJobStatus": "InProgress",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {
                "MetricName": "validation:auc",
                "Type": "Maximize",
            },
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "ParameterRanges": {},
        },
    }
    with pytest.raises(ValidationError, match="'running' is InProgress; it is logged to MLflow"):
        log_tuning_job(Home.open(tmp_path / "home"), build(describe, [], {}))
