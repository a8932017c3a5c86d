"""The files a training job's run keeps: its model, its evaluation report, its logs.

Artifact paths in the run: ``model/model.tar.gz``, ``evaluation/evaluation.json`` and
``evaluation/evaluation.html`` (when the algorithm wrote them to ``/opt/ml/output/data``),
``logs/algo-N.log``.
"""

from __future__ import annotations

import json
import math
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagebox.errors import NoSuchBucket, NoSuchKey
from sagebox.experiments.job import metric_key
from sagebox.store.objects import ObjectStore, parse_s3_uri

if TYPE_CHECKING:
    from mlflow import MlflowClient

EVALUATION_FILES = ("evaluation.json", "evaluation.html")
MAX_EVALUATION_BYTES = 64 * 1024 * 1024
# Notes sagebox writes about logging itself, beside the job's log streams; not an artifact.
NOTES_FILE = "mlflow.log"


def log_model(
    client: MlflowClient, run_id: str, store: ObjectStore, model_uri: str, workdir: Path
) -> bool:
    """Copy the job's model.tar.gz into the run under ``model/``; False if there is none."""
    uri = parse_s3_uri(model_uri)
    path = workdir / "model" / (uri.key.rsplit("/", 1)[-1] or "model.tar.gz")
    try:
        store.download_file(uri.bucket, uri.key, path)
    except (NoSuchKey, NoSuchBucket):
        return False
    client.log_artifact(run_id, str(path), "model")
    return True


def _evaluation_members(tar: tarfile.TarFile) -> Iterator[tuple[str, bytes]]:
    """The report files at the top of an output.tar.gz, read without touching the disk:
    names from the archive are never used as paths, links and oversized files are skipped."""
    for member in tar:
        name = member.name.removeprefix("./")
        if name not in EVALUATION_FILES or not member.isfile():
            continue
        if member.size > MAX_EVALUATION_BYTES:
            continue
        handle = tar.extractfile(member)
        if handle is not None:
            yield name, handle.read()


def log_evaluation(
    client: MlflowClient, run_id: str, store: ObjectStore, output_uri: str, workdir: Path
) -> dict[str, float]:
    """Log the job's evaluation report under ``evaluation/``; its headline metrics.

    The report is ``evaluation.json`` (and ``evaluation.html``) in the job's
    ``/opt/ml/output/data``, uploaded as ``output.tar.gz``; a job without one logs nothing.
    """
    uri = parse_s3_uri(output_uri)
    try:
        _, stream = store.open_object(uri.bucket, uri.key)
    except (NoSuchKey, NoSuchBucket):
        return {}
    folder = workdir / "evaluation"
    found: dict[str, bytes] = {}
    with stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
        for name, body in _evaluation_members(tar):
            found[name] = body
    if not found:
        return {}
    folder.mkdir(parents=True, exist_ok=True)
    for name, body in found.items():
        (folder / name).write_bytes(body)
    client.log_artifacts(run_id, str(folder), "evaluation")
    if "evaluation.json" not in found:
        return {}
    try:
        report = json.loads(found["evaluation.json"])
    except ValueError:
        return {}
    headline = report.get("metrics") if isinstance(report, dict) else None
    return headline_metrics(headline) if isinstance(headline, Mapping) else {}


def headline_metrics(metrics: Mapping[str, Any], prefix: str = "evaluation.") -> dict[str, float]:
    """The finite numbers of an evaluation report's ``metrics``, nested names joined by '.'."""
    out: dict[str, float] = {}
    for name, value in metrics.items():
        key = f"{prefix}{name}"
        if isinstance(value, Mapping):
            out.update(headline_metrics(value, f"{key}."))
        elif (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[metric_key(key)] = float(value)
    return out


def log_logs(client: MlflowClient, run_id: str, folder: Path) -> int:
    """Log the job's log streams under ``logs/``; how many files were logged."""
    if not folder.is_dir():
        return 0
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != NOTES_FILE)
    for path in files:
        client.log_artifact(run_id, str(path), "logs")
    return len(files)
