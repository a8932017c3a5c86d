"""The values and the one abstract base the tuning modules share.

Invariants: every value here is frozen; a :class:`Strategy` is used by one tuner thread
at a time (the tuner serialises calls), is deterministic for a given seed where its
sampler allows, and never does I/O.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from sagebox.errors import ValidationError

ParameterKind = Literal["Continuous", "Integer", "Categorical"]
ScalingType = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
ObjectiveType = Literal["Maximize", "Minimize"]
TrialState = Literal["Completed", "Failed", "Stopped"]


@dataclass(frozen=True)
class ParameterRange:
    """One tunable hyperparameter, from ``ParameterRanges`` (values kept as AWS strings)."""

    name: str
    kind: ParameterKind
    min_value: float | None = None  # Continuous and Integer
    max_value: float | None = None
    scaling: ScalingType = "Auto"
    values: tuple[str, ...] = ()  # Categorical


@dataclass(frozen=True)
class Objective:
    metric: str  # e.g. "validation:auc"
    type: ObjectiveType

    @property
    def maximize(self) -> bool:
        return self.type == "Maximize"


@dataclass(frozen=True)
class Trial:
    """What a strategy asked for: an id (its order) and the hyperparameters to try."""

    number: int
    hyperparameters: Mapping[str, str]  # tuned values only, as AWS strings
    resource: int | None = None  # Hyperband: the budget (rounds/epochs) for this trial


@dataclass(frozen=True)
class Evaluated:
    """A finished trial: its hyperparameters and final objective (None if it failed)."""

    hyperparameters: Mapping[str, str]
    objective: float | None
    state: TrialState = "Completed"
    curve: Sequence[float] = field(default_factory=tuple)  # objective per iteration


class Strategy(abc.ABC):
    """Chooses hyperparameters to try next and learns from the trials' results."""

    name: ClassVar[str] = "Strategy"  # the API's Strategy value: "Bayesian", "Random", ...

    def __init__(
        self,
        ranges: Sequence[ParameterRange],
        objective: Objective,
        *,
        seed: int | None,
        max_trials: int,
        prior: Sequence[Evaluated] = (),  # warm start: the parents' evaluated trials
        min_resource: int | None = None,  # Hyperband
        max_resource: int | None = None,
    ) -> None:
        self.ranges = tuple(ranges)
        self.objective = objective
        self.seed = seed
        self.max_trials = max_trials
        self.prior = tuple(prior)
        self.min_resource = min_resource
        self.max_resource = max_resource

    @classmethod
    def training_job_count(cls, ranges: Sequence[ParameterRange], requested: int | None) -> int:
        """How many training jobs the tuning job launches, from
        ``ResourceLimits.MaxNumberOfTrainingJobs`` (``requested``, None when absent).
        Every strategy needs it but Grid, which counts its combinations instead."""
        if requested is None:
            raise ValidationError(
                f"ResourceLimits.MaxNumberOfTrainingJobs is required with the {cls.name} "
                "strategy. Give the most training jobs the tuning job may launch."
            )
        return requested

    @abc.abstractmethod
    def ask(self) -> Trial | None:
        """The next trial to launch, or None when the strategy has nothing left (Grid)."""

    @abc.abstractmethod
    def report(self, trial: Trial, step: int, value: float) -> bool:
        """An intermediate objective value at iteration ``step``; True: stop this trial now
        (Hyperband's own early stopping; the other strategies return False)."""

    @abc.abstractmethod
    def tell(self, trial: Trial, result: Evaluated) -> None:
        """The trial has ended with ``result``."""
