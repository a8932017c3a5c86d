"""A hyperparameter tuning job as an MLflow parent run, its trials' runs nested under it.

The run is in the trials' experiment, ``<tuning job>-aws-tuning-job`` (the name SageMaker
Experiments gives a tuning job's), tagged ``sagemaker.tuning_job_arn``, with the job's
configuration as params. The first trial logged makes it (:func:`runs.tuning_parent`);
when the tuning job ends, its tuner logs the outcome on it (:func:`try_log_tuning_job`):
the best trial, the trials' counts, each trial's objective as the series ``objective``
(step = trial number), the report files as artifacts, and the job's final state.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sagebox.errors import SageboxError, ValidationError
from sagebox.experiments.job import RUN_STATUS
from sagebox.experiments.runs import (
    FAILURE_TAG,
    TUNING_ARN_TAG,
    _safe_uri,
    find_run,
    tuning_parent,
)
from sagebox.experiments.store import experiment_id, open_client, store_lock
from sagebox.home import Home
from sagebox.tuning.analysis import TUNING_KIND, Call, TuningReport, collect
from sagebox.tuning.report import ReportFiles, write_report

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

STATUS_TAG = "sagemaker.tuning_job_status"
BEST_TAG = "sagemaker.best_training_job"
OBJECTIVE_TAG = "sagemaker.objective_metric"
REPORT_ARTIFACTS = "report"
NOTES_FILE = "mlflow.log"


def experiment_name(tuning_job: str) -> str:
    """The MLflow experiment of a tuning job's runs (SageMaker Experiments' name for it)."""
    return f"{tuning_job}-aws-tuning-job"


def _millis(value: datetime | None) -> int:
    return int((value or datetime.now(UTC)).timestamp() * 1000)


def _metrics(report: TuningReport) -> list[Metric]:
    from mlflow.entities import Metric

    end = _millis(report.end_time)
    counts = report.counts()
    metrics = [
        Metric(f"trials_{k}" if k != "trials" else k, float(v), end, 0)
        for k, v in counts.items()
        if k not in ("in_progress", "with_objective")
    ]
    best = report.best
    if best is not None and best.objective is not None:
        metrics.append(Metric("best_objective", best.objective, end, 0))
        metrics.append(Metric("best_trial_number", float(best.number), end, 0))
    better = max if report.maximize else min
    so_far: float | None = None
    for trial in report.trials:
        if trial.objective is None or not math.isfinite(trial.objective):
            continue
        stamp = _millis(trial.end_time or report.end_time)
        so_far = trial.objective if so_far is None else better(so_far, trial.objective)
        metrics.append(Metric("objective", trial.objective, stamp, trial.number))
        metrics.append(Metric("best_objective_so_far", so_far, stamp, trial.number))
    return metrics


def _tags(report: TuningReport) -> dict[str, str]:
    counts = report.counts()
    best = report.best
    outcome = (
        f"best `{best.name}` (trial {best.number}), {report.metric} = {best.objective:.6g}"
        if best is not None and best.objective is not None
        else "no trial reported the objective"
    )
    tags = {
        STATUS_TAG: report.status,
        OBJECTIVE_TAG: report.metric,
        "mlflow.note.content": (
            f"SageMaker hyperparameter tuning job `{report.name}` ({report.status}, "
            f"{report.strategy}): {counts['trials']} training jobs, {outcome}. Its training "
            f"jobs are the nested runs; the report is in the artifacts ({REPORT_ARTIFACTS}/)."
        ),
    }
    if best is not None:
        tags[BEST_TAG] = best.name
    if report.failure_reason:
        tags[FAILURE_TAG] = report.failure_reason[:5000]
    return tags


def log_tuning_job(home: Home, report: TuningReport, files: ReportFiles | None = None) -> str:
    """Log the ended tuning job of ``report`` on its run (made if missing); the run's id.

    A run already ended is kept as it is (the job was logged); one left RUNNING by a logger
    that died part-way is completed, with the same values.
    """
    if report.status not in RUN_STATUS:
        raise ValidationError(
            f"Tuning job '{report.name}' is {report.status}; it is logged to MLflow once it "
            "has ended (Completed, Failed or Stopped). Wait for it, then log it again."
        )
    client = open_client(home)
    with store_lock(home):
        experiment = experiment_id(home, client, experiment_name(report.name))
        run_id = tuning_parent(home, client, experiment, report.arn, report.name)
        if client.get_run(run_id).info.status != "RUNNING":
            return run_id
        _log(client, run_id, report, files)
    return run_id


def _log(
    client: MlflowClient, run_id: str, report: TuningReport, files: ReportFiles | None
) -> None:
    from mlflow.entities import Param, RunTag

    present = client.get_run(run_id).data.params  # the first trial's logger may have them
    params = [Param(k, v) for k, v in sorted(report.params.items()) if k not in present]
    tags = [RunTag(k, v) for k, v in _tags(report).items()]
    client.log_batch(run_id, params=params, tags=tags)  # job_params: about 15 params
    metrics = _metrics(report)
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])
    for path in files.all() if files else ():
        client.log_artifact(run_id, str(path), REPORT_ARTIFACTS)
    client.set_terminated(run_id, RUN_STATUS[report.status], end_time=_millis(report.end_time))


def try_log_tuning_job(home: Home, name: str, call: Call) -> str | None:
    """For the tuner, once the job's final state is recorded: read the job through
    ``call``, write its report and log it (:func:`log_tuning_job`). Never raises: a
    failure is one line on stderr and in the job's log folder (``mlflow.log``, beside
    ``tuner.log``), which also notes each success and its time."""
    began = time.monotonic()
    try:
        report = collect(call, name, home)
        with tempfile.TemporaryDirectory(prefix="sagebox-tuning-report-") as tmp:
            files = write_report(report, Path(tmp) / name)
            run_id = log_tuning_job(home, report, files)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, SageboxError) else f"{type(exc).__name__}: {exc}"
        note = (
            f"WARNING: tuning job {name} was not logged to MLflow at {_safe_uri(home)}: "
            f"{detail}".replace("\n", " ")
        )
        print(f"sagebox: {note}", file=sys.stderr)
        _note(home, name, note)
        return None
    _note(
        home,
        name,
        f"logged tuning job {name} as MLflow run {run_id} at {_safe_uri(home)} in "
        f"{time.monotonic() - began:.2f} s",
    )
    return run_id


def _note(home: Home, name: str, text: str) -> None:
    folder = home.logs_path / TUNING_KIND / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / NOTES_FILE).open("a") as handle:
            handle.write(f"{datetime.now(UTC).isoformat()} {text}\n")
    except OSError:
        pass


def run_for_tuning_job(home: Home, name: str) -> str | None:
    """The id of tuning job ``name``'s MLflow run, if it has one."""
    client = open_client(home)
    found = client.get_experiment_by_name(experiment_name(name))
    if found is None:
        return None
    arn = home.arn("sagemaker", f"hyper-parameter-tuning-job/{name.lower()}")
    run = find_run(client, str(found.experiment_id), TUNING_ARN_TAG, arn)
    return None if run is None else str(run.info.run_id)
