"""Grid search: every combination of the categorical values, each tried once.

As on SageMaker, only categorical ranges are allowed, and the number of training jobs is
the number of combinations (``MaxNumberOfTrainingJobs``, if given, must equal it). The
order is the combinations shuffled with the seed (unshuffled without one), so one seed
gives one order. Warm-start trials do not change the grid.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence

from sagebox.errors import ValidationError
from sagebox.tuning._base import Evaluated, Objective, ParameterRange, Strategy, Trial
from sagebox.tuning.ranges import MAX_TRAINING_JOBS


def grid_size(ranges: Sequence[ParameterRange]) -> int:
    """The number of distinct combinations of the categorical ranges."""
    _check_categorical(ranges)
    return math.prod(len(r.values) for r in ranges)


class GridStrategy(Strategy):
    name = "Grid"

    @classmethod
    def training_job_count(cls, ranges: Sequence[ParameterRange], requested: int | None) -> int:
        size = grid_size(ranges)
        if size > MAX_TRAINING_JOBS:
            raise ValidationError(
                f"The grid has {size} combinations of categorical values; a Grid tuning job "
                f"runs at most {MAX_TRAINING_JOBS} training jobs. Search fewer values."
            )
        if requested is not None and requested != size:
            raise ValidationError(
                f"MaxNumberOfTrainingJobs is {requested}, but the Grid strategy runs one "
                f"training job per combination of categorical values: {size}. Leave "
                f"MaxNumberOfTrainingJobs out, or set it to {size}."
            )
        return size

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
        self.training_job_count(self.ranges, max_trials)
        names = [r.name for r in self.ranges]
        self._grid = [
            dict(zip(names, combination, strict=True))
            for combination in itertools.product(*(r.values for r in self.ranges))
        ]
        if seed is not None:
            random.Random(seed).shuffle(self._grid)
        self._asked = 0

    def ask(self) -> Trial | None:
        if self._asked >= len(self._grid):
            return None
        trial = Trial(number=self._asked, hyperparameters=dict(self._grid[self._asked]))
        self._asked += 1
        return trial

    def report(self, trial: Trial, step: int, value: float) -> bool:
        return False

    def tell(self, trial: Trial, result: Evaluated) -> None:
        """Grid's order never depends on results."""


def _check_categorical(ranges: Sequence[ParameterRange]) -> None:
    if not ranges:
        raise ValidationError(
            "The Grid strategy needs at least one categorical range in ParameterRanges."
        )
    other = [f"{r.name} ({r.kind})" for r in ranges if r.kind != "Categorical"]
    if other:
        raise ValidationError(
            f"The Grid strategy supports only categorical hyperparameter ranges; got "
            f"{', '.join(other)}. List the values to try as CategoricalParameterRanges, or "
            "use the Random or Bayesian strategy."
        )
