"""SageMaker's built-in Linear Learner, run as the program of a training job.

Mini-batch SGD, Adam or RMSProp over the train channel, streamed in batches (File and
Pipe mode alike: never all rows in memory), for several models at once (``num_models``,
each with its own learning rate, L2 and L1 strength). Features (and regression labels)
are normalised with statistics from the first ``num_point_for_scaler`` rows. After each
epoch every model is scored on the validation channel (else on its train loss); each
keeps its best epoch, training stops early when the best loss stops improving, and the
model that scores best on ``binary_classifier_model_selection_criteria`` (classifiers) or
the objective loss (others) is saved with its tuned decision threshold.
See docs/algorithms.md.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagebox.algorithms import channels
from sagebox.algorithms.archive import model_from_channel
from sagebox.algorithms.checkpoints import resuming
from sagebox.algorithms.container import (
    Paths,
    read_hyperparameters,
    run,
    stop_requested,
    write_evaluation,
)
from sagebox.algorithms.first_party import (
    feature_rows,
    host,
    quality_metric,
    reading_arrays,
    save_arrays,
)
from sagebox.algorithms.linear_learner_metrics import (
    binary_metrics,
    multiclass_metrics,
    regression_metrics,
    tune_threshold,
)
from sagebox.algorithms.linear_learner_optim import Loss, Optimizer, forward, gradients
from sagebox.algorithms.linear_learner_params import (
    HYPERPARAMETERS,
    METRIC_DEFINITIONS,
    TITLE,
    validate_hyperparameters,
)
from sagebox.algorithms.linear_learner_stream import Reader, Scaler
from sagebox.errors import ValidationError

__all__ = [
    "HYPERPARAMETERS",
    "METRIC_DEFINITIONS",
    "MODEL_FILENAME",
    "LinearModel",
    "load_model",
    "main",
    "predict",
    "problem_type",
    "validate_hyperparameters",
]

MODEL_FILENAME = "linear-learner-model.npz"
CHECKPOINT = "linear-learner-checkpoint.npz"
DEFAULT_CONTENT_TYPE = "text/csv"
SUPPORTS_INCREMENTAL = True
SUPPORTS_CHECKPOINTS = True
PROBLEMS = {"binary_classifier": "binary", "multiclass_classifier": "multiclass"}
CALIBRATION_CELLS = 10_000_000  # scores kept for model selection: rows x models x outputs


# --- the model --------------------------------------------------------------------------


@dataclass(frozen=True)
class LinearModel:
    """The saved model: weights on normalised features, the scaler, the threshold."""

    predictor_type: str
    loss: str
    weights: Any  # (d, outputs)
    bias: Any  # (outputs,)
    scaler: Scaler
    threshold: float = 0.5

    @property
    def features(self) -> int:
        return int(self.weights.shape[0])

    def raw_scores(self, features: Any) -> Any:
        return self.scaler.transform(features) @ self.weights + self.bias

    def save(self, path: Path) -> None:
        save_arrays(
            path,
            {
                "format": np.asarray(1),
                "predictor_type": np.asarray(self.predictor_type),
                "loss": np.asarray(self.loss),
                "weights": self.weights,
                "bias": self.bias,
                "threshold": np.asarray(self.threshold),
                **self.scaler.arrays(),
            },
        )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with reading_arrays(path, TITLE) as saved:
            return cls(
                predictor_type=str(saved["predictor_type"]),
                loss=str(saved["loss"]),
                weights=np.array(saved["weights"], dtype=np.float64),
                bias=np.array(saved["bias"], dtype=np.float64),
                scaler=Scaler.from_arrays(saved),
                threshold=float(saved["threshold"]),
            )


def load_model(model_dir: Path) -> LinearModel:
    """The model saved in ``model_dir`` (an extracted model.tar.gz), fully in memory."""
    return LinearModel.load(Path(model_dir) / MODEL_FILENAME)


def problem_type(model: LinearModel) -> str | None:
    return PROBLEMS.get(model.predictor_type, "regression")


def _outputs(kind: str, raw: Any, scaler: Scaler) -> Any:
    """Scores from raw model outputs (..., k): P(1), class probabilities, or values."""
    if kind == "binary_classifier":
        return 0.5 * (1.0 + np.tanh(0.5 * raw[..., 0]))
    if kind == "multiclass_classifier":
        shifted = np.exp(raw - raw.max(axis=-1, keepdims=True))
        return shifted / shifted.sum(axis=-1, keepdims=True)
    return raw[..., 0] * scaler.label_scale + scaler.label_mean


def predict(model: LinearModel, features: Any) -> Any:
    """P(class 1) for binary, (n, k) class probabilities for multiclass, else values."""
    x = feature_rows(features, model.features, TITLE).astype(np.float64)
    return _outputs(model.predictor_type, model.raw_scores(x), model.scaler)


# --- the models trained in parallel ------------------------------------------------------


def _log_uniform(rng: Any, low: float, high: float, size: int) -> Any:
    return np.exp(rng.uniform(np.log(low), np.log(high), size))


def _grid(hp: dict[str, Any], models: int, positive_share: float) -> dict[str, Any]:
    """Per-model learning rate, wd, l1 and positive weight: model 0 as given, the rest close."""
    rng = np.random.default_rng(0)
    base_lr = {"sgd": 0.1}.get(hp["optimizer"], 0.01)

    def spread(value: Any, base: float, low: float, high: float, zero_share: float) -> Any:
        if value != "auto":  # the user's value, and close values around it
            out = value * _log_uniform(rng, 1 / 3, 3, models)
            out[0] = value
            return out
        out = _log_uniform(rng, low, high, models)
        out[rng.uniform(size=models) < zero_share] = 0.0
        out[0] = base
        return out

    balanced = (1 - positive_share) / positive_share if 0 < positive_share < 1 else 1.0
    weight = hp["positive_example_weight_mult"]
    if weight == "auto":  # half the grid unweighted, half balanced; selection decides
        positive = np.where(np.arange(models) % 2 == 0, 1.0, balanced)
    else:
        positive = np.full(models, balanced if weight == "balanced" else float(weight))
    return {
        "lr": spread(hp["learning_rate"], base_lr, base_lr / 10, base_lr * 10, 0.0),
        "wd": spread(hp["wd"], 0.0, 1e-5, 1e-1, 0.5),
        "l1": spread(hp["l1"], 0.0, 1e-5, 1e-2, 0.75),
        "positive": positive,
    }


def _auto(value: Any, default: Any) -> Any:
    return default if value == "auto" else value


def _optimizer(hp: dict[str, Any], grid: dict[str, Any]) -> Optimizer:
    kind = _auto(hp["optimizer"], "adam")
    return Optimizer(
        kind=kind,
        lr=grid["lr"],
        wd=grid["wd"],
        l1=grid["l1"],
        beta_1=_auto(hp["beta_1"], 0.9),
        beta_2=0.9 if kind == "rmsprop" else _auto(hp["beta_2"], 0.999),
        momentum=_auto(hp["momentum"], 0.9),
        bias_lr_mult=_auto(hp["bias_lr_mult"], 1.0),
        bias_wd_mult=_auto(hp["bias_wd_mult"], 0.0),
        use_bias=hp["use_bias"],
        scheduler_step=_auto(hp["lr_scheduler_step"], 100) if hp["use_lr_scheduler"] else 0,
        scheduler_factor=_auto(hp["lr_scheduler_factor"], 0.99),
        minimum_lr=_auto(hp["lr_scheduler_minimum_lr"], 1e-5),
    )


@dataclass
class State:
    """Everything an epoch changes: what a checkpoint holds."""

    scaler: Scaler
    weights: Any  # (d, models, outputs)
    bias: Any  # (models, outputs)
    best_weights: Any
    best_bias: Any
    best_loss: Any  # (models,) on the selection channel
    grid: dict[str, Any]
    class_weights: Any  # (outputs,) for multiclass, else (1,)
    optimizer: Optimizer
    epoch: int = 0  # the next epoch to train
    stopped: bool = False
    patience_best: float = float("inf")
    patience_wait: int = 0

    def save(self, path: Path, fingerprint: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_arrays(
            path,
            {
                "fingerprint": np.asarray(fingerprint),
                "weights": self.weights,
                "bias": self.bias,
                "best_weights": self.best_weights,
                "best_bias": self.best_bias,
                "best_loss": self.best_loss,
                "class_weights": self.class_weights,
                "counters": np.asarray([self.epoch, int(self.stopped), self.patience_wait]),
                "patience_best": np.asarray(self.patience_best),
                **{f"grid_{k}": v for k, v in self.grid.items()},
                **self.scaler.arrays(),
                **self.optimizer.export(),
            },
        )

    @classmethod
    def load(cls, path: Path, fingerprint: str, hp: dict[str, Any]) -> State | None:
        try:
            with np.load(path, allow_pickle=False) as saved:
                arrays = {k: np.array(saved[k]) for k in saved.files}
        except (OSError, ValueError) as exc:
            print(f"WARNING: ignoring unreadable checkpoint {path.name}: {exc}", flush=True)
            return None
        if str(arrays["fingerprint"]) != fingerprint:
            print(f"WARNING: checkpoint {path.name} is from other hyperparameters; ignored.")
            return None
        grid = {k[5:]: v for k, v in arrays.items() if k.startswith("grid_")}
        optimizer = _optimizer(hp, grid)
        optimizer.restore(arrays)
        epoch, stopped, wait = (int(v) for v in arrays["counters"])
        return cls(
            scaler=Scaler.from_arrays(arrays),
            weights=arrays["weights"],
            bias=arrays["bias"],
            best_weights=arrays["best_weights"],
            best_bias=arrays["best_bias"],
            best_loss=arrays["best_loss"],
            grid=grid,
            class_weights=arrays["class_weights"],
            optimizer=optimizer,
            epoch=epoch,
            stopped=bool(stopped),
            patience_best=float(arrays["patience_best"]),
            patience_wait=wait,
        )


def _initial(hp: dict[str, Any], reader: Reader, x: Any, y: Any, scratch: Path) -> State:
    """A fresh state from the scaler sample: scaler, grid, initial weights (or a warm start)."""
    kind = hp["predictor_type"]
    outputs = hp["num_classes"] if kind == "multiclass_classifier" else 1
    models = hp["num_models"]
    if models == "auto":
        models = 32 if outputs * 32 <= 1024 else max(1, 1024 // outputs)
    scaler = Scaler.fit(x, y, hp, dense=reader.dense)
    grid = _grid(hp, models, float(np.mean(y == 1)) if kind == "binary_classifier" else 0.5)
    class_weights = np.ones(outputs)
    if kind == "multiclass_classifier" and hp["balance_multiclass_weights"]:
        counts = np.bincount(y.astype(np.int64), minlength=outputs).astype(float)
        class_weights = np.where(counts > 0, len(y) / (outputs * np.maximum(counts, 1)), 1.0)
    rng = np.random.default_rng(1)
    shape = (x.shape[1], models, outputs)
    if hp["init_method"] == "normal":
        weights = rng.normal(0.0, hp["init_sigma"], shape)
    else:
        weights = rng.uniform(-hp["init_scale"], hp["init_scale"], shape)
    bias = np.full((models, outputs), hp["init_bias"] if hp["use_bias"] else 0.0)
    warm = _warm_start(hp, x.shape[1], outputs, scaler, scratch)
    if warm is not None:
        weights[:] = warm[0][:, None, :]
        bias[:] = warm[1][None, :]
    return State(
        scaler=scaler,
        weights=weights,
        bias=bias,
        best_weights=weights.copy(),
        best_bias=bias.copy(),
        best_loss=np.full(models, np.inf),
        grid=grid,
        class_weights=class_weights,
        optimizer=_optimizer(hp, grid),
    )


def _warm_start(
    hp: dict[str, Any], width: int, outputs: int, scaler: Scaler, scratch: Path
) -> tuple[Any, Any] | None:
    """Initial weights from a ``model`` channel, re-expressed for this job's scaler."""
    found = model_from_channel(Paths.channel("model"), MODEL_FILENAME, scratch, TITLE)
    if found is None:
        return None
    earlier = LinearModel.load(found)
    if earlier.predictor_type != hp["predictor_type"] or earlier.weights.shape[1] != outputs:
        raise ValidationError(
            f"The 'model' channel holds a {earlier.predictor_type} Linear Learner model with "
            f"{earlier.weights.shape[1]} output(s); this job trains a {hp['predictor_type']} "
            f"with {outputs}. Warm-start from a model of the same predictor_type and num_classes."
        )
    if earlier.features != width:
        raise ValidationError(
            f"The 'model' channel holds a Linear Learner model for {earlier.features} features, "
            f"but the 'train' channel has {width}. Warm-start only from a model trained on the "
            f"same feature columns."
        )
    print(f"continuing training from model {found.name}", flush=True)
    return scaler.adopt(earlier.weights, earlier.bias, earlier.scaler)


# --- training ----------------------------------------------------------------------------


def _row_weights(state: State, kind: str, y: Any) -> Any:
    """Per-row, per-model weights (n, models): positive_example_weight_mult, class weights."""
    if kind == "binary_classifier":
        return np.where(y[:, None] == 1, state.grid["positive"][None, :], 1.0)
    if kind == "multiclass_classifier":
        return np.repeat(state.class_weights[y.astype(np.int64)][:, None], len(state.best_loss), 1)
    return np.ones((len(y), len(state.best_loss)))


def _train_epoch(
    state: State, batches: Iterator[tuple[Any, Any]], kind: str, loss: Loss
) -> tuple[Any, int]:
    """One pass of mini-batch updates; the mean objective loss per model before each step."""
    scaled = loss.scaled(state.scaler.label_scale)
    total, rows = np.zeros(len(state.best_loss)), 0
    for x, y in batches:
        xn, yn = state.scaler.transform(x), state.scaler.label(y)
        scores = forward(xn, state.weights, state.bias)
        total += _reported(scores, y, kind, loss, state.scaler).sum(axis=0)
        grad = scaled(scores, yn)[1]
        grad *= _row_weights(state, kind, y)[:, :, None]
        grad_w, grad_b = gradients(xn, grad, len(y))
        state.optimizer.step(state.weights, state.bias, grad_w, grad_b)
        rows += len(y)
    return total / max(rows, 1), rows


def _reported(scores: Any, y: Any, kind: str, loss: Loss, scaler: Scaler) -> Any:
    """Per-row objective loss (n, models) in label units, as the metrics report it."""
    if kind == "regressor":
        scores = scores * scaler.label_scale + scaler.label_mean
    return loss(scores, y)[0]


def _score(
    reader: Reader, name: str, state: State, weights: Any, bias: Any, loss: Loss, cap: int
) -> tuple[Any, Any, Any]:
    """One pass scoring every model: mean losses (models,), outputs and labels of <= cap rows."""
    kind = reader.kind
    total, rows = np.zeros(weights.shape[1]), 0
    kept: list[Any] = []
    labels: list[Any] = []
    for x, y in reader.batches(name):
        raw = forward(state.scaler.transform(x), weights, bias)
        total += _reported(raw, y, kind, loss, state.scaler).sum(axis=0)
        room = cap - rows
        rows += len(y)
        if room > 0:
            kept.append(_outputs(kind, raw[:room], state.scaler).astype(np.float32))
            labels.append(y[:room])
    if not rows:
        raise ValidationError(f"The {name!r} channel holds no rows; upload data to it.")
    mean = np.where(np.isfinite(total), total / rows, np.inf)
    if not kept:
        return mean, np.zeros(0), np.zeros(0)
    return mean, np.concatenate(kept), np.concatenate(labels)


def _epochs(
    hp: dict[str, Any], reader: Reader, state: State, paths: Paths, fingerprint: str, loss: Loss
) -> None:
    kind, epochs = hp["predictor_type"], hp["epochs"]
    selection = "validation" if reader.has("validation") else "train"
    objective = f"{loss.metric_name}_objective"
    checkpoint = paths.checkpoints / CHECKPOINT
    first = reader.first_pass
    while state.epoch < epochs and not state.stopped and not stop_requested():
        epoch = state.epoch
        started = time.monotonic()
        train_loss, rows = _train_epoch(state, first or reader.batches("train"), kind, loss)
        first = None
        seconds = time.monotonic() - started
        train_loss = np.where(np.isfinite(train_loss), train_loss, np.inf)
        chosen = train_loss
        if selection == "validation":
            chosen = _score(reader, "validation", state, state.weights, state.bias, loss, 0)[0]
        better = chosen < state.best_loss
        state.best_loss = np.where(better, chosen, state.best_loss)
        state.best_weights[:, better] = state.weights[:, better]
        state.best_bias[better] = state.bias[better]
        best = int(np.argmin(chosen))
        quality_metric("train", objective, float(train_loss[best]), "loss", epoch)
        if selection == "validation":
            quality_metric("validation", objective, float(chosen[best]), "loss", epoch)
        value = float(chosen[best])
        print(
            f"#early_stopping_criteria_metric: host={host()}, epoch={epoch}, "
            f"criteria={objective}, value={value}",
            flush=True,
        )
        previous = state.patience_best
        if value < previous and (
            previous == np.inf or previous - value > hp["early_stopping_tolerance"] * abs(previous)
        ):
            state.patience_best, state.patience_wait = value, 0
            print(f"Epoch {epoch}: Loss improved. Updating best model", flush=True)
        else:
            state.patience_wait += 1
            print(f"Epoch {epoch}: Loss has not improved for {state.patience_wait} epochs.")
            if state.patience_wait >= hp["early_stopping_patience"]:
                state.stopped = True
                print(
                    f"Reaching early stopping patience ({hp['early_stopping_patience']} epochs). "
                    f"Stopping training after epoch {epoch}.",
                    flush=True,
                )
        print(f"#progress_metric: host={host()}, completed {100 * (epoch + 1) / epochs:.0f} %")
        print(
            f"#throughput_metric: host={host()}, train throughput="
            f"{rows / max(seconds, 1e-9):.1f} records/second",
            flush=True,
        )
        state.epoch = epoch + 1
        if checkpoint.parent.is_dir():  # a job with a CheckpointConfig
            state.save(checkpoint, fingerprint)


def _select(hp: dict[str, Any], losses: Any, outputs: Any, labels: Any) -> tuple[int, float]:
    """The model to keep (by the selection criterion) and its decision threshold."""
    finite = np.where(np.isfinite(losses), losses, np.inf)
    if hp["predictor_type"] != "binary_classifier":
        return int(np.argmin(finite)), 0.5
    tuned = [
        tune_threshold(outputs[:, m].astype(np.float64), labels, hp) for m in range(len(finite))
    ]
    values = np.asarray(
        [v if np.isfinite(finite[m]) else -np.inf for m, (_, v) in enumerate(tuned)]
    )
    if hp["binary_classifier_model_selection_criteria"] == "loss_function":
        values = -finite
    best = int(np.lexsort((finite, -values))[0])  # best value, then the lower loss
    return best, tuned[best][0]


def _report(
    hp: dict[str, Any],
    channel: str,
    model: LinearModel,
    loss_value: float,
    outputs: Any,
    labels: Any,
) -> None:
    kind = hp["predictor_type"]
    quality_metric(channel, f"{Loss(model.loss).metric_name}_objective", loss_value, "loss")
    if kind == "binary_classifier":
        metrics = binary_metrics(outputs, labels, model.threshold, hp["f_beta"])
    elif kind == "multiclass_classifier":
        metrics = multiclass_metrics(outputs, labels, hp["accuracy_top_k"], hp["f_beta"])
    else:
        metrics = regression_metrics(outputs, labels)
    for name, value in metrics.items():
        unit = "loss" if name in ("mse", "absolute_loss") else "score"
        quality_metric(channel, name, value, unit)


def _loss(hp: dict[str, Any]) -> Loss:
    return Loss(
        hp["loss"],
        margin=hp["margin"],
        insensitivity=hp["loss_insensitivity"],
        quantile=hp["quantile"],
        delta=hp["huber_delta"],
    )


def train(paths: Paths, scratch: Path) -> None:
    """Run one training job as the container contract describes; raise on bad input."""
    raw = read_hyperparameters(paths)
    hp = validate_hyperparameters(raw)
    kind = hp["predictor_type"]
    reader = Reader(channels.channel_config(paths.config), hp, DEFAULT_CONTENT_TYPE)
    loss = _loss(hp)
    fingerprint = json.dumps({k: str(v) for k, v in sorted(hp.items())})
    state = None
    checkpoint = paths.checkpoints / CHECKPOINT
    if checkpoint.is_file():
        state = State.load(checkpoint, fingerprint, hp)
        if state is not None:
            reader.width = state.weights.shape[0]
            resuming(f"epoch {state.epoch}")
    if state is None:
        x, y = reader.scaler_sample(hp["num_point_for_scaler"])
        state = _initial(hp, reader, x, y, scratch)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _epochs(hp, reader, state, paths, fingerprint, loss)
        selection = "validation" if reader.has("validation") else "train"
        outputs_per_model = state.best_weights.shape[1] * state.best_weights.shape[2]
        cap = hp["num_calibration_samples"]
        cap = max(1, CALIBRATION_CELLS // outputs_per_model) if cap == "auto" else cap
        losses, outputs, labels = _score(
            reader, selection, state, state.best_weights, state.best_bias, loss, cap
        )
        best, threshold = _select(hp, losses, outputs, labels)
        model = LinearModel(
            kind,
            hp["loss"],
            state.best_weights[:, best, :].copy(),
            state.best_bias[best].copy(),
            state.scaler,
            threshold,
        )
        paths.model.mkdir(parents=True, exist_ok=True)
        model.save(paths.model / MODEL_FILENAME)
        print(f"selected model {best} of {len(losses)} (threshold {threshold:.6f})", flush=True)
        _report(hp, selection, model, float(losses[best]), outputs[:, best], labels)
        held_out = None
        if selection == "validation":
            held_out = ("validation", labels, outputs[:, best])
        if reader.has("test"):
            one_w, one_b = model.weights[:, None, :], model.bias[None, :]
            test_loss, test_out, test_labels = _score(
                reader, "test", state, one_w, one_b, loss, sys.maxsize
            )
            _report(hp, "test", model, float(test_loss[0]), test_out[:, 0], test_labels)
            held_out = held_out or ("test", test_labels, test_out[:, 0])
    if held_out is not None:
        name, truth, scores = held_out
        problem = PROBLEMS.get(kind, "regression")
        write_evaluation(paths, truth, scores.astype(np.float64), problem, TITLE, name)


def main() -> int:
    """Entry point of the training-job program: 0 on success, 1 with a failure file."""
    return run(train, TITLE)


if __name__ == "__main__":
    sys.exit(main())
