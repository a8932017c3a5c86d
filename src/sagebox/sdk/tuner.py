"""Automatic model tuning in the SageMaker Python SDK's shape: ``HyperparameterTuner``.

```python
from sagebox.sdk.tuner import (ContinuousParameter, HyperparameterTuner,
                               IntegerParameter)          # sagemaker.tuner

tuner = HyperparameterTuner(xgb, "validation:auc",
                            {"eta": ContinuousParameter(0.05, 0.5),
                             "max_depth": IntegerParameter(2, 8)},
                            max_jobs=6, max_parallel_jobs=2, early_stopping_type="Auto")
tuner.fit({"train": train_input, "validation": validation_input})
tuner.best_training_job()              # the trial with the best validation:auc
tuner.analytics().dataframe()          # one row per trial (pandas)
predictor_model = tuner.best_estimator().model_data
```
Every call is the control plane's ``CreateHyperParameterTuningJob`` and friends, so a
tuning job made here is the one boto3 and the CLI see.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from sagebox.sdk.analytics import HyperparameterTuningJobAnalytics, json_or_text
from sagebox.sdk.parameter import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    ParameterRange,
)
from sagebox.session import TERMINAL, Session

if TYPE_CHECKING:
    from sagebox.sdk.estimator import Estimator, TrainingInput
    from sagebox.sdk.predictor import Predictor

# What a trial's training job request carries that a training job definition does not.
_NOT_IN_DEFINITION = ("TrainingJobName", "HyperParameters", "Tags", "ExperimentConfig")
_HYPERPARAMETER_DICTS = ("_hyperparameters", "_user_hyperparameters", "_sagemaker_hyperparameters")


class WarmStartTypes(Enum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartConfig:
    """Start from the trials of up to five finished tuning jobs (``parents``)."""

    def __init__(
        self, warm_start_type: WarmStartTypes | str, parents: set[str] | Sequence[str]
    ) -> None:
        self.type = WarmStartTypes(warm_start_type)
        self.parents = set(parents)

    def to_input_req(self) -> dict[str, Any]:
        return {
            "WarmStartType": self.type.value,
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": p} for p in sorted(self.parents)
            ],
        }


class HyperbandStrategyConfig:
    """Hyperband's resource bounds, in epochs (objective-metric values)."""

    def __init__(self, max_resource: int | None = None, min_resource: int | None = None) -> None:
        self.max_resource = max_resource
        self.min_resource = min_resource

    def to_input_req(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.min_resource is not None:
            config["MinResource"] = self.min_resource
        if self.max_resource is not None:
            config["MaxResource"] = self.max_resource
        return config


class StrategyConfig:
    def __init__(self, hyperband_strategy_config: HyperbandStrategyConfig) -> None:
        self.hyperband_strategy_config = hyperband_strategy_config

    def to_input_req(self) -> dict[str, Any]:
        return {"HyperbandStrategyConfig": self.hyperband_strategy_config.to_input_req()}


class TuningJobCompletionCriteriaConfig:
    """When the tuning job has done enough (``TuningJobCompletionCriteria``)."""

    def __init__(
        self,
        max_number_of_training_jobs_not_improving: int | None = None,
        complete_on_convergence: bool | None = None,
        target_objective_metric_value: float | None = None,
    ) -> None:
        self.max_number_of_training_jobs_not_improving = max_number_of_training_jobs_not_improving
        self.complete_on_convergence = complete_on_convergence
        self.target_objective_metric_value = target_objective_metric_value

    def to_input_req(self) -> dict[str, Any]:
        criteria: dict[str, Any] = {}
        limit = self.max_number_of_training_jobs_not_improving
        if limit is not None:
            criteria["BestObjectiveNotImproving"] = {"MaxNumberOfTrainingJobsNotImproving": limit}
        if self.complete_on_convergence is not None:
            mode = "Enabled" if self.complete_on_convergence else "Disabled"
            criteria["ConvergenceDetected"] = {"CompleteOnConvergence": mode}
        if self.target_objective_metric_value is not None:
            criteria["TargetObjectiveMetricValue"] = self.target_objective_metric_value
        return criteria


class TuningFailedError(Exception):
    """Raised by ``wait`` when the tuning job ends Failed."""

    def __init__(self, description: Mapping[str, Any]) -> None:
        self.description = description
        super().__init__(
            f"Error for HyperParameterTuning job {description['HyperParameterTuningJobName']}: "
            f"Failed. Reason: {description.get('FailureReason', 'no reason recorded')}"
        )


def _is_framework(estimator: Estimator) -> bool:
    from sagebox.sdk.framework import Framework

    return isinstance(estimator, Framework)


class _TuningJob:
    """``tuner.latest_tuning_job``: the name of the job ``fit`` created, and its verbs."""

    def __init__(self, tuner: HyperparameterTuner, name: str) -> None:
        self.tuner = tuner
        self.name = name

    @property
    def job_name(self) -> str:
        return self.name

    def describe(self) -> dict[str, Any]:
        return self.tuner.describe()

    def wait(self) -> dict[str, Any]:
        return self.tuner.wait()

    def stop(self) -> None:
        self.tuner.stop_tuning_job()


class HyperparameterTuner:
    """Runs a hyperparameter tuning job over one estimator (or several, see :meth:`create`)."""

    def __init__(
        self,
        estimator: Estimator | None,
        objective_metric_name: str | None,
        hyperparameter_ranges: Mapping[str, ParameterRange] | None,
        metric_definitions: list[dict[str, str]] | None = None,
        strategy: str = "Bayesian",
        objective_type: str = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        max_runtime_in_seconds: int | None = None,
        tags: list[dict[str, str]] | None = None,
        base_tuning_job_name: str | None = None,
        warm_start_config: WarmStartConfig | None = None,
        strategy_config: StrategyConfig | None = None,
        completion_criteria_config: TuningJobCompletionCriteriaConfig | None = None,
        early_stopping_type: str = "Off",
        estimator_name: str | None = None,
        random_seed: int | None = None,
    ) -> None:
        self.estimator_dict: dict[str, Estimator] = {}
        self.objective_metric_name_dict: dict[str, str] = {}
        self._hyperparameter_ranges_dict: dict[str, Mapping[str, ParameterRange]] = {}
        self.metric_definitions_dict: dict[str, list[dict[str, str]]] = {}
        self.estimator = estimator
        self.objective_metric_name = objective_metric_name
        self._hyperparameter_ranges = dict(hyperparameter_ranges or {})
        self.metric_definitions = metric_definitions
        if estimator is not None and estimator_name is not None:
            self._add_estimator(
                estimator_name,
                estimator,
                objective_metric_name or "",
                hyperparameter_ranges or {},
                metric_definitions,
            )
            self.estimator = None
        self.strategy = strategy
        self.objective_type = objective_type
        self.max_jobs = max_jobs
        self.max_parallel_jobs = max_parallel_jobs
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.tags = list(tags or [])
        self.base_tuning_job_name = base_tuning_job_name
        self.warm_start_config = warm_start_config
        self.strategy_config = strategy_config
        self.completion_criteria_config = completion_criteria_config
        self.early_stopping_type = early_stopping_type
        self.random_seed = random_seed
        self.latest_tuning_job: _TuningJob | None = None

    # ---- several estimators -----------------------------------------------------------
    def _add_estimator(
        self,
        name: str,
        estimator: Estimator,
        objective: str,
        ranges: Mapping[str, ParameterRange],
        metric_definitions: list[dict[str, str]] | None = None,
    ) -> None:
        self.estimator_dict[name] = estimator
        self.objective_metric_name_dict[name] = objective
        self._hyperparameter_ranges_dict[name] = dict(ranges)
        if metric_definitions:
            self.metric_definitions_dict[name] = metric_definitions

    @classmethod
    def create(
        cls,
        estimator_dict: Mapping[str, Estimator],
        objective_metric_name_dict: Mapping[str, str],
        hyperparameter_ranges_dict: Mapping[str, Mapping[str, ParameterRange]],
        metric_definitions_dict: Mapping[str, list[dict[str, str]]] | None = None,
        base_tuning_job_name: str | None = None,
        strategy: str = "Bayesian",
        strategy_config: StrategyConfig | None = None,
        completion_criteria_config: TuningJobCompletionCriteriaConfig | None = None,
        objective_type: str = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        max_runtime_in_seconds: int | None = None,
        tags: list[dict[str, str]] | None = None,
        warm_start_config: WarmStartConfig | None = None,
        early_stopping_type: str = "Off",
        random_seed: int | None = None,
    ) -> HyperparameterTuner:
        """A tuner over several estimators (``TrainingJobDefinitions``), each with its own
        objective metric and ranges; ``fit`` takes inputs keyed by estimator name."""
        if not estimator_dict:
            raise ValueError("estimator_dict needs at least one estimator.")
        missing = [
            name
            for name in estimator_dict
            if name not in objective_metric_name_dict or name not in hyperparameter_ranges_dict
        ]
        if missing:
            raise ValueError(
                f"Estimators {missing} have no objective metric or no hyperparameter ranges: "
                "every key of estimator_dict must be in objective_metric_name_dict and "
                "hyperparameter_ranges_dict."
            )
        tuner = cls(
            None,
            None,
            None,
            strategy=strategy,
            objective_type=objective_type,
            max_jobs=max_jobs,
            max_parallel_jobs=max_parallel_jobs,
            max_runtime_in_seconds=max_runtime_in_seconds,
            tags=tags,
            base_tuning_job_name=base_tuning_job_name,
            warm_start_config=warm_start_config,
            strategy_config=strategy_config,
            completion_criteria_config=completion_criteria_config,
            early_stopping_type=early_stopping_type,
            random_seed=random_seed,
        )
        for name, estimator in estimator_dict.items():
            tuner._add_estimator(
                name,
                estimator,
                objective_metric_name_dict[name],
                hyperparameter_ranges_dict[name],
                (metric_definitions_dict or {}).get(name),
            )
        return tuner

    def hyperparameter_ranges(self) -> dict[str, list[dict[str, Any]]]:
        """The single estimator's ranges in the API's shape."""
        assert self.estimator is not None
        return _ranges(self.estimator, self._hyperparameter_ranges)

    # ---- the job --------------------------------------------------------------------------
    @property
    def sagemaker_session(self) -> Session:
        estimator = self.estimator or next(iter(self.estimator_dict.values()))
        return estimator.sagemaker_session

    def _job_name(self) -> str:
        estimator = self.estimator or next(iter(self.estimator_dict.values()))
        image = estimator.image_uri
        if not image and _is_framework(estimator):
            image = estimator.training_image_uri()  # type: ignore[attr-defined]
        base = self.base_tuning_job_name or (
            estimator.base_job_name or image.rsplit("/", 1)[-1].split(":", 1)[0]
        )
        # As the SageMaker SDK names tuning jobs: the base and a short timestamp, within
        # the 32 characters AWS allows (trial names add "-NNN-xxxxxxxx").
        stamp = datetime.now(UTC).strftime("%y%m%d-%H%M%S")
        base = "".join(c if c.isalnum() else "-" for c in base).strip("-") or "tuning"
        return f"{base[: 32 - len(stamp) - 1].rstrip('-')}-{stamp}"

    def _definition(
        self,
        estimator: Estimator,
        inputs: Mapping[str, str | TrainingInput] | str | None,
        job_name: str,
        ranges: Mapping[str, ParameterRange],
        metric_definitions: list[dict[str, str]] | None,
    ) -> dict[str, Any]:
        estimator._prepare_for_training(job_name)
        request = estimator.training_request(inputs, job_name)
        definition = {k: v for k, v in request.items() if k not in _NOT_IN_DEFINITION}
        definition["StaticHyperParameters"] = {
            k: v for k, v in request.get("HyperParameters", {}).items() if k not in ranges
        }
        if metric_definitions and not definition["AlgorithmSpecification"].get("MetricDefinitions"):
            definition["AlgorithmSpecification"] = {
                **definition["AlgorithmSpecification"],
                "MetricDefinitions": metric_definitions,
            }
        return definition

    def _config(self) -> dict[str, Any]:
        max_jobs = self.max_jobs
        if max_jobs is None and self.strategy != "Grid":
            max_jobs = 1
        limits: dict[str, Any] = {"MaxParallelTrainingJobs": self.max_parallel_jobs}
        if max_jobs is not None:
            limits["MaxNumberOfTrainingJobs"] = max_jobs
        if self.max_runtime_in_seconds is not None:
            limits["MaxRuntimeInSeconds"] = self.max_runtime_in_seconds
        config: dict[str, Any] = {
            "Strategy": self.strategy,
            "ResourceLimits": limits,
            "TrainingJobEarlyStoppingType": self.early_stopping_type,
        }
        if self.random_seed is not None:
            config["RandomSeed"] = self.random_seed
        if self.strategy_config is not None:
            config["StrategyConfig"] = self.strategy_config.to_input_req()
        if self.completion_criteria_config is not None:
            config["TuningJobCompletionCriteria"] = self.completion_criteria_config.to_input_req()
        return config

    def fit(
        self,
        inputs: Any = None,
        job_name: str | None = None,
        include_cls_metadata: bool = False,
        estimator_kwargs: Mapping[str, Any] | None = None,
        wait: bool = True,
        logs: bool = False,
        **kwargs: Any,
    ) -> None:
        """Create the tuning job (and wait for it). With several estimators, ``inputs``
        is keyed by estimator name."""
        name = job_name or self._job_name()
        config = self._config()
        request: dict[str, Any] = {"HyperParameterTuningJobName": name}
        if self.estimator is not None:
            assert self.objective_metric_name is not None
            config["HyperParameterTuningJobObjective"] = {
                "MetricName": self.objective_metric_name,
                "Type": self.objective_type,
            }
            config["ParameterRanges"] = self.hyperparameter_ranges()
            request["TrainingJobDefinition"] = self._definition(
                self.estimator, inputs, name, self._hyperparameter_ranges, self.metric_definitions
            )
        else:
            definitions = []
            for key, estimator in self.estimator_dict.items():
                ranges = self._hyperparameter_ranges_dict[key]
                own = (inputs or {}).get(key) if isinstance(inputs, Mapping) else inputs
                definition = self._definition(
                    estimator, own, name, ranges, self.metric_definitions_dict.get(key)
                )
                definition["DefinitionName"] = key
                definition["TuningObjective"] = {
                    "MetricName": self.objective_metric_name_dict[key],
                    "Type": self.objective_type,
                }
                definition["HyperParameterRanges"] = _ranges(estimator, ranges)
                definitions.append(definition)
            request["TrainingJobDefinitions"] = definitions
        request["HyperParameterTuningJobConfig"] = config
        if self.warm_start_config is not None:
            request["WarmStartConfig"] = self.warm_start_config.to_input_req()
        if self.tags:
            request["Tags"] = self.tags
        self.sagemaker_session.control.create_hyper_parameter_tuning_job(**request)
        self.latest_tuning_job = _TuningJob(self, name)
        if wait:
            self.wait(logs=logs)

    def _name(self) -> str:
        if self.latest_tuning_job is None:
            raise ValueError("No tuning job yet: call fit() first.")
        return self.latest_tuning_job.name

    def describe(self) -> dict[str, Any]:
        result: dict[str, Any] = self.sagemaker_session.control.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=self._name()
        )
        return result

    def wait(self, logs: bool = False) -> dict[str, Any]:
        """Wait for the tuning job to end (printing each trial as it ends with ``logs``);
        raises :class:`TuningFailedError` if it Failed."""
        reported: set[str] = set()

        def on_poll(description: Mapping[str, Any]) -> None:
            if not logs:
                return
            for trial in self._summaries():
                if (
                    trial["TrainingJobStatus"] in TERMINAL
                    and trial["TrainingJobName"] not in reported
                ):
                    reported.add(trial["TrainingJobName"])
                    final = trial.get("FinalHyperParameterTuningJobObjectiveMetric")
                    value = f" {final['MetricName']}={final['Value']:g}" if final else ""
                    print(
                        f"{trial['TrainingJobName']}: {trial['TrainingJobStatus']}{value} "
                        f"{trial['TunedHyperParameters']}",
                        file=sys.stdout,
                        flush=True,
                    )

        description = self.sagemaker_session.wait_for_job(
            self.describe, "HyperParameterTuningJobStatus", poll=0.5, on_poll=on_poll
        )
        on_poll(description)
        if description["HyperParameterTuningJobStatus"] == "Failed":
            raise TuningFailedError(description)
        return description

    def _summaries(self) -> list[dict[str, Any]]:
        return HyperparameterTuningJobAnalytics(
            self._name(), self.sagemaker_session
        ).training_job_summaries(force_refresh=True)

    def stop_tuning_job(self) -> None:
        self.sagemaker_session.control.stop_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=self._name()
        )

    def best_training_job(self) -> str:
        """The name of the trial with the best objective."""
        best = self.describe().get("BestTrainingJob")
        if not best:
            raise ValueError(f"Best training job not available for tuning job: {self._name()}")
        return str(best["TrainingJobName"])

    def best_estimator(self, best_training_job: str | None = None) -> Estimator:
        """An estimator attached to the best trial (``model_data`` is its model)."""
        name = best_training_job or self.best_training_job()
        description = self.sagemaker_session.control.describe_training_job(TrainingJobName=name)
        definition = ""
        for trial in self._summaries():
            if trial["TrainingJobName"] == name:
                definition = trial.get("TrainingJobDefinitionName", "")
        source = self.estimator or self.estimator_dict[definition]
        estimator = copy.copy(source)
        for attribute in (
            "_hyperparameters",
            "_user_hyperparameters",
            "_sagemaker_hyperparameters",
        ):
            if hasattr(estimator, attribute):
                setattr(estimator, attribute, dict(getattr(estimator, attribute)))
        ranges = self._hyperparameter_ranges or self._hyperparameter_ranges_dict[definition]
        tuned = {k: v for k, v in description["HyperParameters"].items() if k in ranges}
        if _is_framework(estimator):
            estimator.set_hyperparameters(**{k: json_or_text(v) for k, v in tuned.items()})
        else:
            estimator.set_hyperparameters(**tuned)
        estimator.latest_training_job = name
        return estimator

    def deploy(
        self,
        initial_instance_count: int | None = None,
        instance_type: str | None = None,
        serializer: Any = None,
        deserializer: Any = None,
        endpoint_name: str | None = None,
        **kwargs: Any,
    ) -> Predictor:
        """Deploy the best trial's model (as ``HyperparameterTuner.deploy`` does)."""
        return self.best_estimator().deploy(
            initial_instance_count,
            instance_type,
            serializer=serializer,
            deserializer=deserializer,
            endpoint_name=endpoint_name,
            **kwargs,
        )

    def analytics(self) -> HyperparameterTuningJobAnalytics:
        return HyperparameterTuningJobAnalytics(self._name(), self.sagemaker_session)

    # ---- warm start -------------------------------------------------------------------
    def _warm_started(self, kind: WarmStartTypes, additional: Sequence[str]) -> HyperparameterTuner:
        tuner = copy.copy(self)
        tuner.warm_start_config = WarmStartConfig(kind, {self._name(), *additional})
        tuner.latest_tuning_job = None
        return tuner

    def identical_dataset_and_algorithm_tuner(
        self, additional_parents: Sequence[str] = ()
    ) -> HyperparameterTuner:
        """A new tuner warm-started from this tuning job (and ``additional_parents``)."""
        return self._warm_started(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, additional_parents)

    def transfer_learning_tuner(
        self, additional_parents: Sequence[str] = (), estimator: Estimator | None = None
    ) -> HyperparameterTuner:
        tuner = self._warm_started(WarmStartTypes.TRANSFER_LEARNING, additional_parents)
        if estimator is not None:
            tuner.estimator = estimator
        return tuner


def _ranges(estimator: Estimator, ranges: Mapping[str, ParameterRange]) -> dict[str, list[Any]]:
    framework = _is_framework(estimator)
    out: dict[str, list[Any]] = {
        "ContinuousParameterRanges": [],
        "IntegerParameterRanges": [],
        "CategoricalParameterRanges": [],
    }
    for name, value in ranges.items():
        item = value.as_json_range(name) if framework else value.as_tuning_range(name)
        out[f"{value._kind}ParameterRanges"].append(item)
    return out


__all__ = [
    "CategoricalParameter",
    "ContinuousParameter",
    "HyperbandStrategyConfig",
    "HyperparameterTuner",
    "HyperparameterTuningJobAnalytics",
    "IntegerParameter",
    "StrategyConfig",
    "TuningFailedError",
    "TuningJobCompletionCriteriaConfig",
    "WarmStartConfig",
    "WarmStartTypes",
]
