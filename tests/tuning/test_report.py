"""The tuning report: trials.csv, tuning-report.json and a self-contained HTML page with its
plots, from a real tuning job of the script-mode trainer (whose objective curve is a known
function of ``lr``), and through ``sagebox tuning-jobs report``."""

from __future__ import annotations

import base64
import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sagebox.cli.app import app
from sagebox.session import Session
from sagebox.tuning.analysis import TuningReport, build, collect
from sagebox.tuning.report import write_report
from tests.control.tuning_helpers import (
    ranges,
    trainer_definition,
    trials,
    tuning_request,
    wait_tuning,
)

_ARN_PREFIX = "arn:aws:sagemaker:us-east-1:1:hyper-parameter-tuning-job"
_AUC = {"MetricName": "validation:auc", "Type": "Maximize"}
NAME = "report-job"
EPOCHS = 8
PLOTS = (
    "Objective by trial",
    "Best objective so far",
    "Objective while training",
    "Parameter importance",
    "Parallel coordinates",
)


@dataclass
class Tuned:
    session: Session
    described: dict[str, Any]
    summaries: list[dict[str, Any]]
    report: TuningReport
    folder: Path


def _loss(lr: float, epoch: int) -> float:
    return round(1.0 / (1.0 + 10 * lr * epoch), 6)  # the trainer prints 6 decimals


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuned]:
    """Five trials one at a time, with early stopping: with this seed the fifth trial's
    lr (about 0.011) is the smallest yet, so its curve is worse than the median of the
    four before it and it is stopped early (the first three are never stopped: fewer than
    three curves to compare with)."""
    session = Session(tmp_path_factory.mktemp("tuning-report") / "home")
    parameter_ranges = ranges(
        continuous=[("lr", "0.01", "1")],
        integer=[("batch", "16", "256")],
        categorical={"optimizer": ["sgd", "adam"]},  # the trainer ignores it
    )
    parameter_ranges["ContinuousParameterRanges"][0]["ScalingType"] = "Logarithmic"
    request = tuning_request(
        NAME,
        trainer_definition(session, epochs=str(EPOCHS), delay="0.6"),  # room to stop under load
        parameter_ranges,
        metric="validation:loss",
        objective_type="Minimize",
        max_jobs=5,
        parallel=1,
        TrainingJobEarlyStoppingType="Auto",
    )
    session.control.create_hyper_parameter_tuning_job(**request)
    described = wait_tuning(session, NAME, timeout=150)
    assert described["HyperParameterTuningJobStatus"] == "Completed", described
    report = collect(session.control.call, NAME, session.home)
    folder = tmp_path_factory.mktemp("report")
    write_report(report, folder)
    yield Tuned(session, described, trials(session, NAME), report, folder)


def test_trials_csv_has_one_row_per_trial_with_its_objective(tuned: Tuned) -> None:
    with (tuned.folder / "trials.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(tuned.summaries) == 5
    assert [int(r["number"]) for r in rows] == [1, 2, 3, 4, 5]
    assert {"lr", "batch", "optimizer", "stopped_early", "start_time", "end_time"} <= set(rows[0])
    by_name = {s["TrainingJobName"]: s for s in tuned.summaries}
    for row in rows:
        summary = by_name[row["name"]]
        objective = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
        assert float(row["objective"]) == pytest.approx(objective)
        assert row["status"] == summary["TrainingJobStatus"]
        assert {k: row[k] for k in ("lr", "batch", "optimizer")} == summary["TunedHyperParameters"]
        # The job was not stopped: every Stopped trial was stopped by the median rule.
        assert row["stopped_early"] == ("true" if row["status"] == "Stopped" else "false")
        if row["status"] == "Completed":
            assert float(row["objective"]) == pytest.approx(_loss(float(row["lr"]), EPOCHS))
    early = [r for r in rows if r["stopped_early"] == "true"]
    assert [r["number"] for r in early] == ["5"]
    assert float(early[0]["lr"]) < min(float(r["lr"]) for r in rows[:4])


def test_the_json_report_has_the_best_trial_counts_curves_and_importance(tuned: Tuned) -> None:
    body = json.loads((tuned.folder / "tuning-report.json").read_text())
    best = tuned.described["BestTrainingJob"]
    assert body["best_trial"]["name"] == best["TrainingJobName"]
    assert body["best_trial"]["objective"] == pytest.approx(
        best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    )
    assert body["counts"] == {
        "trials": 5,
        "completed": 4,
        "stopped": 1,
        "stopped_early": 1,
        "failed": 0,
        "in_progress": 0,
        "with_objective": 5,
    }
    config = body["tuning_job"]["configuration"]
    assert config["strategy"] == "Random" and config["random_seed"] == "11"
    assert json.loads(config["parameter_ranges"])["ContinuousParameterRanges"][0]["Name"] == "lr"
    for trial in body["trials"]:  # each curve is the trainer's, value for value
        lr = float(trial["hyperparameters"]["lr"])
        curve = trial["objective_curve"]
        assert curve == pytest.approx([_loss(lr, e) for e in range(1, len(curve) + 1)])
        assert curve[-1] == pytest.approx(trial["objective"])
        assert len(curve) == EPOCHS or trial["stopped_early"]
    importance = body["parameter_importance"]["definitions"][""]["importance"]
    assert set(importance) == {"lr", "batch", "optimizer"}
    assert sum(importance.values()) == pytest.approx(1.0)


def test_the_html_is_self_contained_and_holds_every_plot(tuned: Tuned) -> None:
    html = (tuned.folder / "tuning-report.html").read_text()
    assert not re.search(r"https?://|<script|<link|@import", html)
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', html)
    assert [alt for alt, _ in images] == list(PLOTS)
    for _, data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    best = tuned.described["BestTrainingJob"]["TrainingJobName"]
    assert f"<b>{best}</b>" in html  # named in the summary
    assert html.count("Stopped early") == 1  # the trials table marks the early stop
    assert "trials.csv" in html


def test_the_cli_writes_the_report_and_names_the_best_trial(
    tuned: Tuned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    home = ["--home", str(tuned.session.home.path)]
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["tuning-jobs", "report", NAME, *home])
    assert result.exit_code == 0, result.output
    best = tuned.described["BestTrainingJob"]
    value = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert f"Best trial: {best['TrainingJobName']}" in result.output
    assert f"validation:loss = {value:.6g}" in result.output
    default = tmp_path / "tuning-report" / NAME
    assert f"Report: {Path('tuning-report') / NAME / 'tuning-report.html'}" in result.output
    assert sorted(p.name for p in default.iterdir()) == [
        "trials.csv",
        "tuning-report.html",
        "tuning-report.json",
    ]
    elsewhere = tmp_path / "elsewhere"
    result = runner.invoke(app, ["tuning-jobs", "report", NAME, "--output", str(elsewhere), *home])
    assert result.exit_code == 0, result.output
    assert (elsewhere / "trials.csv").read_text().count("\n") == 6  # header and 5 trials

    missing = runner.invoke(app, ["tuning-jobs", "report", "no-such-job", *home])
    assert missing.exit_code == 1
    assert "(ResourceNotFound) when calling the DescribeHyperParameterTuningJob" in missing.output


# ---- without a tuning job: the report of documents the API could return ---------------


def _describe(status: str = "InProgress") -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "docs",
        "HyperParameterTuningJobArn": f"{_ARN_PREFIX}/docs",
        "HyperParameterTuningJobStatus": status,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {
                "MetricName": "validation:auc",
                "Type": "Maximize",
            },
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]
            },
        },
        "TrainingJobDefinition": {"AlgorithmSpecification": {"TrainingImage": "sagebox/xgboost"}},
        "CreationTime": "2025-01-01T00:00:00+00:00",
        "BestTrainingJob": {"TrainingJobName": "docs-001-0000000a"},
    }


def _summary(number: int, status: str, value: float | None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "TrainingJobName": f"docs-{number:03d}-0000000{'abcd'[number - 1]}",
        "TrainingJobStatus": status,
        "TunedHyperParameters": {"eta": f"0.{number}"},
        "CreationTime": f"2025-01-01T00:0{number}:00+00:00",
    }
    if value is not None:
        item["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": "validation:auc",
            "Type": "Maximize",
            "Value": value,
        }
    if status == "Failed":
        item["FailureReason"] = "AlgorithmError: <bad> data"
    return item


def test_a_running_job_with_a_failed_trial_still_reports(tmp_path: Path) -> None:
    """Without the home (a remote session) there are no curves; with one objective value
    there is no importance; what can be drawn is, and the page says why the rest is not."""
    summaries = [
        _summary(1, "Completed", 0.81),
        _summary(2, "Failed", None),
        _summary(3, "InProgress", None),
    ]
    report = build(_describe(), summaries, {})
    files = write_report(report, tmp_path / "out")
    html = files.html.read_text()
    assert re.findall(r'<img alt="([^"]+)"', html) == [
        "Objective by trial",
        "Best objective so far",
        "Parallel coordinates",
    ]
    assert "still running" in html and "remote session" in html
    assert "needs at least 3 trials with an objective value; this job has 1" in html
    assert "AlgorithmError: &lt;bad&gt; data" in html  # escaped
    rows = list(csv.DictReader(files.csv.open(newline="")))
    assert [(r["status"], r["objective"]) for r in rows] == [
        ("Completed", "0.81"),
        ("Failed", ""),
        ("InProgress", ""),
    ]
    body = json.loads(files.json.read_text())
    assert body["best_trial"]["name"] == "docs-001-0000000a"
    assert body["counts"]["in_progress"] == 1 and body["counts"]["failed"] == 1


def test_several_definitions_get_a_column_and_a_plot_each(tmp_path: Path) -> None:
    describe = _describe("Completed")
    del describe["TrainingJobDefinition"]
    config = describe["HyperParameterTuningJobConfig"]
    del config["HyperParameterTuningJobObjective"], config["ParameterRanges"]
    objective = {"MetricName": "validation:auc", "Type": "Maximize"}
    describe["TrainingJobDefinitions"] = [
        {
            "DefinitionName": "xgb",
            "TuningObjective": objective,
            "HyperParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]
            },
        },
        {
            "DefinitionName": "ll",
            "TuningObjective": objective,
            "HyperParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "wd", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Auto"}
                ]
            },
        },
    ]
    summaries = [_summary(n, "Completed", 0.7 + n / 100) for n in (1, 2, 3, 4)]
    for item in summaries[1::2]:  # trials go to the definitions in turn
        item["TrainingJobDefinitionName"] = "ll"
        item["TunedHyperParameters"] = {"wd": "0.01"}
    for item in summaries[::2]:
        item["TrainingJobDefinitionName"] = "xgb"
    report = build(describe, summaries, {})
    files = write_report(report, tmp_path)
    rows = list(csv.DictReader(files.csv.open(newline="")))
    assert [(r["definition"], r["eta"], r["wd"]) for r in rows] == [
        ("xgb", "0.1", ""),
        ("ll", "", "0.01"),
        ("xgb", "0.3", ""),
        ("ll", "", "0.01"),
    ]
    html = files.html.read_text()
    assert "Parallel coordinates (xgb)" in html and "Parallel coordinates (ll)" in html
    params = json.loads(files.json.read_text())["tuning_job"]["configuration"]
    assert (
        json.loads(params["parameter_ranges"])["ll"]["ContinuousParameterRanges"][0]["Name"] == "wd"
    )
    assert params["objective_metric"] == json.dumps(
        {"xgb": "validation:auc", "ll": "validation:auc"}, separators=(",", ":"), sort_keys=True
    )
