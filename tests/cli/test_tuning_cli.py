"""``sagebox tuning-jobs create|describe|list|trials|stop``."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from sagebox.cli.app import app
from sagebox.session import Session
from tests.control.tuning_helpers import ranges, trainer_definition, tuning_request

runner = CliRunner()


def test_create_from_a_spec_waits_then_lists_trials_best_first(
    home_path: Path, tmp_path: Path
) -> None:
    definition = trainer_definition(Session(home_path), epochs="3", delay="0.05")
    del definition["RoleArn"]  # the home's execution role by default
    request = tuning_request(
        "from-cli",
        definition,
        ranges(continuous=[("lr", "0.05", "1")]),
        metric="validation:loss",
        objective_type="Minimize",
        max_jobs=2,
        parallel=1,
    )
    spec = tmp_path / "tuning.yaml"
    spec.write_text(yaml.safe_dump(request))
    home = ["--home", str(home_path)]
    created = runner.invoke(
        app,
        ["tuning-jobs", "create", "--spec", str(spec), "--max-jobs", "3", "--max-parallel-jobs",
         "2", "--wait", *home],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "from-cli: Completed" in created.output
    described = json.loads(
        runner.invoke(app, ["tuning-jobs", "describe", "from-cli", *home]).stdout
    )
    assert described["HyperParameterTuningJobConfig"]["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 3,
        "MaxParallelTrainingJobs": 2,
    }
    assert described["TrainingJobStatusCounters"]["Completed"] == 3
    listed = runner.invoke(app, ["tuning-jobs", "list", "-o", "json", *home])
    names = [
        s["HyperParameterTuningJobName"]
        for s in json.loads(listed.stdout)["HyperParameterTuningJobSummaries"]
    ]
    assert names == ["from-cli"]
    best_first = runner.invoke(
        app,
        ["tuning-jobs", "trials", "from-cli", "--sort-by", "FinalObjectiveMetricValue",
         "-o", "json", *home],
    )  # fmt: skip
    summaries = json.loads(best_first.stdout)["TrainingJobSummaries"]
    assert summaries[0]["TrainingJobName"] == described["BestTrainingJob"]["TrainingJobName"]
    table = runner.invoke(app, ["tuning-jobs", "trials", "from-cli", *home])
    assert table.exit_code == 0 and "from-cli-001-" in table.output
    stopped = runner.invoke(app, ["tuning-jobs", "stop", "from-cli", *home])
    assert stopped.exit_code == 1
    assert "(ValidationException) when calling the StopHyperParameterTuningJob" in stopped.output
