"""What the Optuna-backed strategies share: one in-memory study, ask and tell.

How a trial's end is told to the study (SageMaker counts a stopped training job's final
objective, so a stopped trial with a value is a finished trial to the samplers):

- Completed with a finite objective: COMPLETE with that value;
- Stopped with a finite objective: COMPLETE with that value (Hyperband: PRUNED, as its
  pruner expects; Optuna keeps the last reported value);
- Stopped without an objective: PRUNED;
- Failed, or no finite objective: FAIL.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from sagebox.errors import ValidationError
from sagebox.tuning._base import Evaluated, Objective, ParameterRange, Strategy, Trial
from sagebox.tuning.strategies._space import SearchSpace

if TYPE_CHECKING:
    import optuna

# A fixed name: Optuna's HyperbandPruner assigns brackets from a hash of the study name and
# the trial number, so a random name would make Hyperband differ between runs of one seed.
STUDY_NAME = "sagebox-tuning"


class OptunaStrategy(Strategy):
    """A strategy whose choices come from an Optuna sampler (and pruner) on an in-memory study."""

    learns_from_prior: ClassVar[bool] = False  # add warm-start trials to the study
    prune_stopped: ClassVar[bool] = False  # tell stopped trials PRUNED, not COMPLETE

    def __init__(
        self,
        ranges: Sequence[ParameterRange],
        objective: Objective,
        *,
        seed: int | None,
        max_trials: int,
        prior: Sequence[Evaluated] = (),
        min_resource: int | None = None,
        max_resource: int | None = None,
    ) -> None:
        super().__init__(
            ranges,
            objective,
            seed=seed,
            max_trials=max_trials,
            prior=prior,
            min_resource=min_resource,
            max_resource=max_resource,
        )
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if not self.ranges:
            raise ValidationError(
                f"The {self.name} strategy needs at least one hyperparameter range in "
                "ParameterRanges."
            )
        if max_trials < 1:
            raise ValidationError(f"MaxNumberOfTrainingJobs must be at least 1. Got {max_trials}.")
        self._space = SearchSpace(self.ranges)
        self._study = optuna.create_study(
            storage=None,
            study_name=STUDY_NAME,
            direction="maximize" if objective.maximize else "minimize",
            sampler=self._sampler(),
            pruner=self._pruner(),
        )
        self._asked = 0
        self._running: dict[int, optuna.Trial] = {}
        self.prior_used = self._add_prior() if self.learns_from_prior else 0

    @abc.abstractmethod
    def _sampler(self) -> optuna.samplers.BaseSampler:
        """The Optuna sampler that makes this strategy what it is."""

    def _pruner(self) -> optuna.pruners.BasePruner:
        import optuna

        return optuna.pruners.NopPruner()

    def _resource(self) -> int | None:
        return None

    def ask(self) -> Trial | None:
        if self._asked >= self.max_trials:
            return None
        optuna_trial = self._study.ask(self._space.distributions)
        trial = Trial(
            number=self._asked,
            hyperparameters=self._space.to_aws(optuna_trial.params),
            resource=self._resource(),
        )
        self._running[trial.number] = optuna_trial
        self._asked += 1
        return trial

    def report(self, trial: Trial, step: int, value: float) -> bool:
        self._trial(trial)
        return False

    def tell(self, trial: Trial, result: Evaluated) -> None:
        import optuna

        optuna_trial = self._trial(trial)
        del self._running[trial.number]
        state, value = self._outcome(result)
        if state == optuna.trial.TrialState.COMPLETE:
            self._study.tell(optuna_trial, value)
        else:
            self._study.tell(optuna_trial, state=state)

    def _trial(self, trial: Trial) -> optuna.Trial:
        try:
            return self._running[trial.number]
        except KeyError:
            raise ValueError(
                f"Trial {trial.number} is not running in this {self.name} strategy "
                "(never asked, or already told)."
            ) from None

    def _outcome(self, result: Evaluated) -> tuple[optuna.trial.TrialState, float | None]:
        from optuna.trial import TrialState

        finite = result.objective is not None and math.isfinite(result.objective)
        if result.state == "Failed":
            return TrialState.FAIL, None
        if result.state == "Stopped":
            if finite and not self.prune_stopped:
                return TrialState.COMPLETE, result.objective
            return TrialState.PRUNED, None
        if finite:
            return TrialState.COMPLETE, result.objective
        return TrialState.FAIL, None

    def _add_prior(self) -> int:
        """Warm start: the parents' evaluated trials become completed trials of the study,
        so the sampler learns from them. Returns how many were usable (inside the ranges)."""
        import optuna

        used = 0
        for evaluated in self.prior:
            if evaluated.objective is None or not math.isfinite(evaluated.objective):
                continue
            if evaluated.state == "Failed":
                continue
            params: dict[str, Any] | None = self._space.from_aws(evaluated.hyperparameters)
            if params is None:
                continue
            self._study.add_trial(
                optuna.trial.create_trial(
                    params=params,
                    distributions=self._space.distributions,
                    value=evaluated.objective,
                )
            )
            used += 1
        return used
