"""The parts of logging that need no training job: content hashes, the evaluation report,
the never-failing supervisor hook, and a light import."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from sagebox.experiments import (
    ChannelInput,
    channel_digest,
    open_client,
    parent_run,
    try_log_training_job,
)
from sagebox.experiments.artifacts import log_evaluation
from sagebox.home import Home
from tests.experiments.conftest import Logged


def test_a_channel_hash_follows_content_not_location(store_home: Home) -> None:
    objects = store_home.objects
    objects.create_bucket("data")
    for prefix in ("a/", "b/"):
        objects.put_object("data", f"{prefix}part-1.csv", b"1,2\n3,4\n")
        objects.put_object("data", f"{prefix}part-2.csv", b"5,6\n")

    def digest(prefix: str) -> str:
        return channel_digest(objects, ChannelInput("train", f"s3://data/{prefix}")).sha256

    first = digest("a/")
    assert digest("a/") == first
    assert digest("b/") == first  # the same files elsewhere
    objects.put_object("data", "b/part-2.csv", b"5,7\n")
    assert digest("b/") != first  # one changed byte
    objects.put_object("data", "a/part-3.csv", b"")
    assert digest("a/") != first  # one more (even empty) file
    manifest = [{"prefix": "s3://data/a/"}, "part-1.csv", "part-2.csv"]
    objects.put_object("data", "manifest.json", json.dumps(manifest).encode())
    manifest_channel = ChannelInput("train", "s3://data/manifest.json", "ManifestFile")
    listed = channel_digest(objects, manifest_channel)
    assert listed.sha256 == first and listed.objects == 2


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, body in members:
            if body is None:
                tar.addfile(info)
            else:
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_the_evaluation_report_is_read_from_output_tar_safely(
    store_home: Home, tmp_path: Path
) -> None:
    report = {"metrics": {"auc": 0.91, "ks": 0.6, "calibration": {"brier": 0.12}, "ok": True}}
    link = tarfile.TarInfo("evaluation.html")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    packed = _tar(
        [
            (tarfile.TarInfo("./evaluation.json"), json.dumps(report).encode()),
            (link, None),  # a link is never followed
            (tarfile.TarInfo("../evaluation.json"), b"{}"),  # names never become paths
            (tarfile.TarInfo("nested/evaluation.json"), b"{}"),
            (tarfile.TarInfo("predictions.csv"), b"0.1\n"),
        ]
    )
    store_home.objects.create_bucket("out")
    store_home.objects.put_object("out", "job/output/output.tar.gz", packed)
    client = open_client(store_home)
    run_id = client.create_run("0").info.run_id
    uri = "s3://out/job/output/output.tar.gz"
    metrics = log_evaluation(client, run_id, store_home.objects, uri, tmp_path / "work")
    assert metrics == {
        "evaluation.auc": 0.91,
        "evaluation.ks": 0.6,
        "evaluation.calibration.brier": 0.12,
    }
    assert [a.path for a in client.list_artifacts(run_id, "evaluation")] == [
        "evaluation/evaluation.json"
    ]
    logged = client.download_artifacts(run_id, "evaluation/evaluation.json", str(tmp_path))
    assert json.loads(Path(logged).read_text()) == report
    missing = "s3://out/other/output/output.tar.gz"
    assert log_evaluation(client, run_id, store_home.objects, missing, tmp_path / "w2") == {}


def test_parent_run_is_found_by_its_tag_not_made_twice(store_home: Home) -> None:
    client = open_client(store_home)
    first = parent_run(client, "0", "tuning", "sagemaker.tuning_job", "tune-1")
    assert parent_run(client, "0", "tuning", "sagemaker.tuning_job", "tune-1") == first
    assert parent_run(client, "0", "tuning", "sagemaker.tuning_job", "tune-2") != first


def test_the_supervisor_hook_never_raises_and_says_why(logged: Logged) -> None:
    home = logged.home
    # A database that cannot be opened: its folder would be a file.
    unusable = f"sqlite:///{home.path / 'config.json' / 'mlflow.db'}"
    broken: Any = Home(home.path, dataclasses.replace(home.config, mlflow_tracking_uri=unusable))
    assert try_log_training_job(broken, "plain") is None
    notes = home.logs_path / "training-job" / "plain" / "mlflow.log"
    last = notes.read_text().splitlines()[-1]
    assert "WARNING: training job plain was not logged to MLflow" in last
    assert unusable in last
    assert try_log_training_job(home, "no-such-job") is None


@pytest.mark.parametrize("module", ["sagebox.experiments", "sagebox.control.training"])
def test_importing_sagebox_does_not_import_mlflow(module: str) -> None:
    code = f"import sys, {module}; assert 'mlflow' not in sys.modules, 'mlflow imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
