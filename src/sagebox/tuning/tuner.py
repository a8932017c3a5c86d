"""The tuner: the process that runs one hyperparameter tuning job to its end.

Started detached when the job is created (``python -m sagebox.tuning.tuner <backend>
<home> <job>``), so it outlives the process that created it, as a job supervisor does.
It asks the strategy for hyperparameters, launches every trial as a real training job
through its backend, streams each running trial's objective metric to the strategy
(Hyperband stops trials itself) and to the early-stopping rule, tells the strategy each
result, checks the completion criteria and the runtime limit, and has the backend record
the tuning job's state after every event.

The backend (:class:`Backend`) is all the I/O: the control plane acting as SageMaker's
tuning service (``sagebox.control.tuning_service``). It is named by import path, as a
job supervisor loads its reporter, so this package stays below the control plane.

Several ``TrainingJobDefinitions`` each get their own strategy over their own ranges;
trials go to the definitions in turn (round robin), so each algorithm gets an equal
share of the budget and its own model of its search space.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sagebox.tuning._base import Evaluated, Objective, ParameterRange, Strategy, Trial

TERMINAL = ("Completed", "Failed", "Stopped")
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Definition:
    """One training job definition as the tuner sees it."""

    name: str  # DefinitionName; "" for a single TrainingJobDefinition
    objective: Objective
    ranges: tuple[ParameterRange, ...]
    max_trials: int  # the most trials its strategy is asked for (Grid: its combinations)
    prior: tuple[Evaluated, ...] = ()  # warm start: the parents' evaluated trials


@dataclass(frozen=True)
class Plan:
    """What the tuner runs, built by the backend from the validated request."""

    job_name: str
    strategy: str  # Bayesian, Random, Grid, Hyperband
    definitions: tuple[Definition, ...]
    max_trials: int
    max_parallel: int
    created: datetime
    max_runtime_seconds: int | None = None
    early_stopping: bool = False  # TrainingJobEarlyStoppingType Auto
    completion: Mapping[str, Any] = field(default_factory=dict)  # TuningJobCompletionCriteria
    seed: int | None = None
    min_resource: int | None = None  # Hyperband
    max_resource: int | None = None

    @property
    def maximize(self) -> bool:
        return self.definitions[0].objective.maximize


@dataclass(frozen=True)
class TrialStatus:
    """What the backend reads of a trial's training job."""

    status: str  # InProgress, Stopping, Completed, Failed, Stopped
    objective: float | None = None  # the objective's FinalMetricDataList value, once ended
    failure_reason: str | None = None


@dataclass
class TrialRecord:
    """One trial as the tuning job records it."""

    number: int
    name: str
    definition: str
    tuned: dict[str, str]
    status: str = "InProgress"
    objective: float | None = None
    failure_reason: str | None = None
    stopped_early: bool = False  # stopped by early stopping or Hyperband, not by a Stop call

    @property
    def objective_status(self) -> str:
        if self.status not in TERMINAL:
            return "Pending"
        return "Failed" if self.objective is None else "Succeeded"


@dataclass(frozen=True)
class Progress:
    """The tuning job's state after an event, for the backend to record."""

    trials: tuple[TrialRecord, ...]
    not_improving: int  # finished trials since the best objective last improved
    convergence_time: datetime | None = None


class LaunchError(Exception):
    """The backend could not create a trial's training job; the message says why."""


class Backend(Protocol):
    def plan(self) -> Plan: ...

    def launch(self, name: str, definition: Definition, tuned: Mapping[str, str]) -> None:
        """Create the trial's training job; raise :class:`LaunchError` if it is refused."""

    def trial_status(self, name: str) -> TrialStatus: ...

    def curve(self, name: str, metric: str) -> list[float]:
        """The trial's objective metric so far, one value per iteration."""

    def stop_trial(self, name: str) -> None:
        """Stop a running trial (nothing happens if it has already ended)."""

    def stop_requested(self) -> bool:
        """True once StopHyperParameterTuningJob has moved the job to Stopping."""

    def record(self, progress: Progress) -> None: ...

    def finish(self, status: str, progress: Progress, failure_reason: str | None) -> None: ...


@dataclass
class _Live:
    """A running trial: what the strategy asked for and what it reported so far."""

    trial: Trial
    definition: int
    record: TrialRecord
    curve: list[float] = field(default_factory=list)
    stopping: bool = False
    used_budget: bool = False  # Hyperband: it reached its resource and ran no further


def trial_name(job_name: str, number: int) -> str:
    """AWS's trial name: ``<tuning job>-<NNN>-<8 hex>`` (at most 32 + 13 characters)."""
    return f"{job_name}-{number:03d}-{uuid.uuid4().hex[:8]}"


def _load_strategy(name: str) -> type[Strategy]:
    from sagebox.tuning.strategies import strategy

    return strategy(name)


class Tuner:
    """Runs a tuning job's trials to the end; see the module docstring."""

    def __init__(
        self,
        backend: Backend,
        *,
        poll_seconds: float = POLL_SECONDS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.backend = backend
        self.plan = backend.plan()
        self.poll_seconds = poll_seconds
        self.now = now
        cls = _load_strategy(self.plan.strategy)
        self.strategies = [
            cls(
                d.ranges,
                d.objective,
                seed=None if self.plan.seed is None else self.plan.seed + index,
                max_trials=d.max_trials,
                prior=d.prior,
                min_resource=self.plan.min_resource,
                max_resource=self.plan.max_resource,
            )
            for index, d in enumerate(self.plan.definitions)
        ]
        self.records: list[TrialRecord] = []
        self.running: dict[str, _Live] = {}
        self.finished_curves: dict[int, list[list[float]]] = {
            i: [] for i in range(len(self.plan.definitions))
        }
        # the curves of the trials that ran to their end (early stopping's guard)
        self.completed_curves: dict[int, list[list[float]]] = {
            i: [] for i in range(len(self.plan.definitions))
        }
        self.history: list[Evaluated] = []  # this job's finished trials, in finishing order
        self.exhausted: set[int] = set()
        self._turn = 0
        self.ending: str | None = None  # once set no trial launches: Completed/Stopped/Failed
        self.failure: str | None = None
        self.not_improving = 0
        self.convergence_time: datetime | None = None

    # ---- the loop ---------------------------------------------------------------------
    def run(self) -> str:
        """Run to the end; returns the tuning job's final status."""
        try:
            while True:
                if self.step():
                    self.backend.record(self.progress())
                if not self.running and self._launching_done():
                    break
                time.sleep(self.poll_seconds)
            status, reason = self._outcome()
        except Exception as exc:  # a sagebox bug must still end the job in a true state
            traceback.print_exc(file=sys.stderr)
            for name in list(self.running):
                with contextlib.suppress(Exception):  # best effort: the job must still end
                    self._stop(name)
            status, reason = "Failed", f"InternalFailure: the tuner failed: {exc!r}"
        self.backend.finish(status, self.progress(), reason)
        return status

    def step(self) -> bool:
        """One pass: stop request, running trials, completion, launches. True if the
        recorded state changed."""
        changed = False
        if self.ending is None and self.backend.stop_requested():
            self._end("Stopped")
            changed = True
        for name in list(self.running):
            changed |= self._poll(name)
        if self.ending is None:
            self._check_limits()
        if self.ending is None:
            changed |= self._launch()
        return changed

    def progress(self) -> Progress:
        return Progress(
            tuple(TrialRecord(**vars(r)) for r in self.records),
            self.not_improving,
            self.convergence_time,
        )

    # ---- launching --------------------------------------------------------------------
    def _launching_done(self) -> bool:
        return (
            self.ending is not None
            or len(self.records) >= self.plan.max_trials
            or len(self.exhausted) == len(self.strategies)
        )

    def _next_definition(self) -> int | None:
        count = len(self.strategies)
        for offset in range(count):
            index = (self._turn + offset) % count
            if index not in self.exhausted:
                self._turn = index + 1
                return index
        return None

    def _launch(self) -> bool:
        launched = False
        while len(self.running) < self.plan.max_parallel and not self._launching_done():
            index = self._next_definition()
            if index is None:
                break
            trial = self.strategies[index].ask()
            if trial is None:  # Grid: every combination has been tried
                self.exhausted.add(index)
                continue
            definition = self.plan.definitions[index]
            number = len(self.records) + 1
            name = trial_name(self.plan.job_name, number)
            tuned = dict(trial.hyperparameters)
            try:
                self.backend.launch(name, definition, tuned)
            except LaunchError as exc:
                self.failure = f"ClientError: could not create the training job {name}: {exc}"
                self._end("Failed")
                return True
            record = TrialRecord(number, name, definition.name, tuned)
            self.records.append(record)
            self.running[name] = _Live(trial, index, record)
            launched = True
        return launched

    # ---- watching ---------------------------------------------------------------------
    def _poll(self, name: str) -> bool:
        live = self.running[name]
        status = self.backend.trial_status(name)
        objective = self.plan.definitions[live.definition].objective
        values = self.backend.curve(name, objective.metric)
        for value in values[len(live.curve) :]:
            live.curve.append(value)
            if not live.stopping and status.status == "InProgress":
                self._consider(live, len(live.curve), value)
        if status.status not in TERMINAL:
            return False
        self._finished(live, status)
        return True

    def _consider(self, live: _Live, step: int, value: float) -> None:
        """Whether a running trial stops now: Hyperband's rung decision or budget, or the
        median rule of early stopping.

        A trial whose budget (``Trial.resource``, Hyperband's MaxResource) is reached at
        this value is left to finish by itself, as it does when its epochs equal the budget
        (stopping it there would lose its model); it is stopped at its next value, when it
        runs on past the budget.
        """
        definition = self.plan.definitions[live.definition]
        pruned = self.strategies[live.definition].report(live.trial, step, value)
        budget = live.trial.resource or (
            self.plan.max_resource if self.plan.strategy == "Hyperband" else None
        )
        if budget is not None and step >= budget:
            live.used_budget = True
            if step > budget:
                self._stop(live.record.name)
            return
        stop = pruned
        if not stop and self.plan.early_stopping:
            from sagebox.tuning.early_stopping import should_stop

            stop = should_stop(
                live.curve,
                self.finished_curves[live.definition],
                definition.objective.maximize,
                completed=self.completed_curves[live.definition],
            )
        if stop:
            live.record.stopped_early = True
            self._stop(live.record.name)

    def _stop(self, name: str) -> None:
        live = self.running.get(name)
        if live is None or live.stopping:
            return
        live.stopping = True
        self.backend.stop_trial(name)

    def _finished(self, live: _Live, status: TrialStatus) -> None:
        record = live.record
        objective = status.objective
        if objective is None and status.status != "Failed" and live.curve:
            objective = live.curve[-1]  # a trial stopped early reports its last value
        record.status = status.status
        record.objective = objective
        record.failure_reason = status.failure_reason
        # A trial that used its whole budget is a finished trial to the strategy, even if
        # it had to be stopped after running on past it.
        state = "Completed" if live.used_budget and objective is not None else status.status
        result = Evaluated(
            record.tuned,
            objective,
            state=state,  # type: ignore[arg-type]
            curve=tuple(live.curve),
        )
        self.strategies[live.definition].tell(live.trial, result)
        self.history.append(result)
        if live.curve:
            self.finished_curves[live.definition].append(list(live.curve))
            if status.status == "Completed":
                self.completed_curves[live.definition].append(list(live.curve))
        from sagebox.tuning.completion import jobs_not_improving

        self.not_improving = jobs_not_improving(self.history, self.plan.maximize)
        del self.running[record.name]

    # ---- ending -----------------------------------------------------------------------
    def _check_limits(self) -> None:
        if self.plan.completion and self.history:
            from sagebox.tuning.completion import should_complete

            reason = should_complete(self.plan.completion, self.history, self.plan.maximize)
            if reason:
                if reason.startswith("ConvergenceDetected"):
                    self.convergence_time = self.now()
                self._end("Completed")
                return
        limit = self.plan.max_runtime_seconds
        if limit and (self.now() - self.plan.created).total_seconds() >= limit:
            self._end("Completed")

    def _end(self, why: str) -> None:
        """No more trials launch; running ones are stopped."""
        self.ending = why
        for name in list(self.running):
            self._stop(name)

    def _outcome(self) -> tuple[str, str | None]:
        if self.ending == "Stopped":
            return "Stopped", None
        if self.failure:
            return "Failed", self.failure
        if self.records and all(r.objective is None for r in self.records):
            first = next((r for r in self.records if r.failure_reason), None)
            metrics = sorted({d.objective.metric for d in self.plan.definitions})
            why = (
                f"The first failure: {first.failure_reason}"
                if first
                else f"None of them reported the objective metric {', '.join(metrics)}; check "
                "that the algorithm emits it (for XGBoost, set eval_metric) and that a "
                "validation channel is given."
            )
            return "Failed", (
                f"All {len(self.records)} training jobs failed or reported no objective. {why}"
            )[:1024]
        return "Completed", None


def main(argv: Sequence[str]) -> int:
    """``python -m sagebox.tuning.tuner <module:factory> <home> <tuning job name>``."""
    factory_path, home, name = argv
    module_name, _, attribute = factory_path.partition(":")
    factory = getattr(importlib.import_module(module_name), attribute)
    backend: Backend = factory(home, name)
    try:
        tuner = Tuner(backend)
    except Exception as exc:  # the job must still end in a true state
        traceback.print_exc(file=sys.stderr)
        reason = f"InternalFailure: the tuner could not start: {exc}"
        backend.finish("Failed", Progress((), 0), reason[:1024])
        return 1
    tuner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
