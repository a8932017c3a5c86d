"""The container contract every built-in algorithm program follows.

An algorithm module is run as ``python -m sagebox.algorithms.<name>`` inside a
training-job instance. Its ``main`` is ``run(train, "<Title>")``: ``train(paths,
scratch)`` reads ``/opt/ml/input/config`` and the channels, writes the model to
``/opt/ml/model`` and, when it can score a ``validation`` (or ``test``) channel, calls
:func:`write_evaluation` so the job carries ``evaluation.json`` and ``evaluation.html``
in ``/opt/ml/output/data``. Any :class:`ValidationError` becomes the one-line
``/opt/ml/output/failure`` that the job shows as its ``FailureReason``.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagebox.algorithms.channels import channel_dir
from sagebox.errors import ValidationError

__all__ = ["Paths", "read_hyperparameters", "run", "stop_requested", "write_evaluation"]

_STOP = threading.Event()


def stop_requested() -> bool:
    """True once the job was asked to stop (SIGTERM from StopTrainingJob, an early-stopping
    tuner or MaxRuntimeInSeconds): the algorithm ends at the next round or epoch and saves
    the model it has, which SageMaker keeps as the stopped job's artifact."""
    return _STOP.is_set()


@dataclass(frozen=True)
class Paths:
    """Where the container contract puts things, from ``SM_*`` variables or /opt/ml."""

    config: Path
    model: Path
    output: Path
    checkpoints: Path

    @classmethod
    def from_env(cls) -> Paths:
        def get(var: str, default: str) -> Path:
            return Path(os.environ.get(var) or default)

        return cls(
            config=get("SM_INPUT_CONFIG_DIR", "/opt/ml/input/config"),
            model=get("SM_MODEL_DIR", "/opt/ml/model"),
            output=get("SM_OUTPUT_DIR", "/opt/ml/output"),
            checkpoints=get("SM_CHECKPOINT_DIR", "/opt/ml/checkpoints"),
        )

    @staticmethod
    def channel(name: str) -> Path:
        return channel_dir(name)

    @property
    def output_data(self) -> Path:
        return Path(os.environ.get("SM_OUTPUT_DATA_DIR") or self.output / "data")


def read_hyperparameters(paths: Paths) -> dict[str, str]:
    """``hyperparameters.json`` as SageMaker writes it: every value a string."""
    path = paths.config / "hyperparameters.json"
    try:
        value = json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path} is not valid JSON ({exc}); fix the file.") from None
    if not isinstance(value, dict):
        raise ValidationError(f"{path} must hold a JSON object; got {type(value).__name__}.")
    return {k: str(v) for k, v in value.items()}


def write_evaluation(
    paths: Paths, labels: Any, scores: Any, problem: str, title: str, channel: str
) -> None:
    """Evaluate predictions on a held-out channel into ``output/data/evaluation.*``.

    The model is already saved: a report that cannot be made is a warning in the log,
    never a failed job.
    """
    try:
        from sagebox.evaluation import evaluate, write_report

        result = evaluate(labels, scores, problem=problem)
        paths.output_data.mkdir(parents=True, exist_ok=True)
        write_report(result, paths.output_data, title=f"{title} on the {channel!r} channel")
    except Exception as exc:
        print(f"WARNING: no evaluation report: {type(exc).__name__}: {exc}", file=sys.stderr)
        return
    shown = [(k, v) for k, v in result.metrics.items() if isinstance(v, int | float)][:6]
    headline = ", ".join(f"{k}={v:.4f}" for k, v in shown)
    print(f"evaluation on {channel}: {headline}", flush=True)


def _fail(paths: Paths, reason: str) -> int:
    line = " ".join(reason.split())
    print(f"training failed: {line}", file=sys.stderr, flush=True)
    try:
        paths.output.mkdir(parents=True, exist_ok=True)
        (paths.output / "failure").write_text(line + "\n")
    except OSError as exc:
        print(f"could not write the failure file: {exc}", file=sys.stderr)
    return 1


def run(
    train: Callable[[Paths, Path], None],
    title: str,
    library_errors: tuple[type[BaseException], ...] = (),
) -> int:
    """Run ``train`` by the container contract: 0 on success, 1 with a failure file."""
    paths = Paths.from_env()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda _signum, _frame: _STOP.set())
    try:
        with tempfile.TemporaryDirectory(prefix=f"sagebox-{title.lower().replace(' ', '-')}-") as s:
            train(paths, Path(s))
    except ValidationError as exc:
        return _fail(paths, exc.message)
    except library_errors as exc:
        return _fail(paths, f"{title} rejected the job: {str(exc).strip().splitlines()[0]}")
    except Exception as exc:
        return _fail(paths, f"Internal error in the {title} algorithm: {type(exc).__name__}: {exc}")
    return 0
