"""Every finished training job becomes an MLflow run.

The run holds the job's hyperparameters (as strings, as on AWS) and resources as params,
every metric point the job's log gave (one step per point), its input channels as
datasets with a content hash, its model, evaluation report and logs as artifacts, and
its final state. Tags tie it to the job: ``sagemaker.training_job_arn`` makes logging
idempotent (a job reconciled after a restart can finish twice; it still has one run).
A hyperparameter tuning job's trial is nested under the tuning job's run
(:func:`tuning_parent`; the rest of that run is :mod:`sagebox.experiments.tuning`'s).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sagebox.errors import ResourceNotFound, SageboxError, ValidationError
from sagebox.experiments import artifacts
from sagebox.experiments.job import TRAINING_KIND, FinishedTrainingJob, metric_key, read_job
from sagebox.experiments.lineage import ChannelDigest, channel_digest
from sagebox.experiments.store import (
    experiment_id,
    open_client,
    store_lock,
    tracking_uri,
)
from sagebox.home import Home
from sagebox.runtime.images import resolve_image
from sagebox.runtime.spec import log_dir
from sagebox.tuning.analysis import TUNING_KIND, job_params

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Run

ARN_TAG = "sagemaker.training_job_arn"
NAME_TAG = "sagemaker.training_job_name"
STATUS_TAG = "sagemaker.training_job_status"
FAILURE_TAG = "sagemaker.failure_reason"
ALGORITHM_TAG = "sagemaker.algorithm"
TRIAL_TAG = "sagemaker.trial"  # on a trial's parent run
TRIAL_NAME_TAG = "sagemaker.trial_name"  # on the job runs inside it
INPUT_TAG = "sagemaker.input.{channel}.sha256"
PARENT_TAG = "mlflow.parentRunId"
TUNING_ARN_TAG = "sagemaker.tuning_job_arn"  # on a tuning job's run
TUNING_NAME_TAG = "sagemaker.tuning_job_name"
_TRIAL_NAME = re.compile(r"(.+)-\d{3,}-[0-9a-f]{8}")  # <tuning job>-NNN-<8 hex>
# MLflow's limits on one log_batch call and on a param value
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000
_MAX_PARAM = 6000

T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _quoted(value: str) -> str:
    for quote in ("'", '"'):
        if quote not in value:
            return f"{quote}{value}{quote}"
    raise ValueError(f"A tag value used to find a run cannot hold both quote kinds: {value!r}")


def find_run(client: MlflowClient, experiment_id: str, tag_key: str, tag_value: str) -> Run | None:
    """The active run of the experiment tagged ``tag_key = tag_value``, if any."""
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{tag_key}` = {_quoted(tag_value)}",
        max_results=1,
        order_by=["attributes.start_time ASC"],
    )
    return found[0] if found else None


def parent_run(
    client: MlflowClient,
    experiment_id: str,
    name: str,
    tag_key: str,
    tag_value: str,
    *,
    start_time: int | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """The id of the run that groups others (a trial, a tuning job), made if missing.

    Found by ``tag_key = tag_value``, so a name shared by two groups never mixes them.
    Callers that may race hold :func:`sagebox.experiments.store.store_lock`.
    """
    found = find_run(client, experiment_id, tag_key, tag_value)
    if found is not None:
        return str(found.info.run_id)
    run = client.create_run(
        experiment_id,
        start_time=start_time,
        tags={tag_key: tag_value, **(tags or {})},
        run_name=name,
    )
    return str(run.info.run_id)


def _tuning_document(home: Home, arn: str, name: str) -> dict[str, Any] | None:
    try:
        document = home.metadata.get(TUNING_KIND, name).document
    except ResourceNotFound:  # deleted, or a store shared with another home
        return None
    return dict(document) if document.get("HyperParameterTuningJobArn") == arn else None


def tuning_parent(
    home: Home, client: MlflowClient, experiment_id: str, arn: str, name: str | None = None
) -> str:
    """The id of tuning job ``arn``'s run, which its trials' runs nest under; made if
    missing, named after the job (``name``, else the ARN's) with its configuration as
    params (:func:`sagebox.tuning.analysis.job_params`). Callers hold ``store_lock``."""
    from mlflow.entities import Param

    found = find_run(client, experiment_id, TUNING_ARN_TAG, arn)
    if found is not None:
        return str(found.info.run_id)
    name = name or arn.rsplit("/", 1)[-1]
    document = _tuning_document(home, arn, name)
    start = None
    if document is not None:
        start = int(datetime.fromisoformat(str(document["CreationTime"])).timestamp() * 1000)
    note = f"SageMaker hyperparameter tuning job `{name}`; its training jobs are nested runs."
    run_id = parent_run(
        client,
        experiment_id,
        name,
        TUNING_ARN_TAG,
        arn,
        start_time=start,
        tags={
            TUNING_NAME_TAG: name,
            "mlflow.source.type": "JOB",
            "mlflow.source.name": arn,
            "mlflow.note.content": note,
        },
    )
    if document is not None:
        params = sorted(job_params(document).items())
        for chunk in _chunks(params, _PARAMS_PER_BATCH):
            client.log_batch(run_id, params=[Param(k, v) for k, v in chunk])
    return run_id


def _digests(home: Home, job: FinishedTrainingJob) -> list[ChannelDigest]:
    digests = []
    for channel in job.channels:
        try:
            digests.append(channel_digest(home.objects, channel))
        except Exception as exc:  # data removed since: the run is still worth having
            print(
                f"sagebox: input '{channel.name}' ({channel.s3_uri}) of training job "
                f"{job.name} could not be hashed: {exc}",
                file=sys.stderr,
            )
    return digests


def _tags(
    job: FinishedTrainingJob, digests: Iterable[ChannelDigest], parent: str | None
) -> dict[str, str]:
    tags = {
        ARN_TAG: job.arn,
        NAME_TAG: job.name,
        STATUS_TAG: job.status,
        "mlflow.source.type": "JOB",
        "mlflow.source.name": job.arn,
        "mlflow.note.content": (
            f"SageMaker training job `{job.name}` ({job.status}), image `{job.image}` "
            f"on {job.instance_count} x {job.instance_type}."
        ),
    }
    algorithm = _algorithm(job.image)
    if algorithm:
        tags[ALGORITHM_TAG] = algorithm
    if job.failure_reason:
        tags[FAILURE_TAG] = job.failure_reason
    if job.trial_name:
        tags[TRIAL_NAME_TAG] = job.trial_name
    if parent:
        tags[PARENT_TAG] = parent
    for digest in digests:
        tags[INPUT_TAG.format(channel=digest.channel.name)] = digest.sha256
    return tags


def _algorithm(image: str) -> str | None:
    try:
        return resolve_image(image).entry.name
    except ValidationError:
        return None


def _params(job: FinishedTrainingJob) -> list[tuple[str, str]]:
    params = {metric_key(k): v[:_MAX_PARAM] for k, v in job.hyperparameters.items()}
    resources = {
        "sagemaker.training_image": job.image,
        "sagemaker.instance_type": job.instance_type,
        "sagemaker.instance_count": str(job.instance_count),
        "sagemaker.input_mode": job.input_mode,
    }
    for key, value in resources.items():
        params.setdefault(key, value)  # a hyperparameter of the same name wins
    return sorted(params.items())


def _metrics(home: Home, job: FinishedTrainingJob, evaluation: dict[str, float]) -> list[Metric]:
    from mlflow.entities import Metric

    metrics: list[Metric] = []
    steps: dict[str, int] = {}
    for point in home.metadata.get_metrics(job.arn):
        step = steps.get(point.name, 0)  # the point's index among its metric's points
        steps[point.name] = step + 1
        stamp = int(point.timestamp.timestamp() * 1000)
        metrics.append(Metric(metric_key(point.name), point.value, stamp, step))
    for name, value in job.final_metrics.items():
        if name not in steps:  # FinalMetricDataList without the points (none were kept)
            metrics.append(Metric(metric_key(name), value, job.end_ms, 0))
    metrics += [Metric(k, v, job.end_ms, 0) for k, v in evaluation.items()]
    return metrics


def _datasets(digests: Iterable[ChannelDigest]) -> list[Any]:
    from mlflow.entities import Dataset, DatasetInput, InputTag

    inputs = []
    for digest in digests:
        profile = {"sha256": digest.sha256, "num_objects": digest.objects, "bytes": digest.size}
        dataset = Dataset(
            name=digest.channel.s3_uri[:500],
            digest=digest.sha256[:16],
            source_type="s3",
            source=json.dumps({"uri": digest.channel.s3_uri}),
            profile=json.dumps(profile),
        )
        context = InputTag("mlflow.data.context", digest.channel.name)
        inputs.append(DatasetInput(dataset, [context]))
    return inputs


def _log_run(home: Home, client: MlflowClient, job: FinishedTrainingJob, experiment: str) -> str:
    from mlflow.entities import Param

    parent = None
    if job.tuning_job_arn:  # its end is the tuning job's, logged when that ends
        found = _TRIAL_NAME.fullmatch(job.name)
        tuning = found.group(1) if found else None
        parent = tuning_parent(home, client, experiment, job.tuning_job_arn, tuning)
    elif job.trial_name:
        parent = parent_run(
            client, experiment, job.trial_name, TRIAL_TAG, job.trial_name, start_time=job.start_ms
        )
    digests = _digests(home, job)
    run = client.create_run(
        experiment, start_time=job.start_ms, tags=_tags(job, digests, parent), run_name=job.run_name
    )
    run_id = str(run.info.run_id)
    for chunk in _chunks(_params(job), _PARAMS_PER_BATCH):
        client.log_batch(run_id, params=[Param(k, v) for k, v in chunk])
    if digests:
        client.log_inputs(run_id, datasets=_datasets(digests))
    with tempfile.TemporaryDirectory(prefix="sagebox-mlflow-") as tmp:
        workdir = Path(tmp)
        if job.model_uri:
            artifacts.log_model(client, run_id, home.objects, job.model_uri, workdir)
        evaluation = artifacts.log_evaluation(client, run_id, home.objects, job.output_uri, workdir)
    artifacts.log_logs(client, run_id, log_dir(home.path, TRAINING_KIND, job.name))
    for metric_chunk in _chunks(_metrics(home, job, evaluation), _METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metric_chunk)
    client.set_terminated(run_id, job.run_status, end_time=job.end_ms)
    if parent and not job.tuning_job_arn:
        previous = client.get_run(parent).info.end_time or 0
        client.set_terminated(parent, "FINISHED", end_time=max(previous, job.end_ms))
    return run_id


def log_training_job(home: Home, job_name: str) -> str:
    """Log the finished training job ``job_name`` as an MLflow run; the run's id.

    A job logged before keeps its run (the id is returned). A run left unfinished by a
    logger that died part-way is replaced.
    """
    job = read_job(home, job_name)
    client = open_client(home)
    with store_lock(home):
        experiment = experiment_id(home, client, job.experiment_name)
        existing = find_run(client, experiment, ARN_TAG, job.arn)
        if existing is not None:
            if existing.info.status != "RUNNING":
                return str(existing.info.run_id)
            client.delete_run(existing.info.run_id)
        return _log_run(home, client, job, experiment)


def try_log_training_job(home: Home, job_name: str) -> str | None:
    """:func:`log_training_job` for a job's supervisor: never raises.

    The job's final state is recorded before this runs, and a tracking store that is
    down must not fail it: a failure is one line on stderr and in the job's log folder
    (``mlflow.log``, beside ``algo-1.log``), which also notes each success and its time.
    """
    began = time.monotonic()
    try:
        run_id = log_training_job(home, job_name)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, SageboxError) else f"{type(exc).__name__}: {exc}"
        note = (
            f"WARNING: training job {job_name} was not logged to MLflow at "
            f"{_safe_uri(home)}: {detail}".replace("\n", " ")
        )
        print(f"sagebox: {note}", file=sys.stderr)
        _note(home, job_name, note)
        return None
    _note(
        home,
        job_name,
        f"logged training job {job_name} as MLflow run {run_id} at {_safe_uri(home)} "
        f"in {time.monotonic() - began:.2f} s",
    )
    return run_id


def _safe_uri(home: Home) -> str:
    """The tracking URI without a password, for messages."""
    uri = tracking_uri(home)
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        credentials, _, host = rest.partition("@")
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return uri


def _note(home: Home, job_name: str, text: str) -> None:
    folder = log_dir(home.path, TRAINING_KIND, job_name)
    if not folder.is_dir():  # a job that never ran (or none at all): stderr says it
        return
    try:
        with (folder / artifacts.NOTES_FILE).open("a") as handle:
            handle.write(f"{datetime.now(UTC).isoformat()} {text}\n")
    except OSError:
        pass


def runs_for_job(home: Home, job_name: str) -> list[Run]:
    """The MLflow runs of training job ``job_name`` (one once it is logged), any experiment."""
    client = open_client(home)
    arn = home.arn("sagemaker", f"training-job/{job_name.lower()}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    return list(client.search_runs(experiments, filter_string=f"tags.`{ARN_TAG}` = {_quoted(arn)}"))
