"""Hyperparameter tuning: sagebox's strategies against random search, and the platform's cost.

Figures, each the median over ``--seeds`` seeds, on three offline binary tasks: German
credit (shipped with sagebox, one-hot), scikit-learn's breast cancer, and scikit-learn's
digits as 3/5/8/9 against the rest (70/30 stratified splits; nothing is downloaded).

1. Bayesian: trials to reach the best objective Random reaches in ``--trials`` (30)
   trials. Goal: 15 or fewer (half of them).
2. Hyperband: training wall time to reach Random's best, over Random's wall time for its
   ``--trials`` trials. Goal: at most 0.5. (Like figure 1's 15 of 30, the goal is against
   Random's whole budget; the ratio to Random's time up to its best trial is shown too.)
3. Early stopping (``TrainingJobEarlyStoppingType: Auto``, SageMaker's median rule), for
   Random and Bayesian: compute saved against the same job without it, and the best
   objective lost. Goal: at least 25% saved, at most 0.002 AUC lost.
4. Warm start (``IdenticalDataAndAlgorithm``, the parent a 30-trial Bayesian job): trials
   for the child to reach the parent's best. Goal: at most a third of the parent's 30
   trials (10); a third of the trials the parent took to reach its best is shown too.
5. Overhead per trial: a real tuning job through the control plane against Optuna run
   bare on the same objective; and sagebox's tuner loop against Optuna's bare ask/tell.

How it is measured, honestly:

- Figures 1-4 compare *strategies*, so they run sagebox's own tuning code in this process:
  the request is parsed by the control plane's ``tuning_request.parse`` and planned by
  ``tuning_service.plan_of``, and ``sagebox.tuning.tuner.Tuner`` runs it with the real
  strategies (Bayesian = Optuna's GPSampler fitted to the objective's ranks, Random,
  Hyperband), the real early-stopping rule, warm-start seeding
  (``warm_start.check_warm_start`` on the parent's documents) and completion criteria.
  Only the backend differs: a trial trains XGBoost in this process
  (``benchmarks/tuning_objective.py``) instead of running a training job, one boosting
  round each time the tuner reads its objective curve. Real training jobs
  (process start, staging, reports) would make seeds x trials x tasks x strategies take
  hours on two cores; figure 5 measures what they add.
- The objective is ``validation:auc`` after the last round; the per-round validation AUC
  is the curve early stopping and Hyperband watch. The ranges are the AWS ML guide's
  XGBoost tuning example (eta 0-1, alpha 0-2, min_child_weight 1-10, max_depth 1-10) plus
  subsample 0.5-1; ``num_round`` is static (``--rounds``, 81) and is Hyperband's
  MaxResource (MinResource 1, so rungs at 1, 3, 9, 27, 81 rounds). XGBoost's seed is fixed,
  so a configuration always scores the same.
- Compute is boosting rounds trained and the wall time of that training (booster creation
  plus rounds, timed per trial), summed over trials run one at a time (parallelism 1, no
  simulated parallelism). The strategy's own time (the Gaussian process) is not in it.
- Budgets: Random and Bayesian run ``--trials`` trials. Hyperband gets the compute of
  Random's ``--trials`` full trials, given as ``MaxRuntimeInSeconds`` on a simulated clock
  that ticks one second per boosting round, so the tuner's own runtime limit ends it.
  Random and Hyperband with one seed draw the same configurations in the same order.
- Warm start: the child is Bayesian with another seed and
  ``TargetObjectiveMetricValue`` = the parent's best, so it ends when it gets there
  (``--trials`` at most); a cold Bayesian and a cold Random job with the child's seed
  and the same target are shown beside it.
- Figure 5a runs a real Random tuning job (``--platform-trials`` trials, one at a time,
  the built-in XGBoost, ``--platform-rounds`` rounds, German credit) through an embedded
  Session on a temporary home, timed from CreateHyperParameterTuningJob to its end as
  Describe shows it; Optuna runs bare in this process with the same sampler, seed, ranges
  and ``xgboost.train`` call. Overhead per trial = wall / trials minus the objective's own
  time (for sagebox, the same ``xgboost.train`` re-run here on each trial's values).
  Figure 5b runs the tuner loop with trials that train nothing (a fixed curve, one value
  per read) against Optuna's ask / report / tell with the same sampler (for Bayesian,
  Optuna's stock GPSampler: sagebox's subclass also ranks the values, microseconds).
- Wall times are from a shared 2-core machine: expect noise; rounds are exact. PyTorch
  and XGBoost get one thread each (``OMP_NUM_THREADS=1``).

Run: ``MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=1 .venv/bin/python benchmarks/tuning.py
[--seeds 5] [--trials 30] [--rounds 81] [--min-resource 1] [--tasks ...] [--figures 1 2 3 4 5]
[--platform-trials 5]``. Prints a table per figure and the per-seed numbers; nothing is
asserted.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
# One thread for PyTorch (the Gaussian process) and XGBoost: on two shared cores, more
# threads made the Bayesian strategy about 4x slower, with the same trials.
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tuning_objective import (
    BUCKET,
    INSTANT_STEPS,
    TASKS,
    JobResult,
    Task,
    booster_params,
    csv_bytes,
    load_task,
    loop_seconds,
    request,
    run_job,
    synthetic_curve,
)

from sagebox.tuning.ranges import MAX_TRAINING_JOBS

LOOP_REPEATS = 3
OBJECTIVE_REPEATS = 3
INF = math.inf


# ---- small helpers ----------------------------------------------------------------------
def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def count(value: float, limit: int) -> str:
    """A trial count, or ``>limit`` when the target was never reached."""
    return f">{limit}" if math.isinf(value) else f"{value:g}"


def verdict(met: bool) -> str:
    return "ok" if met else "MISSED"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Runs:
    """The tuning jobs of one task and seed, each run once and shared by the figures."""

    def __init__(
        self, task: Task, seed: int, trials: int, rounds: int, min_resource: int = 1
    ) -> None:
        self.task, self.seed, self.trials, self.rounds = task, seed, trials, rounds
        self.min_resource = min_resource
        self._done: dict[str, JobResult] = {}

    def _run(
        self, key: str, build: Callable[[], dict[str, Any]], parents: Sequence[Any] = ()
    ) -> JobResult:
        if key not in self._done:
            self._done[key] = run_job(self.task, build(), parents)
        return self._done[key]

    def _request(self, name: str, strategy: str, **extra: Any) -> dict[str, Any]:
        extra.setdefault("seed", self.seed)
        extra.setdefault("max_jobs", self.trials)
        return request(name, strategy, rounds=self.rounds, **extra)

    def random(self, early_stopping: bool = False) -> JobResult:
        key = "random-es" if early_stopping else "random"
        return self._run(key, lambda: self._request(key, "Random", early_stopping=early_stopping))

    def bayesian(self, early_stopping: bool = False) -> JobResult:
        key = "bayesian-es" if early_stopping else "bayesian"
        return self._run(key, lambda: self._request(key, "Bayesian", early_stopping=early_stopping))

    def hyperband(self) -> JobResult:
        budget = self.random().rounds  # Random's compute, in rounds (the simulated clock)
        return self._run(
            "hyperband",
            lambda: self._request(
                "hyperband",
                "Hyperband",
                max_jobs=MAX_TRAINING_JOBS,  # AWS's most; the budget ends it first
                hyperband=(self.min_resource, self.rounds),
                max_runtime=budget,
            ),
        )

    def warm(self, strategy: str, warm_start: bool) -> JobResult:
        """A job with another seed that ends once it reaches the Bayesian parent's best."""
        parent = self.bayesian()
        key = f"{'warm' if warm_start else 'cold'}-{strategy.lower()}"

        def build() -> dict[str, Any]:
            return self._request(
                key,
                strategy,
                seed=self.seed + 1000,
                completion={"TargetObjectiveMetricValue": parent.best},
                warm_start_parent="bayesian" if warm_start else None,
            )

        return self._run(key, build, [parent.parent_document()] if warm_start else ())


def table(header: str, rows: Iterable[Sequence[Any]]) -> None:
    """Right-aligned columns, as wide as their widest cell; ``header`` names them, split
    by ``|``."""
    names = header.split("|")
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), 8) for h in names]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    for row in [names, *cells]:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


# ---- figure 1: Bayesian against Random ---------------------------------------------------
def figure_bayesian(runs: Mapping[str, list[Runs]], trials: int) -> None:
    goal = trials // 2
    print(
        f"\n== 1. Bayesian: trials to reach the best Random reaches in {trials} trials "
        f"(goal <= {goal}) =="
    )
    summary, raw = [], []
    for task, per_seed in runs.items():
        needed = []
        for r in per_seed:
            random, bayes = r.random(), r.bayesian()
            reached = bayes.reaching(random.best)
            needed.append(INF if reached is None else reached[0])
            own = random.reaching(random.best)
            raw.append(
                [
                    task,
                    r.seed,
                    f"{random.best:.4f}",
                    own[0] if own else "-",
                    f"{bayes.best:.4f}",
                    count(needed[-1], trials),
                ]
            )
        m = median(needed)
        summary.append(
            [
                task,
                f"{median(r.random().best for r in per_seed):.4f}",
                f"{median(r.bayesian().best for r in per_seed):.4f}",
                count(m, trials),
                verdict(m <= goal),
            ]
        )
    table("task|Random best|Bayes best|Bayes trials|goal", summary)
    print("per seed:")
    table("task|seed|Random best|at trial|Bayes best|Bayes trials to R.best", raw)


# ---- figure 2: Hyperband against Random --------------------------------------------------
def figure_hyperband(runs: Mapping[str, list[Runs]], trials: int) -> None:
    print(
        f"\n== 2. Hyperband: training wall time to reach Random's best, over Random's wall time "
        f"for its {trials} trials (goal <= 0.5) =="
    )
    summary, raw = [], []
    for task, per_seed in runs.items():
        ratios, to_best, rounds = [], [], []
        for r in per_seed:
            random, band = r.random(), r.hyperband()
            own = random.reaching(random.best)
            assert own is not None
            got = band.reaching(random.best)
            ratios.append(INF if got is None else got[2] / random.seconds)
            to_best.append(INF if got is None else got[2] / own[2])
            rounds.append(INF if got is None else got[1] / random.rounds)
            raw.append(
                [
                    task,
                    r.seed,
                    f"{random.best:.4f}",
                    f"{random.seconds:.3f}",
                    f"{own[2]:.3f}",
                    f"{band.best:.4f}",
                    len(band.trials),
                    "-" if got is None else f"{got[2]:.3f}",
                    "-" if got is None else got[1],
                    f"{ratios[-1]:.2f}",
                    f"{to_best[-1]:.2f}",
                ]
            )
        m = median(ratios)
        summary.append(
            [
                task,
                f"{median(r.random().best for r in per_seed):.4f}",
                f"{median(r.hyperband().best for r in per_seed):.4f}",
                f"{median(len(r.hyperband().trials) for r in per_seed):g}",
                f"{m:.2f}",
                f"{median(rounds):.2f}",
                f"{median(to_best):.2f}",
                verdict(m <= 0.5),
            ]
        )
    table("task|R best|HB best|HB trials|time ratio|rounds ratio|vs R to its best|goal", summary)
    print(
        f"per seed (s = training seconds; Hyperband's budget = the boosting rounds of Random's "
        f"{trials} trials; inf = Random's best not reached within it; the last column divides "
        "by Random's time up to its best trial instead):"
    )
    table(
        "task|seed|R best|R s|R s to best|HB best|HB trials|HB s to R best|HB rounds|ratio"
        "|vs R to its best",
        raw,
    )


# ---- figure 3: early stopping ------------------------------------------------------------
def figure_early_stopping(runs: Mapping[str, list[Runs]]) -> None:
    print(
        "\n== 3. Early stopping (Auto, median rule): compute saved and AUC lost "
        "(goal >= 25% saved, <= 0.002 lost) =="
    )
    summary, raw = [], []
    for strategy in ("Random", "Bayesian"):
        for task, per_seed in runs.items():
            saved, saved_time, lost, stopped = [], [], [], []
            for r in per_seed:
                off, on = (
                    (r.random(), r.random(True))
                    if strategy == "Random"
                    else (r.bayesian(), r.bayesian(True))
                )
                saved.append(1 - on.rounds / off.rounds)
                saved_time.append(1 - on.seconds / off.seconds)
                lost.append(off.best - on.best)
                stopped.append(sum(t.status == "Stopped" for t in on.trials))
                raw.append(
                    [
                        strategy,
                        task,
                        r.seed,
                        off.rounds,
                        on.rounds,
                        f"{saved[-1]:.0%}",
                        f"{saved_time[-1]:.0%}",
                        f"{off.best:.4f}",
                        f"{on.best:.4f}",
                        f"{lost[-1]:+.4f}",
                        stopped[-1],
                    ]
                )
            s, lo = median(saved), median(lost)
            summary.append(
                [
                    strategy,
                    task,
                    f"{s:.0%}",
                    f"{median(saved_time):.0%}",
                    f"{lo:+.4f}",
                    f"{max(lost):+.4f}",
                    f"{median(stopped):g}",
                    verdict(s >= 0.25 and lo <= 0.002),
                ]
            )
    table("strategy|task|rounds saved|time saved|AUC lost|worst seed|stopped|goal", summary)
    print("per seed (lost = best without early stopping - best with it):")
    table(
        "strategy|task|seed|rounds off|rounds on|saved|time saved|best off|best on|lost|stopped",
        raw,
    )


# ---- figure 4: warm start ----------------------------------------------------------------
COMPARED = (("Bayesian", True), ("Bayesian", False), ("Random", False))


def figure_warm_start(runs: Mapping[str, list[Runs]], trials: int) -> None:
    goal = trials // 3
    print(
        f"\n== 4. Warm start (IdenticalDataAndAlgorithm, parent = a {trials}-trial Bayesian job): "
        f"trials to reach the parent's best (goal <= a third of the parent's {trials}: {goal}) =="
    )
    summary, raw = [], []
    for task, per_seed in runs.items():
        found: dict[tuple[str, bool], list[float]] = {key: [] for key in COMPARED}
        parent_counts = []
        for r in per_seed:
            parent = r.bayesian()
            own = parent.reaching(parent.best)
            assert own is not None
            parent_counts.append(own[0])
            for strategy, warm in COMPARED:
                got = r.warm(strategy, warm).reaching(parent.best)
                found[strategy, warm].append(INF if got is None else got[0])
            raw.append(
                [
                    task,
                    r.seed,
                    f"{parent.best:.4f}",
                    own[0],
                    *(count(found[key][-1], trials) for key in COMPARED),
                ]
            )
        child = median(found["Bayesian", True])
        summary.append(
            [
                task,
                f"{median(parent_counts):g}",
                count(child, trials),
                count(median(found["Bayesian", False]), trials),
                count(median(found["Random", False]), trials),
                verdict(child <= goal),
                verdict(child <= median(parent_counts) / 3),
            ]
        )
    table(
        "task|parent trials to its best|warm Bayes|cold Bayes|cold Random"
        f"|goal <= {goal}|<= parent's to best / 3",
        summary,
    )
    print(
        "per seed (cold = the child's request, seed and target without WarmStartConfig; "
        f">{trials} = not reached in {trials} trials):"
    )
    table("task|seed|parent best|parent trials to it|warm Bayes|cold Bayes|cold Random", raw)


# ---- figure 5: overhead per trial ---------------------------------------------------------
def _seconds(value: Any) -> float:
    """A timestamp of the API (datetime or ISO text) as epoch seconds."""
    from datetime import datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return float(value.timestamp())


def _bare_optuna(
    objective: Callable[[dict[str, str]], float], trials: int, seed: int
) -> tuple[float, list[dict[str, str]]]:
    """Optuna's create_study + optimize with the same ranges: its wall seconds, and the
    values it tried."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tried: list[dict[str, str]] = []

    def suggest(trial: Any) -> float:
        tuned = {
            "eta": str(trial.suggest_float("eta", 0, 1)),
            "alpha": str(trial.suggest_float("alpha", 0, 2)),
            "min_child_weight": str(trial.suggest_float("min_child_weight", 1, 10)),
            "subsample": str(trial.suggest_float("subsample", 0.5, 1)),
            "max_depth": str(trial.suggest_int("max_depth", 1, 10)),
        }
        tried.append(tuned)
        return objective(tuned)

    start = time.perf_counter()
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed)
    )
    study.optimize(suggest, n_trials=trials)
    return time.perf_counter() - start, tried


def _own_seconds(
    objective: Callable[[dict[str, str]], float], tried: Sequence[dict[str, str]]
) -> float:
    """The objective's own time per trial: for each trial's values the fastest of
    ``OBJECTIVE_REPEATS`` runs (the least disturbed by other work on the machine), averaged."""

    def once(tuned: dict[str, str]) -> float:
        start = time.perf_counter()
        objective(tuned)
        return time.perf_counter() - start

    return statistics.fmean(min(once(t) for _ in range(OBJECTIVE_REPEATS)) for t in tried)


def _tuning_job(body: dict[str, Any], task: Task, session: Any) -> tuple[float, list[Any]]:
    """Run ``body`` as a real tuning job; its wall seconds (create -> ended) and trials."""
    objects = session.home.objects
    objects.create_bucket(BUCKET)
    objects.put_object(BUCKET, "train/train.csv", csv_bytes(task.train_x, task.train_y))
    objects.put_object(
        BUCKET, "validation/validation.csv", csv_bytes(task.validation_x, task.validation_y)
    )
    name = body["HyperParameterTuningJobName"]
    start = time.perf_counter()
    session.control.create_hyper_parameter_tuning_job(**body)
    while True:
        described = session.control.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name
        )
        if described["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.05)
    wall = time.perf_counter() - start
    if described["HyperParameterTuningJobStatus"] != "Completed":
        raise RuntimeError(f"the tuning job ended {described}")
    summaries: list[Any] = []
    page: dict[str, Any] = {"NextToken": None}
    while "NextToken" in page:
        token = {"NextToken": page["NextToken"]} if page["NextToken"] else {}
        page = session.control.list_training_jobs_for_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name, MaxResults=100, SortBy="CreationTime", **token
        )
        summaries.extend(page["TrainingJobSummaries"])
    return wall, summaries


def figure_platform(trials: int, rounds: int, loop_trials: int, seed: int) -> None:
    import xgboost

    from sagebox.home import Home
    from sagebox.session import Session

    print(
        f"\n== 5a. Per-trial overhead: a tuning job through the control plane ({trials} "
        f"Random trials, one at a time, built-in XGBoost, {rounds} rounds, German credit) "
        "against Optuna bare (create_study + optimize) on the same objective =="
    )
    task = load_task("german-credit")
    train, validation = task.dmatrices()
    static = request("x", "Random", seed=0, max_jobs=1, rounds=rounds)["TrainingJobDefinition"][
        "StaticHyperParameters"
    ]

    def objective(tuned: dict[str, str]) -> float:
        """What a trial trains: the built-in's parameters, train and validation evaluated."""
        params, num_round = booster_params({**static, **tuned})
        result: dict[str, Any] = {}
        xgboost.train(
            params,
            train,
            num_round,
            evals=[(train, "train"), (validation, "validation")],
            evals_result=result,
            verbose_eval=False,
        )
        return float(result["validation"]["auc"][-1])

    objective({"eta": "0.3", "max_depth": "3"})  # warm XGBoost up outside the timings
    optuna_wall, optuna_tried = _bare_optuna(objective, trials, seed)
    optuna_objective = _own_seconds(objective, optuna_tried)

    with tempfile.TemporaryDirectory(prefix="sagebox-bench-", ignore_cleanup_errors=True) as tmp:
        home = Path(tmp) / "home"
        Home.open(home)
        session = Session(home)
        body = request(
            "bench-platform",
            "Random",
            seed=seed,
            max_jobs=trials,
            rounds=rounds,
            role=session.get_execution_role(),
        )
        job_wall, summaries = _tuning_job(body, task, session)
        time.sleep(5)  # let the last trial's after-work (MLflow) end before timing more
    job_objective = _own_seconds(objective, [dict(s["TunedHyperParameters"]) for s in summaries])
    created = [_seconds(s["CreationTime"]) for s in summaries]
    ended = [_seconds(s["TrainingEndTime"]) for s in summaries]
    in_job = statistics.fmean(e - c for c, e in zip(created, ended, strict=True))
    gaps = [c - e for c, e in zip(created[1:], ended[:-1], strict=True)]
    sagebox_trial, optuna_trial = job_wall / trials, optuna_wall / trials
    table(
        "|wall s|per trial s|objective s|overhead/trial s",
        [
            [
                "sagebox tuning job",
                f"{job_wall:.2f}",
                f"{sagebox_trial:.3f}",
                f"{job_objective:.3f}",
                f"{sagebox_trial - job_objective:.3f}",
            ],
            [
                "Optuna bare",
                f"{optuna_wall:.2f}",
                f"{optuna_trial:.3f}",
                f"{optuna_objective:.3f}",
                f"{optuna_trial - optuna_objective:.3f}",
            ],
        ],
    )
    print(
        f"of sagebox's {sagebox_trial:.2f} s a trial: the training job itself (created -> "
        f"training ended) {in_job:.2f} s; one trial's end to the next one's creation "
        f"{statistics.fmean(gaps) if gaps else float('nan'):.2f} s (the trial's wrap-up after "
        "training, the tuner's polling every 0.5 s, the launch); the rest is the tuner's start "
        "and the job's end after the last trial."
    )
    print("per trial (sagebox): created -> training ended s")
    print("  " + "  ".join(f"{e - c:.2f}" for c, e in zip(created, ended, strict=True)))

    print(
        "\n== 5b. The in-process tuner loop (strategy ask/tell + bookkeeping) against "
        f"Optuna's bare ask/tell: trials that train nothing, {INSTANT_STEPS} reported values "
        f"each, median of {LOOP_REPEATS} runs =="
    )
    rows = []
    for strategy in ("Random", "Bayesian"):
        n = loop_trials
        body = request(
            f"loop-{strategy.lower()}", strategy, seed=seed, max_jobs=n, rounds=INSTANT_STEPS
        )
        sagebox_runs, bare_runs = [], []
        for _ in range(LOOP_REPEATS):  # interleaved, so both see the same load
            sagebox_runs.append(loop_seconds(body))
            bare_runs.append(_bare_ask_tell(strategy, n, seed))
        ms = {
            (side, kind): median(run[kind] for run in runs) * 1000 / n
            for side, runs in (("sagebox", sagebox_runs), ("optuna", bare_runs))
            for kind in (0, 1)
        }
        rows.append(
            [
                strategy,
                n,
                f"{ms['sagebox', 0]:.2f}",
                f"{ms['optuna', 0]:.2f}",
                f"{ms['sagebox', 0] - ms['optuna', 0]:.2f}",
                f"{ms['sagebox', 1]:.2f}",
                f"{ms['optuna', 1]:.2f}",
                f"{ms['sagebox', 1] - ms['optuna', 1]:.2f}",
            ]
        )
    table(
        "strategy|trials|sagebox wall ms|Optuna wall ms|overhead"
        "|sagebox CPU ms|Optuna CPU ms|overhead",
        rows,
    )
    print("(per trial; CPU time is the steadier measure on a shared machine)")


def _bare_ask_tell(strategy: str, trials: int, seed: int) -> tuple[float, float]:
    """Wall and CPU seconds of Optuna's ask / report / tell on the same instant trials."""
    import optuna
    from optuna.distributions import FloatDistribution, IntDistribution

    from sagebox.tuning.strategies.bayesian import STARTUP_TRIALS

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = {
        "eta": FloatDistribution(0, 1),
        "alpha": FloatDistribution(0, 2),
        "min_child_weight": FloatDistribution(1, 10),
        "subsample": FloatDistribution(0.5, 1),
        "max_depth": IntDistribution(1, 10),
    }
    wall, cpu = time.perf_counter(), time.process_time()
    sampler = (
        optuna.samplers.GPSampler(seed=seed, n_startup_trials=STARTUP_TRIALS)
        if strategy == "Bayesian"
        else optuna.samplers.RandomSampler(seed=seed)
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for _ in range(trials):
        trial = study.ask(space)
        curve = synthetic_curve(trial.params, INSTANT_STEPS)
        for step, value in enumerate(curve, start=1):
            trial.report(value, step)
        study.tell(trial, curve[-1])
    return time.perf_counter() - wall, time.process_time() - cpu


# ---- main ----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds per task (default 5)")
    parser.add_argument("--trials", type=int, default=30, help="Random's trial budget")
    parser.add_argument("--rounds", type=int, default=81, help="num_round = MaxResource")
    parser.add_argument("--min-resource", type=int, default=1, help="Hyperband's MinResource")
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--figures", nargs="*", type=int, default=[1, 2, 3, 4, 5])
    parser.add_argument("--platform-trials", type=int, default=5)
    parser.add_argument("--platform-rounds", type=int, default=20)
    args = parser.parse_args()
    figures = set(args.figures)
    began = time.perf_counter()

    runs: dict[str, list[Runs]] = {}
    if figures & {1, 2, 3, 4}:
        print(
            f"tasks (70/30 stratified), {args.seeds} seeds, {args.trials} trials, "
            f"num_round {args.rounds}:"
        )
    for name in args.tasks:
        if not figures & {1, 2, 3, 4}:
            break
        task = load_task(name)
        print("  " + task.describe())
        runs[name] = []
        for seed in range(1, args.seeds + 1):
            start = time.perf_counter()
            r = Runs(task, seed, args.trials, args.rounds, args.min_resource)
            r.random()
            if figures & {1, 3, 4}:
                r.bayesian()
            if 2 in figures:
                r.hyperband()
            if 3 in figures:
                r.random(True), r.bayesian(True)
            if 4 in figures:
                for strategy, warm in COMPARED:
                    r.warm(strategy, warm)
            runs[name].append(r)
            progress(
                f"[{time.perf_counter() - began:6.0f} s] {name} seed {seed}: "
                f"{time.perf_counter() - start:.1f} s"
            )
    if 1 in figures:
        figure_bayesian(runs, args.trials)
    if 2 in figures:
        figure_hyperband(runs, args.trials)
    if 3 in figures:
        figure_early_stopping(runs)
    if 4 in figures:
        figure_warm_start(runs, args.trials)
    if 5 in figures:
        figure_platform(args.platform_trials, args.platform_rounds, args.trials, seed=1)
    print(f"\n(total {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
