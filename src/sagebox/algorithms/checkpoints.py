"""Checkpoints and model files of the built-in algorithms, never left torn.

A job may be killed at any moment (a spot interruption, StopTrainingJob, MaxRuntime) and a
restarted job resumes from ``/opt/ml/checkpoints``, which CheckpointConfig syncs with S3. So
every file is written beside its target and renamed into place, and the boosting algorithms
checkpoint after every round as ``<prefix><rounds>``, keeping the latest few. A job that
resumes says ``resuming from checkpoint ...`` in its log, whatever it resumes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagebox.files import write_atomically

__all__ = ["KEPT", "RoundCheckpoints", "resuming", "save_model", "write_atomically"]

KEPT = 5  # round checkpoints kept: older ones are removed as training goes on


def save_model(model: Any, path: Path, suffix: str = ".partial") -> None:
    """``model.save_model(file)`` (XGBoost, LightGBM, CatBoost) to ``path``, atomically.

    ``suffix`` ends the temporary file's name, for libraries that choose the format by it.
    """
    write_atomically(path, lambda partial: model.save_model(str(partial)), suffix)


def resuming(what: str) -> None:
    """Say in the job's log that it resumes (``round 6``, ``epoch 2``, a snapshot's name)."""
    print(f"resuming from checkpoint {what}", flush=True)


@dataclass(frozen=True)
class RoundCheckpoints:
    """``<prefix><rounds>`` files in ``directory``, one per boosting round, latest ``kept``."""

    directory: Path
    prefix: str
    suffix: str = ".partial"  # of the temporary file while one is written
    kept: int = KEPT

    def listed(self) -> list[tuple[int, Path]]:
        """``(rounds, path)`` of every checkpoint, oldest first."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in self.directory.glob(self.prefix + "*"):
            suffix = path.name[len(self.prefix) :]
            if suffix.isdigit():
                found.append((int(suffix), path))
        return sorted(found)

    def save(self, model: Any, rounds: int) -> None:
        """Checkpoint ``model`` after ``rounds`` rounds and remove all but the latest ``kept``.

        Only where the checkpoint folder exists: the platform makes it for a job with a
        ``CheckpointConfig``, as SageMaker does, and saving every round costs time.
        """
        if not self.directory.is_dir():
            return
        save_model(model, self.directory / f"{self.prefix}{rounds}", self.suffix)
        for _, old in self.listed()[: -self.kept]:
            old.unlink(missing_ok=True)

    def latest(self) -> Path | None:
        """The latest checkpoint, announced in the log as the one the job resumes from."""
        saved = self.listed()
        if not saved:
            return None
        rounds, path = saved[-1]
        resuming(f"round {rounds}")
        return path
