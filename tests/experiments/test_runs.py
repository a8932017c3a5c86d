"""Finished training jobs as MLflow runs: params, metric histories, lineage, artifacts,
experiment > trial > run nesting, failures, and idempotent logging."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sagebox.experiments import ARN_TAG, TRIAL_TAG, log_training_job, runs_for_job
from tests.experiments.conftest import NUM_ROUND, Logged


def _ms(value: datetime | str) -> int:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return int(moment.timestamp() * 1000)


def test_a_completed_job_is_a_run_with_its_params_metrics_and_model(logged: Logged) -> None:
    client = logged.client()
    described = logged.described["plain"]
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    run = client.get_run(logged.run_ids["plain"])

    assert run.info.status == "FINISHED"
    assert run.info.experiment_id == "0"  # no ExperimentConfig: MLflow's Default experiment
    assert run.info.run_name == "plain"
    assert run.info.start_time == _ms(described["TrainingStartTime"])
    assert run.info.end_time == _ms(described["TrainingEndTime"])
    hyperparameters = described["HyperParameters"]
    assert {k: run.data.params[k] for k in hyperparameters} == hyperparameters
    assert run.data.params["sagemaker.instance_type"] == "ml.m5.large"
    assert run.data.params["sagemaker.instance_count"] == "1"
    assert run.data.params["sagemaker.training_image"] == "sagebox/xgboost"
    assert run.data.tags[ARN_TAG] == described["TrainingJobArn"]
    assert run.data.tags["sagemaker.training_job_name"] == "plain"
    assert run.data.tags["sagemaker.training_job_status"] == "Completed"
    assert run.data.tags["sagemaker.algorithm"] == "xgboost"

    history = client.get_metric_history(run.info.run_id, "validation:auc")
    assert [m.step for m in history] == list(range(NUM_ROUND))  # one point per round
    final = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert history[-1].value == final["validation:auc"]
    assert run.data.metrics["train:auc"] == final["train:auc"]

    model = [a.path for a in client.list_artifacts(run.info.run_id, "model")]
    assert model == ["model/model.tar.gz"]
    logs = [a.path for a in client.list_artifacts(run.info.run_id, "logs")]
    assert logs == ["logs/algo-1.log"]
    contexts = {
        i.dataset.name: {t.key: t.value for t in i.tags}["mlflow.data.context"]
        for i in run.inputs.dataset_inputs
    }
    assert contexts == {"s3://mlbucket/train/": "train", "s3://mlbucket/validation/": "validation"}


def test_the_input_hash_is_stable_for_the_same_data_and_changes_with_it(logged: Logged) -> None:
    client = logged.client()
    tags = {name: client.get_run(logged.run_ids[name]).data.tags for name in logged.run_ids}
    train, validation = "sagemaker.input.train.sha256", "sagemaker.input.validation.sha256"
    assert len(tags["plain"][train]) == 64
    assert tags["plain"][train] == tags["tuned-3"][train]  # same data, another job
    assert tags["plain"][train] != tags["tuned-5"][train]  # train-v2 holds other rows
    assert tags["plain"][validation] == tags["tuned-5"][validation]
    run = client.get_run(logged.run_ids["tuned-5"])
    digests = {i.dataset.name: i.dataset.digest for i in run.inputs.dataset_inputs}
    assert digests["s3://mlbucket/train-v2/"] == tags["tuned-5"][train][:16]


def test_experiment_config_maps_to_experiment_trial_and_run(logged: Logged) -> None:
    client = logged.client()
    experiment = client.get_experiment_by_name("loan-default")
    assert experiment is not None
    assert experiment.artifact_location.startswith(str(logged.home.path / "mlflow" / "artifacts"))
    three = client.get_run(logged.run_ids["tuned-3"])
    five = client.get_run(logged.run_ids["tuned-5"])
    assert three.info.experiment_id == five.info.experiment_id == experiment.experiment_id
    assert three.info.run_name == "depth-3"  # ExperimentConfig.RunName
    assert five.info.run_name == "depth-5"  # TrialComponentDisplayName
    assert five.data.params["max_depth"] == "5"
    parent_id = three.data.tags["mlflow.parentRunId"]
    assert five.data.tags["mlflow.parentRunId"] == parent_id
    parent = client.get_run(parent_id)
    assert parent.info.run_name == "depth-search"
    assert parent.data.tags[TRIAL_TAG] == "depth-search"
    assert parent.info.status == "FINISHED"
    assert parent.info.end_time >= max(three.info.end_time, five.info.end_time)
    in_experiment = client.search_runs([experiment.experiment_id])
    assert len(in_experiment) == 3  # the trial's run and its two jobs


def test_a_failed_job_is_a_failed_run_with_its_reason(logged: Logged) -> None:
    described = logged.described["broken"]
    assert described["TrainingJobStatus"] == "Failed"
    client = logged.client()
    run = client.get_run(logged.run_ids["broken"])
    assert run.info.status == "FAILED"
    assert run.data.tags["sagemaker.failure_reason"] == described["FailureReason"]
    assert "header" in run.data.tags["sagemaker.failure_reason"]
    assert client.list_artifacts(run.info.run_id, "model") == []
    log = client.download_artifacts(run.info.run_id, "logs/algo-1.log")
    assert "header" in Path(log).read_text()


def test_logging_a_job_again_keeps_one_run(logged: Logged) -> None:
    home, client = logged.home, logged.client()
    run_id = logged.run_ids["plain"]
    assert log_training_job(home, "plain") == run_id
    assert [r.info.run_id for r in runs_for_job(home, "plain")] == [run_id]

    # A logger that died part-way leaves a RUNNING run: the next one replaces it.
    client.update_run(run_id, status="RUNNING")
    replaced = log_training_job(home, "plain")
    assert replaced != run_id
    runs = runs_for_job(home, "plain")
    assert [r.info.run_id for r in runs] == [replaced]
    assert runs[0].info.status == "FINISHED"
    assert len(client.get_metric_history(replaced, "validation:auc")) == NUM_ROUND
    logged.run_ids["plain"] = replaced
