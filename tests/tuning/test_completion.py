"""TuningJobCompletionCriteria."""

from __future__ import annotations

import pytest

from sagebox.errors import ValidationError
from sagebox.tuning._base import Evaluated
from sagebox.tuning.completion import (
    check_criteria,
    converged,
    jobs_not_improving,
    should_complete,
)


def history(*values: float | None, state: str = "Completed") -> list[Evaluated]:
    return [
        Evaluated({}, v, state="Failed" if v is None else state)  # type: ignore[arg-type]
        for v in values
    ]


def test_no_criteria_never_completes() -> None:
    assert should_complete(None, history(0.9, 0.91), maximize=True) is None
    assert should_complete({}, [], maximize=True) is None


def test_target_objective_metric_value() -> None:
    criteria = {"TargetObjectiveMetricValue": 0.9}
    assert should_complete(criteria, history(0.7, 0.85), maximize=True) is None
    reason = should_complete(criteria, history(0.7, 0.9), maximize=True)
    assert reason is not None and reason.startswith("TargetObjectiveMetricValue")
    assert "0.9" in reason
    # minimizing: reaching is going at or below the target
    assert should_complete({"TargetObjectiveMetricValue": 0.2}, history(0.5, 0.3), False) is None
    assert should_complete({"TargetObjectiveMetricValue": 0.2}, history(0.5, 0.2), False)
    # stopped trials count, failed ones do not
    assert should_complete(criteria, history(0.95, state="Stopped"), maximize=True)
    assert should_complete(criteria, [Evaluated({}, 0.95, state="Failed")], True) is None


def test_jobs_not_improving_counts_improvements_under_one_percent_as_none() -> None:
    assert jobs_not_improving([], maximize=True) == 0
    assert jobs_not_improving(history(0.80, 0.70, 0.75), maximize=True) == 2
    # 0.805 is 0.6% better than 0.80: better, but not by 1%; the best is now 0.805
    assert jobs_not_improving(history(0.80, 0.805, 0.81), maximize=True) == 2
    assert jobs_not_improving(history(0.80, 0.805, 0.82), maximize=True) == 0
    # minimizing
    assert jobs_not_improving(history(1.0, 0.995, 1.2), maximize=False) == 2
    assert jobs_not_improving(history(1.0, 1.2, 0.98), maximize=False) == 0
    # failed trials are neither improving nor not improving
    assert jobs_not_improving(history(0.8, None, None, 0.7), maximize=True) == 1


def test_best_objective_not_improving() -> None:
    criteria = {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}}
    assert should_complete(criteria, history(0.8, 0.7, 0.75), maximize=True) is None
    reason = should_complete(criteria, history(0.8, 0.7, 0.75, 0.79), maximize=True)
    assert reason is not None and reason.startswith("BestObjectiveNotImproving")
    assert should_complete(criteria, history(0.8, 0.7, 0.75, 0.9), maximize=True) is None


def test_convergence_detected() -> None:
    criteria = {"ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}}
    flat = history(0.5, 0.8, 0.85, 0.86, 0.86, 0.861, 0.86, 0.862, 0.858, 0.863)
    assert converged(flat, maximize=True)
    reason = should_complete(criteria, flat, maximize=True)
    assert reason is not None and reason.startswith("ConvergenceDetected")
    assert "last 5 of 10" in reason
    assert not converged(flat[:9], maximize=True)  # fewer than 10 trials
    improving = history(*(0.5 + 0.02 * i for i in range(12)))
    assert not converged(improving, maximize=True)
    assert converged(history(*(1.0 / (i + 1) for i in range(3)), *([0.33] * 7)), maximize=False)
    disabled = {"ConvergenceDetected": {"CompleteOnConvergence": "Disabled"}}
    assert should_complete(disabled, flat, maximize=True) is None


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"TargetObjectiveMetricValue": float("nan")}, "finite number"),
        (
            {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 2}},
            "at least 3. Got 2",
        ),
        ({"ConvergenceDetected": {"CompleteOnConvergence": "On"}}, "Enabled or Disabled"),
    ],
)
def test_invalid_criteria_are_refused(criteria: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        check_criteria(criteria)
