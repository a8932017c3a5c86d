"""The in-process side of ``benchmarks/tuning.py``: the tasks, the tuning request, and a
tuner backend whose trials train XGBoost in this process instead of as training jobs.

A trial is the work a sagebox XGBoost training job does, without the job: the
hyperparameters (static plus tuned, as AWS strings) are typed by the built-in algorithm's
own ``validate_hyperparameters`` and passed to XGBoost the way the algorithm passes them,
and the booster is trained round by round with ``Booster.update`` and ``Booster.eval_set``,
the loop ``xgboost.train`` runs. Each round's validation AUC is one point of the
objective metric ``validation:auc``; the backend trains one round each time the tuner
reads the trial's curve, so a trial the tuner stops (early stopping, Hyperband) really
stops training. Every trial is timed (booster creation plus its rounds) and its rounds
counted: those are the benchmark's "compute".
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

CREATED = datetime(2024, 1, 1, tzinfo=UTC)
BUCKET = "bench-tuning"
METRIC = "validation:auc"
# The AWS ML guide's XGBoost tuning example (eta, alpha, min_child_weight, max_depth), plus
# subsample from the guide's table of tunable XGBoost hyperparameters.
PARAMETER_RANGES: dict[str, Any] = {
    "ContinuousParameterRanges": [
        {"Name": "eta", "MinValue": "0", "MaxValue": "1"},
        {"Name": "alpha", "MinValue": "0", "MaxValue": "2"},
        {"Name": "min_child_weight", "MinValue": "1", "MaxValue": "10"},
        {"Name": "subsample", "MinValue": "0.5", "MaxValue": "1"},
    ],
    "IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "10"}],
    "CategoricalParameterRanges": [],
}


# ---- tasks ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Task:
    """A binary classification problem split 70/30 (stratified) into train and validation."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    validation_x: np.ndarray
    validation_y: np.ndarray
    matrices: list[Any] = field(default_factory=list, compare=False)  # cached DMatrix pair

    def dmatrices(self) -> tuple[Any, Any]:
        import xgboost

        if not self.matrices:
            self.matrices.append(xgboost.DMatrix(self.train_x, label=self.train_y))
            self.matrices.append(xgboost.DMatrix(self.validation_x, label=self.validation_y))
        return self.matrices[0], self.matrices[1]

    def describe(self) -> str:
        rows = len(self.train_y) + len(self.validation_y)
        positive = float(np.mean(np.concatenate([self.train_y, self.validation_y])))
        return (
            f"{self.name}: {rows} rows, {self.train_x.shape[1]} features, "
            f"{positive:.0%} positive, {len(self.validation_y)} validation rows"
        )


def _german_credit() -> tuple[np.ndarray, np.ndarray]:
    """German credit, one-hot, label 1 = bad credit (as benchmarks/training.py)."""
    import pandas as pd

    from sagebox.datasets import GERMAN_CREDIT

    frame = pd.read_csv(io.StringIO(GERMAN_CREDIT.read_text()))
    label = (frame.pop("creditability").str.strip() == "bad").astype(int)
    return pd.get_dummies(frame, dtype=float).to_numpy(), label.to_numpy()


def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    return data.data, data.target


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """Digits 3, 5, 8, 9 (the shapes most often confused) against the rest: a binary task
    whose AUC is not at its ceiling, as one digit against the rest would be."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data, np.isin(data.target, [3, 5, 8, 9]).astype(int)


TASKS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray]]] = {
    "german-credit": _german_credit,
    "breast-cancer": _breast_cancer,
    "digits-3589": _digits,
}


def load_task(name: str) -> Task:
    from sklearn.model_selection import train_test_split

    x, y = TASKS[name]()
    tx, vx, ty, vy = train_test_split(x, y, test_size=0.3, stratify=y, random_state=42)
    return Task(name, tx, ty, vx, vy)


def csv_bytes(x: np.ndarray, y: np.ndarray) -> bytes:
    """Label-first, header-less CSV: the built-in XGBoost's text/csv layout."""
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([y, x]), delimiter=",", fmt="%.6g")
    return buffer.getvalue().encode()


# ---- the request ------------------------------------------------------------------------
def request(
    name: str,
    strategy: str,
    *,
    seed: int,
    max_jobs: int,
    rounds: int,
    parallel: int = 1,
    early_stopping: bool = False,
    completion: Mapping[str, Any] | None = None,
    hyperband: tuple[int, int] | None = None,
    max_runtime: int | None = None,
    warm_start_parent: str | None = None,
    role: str = "arn:aws:iam::000000000000:role/bench",
) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request for the built-in XGBoost on ``s3://bench-tuning``."""
    limits: dict[str, Any] = {
        "MaxNumberOfTrainingJobs": max_jobs,
        "MaxParallelTrainingJobs": parallel,
    }
    if max_runtime is not None:
        limits["MaxRuntimeInSeconds"] = max_runtime
    config: dict[str, Any] = {
        "Strategy": strategy,
        "HyperParameterTuningJobObjective": {"MetricName": METRIC, "Type": "Maximize"},
        "ResourceLimits": limits,
        "ParameterRanges": PARAMETER_RANGES,
        "TrainingJobEarlyStoppingType": "Auto" if early_stopping else "Off",
        "RandomSeed": seed,
    }
    if completion:
        config["TuningJobCompletionCriteria"] = dict(completion)
    if hyperband:
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {"MinResource": hyperband[0], "MaxResource": hyperband[1]}
        }
    body: dict[str, Any] = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {
                "TrainingImage": "sagebox/xgboost",
                "TrainingInputMode": "File",
            },
            "StaticHyperParameters": {
                "objective": "binary:logistic",
                "eval_metric": "auc",
                "num_round": str(rounds),
                "nthread": "1",  # a trial per core, as on a shared 2-core machine
            },
            "InputDataConfig": [
                {
                    "ChannelName": channel,
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": f"s3://{BUCKET}/{channel}/",
                        }
                    },
                }
                for channel in ("train", "validation")
            ],
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 1,
            },
            "RoleArn": role,
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
    }
    if warm_start_parent:
        body["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": warm_start_parent}],
            "WarmStartType": "IdenticalDataAndAlgorithm",
        }
    return body


def booster_params(hyperparameters: Mapping[str, str]) -> tuple[dict[str, Any], int]:
    """XGBoost's parameters and rounds for a trial's hyperparameters, typed and filtered as
    the built-in algorithm does (``sagebox.algorithms.xgboost._train``)."""
    from sagebox.algorithms.xgboost_params import NOT_BOOSTER_PARAMS, validate_hyperparameters

    typed = validate_hyperparameters(hyperparameters)
    params = {
        k: typed[k]
        for k in [*hyperparameters, "objective"]
        if k in typed and k not in NOT_BOOSTER_PARAMS
    }
    return params, int(typed["num_round"])


# ---- the backend ------------------------------------------------------------------------
@dataclass
class TrialRun:
    """One trial: its booster, its curve, what it cost."""

    number: int
    tuned: dict[str, str]
    booster: Any
    num_round: int
    curve: list[float] = field(default_factory=list)
    seconds: float = 0.0  # booster creation plus the rounds trained
    stopped: bool = False

    @property
    def status(self) -> str:
        if self.stopped:
            return "Stopped"
        return "Completed" if len(self.curve) >= self.num_round else "InProgress"


@dataclass(frozen=True)
class TrialResult:
    number: int
    tuned: dict[str, str]
    status: str
    objective: float | None
    rounds: int
    seconds: float


@dataclass(frozen=True)
class JobResult:
    """A finished tuning job: its request and its trials in the order they ran (parallelism
    1: launch order is finishing order)."""

    request: dict[str, Any]
    status: str
    trials: list[TrialResult]
    loop_seconds: float  # the whole tuner loop, strategy and training included

    @property
    def objectives(self) -> list[float]:
        return [t.objective if t.objective is not None else -math.inf for t in self.trials]

    @property
    def best(self) -> float:
        return max(self.objectives)

    @property
    def rounds(self) -> int:
        return sum(t.rounds for t in self.trials)

    @property
    def seconds(self) -> float:
        return sum(t.seconds for t in self.trials)

    def reaching(self, target: float) -> tuple[int, int, float] | None:
        """(trials, rounds, training seconds) until a trial's objective first reached
        ``target``, counting that trial; None if none did."""
        rounds, seconds = 0, 0.0
        for index, trial in enumerate(self.trials, start=1):
            rounds += trial.rounds
            seconds += trial.seconds
            if trial.objective is not None and trial.objective >= target:
                return index, rounds, seconds
        return None

    def parent_document(self) -> dict[str, Any]:
        """What warm start reads of this job: its request, its status and its
        ListTrainingJobsForHyperParameterTuningJob summaries."""
        config = self.request["HyperParameterTuningJobConfig"]
        objective = config["HyperParameterTuningJobObjective"]
        summaries = [
            {
                "TrainingJobName": f"{self.request['HyperParameterTuningJobName']}-{t.number:03d}",
                "TunedHyperParameters": t.tuned,
                "TrainingJobStatus": t.status,
                **(
                    {
                        "FinalHyperParameterTuningJobObjectiveMetric": {
                            "MetricName": objective["MetricName"],
                            "Type": objective["Type"],
                            "Value": t.objective,
                        }
                    }
                    if t.objective is not None
                    else {}
                ),
            }
            for t in self.trials
        ]
        return {
            **self.request,
            "HyperParameterTuningJobStatus": self.status,
            "TrainingJobSummaries": summaries,
        }


class InProcessBackend:
    """A :class:`sagebox.tuning.tuner.Backend` whose trials train on ``task`` in this process.

    The tuning job is the request as the control plane sees it (``tuning_request.parse``
    and ``tuning_service.plan_of``), warm start included (``warm_start.check_warm_start``
    on the parents' documents). Its clock (:meth:`now`) is simulated: one second per
    boosting round trained, so ``MaxRuntimeInSeconds`` is a budget of rounds.
    """

    def __init__(
        self, task: Task, body: Mapping[str, Any], parents: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        from sagebox.control.tuning_request import parse
        from sagebox.control.tuning_service import plan_of
        from sagebox.tuning.warm_start import check_warm_start

        self.task = task
        self.body = dict(body)
        spec = parse(body)
        prior: dict[str, list[dict[str, Any]]] = {}
        if spec.warm_start:
            evaluated = check_warm_start(body, spec.warm_start, parents)
            prior[""] = [
                {
                    "hyperparameters": dict(e.hyperparameters),
                    "objective": e.objective,
                    "state": e.state,
                }
                for e in evaluated
            ]
        document = {**body, "CreationTime": CREATED.isoformat(), "_Prior": prior}
        self._plan = plan_of(spec, document)
        self.static = dict(spec.definitions[0].static)
        self.runs: dict[str, TrialRun] = {}
        self.rounds = 0
        self.final_status: str | None = None
        self.failure: str | None = None

    def now(self) -> datetime:
        return CREATED + timedelta(seconds=self.rounds)

    # the Backend protocol
    def plan(self) -> Any:
        return self._plan

    def launch(self, name: str, definition: Any, tuned: Mapping[str, str]) -> None:
        import xgboost

        start = time.perf_counter()
        params, num_round = booster_params({**self.static, **tuned})
        train, validation = self.task.dmatrices()
        booster = xgboost.Booster(params, [train, validation])
        run = TrialRun(len(self.runs) + 1, dict(tuned), booster, num_round)
        run.seconds = time.perf_counter() - start
        self.runs[name] = run

    def trial_status(self, name: str) -> Any:
        from sagebox.tuning.tuner import TERMINAL, TrialStatus

        run = self.runs[name]
        status = run.status
        ended = status in TERMINAL and run.curve
        return TrialStatus(status, run.curve[-1] if ended else None)

    def curve(self, name: str, metric: str) -> list[float]:
        run = self.runs[name]
        if run.status == "InProgress":
            train, validation = self.task.dmatrices()
            start = time.perf_counter()
            iteration = len(run.curve)
            run.booster.update(train, iteration)
            line = run.booster.eval_set([(validation, "validation")], iteration)
            run.seconds += time.perf_counter() - start
            run.curve.append(float(line.rsplit(":", 1)[1]))  # "[i]\tvalidation-auc:0.79"
            self.rounds += 1
        return list(run.curve)

    def stop_trial(self, name: str) -> None:
        run = self.runs[name]
        if run.status == "InProgress":
            run.stopped = True

    def stop_requested(self) -> bool:
        return False

    def record(self, progress: Any) -> None:
        pass  # the control plane writes the job's document here; nothing to keep

    def finish(self, status: str, progress: Any, failure_reason: str | None) -> None:
        self.final_status, self.failure = status, failure_reason


def run_job(
    task: Task, body: Mapping[str, Any], parents: Sequence[Mapping[str, Any]] = ()
) -> JobResult:
    """Run the tuning job ``body`` on ``task`` with sagebox's tuner loop, to its end."""
    from sagebox.tuning.tuner import Tuner

    start = time.perf_counter()
    backend = InProcessBackend(task, body, parents)
    tuner = Tuner(backend, poll_seconds=0, now=backend.now)
    status = tuner.run()
    loop = time.perf_counter() - start
    if status != "Completed":
        raise RuntimeError(f"{body['HyperParameterTuningJobName']}: {status}: {backend.failure}")
    by_name = {r.name: r for r in tuner.records}
    trials = [
        TrialResult(
            run.number,
            run.tuned,
            by_name[name].status,
            by_name[name].objective,
            len(run.curve),
            run.seconds,
        )
        for name, run in backend.runs.items()
    ]
    return JobResult(dict(body), status, trials, loop)


# ---- trials that cost nothing (the tuner loop's own overhead) ---------------------------
INSTANT_STEPS = 10


def synthetic_curve(params: Mapping[str, Any], steps: int = INSTANT_STEPS) -> list[float]:
    """A made-up AUC curve from the XGBoost ranges' values: smooth, one optimum, rising."""
    p = {k: float(v) for k, v in params.items()}
    quality = (
        0.9
        - 0.2 * (p["eta"] - 0.3) ** 2
        - 0.01 * p["alpha"]
        - 0.002 * (p["min_child_weight"] - 3) ** 2
        - 0.003 * (p["max_depth"] - 4) ** 2
        - 0.1 * (p["subsample"] - 0.8) ** 2
    )
    return [0.5 + (quality - 0.5) * (1 - 0.7**step) for step in range(1, steps + 1)]


class InstantBackend(InProcessBackend):
    """Trials that train nothing: each emits :func:`synthetic_curve`, one value per read,
    so what a job costs is the tuner loop and its strategy alone."""

    def launch(self, name: str, definition: Any, tuned: Mapping[str, str]) -> None:
        self.runs[name] = TrialRun(len(self.runs) + 1, dict(tuned), None, INSTANT_STEPS)

    def curve(self, name: str, metric: str) -> list[float]:
        run = self.runs[name]
        if run.status == "InProgress":
            run.curve.append(synthetic_curve(run.tuned)[len(run.curve)])
            self.rounds += 1
        return list(run.curve)


def loop_seconds(body: Mapping[str, Any]) -> tuple[float, float]:
    """Wall and CPU seconds of sagebox's tuner loop running ``body`` with instant trials."""
    from sagebox.tuning.tuner import Tuner

    wall, cpu = time.perf_counter(), time.process_time()
    nothing = np.zeros(1)
    backend = InstantBackend(Task("instant", nothing, nothing, nothing, nothing), body)
    Tuner(backend, poll_seconds=0, now=backend.now).run()
    return time.perf_counter() - wall, time.process_time() - cpu
