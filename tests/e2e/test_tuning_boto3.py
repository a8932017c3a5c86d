"""boto3 against the server: the AWS ML guide's XGBoost tuning job, end to end."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from tests.control.tuning_helpers import BUCKET, channels, put_data
from tests.e2e.conftest import RunningServer


def test_boto3_tunes_xgboost_as_in_the_aws_guide(server: RunningServer) -> None:
    from sagebox.session import Session

    session = Session(server.home_path)
    put_data(session)
    role = session.get_execution_role()
    sagemaker = server.client("sagemaker")
    tuning_job_config = {
        "ParameterRanges": {
            "CategoricalParameterRanges": [],
            "ContinuousParameterRanges": [
                {"MaxValue": "1", "MinValue": "0", "Name": "eta"},
                {"MaxValue": "2", "MinValue": "0", "Name": "alpha"},
                {"MaxValue": "10", "MinValue": "1", "Name": "min_child_weight"},
            ],
            "IntegerParameterRanges": [{"MaxValue": "10", "MinValue": "1", "Name": "max_depth"}],
        },
        "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2},
        "Strategy": "Bayesian",
        "HyperParameterTuningJobObjective": {"MetricName": "validation:auc", "Type": "Maximize"},
        "TrainingJobEarlyStoppingType": "Auto",
        "RandomSeed": 123,
    }
    training_job_definition = {
        "AlgorithmSpecification": {
            "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "TrainingInputMode": "File",
        },
        "InputDataConfig": channels(),
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/xgboost"},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
        "RoleArn": role,
        "StaticHyperParameters": {
            "eval_metric": "auc",
            "num_round": "10",
            "objective": "binary:logistic",
            "rate_drop": "0.3",
            "tweedie_variance_power": "1.4",
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 43200},
    }
    began = time.monotonic()
    arn = sagemaker.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="guide-xgb",
        HyperParameterTuningJobConfig=tuning_job_config,
        TrainingJobDefinition=training_job_definition,
    )["HyperParameterTuningJobArn"]
    resource = "hyper-parameter-tuning-job/guide-xgb"
    assert arn == f"arn:aws:sagemaker:{server.region}:{session.account_id}:{resource}"
    deadline = time.monotonic() + 150
    while True:
        described = sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="guide-xgb"
        )
        if described["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.5)
    print(f"6 trials, 2 at a time: {time.monotonic() - began:.1f} s")
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    assert isinstance(described["CreationTime"], datetime)
    counters = described["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["Stopped"] == 6
    assert described["ObjectiveStatusCounters"]["Succeeded"] == 6
    best = described["BestTrainingJob"]
    assert best["TuningJobName"] == "guide-xgb"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:auc"

    pages = sagemaker.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName="guide-xgb",
        SortBy="FinalObjectiveMetricValue",
        SortOrder="Descending",
        PaginationConfig={"PageSize": 4},
    )
    summaries = [s for page in pages for s in page["TrainingJobSummaries"]]
    assert len(summaries) == 6
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert values == sorted(values, reverse=True)
    assert summaries[0]["TrainingJobName"] == best["TrainingJobName"]
    for summary in summaries:
        tuned = summary["TunedHyperParameters"]
        assert set(tuned) == {"eta", "alpha", "min_child_weight", "max_depth"}
        trial = sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert trial["TuningJobArn"] == arn

    listed = sagemaker.list_hyper_parameter_tuning_jobs(StatusEquals="Completed")
    assert [
        j["HyperParameterTuningJobName"] for j in listed["HyperParameterTuningJobSummaries"]
    ] == ["guide-xgb"]
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ClientError) as refused:
        sagemaker.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="too-parallel",
            HyperParameterTuningJobConfig={
                **tuning_job_config,
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 3},
            },
            TrainingJobDefinition=training_job_definition,
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "MaxParallelTrainingJobs (3)" in refused.value.response["Error"]["Message"]
