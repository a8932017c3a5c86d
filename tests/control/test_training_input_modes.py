"""Training-job data paths: File, Pipe and FastFile modes, CheckpointConfig, RetryStrategy,
and the output.tar.gz of /opt/ml/output/data."""

from __future__ import annotations

import gzip
import io
import os
import signal
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from sagebox.runtime.spec import job_dir
from sagebox.session import Session
from tests.control.test_training_jobs import _csv, _data, _request, _wait


def _metric(session: Session, described: dict[str, Any], name: str) -> float:
    points = session.home.metadata.get_metrics(described["TrainingJobArn"], name)
    assert points, f"no {name} metric"
    return points[-1].value


@pytest.mark.parametrize("mode", ["File", "Pipe", "FastFile"])
def test_each_input_mode_trains_the_same_model(session: Session, mode: str) -> None:
    _data(session)
    request = _request(session, f"mode-{mode.lower()}")
    request["AlgorithmSpecification"]["TrainingInputMode"] = mode
    session.control.create_training_job(**request)
    described = _wait(session, f"mode-{mode.lower()}")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    final = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert final["validation:auc"] > 0.8
    on_disk = _metric(session, described, "sagebox:input_bytes_on_disk")
    if mode == "File":
        assert on_disk > 0  # the channels were copied before training started
    else:
        assert on_disk == 0  # streamed through FIFOs, or linked from the store in place
    assert _metric(session, described, "sagebox:seconds_to_first_metric") > 0


def test_pipe_mode_streams_gzip_and_shuffles_objects_per_epoch(session: Session) -> None:
    objects = session.home.objects
    objects.create_bucket("mlbucket")
    for part in range(3):
        objects.put_object("mlbucket", f"train/part-{part}.csv.gz", gzip.compress(_csv(400, part)))
    objects.put_object("mlbucket", "validation/validation.csv", _csv(300, 9))
    request = _request(session, "pipe-gzip")
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    train = request["InputDataConfig"][0]
    train["CompressionType"] = "Gzip"
    train["ShuffleConfig"] = {"Seed": 7}
    session.control.create_training_job(**request)
    described = _wait(session, "pipe-gzip")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert _metric(session, described, "validation:auc") > 0.8


def test_pipe_mode_object_that_is_not_gzip_fails_the_job_clearly(session: Session) -> None:
    _data(session)
    request = _request(session, "pipe-bad-gzip")
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    request["InputDataConfig"][0]["CompressionType"] = "Gzip"
    session.control.create_training_job(**request)
    described = _wait(session, "pipe-bad-gzip")
    assert described["TrainingJobStatus"] == "Failed"
    assert "Pipe-mode channel 'train'" in described["FailureReason"]


def test_output_data_is_packed_as_output_tar_gz(session: Session) -> None:
    _data(session)
    session.control.create_training_job(**_request(session, "with-report"))
    described = _wait(session, "with-report")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    packed = session.home.objects.get_object("mlbucket", "models/with-report/output/output.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        assert "evaluation.json" in tar.getnames()


def _checkpointed(session: Session, name: str, rounds: str, retries: int = 0) -> dict[str, Any]:
    request = _request(session, name, num_round=rounds)
    request["CheckpointConfig"] = {"S3Uri": "s3://mlbucket/checkpoints/loan-model"}
    if retries:
        request["RetryStrategy"] = {"MaximumRetryAttempts": retries}
    return request


def test_checkpoints_sync_to_s3_and_a_new_job_resumes_from_them(session: Session) -> None:
    _data(session)
    session.control.create_training_job(**_checkpointed(session, "ckpt-1", "10"))
    assert _wait(session, "ckpt-1")["TrainingJobStatus"] == "Completed"
    keys = [o.key for o in session.home.objects.iter_objects("mlbucket", "checkpoints/")]
    assert "checkpoints/loan-model/xgboost-checkpoint.10" in keys

    # A second job pointed at the same checkpoints starts where the first stopped.
    session.control.create_training_job(**_checkpointed(session, "ckpt-2", "15"))
    described = _wait(session, "ckpt-2")
    assert described["TrainingJobStatus"] == "Completed"
    log = (session.home.path / "logs" / "training-job" / "ckpt-2" / "algo-1.log").read_text()
    assert "resuming from checkpoint round 10" in log
    aucs = session.home.metadata.get_metrics(described["TrainingJobArn"], "validation:auc")
    assert len(aucs) == 5  # only the rounds that were left


def _instance_pid(session: Session, name: str) -> int:
    import json

    path = job_dir(session.home.path, "training-job", name) / "instances.json"
    end = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < end
        time.sleep(0.05)
    return int(json.loads(path.read_text())[0]["pid"])


def test_a_lost_instance_is_retried_and_resumes_from_its_checkpoint(session: Session) -> None:
    objects = session.home.objects
    objects.create_bucket("mlbucket")
    # enough rows that 1,000 small rounds outlast the first checkpoint upload (1 s)
    objects.put_object("mlbucket", "train/train.csv", _csv(20000, 1))
    objects.put_object("mlbucket", "validation/validation.csv", _csv(500, 2))
    request = _checkpointed(session, "retry", "1000", retries=2)
    request["HyperParameters"]["max_depth"] = "2"
    session.control.create_training_job(**request)
    pid = _instance_pid(session, "retry")
    checkpoints = session.home.objects
    end = time.monotonic() + 60
    while not any(checkpoints.iter_objects("mlbucket", "checkpoints/loan-model/")):
        assert time.monotonic() < end
        time.sleep(0.05)
    os.killpg(pid, signal.SIGKILL)  # the instance is lost, as a spot interruption would
    described = _wait(session, "retry", timeout=600)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    statuses = [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert "Restarting" in statuses
    log = Path(session.home.path / "logs" / "training-job" / "retry" / "algo-1.log").read_text()
    assert "resuming from checkpoint round" in log


def test_a_program_error_is_not_retried(session: Session) -> None:
    _data(session, header=True)
    session.control.create_training_job(**_checkpointed(session, "no-retry", "5", retries=3))
    described = _wait(session, "no-retry")
    assert described["TrainingJobStatus"] == "Failed"
    statuses = [t["Status"] for t in described["SecondaryStatusTransitions"]]
    assert "Restarting" not in statuses


def test_xgboost_on_two_instances_trains_one_model_on_sharded_data(session: Session) -> None:
    objects = session.home.objects
    objects.create_bucket("mlbucket")
    for part in range(4):
        objects.put_object("mlbucket", f"train/part-{part}.csv", _csv(500, part))
    objects.put_object("mlbucket", "validation/validation.csv", _csv(400, 9))
    request = _request(session, "distributed")
    request["ResourceConfig"]["InstanceCount"] = 2
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = (
        "ShardedByS3Key"
    )
    session.control.create_training_job(**request)
    described = _wait(session, "distributed")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["BillableTimeInSeconds"] == 2 * described["TrainingTimeInSeconds"]
    logs = session.home.path / "logs" / "training-job" / "distributed"
    assert "worker 1 of 2" in (logs / "algo-2.log").read_text()
    # one metric line per round: the leader logs, with metrics reduced over both shards
    aucs = session.home.metadata.get_metrics(described["TrainingJobArn"], "validation:auc")
    assert len(aucs) == 20 and aucs[-1].value > 0.8


def test_a_manifest_file_channel_reads_exactly_the_objects_it_lists(session: Session) -> None:
    import json

    objects = session.home.objects
    objects.create_bucket("mlbucket")
    objects.put_object("mlbucket", "pool/good-1.csv", _csv(800, 1))
    objects.put_object("mlbucket", "pool/good-2.csv", _csv(800, 2))
    objects.put_object("mlbucket", "pool/broken.csv", b"label,not,numbers\nx,y,z\n")
    objects.put_object("mlbucket", "validation/validation.csv", _csv(300, 3))
    manifest = [{"prefix": "s3://mlbucket/pool/"}, "good-1.csv", "good-2.csv"]
    objects.put_object("mlbucket", "manifests/train.json", json.dumps(manifest).encode())
    request = _request(session, "manifest")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"] = {
        "S3DataType": "ManifestFile",
        "S3Uri": "s3://mlbucket/manifests/train.json",
    }
    session.control.create_training_job(**request)
    described = _wait(session, "manifest")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")


def test_augmented_manifests_are_refused_with_a_clear_message(session: Session) -> None:
    from sagebox.errors import ValidationError

    request = _request(session, "augmented")
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = (
        "AugmentedManifestFile"
    )
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["AttributeNames"] = ["source"]
    with pytest.raises(ValidationError, match="AugmentedManifestFile"):
        session.control.create_training_job(**request)


def test_distributed_builtin_training_with_network_isolation_is_refused(session: Session) -> None:
    from sagebox.errors import ValidationError

    request = _request(session, "isolated")
    request["ResourceConfig"]["InstanceCount"] = 2
    request["EnableNetworkIsolation"] = True
    with pytest.raises(ValidationError, match="EnableNetworkIsolation"):
        session.control.create_training_job(**request)


def test_linear_learner_streams_every_epoch_through_its_own_fifo(session: Session) -> None:
    _data(session)
    request = _request(session, "ll-pipe")
    request["AlgorithmSpecification"] = {
        "TrainingImage": "sagebox/linear-learner",
        "TrainingInputMode": "Pipe",
    }
    request["HyperParameters"] = {
        "predictor_type": "binary_classifier",
        "epochs": "4",
        "mini_batch_size": "100",
        "num_models": "4",
    }
    session.control.create_training_job(**request)
    described = _wait(session, "ll-pipe")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    losses = session.home.metadata.get_metrics(
        described["TrainingJobArn"], "validation:objective_loss"
    )
    assert len(losses) >= 2  # one per epoch, each epoch read from train_<epoch>
    assert _metric(session, described, "sagebox:input_bytes_on_disk") == 0


def test_a_stopped_job_keeps_the_model_it_had_trained(session: Session) -> None:
    objects = session.home.objects
    objects.create_bucket("mlbucket")
    objects.put_object("mlbucket", "train/train.csv", _csv(20000, 1))
    objects.put_object("mlbucket", "validation/validation.csv", _csv(500, 2))
    request = _request(session, "stop-me", num_round="3000", max_depth="2")
    session.control.create_training_job(**request)
    described = session.control.describe_training_job(TrainingJobName="stop-me")
    end = time.monotonic() + 120
    while not session.home.metadata.get_metrics(described["TrainingJobArn"], "validation:auc"):
        assert time.monotonic() < end
        time.sleep(0.1)
    session.control.stop_training_job(TrainingJobName="stop-me")
    described = _wait(session, "stop-me")
    assert described["TrainingJobStatus"] == "Stopped"
    packed = session.home.objects.get_object("mlbucket", "models/stop-me/output/model.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        assert "xgboost-model" in tar.getnames()
    log = (session.home.path / "logs" / "training-job" / "stop-me" / "algo-1.log").read_text()
    rounds = int(log.split("saved model with ")[1].split()[0])
    assert 0 < rounds < 3000  # what it had when asked to stop, not a finished model
