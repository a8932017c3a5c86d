"""Hyperband: random configurations, and successive halving of the training budget.

Each trial is drawn at random (seeded) and given the whole budget, ``MaxResource``
(:attr:`Trial.resource`). The resource is counted in objective-metric values: the tuner
calls :meth:`HyperbandStrategy.report` with step 1 for the first value a trial emits, 2
for the second, and so on (one per epoch or boosting round for the built-in algorithms),
as SageMaker uses every emitted objective metric for its decisions. At the rungs
``MinResource * 3**k`` Optuna's HyperbandPruner keeps the best third of the trials of the
same bracket and stops the rest; no trial is stopped before ``MinResource``. A trial that
reaches ``MaxResource`` is stopped too (``report`` returns True with ``step >=
trial.resource``): it has used its budget, and the tuner records it as completed.

The tuner does not rewrite the algorithm's epochs/rounds hyperparameter: the user sets it
(statically) and Hyperband stops trials early. ``MaxResource`` defaults, as on SageMaker,
to the static ``epochs``, ``numepochs``, ``n-epochs``, ``n_epochs`` or ``num_epochs``
(:func:`resources`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sagebox.errors import ValidationError
from sagebox.tuning._base import Evaluated, Objective, ParameterRange, Trial
from sagebox.tuning.strategies._optuna import OptunaStrategy

if TYPE_CHECKING:
    import optuna

REDUCTION_FACTOR = 3
MAX_RESOURCE_LIMIT = 20_000  # AWS: MaxResource is at most 20,000 epochs
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")


def resources(
    tuning_job_config: Mapping[str, Any], static_hyperparameters: Mapping[str, str] | None
) -> tuple[int, int]:
    """``(MinResource, MaxResource)`` of a Hyperband tuning job, validated.

    ``MaxResource`` falls back to the static epochs hyperparameter (``EPOCH_KEYS``);
    ``MinResource`` defaults to 1. Hyperband has its own early stopping, so
    ``TrainingJobEarlyStoppingType`` must be ``Off``.
    """
    if tuning_job_config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
        raise ValidationError(
            "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy, which has "
            f"its own early stopping. Got {tuning_job_config['TrainingJobEarlyStoppingType']!r}."
        )
    config = (tuning_job_config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
    static = static_hyperparameters or {}
    max_resource = config.get("MaxResource")
    if max_resource is None:
        key = next((k for k in EPOCH_KEYS if k in static), None)
        if key is None:
            raise ValidationError(
                "The Hyperband strategy needs HyperbandStrategyConfig.MaxResource, or a static "
                f"hyperparameter to infer it from ({', '.join(EPOCH_KEYS)}). Give MaxResource: "
                "the most epochs (objective-metric values) a training job may use."
            )
        try:
            max_resource = int(str(static[key]).strip())
        except ValueError:
            raise ValidationError(
                f"Cannot infer MaxResource from the static hyperparameter {key}="
                f"{static[key]!r}: it is not an integer. Give HyperbandStrategyConfig."
                "MaxResource."
            ) from None
    min_resource = config.get("MinResource", 1)
    if not 1 <= int(max_resource) <= MAX_RESOURCE_LIMIT:
        raise ValidationError(
            f"MaxResource must be between 1 and {MAX_RESOURCE_LIMIT}. Got {max_resource}."
        )
    if not 1 <= int(min_resource) <= int(max_resource):
        raise ValidationError(
            f"MinResource must be between 1 and MaxResource ({max_resource}). Got {min_resource}."
        )
    return int(min_resource), int(max_resource)


class HyperbandStrategy(OptunaStrategy):
    name = "Hyperband"
    prune_stopped = True

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
        if min_resource is None or max_resource is None:
            raise ValidationError(
                "The Hyperband strategy needs MinResource and MaxResource "
                "(HyperbandStrategyConfig); see sagebox.tuning.strategies.hyperband.resources."
            )
        if not 1 <= min_resource <= max_resource <= MAX_RESOURCE_LIMIT:
            raise ValidationError(
                f"Hyperband needs 1 <= MinResource <= MaxResource <= {MAX_RESOURCE_LIMIT}. "
                f"Got MinResource={min_resource}, MaxResource={max_resource}."
            )
        super().__init__(
            ranges,
            objective,
            seed=seed,
            max_trials=max_trials,
            prior=prior,
            min_resource=min_resource,
            max_resource=max_resource,
        )
        self._last_step: dict[int, int] = {}

    def _sampler(self) -> optuna.samplers.BaseSampler:
        import optuna

        return optuna.samplers.RandomSampler(seed=self.seed)

    def _pruner(self) -> optuna.pruners.BasePruner:
        import optuna

        assert self.min_resource is not None and self.max_resource is not None
        return optuna.pruners.HyperbandPruner(
            min_resource=self.min_resource,
            max_resource=self.max_resource,
            reduction_factor=REDUCTION_FACTOR,
        )

    def _resource(self) -> int | None:
        return self.max_resource

    def report(self, trial: Trial, step: int, value: float) -> bool:
        """Record the objective after ``step`` units of resource (1 for the first value);
        True: stop the trial (pruned at a rung, or its budget used)."""
        optuna_trial = self._trial(trial)
        assert self.max_resource is not None
        if step <= self._last_step.get(trial.number, 0):
            return step >= self.max_resource  # a value repeated or out of order: no new rung
        self._last_step[trial.number] = step
        optuna_trial.report(value, step)
        return step >= self.max_resource or optuna_trial.should_prune()

    def tell(self, trial: Trial, result: Evaluated) -> None:
        super().tell(trial, result)
        self._last_step.pop(trial.number, None)
