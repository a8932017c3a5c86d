"""Linear Learner's data path: mini-batches streamed from a channel, and the scaler.

Every pass over a channel is a stream of mini-batches of exactly ``mini_batch_size`` rows
(the last one shorter), whatever the files' sizes; in Pipe mode each pass reads the
channel's next FIFO (``train_0``, ``train_1``, ...). Only one batch, plus the scaler's
sample at the start, is in memory at a time.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sagebox.algorithms import channels
from sagebox.algorithms.linear_learner_params import TITLE
from sagebox.errors import ValidationError

Batch = tuple[Any, Any]  # features (n, d) float64, labels (n,) float64


@dataclass(frozen=True)
class Scaler:
    """Feature shift and scale, and label shift and scale (1 and 0 for classifiers)."""

    mean: Any
    scale: Any
    label_mean: float = 0.0
    label_scale: float = 1.0

    @classmethod
    def fit(cls, x: Any, y: Any, hp: Mapping[str, Any], dense: bool) -> Scaler:
        width = x.shape[1]
        unbias = hp["unbias_data"]
        if unbias == "auto":  # SageMaker shifts dense features when the model has a bias
            unbias = bool(hp["use_bias"] and dense and hp["normalize_data"] is not False)
        mean = x.mean(axis=0) if unbias else np.zeros(width)
        scale = np.ones(width)
        if hp["normalize_data"] is not False:
            spread = x.std(axis=0) if unbias else np.sqrt((x * x).mean(axis=0))
            scale = np.where(spread > 1e-12, spread, 1.0)
        if hp["predictor_type"] != "regressor":
            return cls(mean, scale)
        label_mean, label_scale = 0.0, 1.0
        unbias_label = hp["unbias_label"]
        if unbias_label == "auto":
            unbias_label = bool(hp["use_bias"])
        if unbias_label:
            label_mean = float(y.mean())
        if hp["normalize_label"] in ("auto", True):
            spread = float(np.sqrt(((y - label_mean) ** 2).mean()))
            label_scale = spread if spread > 1e-12 else 1.0
        return cls(mean, scale, label_mean, label_scale)

    def transform(self, x: Any) -> Any:
        return (x - self.mean) / self.scale

    def label(self, y: Any) -> Any:
        return (y - self.label_mean) / self.label_scale

    def arrays(self) -> dict[str, Any]:
        return {
            "feature_mean": self.mean,
            "feature_scale": self.scale,
            "label_shift_scale": np.asarray([self.label_mean, self.label_scale]),
        }

    @classmethod
    def from_arrays(cls, saved: Mapping[str, Any]) -> Scaler:
        label_mean, label_scale = (float(v) for v in saved["label_shift_scale"])
        return cls(
            np.array(saved["feature_mean"], dtype=np.float64),
            np.array(saved["feature_scale"], dtype=np.float64),
            label_mean,
            label_scale,
        )

    def adopt(self, weights: Any, bias: Any, other: Scaler) -> tuple[Any, Any]:
        """Weights and bias trained under ``other`` re-expressed for this scaler.

        Both compute the same function of the raw features (a warm start keeps the model).
        """
        raw_w = weights / other.scale[:, None] * other.label_scale
        raw_b = (bias - (other.mean / other.scale) @ weights) * other.label_scale + other.label_mean
        new_w = raw_w * self.scale[:, None] / self.label_scale
        new_b = (raw_b + self.mean @ raw_w - self.label_mean) / self.label_scale
        return new_w, new_b


class Reader:
    """Mini-batches of a job's channels, with the checks Linear Learner needs."""

    def __init__(self, config: dict[str, Any], hp: Mapping[str, Any], default: str) -> None:
        self.config = config
        self.default = default
        self.kind = str(hp["predictor_type"])
        self.classes = int(hp.get("num_classes") or 2)
        self.rows = int(hp["mini_batch_size"])
        self.width: int | None = None if hp["feature_dim"] == "auto" else int(hp["feature_dim"])
        self.declared = self.width is not None
        self.passes: Counter[str] = Counter()
        self.first_pass: Iterator[Batch] | None = None

    def has(self, name: str) -> bool:
        return channels.has_channel(name, self.config)

    def content(self, name: str) -> str:
        return channels.content_type(self.config, name, TITLE, self.default)

    @property
    def dense(self) -> bool:
        return self.content("train") != "text/libsvm"

    def scaler_sample(self, rows: int) -> Batch:
        """The first ``rows`` train rows; the pass they start goes on as ``first_pass``."""
        stream = self.batches("train")
        taken: list[Batch] = []
        count = 0
        for batch in stream:
            taken.append(batch)
            count += len(batch[1])
            if count >= rows:
                break
        if not taken:
            raise ValidationError("The 'train' channel holds no rows; upload training data.")
        self.first_pass = itertools.chain(taken, stream)
        x = np.concatenate([b[0] for b in taken])[:rows]
        y = np.concatenate([b[1] for b in taken])[:rows]
        return x, y

    def batches(self, name: str) -> Iterator[Batch]:
        """One pass over ``name`` (its next FIFO in Pipe mode) in mini-batches."""
        epoch = self.passes[name]
        self.passes[name] += 1
        content = self.content(name)
        pending: list[Batch] = []
        count, row = 0, 0
        for part in channels.iter_batches(name, content, TITLE, self.rows, epoch):
            x = self._dense(part.features, name)
            y = np.asarray(part.labels, dtype=np.float64)
            self._check(x, y, name, row)
            row += len(y)
            pending.append((x, y))
            count += len(y)
            if count < self.rows:
                continue
            xs, ys = (
                np.concatenate([p[0] for p in pending]),
                np.concatenate([p[1] for p in pending]),
            )
            full = count - count % self.rows
            for start in range(0, full, self.rows):
                yield xs[start : start + self.rows], ys[start : start + self.rows]
            pending, count = [(xs[full:], ys[full:])], count - full
        if count:
            yield np.concatenate([p[0] for p in pending]), np.concatenate([p[1] for p in pending])

    def _dense(self, features: Any, name: str) -> Any:
        width = features.shape[1]
        if self.width is None:
            self.width = width
        if hasattr(features, "toarray"):  # LIBSVM rows: columns past the last index are 0
            if width > self.width:
                raise ValidationError(
                    f"The {name!r} channel has feature index {width - 1}, beyond the "
                    f"{self.width} features {'of feature_dim' if self.declared else 'seen first'}"
                    f"; set feature_dim to the number of features."
                )
            dense = np.zeros((features.shape[0], self.width))
            dense[:, :width] = features.toarray()
            return dense
        if width != self.width:
            where = "feature_dim is" if self.declared else "the first rows of 'train' have"
            raise ValidationError(
                f"The {name!r} channel has {width} features but {where} {self.width}; every "
                f"channel needs the label plus the same feature columns"
                f"{' (or set feature_dim=auto)' if self.declared else ''}."
            )
        return np.asarray(features, dtype=np.float64)

    def _check(self, x: Any, y: Any, name: str, first_row: int) -> None:
        bad_rows = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if len(bad_rows):
            raise ValidationError(
                f"Linear Learner cannot train on missing values: row {first_row + bad_rows[0] + 1}"
                f" of the {name!r} channel has an empty or non-finite feature. Impute it (for "
                f"example with the column median) before training."
            )
        if self.kind == "binary_classifier":
            wrong = np.flatnonzero((y != 0) & (y != 1))
            hint = "encode the classes as 0 and 1, or use predictor_type=multiclass_classifier"
        elif self.kind == "multiclass_classifier":
            wrong = np.flatnonzero((y != np.round(y)) | (y < 0) | (y >= self.classes))
            hint = f"labels must be integers 0..{self.classes - 1} (num_classes={self.classes})"
        else:
            wrong = np.flatnonzero(~np.isfinite(y))
            hint = "every row needs a finite numeric label"
        if len(wrong):
            i = wrong[0]
            raise ValidationError(
                f"Label {y[i]:g} in row {first_row + i + 1} of the {name!r} channel does not fit "
                f"predictor_type {self.kind}: {hint}."
            )
