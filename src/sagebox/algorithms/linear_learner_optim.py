"""Losses and optimisers of Linear Learner, vectorised over the models trained in parallel.

Weights have shape (features, models, outputs) and biases (models, outputs): one column
per model, each with its own learning rate, L2 (``wd``) and L1 (``l1``) strength, so one
matrix product per mini-batch trains the whole grid. ``outputs`` is 1 except for
``softmax_loss`` (one per class).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

Array = Any  # numpy arrays; shapes are given in the docstrings


@dataclass(frozen=True)
class Loss:
    """One of SageMaker's loss functions with its parameters (in label units)."""

    name: str
    margin: float = 1.0
    insensitivity: float = 0.01
    quantile: float = 0.5
    delta: float = 1.0

    def scaled(self, label_scale: float) -> Loss:
        """The same loss measured on labels divided by ``label_scale``."""
        return replace(
            self, insensitivity=self.insensitivity / label_scale, delta=self.delta / label_scale
        )

    @property
    def metric_name(self) -> str:
        """The name SageMaker logs it under: ``<name>_objective``."""
        return {
            "logistic": "binary_classification_cross_entropy",
            "softmax_loss": "multiclass_cross_entropy",
            "squared_loss": "mse",
        }.get(self.name, self.name)

    def __call__(self, scores: Array, labels: Array) -> tuple[Array, Array]:
        """Per-row losses (n, models) and their gradient by the scores (n, models, outputs)."""
        y = labels[:, None]
        if self.name == "softmax_loss":
            shifted = scores - scores.max(axis=2, keepdims=True)
            exp = np.exp(shifted)
            total = exp.sum(axis=2, keepdims=True)
            index = labels.astype(np.int64)
            picked = np.take_along_axis(shifted, index[:, None, None].repeat(scores.shape[1], 1), 2)
            loss = (np.log(total) - picked)[:, :, 0]
            grad = exp / total
            grad[np.arange(len(index)), :, index] -= 1.0
            return loss, grad
        s = scores[:, :, 0]
        if self.name == "logistic":
            loss = np.logaddexp(0.0, s) - y * s
            grad = 0.5 * (1.0 + np.tanh(0.5 * s)) - y  # sigmoid(s) - y, without overflow
        elif self.name == "hinge_loss":
            sign = 2.0 * y - 1.0
            gap = self.margin - sign * s
            loss = np.maximum(gap, 0.0)
            grad = np.where(gap > 0, -sign, 0.0)
        else:
            loss, grad = self._regression(s - y)
        return loss, grad[:, :, None]

    def _regression(self, r: Array) -> tuple[Array, Array]:
        if self.name == "squared_loss":
            return r * r, 2.0 * r
        if self.name == "absolute_loss":
            return np.abs(r), np.sign(r)
        if self.name in ("eps_insensitive_squared_loss", "eps_insensitive_absolute_loss"):
            excess = np.maximum(np.abs(r) - self.insensitivity, 0.0)
            if self.name == "eps_insensitive_absolute_loss":
                return excess, np.sign(r) * (excess > 0)
            return excess * excess, 2.0 * excess * np.sign(r)
        if self.name == "quantile_loss":  # r = prediction - label
            q = self.quantile
            return np.maximum(-q * r, (1.0 - q) * r), np.where(
                r > 0, 1.0 - q, np.where(r < 0, -q, 0.0)
            )
        if self.name == "huber_loss":
            a = np.abs(r)
            d = self.delta
            return np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d)), np.clip(r, -d, d)
        raise ValueError(f"unknown loss {self.name!r}")


@dataclass
class Optimizer:
    """SGD (with momentum), Adam or RMSProp with per-model learning rate, L2 and L1.

    L1 is applied as a proximal step (soft thresholding) after each update, with the step
    size each coordinate just took, so weights that L1 pushes to zero are exactly zero. The
    learning rate decays by ``factor`` every ``step`` updates down to ``minimum_lr`` when
    the scheduler is on.
    """

    kind: str
    lr: Array  # (models,)
    wd: Array  # (models,)
    l1: Array  # (models,)
    beta_1: float = 0.9
    beta_2: float = 0.999
    momentum: float = 0.9
    bias_lr_mult: float = 1.0
    bias_wd_mult: float = 0.0
    use_bias: bool = True
    scheduler_step: int = 0  # 0: no scheduler
    scheduler_factor: float = 0.99
    minimum_lr: float = 1e-5
    steps: int = 0
    state: dict[str, Array] | None = None
    epsilon: float = 1e-8

    def current_lr(self) -> Array:
        if not self.scheduler_step:
            return self.lr
        decayed = self.lr * self.scheduler_factor ** (self.steps // self.scheduler_step)
        return np.maximum(decayed, np.minimum(self.minimum_lr, self.lr))

    def _direction(self, name: str, grad: Array) -> tuple[Array, Array | float]:
        """The update direction, and the per-coordinate step scale it applies to ``lr``."""
        state = self.state if self.state is not None else {}
        self.state = state
        if self.kind == "sgd":
            velocity = self.momentum * state.get(f"m_{name}", np.zeros_like(grad)) + grad
            state[f"m_{name}"] = velocity
            return velocity, 1.0
        if self.kind == "rmsprop":
            mean_square = state.get(f"v_{name}", np.zeros_like(grad))
            mean_square = self.beta_2 * mean_square + (1.0 - self.beta_2) * grad * grad
            state[f"v_{name}"] = mean_square
            scale = 1.0 / (np.sqrt(mean_square) + self.epsilon)
            return grad * scale, scale
        first = self.beta_1 * state.get(f"m_{name}", np.zeros_like(grad)) + (1 - self.beta_1) * grad
        second = self.beta_2 * state.get(f"v_{name}", np.zeros_like(grad)) + (1 - self.beta_2) * (
            grad * grad
        )
        state[f"m_{name}"], state[f"v_{name}"] = first, second
        t = self.steps + 1
        scale = 1.0 / (np.sqrt(second / (1 - self.beta_2**t)) + self.epsilon)
        return first / (1 - self.beta_1**t) * scale, scale

    def step(self, weights: Array, bias: Array, grad_w: Array, grad_b: Array) -> None:
        """Update ``weights`` (d, models, outputs) and ``bias`` (models, outputs) in place."""
        lr = self.current_lr()
        grad_w = grad_w + self.wd[None, :, None] * weights
        direction, scale = self._direction("w", grad_w)
        step = lr[None, :, None] * scale  # per coordinate for Adam and RMSProp
        weights -= lr[None, :, None] * direction
        if np.any(self.l1 > 0):
            # The proximal step of L1 with the same per-coordinate step size: the fixed
            # point is the L1-regularised optimum, and small weights land exactly on 0.
            shrink = step * self.l1[None, :, None]
            np.copyto(weights, np.sign(weights) * np.maximum(np.abs(weights) - shrink, 0.0))
        if self.use_bias:
            grad_b = grad_b + (self.bias_wd_mult * self.wd)[:, None] * bias
            bias -= (self.bias_lr_mult * lr)[:, None] * self._direction("b", grad_b)[0]
        self.steps += 1

    def export(self) -> dict[str, Array]:
        """The state to checkpoint (arrays only)."""
        return {f"opt_{k}": v for k, v in (self.state or {}).items()} | {
            "opt_steps": np.asarray(self.steps)
        }

    def restore(self, saved: dict[str, Array]) -> None:
        self.steps = int(saved["opt_steps"])
        self.state = {
            k[4:]: np.array(v)
            for k, v in saved.items()
            if k.startswith("opt_") and k != "opt_steps"
        }


def forward(features: Array, weights: Array, bias: Array) -> Array:
    """Scores (n, models, outputs) of every model for ``features`` (n, d)."""
    d, models, outputs = weights.shape
    flat = features @ weights.reshape(d, models * outputs)
    return flat.reshape(len(features), models, outputs) + bias[None]


def gradients(features: Array, grad_scores: Array, rows: int) -> tuple[Array, Array]:
    """Mean gradients of weights (d, models, outputs) and bias from the score gradients."""
    n, models, outputs = grad_scores.shape
    flat = features.T @ grad_scores.reshape(n, models * outputs)
    return flat.reshape(-1, models, outputs) / rows, grad_scores.sum(axis=0) / rows
