"""The tuner's loop against an in-memory backend: launching, budgets, early stopping,
completion criteria, the runtime limit, stop requests and failures, without processes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sagebox.tuning._base import Objective, ParameterRange
from sagebox.tuning.tuner import (
    Definition,
    LaunchError,
    Plan,
    Progress,
    TrialStatus,
    Tuner,
)

LR = ParameterRange("lr", "Continuous", 0.01, 1.0)
LOSS = Objective("validation:loss", "Minimize")


@dataclass
class FakeTrial:
    definition: str
    tuned: dict[str, str]
    curve: list[float]  # what it will emit, one value per poll
    emitted: int = 0
    status: str = "InProgress"


@dataclass
class FakeBackend:
    """Trials emit one value per poll and complete after their last; stops land at once."""

    plan_value: Plan
    curve_of: Callable[[Mapping[str, str]], list[float]]
    launches_fail: bool = False
    trials: dict[str, FakeTrial] = field(default_factory=dict)
    stops: list[str] = field(default_factory=list)
    recorded: list[Progress] = field(default_factory=list)
    finished: tuple[str, Progress, str | None] | None = None
    stop_asked: bool = False
    peak_running: int = 0

    def plan(self) -> Plan:
        return self.plan_value

    def launch(self, name: str, definition: Definition, tuned: Mapping[str, str]) -> None:
        if self.launches_fail:
            raise LaunchError("AccessDenied: the role is gone")
        self.trials[name] = FakeTrial(definition.name, dict(tuned), self.curve_of(tuned))
        running = sum(t.status == "InProgress" for t in self.trials.values())
        self.peak_running = max(self.peak_running, running)

    def trial_status(self, name: str) -> TrialStatus:
        trial = self.trials[name]
        if trial.status == "InProgress" and trial.emitted >= len(trial.curve):
            trial.status = "Completed"
        ended = trial.status != "InProgress" and trial.emitted > 0
        objective = trial.curve[trial.emitted - 1] if ended else None
        return TrialStatus(trial.status, objective)

    def curve(self, name: str, metric: str) -> list[float]:
        trial = self.trials[name]
        if trial.status == "InProgress" and trial.emitted < len(trial.curve):
            trial.emitted += 1
        return trial.curve[: trial.emitted]

    def stop_trial(self, name: str) -> None:
        self.stops.append(name)
        if self.trials[name].status == "InProgress":
            self.trials[name].status = "Stopped"

    def stop_requested(self) -> bool:
        return self.stop_asked

    def record(self, progress: Progress) -> None:
        self.recorded.append(progress)

    def finish(self, status: str, progress: Progress, failure_reason: str | None) -> None:
        self.finished = (status, progress, failure_reason)


def _plan(
    strategy: str = "Random",
    max_trials: int = 4,
    *,
    definitions: tuple[Definition, ...] | None = None,
    max_parallel: int = 2,
    created: datetime | None = None,
    **extra: Any,
) -> Plan:
    return Plan(
        job_name="job",
        strategy=strategy,
        definitions=definitions or (Definition("", LOSS, (LR,), max_trials),),
        max_trials=max_trials,
        max_parallel=max_parallel,
        created=created or datetime.now(UTC),
        seed=1,
        **extra,
    )


def _decreasing(epochs: int) -> Callable[[Mapping[str, str]], list[float]]:
    return lambda tuned: [1 / (1 + 10 * float(tuned["lr"]) * e) for e in range(1, epochs + 1)]


def _run(backend: FakeBackend) -> tuple[str, Progress, str | None]:
    Tuner(backend, poll_seconds=0).run()
    assert backend.finished is not None
    return backend.finished


def test_every_trial_runs_within_the_parallel_limit_and_the_best_is_known() -> None:
    backend = FakeBackend(_plan(max_trials=5, max_parallel=2), _decreasing(3))
    status, progress, reason = _run(backend)
    assert (status, reason) == ("Completed", None)
    assert [t.number for t in progress.trials] == [1, 2, 3, 4, 5]
    assert all(t.status == "Completed" and t.objective is not None for t in progress.trials)
    assert backend.peak_running == 2
    assert all(name.startswith("job-00") for name in backend.trials)
    assert backend.stops == []


def test_a_trial_at_its_hyperband_budget_finishes_by_itself() -> None:
    """Epochs equal to MaxResource: the trial completes with its model; epochs beyond it:
    the trial is stopped at its first value past the budget."""
    plan = _plan(
        "Hyperband",
        max_trials=2,
        min_resource=3,
        max_resource=3,
        definitions=(Definition("", LOSS, (LR,), 2),),
    )
    at_budget = FakeBackend(plan, _decreasing(3))
    _, progress, _ = _run(at_budget)
    assert at_budget.stops == []
    assert [t.status for t in progress.trials] == ["Completed", "Completed"]

    past_budget = FakeBackend(plan, _decreasing(10))
    _, progress, _ = _run(past_budget)
    assert sorted(past_budget.stops) == sorted(past_budget.trials)
    assert all(t.emitted == 4 for t in past_budget.trials.values())
    assert [t.status for t in progress.trials] == ["Stopped", "Stopped"]
    assert all(t.objective is not None for t in progress.trials)


def test_early_stopping_uses_the_median_of_finished_trials() -> None:
    values = {"good": [0.5, 0.3, 0.2, 0.1], "bad": [0.9, 0.9, 0.9, 0.9]}
    order = iter(["good", "good", "good", "bad"])
    kinds: dict[str, str] = {}

    def curve(tuned: Mapping[str, str]) -> list[float]:
        kind = next(order)
        kinds[tuned["lr"]] = kind
        return values[kind]

    backend = FakeBackend(_plan(max_trials=4, max_parallel=1, early_stopping=True), curve)
    _, progress, _ = _run(backend)
    bad = [t for t in progress.trials if kinds[t.tuned["lr"]] == "bad"]
    assert [t.status for t in bad] == ["Stopped"] and bad[0].stopped_early
    assert backend.trials[bad[0].name].emitted == 1
    assert bad[0].objective == 0.9  # its last value


def test_the_definitions_take_turns() -> None:
    other = ParameterRange("depth", "Integer", 1, 5)
    plan = _plan(
        max_trials=5,
        max_parallel=1,
        definitions=(Definition("a", LOSS, (LR,), 5), Definition("b", LOSS, (other,), 5)),
    )
    backend = FakeBackend(plan, lambda tuned: [0.5])
    _, progress, _ = _run(backend)
    assert [t.definition for t in progress.trials] == ["a", "b", "a", "b", "a"]
    assert set(progress.trials[1].tuned) == {"depth"}


def test_grid_ends_when_its_combinations_are_done() -> None:
    grid = ParameterRange("lr", "Categorical", values=("0.1", "0.5"))
    plan = _plan("Grid", max_trials=2, definitions=(Definition("", LOSS, (grid,), 2),))
    status, progress, _ = _run(FakeBackend(plan, _decreasing(2)))
    assert status == "Completed"
    assert sorted(t.tuned["lr"] for t in progress.trials) == ["0.1", "0.5"]


def test_a_completion_criterion_ends_the_job_early() -> None:
    plan = _plan(max_trials=20, max_parallel=1, completion={"TargetObjectiveMetricValue": 0.9})
    status, progress, _ = _run(FakeBackend(plan, _decreasing(2)))  # every trial beats 0.9
    assert status == "Completed"
    assert len(progress.trials) == 1


def test_the_runtime_limit_stops_the_running_trials() -> None:
    plan = _plan(
        max_trials=4, max_runtime_seconds=120, created=datetime.now(UTC) - timedelta(seconds=121)
    )
    backend = FakeBackend(plan, _decreasing(3))
    status, progress, _ = _run(backend)
    assert status == "Completed"
    assert progress.trials == ()  # out of time before the first launch


def test_a_stop_request_stops_running_trials_and_launches_nothing_more() -> None:
    backend = FakeBackend(_plan(max_trials=6, max_parallel=2), _decreasing(50))
    tuner = Tuner(backend, poll_seconds=0)
    tuner.step()
    assert len(backend.trials) == 2
    backend.stop_asked = True
    status = tuner.run()
    assert status == "Stopped"
    assert len(backend.trials) == 2
    assert sorted(backend.stops) == sorted(backend.trials)
    assert backend.finished is not None and backend.finished[0] == "Stopped"


def test_a_refused_launch_fails_the_job_with_the_reason() -> None:
    backend = FakeBackend(_plan(), _decreasing(2), launches_fail=True)
    status, _, reason = _run(backend)
    assert status == "Failed"
    assert reason is not None and "the role is gone" in reason and "job-001-" in reason


def test_trials_without_an_objective_fail_the_job() -> None:
    backend = FakeBackend(_plan(max_trials=2), lambda tuned: [])
    status, progress, reason = _run(backend)
    assert status == "Failed"
    assert reason is not None and "reported no objective" in reason
    assert [t.objective_status for t in progress.trials] == ["Failed", "Failed"]


def test_a_tuner_bug_still_ends_the_job() -> None:
    class Broken(FakeBackend):
        def curve(self, name: str, metric: str) -> list[float]:
            raise RuntimeError("metadata store gone")

    backend = Broken(_plan(), _decreasing(2))
    status, _, reason = _run(backend)
    assert status == "Failed"
    assert reason is not None and reason.startswith("InternalFailure") and "gone" in reason


@pytest.mark.parametrize("strategy", ["Bayesian", "Random"])
def test_the_recorded_state_follows_every_event(strategy: str) -> None:
    backend = FakeBackend(_plan(strategy, max_trials=3, max_parallel=1), _decreasing(2))
    _run(backend)
    finished = [sum(t.status == "Completed" for t in p.trials) for p in backend.recorded]
    assert finished == sorted(finished) and finished[-1] == 3
