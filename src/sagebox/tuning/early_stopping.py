"""``TrainingJobEarlyStoppingType: Auto``: SageMaker's median rule, with one guard.

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

The guard (sagebox's, not AWS's; see docs/tuning.md): the rule decides at epoch ``e`` only
when the earlier trials that *completed* show that epoch ``e`` predicts the final
objective: at least ``min_trials`` of them reached it, and the rank correlation (Spearman)
of their values at ``e`` with their final values is at least :data:`MIN_RANK_CORRELATION`
(or their final values are all equal: nothing to lose). Gradient-boosted shallow trees,
for one, start slowly and finish best: on German credit the first rounds' AUC ranks trials
*against* their final AUC, and the plain rule stopped the best trial in most seeds. The
guard costs nothing where early values do predict the end (the rule acts from the first
epoch) and turns the rule off at epochs where they do not. Callers that pass no
``completed`` curves get the plain rule.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

MIN_TRIALS = 3
MIN_RANK_CORRELATION = 0.3

__all__ = [
    "MIN_RANK_CORRELATION",
    "MIN_TRIALS",
    "average_ranks",
    "epoch_predicts_final",
    "median_of_running_averages",
    "rank_correlation",
    "should_stop",
]


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
    completed: Sequence[Sequence[float]] | None = None,
) -> bool:
    """Whether the trial with objective values ``curve`` (one per epoch, latest last)
    should stop now, given the curves of the trials before it (``earlier``: every finished
    trial; ``completed``: those that ran to their end, for the guard; module docstring)."""
    if not curve:
        return False
    epoch = len(curve) - 1
    averages = _running_averages(earlier, epoch)
    if len(averages) < max(1, min_trials):
        return False
    if completed is not None and not epoch_predicts_final(completed, epoch, min_trials):
        return False
    median = statistics.median(averages)
    value = curve[epoch]
    if math.isnan(value):
        return True
    return value < median if maximize else value > median


def epoch_predicts_final(
    completed: Sequence[Sequence[float]], epoch: int, min_trials: int = MIN_TRIALS
) -> bool:
    """Whether the completed curves that went past ``epoch`` rank as their final values
    do (Spearman's rank correlation at least :data:`MIN_RANK_CORRELATION`), or all end
    equal; False with fewer than ``min_trials`` of them."""
    pairs = [
        (c[epoch], c[-1])
        for c in completed
        if len(c) > epoch and math.isfinite(c[epoch]) and math.isfinite(c[-1])
    ]
    if len(pairs) < max(2, min_trials):
        return False
    finals = [final for _, final in pairs]
    if len(set(finals)) == 1:
        return True
    correlation = rank_correlation([value for value, _ in pairs], finals)
    return correlation is not None and correlation >= MIN_RANK_CORRELATION


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation (ties get their average rank); None when either side
    is constant (no ranking to compare)."""
    rx, ry = average_ranks(x), average_ranks(y)
    if len(set(rx)) < 2 or len(set(ry)) < 2:
        return None
    return statistics.correlation(rx, ry)


def average_ranks(values: Sequence[float]) -> list[float]:
    """Each value's 0-based rank from the lowest, ties sharing their average rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2
        start = end + 1
    return ranks


def _running_averages(earlier: Sequence[Sequence[float]], epoch: int) -> list[float]:
    averages = (statistics.fmean(c[: epoch + 1]) for c in earlier if len(c) > epoch)
    return [a for a in averages if math.isfinite(a)]
