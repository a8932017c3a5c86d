"""A CreateHyperParameterTuningJob request as typed values, checked once.

:func:`parse` turns the validated request (or the stored document, which keeps the
request's members) into a :class:`TuningSpec`: one :class:`TrainingDefinition` per
training job definition with its objective, ranges and static hyperparameters, and the
job's strategy and limits. The checks here need nothing but the request; those that read
the home (the image's metrics, the execution role, warm-start parents) are in
:mod:`sagebox.control.tuning`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sagebox.errors import ValidationError
from sagebox.tuning._base import Objective, ParameterRange
from sagebox.tuning.ranges import MAX_TRAINING_JOBS, check_static, format_value, parse_ranges

TUNING_OBJECTIVE = "_tuning_objective_metric"  # what SageMaker adds to each trial's hyperparameters
# Members of HyperParameterTrainingJobDefinition that a CreateTrainingJob request takes as
# they are.
_COPIED = (
    "RoleArn",
    "InputDataConfig",
    "VpcConfig",
    "OutputDataConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "RetryStrategy",
    "Environment",
)


@dataclass(frozen=True)
class TrainingDefinition:
    """One training job definition: what every trial of it runs, and what is tuned."""

    name: str  # DefinitionName; "" for a single TrainingJobDefinition
    objective: Objective
    ranges: tuple[ParameterRange, ...]
    static: Mapping[str, str]
    source: Mapping[str, Any]  # the API's HyperParameterTrainingJobDefinition

    @property
    def image(self) -> str:
        return str(self.source["AlgorithmSpecification"]["TrainingImage"])

    def training_request(
        self, trial_name: str, tuned: Mapping[str, str], tags: Sequence[Mapping[str, str]] = ()
    ) -> dict[str, Any]:
        """The CreateTrainingJob request of one trial: the static hyperparameters, the
        tuned values and ``_tuning_objective_metric``, as SageMaker launches it."""
        algorithm = self.source["AlgorithmSpecification"]
        spec: dict[str, Any] = {
            "TrainingImage": algorithm["TrainingImage"],
            "TrainingInputMode": algorithm.get("TrainingInputMode", "File"),
        }
        if algorithm.get("MetricDefinitions"):
            spec["MetricDefinitions"] = [dict(m) for m in algorithm["MetricDefinitions"]]
        request: dict[str, Any] = {
            "TrainingJobName": trial_name,
            "AlgorithmSpecification": spec,
            "HyperParameters": {
                **self.static,
                **tuned,
                TUNING_OBJECTIVE: self.objective.metric,
            },
            "ResourceConfig": resource_config(self.source),
        }
        request.update({k: self.source[k] for k in _COPIED if k in self.source})
        if tags:
            request["Tags"] = [dict(t) for t in tags]
        return request

    def boundary_hyperparameters(self) -> list[dict[str, str]]:
        """Hyperparameter sets that together try every end of every range (and every
        categorical value), each with the others at their lowest, so that a range an
        algorithm would refuse is refused when the tuning job is created."""
        low = {r.name: _lowest(r) for r in self.ranges}
        sets = [{**self.static, **low}]
        for r in self.ranges:
            values = r.values[1:] if r.kind == "Categorical" else (format_value(r, r.max_value),)
            for value in values:
                if value != low[r.name]:
                    sets.append({**self.static, **low, r.name: value})
        return sets


@dataclass(frozen=True)
class TuningSpec:
    name: str
    strategy: str
    definitions: tuple[TrainingDefinition, ...]
    trial_counts: tuple[int, ...]  # per definition: the most trials its strategy is asked for
    max_trials: int
    max_parallel: int
    max_runtime_seconds: int | None = None
    early_stopping: bool = False
    completion: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    min_resource: int | None = None
    max_resource: int | None = None
    warm_start: Mapping[str, Any] | None = None
    tags: tuple[Mapping[str, str], ...] = ()

    @property
    def maximize(self) -> bool:
        return self.definitions[0].objective.maximize

    def definition(self, name: str) -> TrainingDefinition:
        for item in self.definitions:
            if item.name == name:
                return item
        raise KeyError(name)


def _lowest(r: ParameterRange) -> str:
    return r.values[0] if r.kind == "Categorical" else format_value(r, r.min_value)


def resource_config(source: Mapping[str, Any]) -> dict[str, Any]:
    """A definition's ResourceConfig, or its HyperParameterTuningResourceConfig as one."""
    if "ResourceConfig" in source:
        return dict(source["ResourceConfig"])
    config = source.get("HyperParameterTuningResourceConfig")
    if not config:
        raise ValidationError(
            "A training job definition needs ResourceConfig (or "
            "HyperParameterTuningResourceConfig): the instance type and count of each trial."
        )
    if config.get("InstanceConfigs"):
        raise ValidationError(
            "HyperParameterTuningResourceConfig.InstanceConfigs (several instance types, "
            "chosen per trial) is not supported by sagebox; give InstanceType and "
            "InstanceCount."
        )
    missing = [k for k in ("InstanceType", "InstanceCount") if k not in config]
    if missing:
        raise ValidationError(
            f"HyperParameterTuningResourceConfig needs {' and '.join(missing)}; got "
            f"{sorted(config)}."
        )
    return {
        "InstanceType": config["InstanceType"],
        "InstanceCount": config["InstanceCount"],
        "VolumeSizeInGB": config.get("VolumeSizeInGB", 30),
    }


def _objective(value: Mapping[str, Any] | None, where: str) -> Objective:
    if not value:
        raise ValidationError(
            f"{where} is required: the metric to tune and whether to Maximize or Minimize "
            'it, e.g. {"MetricName": "validation:auc", "Type": "Maximize"}.'
        )
    return Objective(metric=str(value["MetricName"]), type=value["Type"])


def _definitions(request: Mapping[str, Any]) -> list[TrainingDefinition]:
    config = request["HyperParameterTuningJobConfig"]
    single = request.get("TrainingJobDefinition")
    several = request.get("TrainingJobDefinitions")
    if (single is None) == (several is None):
        raise ValidationError(
            "Give exactly one of TrainingJobDefinition (one algorithm) and "
            "TrainingJobDefinitions (several, each with its DefinitionName, TuningObjective "
            f"and HyperParameterRanges); got {'both' if single else 'neither'}."
        )
    if single is not None:
        objective = config.get("HyperParameterTuningJobObjective") or single.get("TuningObjective")
        ranges = config.get("ParameterRanges") or single.get("HyperParameterRanges")
        return [
            _definition(
                single,
                "",
                _objective(
                    objective, "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective"
                ),
                ranges,
            )
        ]
    for member in ("HyperParameterTuningJobObjective", "ParameterRanges"):
        if config.get(member):
            raise ValidationError(
                f"HyperParameterTuningJobConfig.{member} is for a single TrainingJobDefinition; "
                "with TrainingJobDefinitions give each definition its own TuningObjective and "
                "HyperParameterRanges."
            )
    definitions = []
    seen: set[str] = set()
    for index, item in enumerate(several or ()):
        where = f"TrainingJobDefinitions.{index + 1}"
        name = item.get("DefinitionName")
        if not name:
            raise ValidationError(
                f"{where}.DefinitionName is required with several training job definitions: "
                "it names each trial's definition."
            )
        if name in seen:
            raise ValidationError(
                f"DefinitionName {name!r} is used twice in TrainingJobDefinitions; each "
                "definition needs its own name."
            )
        seen.add(name)
        objective = _objective(item.get("TuningObjective"), f"{where}.TuningObjective")
        if not item.get("HyperParameterRanges"):
            raise ValidationError(
                f"{where} ('{name}') has no HyperParameterRanges: give the ranges to search "
                "for this definition."
            )
        definitions.append(_definition(item, name, objective, item["HyperParameterRanges"]))
    types = {d.objective.type for d in definitions}
    if len(types) > 1:
        raise ValidationError(
            "Every TrainingJobDefinitions entry must Maximize or every one Minimize, so that "
            f"one best training job can be chosen; got {sorted(types)}."
        )
    return definitions


def _definition(
    source: Mapping[str, Any], name: str, objective: Objective, ranges: Mapping[str, Any] | None
) -> TrainingDefinition:
    where = f"training job definition '{name}'" if name else "TrainingJobDefinition"
    algorithm = source["AlgorithmSpecification"]
    if algorithm.get("AlgorithmName") or not algorithm.get("TrainingImage"):
        raise ValidationError(
            f"The {where} needs AlgorithmSpecification.TrainingImage (an algorithm's image "
            "URI or a short name such as sagebox/xgboost); AlgorithmName (marketplace "
            "algorithms) is not supported by sagebox."
        )
    if (ranges or {}).get("AutoParameters"):
        raise ValidationError(
            "ParameterRanges.AutoParameters (ranges chosen by Autotune) is not supported by "
            "sagebox; give ContinuousParameterRanges, IntegerParameterRanges or "
            "CategoricalParameterRanges."
        )
    parsed = tuple(parse_ranges(ranges))
    if not parsed:
        raise ValidationError(
            f"The {where} has no hyperparameter ranges to tune. Give at least one range in "
            "ParameterRanges."
        )
    static = {str(k): str(v) for k, v in (source.get("StaticHyperParameters") or {}).items()}
    check_static(parsed, static)
    resource_config(source)
    return TrainingDefinition(name, objective, parsed, static, source)


def parse(request: Mapping[str, Any]) -> TuningSpec:
    """The typed view of a CreateHyperParameterTuningJob request (module docstring)."""
    from sagebox.tuning.completion import check_criteria
    from sagebox.tuning.strategies import strategy

    if (request.get("Autotune") or {}).get("Mode") == "Enabled":
        raise ValidationError(
            "Autotune is not supported by sagebox: give the strategy, the ranges and the "
            "resource limits yourself."
        )
    config = request["HyperParameterTuningJobConfig"]
    strategy_name = config["Strategy"]
    cls = strategy(strategy_name)
    definitions = _definitions(request)
    limits = config["ResourceLimits"]
    requested = limits.get("MaxNumberOfTrainingJobs")
    counts = [cls.training_job_count(d.ranges, requested) for d in definitions]
    max_trials = sum(counts) if strategy_name == "Grid" else counts[0]
    if max_trials > MAX_TRAINING_JOBS:
        raise ValidationError(
            f"MaxNumberOfTrainingJobs is {max_trials}; a tuning job runs at most "
            f"{MAX_TRAINING_JOBS} training jobs."
        )
    max_parallel = int(limits["MaxParallelTrainingJobs"])
    if max_parallel > max_trials:
        raise ValidationError(
            f"ResourceLimits.MaxParallelTrainingJobs ({max_parallel}) is greater than the "
            f"number of training jobs the tuning job runs ({max_trials}). Lower "
            "MaxParallelTrainingJobs, or raise MaxNumberOfTrainingJobs."
        )
    min_resource = max_resource = None
    hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig")
    if strategy_name == "Hyperband":
        from sagebox.tuning.strategies.hyperband import resources

        pairs = {resources(config, d.static) for d in definitions}
        if len(pairs) > 1:
            raise ValidationError(
                "The training job definitions imply different Hyperband resources "
                f"{sorted(pairs)} (from their epochs hyperparameters); give "
                "HyperbandStrategyConfig.MinResource and MaxResource."
            )
        min_resource, max_resource = pairs.pop()
    elif hyperband:
        raise ValidationError(
            "StrategyConfig.HyperbandStrategyConfig is for the Hyperband strategy; the "
            f"strategy is {strategy_name!r}. Remove it, or use Strategy 'Hyperband'."
        )
    completion = dict(config.get("TuningJobCompletionCriteria") or {})
    check_criteria(completion)
    seed = config.get("RandomSeed")
    return TuningSpec(
        name=request["HyperParameterTuningJobName"],
        strategy=strategy_name,
        definitions=tuple(definitions),
        trial_counts=tuple(counts),
        max_trials=max_trials,
        max_parallel=max_parallel,
        max_runtime_seconds=limits.get("MaxRuntimeInSeconds"),
        early_stopping=config.get("TrainingJobEarlyStoppingType", "Off") == "Auto",
        completion=completion,
        seed=None if seed is None else int(seed),
        min_resource=min_resource,
        max_resource=max_resource,
        warm_start=request.get("WarmStartConfig"),
        tags=tuple(request.get("Tags") or ()),
    )
