"""A SageMaker /opt/ml layout in a temporary folder, for running algorithm programs in-process.

Shared by the algorithm tests and the contract suite over every built-in algorithm.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

CHANNELS = ("train", "validation", "test", "model")


def problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A learnable but noisy binary problem: the label depends on two of four features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.7, size=n) > 0).astype(float)
    return x, y


def csv(x: np.ndarray, y: np.ndarray) -> str:
    return "".join(",".join(map(str, [int(t), *row])) + "\n" for t, row in zip(y, x, strict=True))


class Job:
    """SageMaker's /opt/ml layout under tmp_path, with the SM_* variables pointing at it."""

    def __init__(
        self, root: Path, monkeypatch: pytest.MonkeyPatch, main: Callable[[], int]
    ) -> None:
        self.root = root
        self.main = main
        self.config = root / "input" / "config"
        self.config.mkdir(parents=True)
        self.model = root / "model"
        self.output = root / "output"
        self.checkpoints = root / "checkpoints"
        self.content_types: dict[str, Any] = {}
        self.monkeypatch = monkeypatch
        for var, path in [
            ("SM_INPUT_CONFIG_DIR", self.config),
            ("SM_MODEL_DIR", self.model),
            ("SM_OUTPUT_DIR", self.output),
            ("SM_CHECKPOINT_DIR", self.checkpoints),
        ]:
            monkeypatch.setenv(var, str(path))
        for name in CHANNELS:
            monkeypatch.setenv(f"SM_CHANNEL_{name.upper()}", str(root / "data" / name))

    def channel(self, name: str, files: dict[str, str | bytes], content_type: str = "") -> Path:
        directory = self.root / "data" / name
        directory.mkdir(parents=True, exist_ok=True)
        for filename, body in files.items():
            path = directory / filename
            if isinstance(body, bytes):
                path.write_bytes(body)
            else:
                path.write_text(body)
        if content_type:
            self.content_types[name] = {"ContentType": content_type}
        return directory

    def run(self, capsys: pytest.CaptureFixture[str], **hp: object) -> tuple[int, list[str]]:
        (self.config / "hyperparameters.json").write_text(
            json.dumps({k: str(v) for k, v in hp.items()})
        )
        (self.config / "inputdataconfig.json").write_text(json.dumps(self.content_types))
        rc = self.main()
        return rc, capsys.readouterr().out.splitlines()

    @property
    def failure(self) -> str:
        return (self.output / "failure").read_text()

    @property
    def evaluation(self) -> dict[str, Any]:
        return json.loads((self.output / "data" / "evaluation.json").read_text())


def feed_pipe(job: Job, channel: str, body: bytes, epochs: int = 1) -> list[Any]:
    """Pipe mode as the supervisor does it: a FIFO per epoch beside the channel folder.

    Returns the writer threads (join them after the run).
    """
    import os
    import threading

    data_root = job.root / "data"
    data_root.mkdir(parents=True, exist_ok=True)
    threads = []
    for epoch in range(epochs):
        fifo = data_root / f"{channel}_{epoch}"
        os.mkfifo(fifo)

        def write(path: Path = fifo) -> None:
            with path.open("wb") as fh:  # blocks until the algorithm opens the epoch
                fh.write(body)

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        threads.append(thread)
    return threads
