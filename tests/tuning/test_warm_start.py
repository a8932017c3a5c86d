"""WarmStartConfig: every documented constraint refused; the parents' trials returned."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sagebox.errors import ResourceLimitExceeded, ResourceNotFound, ValidationError
from sagebox.tuning._base import Objective
from sagebox.tuning.ranges import parse_ranges
from sagebox.tuning.strategies import strategy
from sagebox.tuning.warm_start import check_warm_start, count_changes

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def job(**overrides: Any) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request (the parts warm start reads)."""
    document: dict[str, Any] = {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian",
            "HyperParameterTuningJobObjective": {
                "Type": "Maximize",
                "MetricName": "validation:auc",
            },
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "eta", "MinValue": "0.01", "MaxValue": "0.5"}
                ],
                "IntegerParameterRanges": [
                    {"Name": "max_depth", "MinValue": "2", "MaxValue": "10"}
                ],
                "CategoricalParameterRanges": [
                    {"Name": "tree_method", "Values": ["auto", "exact", "approx", "hist"]}
                ],
            },
        },
        "TrainingJobDefinition": {
            "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            "StaticHyperParameters": {
                "objective": "binary:logistic",
                "num_round": "50",
                "subsample": "0.8",
                "_tuning_objective_metric": "validation:auc",
            },
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "DataSource": {"S3DataSource": {"S3Uri": "s3://data/train/"}},
                },
                {
                    "ChannelName": "validation",
                    "DataSource": {"S3DataSource": {"S3Uri": "s3://data/validation/"}},
                },
            ],
        },
    }
    for path, value in overrides.items():
        target = document
        *parents, last = path.split("__")
        for key in parents:
            target = target[key]
        target[last] = value
    return document


def parent(name: str = "p1", status: str = "Completed", **overrides: Any) -> dict[str, Any]:
    document = job(**overrides)
    document.update(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobStatus=status,
        TrainingJobSummaries=[
            summary({"eta": "0.1", "max_depth": "4", "tree_method": "hist"}, 0.81),
            summary({"eta": "0.3", "max_depth": "8", "tree_method": "exact"}, 0.78, "Stopped"),
            summary({"eta": "0.2", "max_depth": "3", "tree_method": "auto"}, None, "Failed"),
            summary({"eta": "0.05", "max_depth": "6", "tree_method": "approx"}, None),
        ],
    )
    return document


def summary(
    tuned: dict[str, str], value: float | None, status: str = "Completed"
) -> dict[str, Any]:
    out: dict[str, Any] = {"TunedHyperParameters": tuned, "TrainingJobStatus": status}
    if value is not None:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": "validation:auc",
            "Value": value,
        }
    return out


def warm(*names: str, kind: str = "IdenticalDataAndAlgorithm") -> dict[str, Any]:
    return {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": n} for n in names],
        "WarmStartType": kind,
    }


def test_a_valid_warm_start_returns_the_parents_evaluated_trials() -> None:
    trials = check_warm_start(job(), warm("p1", "p2"), [parent("p1"), parent("p2", "Stopped")])
    # completed and stopped trials with an objective, from each parent in order
    assert [(t.objective, t.state) for t in trials] == [
        (0.81, "Completed"),
        (0.78, "Stopped"),
        (0.81, "Completed"),
        (0.78, "Stopped"),
    ]
    assert trials[0].hyperparameters == {
        "objective": "binary:logistic",
        "num_round": "50",
        "subsample": "0.8",
        "eta": "0.1",
        "max_depth": "4",
        "tree_method": "hist",
    }
    # and the Bayesian strategy learns from them
    config = job()["HyperParameterTuningJobConfig"]
    s = strategy("Bayesian")(
        parse_ranges(config["ParameterRanges"]),
        Objective("validation:auc", "Maximize"),
        seed=1,
        max_trials=3,
        prior=trials,
    )
    assert s.prior_used == 4  # type: ignore[attr-defined]


def test_a_failed_parent_is_terminal_and_a_warm_started_parent_is_allowed() -> None:
    grand = parent("p1", "Failed")
    grand["WarmStartConfig"] = warm("p0")
    trials = check_warm_start(job(), warm("p1"), [grand])
    assert len(trials) == 2  # only p1's own trials: warm start is not recursive


@pytest.mark.parametrize(
    ("warm_start", "parents", "message"),
    [
        (warm(*[f"p{i}" for i in range(6)]), [parent(f"p{i}") for i in range(6)], "1 to 5 parent"),
        (warm(), [], "1 to 5 parent"),
        (warm("p1", "p1"), [parent("p1")], "listed more than once"),
        (warm("p1", kind="Identical"), [parent("p1")], "WarmStartType 'Identical' is not valid"),
        (warm("p1"), [parent("p1", "InProgress")], "is InProgress. Parents must be in a terminal"),
        (warm("p1"), [parent("p1", "Stopping")], "terminal state (Completed, Stopped, Failed)"),
    ],
)
def test_parents_are_refused(warm_start: dict, parents: list, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_warm_start(job(), warm_start, parents)
    assert message in info.value.message


def test_a_missing_parent_is_not_found() -> None:
    with pytest.raises(ResourceNotFound, match="'p9' does not exist"):
        check_warm_start(job(), warm("p9"), [parent("p1")])


def refused(new: dict, old: dict, message: str, kind: str = "IdenticalDataAndAlgorithm") -> None:
    with pytest.raises(ValidationError) as info:
        check_warm_start(new, warm("p1", kind=kind), [old])
    assert message in info.value.message


def test_the_objective_metric_must_not_change() -> None:
    config = "HyperParameterTuningJobConfig__HyperParameterTuningJobObjective"
    refused(
        job(**{config: {"Type": "Maximize", "MetricName": "validation:f1"}}),
        parent(),
        "The objective metric (Maximize 'validation:f1') differs",
    )
    refused(
        job(**{config: {"Type": "Minimize", "MetricName": "validation:auc"}}),
        parent(),
        "keeps its parents' objective metric and type",
    )


def test_the_number_of_static_plus_tunable_hyperparameters_must_not_change() -> None:
    new = job(
        TrainingJobDefinition__StaticHyperParameters={
            "objective": "binary:logistic",
            "num_round": "50",
        }
    )
    refused(new, parent(), "has 5 static plus tunable hyperparameters and the parent")


def test_a_hyperparameter_keeps_its_type() -> None:
    new = job()
    ranges = new["HyperParameterTuningJobConfig"]["ParameterRanges"]
    ranges["IntegerParameterRanges"] = []
    ranges["ContinuousParameterRanges"].append(
        {"Name": "max_depth", "MinValue": "2", "MaxValue": "10"}
    )
    refused(new, parent(), "'max_depth' is Continuous here and Integer in the parent")


def test_changes_are_counted_as_aws_counts_them() -> None:
    old, new = job(), job()
    assert (
        count_changes(
            parse_ranges(old["HyperParameterTuningJobConfig"]["ParameterRanges"]),
            {"a": "1"},
            [],
            {"tree_method": "hist", "eta": "0.1", "max_depth": "4", "a": "2"},
        )
        == 4 + 1 + 1 + 2
    )
    # a static hyperparameter made tunable is not a change
    assert (
        count_changes(
            [],
            {"eta": "0.1"},
            parse_ranges(new["HyperParameterTuningJobConfig"]["ParameterRanges"]),
            {},
        )
        == 0
    )


def test_more_than_ten_changes_are_refused() -> None:
    statics = {f"s{i}": "1" for i in range(6)}
    old = parent(TrainingJobDefinition__StaticHyperParameters=statics)
    five = job(
        TrainingJobDefinition__StaticHyperParameters={**statics, **{f"s{i}": "2" for i in range(5)}}
    )
    assert len(check_warm_start(five, warm("p1"), [old])) == 2  # 5 values changed: 10 changes
    six = job(TrainingJobDefinition__StaticHyperParameters={f"s{i}": "2" for i in range(6)})
    refused(six, old, "makes 12 changes to the parent tuning job 'p1'")
    # tree_method (4 values) made static, plus 4 static values changed: 4 + 8 = 12
    new = job(
        TrainingJobDefinition__StaticHyperParameters={
            "objective": "binary:hinge",
            "num_round": "80",
            "subsample": "0.5",
            "tree_method": "hist",
        }
    )
    del new["HyperParameterTuningJobConfig"]["ParameterRanges"]["CategoricalParameterRanges"]
    old = parent(
        TrainingJobDefinition__StaticHyperParameters={
            "objective": "binary:logistic",
            "num_round": "50",
            "subsample": "0.8",
            "gamma": "0",
        }
    )
    new["TrainingJobDefinition"]["StaticHyperParameters"]["gamma"] = "1"
    refused(new, old, "makes 12 changes")


def test_identical_data_and_algorithm_keeps_image_and_data() -> None:
    other_image = job(
        TrainingJobDefinition__AlgorithmSpecification={"TrainingImage": "sagebox/lightgbm"}
    )
    refused(other_image, parent(), "needs the training image of the parent tuning job 'p1'")
    new = job()
    new["TrainingJobDefinition"]["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
        "s3://data/train-2024/"
    )
    refused(new, parent(), "needs the input data of the parent tuning job 'p1'")
    # transfer learning may change both
    both = copy.deepcopy(new)
    both["TrainingJobDefinition"]["AlgorithmSpecification"]["TrainingImage"] = "sagebox/xgboost"
    assert len(check_warm_start(both, warm("p1", kind="TransferLearning"), [parent()])) == 2


def test_parents_training_jobs_count_against_the_limit() -> None:
    new = job(
        HyperParameterTuningJobConfig__ResourceLimits={
            "MaxNumberOfTrainingJobs": 747,
            "MaxParallelTrainingJobs": 1,
        }
    )
    with pytest.raises(
        ResourceLimitExceeded,
        match=r"ran 4 training jobs.*751 in all.*Lower MaxNumberOfTrainingJobs to 746",
    ):
        check_warm_start(new, warm("p1"), [parent()])
    new["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 746
    check_warm_start(new, warm("p1"), [parent()])


def test_only_one_training_job_definition_is_supported() -> None:
    old = parent()
    old["TrainingJobDefinitions"] = [old.pop("TrainingJobDefinition")] * 2
    refused(job(), old, "to have one training job definition")
