"""Shared fixtures: a fresh home per test and an embedded session on it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


@pytest.fixture
def home_path(tmp_path: Path) -> Path:
    from sagebox.home import Home

    path = tmp_path / "home"
    Home.open(path)
    config = json.loads((path / "config.json").read_text())
    config["stop_grace_seconds"] = 2.0
    (path / "config.json").write_text(json.dumps(config))
    return path


@pytest.fixture
def session(home_path: Path) -> Iterator[object]:
    from sagebox.session import Session

    yield Session(home_path)


def _hypothesis_profiles() -> None:
    from hypothesis import settings

    # CI runs the same examples every time, so a red build is reproducible.
    settings.register_profile("ci", derandomize=True, deadline=None)
    settings.register_profile("dev", deadline=None)
    settings.load_profile("ci" if os.environ.get("CI") else "dev")


_hypothesis_profiles()
