"""SageMaker's built-in LightGBM algorithm, run as the program of a training job.

It follows the SageMaker container contract (docs/algorithms.md). ``import lightgbm`` below
is the library: absolute imports never resolve to this module, which is
``sagebox.algorithms.lightgbm``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sagebox.algorithms import channels, tabular
from sagebox.algorithms.archive import model_from_channel
from sagebox.algorithms.checkpoints import RoundCheckpoints, save_model
from sagebox.algorithms.container import (
    Paths,
    read_hyperparameters,
    run,
    stop_requested,
    write_evaluation,
)
from sagebox.algorithms.lightgbm_params import (
    HYPERPARAMETERS,
    METRIC_DEFINITIONS,
    OBJECTIVES,
    TITLE,
    booster_params,
    validate_hyperparameters,
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

MODEL_FILENAME = "lightgbm-model"
CHECKPOINT_PREFIX = "lightgbm-checkpoint."
DEFAULT_CONTENT_TYPE = "text/csv"
SUPPORTS_INCREMENTAL = True
SUPPORTS_CHECKPOINTS = True


# --- model files -------------------------------------------------------------------------


def _load(path: Path) -> Any:
    import lightgbm

    try:
        return lightgbm.Booster(model_str=path.read_text())
    except (lightgbm.basic.LightGBMError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"{path.name} is not a LightGBM model ({str(exc).splitlines()[0]}); give the "
            f"{MODEL_FILENAME} a LightGBM training job wrote."
        ) from None


def _objective(booster: Any) -> str:
    return str(booster.params.get("objective", "")).split()[0]


class _RoundLogger:
    """A LightGBM callback printing one metric line per round and checkpointing the model."""

    order = 25  # after LightGBM evaluates the round, before early stopping may end training

    def __init__(self, checkpoints: RoundCheckpoints) -> None:
        self.checkpoints = checkpoints
        self.rounds = 0

    def __call__(self, env: Any) -> None:
        self.rounds = env.iteration + 1
        values = [(r[0], r[1], float(r[2])) for r in env.evaluation_result_list]
        print(tabular.metric_line(self.rounds, values), flush=True)
        self.checkpoints.save(env.model, self.rounds)
        if stop_requested():  # asked to stop: keep what is trained so far
            import lightgbm

            raise lightgbm.callback.EarlyStopException(env.iteration, env.evaluation_result_list)


# --- the program ---------------------------------------------------------------------------


def _check_codes(data: channels.Dataset, columns: list[int], name: str) -> None:
    """LightGBM's categorical columns hold non-negative integer codes (empty: missing)."""
    import numpy as np

    if not columns:
        return
    if hasattr(data.features, "tocsc"):
        values = data.features.tocsc()[:, columns].toarray()
    else:
        values = np.asarray(data.features[:, columns], dtype="float64")
    bad = ~np.isnan(values) & ((values != np.round(values)) | (values < 0))
    if bool(bad.any()):
        row, column = (int(i) for i in np.argwhere(bad)[0])
        raise ValidationError(
            f"Categorical column {columns[column] + 1} of the {name!r} channel holds "
            f"{values[row, column]:g} in row {row + 1}: LightGBM's categorical features are "
            f"integer codes 0, 1, 2, ... (an empty cell is missing). Encode the categories as "
            f"integers, or use CatBoost, which reads them as strings."
        )


def _problem(
    hp: dict[str, Any], base: Any, labels: list[Any]
) -> tuple[str, int]:  # (objective, num_class)
    import numpy as np

    if base is not None:
        objective = _objective(base)
        if hp["objective"] not in ("auto", objective):
            raise ValidationError(
                f"The model in the 'model' channel was trained with objective {objective!r}; "
                f"incremental training keeps it, so objective={hp['objective']!r} cannot apply. "
                f"Remove the objective hyperparameter or set it to {objective!r}."
            )
        if objective not in OBJECTIVES:
            raise ValidationError(
                f"The model in the 'model' channel was trained with objective {objective!r}, "
                f"which sagebox's LightGBM does not continue; train a new model instead."
            )
        kind = OBJECTIVES[objective]
        classes = {"binary": 2, "regression": 1}.get(kind) or int(base.params["num_class"])
        return objective, classes
    if hp["objective"] == "auto":
        problem, num_class = tabular.infer_problem(np.concatenate(labels))
        objective = {"binary": "binary", "multiclass": "multiclass"}.get(problem, "regression")
        print(
            f"objective 'auto' chose {objective!r} from the labels"
            + (f" ({num_class} classes)" if problem == "multiclass" else ""),
            flush=True,
        )
        return objective, num_class
    objective = hp["objective"]
    if OBJECTIVES[objective] == "multiclass":
        return objective, tabular.class_count(labels, TITLE)
    return objective, 1 if OBJECTIVES[objective] == "regression" else 2


def train(paths: Paths, scratch: Path) -> None:
    """Run one training job as the container contract describes; raise on bad input."""
    import lightgbm

    raw = read_hyperparameters(paths)
    hp = validate_hyperparameters(raw)
    config = channels.channel_config(paths.config)
    categorical = tabular.categorical_index(TITLE)
    data = tabular.read_channels(config, TITLE, DEFAULT_CONTENT_TYPE, categorical)
    for name, part in data.items():
        _check_codes(part, categorical, name)

    base_path = model_from_channel(Paths.channel("model"), MODEL_FILENAME, scratch, TITLE)
    base = _load(base_path) if base_path is not None else None
    objective, num_class = _problem(hp, base, [part.labels for part in data.values()])
    problem = OBJECTIVES[objective]
    for name, part in data.items():
        if objective == "cross_entropy":
            tabular.check_probabilities(part.labels, name, TITLE, objective)
        else:
            tabular.check_labels(part.labels, problem, num_class, name, TITLE)
    params = booster_params(hp, objective, num_class, raw)

    train_set = lightgbm.Dataset(
        data["train"].features,
        data["train"].labels,
        categorical_feature=categorical or "auto",
        free_raw_data=False,
    )
    valid_sets, valid_names = [train_set], ["train"]
    if "validation" in data:
        validation = data["validation"]
        valid_sets.insert(0, train_set.create_valid(validation.features, validation.labels))
        valid_names.insert(0, "validation")

    start = base
    if base_path is not None:
        print(f"continuing training from model {base_path.name}", flush=True)
    target = (base.current_iteration() if base else 0) + hp["num_boost_round"]
    checkpoints = RoundCheckpoints(paths.checkpoints, CHECKPOINT_PREFIX)
    latest = checkpoints.latest()
    if latest is not None:
        start = _load(latest)
    logger = _RoundLogger(checkpoints)
    callbacks: list[Any] = [logger]
    if "validation" in data and hp["early_stopping_rounds"] > 0:
        callbacks.append(lightgbm.early_stopping(hp["early_stopping_rounds"], verbose=False))
    booster = start
    remaining = target - (start.current_iteration() if start else 0)
    if booster is None or remaining > 0:
        booster = lightgbm.train(
            params,
            train_set,
            num_boost_round=max(remaining, 1),
            valid_sets=valid_sets,
            valid_names=valid_names,
            init_model=start,
            callbacks=callbacks,
        )
    # With early stopping LightGBM keeps the trees up to the best validation round.
    kept = booster.best_iteration or booster.current_iteration()
    if logger.rounds > kept:
        print(f"early stopping: keeping the best {kept} of {logger.rounds} rounds", flush=True)
    paths.model.mkdir(parents=True, exist_ok=True)
    save_model(booster, paths.model / MODEL_FILENAME)
    print(f"saved model with {kept} rounds", flush=True)
    held_out = next((n for n in ("validation", "test") if n in data), None)
    if held_out is not None:
        part = data[held_out]
        scores = booster.predict(part.features)
        write_evaluation(paths, part.labels, scores, problem, TITLE, held_out)


# --- inference: the same model a training job wrote -----------------------------------------


def load_model(model_dir: Path) -> Any:
    """The booster saved in ``model_dir`` (an extracted model.tar.gz), fully in memory."""
    return _load(Path(model_dir) / MODEL_FILENAME)


def problem_type(model: Any) -> str | None:
    """binary / multiclass / regression, from the objective the model was trained with."""
    return OBJECTIVES.get(_objective(model))


def predict(model: Any, features: Any) -> Any:
    """Scores for ``features``: P(class 1), class probabilities, or predicted values.

    One row of a float32 or float64 numpy array goes through LightGBM's single-row fast C
    API (:mod:`sagebox.algorithms.lightgbm_row`): the same scores in about a quarter of
    the time ``Booster.predict`` takes for it."""
    import numpy as np

    if isinstance(features, np.ndarray) and features.shape[:1] == (1,):
        from sagebox.algorithms.lightgbm_row import single_row

        fast = single_row(model)
        scores = None if fast is None else fast.predict(model, features)
        if scores is not None:
            return scores
    return model.predict(features)


def main() -> int:
    """Entry point of the training-job program: 0 on success, 1 with a failure file."""
    from lightgbm.basic import LightGBMError

    return run(train, TITLE, (LightGBMError,))


if __name__ == "__main__":
    sys.exit(main())
