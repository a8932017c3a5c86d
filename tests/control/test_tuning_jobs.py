"""Hyperparameter tuning jobs: real trials, counters, the best job, early stopping,
Hyperband budgets, parallel trials, Stop, warm start, several definitions, refusals."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sagebox.control import Principal
from sagebox.errors import AccessDenied, ResourceNotFound, ValidationError
from sagebox.session import Session
from tests.control.tuning_helpers import (
    LOSS_METRIC,
    channels,
    ranges,
    trainer_definition,
    trials,
    tuning_request,
    wait_tuning,
    xgboost_definition,
)


def _xgb_ranges() -> dict[str, Any]:
    return ranges(
        continuous=[("eta", "0.05", "0.5"), ("min_child_weight", "1", "5")],
        integer=[("max_depth", "1", "4")],
    )


def _training(session: Session, name: str) -> dict[str, Any]:
    return session.control.describe_training_job(TrainingJobName=name)


def test_trials_are_real_training_jobs_and_the_best_one_is_reported(session: Session) -> None:
    request = tuning_request("xgb-tune", xgboost_definition(session), _xgb_ranges())
    request["Tags"] = [{"Key": "Project", "Value": "LoanDefault"}]
    arn = session.control.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]
    assert arn.endswith(":hyper-parameter-tuning-job/xgb-tune")
    described = wait_tuning(session, "xgb-tune")
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TrainingJobStatusCounters"] == {
        "Completed": 4,
        "InProgress": 0,
        "RetryableError": 0,
        "NonRetryableError": 0,
        "Stopped": 0,
    }
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    assert described["ConsumedResources"]["RuntimeInSeconds"] >= 1
    assert described["HyperParameterTuningEndTime"] >= described["CreationTime"]

    summaries = trials(session, "xgb-tune")
    assert [s["TrainingJobName"] for s in summaries] == sorted(
        s["TrainingJobName"] for s in summaries
    )  # AWS's default order: Name, Ascending
    assert len(summaries) == 4
    for summary in summaries:
        assert re.fullmatch(r"xgb-tune-00[1-4]-[0-9a-f]{8}", summary["TrainingJobName"])
        tuned = summary["TunedHyperParameters"]
        assert 0.05 <= float(tuned["eta"]) <= 0.5 and 1 <= int(tuned["max_depth"]) <= 4
        job = _training(session, summary["TrainingJobName"])
        assert job["TuningJobArn"] == arn
        assert job["HyperParameters"] == {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "num_round": "10",
            **tuned,
            "_tuning_objective_metric": "validation:auc",
        }
        final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
        objective = summary["FinalHyperParameterTuningJobObjectiveMetric"]
        assert objective["Value"] == pytest.approx(final["validation:auc"])
        assert objective["MetricName"] == "validation:auc" and objective["Type"] == "Maximize"
        assert summary["ObjectiveStatus"] == "Succeeded"
        tags = session.control.list_tags(ResourceArn=job["TrainingJobArn"])["Tags"]
        assert {"Key": "Project", "Value": "LoanDefault"} in tags  # tags reach the trials

    values = {
        s["TrainingJobName"]: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        for s in summaries
    }
    best = described["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values.values())
    assert values[best["TrainingJobName"]] == max(values.values())
    assert "OverallBestTrainingJob" not in described  # only for warm-started jobs

    by_value = trials(
        session, "xgb-tune", SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )
    assert by_value[0]["TrainingJobName"] == best["TrainingJobName"]
    first = session.control.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="xgb-tune", MaxResults=3
    )
    assert len(first["TrainingJobSummaries"]) == 3
    rest = session.control.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="xgb-tune", MaxResults=3, NextToken=first["NextToken"]
    )
    assert len(rest["TrainingJobSummaries"]) == 1 and "NextToken" not in rest
    with pytest.raises(ValidationError, match="NextToken"):
        session.control.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="xgb-tune", SortBy="Status", NextToken=first["NextToken"]
        )
    assert trials(session, "xgb-tune", StatusEquals="Failed") == []

    listed = session.control.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [j["HyperParameterTuningJobName"] for j in listed] == ["xgb-tune"]
    assert listed[0]["Strategy"] == "Random"
    assert listed[0]["TrainingJobStatusCounters"]["Completed"] == 4
    assert listed[0]["ResourceLimits"]["MaxParallelTrainingJobs"] == 2
    with pytest.raises(ValidationError, match="Completed; only an InProgress"):
        session.control.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="xgb-tune")


def test_three_parallel_trials_run_at_once(session: Session) -> None:
    definition = trainer_definition(session, epochs="6", delay="0.3")
    request = tuning_request(
        "parallel",
        definition,
        ranges(continuous=[("lr", "0.01", "1")]),
        metric="validation:loss",
        objective_type="Minimize",
        max_jobs=3,
        parallel=3,
    )
    session.control.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(session, "parallel")
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    summaries = trials(session, "parallel")
    assert [s["TrainingJobStatus"] for s in summaries] == ["Completed"] * 3
    # All three were launched before any ended: they ran side by side, and their
    # metrics (written every second by three supervisors) all arrived.
    assert max(s["CreationTime"] for s in summaries) < min(s["TrainingEndTime"] for s in summaries)
    for summary in summaries:
        lr = float(summary["TunedHyperParameters"]["lr"])
        value = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert value == pytest.approx(1 / (1 + 10 * lr * 6), abs=1e-5)
        arn = summary["TrainingJobArn"]
        assert len(session.home.metadata.get_metrics(arn, "validation:loss")) == 6
    best = described["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == min(
        s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries
    )


def test_early_stopping_stops_a_clearly_worse_trial(session: Session) -> None:
    definition = trainer_definition(session, epochs="10", delay="0.4")
    request = tuning_request(
        "early",
        definition,
        ranges(categorical={"lr": ["0.5", "0.4", "0.3", "0.001"]}),  # tried in this order
        metric="validation:loss",
        objective_type="Minimize",
        strategy="Grid",
        max_jobs=None,
        parallel=1,
        TrainingJobEarlyStoppingType="Auto",
    )
    del request["HyperParameterTuningJobConfig"]["RandomSeed"]  # Grid keeps the order
    session.control.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(session, "early")
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    counters = described["TrainingJobStatusCounters"]
    assert (counters["Completed"], counters["Stopped"]) == (3, 1)
    by_lr = {s["TunedHyperParameters"]["lr"]: s for s in trials(session, "early")}
    bad = by_lr["0.001"]
    assert bad["TrainingJobStatus"] == "Stopped"
    # A job stopped early still reports its objective: the last value it emitted.
    assert bad["ObjectiveStatus"] == "Succeeded"
    assert bad["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] > 0.9
    points = session.home.metadata.get_metrics(bad["TrainingJobArn"], "validation:loss")
    assert 1 <= len(points) < 10
    assert all(by_lr[lr]["TrainingJobStatus"] == "Completed" for lr in ("0.5", "0.4", "0.3"))
    best = described["BestTrainingJob"]
    assert best["TunedHyperParameters"] == {"lr": "0.5"}


def test_hyperband_stops_trials_that_run_past_their_budget(session: Session) -> None:
    definition = trainer_definition(session, epochs="12", delay="0.3")
    request = tuning_request(
        "hyperband",
        definition,
        ranges(continuous=[("lr", "0.01", "1")]),
        metric="validation:loss",
        objective_type="Minimize",
        strategy="Hyperband",
        max_jobs=2,
        parallel=2,
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 3}},
    )
    session.control.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(session, "hyperband")
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    config = described["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"]["HyperbandStrategyConfig"] == {
        "MinResource": 1,
        "MaxResource": 3,
    }
    for summary in trials(session, "hyperband"):
        points = session.home.metadata.get_metrics(summary["TrainingJobArn"], "validation:loss")
        assert summary["TrainingJobStatus"] == "Stopped"  # none ran its 12 epochs
        assert 3 <= len(points) < 12
        assert summary["ObjectiveStatus"] == "Succeeded"
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 2


def test_stop_ends_the_running_trials_and_the_job(session: Session) -> None:
    import time

    definition = trainer_definition(session, epochs="60", delay="0.3")
    request = tuning_request(
        "stopme",
        definition,
        ranges(continuous=[("lr", "0.01", "1")]),
        metric="validation:loss",
        objective_type="Minimize",
        max_jobs=6,
        parallel=2,
    )
    session.control.create_hyper_parameter_tuning_job(**request)
    deadline = time.monotonic() + 60
    while True:
        running = [
            s
            for s in trials(session, "stopme")
            if _training(session, s["TrainingJobName"]).get("SecondaryStatus") == "Training"
        ]
        if len(running) == 2:
            break
        assert time.monotonic() < deadline, "the trials did not start"
        time.sleep(0.2)
    session.control.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stopme")
    assert session.control.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="stopme"
    )["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    described = wait_tuning(session, "stopme")
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    summaries = trials(session, "stopme")
    assert len(summaries) == 2  # nothing launched after the stop
    assert {s["TrainingJobStatus"] for s in summaries} == {"Stopped"}
    assert described["TrainingJobStatusCounters"]["Stopped"] == 2
    with pytest.raises(ValidationError, match="Stopped; only an InProgress"):
        session.control.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stopme")


def test_warm_start_learns_from_the_parent_and_reports_the_overall_best(
    session: Session,
) -> None:
    definition = trainer_definition(session, epochs="3", delay="0.1")
    parent = tuning_request(
        "parent",
        definition,
        ranges(continuous=[("lr", "0.5", "1")]),
        metric="validation:loss",
        objective_type="Minimize",
        max_jobs=3,
        parallel=3,
    )
    session.control.create_hyper_parameter_tuning_job(**parent)
    child = tuning_request(
        "child",
        definition,
        ranges(continuous=[("lr", "0.01", "0.1")]),  # worse than all of the parent's
        metric="validation:loss",
        objective_type="Minimize",
        strategy="Bayesian",
        max_jobs=2,
        parallel=2,
    )
    child["WarmStartConfig"] = {
        "WarmStartType": "IdenticalDataAndAlgorithm",
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
    }
    with pytest.raises(ValidationError, match="Parents must be in a terminal state"):
        session.control.create_hyper_parameter_tuning_job(**child)
    parent_done = wait_tuning(session, "parent")
    assert parent_done["HyperParameterTuningJobStatus"] == "Completed"

    session.control.create_hyper_parameter_tuning_job(**child)
    record = session.home.metadata.get("hyper-parameter-tuning-job", "child")
    prior = record.document["_Prior"][""]
    assert sorted(float(p["hyperparameters"]["lr"]) for p in prior) == sorted(
        float(s["TunedHyperParameters"]["lr"]) for s in trials(session, "parent")
    )  # the parent's three trials seed the child's strategy
    described = wait_tuning(session, "child")
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert described["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    overall = described["OverallBestTrainingJob"]
    assert overall["TrainingJobName"] == parent_done["BestTrainingJob"]["TrainingJobName"]
    assert overall["TuningJobName"] == "parent"
    assert described["BestTrainingJob"]["TuningJobName"] == "child"
    assert (
        described["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        > overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )
    missing = {**child, "HyperParameterTuningJobName": "orphan"}
    missing["WarmStartConfig"] = {
        "WarmStartType": "TransferLearning",
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "nope"}],
    }
    with pytest.raises(ResourceNotFound, match="nope"):
        session.control.create_hyper_parameter_tuning_job(**missing)


def test_two_algorithms_in_one_tuning_job(session: Session) -> None:
    xgb = xgboost_definition(session)
    xgb.update(
        DefinitionName="xgb",
        TuningObjective={"MetricName": "validation:auc", "Type": "Maximize"},
        HyperParameterRanges=ranges(continuous=[("eta", "0.1", "0.5")]),
    )
    linear = {
        **xgboost_definition(session),
        "DefinitionName": "linear",
        "AlgorithmSpecification": {
            "TrainingImage": "sagebox/linear-learner",
            "TrainingInputMode": "File",
        },
        "StaticHyperParameters": {"predictor_type": "binary_classifier", "epochs": "3"},
        "TuningObjective": {"MetricName": "validation:roc_auc_score", "Type": "Maximize"},
        "HyperParameterRanges": ranges(continuous=[("learning_rate", "0.01", "0.2")]),
        "InputDataConfig": channels(),
    }
    request = {
        "HyperParameterTuningJobName": "two-algos",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "RandomSeed": 3,
        },
        "TrainingJobDefinitions": [xgb, linear],
    }
    session.control.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(session, "two-algos", timeout=180)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    summaries = trials(session, "two-algos")
    by_definition: dict[str, list[dict[str, Any]]] = {}
    for summary in summaries:
        by_definition.setdefault(summary["TrainingJobDefinitionName"], []).append(summary)
    assert sorted(by_definition) == ["linear", "xgb"]
    assert [len(v) for v in by_definition.values()] == [2, 2]  # the definitions take turns
    for summary in by_definition["xgb"]:
        assert set(summary["TunedHyperParameters"]) == {"eta"}
        assert summary["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == (
            "validation:auc"
        )
    for summary in by_definition["linear"]:
        assert set(summary["TunedHyperParameters"]) == {"learning_rate"}
        job = _training(session, summary["TrainingJobName"])
        assert job["AlgorithmSpecification"]["TrainingImage"] == "sagebox/linear-learner"
        assert job["HyperParameters"]["_tuning_objective_metric"] == "validation:roc_auc_score"
        assert summary["ObjectiveStatus"] == "Succeeded"
    best = described["BestTrainingJob"]
    assert best["TrainingJobDefinitionName"] in ("xgb", "linear")
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values)


def test_the_tuning_service_creates_the_trials_not_the_caller(session: Session) -> None:
    role = session.get_execution_role()
    session.control.call("CreateUser", {"UserName": "tuner"}, service="iam")

    def allow(*statements: dict[str, Any]) -> None:
        session.control.call(
            "PutUserPolicy",
            {
                "UserName": "tuner",
                "PolicyName": "tuning",
                "PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": statements}),
            },
            service="iam",
        )

    tuning = {
        "Effect": "Allow",
        "Action": [
            "sagemaker:CreateHyperParameterTuningJob",
            "sagemaker:DescribeHyperParameterTuningJob",
        ],
        "Resource": "*",
    }
    allow(tuning)
    user = Principal(f"arn:aws:iam::{session.account_id}:user/tuner", session.account_id)
    request = tuning_request(
        "by-user",
        trainer_definition(session, epochs="2", delay="0.1"),
        ranges(continuous=[("lr", "0.1", "1")]),
        metric="validation:loss",
        objective_type="Minimize",
        max_jobs=2,
        parallel=2,
    )
    with pytest.raises(AccessDenied, match="iam:PassRole on resource: " + role):
        session.control.call("CreateHyperParameterTuningJob", request, principal=user)
    # As on AWS: the tuning job's action and PassRole; no sagemaker:CreateTrainingJob.
    allow(tuning, {"Effect": "Allow", "Action": "iam:PassRole", "Resource": role})
    session.control.call("CreateHyperParameterTuningJob", request, principal=user)
    described = wait_tuning(session, "by-user")
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    from sagebox.control.audit import AuditLog

    events = list(AuditLog(session.home.logs_path / "audit").read())
    created = [
        e for e in events if e.action == "sagemaker:CreateTrainingJob" and "by-user-" in e.resource
    ]
    assert len(created) == 2
    assert {e.principal for e in created} == {"sagemaker.amazonaws.com"}
    assert {e.decision for e in created} == {"allowed"}
    with pytest.raises(AccessDenied):  # the user still cannot create training jobs itself
        session.control.call(
            "CreateTrainingJob", {"TrainingJobName": "direct", **_direct(session)}, principal=user
        )


def _direct(session: Session) -> dict[str, Any]:
    definition = trainer_definition(session)
    return {
        "AlgorithmSpecification": definition["AlgorithmSpecification"],
        "HyperParameters": definition["StaticHyperParameters"],
        "RoleArn": definition["RoleArn"],
        "OutputDataConfig": definition["OutputDataConfig"],
        "ResourceConfig": definition["ResourceConfig"],
        "StoppingCondition": definition["StoppingCondition"],
    }


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (
            lambda r: r["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"].update(
                MetricName="validation:accuracy-ish"
            ),
            ValidationError,
            "'validation:accuracy-ish' .* is not a metric its training image",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(Strategy="Grid"),
            ValidationError,
            "Grid strategy supports only categorical",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"]["ResourceLimits"].update(
                MaxParallelTrainingJobs=5
            ),
            ValidationError,
            r"MaxParallelTrainingJobs \(5\) is greater",
        ),
        (
            lambda r: r.update(HyperParameterTuningJobName="a-name-that-is-longer-than-32-chars"),
            ValidationError,
            "hyperParameterTuningJobName' failed to satisfy constraint: Member must have length "
            "less than or equal to 32",
        ),
        (
            lambda r: r["TrainingJobDefinition"]["StaticHyperParameters"].update(eta="0.3"),
            ValidationError,
            "both StaticHyperParameters and ParameterRanges",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"]["ParameterRanges"][
                "ContinuousParameterRanges"
            ][0].update(MaxValue="3"),
            ValidationError,
            "would refuse .*'eta' parameter of XGBoost must be",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(
                Strategy="Hyperband", TrainingJobEarlyStoppingType="Auto"
            ),
            ValidationError,
            "must be Off with the Hyperband strategy",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(Strategy="Hyperband"),
            ValidationError,
            "needs HyperbandStrategyConfig.MaxResource",
        ),
        (
            lambda r: r["HyperParameterTuningJobConfig"].update(
                StrategyConfig={"HyperbandStrategyConfig": {"MaxResource": 10}}
            ),
            ValidationError,
            "is for the Hyperband strategy",
        ),
        (
            lambda r: r.update(TrainingJobDefinitions=[r["TrainingJobDefinition"]]),
            ValidationError,
            "exactly one of TrainingJobDefinition",
        ),
        (
            lambda r: r["TrainingJobDefinition"].update(
                RoleArn="arn:aws:iam::123456789012:role/Nobody"
            ),
            ValidationError,
            "Could not assume role",
        ),
        (
            lambda r: r["TrainingJobDefinition"]["ResourceConfig"].update(
                InstanceType="ml.x9.huge"
            ),
            ValidationError,
            "ml.x9.huge",
        ),
    ],
)
def test_refusals_at_create(session: Session, change: Any, error: type, message: str) -> None:
    request = tuning_request("refused", xgboost_definition(session), _xgb_ranges())
    change(request)
    with pytest.raises(error, match=message):
        session.control.create_hyper_parameter_tuning_job(**request)
    assert (
        session.control.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"] == []
    )


def test_a_trainer_without_the_objective_metric_fails_the_tuning_job(session: Session) -> None:
    definition = trainer_definition(session, epochs="2", delay="0.05")
    definition["AlgorithmSpecification"]["MetricDefinitions"] = [
        LOSS_METRIC,
        {"Name": "validation:never", "Regex": "never=([0-9.]+)"},
    ]
    request = tuning_request(
        "silent",
        definition,
        ranges(continuous=[("lr", "0.1", "1")]),
        metric="validation:never",
        objective_type="Minimize",
        max_jobs=2,
        parallel=2,
    )
    session.control.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(session, "silent")
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert "reported no objective" in described["FailureReason"]
    assert "validation:never" in described["FailureReason"]
    assert described["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 2}
    assert "BestTrainingJob" not in described


def test_the_tuner_outlives_its_creator_and_a_dead_tuner_is_reconciled(
    session: Session, home_path: Any
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from sagebox.runtime.processes import is_alive

    definition = trainer_definition(session, epochs="3", delay="0.05")
    request = tuning_request(
        "orphaned",
        definition,
        ranges(continuous=[("lr", "0.1", "1")]),
        metric="validation:loss",
        objective_type="Minimize",
        max_jobs=2,
        parallel=2,
    )
    script = (
        "import json, sys\n"
        "from sagebox.session import Session\n"
        "Session(sys.argv[1]).control.create_hyper_parameter_tuning_job(**json.load(sys.stdin))\n"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(home_path)],
        input=json.dumps(request).encode(),
        check=True,
    )  # the creating process has exited: the tuner carries on
    assert wait_tuning(session, "orphaned")["HyperParameterTuningJobStatus"] == "Completed"

    long = trainer_definition(session, epochs="100", delay="0.2")
    request = {**request, "HyperParameterTuningJobName": "killed", "TrainingJobDefinition": long}
    session.control.create_hyper_parameter_tuning_job(**request)
    deadline = time.monotonic() + 60
    while len(trials(session, "killed")) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    tuner = session.home.metadata.get("hyper-parameter-tuning-job", "killed").document["_Tuner"]
    os.kill(tuner["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while is_alive(tuner["pid"], tuner["ticks"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    Session(home_path)  # opening the home reconciles it
    described = wait_tuning(session, "killed", timeout=5)
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert described["FailureReason"].startswith("InternalFailure: the tuning job's tuner")
    for summary in trials(session, "killed"):
        job = _training(session, summary["TrainingJobName"])
        assert job["TrainingJobStatus"] in ("Stopping", "Stopped")
