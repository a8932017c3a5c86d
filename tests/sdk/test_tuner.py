"""HyperparameterTuner in the SageMaker Python SDK's shape: the AWS ML guide's example with
only its imports changed, analytics, the best estimator, several estimators, warm start."""

from __future__ import annotations

from typing import Any

import pytest

import sagebox
from sagebox import image_uris
from sagebox.errors import ResourceNotFound
from sagebox.sdk.estimator import Estimator, TrainingInput
from sagebox.sdk.tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperbandStrategyConfig,
    HyperparameterTuner,
    HyperparameterTuningJobAnalytics,
    IntegerParameter,
    StrategyConfig,
    TuningFailedError,
    WarmStartConfig,
    WarmStartTypes,
)
from sagebox.session import Session
from tests.control.tuning_helpers import BUCKET, LOSS_METRIC, put_data, trainer_definition


def _trainer(session: Session, **hyperparameters: Any) -> Estimator:
    """An Estimator for the script-mode trainer of tuning_helpers (a known loss curve)."""
    definition = trainer_definition(session)
    return Estimator(
        "sagebox/sklearn",
        sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        output_path=f"s3://{BUCKET}/sdk",
        hyperparameters={**definition["StaticHyperParameters"], **hyperparameters},
        metric_definitions=[LOSS_METRIC],
        sagemaker_session=session,
    )


def test_the_aws_guide_example(session: Session, capsys: pytest.CaptureFixture[str]) -> None:
    put_data(session)
    role = sagebox.get_execution_role(session)
    container = image_uris.retrieve("xgboost", session.region_name, "1.7-1")
    xgb = Estimator(
        container,
        role,
        instance_count=1,
        instance_type="ml.m4.xlarge",
        output_path=f"s3://{BUCKET}/output",
        sagemaker_session=session,
    )
    xgb.set_hyperparameters(
        eval_metric="auc",
        objective="binary:logistic",
        num_round=10,
        rate_drop=0.3,
        tweedie_variance_power=1.4,
    )
    hyperparameter_ranges = {
        "eta": ContinuousParameter(0, 1),
        "min_child_weight": ContinuousParameter(1, 10),
        "alpha": ContinuousParameter(0, 2),
        "max_depth": IntegerParameter(1, 10),
    }
    tuner = HyperparameterTuner(
        xgb,
        "validation:auc",
        hyperparameter_ranges,
        max_jobs=4,
        max_parallel_jobs=2,
        random_seed=5,
    )
    train = TrainingInput(f"s3://{BUCKET}/train/", content_type="csv")
    validation = TrainingInput(f"s3://{BUCKET}/validation/", content_type="csv")
    tuner.fit({"train": train, "validation": validation}, include_cls_metadata=False, logs=True)

    assert tuner.latest_tuning_job is not None
    name = tuner.latest_tuning_job.job_name
    assert len(name) <= 32 and name.startswith("sagemaker-xgboost-")
    described = session.control.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name
    )
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    config = described["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian"  # the SDK's default
    static = described["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {
        "eval_metric": "auc",
        "objective": "binary:logistic",
        "num_round": "10",
        "rate_drop": "0.3",
        "tweedie_variance_power": "1.4",
    }
    printed = capsys.readouterr().out
    assert printed.count(f"{name}-00") == 4 and "validation:auc=" in printed

    frame = tuner.analytics().dataframe()
    assert len(frame) == 4
    for column in (
        "eta",
        "min_child_weight",
        "alpha",
        "max_depth",
        "TrainingJobName",
        "TrainingJobStatus",
        "FinalObjectiveValue",
        "TrainingStartTime",
        "TrainingEndTime",
        "TrainingElapsedTimeSeconds",
    ):
        assert column in frame.columns
    assert frame["max_depth"].between(1, 10).all() and frame["eta"].between(0, 1).all()
    best = tuner.best_training_job()
    top = frame.sort_values("FinalObjectiveValue", ascending=False).iloc[0]
    assert best == top["TrainingJobName"]

    estimator = tuner.best_estimator()
    assert estimator.latest_training_job == best
    assert estimator.hyperparameters()["max_depth"] == str(int(top["max_depth"]))
    assert "max_depth" not in xgb.hyperparameters()  # the tuner's estimator is unchanged
    model = estimator.model_data
    assert model == f"s3://{BUCKET}/output/{best}/output/model.tar.gz"
    assert session.home.objects.head_object(BUCKET, f"output/{best}/output/model.tar.gz")

    again = HyperparameterTuningJobAnalytics(name, session)
    assert again.description()["BestTrainingJob"]["TrainingJobName"] == best


def test_several_estimators_hyperband_and_a_warm_start(session: Session) -> None:
    fast = _trainer(session, epochs=4, delay=0.05)
    slow = _trainer(session, epochs=4, delay=0.1)
    tuner = HyperparameterTuner.create(
        estimator_dict={"fast": fast, "slow": slow},
        objective_metric_name_dict={"fast": "validation:loss", "slow": "validation:loss"},
        hyperparameter_ranges_dict={
            "fast": {"lr": ContinuousParameter(0.5, 1.0)},
            "slow": {"lr": CategoricalParameter([0.2, 0.3])},
        },
        strategy="Hyperband",
        strategy_config=StrategyConfig(HyperbandStrategyConfig(max_resource=4, min_resource=1)),
        objective_type="Minimize",
        max_jobs=4,
        max_parallel_jobs=2,
        base_tuning_job_name="two-trainers",
    )
    tuner.fit(wait=True)
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert [d["DefinitionName"] for d in described["TrainingJobDefinitions"]] == ["fast", "slow"]
    frame = tuner.analytics().dataframe()
    assert sorted(frame["TrainingJobDefinitionName"]) == ["fast", "fast", "slow", "slow"]
    assert set(frame[frame["TrainingJobDefinitionName"] == "slow"]["lr"]) <= {0.2, 0.3}
    best = tuner.best_estimator()
    top = frame.sort_values("FinalObjectiveValue").iloc[0]
    assert float(best.hyperparameters()["lr"]) == pytest.approx(top["lr"])
    assert best.latest_training_job == top["TrainingJobName"]

    child = HyperparameterTuner(
        fast,
        "validation:loss",
        {"lr": ContinuousParameter(0.05, 0.2)},
        strategy="Random",
        objective_type="Minimize",
        max_jobs=2,
        max_parallel_jobs=2,
        warm_start_config=WarmStartConfig(
            WarmStartTypes.TRANSFER_LEARNING, parents={"parent-of-nothing"}
        ),
    )
    with pytest.raises(ResourceNotFound, match="parent-of-nothing"):
        child.fit(wait=False)

    parent = HyperparameterTuner(
        fast,
        "validation:loss",
        {"lr": ContinuousParameter(0.5, 1.0)},
        strategy="Random",
        objective_type="Minimize",
        max_jobs=2,
        max_parallel_jobs=2,
    )
    parent.fit()
    assert parent.latest_tuning_job is not None
    parent_name = parent.latest_tuning_job.name
    warm = parent.identical_dataset_and_algorithm_tuner()
    warm._hyperparameter_ranges = {"lr": ContinuousParameter(0.05, 0.2)}
    warm.fit()
    described = warm.describe()
    assert described["WarmStartConfig"] == {
        "WarmStartType": "IdenticalDataAndAlgorithm",
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent_name}],
    }
    assert described["OverallBestTrainingJob"]["TuningJobName"] == parent_name


def test_a_failed_tuning_job_raises_and_stop_stops(session: Session) -> None:
    trainer = _trainer(session, epochs=2, delay=0.05)
    trainer.metric_definitions = [{"Name": "validation:nothing", "Regex": "nothing=([0-9.]+)"}]
    tuner = HyperparameterTuner(
        trainer,
        "validation:nothing",
        {"lr": ContinuousParameter(0.1, 1)},
        strategy="Random",
        objective_type="Minimize",
        max_jobs=1,
    )
    with pytest.raises(TuningFailedError, match="reported no objective"):
        tuner.fit()

    long = _trainer(session, epochs=100, delay=0.2)
    tuner = HyperparameterTuner(
        long,
        "validation:loss",
        {"lr": ContinuousParameter(0.1, 1)},
        strategy="Random",
        objective_type="Minimize",
        max_jobs=3,
    )
    tuner.fit(wait=False)
    tuner.stop_tuning_job()
    assert tuner.wait()["HyperParameterTuningJobStatus"] == "Stopped"
    summaries = tuner.analytics().training_job_summaries()
    assert len(summaries) <= 1  # stopped before the second trial could launch
    assert all(s["TrainingJobStatus"] == "Stopped" for s in summaries)


def test_a_framework_estimator_script_is_tuned(session: Session, tmp_path: Any) -> None:
    from sagebox.sdk.sklearn import SKLearn
    from tests.control.tuning_helpers import TRAINER

    (tmp_path / "train.py").write_bytes(TRAINER)
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(tmp_path),
        framework_version="1.2-1",
        role=sagebox.get_execution_role(session),
        instance_type="ml.m5.large",
        hyperparameters={"epochs": 3, "delay": 0.05},
        metric_definitions=[LOSS_METRIC],
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        estimator,
        "validation:loss",
        {"lr": CategoricalParameter([0.2, 0.9])},
        strategy="Grid",
        objective_type="Minimize",
        max_parallel_jobs=2,
    )
    tuner.fit()
    described = tuner.describe()
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    static = described["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static["sagemaker_program"] == '"train.py"'
    assert static["epochs"] == "3"  # JSON-encoded, as the SageMaker SDK sends them
    frame = tuner.analytics().dataframe()
    assert sorted(frame["lr"]) == [0.2, 0.9]
    best = tuner.best_estimator()
    assert best.hyperparameters()["lr"] == '"0.9"'
    assert estimator.hyperparameters().get("lr") is None
