"""``TuningJobCompletionCriteria``: when a tuning job has done enough.

The tuner asks :func:`should_complete` after every finished trial, with this job's
finished trials in the order they finished. Only trials with a finite objective count
(completed ones, and stopped ones: SageMaker counts a stopped job's final objective);
failed trials are left out. A criterion met completes the tuning job (status
``Completed``); the reason says which.

- ``TargetObjectiveMetricValue``: a trial's objective reached the target (>= when
  maximizing, <= when minimizing).
- ``BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving`` (N >= 3): the last N
  trials in a row did not improve the best objective before them by 1% or more (AWS's
  threshold; relative to the best, |best| * 0.01; when the best is 0 any strict
  improvement counts).
- ``ConvergenceDetected.CompleteOnConvergence: Enabled``: AWS does not publish its test;
  sagebox's is: at least :data:`CONVERGENCE_MIN_TRIALS` trials, and the most recent half of
  them (at least 5) improved the best objective by less than 1% over the best of the
  earlier half. Half the search bringing under 1% makes more than 1% from more trials
  unlikely, which is how AWS describes convergence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from sagebox.errors import ValidationError
from sagebox.tuning._base import Evaluated

IMPROVEMENT = 0.01  # AWS: improving "by 1% or greater"
MIN_NOT_IMPROVING = 3  # AWS: MaxNumberOfTrainingJobsNotImproving has a minimum of 3
CONVERGENCE_MIN_TRIALS = 10
CONVERGENCE_MIN_WINDOW = 5

__all__ = [
    "CONVERGENCE_MIN_TRIALS",
    "check_criteria",
    "converged",
    "jobs_not_improving",
    "should_complete",
]


def check_criteria(criteria: Mapping[str, Any] | None) -> None:
    """Refuse criteria AWS refuses (the edge's shape validation covers types)."""
    criteria = criteria or {}
    target = criteria.get("TargetObjectiveMetricValue")
    if target is not None and not math.isfinite(float(target)):
        raise ValidationError(
            f"TargetObjectiveMetricValue must be a finite number. Got {target!r}."
        )
    limit = (criteria.get("BestObjectiveNotImproving") or {}).get(
        "MaxNumberOfTrainingJobsNotImproving"
    )
    if limit is not None and int(limit) < MIN_NOT_IMPROVING:
        raise ValidationError(
            "BestObjectiveNotImproving.MaxNumberOfTrainingJobsNotImproving must be at least "
            f"{MIN_NOT_IMPROVING}. Got {limit}."
        )
    mode = (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence")
    if mode is not None and mode not in ("Enabled", "Disabled"):
        raise ValidationError(
            f"ConvergenceDetected.CompleteOnConvergence must be Enabled or Disabled. Got {mode!r}."
        )


def should_complete(
    criteria: Mapping[str, Any] | None, history: Sequence[Evaluated], maximize: bool
) -> str | None:
    """The reason the tuning job should complete now, or None (module docstring)."""
    criteria = criteria or {}
    values = _values(history)
    target = criteria.get("TargetObjectiveMetricValue")
    if target is not None:
        target = float(target)
        reached = [v for v in values if (v >= target if maximize else v <= target)]
        if reached:
            best = max(reached) if maximize else min(reached)
            return (
                f"TargetObjectiveMetricValue: a training job reached the objective {best:g} "
                f"(target {target:g})."
            )
    limit = (criteria.get("BestObjectiveNotImproving") or {}).get(
        "MaxNumberOfTrainingJobsNotImproving"
    )
    if limit is not None:
        count = jobs_not_improving(history, maximize)
        if count >= int(limit):
            return (
                f"BestObjectiveNotImproving: the last {count} training jobs did not improve "
                f"the best objective by {IMPROVEMENT:.0%} or more "
                f"(MaxNumberOfTrainingJobsNotImproving {limit})."
            )
    mode = (criteria.get("ConvergenceDetected") or {}).get("CompleteOnConvergence")
    if mode == "Enabled" and converged(history, maximize):
        window = _window(len(values))
        return (
            f"ConvergenceDetected: the last {window} of {len(values)} training jobs improved "
            f"the best objective by less than {IMPROVEMENT:.0%}."
        )
    return None


def jobs_not_improving(history: Sequence[Evaluated], maximize: bool) -> int:
    """How many trials in a row, up to the latest, did not improve the best before them by
    1% or more (``TuningJobCompletionDetails.NumberOfTrainingJobsObjectiveNotImproving``)."""
    best: float | None = None
    count = 0
    for value in _values(history):
        if best is None or _improves(value, best, maximize):
            best, count = value, 0
        else:
            count += 1
            best = max(best, value) if maximize else min(best, value)
    return count


def converged(history: Sequence[Evaluated], maximize: bool) -> bool:
    """sagebox's convergence test (module docstring)."""
    values = _values(history)
    if len(values) < CONVERGENCE_MIN_TRIALS:
        return False
    split = len(values) - _window(len(values))
    pick = max if maximize else min
    before, after = pick(values[:split]), pick(values)
    return not _improves(after, before, maximize)


def _window(n: int) -> int:
    return max(CONVERGENCE_MIN_WINDOW, n // 2)


def _improves(value: float, best: float, maximize: bool) -> bool:
    gain = value - best if maximize else best - value
    return gain > 0 and gain >= IMPROVEMENT * abs(best)


def _values(history: Sequence[Evaluated]) -> list[float]:
    return [
        e.objective
        for e in history
        if e.state != "Failed" and e.objective is not None and math.isfinite(e.objective)
    ]
