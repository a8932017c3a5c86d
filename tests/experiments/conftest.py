"""One home where real XGBoost training jobs ran and were logged to MLflow by their
supervisors; the tests in this package read it (training is the slow part, so it runs once).

Jobs (all on the same validation data):
- ``plain``: no ExperimentConfig -> MLflow's Default experiment;
- ``tuned-3``: experiment ``loan-default``, trial ``depth-search``, RunName ``depth-3``;
- ``tuned-5``: the same trial, TrialComponentDisplayName ``depth-5``, max_depth 5, and a
  different training set (``train-v2/``);
- ``broken``: training data with a header row, so XGBoost fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sagebox.session import Session
from tests.control.test_training_jobs import _csv, _request, _wait

NUM_ROUND = 5
JOBS = ("plain", "tuned-3", "tuned-5", "broken")


@dataclass
class Logged:
    session: Session
    described: dict[str, dict[str, Any]]
    run_ids: dict[str, str]

    @property
    def home(self) -> Any:
        return self.session.home

    def client(self) -> Any:
        from sagebox.experiments import open_client

        return open_client(self.home)


def _channels(request: dict[str, Any], train: str, validation: str) -> None:
    for channel, prefix in (("train", train), ("validation", validation)):
        for item in request["InputDataConfig"]:
            if item["ChannelName"] == channel:
                item["DataSource"]["S3DataSource"]["S3Uri"] = f"s3://mlbucket/{prefix}/"


def wait_for_run(session: Session, name: str, timeout: float = 180) -> str:
    """The id of job ``name``'s MLflow run, once its supervisor has logged it."""
    from sagebox.experiments import runs_for_job

    end = time.monotonic() + timeout
    notes = session.home.logs_path / "training-job" / name / "mlflow.log"
    while time.monotonic() < end:
        if notes.exists():  # written once logging ended, well or not
            runs = runs_for_job(session.home, name)
            assert runs, notes.read_text()
            return str(runs[0].info.run_id)
        time.sleep(0.2)
    raise AssertionError(f"training job {name} was not logged to MLflow in {timeout} s")


@pytest.fixture(scope="package")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Logged]:
    home = tmp_path_factory.mktemp("experiments") / "home"
    session = Session(home)
    objects = session.home.objects
    objects.create_bucket("mlbucket")
    objects.put_object("mlbucket", "train/train.csv", _csv(1000, 1))
    objects.put_object("mlbucket", "train-v2/train.csv", _csv(1000, 7))
    objects.put_object("mlbucket", "validation/validation.csv", _csv(300, 2))
    objects.put_object("mlbucket", "header/train.csv", _csv(200, 3, header=True))

    plain = _request(session, "plain", num_round=str(NUM_ROUND))
    tuned_3 = _request(session, "tuned-3", num_round=str(NUM_ROUND))
    tuned_3["ExperimentConfig"] = {
        "ExperimentName": "loan-default",
        "TrialName": "depth-search",
        "RunName": "depth-3",
    }
    tuned_5 = _request(session, "tuned-5", num_round=str(NUM_ROUND), max_depth="5")
    tuned_5["ExperimentConfig"] = {
        "ExperimentName": "loan-default",
        "TrialName": "depth-search",
        "TrialComponentDisplayName": "depth-5",
    }
    _channels(tuned_5, "train-v2", "validation")
    broken = _request(session, "broken", num_round=str(NUM_ROUND))
    _channels(broken, "header", "validation")
    # All at once: their supervisors also log at about the same time (the store's lock).
    for request in (plain, tuned_3, tuned_5, broken):
        session.control.create_training_job(**request)
    described = {name: _wait(session, name) for name in JOBS}
    run_ids = {name: wait_for_run(session, name) for name in JOBS}
    for name in JOBS:  # how long each supervisor took to log its job, for the record
        notes = session.home.logs_path / "training-job" / name / "mlflow.log"
        print(notes.read_text().strip())
    yield Logged(session, described, run_ids)


@pytest.fixture
def store_home(tmp_path: Path) -> Any:
    """A fresh home, for tests that need no training job."""
    from sagebox.home import Home

    return Home.open(tmp_path / "home")
