"""The strategies: ranges and scales respected, Grid's combinations, seeds, learning."""

from __future__ import annotations

import itertools
import math
import random
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping

import pytest

from sagebox.errors import ValidationError
from sagebox.tuning._base import Evaluated, Objective, Strategy, Trial
from sagebox.tuning.ranges import contains, parse_ranges
from sagebox.tuning.strategies import STRATEGIES, strategy
from sagebox.tuning.strategies.grid import grid_size
from sagebox.tuning.strategies.hyperband import resources

MIXED = parse_ranges(
    {
        "ContinuousParameterRanges": [
            {"Name": "eta", "MinValue": "0.001", "MaxValue": "0.5", "ScalingType": "Auto"},
            {
                "Name": "momentum",
                "MinValue": "0.5",
                "MaxValue": "0.999",
                "ScalingType": "ReverseLogarithmic",
            },
        ],
        "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "12"}],
        "CategoricalParameterRanges": [{"Name": "booster", "Values": ["gbtree", "dart"]}],
    }
)
CATEGORICAL = parse_ranges(
    {
        "CategoricalParameterRanges": [
            {"Name": "tree_method", "Values": ["auto", "exact", "approx", "hist"]},
            {"Name": "grow_policy", "Values": ["depthwise", "lossguide"]},
            {"Name": "max_depth", "Values": ["3", "6", "9"]},
        ]
    }
)
MAXIMIZE = Objective("validation:auc", "Maximize")
MINIMIZE = Objective("validation:rmse", "Minimize")
OPTUNA_STRATEGIES = ["Random", "Bayesian", "Hyperband"]


def make(name: str, ranges=MIXED, objective=MAXIMIZE, seed=7, max_trials=20, **kw) -> Strategy:  # type: ignore[no-untyped-def]
    if name == "Hyperband":
        kw.setdefault("min_resource", 1)
        kw.setdefault("max_resource", 9)
    return strategy(name)(ranges, objective, seed=seed, max_trials=max_trials, **kw)


def score(h: Mapping[str, str]) -> float:
    """A made-up objective over MIXED, for tells."""
    return -abs(math.log10(float(h["eta"])) + 1.5) - abs(int(h["max_depth"]) - 6) / 10


def run(
    s: Strategy, n: int, objective: Callable[[Mapping[str, str]], float] = score
) -> list[Trial]:
    trials = []
    for _ in range(n):
        trial = s.ask()
        assert trial is not None
        trials.append(trial)
        s.tell(trial, Evaluated(trial.hyperparameters, objective(trial.hyperparameters)))
    return trials


def test_registry_names_the_four_aws_strategies_and_imports_lazily() -> None:
    assert set(STRATEGIES) == {"Bayesian", "Random", "Grid", "Hyperband"}
    for name in STRATEGIES:
        assert strategy(name).name == name
    with pytest.raises(ValidationError, match="Unknown tuning strategy 'Bayes'"):
        strategy("Bayes")
    probe = "import sys, sagebox.tuning.strategies; print('optuna' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("name", OPTUNA_STRATEGIES)
def test_trials_are_numbered_from_0_and_stay_within_the_ranges(name: str) -> None:
    s = make(name, max_trials=12)
    trials = run(s, 12)
    assert [t.number for t in trials] == list(range(12))
    by_name = {r.name: r for r in MIXED}
    for t in trials:
        assert set(t.hyperparameters) == set(by_name)
        for key, value in t.hyperparameters.items():
            assert isinstance(value, str) and contains(by_name[key], value), (key, value)
    assert s.ask() is None  # MaxNumberOfTrainingJobs asked


def one(name: str, scaling: str, low: str, high: str, kind: str = "Continuous") -> list[float]:
    ranges = parse_ranges(
        {
            f"{kind}ParameterRanges": [
                {"Name": "p", "MinValue": low, "MaxValue": high, "ScalingType": scaling}
            ]
        }
    )
    s = make(name, ranges=ranges, max_trials=400)
    return [float(t.hyperparameters["p"]) for t in run(s, 400, lambda h: 0.0)]


@pytest.mark.parametrize("name", ["Random", "Hyperband"])
def test_sampling_follows_the_scale(name: str) -> None:
    log = one(name, "Logarithmic", "0.0001", "1")
    assert statistics.fmean(math.log10(v) for v in log) == pytest.approx(-2, abs=0.2)
    linear = one(name, "Linear", "0.0001", "1")
    assert statistics.fmean(linear) == pytest.approx(0.5, abs=0.05)
    reverse = one(name, "ReverseLogarithmic", "0", "0.999")
    assert statistics.fmean(math.log10(1 - v) for v in reverse) == pytest.approx(-1.5, abs=0.15)
    integers = one(name, "Logarithmic", "1", "10000", kind="Integer")
    assert all(v == int(v) for v in integers)
    assert statistics.median(integers) == pytest.approx(100, rel=0.5)


def test_bayesian_models_log_ranges_on_their_scale() -> None:
    """Half the log range is below 0.01: a linear model would almost never go there."""
    ranges = parse_ranges(
        {
            "ContinuousParameterRanges": [
                {"Name": "p", "MinValue": "0.0001", "MaxValue": "1", "ScalingType": "Logarithmic"}
            ]
        }
    )
    values = [
        float(t.hyperparameters["p"])
        for t in run(make("Bayesian", ranges=ranges), 20, lambda h: 0.0)
    ]
    assert sum(v < 0.01 for v in values) >= 5


def test_grid_enumerates_every_combination_once() -> None:
    assert grid_size(CATEGORICAL) == 24
    s = make("Grid", ranges=CATEGORICAL, max_trials=24)
    trials = run(s, 24, lambda h: 0.0)
    assert s.ask() is None
    seen = [tuple(t.hyperparameters[r.name] for r in CATEGORICAL) for t in trials]
    assert sorted(seen) == sorted(itertools.product(*(r.values for r in CATEGORICAL)))
    assert [t.number for t in trials] == list(range(24))


def test_grid_order_is_shuffled_by_the_seed() -> None:
    def order(seed: int | None) -> list[Mapping[str, str]]:
        s = make("Grid", ranges=CATEGORICAL, seed=seed, max_trials=24)
        return [t.hyperparameters for t in run(s, 24, lambda h: 0.0)]

    assert order(7) == order(7)
    assert order(7) != order(8)
    assert order(None)[0] == {"tree_method": "auto", "grow_policy": "depthwise", "max_depth": "3"}


def test_grid_takes_only_categorical_ranges_and_derives_the_job_count() -> None:
    grid = strategy("Grid")
    with pytest.raises(
        ValidationError,
        match=r"only categorical.*got eta \(Continuous\), momentum \(Continuous\), max_depth",
    ):
        grid.training_job_count(MIXED, None)
    assert grid.training_job_count(CATEGORICAL, None) == 24
    assert grid.training_job_count(CATEGORICAL, 24) == 24
    with pytest.raises(ValidationError, match=r"MaxNumberOfTrainingJobs is 10.*: 24"):
        grid.training_job_count(CATEGORICAL, 10)
    with pytest.raises(ValidationError, match="MaxNumberOfTrainingJobs is 10"):
        make("Grid", ranges=CATEGORICAL, max_trials=10)
    big = parse_ranges(
        {
            "CategoricalParameterRanges": [
                {"Name": f"c{i}", "Values": [str(v) for v in range(10)]} for i in range(3)
            ]
        }
    )
    with pytest.raises(ValidationError, match=r"1000 combinations.*at most 750"):
        grid.training_job_count(big, None)


def test_the_other_strategies_need_max_number_of_training_jobs() -> None:
    with pytest.raises(
        ValidationError, match="MaxNumberOfTrainingJobs is required with the Random"
    ):
        strategy("Random").training_job_count(MIXED, None)
    assert strategy("Bayesian").training_job_count(MIXED, 50) == 50


def drive(s: Strategy, n: int) -> list[tuple[Mapping[str, str], int | None]]:
    """Ask n trials, report a curve for each, tell the result; what was asked and stopped."""
    rng = random.Random(0)  # the same results for every strategy driven
    out = []
    for _ in range(n):
        trial = s.ask()
        assert trial is not None
        level = rng.random()
        stopped = None
        for step in range(1, 10):
            if s.report(trial, step, level * step / 9):
                stopped = step
                break
        state = "Stopped" if stopped is not None and stopped < 9 else "Completed"
        s.tell(trial, Evaluated(trial.hyperparameters, level, state=state))
        out.append((dict(trial.hyperparameters), stopped))
    return out


@pytest.mark.parametrize("name", ["Random", "Grid", "Hyperband", "Bayesian"])
def test_the_same_seed_gives_the_same_trials(name: str) -> None:
    ranges = CATEGORICAL if name == "Grid" else MIXED
    max_trials = 24 if name == "Grid" else 12
    first = drive(make(name, ranges=ranges, seed=7, max_trials=max_trials), 10)
    second = drive(make(name, ranges=ranges, seed=7, max_trials=max_trials), 10)
    assert first == second
    assert first != drive(make(name, ranges=ranges, seed=8, max_trials=max_trials), 10)


def quadratic(h: Mapping[str, str]) -> float:
    return (float(h["x"]) - 1.3) ** 2 + 2 * (float(h["y"]) + 0.7) ** 2


PLANE = parse_ranges(
    {
        "ContinuousParameterRanges": [
            {"Name": "x", "MinValue": "-5", "MaxValue": "5"},
            {"Name": "y", "MinValue": "-5", "MaxValue": "5"},
        ]
    }
)


def best_of(name: str, seed: int, n: int = 20, prior: tuple[Evaluated, ...] = ()) -> float:
    s = make(name, ranges=PLANE, objective=MINIMIZE, seed=seed, max_trials=n, prior=prior)
    return min(quadratic(t.hyperparameters) for t in run(s, n, quadratic))


def test_bayesian_beats_random_on_a_smooth_objective() -> None:
    found = []
    for seed in range(3):
        bayesian, random_ = best_of("Bayesian", seed), best_of("Random", seed)
        assert bayesian < random_, (seed, bayesian, random_)
        found.append(bayesian)
    # the GP of ranks is robust to outliers, at the cost of some precision on a smooth,
    # noise-free objective (raw values would pin this one down to about 0.001)
    assert statistics.median(found) < 0.1, found


def test_bayesian_search_is_the_same_for_any_increasing_transform_of_the_objective() -> None:
    # The GP sees the ranks' normal scores: AUC or its logit, a loss or exp of it, and one
    # disastrous trial (a configuration that learns nothing) all give the same next points.
    def exploded(h: Mapping[str, str]) -> float:
        value = quadratic(h)
        return math.exp(value) if value > 20 else value

    def trials(objective: Callable[[Mapping[str, str]], float]) -> list[dict[str, str]]:
        s = make("Bayesian", ranges=PLANE, objective=MINIMIZE, seed=3, max_trials=12)
        return [dict(t.hyperparameters) for t in run(s, 12, objective)]

    plain = trials(quadratic)
    assert trials(lambda h: math.exp(quadratic(h) / 10)) == plain
    assert trials(exploded) == plain


def test_normal_scores_are_rank_quantiles_with_ties_averaged() -> None:
    from statistics import NormalDist

    from sagebox.tuning.strategies.bayesian import normal_scores

    scores = normal_scores([0.99, 0.5, 0.98, 0.98])
    q = NormalDist().inv_cdf
    assert scores == pytest.approx([q(3.5 / 4), q(0.5 / 4), q(2 / 4), q(2 / 4)])
    assert normal_scores([1e9, -1e9]) == pytest.approx([q(0.75), q(0.25)])


def test_bayesian_learns_from_warm_start_trials() -> None:
    rng = random.Random(0)
    prior = []
    for _ in range(12):
        h = {"x": repr(rng.uniform(-5, 5)), "y": repr(rng.uniform(-5, 5))}
        prior.append(Evaluated(h, quadratic(h)))
    outside = Evaluated({"x": "9.0", "y": "0.0"}, 0.0)  # ranges changed since the parent
    failed = Evaluated({"x": "1.3", "y": "-0.7"}, None, state="Failed")
    s = make(
        "Bayesian", ranges=PLANE, objective=MINIMIZE, max_trials=5, prior=(*prior, outside, failed)
    )
    assert s.prior_used == 12  # type: ignore[attr-defined]
    for seed in range(3):
        warm = best_of("Bayesian", seed, n=5, prior=tuple(prior))
        cold = best_of("Bayesian", seed, n=5)
        assert warm < cold, (seed, warm, cold)


def test_bayesian_falls_back_to_tpe_without_torch() -> None:
    """An install without PyTorch still tunes, with TPE, and says so."""
    script = """
import logging, sys
sys.modules["torch"] = None  # as if PyTorch were not installed
logging.basicConfig(level=logging.WARNING, format="%(message)s")
from sagebox.tuning._base import Evaluated, Objective
from sagebox.tuning.ranges import parse_ranges
from sagebox.tuning.strategies import strategy
x = {"Name": "x", "MinValue": "0", "MaxValue": "1"}
ranges = parse_ranges({"ContinuousParameterRanges": [x]})
s = strategy("Bayesian")(ranges, Objective("m", "Minimize"), seed=1, max_trials=8)
for _ in range(8):
    t = s.ask()
    s.tell(t, Evaluated(t.hyperparameters, (float(t.hyperparameters["x"]) - 0.3) ** 2))
print(s.sampler_name, "torch" in sys.modules and sys.modules["torch"] is not None)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["TPESampler", "False"]
    assert "uses Optuna's TPESampler instead of its Gaussian process" in out.stderr


def test_warm_start_trials_in_every_kind_of_range_are_used() -> None:
    asked = run(make("Random", max_trials=6), 6)
    prior = [Evaluated(t.hyperparameters, score(t.hyperparameters)) for t in asked]
    assert make("Bayesian", max_trials=2, prior=prior).prior_used == 6  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", OPTUNA_STRATEGIES)
def test_failed_and_stopped_trials_do_not_stop_the_search(name: str) -> None:
    s = make(name, max_trials=8)
    for i in range(8):
        trial = s.ask()
        assert trial is not None
        state = ("Completed", "Failed", "Stopped")[i % 3]
        objective = None if state == "Failed" else score(trial.hyperparameters)
        s.tell(trial, Evaluated(trial.hyperparameters, objective, state=state))
    assert s.ask() is None
    with pytest.raises(ValueError, match="Trial 3 is not running"):
        s.report(Trial(3, {}), 1, 0.5)


def test_hyperband_gives_every_trial_max_resource_and_prunes_poor_curves_at_rungs() -> None:
    s = make("Hyperband", min_resource=2, max_resource=18, max_trials=40)
    rng = random.Random(0)
    stops: list[tuple[float, int]] = []
    for _ in range(40):
        trial = s.ask()
        assert trial is not None and trial.resource == 18
        level = rng.random()
        step = next(step for step in range(1, 19) if s.report(trial, step, level))
        s.tell(
            trial, Evaluated(trial.hyperparameters, level, "Completed" if step == 18 else "Stopped")
        )
        stops.append((level, step))
    assert {step for _, step in stops} <= {2, 6, 18}  # rungs: MinResource * 3**k, and MaxResource
    pruned = [level for level, step in stops if step < 18]
    finished = [level for level, step in stops if step == 18]
    assert len(pruned) >= 10
    assert statistics.fmean(pruned) < statistics.fmean(finished)
    for i, (level, step) in enumerate(stops):
        if all(level > earlier for earlier, _ in stops[:i]):
            assert step == 18, "a trial better than every earlier one is never pruned"


def test_hyperband_resources_follow_aws() -> None:
    config = {
        "Strategy": "Hyperband",
        "StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 2, "MaxResource": 30}},
    }
    assert resources(config, {}) == (2, 30)
    assert resources({"Strategy": "Hyperband"}, {"num_round": "7", "epochs": "40"}) == (1, 40)
    with pytest.raises(ValidationError, match=r"needs HyperbandStrategyConfig\.MaxResource"):
        resources({"Strategy": "Hyperband"}, {"num_round": "100"})
    with pytest.raises(ValidationError, match="must be Off with the Hyperband"):
        resources({**config, "TrainingJobEarlyStoppingType": "Auto"}, {})
    with pytest.raises(ValidationError, match="MaxResource must be between 1 and 20000"):
        resources({"StrategyConfig": {"HyperbandStrategyConfig": {"MaxResource": 20001}}}, {})
    with pytest.raises(
        ValidationError, match=r"MinResource must be between 1 and MaxResource \(5\)"
    ):
        resources(
            {"StrategyConfig": {"HyperbandStrategyConfig": {"MinResource": 6, "MaxResource": 5}}},
            {},
        )
    with pytest.raises(ValidationError, match="needs MinResource and MaxResource"):
        strategy("Hyperband")(MIXED, MAXIMIZE, seed=1, max_trials=5)
