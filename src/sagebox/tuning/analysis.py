"""A tuning job's trials as data: what the report shows and the MLflow parent run records.

:func:`collect` reads a tuning job through the API (``DescribeHyperParameterTuningJob``,
``ListTrainingJobsForHyperParameterTuningJob``, each trial's ``DescribeTrainingJob``) and,
when the home is at hand, each trial's objective metric curve and whether the tuner stopped
it early; :func:`build` turns those documents into a :class:`TuningReport`
(:mod:`sagebox.tuning.report` writes it as files).

Parameter importance is Optuna's fANOVA (``optuna.importance``, a random forest over the
tuned hyperparameters on their search scale) on a study rebuilt from the trials that have an
objective value: the share of the objective's variance each hyperparameter explains.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sagebox.errors import ResourceNotFound
from sagebox.home import Home
from sagebox.tuning._base import ParameterRange
from sagebox.tuning.ranges import parse_ranges

TUNING_KIND = "hyper-parameter-tuning-job"  # the metadata kind (sagebox.control.tuning.KIND)
MIN_TRIALS_FOR_IMPORTANCE = 3
IMPORTANCE_METHOD = (
    "fANOVA (optuna.importance.FanovaImportanceEvaluator, seed 0) over the trials with an "
    "objective value, each hyperparameter on its search scale"
)
_MAX_PARAM = 6000  # MLflow's longest param value
_EPOCH = datetime.fromtimestamp(0, UTC)

# ``call(operation, params)``: one SageMaker operation, as ControlPlane.call and
# RemoteControlPlane.call run it.
Call = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]


@dataclass(frozen=True)
class TrialRow:
    """One trial of the tuning job, as the report shows it."""

    number: int  # the NNN of <tuning job>-NNN-<hex>: the order the trials were launched in
    name: str
    status: str
    objective: float | None
    hyperparameters: Mapping[str, str]  # the tuned ones, as the training job got them
    definition: str = ""  # TrainingJobDefinitionName; "" for a single definition
    stopped_early: bool = False  # stopped by early stopping or Hyperband
    creation_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    training_seconds: float | None = None
    failure_reason: str | None = None
    final_metrics: Mapping[str, float] = field(default_factory=dict)
    curve: tuple[float, ...] = ()  # the objective metric's values, one per emission


@dataclass(frozen=True)
class Importance:
    """Parameter importance of one definition's hyperparameters (empty: see ``note``)."""

    definition: str
    values: Mapping[str, float]  # hyperparameter -> share, summing to 1, largest first
    note: str | None = None  # why there are none (too few trials ...)


@dataclass(frozen=True)
class TuningReport:
    """A tuning job and its trials (in launch order), as its report and MLflow run show it."""

    name: str
    arn: str
    status: str
    strategy: str
    objectives: Mapping[str, Mapping[str, str]]  # definition -> {MetricName, Type}
    ranges: Mapping[str, tuple[ParameterRange, ...]]  # definition -> its ranges
    params: Mapping[str, str]  # the job's configuration (the MLflow parent run's params)
    trials: tuple[TrialRow, ...]
    best_name: str | None
    importances: tuple[Importance, ...] = ()
    creation_time: datetime | None = None
    end_time: datetime | None = None
    failure_reason: str | None = None
    has_curves: bool = True  # False when read without the home (a remote session)

    @property
    def maximize(self) -> bool:
        return next(iter(self.objectives.values()))["Type"] == "Maximize"

    @property
    def metric(self) -> str:
        names = sorted({o["MetricName"] for o in self.objectives.values()})
        return names[0] if len(names) == 1 else "objective"

    @property
    def best(self) -> TrialRow | None:
        return next((t for t in self.trials if t.name == self.best_name), None)

    def counts(self) -> dict[str, int]:
        """Trials by outcome (``stopped`` includes the ``stopped_early`` ones)."""
        statuses = [t.status for t in self.trials]
        return {
            "trials": len(self.trials),
            "completed": statuses.count("Completed"),
            "stopped": statuses.count("Stopped"),
            "stopped_early": sum(t.stopped_early for t in self.trials),
            "failed": statuses.count("Failed"),
            "in_progress": sum(s in ("InProgress", "Stopping") for s in statuses),
            "with_objective": sum(t.objective is not None for t in self.trials),
        }


# ---- the job's configuration --------------------------------------------------------


def objectives_of(describe: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """DefinitionName ("" for a single definition) -> the objective {MetricName, Type}."""
    single = describe.get("TrainingJobDefinition")
    if single is not None or not describe.get("TrainingJobDefinitions"):
        config = describe["HyperParameterTuningJobConfig"]
        found: Mapping[str, Any] = config.get("HyperParameterTuningJobObjective") or (
            single or {}
        ).get("TuningObjective", {})
        return {"": {"MetricName": found["MetricName"], "Type": found["Type"]}}
    return {
        d["DefinitionName"]: {
            "MetricName": d["TuningObjective"]["MetricName"],
            "Type": d["TuningObjective"]["Type"],
        }
        for d in describe["TrainingJobDefinitions"]
    }


def _raw_ranges(describe: Mapping[str, Any]) -> dict[str, Any]:
    if describe.get("TrainingJobDefinitions"):
        return {
            d["DefinitionName"]: d.get("HyperParameterRanges") or {}
            for d in describe["TrainingJobDefinitions"]
        }
    return {"": describe["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}}


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def job_params(describe: Mapping[str, Any]) -> dict[str, str]:
    """The tuning job's configuration as flat string params (the MLflow parent run's):
    strategy, objective, ranges as JSON, resource limits, seed, early stopping ..."""
    config = describe["HyperParameterTuningJobConfig"]
    goals = objectives_of(describe)
    limits = config.get("ResourceLimits") or {}
    params: dict[str, Any] = {"strategy": config.get("Strategy", "Bayesian")}
    if len(goals) == 1:
        goal = next(iter(goals.values()))
        params["objective_metric"] = goal["MetricName"]
        params["objective_type"] = goal["Type"]
    else:
        params["objective_metric"] = _json({k: v["MetricName"] for k, v in goals.items()})
        params["objective_type"] = next(iter(goals.values()))["Type"]
    ranges = _raw_ranges(describe)
    params["parameter_ranges"] = _json(ranges[""] if list(ranges) == [""] else ranges)
    params["max_number_of_training_jobs"] = limits.get("MaxNumberOfTrainingJobs")
    params["max_parallel_training_jobs"] = limits.get("MaxParallelTrainingJobs")
    params["max_runtime_in_seconds"] = limits.get("MaxRuntimeInSeconds")
    params["random_seed"] = config.get("RandomSeed")
    params["early_stopping_type"] = config.get("TrainingJobEarlyStoppingType", "Off")
    for key, member in (
        ("strategy_config", "StrategyConfig"),
        ("completion_criteria", "TuningJobCompletionCriteria"),
    ):
        if config.get(member):
            params[key] = _json(config[member])
    if describe.get("WarmStartConfig"):
        warm = describe["WarmStartConfig"]
        parents = warm.get("ParentHyperParameterTuningJobs") or []
        names = [p["HyperParameterTuningJobName"] for p in parents]
        params["warm_start_type"] = warm.get("WarmStartType")
        params["warm_start_parents"] = ",".join(names)
    definitions = describe.get("TrainingJobDefinitions") or [describe.get("TrainingJobDefinition")]
    images = sorted(
        {
            str((d.get("AlgorithmSpecification") or {}).get("TrainingImage") or "")
            for d in definitions
            if d
        }
        - {""}
    )
    if images:
        params["training_image"] = ",".join(images)
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        text = str(value)
        if len(text) > _MAX_PARAM:  # the whole value is in tuning-report.json
            text = text[: _MAX_PARAM - 40] + "... (in full in tuning-report.json)"
        out[key] = text
    return out


# ---- reading the job ----------------------------------------------------------------


def collect(call: Call, name: str, home: Home | None = None) -> TuningReport:
    """The report of tuning job ``name``, read through ``call`` (any state: a job still
    running gives the report so far). With ``home``, the trials' objective curves and
    which trials were stopped early come from the home's store; without it (a remote
    session) the curves are left out and a Stopped trial of a job that was not stopped
    counts as stopped early."""
    describe = call("DescribeHyperParameterTuningJob", {"HyperParameterTuningJobName": name})
    summaries: list[Mapping[str, Any]] = []
    request: dict[str, Any] = {"HyperParameterTuningJobName": name, "MaxResults": 100}
    while True:
        page = call("ListTrainingJobsForHyperParameterTuningJob", request)
        summaries.extend(page.get("TrainingJobSummaries", []))
        if not page.get("NextToken"):
            break
        request = {**request, "NextToken": page["NextToken"]}
    trainings: dict[str, Mapping[str, Any]] = {}
    for summary in summaries:
        trial = summary["TrainingJobName"]
        try:
            trainings[trial] = call("DescribeTrainingJob", {"TrainingJobName": trial})
        except ResourceNotFound:  # the summary alone still makes a row
            continue
    curves = None
    early = None
    if home is not None:
        goals = objectives_of(describe)
        curves = {}
        for summary in summaries:
            metric = goals.get(summary.get("TrainingJobDefinitionName", ""), goals.get(""))
            if metric is None or not summary.get("TrainingJobArn"):
                continue
            try:
                points = home.metadata.get_metrics(summary["TrainingJobArn"], metric["MetricName"])
            except ResourceNotFound:
                continue
            curves[summary["TrainingJobName"]] = tuple(p.value for p in points)
        early = _stopped_early(home, name)
    return build(describe, summaries, trainings, curves=curves, stopped_early=early)


def _stopped_early(home: Home, name: str) -> set[str] | None:
    """The trials the tuner stopped early, from its record of the job (not in the API)."""
    try:
        record = home.metadata.get(TUNING_KIND, name)
    except ResourceNotFound:
        return None
    return {t["Name"] for t in record.document.get("_Trials", ()) if t.get("StoppedEarly")}


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def trial_number(job_name: str, trial_name: str) -> int | None:
    """The NNN of the trial name ``<tuning job>-NNN-<8 hex>``."""
    found = re.fullmatch(rf"{re.escape(job_name)}-(\d+)-[0-9a-f]{{8}}", trial_name)
    return int(found.group(1)) if found else None


def build(
    describe: Mapping[str, Any],
    summaries: Sequence[Mapping[str, Any]],
    trainings: Mapping[str, Mapping[str, Any]],
    *,
    curves: Mapping[str, Sequence[float]] | None = None,
    stopped_early: set[str] | None = None,
) -> TuningReport:
    """The report from the API's documents: the Describe response, every trial's summary
    and DescribeTrainingJob response; ``curves`` (trial -> objective values) and
    ``stopped_early`` (trial names) from the home when there is one."""
    name = describe["HyperParameterTuningJobName"]
    status = describe["HyperParameterTuningJobStatus"]
    goals = objectives_of(describe)
    ordered = sorted(
        summaries, key=lambda s: (_time(s.get("CreationTime")) or _EPOCH, s["TrainingJobName"])
    )
    rows = []
    for index, summary in enumerate(ordered, start=1):
        trial = summary["TrainingJobName"]
        training = trainings.get(trial) or {}
        objective = (summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}).get("Value")
        trial_status = summary.get("TrainingJobStatus", "InProgress")
        if stopped_early is not None:
            early = trial in stopped_early
        else:  # no record of the tuner's decisions: a stop the user did not ask for
            early = trial_status == "Stopped" and status not in ("Stopped", "Stopping")
        start, end = _time(summary.get("TrainingStartTime")), _time(summary.get("TrainingEndTime"))
        seconds = training.get("TrainingTimeInSeconds")
        if seconds is None and start and end:
            seconds = (end - start).total_seconds()
        rows.append(
            TrialRow(
                number=trial_number(name, trial) or index,
                name=trial,
                status=trial_status,
                objective=None if objective is None else float(objective),
                hyperparameters=dict(summary.get("TunedHyperParameters") or {}),
                definition=summary.get("TrainingJobDefinitionName", ""),
                stopped_early=early,
                creation_time=_time(summary.get("CreationTime")),
                start_time=start,
                end_time=end,
                training_seconds=None if seconds is None else float(seconds),
                failure_reason=summary.get("FailureReason"),
                final_metrics={
                    m["MetricName"]: float(m["Value"])
                    for m in training.get("FinalMetricDataList") or ()
                },
                curve=tuple(float(v) for v in (curves or {}).get(trial, ())),
            )
        )
    rows.sort(key=lambda r: (r.number, r.name))
    ranges = {k: tuple(parse_ranges(v)) for k, v in _raw_ranges(describe).items()}
    best = (describe.get("BestTrainingJob") or {}).get("TrainingJobName")
    trials = tuple(rows)
    return TuningReport(
        name=name,
        arn=describe["HyperParameterTuningJobArn"],
        status=status,
        strategy=describe["HyperParameterTuningJobConfig"].get("Strategy", "Bayesian"),
        objectives=goals,
        ranges=ranges,
        params=job_params(describe),
        trials=trials,
        best_name=best,
        importances=importances(ranges, goals, trials),
        creation_time=_time(describe.get("CreationTime")),
        end_time=_time(describe.get("HyperParameterTuningEndTime")),
        failure_reason=describe.get("FailureReason"),
        has_curves=curves is not None,
    )


# ---- parameter importance -----------------------------------------------------------


def importances(
    ranges: Mapping[str, Sequence[ParameterRange]],
    goals: Mapping[str, Mapping[str, str]],
    trials: Sequence[TrialRow],
) -> tuple[Importance, ...]:
    """Each definition's parameter importance (module docstring)."""
    return tuple(
        _importance(definition, tuple(ranges[definition]), goals[definition], trials)
        for definition in ranges
        if ranges[definition]
    )


def _importance(
    definition: str,
    ranges: tuple[ParameterRange, ...],
    goal: Mapping[str, str],
    trials: Sequence[TrialRow],
) -> Importance:
    usable = [
        t
        for t in trials
        if t.definition == definition and t.objective is not None and math.isfinite(t.objective)
    ]
    if len(usable) < MIN_TRIALS_FOR_IMPORTANCE:
        return Importance(
            definition,
            {},
            f"Parameter importance needs at least {MIN_TRIALS_FOR_IMPORTANCE} trials with an "
            f"objective value; this job has {len(usable)}.",
        )
    if len({t.objective for t in usable}) == 1:
        return Importance(
            definition,
            {},
            f"Every trial has the same objective ({usable[0].objective:g}): no hyperparameter "
            "explains any of it.",
        )
    if len(ranges) == 1:
        return Importance(definition, {ranges[0].name: 1.0})
    import optuna

    from sagebox.tuning.strategies._space import SearchSpace

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = SearchSpace(ranges)
    study = optuna.create_study(direction="maximize" if goal["Type"] == "Maximize" else "minimize")
    for trial in usable:
        params = space.from_aws(trial.hyperparameters)
        if params is None:
            continue
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions=space.distributions, value=trial.objective
            )
        )
    if len(study.trials) < MIN_TRIALS_FOR_IMPORTANCE:
        return Importance(definition, {}, "Too few trials have values inside the ranges.")
    try:
        found = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    except Exception as exc:  # a degenerate study (all values equal ...): the rest stands
        return Importance(definition, {}, f"Parameter importance could not be computed: {exc}")
    values = {k: float(v) for k, v in found.items()}
    if not all(math.isfinite(v) for v in values.values()):
        return Importance(definition, {}, "Parameter importance could not be computed.")
    return Importance(definition, values)
