"""SageMaker's median rule for TrainingJobEarlyStoppingType Auto, on crafted curves."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sagebox.tuning.early_stopping import MIN_TRIALS, median_of_running_averages, should_stop

# Three earlier trials. Running averages: epoch 0: 1, 2, 3 (median 2); epoch 1: 1.5, 2.5,
# 3.5 (median 2.5); epoch 2: 2, 3, 4 (median 3). Exact in binary, so "equal" is equal.
EARLIER = [[1.0, 2.0, 3.0], [2.0, 3.0, 4.0], [3.0, 4.0, 5.0]]


def test_median_of_running_averages_per_epoch() -> None:
    assert [median_of_running_averages(EARLIER, e) for e in range(3)] == pytest.approx(
        [2.0, 2.5, 3.0]
    )
    assert median_of_running_averages(EARLIER, 3) is None


@pytest.mark.parametrize(
    ("curve", "stop"),
    [
        ([1.9], True),  # below the median at epoch 0
        ([2.0], False),  # equal to the median: never stopped
        ([5.0], False),
        ([5.0, 2.4], True),  # a good start does not save a bad epoch
        ([5.0, 2.5], False),
        ([0.0, 0.0, 3.1], False),  # its own average is poor, but its value now beats 3
        ([5.0, 5.0, 2.9], True),
    ],
)
def test_maximize_stops_exactly_below_the_median(curve: list[float], stop: bool) -> None:
    assert should_stop(curve, EARLIER, maximize=True) is stop


@pytest.mark.parametrize(
    ("curve", "stop"),
    [([2.1], True), ([2.0], False), ([0.0], False), ([0.0, 2.6], True), ([0.0, 2.5], False)],
)
def test_minimize_stops_exactly_above_the_median(curve: list[float], stop: bool) -> None:
    assert should_stop(curve, EARLIER, maximize=False) is stop


def test_no_decision_before_enough_earlier_trials_reached_the_epoch() -> None:
    assert MIN_TRIALS == 3
    two = EARLIER[:2]
    assert not should_stop([0.0], two, maximize=True)
    assert should_stop([0.0], two, maximize=True, min_trials=2)
    # three trials, but only two of them reached epoch 3
    uneven = [[1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 4.0, 5.0], [3.0, 4.0, 5.0]]
    assert should_stop([0.0, 0.0, 0.0], uneven, maximize=True)
    assert not should_stop([9.0, 9.0, 9.0, 0.0], uneven, maximize=True)
    assert not should_stop([], EARLIER, maximize=True)


def test_a_nan_objective_is_worse_and_nan_curves_are_left_out() -> None:
    assert should_stop([math.nan], EARLIER, maximize=True)
    with_nan = [*EARLIER, [math.nan]]
    assert median_of_running_averages(with_nan, 0) == 2.0
    assert not should_stop([2.0], with_nan, maximize=True)


curves = st.lists(st.floats(-10, 10), min_size=1, max_size=6)


@given(
    earlier=st.lists(curves, min_size=0, max_size=8),
    curve=curves,
    maximize=st.booleans(),
)
def test_the_rule_matches_its_definition(
    earlier: list[list[float]], curve: list[float], maximize: bool
) -> None:
    epoch = len(curve) - 1
    averages = [statistics.fmean(c[: epoch + 1]) for c in earlier if len(c) > epoch]
    decision = should_stop(curve, earlier, maximize)
    if len(averages) < MIN_TRIALS:
        assert not decision
        return
    median = statistics.median(averages)
    worse = curve[-1] < median if maximize else curve[-1] > median
    assert decision is worse


# ---- the guard: the rule decides at an epoch only where it predicts the final objective


def test_rank_correlation_with_ties_and_constant_sides() -> None:
    from sagebox.tuning.early_stopping import rank_correlation

    assert rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    assert rank_correlation([1, 1, 2, 3], [5, 5, 6, 7]) == pytest.approx(1.0)
    assert rank_correlation([1, 1, 1], [1, 2, 3]) is None


# Trials that start slowly finish best (shallow boosted trees): epoch 0 ranks them against
# their final values, epoch 2 with them.
SLOW_STARTERS = [
    [0.60, 0.70, 0.80, 0.82],
    [0.62, 0.69, 0.78, 0.80],
    [0.70, 0.72, 0.74, 0.75],
    [0.72, 0.73, 0.73, 0.74],
]


def test_an_epoch_that_ranks_trials_against_their_end_decides_nothing() -> None:
    from sagebox.tuning.early_stopping import epoch_predicts_final

    assert not epoch_predicts_final(SLOW_STARTERS, 0)
    assert epoch_predicts_final(SLOW_STARTERS, 2)
    # a new slow starter is below the median at epoch 0, but epoch 0 says nothing here
    assert should_stop([0.61], SLOW_STARTERS, maximize=True)  # the plain rule stops it
    assert not should_stop([0.61], SLOW_STARTERS, maximize=True, completed=SLOW_STARTERS)
    # at epoch 2, which does predict the end, a poor trial is stopped
    assert should_stop([0.7, 0.7, 0.70], SLOW_STARTERS, maximize=True, completed=SLOW_STARTERS)


def test_the_guard_needs_enough_completed_trials_and_lets_equal_ends_pass() -> None:
    from sagebox.tuning.early_stopping import epoch_predicts_final

    assert not epoch_predicts_final(SLOW_STARTERS[:2], 2)  # fewer than MIN_TRIALS
    assert epoch_predicts_final([[0.1, 0.5], [0.2, 0.5], [0.3, 0.5]], 0)  # nothing to lose


def test_without_completed_curves_the_plain_rule_applies() -> None:
    assert should_stop([1.9], EARLIER, maximize=True) is True
    assert should_stop([1.9], EARLIER, maximize=True, completed=None) is True
