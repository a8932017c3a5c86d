"""Quickstart step: tune XGBoost on the prepared splits, evaluate the best model as a lender would.

A Bayesian tuning job with early stopping runs training jobs of the built-in XGBoost
(SageMaker's hyperparameters, validation AUC as the objective); the best trial's model
is then scored on the held-out test split with the German credit data's own cost matrix
(a defaulter approved costs 5, a good applicant refused costs 1), which picks the
profit-maximising threshold. Every trial is an MLflow run.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from sagebox.session import Session

STATIC_HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "eval_metric": "auc,logloss",
    "num_round": 150,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "early_stopping_rounds": 20,
    "seed": 7,
}
TRIALS = 6
PARALLEL_TRIALS = 2
COST_FALSE_POSITIVE = 1.0  # a good applicant refused: the margin lost
COST_FALSE_NEGATIVE = 5.0  # a defaulter approved: the loss given default


def _test_split(session: Session, bucket: str, folder: Path) -> Any:
    from sagebox.algorithms.channels import Dataset, read_file

    home = session.local_home()
    parts = []
    for info in home.objects.iter_objects(bucket, "prepared/test/part-"):
        path = folder / Path(info.key).name
        home.objects.download_file(bucket, info.key, path)
        parts.append(read_file(path, "text/csv", "XGBoost"))
    import numpy as np

    return Dataset(
        np.vstack([p.features for p in parts]), np.concatenate([p.labels for p in parts])
    )


def _mlflow_run(session: Session, job_name: str) -> str | None:
    """The job's MLflow run id (logged by its supervisor just after the job completes)."""
    from sagebox.experiments import runs_for_job

    end = time.monotonic() + 120
    while time.monotonic() < end:
        runs = runs_for_job(session.local_home(), job_name)
        if runs:
            return str(runs[0].info.run_id)
        time.sleep(0.5)
    return None


def _tune(session: Session, bucket: str) -> Any:
    """A Bayesian tuning job with early stopping; its best trial's estimator."""
    from sagebox import image_uris
    from sagebox.sdk.estimator import Estimator, TrainingInput
    from sagebox.sdk.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter

    home = session.local_home()
    estimator = Estimator(
        image_uris.retrieve("xgboost", home.region, "1.7-1"),
        session.get_execution_role(),
        instance_count=1,
        instance_type="ml.m5.xlarge",
        output_path=f"s3://{bucket}/models",
        hyperparameters=STATIC_HYPERPARAMETERS,
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        estimator,
        "validation:auc",
        {
            "eta": ContinuousParameter(0.02, 0.3, scaling_type="Logarithmic"),
            "max_depth": IntegerParameter(2, 6),
            "min_child_weight": ContinuousParameter(1, 10),
            "alpha": ContinuousParameter(0, 2),
        },
        strategy="Bayesian",
        objective_type="Maximize",
        max_jobs=TRIALS,
        max_parallel_jobs=PARALLEL_TRIALS,
        early_stopping_type="Auto",
        random_seed=7,
        base_tuning_job_name="loan-default",
    )
    # "part-" prefixes: the split folders also hold columns.json, which is not data
    tuner.fit(
        {
            split: TrainingInput(f"s3://{bucket}/prepared/{split}/part-", content_type="text/csv")
            for split in ("train", "validation")
        },
        wait=True,
    )
    described = tuner.describe()
    counters = described["TrainingJobStatusCounters"]
    best = described["BestTrainingJob"]
    objective = best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    print(
        f"tuning job {described['HyperParameterTuningJobName']} (Bayesian, early stopping): "
        f"{described['HyperParameterTuningJobStatus']}, {counters['Completed']} trials "
        f"completed, {counters['Stopped']} stopped early"
    )
    tuned = ", ".join(f"{k}={v}" for k, v in sorted(best["TunedHyperParameters"].items()))
    print(f"  best trial {best['TrainingJobName']}: validation AUC {objective:.3f} ({tuned})")
    return tuner.best_estimator()


class Trained(NamedTuple):
    """The best trial: its job's name, an estimator attached to it, its evaluation.json."""

    job: str
    estimator: Any
    report: Path


def train_and_evaluate(session: Session, bucket: str) -> Trained:
    """Tune, evaluate the best model on the test split, print what a credit team looks at;
    the best trial."""
    from sagebox.algorithms.inference import load_model
    from sagebox.evaluation import Costs, evaluate, write_report

    home = session.local_home()
    estimator = _tune(session, bucket)
    job = str(estimator.latest_training_job)
    print(f"  model: {estimator.model_data}")

    reports = home.path / "reports" / job
    with tempfile.TemporaryDirectory(prefix="sagebox-quickstart-") as scratch:
        folder = Path(scratch)
        model_path = folder / "model.tar.gz"
        uri = str(estimator.model_data).removeprefix(f"s3://{bucket}/")
        home.objects.download_file(bucket, uri, model_path)
        model = load_model(model_path)
        test = _test_split(session, bucket, folder)
    costs = Costs(false_positive=COST_FALSE_POSITIVE, false_negative=COST_FALSE_NEGATIVE)
    result = evaluate(
        test.labels,
        model.predict(test.features),
        problem="binary",
        costs=costs,
        class_names=("good", "default"),
    )
    json_path, html_path = write_report(result, reports, title=f"{job} on the test split")
    report = result.to_dict()
    metrics = result.metrics
    best = report["threshold_choices"]["min_cost"]
    default = report["at_threshold"]
    print(
        f"test split ({result.n_samples} applicants): AUC {metrics['auc']:.3f}, "
        f"KS {metrics['ks']:.3f}, Gini {metrics['gini']:.3f}"
    )
    print(
        f"  threshold 0.50: expected cost {default['expected_cost']:.3f} per applicant, "
        f"refuses {default['predicted_positive_rate']:.0%}"
    )
    print(
        f"  profit-maximising threshold {best['threshold']:.2f} (cost 5 for an approved "
        f"defaulter, 1 for a refused good applicant): expected cost "
        f"{best['expected_cost']:.3f}, refuses {best['predicted_positive_rate']:.0%}, "
        f"catches {best['recall']:.0%} of defaulters"
    )
    print(f"  report: {html_path} (ROC, PR, calibration, KS, cost curve) and {json_path.name}")
    run = _mlflow_run(session, job)
    if run:
        print(f"  MLflow run {run} of the best trial (sagebox experiments ui)")
    return Trained(job, estimator, json_path)
