"""Reading runs back: experiments with their run counts, and runs side by side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sagebox.errors import ResourceNotFound, ValidationError
from sagebox.experiments.runs import ARN_TAG, NAME_TAG, STATUS_TAG
from sagebox.experiments.store import open_client
from sagebox.home import Home

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Experiment, Run

_PAGE = 1000


@dataclass(frozen=True)
class ExperimentSummary:
    name: str
    experiment_id: str
    runs: int  # every run, trial parent runs included
    jobs: int  # runs that record a training job
    last_run: datetime | None
    artifact_location: str


@dataclass(frozen=True)
class RunRow:
    run_id: str
    run_name: str
    experiment: str
    job_name: str
    status: str  # the job's (Completed / Failed / Stopped)
    start: datetime | None
    params: dict[str, str]
    metrics: dict[str, float]


@dataclass(frozen=True)
class Comparison:
    rows: tuple[RunRow, ...]
    params: tuple[str, ...]  # the params whose values differ between the rows
    metrics: tuple[str, ...]

    def records(self) -> list[dict[str, Any]]:
        """One flat dict a row, in column order (for tables and JSON)."""
        out = []
        for row in self.rows:
            record: dict[str, Any] = {"Run": row.run_name, "Job": row.job_name}
            if len({r.experiment for r in self.rows}) > 1:
                record["Experiment"] = row.experiment
            record["Status"] = row.status
            record.update({p: row.params.get(p) for p in self.params})
            record.update({m: row.metrics.get(m) for m in self.metrics})
            record["Run ID"] = row.run_id
            out.append(record)
        return out


def _all_runs(client: MlflowClient, ids: list[str], filter_string: str = "") -> list[Run]:
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            ids, filter_string=filter_string, max_results=_PAGE, page_token=token
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _millis_time(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, UTC) if ms else None


def list_experiments(home: Home) -> list[ExperimentSummary]:
    """The tracking store's active experiments, newest first, with their run counts."""
    client = open_client(home)
    summaries = []
    for experiment in client.search_experiments(order_by=["creation_time DESC"]):
        runs = _all_runs(client, [experiment.experiment_id])
        starts = [r.info.start_time for r in runs if r.info.start_time]
        summaries.append(
            ExperimentSummary(
                name=experiment.name,
                experiment_id=str(experiment.experiment_id),
                runs=len(runs),
                jobs=sum(1 for r in runs if ARN_TAG in r.data.tags),
                last_run=_millis_time(max(starts)) if starts else None,
                artifact_location=experiment.artifact_location,
            )
        )
    return summaries


def _experiments(client: MlflowClient, name: str | None) -> list[Experiment]:
    if name is None:
        return list(client.search_experiments())
    found = client.get_experiment_by_name(name)
    if found is None or found.lifecycle_stage != "active":
        known = ", ".join(sorted(e.name for e in client.search_experiments())) or "none yet"
        raise ResourceNotFound(
            f"There is no MLflow experiment named {name!r} (experiments: {known}). A training "
            "job's run goes to its ExperimentConfig.ExperimentName, or to 'Default'."
        )
    return [found]


def compare_runs(
    home: Home,
    experiment: str | None = None,
    metrics: Sequence[str] = (),
    max_runs: int = 20,
    ascending: bool = False,
) -> Comparison:
    """The training-job runs of ``experiment`` (all experiments for None), side by side.

    Sorted by the first of ``metrics`` (descending unless ``ascending``; runs without it
    last), else newest first; at most ``max_runs``. The columns are the params that
    differ between the runs and ``metrics`` (every metric the runs have, when empty).
    """
    if max_runs < 1:
        raise ValidationError(f"max_runs must be at least 1; got {max_runs}.")
    client = open_client(home)
    found = _experiments(client, experiment)
    names = {str(e.experiment_id): e.name for e in found}
    order = ["attributes.start_time DESC"]
    if metrics:
        order.insert(0, f"metrics.`{metrics[0]}` {'ASC' if ascending else 'DESC'}")
    runs: list[Run] = client.search_runs(
        list(names),
        filter_string=f"tags.`{ARN_TAG}` LIKE '%'",
        max_results=max_runs,
        order_by=order,
    )
    if metrics:  # runs without the metric go last, whatever the database does with NULLs
        runs = [r for r in runs if metrics[0] in r.data.metrics] + [
            r for r in runs if metrics[0] not in r.data.metrics
        ]
    rows = tuple(
        RunRow(
            run_id=str(run.info.run_id),
            run_name=run.info.run_name or "",
            experiment=names.get(str(run.info.experiment_id), ""),
            job_name=run.data.tags.get(NAME_TAG, ""),
            status=run.data.tags.get(STATUS_TAG, run.info.status),
            start=_millis_time(run.info.start_time),
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
        )
        for run in runs
    )
    keys = sorted({k for row in rows for k in row.params})
    if len(rows) == 1:  # nothing differs: show what was tuned, not the resources
        differing = tuple(k for k in keys if not k.startswith("sagemaker."))
    else:
        differing = tuple(k for k in keys if len({row.params.get(k) for row in rows}) > 1)
    columns = tuple(metrics) or tuple(sorted({m for row in rows for m in row.metrics}))
    return Comparison(rows=rows, params=differing, metrics=columns)
