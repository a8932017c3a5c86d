"""SageMaker hyperparameter tuning jobs: Create, Describe, List, Stop, and their trials.

A tuning job runs training jobs (trials) of one or more training job definitions with
hyperparameters chosen by its strategy, and keeps the best. Everything a trial would be
refused for is checked when the tuning job is created: the definitions are parsed
(:mod:`sagebox.control.tuning_request`), the objective metric must be one the image
emits, every end of every range is checked against the algorithm, and one trial's full
CreateTrainingJob request is checked as the caller (the execution role is passed with
``iam:PassRole``). The job then belongs to its tuner process
(:mod:`sagebox.control.tuning_service`, :mod:`sagebox.tuning.tuner`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sagebox.control import training
from sagebox.control.context import Context
from sagebox.control.listing import list_query
from sagebox.control.tuning_request import TrainingDefinition, TuningSpec, parse
from sagebox.control.tuning_service import (
    ACTIVE,
    KIND,
    reconcile,
    start_tuner,
)
from sagebox.control.tuning_trials import better, list_page
from sagebox.errors import ResourceInUse, ResourceNotFound, ValidationError
from sagebox.home import Home
from sagebox.store.metadata import Change, Record
from sagebox.store.metadata.documents import jsonable

_STATUS_COUNTERS = ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped")
_OBJECTIVE_COUNTERS = ("Succeeded", "Pending", "Failed")


def _job(home: Home, name: str) -> Record:
    try:
        return home.metadata.get(KIND, name)
    except ResourceNotFound:
        raise ResourceNotFound(
            f"Hyperparameter tuning job '{name}' does not exist in account "
            f"{home.account_id} ({home.region}). Check the name, or list tuning jobs to "
            "find it."
        ) from None


# ---- create -----------------------------------------------------------------------------


def _check_definition(ctx: Context, spec: TuningSpec, definition: TrainingDefinition) -> None:
    """The objective is a metric the image emits, and every trial would be accepted."""
    where = (
        f"training job definition '{definition.name}'"
        if definition.name
        else ("TrainingJobDefinition")
    )
    sets = definition.boundary_hyperparameters()
    metrics = training.image_metrics(definition.image, sets[0])
    declared = definition.source["AlgorithmSpecification"].get("MetricDefinitions") or []
    names = sorted({m.name for m in metrics} | {str(m["Name"]) for m in declared})
    metric = definition.objective.metric
    if metric not in names:
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise ValidationError(
            f"The objective metric {metric!r} of the {where} is not a metric its training "
            f"image {definition.image!r} emits ({shown or 'none'}). Use one of those, or add "
            "a MetricDefinitions entry (Name and Regex) that reads it from the log."
        )
    for hyperparameters in sets[1:]:
        tuned = {r.name: hyperparameters[r.name] for r in definition.ranges}
        try:
            training.image_metrics(definition.image, hyperparameters)
        except ValidationError as exc:
            raise ValidationError(
                f"The ranges of the {where} include values a training job would refuse "
                f"(tried {tuned}): {exc.message}"
            ) from None
    low = {r.name: sets[0][r.name] for r in definition.ranges}
    trial = definition.training_request(f"{spec.name}-001-00000000", low, spec.tags)
    training.check_request(ctx, trial)


def _warm_start(
    ctx: Context, request: Mapping[str, Any], spec: TuningSpec
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any] | None]:
    """The parents' evaluated trials (the strategy's prior) and their best training job."""
    from sagebox.tuning.warm_start import check_warm_start

    config = spec.warm_start
    if not config:
        return {}, None
    parents = []
    parent_best: dict[str, Any] | None = None
    for item in config.get("ParentHyperParameterTuningJobs") or ():
        name = item.get("HyperParameterTuningJobName")
        try:
            record = ctx.home.metadata.get(KIND, str(name))
        except ResourceNotFound:
            continue  # check_warm_start names it
        document = dict(record.document)
        summaries, _ = list_page(ctx.home, document, {"MaxResults": 10_000})
        parents.append({**document, "TrainingJobSummaries": summaries})
        parent_best = better(parent_best, document.get("BestTrainingJob"), spec.maximize)
    evaluated = check_warm_start(request, config, parents)
    name = spec.definitions[0].name
    prior = [
        {"hyperparameters": dict(e.hyperparameters), "objective": e.objective, "state": e.state}
        for e in evaluated
    ]
    return {name: prior}, parent_best


def create(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    spec = parse(request)
    for definition in spec.definitions:
        _check_definition(ctx, spec, definition)
    prior, parent_best = _warm_start(ctx, request, spec)
    name = spec.name
    arn = ctx.home.arn("sagemaker", f"hyper-parameter-tuning-job/{name.lower()}")
    now = ctx.now()
    document = jsonable({k: v for k, v in request.items() if k != "Tags"})
    config = document["HyperParameterTuningJobConfig"]
    config.setdefault("TrainingJobEarlyStoppingType", "Off")
    if spec.strategy == "Hyperband":
        config.setdefault("StrategyConfig", {})["HyperbandStrategyConfig"] = {
            "MinResource": spec.min_resource,
            "MaxResource": spec.max_resource,
        }
    document.update(
        {
            "HyperParameterTuningJobArn": arn,
            "HyperParameterTuningJobStatus": "InProgress",
            "CreationTime": now.isoformat(),
            "TrainingJobStatusCounters": dict.fromkeys(_STATUS_COUNTERS, 0),
            "ObjectiveStatusCounters": dict.fromkeys(_OBJECTIVE_COUNTERS, 0),
            "_Trials": [],
            "_Prior": prior,
        }
    )
    if parent_best is not None:
        document["_ParentBest"] = parent_best
        document["OverallBestTrainingJob"] = parent_best
    try:
        ctx.home.metadata.create(KIND, name, arn, "InProgress", document, creation_time=now)
    except ResourceInUse:
        raise ResourceInUse(
            f"Hyperparameter tuning job '{name}' already exists in account "
            f"{ctx.home.account_id}. Tuning job names are unique: choose another name."
        ) from None
    if request.get("Tags"):
        ctx.home.metadata.set_tags(arn, {t["Key"]: t["Value"] for t in request["Tags"]})
    start_tuner(ctx.home, name)
    return {"HyperParameterTuningJobArn": arn}


# ---- describe, list, stop ---------------------------------------------------------------


def _described(record: Record) -> dict[str, Any]:
    doc = {**record.document, "LastModifiedTime": record.last_modified_time.isoformat()}
    if record.status in ACTIVE:
        created = datetime.fromisoformat(doc["CreationTime"])
        seconds = round((datetime.now(UTC) - created).total_seconds())
        doc["ConsumedResources"] = {"RuntimeInSeconds": max(0, seconds)}
    return doc


def describe(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return _described(_job(ctx.home, request["HyperParameterTuningJobName"]))


def list_jobs(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    query = list_query(request)
    page = ctx.home.metadata.list(KIND, query)
    summaries = []
    for record in page.records:
        doc = _described(record)
        config = doc["HyperParameterTuningJobConfig"]
        summaries.append(
            {
                "HyperParameterTuningJobName": record.name,
                "HyperParameterTuningJobArn": record.arn,
                "HyperParameterTuningJobStatus": record.status,
                "Strategy": config["Strategy"],
                "CreationTime": doc["CreationTime"],
                "HyperParameterTuningEndTime": doc.get("HyperParameterTuningEndTime"),
                "LastModifiedTime": doc["LastModifiedTime"],
                "TrainingJobStatusCounters": doc["TrainingJobStatusCounters"],
                "ObjectiveStatusCounters": doc["ObjectiveStatusCounters"],
                "ResourceLimits": config["ResourceLimits"],
            }
        )
    response: dict[str, Any] = {"HyperParameterTuningJobSummaries": summaries}
    if page.next_cursor:
        response["NextToken"] = page.next_cursor
    return response


def stop(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Move the job to Stopping; its tuner stops every running trial, then ends it Stopped."""
    name = request["HyperParameterTuningJobName"]
    _job(ctx.home, name)

    def stopping(record: Record) -> Change:
        if record.status != "InProgress":
            raise ValidationError(
                f"Hyperparameter tuning job '{name}' is {record.status}; only an InProgress "
                "tuning job can be stopped."
            )
        return Change("Stopping", {**record.document, "HyperParameterTuningJobStatus": "Stopping"})

    ctx.home.metadata.update(KIND, name, stopping)
    reconcile(ctx.home)  # a tuner that died cannot stop its trials: end the job here
    return {}


def list_training_jobs(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob."""
    record = _job(ctx.home, request["HyperParameterTuningJobName"])
    summaries, token = list_page(ctx.home, record.document, request)
    response: dict[str, Any] = {"TrainingJobSummaries": summaries}
    if token:
        response["NextToken"] = token
    return response
