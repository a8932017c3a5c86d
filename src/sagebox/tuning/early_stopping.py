"""``TrainingJobEarlyStoppingType: Auto``: SageMaker's median rule.

SageMaker documents the rule as: after each epoch, take the running average of the
objective of every previous training job up to the same epoch, and the median of those
running averages; if the current job's objective at that epoch is worse than the median,
stop the current job. Here, precisely, at epoch ``e`` (0-based, the ``e+1``-th objective
value the trial has emitted):

- the earlier trials that count are those whose curve reached epoch ``e``
  (``len(curve) > e``); each contributes the running average ``mean(curve[:e + 1])``;
- with fewer than ``min_trials`` of them (default :data:`MIN_TRIALS`; running averages
  that are not finite are left out) nothing is decided:
  a median of one or two curves says little, and this keeps the first trials running;
- the trial is stopped when its value at epoch ``e`` (``curve[e]``, not its own running
  average) is strictly worse than that median: lower when maximizing, higher when
  minimizing. A value equal to the median is never stopped.

A value that is not a number (NaN) counts as worse than any median.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

MIN_TRIALS = 3

__all__ = ["MIN_TRIALS", "median_of_running_averages", "should_stop"]


def median_of_running_averages(earlier: Sequence[Sequence[float]], epoch: int) -> float | None:
    """The median, over the earlier curves that reached ``epoch``, of their running
    averages up to it; None when no curve reached it."""
    averages = _running_averages(earlier, epoch)
    return statistics.median(averages) if averages else None


def should_stop(
    curve: Sequence[float],
    earlier: Sequence[Sequence[float]],
    maximize: bool,
    min_trials: int = MIN_TRIALS,
) -> bool:
    """Whether the trial with objective values ``curve`` (one per epoch, latest last)
    should stop now, given the curves of the trials before it (module docstring)."""
    if not curve:
        return False
    epoch = len(curve) - 1
    averages = _running_averages(earlier, epoch)
    if len(averages) < max(1, min_trials):
        return False
    median = statistics.median(averages)
    value = curve[epoch]
    if math.isnan(value):
        return True
    return value < median if maximize else value > median


def _running_averages(earlier: Sequence[Sequence[float]], epoch: int) -> list[float]:
    averages = (statistics.fmean(c[: epoch + 1]) for c in earlier if len(c) > epoch)
    return [a for a in averages if math.isfinite(a)]
