"""Quickstart step: register the tuned model, serve it, and score the portfolio.

The best trial's model is registered as a version in the ``loan-default`` model package
group with its evaluation report as ModelMetrics, approved, deployed from the registry to
a serverless endpoint, and invoked for a few applicants; then a batch transform job
scores the whole test split, with the label column filtered out of the model's input
and joined back to its output (``InputFilter`` / ``JoinSource``), so the scores can be
checked against the outcomes.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from sagebox.session import Session

GROUP = "loan-default"
ENDPOINT = "loan-default-serverless"


def _register(session: Session, estimator: Any, bucket: str, report: Path) -> Any:
    from sagebox.sdk.model_metrics import MetricsSource, ModelMetrics

    key = f"reports/{estimator.latest_training_job}/evaluation.json"
    session.objects.put_object(bucket, key, report, content_type="application/json")
    control = session.sagemaker_client
    from sagebox.errors import SageboxError

    with contextlib.suppress(SageboxError):  # the group outlives quickstart runs
        control.create_model_package_group(
            ModelPackageGroupName=GROUP,
            ModelPackageGroupDescription="Loan-default models for the origination system",
        )
    package = estimator.register(
        content_types=["text/csv"],
        response_types=["text/csv", "application/json"],
        inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.xlarge"],
        model_package_group_name=GROUP,
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource("application/json", f"s3://{bucket}/{key}")
        ),
        description=f"XGBoost, best trial {estimator.latest_training_job}",
    )
    package.update_approval_status("Approved", "Test-split AUC and expected cost reviewed")
    described = package.describe()
    print(
        f"registered {package.model_package_arn} "
        f"(version {described['ModelPackageVersion']}): {described['ModelApprovalStatus']}"
    )
    return package


def _applicants(session: Session, bucket: str, count: int) -> list[list[str]]:
    """The first ``count`` test applicants' features (the label column dropped)."""
    info = next(iter(session.objects.iter_objects(bucket, "prepared/test/part-")))
    lines = session.objects.get_object(bucket, info.key).decode().splitlines()
    return [line.split(",")[1:] for line in lines[:count]]


def _serve(session: Session, package: Any, bucket: str) -> None:
    from sagebox.sdk.deserializers import CSVDeserializer
    from sagebox.sdk.serializers import CSVSerializer
    from sagebox.sdk.serverless import ServerlessInferenceConfig

    delete_endpoint(session)  # one left by an earlier run in this home
    predictor = package.deploy(
        endpoint_name=ENDPOINT,
        serverless_inference_config=ServerlessInferenceConfig(
            memory_size_in_mb=2048, max_concurrency=5, provisioned_concurrency=1
        ),
        serializer=CSVSerializer(),
        deserializer=CSVDeserializer(),
    )
    print(f"endpoint {ENDPOINT} (serverless, 2048 MB, MaxConcurrency 5): InService")
    applicants = _applicants(session, bucket, 3)
    scores = predictor.predict(applicants)
    for index, row in enumerate(scores):
        print(f"  applicant {index + 1}: P(default) = {float(row[0]):.3f}")


def delete_endpoint(session: Session) -> None:
    """Delete the quickstart's endpoint and its config if they exist; wait until gone."""
    from sagebox.errors import SageboxError

    control = session.sagemaker_client
    with contextlib.suppress(SageboxError):  # none to delete
        control.delete_endpoint(EndpointName=ENDPOINT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            control.describe_endpoint(EndpointName=ENDPOINT)
        except SageboxError:
            break
        time.sleep(0.2)
    with contextlib.suppress(SageboxError):
        control.delete_endpoint_config(EndpointConfigName=ENDPOINT)


def _batch(session: Session, package: Any, bucket: str) -> None:
    from sagebox.evaluation import evaluate

    transformer = package.transformer(
        instance_count=1,
        instance_type="ml.m5.xlarge",
        strategy="MultiRecord",
        assemble_with="Line",
        output_path=f"s3://{bucket}/scores/test",
        accept="text/csv",
    )
    transformer.transform(
        f"s3://{bucket}/prepared/test/part-",
        content_type="text/csv",
        split_type="Line",
        input_filter="$[1:]",
        join_source="Input",
        output_filter="$[0,-1]",
        logs=False,
    )
    described = transformer.describe()
    labels, scores = [], []
    for info in session.objects.iter_objects(bucket, "scores/test/"):
        for line in session.objects.get_object(bucket, info.key).decode().splitlines():
            label, score = line.split(",")
            labels.append(int(float(label)))
            scores.append(float(score))
    import numpy as np

    result = evaluate(np.array(labels), np.array(scores), problem="binary")
    print(
        f"batch transform {described['TransformJobName']}: "
        f"{described['TransformJobStatus']}, {len(scores)} applicants scored to "
        f"s3://{bucket}/scores/test/ (label joined back: AUC {result.metrics['auc']:.3f})"
    )


def register_serve_score(
    session: Session, estimator: Any, bucket: str, report: Path, *, keep_endpoint: bool = True
) -> None:
    """Registry, serverless endpoint and batch transform, in that order. The endpoint
    keeps serving afterwards unless ``keep_endpoint`` is false."""
    package = _register(session, estimator, bucket, report)
    _serve(session, package, bucket)
    _batch(session, package, bucket)
    if not keep_endpoint:
        delete_endpoint(session)
