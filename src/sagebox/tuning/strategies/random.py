"""Random search: every trial is drawn independently (Optuna's RandomSampler), seeded.

The choice never depends on earlier results, so parallel trials lose nothing, and one
seed gives one sequence of trials whatever the trials' results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sagebox.tuning.strategies._optuna import OptunaStrategy

if TYPE_CHECKING:
    import optuna


class RandomStrategy(OptunaStrategy):
    name = "Random"

    def _sampler(self) -> optuna.samplers.BaseSampler:
        import optuna

        return optuna.samplers.RandomSampler(seed=self.seed)
