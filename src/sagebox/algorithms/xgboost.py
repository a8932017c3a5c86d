"""SageMaker's built-in XGBoost algorithm, run as the program of a training job.

It follows the SageMaker container contract (docs/algorithms.md); every path comes from
SageMaker's ``SM_*`` variables when set, else from /opt/ml.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sagebox.algorithms import channels
from sagebox.algorithms.archive import model_from_channel, safe_extract
from sagebox.algorithms.checkpoints import RoundCheckpoints, save_model
from sagebox.algorithms.container import (
    Paths,
    read_hyperparameters,
    run,
    stop_requested,
    write_evaluation,
)
from sagebox.algorithms.xgboost_params import (
    EVAL_METRICS,
    HYPERPARAMETERS,
    METRIC_DEFINITIONS,
    NOT_BOOSTER_PARAMS,
    validate_hyperparameters,
)
from sagebox.errors import ValidationError

__all__ = [
    "HYPERPARAMETERS",
    "METRIC_DEFINITIONS",
    "MODEL_FILENAME",
    "load_model",
    "main",
    "predict",
    "problem_type",
    "safe_extract",
    "validate_hyperparameters",
]

TITLE = "XGBoost"
MODEL_FILENAME = "xgboost-model"
CHECKPOINT_PREFIX = "xgboost-checkpoint."
PARTIAL = ".partial.json"  # XGBoost picks the format by the file's ending: JSON
DEFAULT_CONTENT_TYPE = "text/libsvm"  # SageMaker's XGBoost default when a channel sets none
SUPPORTS_INCREMENTAL = True
SUPPORTS_CHECKPOINTS = True
DISTRIBUTED_PORT = 9099  # the tracker's port when the platform names none


def _checkpoints(directory: Path) -> RoundCheckpoints:
    return RoundCheckpoints(directory, CHECKPOINT_PREFIX, PARTIAL)


def _load(path: Path) -> Any:
    import xgboost

    # From bytes, so XGBoost detects JSON or UBJSON itself whatever the file is named.
    booster = xgboost.Booster()
    booster.load_model(bytearray(path.read_bytes()))
    return booster


def _round_logger(directory: Path, leader: bool) -> Any:
    """An XGBoost callback printing one metric line per round and checkpointing it.

    In distributed training only the leader (rank 0) logs and checkpoints: the model and
    the metrics (reduced over every worker) are the same on all of them.
    """
    import xgboost

    class RoundLogger(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if not leader:
                return stop_requested()
            rounds = model.num_boosted_rounds()
            fields = [
                f"{data}-{metric}:{float(values[-1]):.5f}"
                for data, metrics in evals_log.items()
                for metric, values in metrics.items()
            ]
            print(f"[{rounds - 1}]#011" + "#011".join(fields), flush=True)
            _checkpoints(directory).save(model, rounds)
            return stop_requested()

    return RoundLogger()


# --- the program ------------------------------------------------------------------------


def _read(config: dict[str, Any], name: str) -> channels.Dataset:
    content = channels.content_type(config, name, TITLE, DEFAULT_CONTENT_TYPE)
    return channels.read_channel(name, content, TITLE)


@contextlib.contextmanager
def _collective(paths: Paths) -> Iterator[int]:
    """Join the job's workers when it runs on several instances; yields this one's rank.

    Each instance trains on its own shard of the data (``ShardedByS3Key``) and XGBoost's
    collective (Rabit) reduces the histograms across them, as SageMaker's distributed
    XGBoost does. algo-1 runs the tracker on the job's port (``SAGEBOX_MASTER_PORT``).
    """
    resource_file = paths.config / "resourceconfig.json"
    resource = json.loads(resource_file.read_text()) if resource_file.is_file() else {}
    hosts = list(resource.get("hosts") or [])
    if len(hosts) < 2:
        yield 0
        return
    import xgboost
    from xgboost.tracker import RabitTracker

    rank = hosts.index(resource["current_host"])
    port = int(os.environ.get("SAGEBOX_MASTER_PORT") or DISTRIBUTED_PORT)
    tracker = None
    if rank == 0:
        tracker = RabitTracker(n_workers=len(hosts), host_ip="127.0.0.1", port=port, sortby="task")
        tracker.start()
    print(f"distributed training: worker {rank} of {len(hosts)} ({resource['current_host']})")
    args: dict[str, int | str | None] = {
        "dmlc_communicator": "rabit",
        "dmlc_tracker_uri": "127.0.0.1",
        "dmlc_tracker_port": port,
        "dmlc_task_id": str(rank),
        "dmlc_retry": 50,
        "dmlc_timeout": 300,
    }
    with xgboost.collective.CommunicatorContext(**args):
        yield rank
    if tracker is not None:
        tracker.wait_for(timeout=60)


def _add_tuning_objective(params: dict[str, Any], objective: str) -> None:
    """As SageMaker's XGBoost does: a tuning job's objective metric (``validation:auc``)
    is evaluated every round even when ``eval_metric`` does not name it."""
    metric = objective.partition(":")[2]
    if metric in EVAL_METRICS and metric not in params.get("eval_metric", []):
        params["eval_metric"] = [*params.get("eval_metric", []), metric]


def train(paths: Paths, scratch: Path) -> None:
    """Run one training job as the container contract describes; raise on bad input."""
    with _collective(paths) as rank:
        _train(paths, scratch, leader=rank == 0)


def _train(paths: Paths, scratch: Path, leader: bool) -> None:
    import xgboost

    raw = read_hyperparameters(paths)
    hp = validate_hyperparameters(raw)
    config = channels.channel_config(paths.config)
    has_validation = channels.has_channel("validation", config)
    if "early_stopping_rounds" in hp and not has_validation:
        raise ValidationError(
            "The 'early_stopping_rounds' hyperparameter of XGBoost needs a 'validation' "
            "channel to watch; add one, or remove early_stopping_rounds."
        )
    train_data = _read(config, "train")
    dtrain = xgboost.DMatrix(train_data.features, label=train_data.labels)
    evals = [(dtrain, "train")]
    held_out: tuple[str, Any, Any] | None = None
    for name in ("validation", "test"):
        if not channels.has_channel(name, config):
            continue
        data = _read(config, name)
        channels.match_width(data, dtrain.num_col(), name)
        matrix = xgboost.DMatrix(data.features, label=data.labels)
        if name == "validation":
            evals.append((matrix, "validation"))
        held_out = held_out or (name, matrix, data.labels)

    # Only what the user set (plus the objective): the rest are XGBoost's own defaults, and
    # passing booster-specific ones (dart, tweedie) would only make XGBoost warn.
    params = {k: hp[k] for k in [*raw, "objective"] if k in hp and k not in NOT_BOOSTER_PARAMS}
    if not hp["objective"].startswith("multi:"):
        params.pop("num_class", None)
    _add_tuning_objective(params, raw.get("_tuning_objective_metric", ""))

    start: Any = None
    base = model_from_channel(Paths.channel("model"), MODEL_FILENAME, scratch, TITLE)
    if base is not None:
        start = _load(base)
        print(f"continuing training from model {base.name}", flush=True)
    target = (start.num_boosted_rounds() if start else 0) + hp["num_round"]
    latest = _checkpoints(paths.checkpoints).latest()
    if latest is not None:
        start = _load(latest)
    booster = start
    remaining = target - (start.num_boosted_rounds() if start else 0)
    if remaining > 0:
        booster = xgboost.train(
            params,
            dtrain,
            num_boost_round=remaining,
            evals=evals,
            xgb_model=start,
            callbacks=[_round_logger(paths.checkpoints, leader)],
            early_stopping_rounds=hp.get("early_stopping_rounds"),
            verbose_eval=False,
        )
    if not leader:
        return  # the leader's model is the job's model
    paths.model.mkdir(parents=True, exist_ok=True)
    save_model(booster, paths.model / MODEL_FILENAME, PARTIAL)
    print(f"saved model with {booster.num_boosted_rounds()} rounds", flush=True)
    problem = _problem(hp["objective"])
    if held_out is not None and problem is not None:
        name, matrix, labels = held_out
        scores = booster.predict(matrix)
        write_evaluation(paths, labels, scores, problem, TITLE, name)


# --- inference: the same model a training job wrote --------------------------------------


def _problem(objective: str) -> str | None:
    if objective in ("binary:logistic", "reg:logistic"):
        return "binary"
    if objective == "multi:softprob":
        return "multiclass"
    if objective.startswith("reg:") or objective == "count:poisson":
        return "regression"
    return None  # margins, hinge, ranking, survival: no probability to evaluate


def load_model(model_dir: Path) -> Any:
    """The booster saved in ``model_dir`` (an extracted model.tar.gz)."""
    return _load(model_dir / MODEL_FILENAME)


def problem_type(model: Any) -> str | None:
    """binary / multiclass / regression, from the objective the model was trained with."""
    config = json.loads(model.save_config())
    return _problem(config["learner"]["objective"]["name"])


def predict(model: Any, features: Any) -> Any:
    """Scores for ``features``: P(class 1), class probabilities, or predicted values.

    ``inplace_predict`` reads a dense array or CSR matrix where it is, without building a
    DMatrix: 40% less time for one row, 15% for 20,000 (the same scores). A float numpy
    array makes the C call it ends in directly (:mod:`sagebox.algorithms.xgboost_dense`):
    for one row, about 40% of ``inplace_predict``'s time. Anything neither takes goes through
    a DMatrix."""
    import numpy as np
    import xgboost

    if isinstance(features, np.ndarray):
        from sagebox.algorithms.xgboost_dense import dense

        fast = dense(model)
        scores = None if fast is None else fast.predict(features)
        if scores is not None:
            return scores
    try:
        return model.inplace_predict(features)
    except (TypeError, ValueError):
        return model.predict(xgboost.DMatrix(features))


def main() -> int:
    """Entry point of the training-job program: 0 on success, 1 with a failure file."""
    from xgboost.core import XGBoostError

    return run(train, TITLE, (XGBoostError,))


if __name__ == "__main__":
    sys.exit(main())
