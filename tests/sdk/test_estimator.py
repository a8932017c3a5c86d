"""The Estimator's SageMaker-SDK knobs: input modes, incremental training, checkpoints."""

from __future__ import annotations

import sagebox
from sagebox.sdk.estimator import Estimator, ShuffleConfig, TrainingInput
from sagebox.session import Session
from tests.control.test_training_jobs import _data


def _estimator(session: Session, **kwargs: object) -> Estimator:
    return Estimator(
        "sagebox/xgboost",
        sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        output_path="s3://mlbucket/sdk",
        hyperparameters={"objective": "binary:logistic", "num_round": 5, "eval_metric": "auc"},
        sagemaker_session=session,
        **kwargs,  # type: ignore[arg-type]
    )


def test_pipe_mode_with_a_shuffled_channel_and_incremental_training(session: Session) -> None:
    _data(session)
    first = _estimator(session, input_mode="Pipe")
    first.fit(
        {
            "train": TrainingInput(
                "s3://mlbucket/train/", content_type="text/csv", shuffle_config=ShuffleConfig(3)
            ),
            "validation": TrainingInput("s3://mlbucket/validation/", content_type="text/csv"),
        },
        logs=False,
    )
    described = first.describe()
    assert described["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"
    assert described["InputDataConfig"][0]["ShuffleConfig"] == {"Seed": 3}

    # A second estimator continues from the first one's model for 5 more rounds.
    second = _estimator(session, model_uri=first.model_data)
    second.fit(
        {
            "train": TrainingInput("s3://mlbucket/train/", content_type="text/csv"),
            "validation": TrainingInput("s3://mlbucket/validation/", content_type="text/csv"),
        },
        logs=False,
    )
    described = second.describe()
    assert [c["ChannelName"] for c in described["InputDataConfig"]][-1] == "model"
    log = session.home.path / "logs" / "training-job" / str(second.latest_training_job)
    assert "saved model with 10 rounds" in (log / "algo-1.log").read_text()


def test_checkpoints_retries_and_experiment_config_reach_the_job(session: Session) -> None:
    _data(session)
    estimator = _estimator(
        session, checkpoint_s3_uri="s3://mlbucket/ckpt/run-1", max_retry_attempts=2
    )
    estimator.fit(
        {"train": TrainingInput("s3://mlbucket/train/", content_type="text/csv")},
        logs=False,
        experiment_config={"ExperimentName": "loan-default", "TrialName": "baseline"},
    )
    described = estimator.describe()
    assert described["CheckpointConfig"]["S3Uri"] == "s3://mlbucket/ckpt/run-1"
    assert described["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert described["ExperimentConfig"]["ExperimentName"] == "loan-default"
    keys = [o.key for o in session.home.objects.iter_objects("mlbucket", "ckpt/run-1/")]
    assert "ckpt/run-1/xgboost-checkpoint.5" in keys
