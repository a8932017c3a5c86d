"""The contract every built-in algorithm keeps, checked once over all of them.

Each row of CASES gives an algorithm's hyperparameters for a small binary problem and
the validation metric it must emit after every round or epoch.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sagebox.algorithms import ALGORITHMS, algorithm
from sagebox.algorithms.inference import load_model
from sagebox.errors import ValidationError
from tests.algorithms.harness import (
    Job,
    binary_channels,
    csv,
    feed_pipe,
    member,
    metric_values,
    problem,
    tar,
)


@dataclass(frozen=True)
class Case:
    hyperparameters: dict[str, str]
    metric: str  # emitted on the validation channel after every iteration
    iterations: int  # how many metric lines a run prints
    bad: tuple[str, str] = ("", "")  # (name, value) that is out of range
    extra: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "xgboost": Case(
        {"objective": "binary:logistic", "num_round": "8", "eval_metric": "auc", "max_depth": "3"},
        "validation:auc",
        8,
        ("eta", "3"),
    ),
    "linear-learner": Case(
        {
            "predictor_type": "binary_classifier",
            "epochs": "5",
            "mini_batch_size": "100",
            "early_stopping_patience": "10",
        },
        "validation:objective_loss",
        5,
        ("learning_rate", "-1"),
        {"pipe_epochs": 5},
    ),
    "knn": Case(
        {"predictor_type": "classifier", "k": "15", "sample_size": "500", "feature_dim": "4"},
        "validation:accuracy",
        1,
        ("k", "0"),
    ),
    "lightgbm": Case(
        {"num_boost_round": "8", "metric": "auc", "num_leaves": "8", "verbosity": "-1"}
        | {"num_threads": "1"},
        "validation:auc",
        8,
        ("learning_rate", "1"),
    ),
    "catboost": Case(
        {"iterations": "8", "eval_metric": "AUC", "learning_rate": "0.3", "depth": "3"}
        | {"early_stopping_rounds": "0", "verbose": "0", "thread_count": "1"},
        "validation:AUC",
        8,
        ("depth", "17"),
    ),
}


def _module(name: str) -> Any:
    return algorithm(name)


def test_every_registered_algorithm_has_a_contract_case() -> None:
    assert sorted(CASES) == sorted(ALGORITHMS)


@pytest.fixture(params=sorted(CASES))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def job(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Job:
    return binary_channels(Job(tmp_path, monkeypatch, _module(name).main), rows=500)


def _values(module: Any, lines: list[str], metric: str) -> list[float]:
    return metric_values(module, lines).get(metric, [])


def test_declares_the_contract(name: str) -> None:
    module = _module(name)
    for attribute in ("TITLE", "MODEL_FILENAME", "HYPERPARAMETERS", "METRIC_DEFINITIONS"):
        assert getattr(module, attribute), attribute
    for flag in ("SUPPORTS_INCREMENTAL", "SUPPORTS_CHECKPOINTS"):
        assert isinstance(getattr(module, flag), bool), flag
    names = {d["Name"] for d in module.METRIC_DEFINITIONS}
    assert CASES[name].metric in names
    for definition in module.METRIC_DEFINITIONS:
        re.compile(definition["Regex"])


def test_rejects_unknown_and_out_of_range_hyperparameters(name: str) -> None:
    module, case = _module(name), CASES[name]
    with pytest.raises(ValidationError, match="Valid hyperparameters"):
        module.validate_hyperparameters({**case.hyperparameters, "no_such_knob": "1"})
    bad, value = case.bad
    with pytest.raises(ValidationError, match=rf"'{bad}' parameter of .* must be .* Got {value}"):
        module.validate_hyperparameters({**case.hyperparameters, bad: value})


def test_an_invalid_hyperparameter_fails_the_job_with_its_message(
    name: str, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    module, case = _module(name), CASES[name]
    bad, value = case.bad
    hyperparameters = {**case.hyperparameters, bad: value}
    with pytest.raises(ValidationError) as info:
        module.validate_hyperparameters(hyperparameters)
    rc, _ = job.run(capsys, **hyperparameters)
    assert rc == 1
    assert job.failure.strip() == info.value.message  # the job's FailureReason
    assert not (job.model / module.MODEL_FILENAME).exists()


def test_trains_emits_metrics_and_evaluates(
    name: str, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    module, case = _module(name), CASES[name]
    rc, lines = job.run(capsys, **case.hyperparameters)
    assert rc == 0, (job.output / "failure").read_text() if rc else ""
    values = _values(module, lines, case.metric)
    assert len(values) == case.iterations
    assert (job.model / module.MODEL_FILENAME).exists()
    report = job.evaluation
    assert report["problem"] == "binary"
    assert report["metrics"]["auc"] > 0.75
    assert (job.output / "data" / "evaluation.html").is_file()

    loaded = load_model(job.model)
    assert loaded.algorithm == name and loaded.problem == "binary"
    x, y = problem(200, 2)
    scores = np.asarray(loaded.predict(x.astype("float32")))
    assert scores.shape == (200,)
    assert ((scores > 0.5) == y).mean() > 0.7


def test_refuses_a_header_and_an_empty_channel(
    name: str, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    job.channel("train", {"train.csv": "label,a,b,c,d\n" + csv(*problem(50, 0))}, "text/csv")
    rc, _ = job.run(capsys, **case.hyperparameters)
    assert rc == 1 and "header" in job.failure

    (job.root / "data" / "train" / "train.csv").write_text("")
    rc, _ = job.run(capsys, **case.hyperparameters)
    assert rc == 1 and "holds no data" in job.failure


def test_reads_a_pipe_mode_channel_as_a_stream(
    name: str, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[name]
    import shutil

    shutil.rmtree(job.root / "data" / "train")
    epochs = int(case.extra.get("pipe_epochs", 1))
    threads = feed_pipe(job, "train", csv(*problem(500, 0)).encode(), epochs)
    rc, _ = job.run(capsys, **case.hyperparameters)
    assert rc == 0, job.failure if rc else ""
    for thread in threads:
        thread.join(timeout=10)
        assert not thread.is_alive()


def _supporting(capability: str) -> list[str]:
    """The algorithms that declare ``capability`` (KNN trains in one pass, with neither
    checkpoints nor a ``model`` channel, as SageMaker's KNN)."""
    return [n for n in sorted(CASES) if getattr(algorithm(n), capability, True)]


@pytest.mark.parametrize("name", _supporting("SUPPORTS_CHECKPOINTS"), indirect=True)
def test_resumes_from_its_checkpoints(
    name: str, job: Job, capsys: pytest.CaptureFixture[str]
) -> None:
    module, case = _module(name), CASES[name]
    rc, _ = job.run(capsys, **case.hyperparameters)
    assert rc == 0
    assert any(job.checkpoints.iterdir())
    rc, lines = job.run(capsys, **case.hyperparameters)
    assert rc == 0
    assert any("resuming from checkpoint" in line for line in lines)
    assert len(_values(module, lines, case.metric)) < case.iterations


HOSTILE: dict[str, tuple[Callable[[str], tuple[tarfile.TarInfo, bytes]], str]] = {
    "absolute": (lambda model: member(f"/etc/{model}", b"x"), "has an absolute path"),
    "parent": (lambda model: member(f"../../{model}", b"x"), "climbs out of the archive"),
    "symlink": (
        lambda model: member(model, type=tarfile.SYMTYPE, linkname="/etc/passwd"),
        "is a link (to '/etc/passwd')",
    ),
    "hardlink": (lambda model: member(model, type=tarfile.LNKTYPE, linkname="other"), "is a link"),
    "fifo": (lambda model: member(model, type=tarfile.FIFOTYPE), "is not a regular file"),
}


@pytest.mark.parametrize("name", _supporting("SUPPORTS_INCREMENTAL"), indirect=True)
@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_refuses_a_hostile_model_archive_before_extracting_it(
    name: str, job: Job, capsys: pytest.CaptureFixture[str], hostile: str
) -> None:
    module, case = _module(name), CASES[name]
    make, reason = HOSTILE[hostile]
    info, data = make(module.MODEL_FILENAME)
    job.channel("model", {"model.tar.gz": tar([(info, data)])})
    rc, _ = job.run(capsys, **case.hyperparameters)
    assert rc == 1
    assert f"Refusing model archive model.tar.gz: member {info.name!r} {reason}" in job.failure
    assert not list(job.root.rglob("passwd"))
    assert not (job.root.parent / module.MODEL_FILENAME).exists()
    assert not (job.model / module.MODEL_FILENAME).exists()
