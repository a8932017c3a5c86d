"""``WarmStartConfig``: AWS's documented constraints, and the parents' trials to learn from.

A warm start tuning job names 1 to 5 parent tuning jobs. :func:`check_warm_start` checks,
as AWS documents ("Run a warm start hyperparameter tuning job"):

- every parent is in a terminal state: ``Completed``, ``Stopped`` or ``Failed``;
- the objective metric (name and type) is the parents' one;
- the number of static plus tunable hyperparameters is each parent's number;
- a hyperparameter tunable in both keeps its type (continuous, integer, categorical);
- at most 10 changes against each parent, counted as AWS counts them: a hyperparameter
  tunable in the parent and static now counts one change, or one per value for a
  categorical range; a static value changed counts 2 (AWS's example: ``red`` to ``blue``
  is 2 changes). A static hyperparameter made tunable is not counted (AWS does not list it);
- ``IdenticalDataAndAlgorithm``: the same training image (or algorithm) and the same
  input data (each channel's S3 URI) as every parent; ``TransferLearning`` may change both;
- the parents' training jobs plus this job's ``MaxNumberOfTrainingJobs`` stay within the
  750 training jobs of a tuning job (``ResourceLimitExceeded``).

A parent that was itself warm-started is allowed: warm start is not recursive, so only
the parent's own trials are used, never its parents' (AWS: add a grandparent explicitly).

A parent is the ``DescribeHyperParameterTuningJob`` document, plus ``TrainingJobSummaries``:
its training jobs as ``ListTrainingJobsForHyperParameterTuningJob`` returns them
(``HyperParameterTrainingJobSummary``: ``TunedHyperParameters``, ``TrainingJobStatus``,
``FinalHyperParameterTuningJobObjectiveMetric``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sagebox.errors import ResourceLimitExceeded, ResourceNotFound, ValidationError
from sagebox.tuning._base import Evaluated, ParameterRange
from sagebox.tuning.ranges import MAX_TRAINING_JOBS, parse_ranges

MAX_PARENTS = 5
MAX_CHANGES = 10
TERMINAL = ("Completed", "Stopped", "Failed")
WARM_START_TYPES = ("IdenticalDataAndAlgorithm", "TransferLearning")
# Added by the service, never the user's: left out of the counts.
_INTERNAL = frozenset({"_tuning_objective_metric"})

__all__ = ["MAX_CHANGES", "MAX_PARENTS", "check_warm_start", "count_changes"]


def check_warm_start(
    config: Mapping[str, Any],
    warm_start: Mapping[str, Any],
    parents: Sequence[Mapping[str, Any]],
    *,
    max_training_jobs: int = MAX_TRAINING_JOBS,
) -> list[Evaluated]:
    """Validate a warm start (module docstring) and return the parents' evaluated trials:
    completed or stopped training jobs with a final objective, each with the parent's
    static hyperparameters under its tuned ones, parents in ``WarmStartConfig`` order.

    ``config`` holds the new job's ``HyperParameterTuningJobConfig`` and
    ``TrainingJobDefinition`` (the CreateHyperParameterTuningJob request).
    """
    kind = warm_start.get("WarmStartType")
    if kind not in WARM_START_TYPES:
        raise ValidationError(
            f"WarmStartType {kind!r} is not valid. Valid values: {', '.join(WARM_START_TYPES)}."
        )
    listed = warm_start.get("ParentHyperParameterTuningJobs") or ()
    names = [p.get("HyperParameterTuningJobName") for p in listed]
    if not 1 <= len(names) <= MAX_PARENTS:
        raise ValidationError(
            f"A warm start tuning job has 1 to {MAX_PARENTS} parent tuning jobs. Got {len(names)}."
        )
    repeated = sorted({str(n) for n in names if names.count(n) > 1})
    if repeated:
        raise ValidationError(
            f"The parent tuning jobs {repeated} are listed more than once in "
            "ParentHyperParameterTuningJobs. List each parent once."
        )
    by_name = {p.get("HyperParameterTuningJobName"): p for p in parents}
    new = _Job.of(config, "the new tuning job")
    evaluated: list[Evaluated] = []
    parent_jobs = 0
    for name in names:
        if name not in by_name:
            raise ResourceNotFound(f"The parent hyperparameter tuning job {name!r} does not exist.")
        document = by_name[name]
        status = document.get("HyperParameterTuningJobStatus")
        if status not in TERMINAL:
            raise ValidationError(
                f"The parent tuning job {name!r} is {status}. Parents must be in a terminal "
                f"state ({', '.join(TERMINAL)}): wait for it to end, or stop it."
            )
        parent = _Job.of(document, f"the parent tuning job {name!r}")
        _check_against(new, parent, name, kind)
        summaries = document.get("TrainingJobSummaries") or ()
        parent_jobs += len(summaries)
        evaluated.extend(_evaluated(parent, summaries))
    limits = (config.get("HyperParameterTuningJobConfig") or {}).get("ResourceLimits") or {}
    requested = limits.get("MaxNumberOfTrainingJobs")
    if requested is not None and parent_jobs + int(requested) > max_training_jobs:
        raise ResourceLimitExceeded(
            f"The parent tuning jobs ran {parent_jobs} training jobs and MaxNumberOfTrainingJobs "
            f"is {requested}: {parent_jobs + int(requested)} in all, over the limit of "
            f"{max_training_jobs} training jobs for a warm start tuning job. Lower "
            f"MaxNumberOfTrainingJobs to {max(0, max_training_jobs - parent_jobs)} or use "
            "fewer parents."
        )
    return evaluated


def count_changes(
    parent_ranges: Sequence[ParameterRange],
    parent_static: Mapping[str, str],
    new_ranges: Sequence[ParameterRange],
    new_static: Mapping[str, str],
) -> int:
    """AWS's count of changes from a parent (module docstring)."""
    tunable_now = {r.name for r in new_ranges}
    changes = 0
    for r in parent_ranges:
        if r.name in new_static and r.name not in tunable_now:
            changes += len(r.values) if r.kind == "Categorical" else 1
    for name, value in parent_static.items():
        if name in new_static and str(new_static[name]) != str(value):
            changes += 2
    return changes


class _Job:
    """The parts of a tuning job a warm start compares."""

    def __init__(
        self,
        metric: str | None,
        objective_type: str | None,
        ranges: list[ParameterRange],
        static: dict[str, str],
        image: str | None,
        data: dict[str, Any],
    ) -> None:
        self.metric, self.objective_type = metric, objective_type
        self.ranges, self.static, self.image, self.data = ranges, static, image, data

    @classmethod
    def of(cls, document: Mapping[str, Any], what: str) -> _Job:
        config = document.get("HyperParameterTuningJobConfig") or {}
        definition = document.get("TrainingJobDefinition")
        if definition is None:
            definitions: Sequence[Mapping[str, Any]] = document.get("TrainingJobDefinitions") or []
            if len(definitions) != 1:
                raise ValidationError(
                    f"Warm start needs {what} to have one training job definition "
                    f"(TrainingJobDefinition); it has {len(definitions)}."
                )
            definition = definitions[0]
        objective = config.get("HyperParameterTuningJobObjective") or definition.get(
            "TuningObjective", {}
        )
        ranges = parse_ranges(
            config.get("ParameterRanges") or definition.get("HyperParameterRanges")
        )
        static = {
            str(k): str(v)
            for k, v in (definition.get("StaticHyperParameters") or {}).items()
            if k not in _INTERNAL
        }
        algorithm = definition.get("AlgorithmSpecification") or {}
        image = algorithm.get("TrainingImage") or algorithm.get("AlgorithmName")
        data = {
            channel.get("ChannelName"): _location(channel)
            for channel in definition.get("InputDataConfig") or ()
        }
        return cls(objective.get("MetricName"), objective.get("Type"), ranges, static, image, data)


def _check_against(new: _Job, parent: _Job, name: str, kind: str) -> None:
    if (new.metric, new.objective_type) != (parent.metric, parent.objective_type):
        raise ValidationError(
            f"The objective metric ({new.objective_type} {new.metric!r}) differs from the "
            f"parent tuning job {name!r}'s ({parent.objective_type} {parent.metric!r}). A warm "
            "start tuning job keeps its parents' objective metric and type."
        )
    new_total = len(new.static) + len(new.ranges)
    parent_total = len(parent.static) + len(parent.ranges)
    if new_total != parent_total:
        raise ValidationError(
            f"The tuning job has {new_total} static plus tunable hyperparameters and the parent "
            f"tuning job {name!r} has {parent_total}. The total must stay the same: keep a "
            "hyperparameter you no longer tune as a static one."
        )
    kinds = {r.name: r.kind for r in parent.ranges}
    for r in new.ranges:
        if r.name in kinds and kinds[r.name] != r.kind:
            raise ValidationError(
                f"The hyperparameter {r.name!r} is {r.kind} here and {kinds[r.name]} in the "
                f"parent tuning job {name!r}. A warm start keeps each hyperparameter's type."
            )
    changes = count_changes(parent.ranges, parent.static, new.ranges, new.static)
    if changes > MAX_CHANGES:
        raise ValidationError(
            f"The tuning job makes {changes} changes to the parent tuning job {name!r} "
            f"(tunable hyperparameters made static, one per categorical value, plus static "
            f"values changed, 2 each); at most {MAX_CHANGES} are allowed."
        )
    if kind == "IdenticalDataAndAlgorithm":
        if new.image != parent.image:
            raise ValidationError(
                f"IdenticalDataAndAlgorithm needs the training image of the parent tuning job "
                f"{name!r}, {parent.image!r}; got {new.image!r}. Use TransferLearning to change "
                "the image."
            )
        if new.data != parent.data:
            raise ValidationError(
                f"IdenticalDataAndAlgorithm needs the input data of the parent tuning job "
                f"{name!r}, {parent.data}; got {new.data}. Use TransferLearning to change the "
                "data."
            )


def _evaluated(parent: _Job, summaries: Sequence[Mapping[str, Any]]) -> list[Evaluated]:
    out: list[Evaluated] = []
    for summary in summaries:
        status = summary.get("TrainingJobStatus")
        final = summary.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        value = final.get("Value")
        if status not in ("Completed", "Stopped") or value is None:
            continue
        if not math.isfinite(float(value)):
            continue
        tuned = {str(k): str(v) for k, v in (summary.get("TunedHyperParameters") or {}).items()}
        out.append(
            Evaluated(
                hyperparameters={**parent.static, **tuned},
                objective=float(value),
                state="Completed" if status == "Completed" else "Stopped",
            )
        )
    return out


def _location(channel: Mapping[str, Any]) -> Any:
    source = channel.get("DataSource") or {}
    if "S3DataSource" in source:
        return source["S3DataSource"].get("S3Uri")
    if "FileSystemDataSource" in source:
        fs = source["FileSystemDataSource"]
        return f"{fs.get('FileSystemType')}://{fs.get('FileSystemId')}{fs.get('DirectoryPath')}"
    return dict(source)
