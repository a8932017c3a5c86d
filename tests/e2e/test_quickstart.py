"""The quickstart, as `make quickstart` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sagebox.runtime.processes import namespace_mode


@pytest.mark.skipif(namespace_mode() is None, reason="the quickstart script uses /opt/ml paths")
def test_quickstart_prepares_stratified_splits(tmp_path: Path) -> None:
    env = {**os.environ, "DO_NOT_TRACK": "1"}
    home = tmp_path / "qs"
    result = subprocess.run(
        [sys.executable, "-m", "sagebox", "quickstart", "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        timeout=420,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "uploaded 1000 applications" in out
    assert "[algo-1]" in out and "[algo-2]" in out
    assert ": Completed" in out
    assert "catalog: loans.applications:" in out and "partitioned by batch" in out
    assert "catalog: loans.german_credit: 21 columns" in out
    assert "scanned 1 of 1 partitions" in out
    assert "flow: quickstart-applications v1 (7 steps)" in out
    assert "(test, train, validation)" in out
    assert "tuning job loan-default-" in out and "(Bayesian, early stopping): Completed" in out
    assert "best trial loan-default-" in out
    assert "profit-maximising threshold" in out
    assert "MLflow run" in out
    assert "model-package/loan-default/1 (version 1): Approved" in out
    assert (
        "endpoint loan-default-serverless (serverless, 2048 MB, MaxConcurrency 5): InService" in out
    )
    assert "applicant 3: P(default) = 0." in out
    assert "150 applicants scored to s3://sagebox-quickstart/scores/test/" in out
    # the endpoint serves on after the quickstart, until the user deletes it
    invoked = subprocess.run(
        [sys.executable, "-m", "sagebox", "invoke", "loan-default-serverless",
         "--body", rows_of(home, "test")[0].split(",", 1)[1], "--home", str(home)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert invoked.returncode == 0, invoked.stderr
    assert 0 < float(invoked.stdout) < 1
    deleted = subprocess.run(
        [sys.executable, "-m", "sagebox", "endpoints", "delete", "loan-default-serverless",
         "--home", str(home)],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert deleted.returncode == 0, deleted.stderr
    assert list((home / "reports").glob("loan-default-*/evaluation.html"))
    assert (
        home / "s3" / "sagebox-quickstart" / "reports" / "german-credit" / "report.html"
    ).is_file()
    rows = {}
    for split in ("train", "validation", "test"):
        files = sorted((home / "s3" / "sagebox-quickstart" / "prepared" / split).glob("*.csv"))
        assert [f.name for f in files] == ["part-algo-1.csv", "part-algo-2.csv"]
        lines = [line for f in files for line in f.read_text().splitlines()]
        rows[split] = lines
        defaults = sum(line.split(",")[0] == "1" for line in lines) / len(lines)
        assert 0.27 <= defaults <= 0.33, (split, defaults)  # stratified: 30 % bad
    assert len(rows["train"]) == 700
    assert len(rows["validation"]) + len(rows["test"]) == 300


def rows_of(home: Path, split: str) -> list[str]:
    folder = home / "s3" / "sagebox-quickstart" / "prepared" / split
    return [line for f in sorted(folder.glob("*.csv")) for line in f.read_text().splitlines()]
