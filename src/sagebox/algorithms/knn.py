"""SageMaker's built-in k-nearest-neighbours (k-NN), run as the program of a training job.

One pass over the train channel (File or Pipe mode) reservoir-samples ``sample_size``
points, optionally reduces their dimension (``sign``: a dense random sign projection;
``fjlt``: a subsampled randomised Hadamard transform, the practical form of the fast
Johnson-Lindenstrauss transform), and stores the points, their labels and the projection
as the model. Search is exact (brute force, blocked): every ``index_type`` of SageMaker's
FAISS indexes maps to it, so results are those of ``faiss.Flat`` and at least as accurate
as ``IVFFlat`` / ``IVFPQ``. A ``test`` channel (SageMaker) and a ``validation`` channel
(sagebox) are scored once at the end: accuracy for a classifier, mse for a regressor.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sagebox.algorithms import channels
from sagebox.algorithms.container import Paths, read_hyperparameters, run, write_evaluation
from sagebox.algorithms.first_party import (
    feature_rows,
    quality_metric,
    reading_arrays,
    save_arrays,
)
from sagebox.algorithms.knn_params import (
    HYPERPARAMETERS,
    METRIC_DEFINITIONS,
    TITLE,
    validate_hyperparameters,
)
from sagebox.errors import ValidationError

__all__ = [
    "HYPERPARAMETERS",
    "METRIC_DEFINITIONS",
    "MODEL_FILENAME",
    "KnnModel",
    "load_model",
    "main",
    "predict",
    "problem_type",
    "validate_hyperparameters",
]

MODEL_FILENAME = "knn-model.npz"
DEFAULT_CONTENT_TYPE = "text/csv"
SUPPORTS_INCREMENTAL = False
SUPPORTS_CHECKPOINTS = False  # one pass over the data, as on SageMaker
SEARCH_CELLS = 1 << 24  # query rows x sample points compared at once
MAX_CLASSES = 10_000


# --- dimension reduction ---------------------------------------------------------------


def _hadamard(a: Any) -> Any:
    """The Walsh-Hadamard transform of each row (width a power of two), orthonormal."""
    n, p = a.shape
    h = 1
    while h < p:
        blocks = a.reshape(n, p // (2 * h), 2, h)
        first, second = blocks[:, :, 0, :], blocks[:, :, 1, :]
        a = np.stack((first + second, first - second), axis=2).reshape(n, p)
        h *= 2
    return a / np.sqrt(p)


@dataclass(frozen=True)
class Projection:
    """``none``, ``sign`` (matrix (d, target) of +-1/sqrt(target)) or ``fjlt`` (SRHT)."""

    kind: str = "none"
    matrix: Any = None  # sign: (d, target)
    signs: Any = None  # fjlt: (p,) random +-1, p the power of two >= d
    rows: Any = None  # fjlt: (target,) Hadamard coordinates kept

    @classmethod
    def make(cls, kind: str | None, width: int, target: int | None) -> Projection:
        rng = np.random.default_rng(0)
        if not kind or target is None:
            return cls()
        if kind == "sign":
            matrix = rng.choice([-1.0, 1.0], size=(width, target)) / np.sqrt(target)
            return cls("sign", matrix=matrix)
        p = 1 << max(0, (width - 1).bit_length())
        signs = rng.choice([-1.0, 1.0], size=p)
        rows = np.sort(rng.choice(p, size=target, replace=False))
        return cls("fjlt", signs=signs, rows=rows)

    def apply(self, x: Any) -> Any:
        if self.kind == "sign":
            return x @ self.matrix
        if self.kind == "fjlt":
            padded = np.zeros((x.shape[0], len(self.signs)))
            padded[:, : x.shape[1]] = x
            mixed = _hadamard(padded * self.signs)
            return mixed[:, self.rows] * np.sqrt(len(self.signs) / len(self.rows))
        return x

    def arrays(self) -> dict[str, Any]:
        empty = np.zeros(0)
        return {
            "projection": np.asarray(self.kind),
            "projection_matrix": empty if self.matrix is None else self.matrix,
            "projection_signs": empty if self.signs is None else self.signs,
            "projection_rows": np.zeros(0, np.int64) if self.rows is None else self.rows,
        }

    @classmethod
    def from_arrays(cls, saved: Any) -> Projection:
        kind = str(saved["projection"])
        if kind == "sign":
            return cls(kind, matrix=np.array(saved["projection_matrix"]))
        if kind == "fjlt":
            return cls(
                kind, signs=np.array(saved["projection_signs"]), rows=saved["projection_rows"]
            )
        return cls()


# --- the model ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KnnModel:
    """The sampled (and reduced) points with their labels: the whole model."""

    predictor_type: str
    k: int
    metric: str
    feature_dim: int
    points: Any  # (n, dimension) float32, unit rows for COSINE
    labels: Any  # (n,)
    projection: Projection

    @property
    def classes(self) -> int:
        """Columns of the probability matrix: max label + 1 for 0..C-1 labels, else 0."""
        y = self.labels
        if self.predictor_type != "classifier" or not len(y):
            return 0
        if np.all(y == np.round(y)) and y.min() >= 0 and y.max() < MAX_CLASSES:
            return max(2, int(y.max()) + 1)
        return 0

    def save(self, path: Path) -> None:
        save_arrays(
            path,
            {
                "format": np.asarray(1),
                "predictor_type": np.asarray(self.predictor_type),
                "k": np.asarray(self.k),
                "metric": np.asarray(self.metric),
                "feature_dim": np.asarray(self.feature_dim),
                "points": self.points,
                "labels": self.labels,
                **self.projection.arrays(),
            },
        )

    @classmethod
    def load(cls, path: Path) -> KnnModel:
        with reading_arrays(path, TITLE) as saved:
            return cls(
                predictor_type=str(saved["predictor_type"]),
                k=int(saved["k"]),
                metric=str(saved["metric"]),
                feature_dim=int(saved["feature_dim"]),
                points=np.array(saved["points"]),
                labels=np.array(saved["labels"]),
                projection=Projection.from_arrays(saved),
            )

    def embed(self, features: Any) -> Any:
        x = self.projection.apply(np.asarray(features, dtype=np.float64)).astype(np.float32)
        if self.metric == "COSINE":
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            x = x / np.where(norms > 0, norms, 1.0)
        return x

    def neighbours(self, features: Any) -> Any:
        """Indices (n, k) of each row's k nearest sample points (exact search)."""
        queries = self.embed(features)
        k = min(self.k, len(self.points))
        block = max(1, SEARCH_CELLS // max(len(self.points), 1))
        found = []
        squared = (self.points * self.points).sum(axis=1) if self.metric == "L2" else None
        for start in range(0, len(queries), block):
            q = queries[start : start + block]
            similarity = q @ self.points.T
            if squared is not None:  # nearest = smallest |s|^2 - 2 q.s (|q|^2 is constant)
                similarity = 2 * similarity - squared[None, :]
            found.append(np.argpartition(-similarity, k - 1, axis=1)[:, :k])
        return np.concatenate(found) if found else np.zeros((0, k), np.int64)


def load_model(model_dir: Path) -> KnnModel:
    """The model saved in ``model_dir`` (an extracted model.tar.gz), fully in memory."""
    return KnnModel.load(Path(model_dir) / MODEL_FILENAME)


def problem_type(model: KnnModel) -> str | None:
    if model.predictor_type == "regressor":
        return "regression"
    classes = model.classes
    return None if not classes else "binary" if classes == 2 else "multiclass"


def _vote(model: KnnModel, features: Any) -> tuple[Any, Any]:
    """(scores, predicted labels): shares of the neighbours' classes, or their mean."""
    labels = model.labels[model.neighbours(features)]
    if model.predictor_type == "regressor":
        mean = labels.mean(axis=1)
        return mean, mean
    classes = model.classes
    if classes:
        shares = np.stack([(labels == c).mean(axis=1) for c in range(classes)], axis=1)
        predicted = shares.argmax(axis=1).astype(np.float64)  # ties: the smaller label
        return (shares[:, 1] if classes == 2 else shares), predicted
    values = np.unique(model.labels)
    counts = np.stack([(labels == v).sum(axis=1) for v in values], axis=1)
    predicted = values[counts.argmax(axis=1)]
    return predicted, predicted


def predict(model: KnnModel, features: Any) -> Any:
    """Binary: share of neighbours labelled 1; multiclass: (n, C) shares; else the mean."""
    return _vote(model, feature_rows(features, model.feature_dim, TITLE))[0]


# --- training ----------------------------------------------------------------------------


class Reservoir:
    """A uniform sample of ``size`` rows from a stream of any length (Algorithm R)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.seen = 0
        self.rng = np.random.default_rng(0)
        self.parts: list[tuple[Any, Any]] = []
        self.x: Any = None
        self.y: Any = None

    def add(self, x: Any, y: Any) -> None:
        if self.seen < self.size:
            take = min(self.size - self.seen, len(y))
            self.parts.append((x[:take], y[:take]))
            self.seen += take
            x, y = x[take:], y[take:]
        if not len(y):
            return
        if self.x is None:
            self.x = np.concatenate([p[0] for p in self.parts])
            self.y = np.concatenate([p[1] for p in self.parts])
            self.parts = []
        slot = self.rng.integers(0, self.seen + np.arange(len(y)) + 1)
        hits = np.flatnonzero(slot < self.size)[::-1]
        # Later rows win a slot they share with earlier ones, as one-by-one sampling does.
        _, last = np.unique(slot[hits], return_index=True)
        chosen = hits[last]
        self.x[slot[chosen]] = x[chosen]
        self.y[slot[chosen]] = y[chosen]
        self.seen += len(y)

    def sample(self) -> tuple[Any, Any]:
        if self.x is None:
            if not self.parts:
                return np.zeros((0, 0)), np.zeros(0)
            return np.concatenate([p[0] for p in self.parts]), np.concatenate(
                [p[1] for p in self.parts]
            )
        return self.x, self.y


def _batches(
    config: dict[str, Any], name: str, hp: dict[str, Any]
) -> Iterator[tuple[Any, Any, int]]:
    """Dense (features, labels, first row number) batches of one pass over ``name``."""
    content = channels.content_type(config, name, TITLE, DEFAULT_CONTENT_TYPE)
    width, row = hp["feature_dim"], 0
    for part in channels.iter_batches(name, content, TITLE, hp["mini_batch_size"]):
        x = part.features
        if hasattr(x, "toarray"):
            if x.shape[1] > width:
                raise ValidationError(
                    f"The {name!r} channel has feature index {x.shape[1] - 1}, beyond "
                    f"feature_dim={width}; set feature_dim to the number of features."
                )
            dense = np.zeros((x.shape[0], width))
            dense[:, : x.shape[1]] = x.toarray()
            x = dense
        elif x.shape[1] != width:
            raise ValidationError(
                f"The {name!r} channel has {x.shape[1]} features but feature_dim is {width}; "
                f"set feature_dim to the number of feature columns (all but the label)."
            )
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if len(bad):
            raise ValidationError(
                f"k-NN cannot use missing values: row {row + bad[0] + 1} of the {name!r} channel "
                f"has an empty or non-finite feature. Impute it before training."
            )
        yield np.asarray(x, dtype=np.float64), np.asarray(part.labels, dtype=np.float64), row
        row += len(x)


def _score(model: KnnModel, config: dict[str, Any], name: str, hp: dict[str, Any]) -> Any:
    """Score a held-out channel once: print its metric; return (labels, scores)."""
    labels, scores, hits, squares = [], [], 0.0, 0.0
    for x, y, _ in _batches(config, name, hp):
        score, predicted = _vote(model, x)
        labels.append(y)
        scores.append(score)
        hits += float((predicted == y).sum())
        squares += float(((predicted - y) ** 2).sum())
    rows = sum(len(y) for y in labels)
    if not rows:
        raise ValidationError(f"The {name!r} channel holds no rows; upload data to it.")
    if model.predictor_type == "classifier":
        quality_metric(name, "accuracy", hits / rows)
    else:
        quality_metric(name, "mse", squares / rows, "loss")
    return np.concatenate(labels), np.concatenate(scores)


def train(paths: Paths, scratch: Path) -> None:
    """Sample, reduce, store; then score the validation and test channels."""
    hp = validate_hyperparameters(read_hyperparameters(paths))
    config = channels.channel_config(paths.config)
    reservoir = Reservoir(hp["sample_size"])
    for x, y, _ in _batches(config, "train", hp):
        reservoir.add(x, y)
    points, labels = reservoir.sample()
    if len(labels) < hp["k"]:
        raise ValidationError(
            f"k={hp['k']} but the 'train' channel has only {len(labels)} rows: k-NN needs at "
            f"least k points. Lower k, or train on more data."
        )
    print(
        f"sampled {len(labels)} of {reservoir.seen} train rows (sample_size="
        f"{hp['sample_size']}); index {hp['index_type']} searched exactly",
        flush=True,
    )
    projection = Projection.make(
        hp.get("dimension_reduction_type"), hp["feature_dim"], hp.get("dimension_reduction_target")
    )
    model = KnnModel(
        hp["predictor_type"],
        hp["k"],
        hp["index_metric"],
        hp["feature_dim"],
        points,
        labels,
        projection,
    )
    model = replace(model, points=model.embed(points))
    paths.model.mkdir(parents=True, exist_ok=True)
    model.save(paths.model / MODEL_FILENAME)
    held_out = None
    for name in ("validation", "test"):
        if channels.has_channel(name, config):
            scored = _score(model, config, name, hp)
            held_out = held_out or (name, *scored)
    problem = problem_type(model)
    if held_out is not None and problem is not None:
        name, truth, scores = held_out
        write_evaluation(paths, truth, scores, problem, TITLE, name)


def main() -> int:
    """Entry point of the training-job program: 0 on success, 1 with a failure file."""
    return run(train, TITLE)


if __name__ == "__main__":
    sys.exit(main())
