"""SageMaker's built-in CatBoost algorithm, run as the program of a training job.

It follows the SageMaker container contract (docs/algorithms.md). Categorical features named
by ``categorical_index.json`` are read as strings and handled by CatBoost natively.
``import catboost`` below is the library: absolute imports never resolve to this module,
which is ``sagebox.algorithms.catboost``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sagebox.algorithms import channels, tabular
from sagebox.algorithms.archive import model_from_channel
from sagebox.algorithms.catboost_params import (
    EXPONENT_LOSSES,
    HYPERPARAMETERS,
    LOSS_FUNCTIONS,
    METRIC_DEFINITIONS,
    TITLE,
    catboost_params,
    validate_hyperparameters,
)
from sagebox.algorithms.checkpoints import resuming, save_model
from sagebox.algorithms.container import (
    Paths,
    read_hyperparameters,
    run,
    stop_requested,
    write_evaluation,
)
from sagebox.errors import ValidationError

__all__ = [
    "HYPERPARAMETERS",
    "METRIC_DEFINITIONS",
    "MODEL_FILENAME",
    "TITLE",
    "load_model",
    "main",
    "predict",
    "problem_type",
    "validate_hyperparameters",
]

MODEL_FILENAME = "catboost-model"
SNAPSHOT = "catboost-snapshot"
# CatBoost snapshots on a clock, written atomically (temporary file, then rename): at most
# once a second and always at the end, so a restarted job loses at most a second of work.
SNAPSHOT_SECONDS = 1
DEFAULT_CONTENT_TYPE = "text/csv"
SUPPORTS_INCREMENTAL = True
SUPPORTS_CHECKPOINTS = True


class _IterationLogger:
    """A CatBoost callback printing one metric line per iteration."""

    def __init__(self, trees_before: int) -> None:
        self.trees_before = trees_before

    def after_iteration(self, info: Any) -> bool:
        values = [
            ("train" if data == "learn" else data, name.split(":")[0], float(history[-1]))
            for data, metrics in info.metrics.items()
            for name, history in metrics.items()
        ]
        print(tabular.metric_line(self.trees_before + info.iteration, values), flush=True)
        return not stop_requested()  # False ends training with the trees so far


def _load(path: Path) -> Any:
    import catboost

    model = catboost.CatBoost()
    try:
        model.load_model(str(path))
    except catboost.CatBoostError as exc:
        raise ValidationError(
            f"{path.name} is not a CatBoost model ({str(exc).splitlines()[0]}); give the "
            f"{MODEL_FILENAME} a CatBoost training job wrote."
        ) from None
    return model


def _loss(model: Any) -> str:
    return str(model.get_all_params().get("loss_function", "")).split(":")[0]


def _problem(hp: dict[str, Any], base: Any, labels: list[Any]) -> tuple[str, int]:
    """(loss_function, num_class) from the base model, the hyperparameter or the labels."""
    import numpy as np

    if base is not None:
        loss = _loss(base)
        if loss not in LOSS_FUNCTIONS:
            raise ValidationError(
                f"The model in the 'model' channel was trained with loss {loss!r}, which "
                f"sagebox's CatBoost does not continue; train a new model instead."
            )
        if hp["loss_function"] not in ("auto", loss):
            raise ValidationError(
                f"The model in the 'model' channel was trained with loss_function {loss!r}; "
                f"incremental training keeps it, so loss_function={hp['loss_function']!r} "
                f"cannot apply. Remove loss_function or set it to {loss!r}."
            )
        classes = getattr(base, "classes_", None)
        return loss, len(classes) if LOSS_FUNCTIONS[
            loss
        ] != "regression" and classes is not None else 1
    if hp["loss_function"] == "auto":
        problem, num_class = tabular.infer_problem(np.concatenate(labels))
        loss = {"binary": "Logloss", "multiclass": "MultiClass"}.get(problem, "RMSE")
        shown = f" ({num_class} classes)" if problem == "multiclass" else ""
        print(f"loss_function 'auto' chose {loss!r} from the labels{shown}", flush=True)
        return loss, num_class
    loss = hp["loss_function"]
    problem = LOSS_FUNCTIONS[loss]
    if problem == "multiclass":
        return loss, tabular.class_count(labels, TITLE)
    return loss, 2 if problem == "binary" else 1


def _check_labels(data: dict[str, channels.Dataset], loss: str, num_class: int) -> None:
    for name, part in data.items():
        if loss == "CrossEntropy":
            tabular.check_probabilities(part.labels, name, TITLE, loss)
        else:
            tabular.check_labels(part.labels, LOSS_FUNCTIONS[loss], num_class, name, TITLE)


def _pool(part: channels.Dataset, categorical: list[int], loss: str) -> Any:
    import catboost

    labels = part.labels
    if LOSS_FUNCTIONS[loss] != "regression" and loss != "CrossEntropy":
        labels = labels.astype("int64")
    features = tabular.as_categories(part.features, categorical) if categorical else part.features
    return catboost.Pool(features, labels, cat_features=categorical or None)


def train(paths: Paths, scratch: Path) -> None:
    """Run one training job as the container contract describes; raise on bad input."""
    import catboost

    raw = read_hyperparameters(paths)
    hp = validate_hyperparameters(raw)
    config = channels.channel_config(paths.config)
    categorical = tabular.categorical_index(TITLE)
    data = tabular.read_channels(config, TITLE, DEFAULT_CONTENT_TYPE, categorical, categorical)

    base_path = model_from_channel(Paths.channel("model"), MODEL_FILENAME, scratch, TITLE)
    base = _load(base_path) if base_path is not None else None
    loss, num_class = _problem(hp, base, [part.labels for part in data.values()])
    _check_labels(data, loss, num_class)
    params = catboost_params(hp, loss, num_class, raw)
    params.update(iterations=hp["iterations"], train_dir=str(scratch / "catboost_info"))
    if paths.checkpoints.is_dir():  # a job with a CheckpointConfig
        params.update(
            save_snapshot=True,
            snapshot_file=str(paths.checkpoints / SNAPSHOT),
            snapshot_interval=SNAPSHOT_SECONDS,
        )
    if hp["verbose"] > 0:
        params["verbose"] = hp["verbose"]  # CatBoost's own progress every N iterations
    else:
        params["logging_level"] = "Silent"

    pools = {name: _pool(part, categorical, loss) for name, part in data.items()}
    if base_path is not None and base is not None:
        print(f"continuing training from model {base_path.name} ({base.tree_count_} trees)")
    if (paths.checkpoints / SNAPSHOT).is_file():
        resuming(SNAPSHOT)
    stopping = hp["early_stopping_rounds"]
    model = catboost.CatBoost(params)
    model.fit(
        pools["train"],
        eval_set=pools.get("validation"),
        init_model=base,
        early_stopping_rounds=stopping if stopping > 0 and "validation" in pools else None,
        callbacks=[_IterationLogger(base.tree_count_ if base is not None else 0)],
    )
    if "validation" in pools and hp["verbose"] == 0:
        # What CatBoost prints itself when verbose, and SageMaker's tuning regexes read.
        best = model.get_best_score().get("validation", {})
        metric = params["eval_metric"]
        if metric in best:
            print(f"bestTest = {best[metric]:.10g}")
            print(f"bestIteration = {model.get_best_iteration()}", flush=True)
    paths.model.mkdir(parents=True, exist_ok=True)
    save_model(model, paths.model / MODEL_FILENAME)
    print(f"saved model with {model.tree_count_} trees", flush=True)
    held_out = next((n for n in ("validation", "test") if n in data), None)
    problem = LOSS_FUNCTIONS[loss]
    if held_out is not None:
        scores = _scores(model, pools[held_out], loss)
        write_evaluation(paths, data[held_out].labels, scores, problem, TITLE, held_out)


# --- inference: the same model a training job wrote -----------------------------------------


def _scores(model: Any, data: Any, loss: str) -> Any:
    problem = LOSS_FUNCTIONS.get(loss)
    if problem == "regression" or problem is None:
        kind = "Exponent" if loss in EXPONENT_LOSSES else "RawFormulaVal"
        return model.predict(data, prediction_type=kind)
    if loss == "CrossEntropy":
        return model.predict(data, prediction_type="Probability")[:, 1]
    probabilities = model.predict(data, prediction_type="Probability")
    return probabilities[:, 1] if problem == "binary" else probabilities


def load_model(model_dir: Path) -> Any:
    """The model saved in ``model_dir`` (an extracted model.tar.gz), fully in memory."""
    return _load(Path(model_dir) / MODEL_FILENAME)


def problem_type(model: Any) -> str | None:
    """binary / multiclass / regression, from the loss the model was trained with."""
    return LOSS_FUNCTIONS.get(_loss(model))


def predict(model: Any, features: Any) -> Any:
    """Scores for ``features``: P(class 1), class probabilities, or predicted values.

    Categorical columns may hold strings (an object array) or numbers: 3.0 is category "3".
    """
    categorical = list(model.get_cat_feature_indices())
    if categorical:
        features = tabular.as_categories(features, categorical)
    return _scores(model, features, _loss(model))


def main() -> int:
    """Entry point of the training-job program: 0 on success, 1 with a failure file."""
    from catboost import CatBoostError

    return run(train, TITLE, (CatBoostError,))


if __name__ == "__main__":
    sys.exit(main())
