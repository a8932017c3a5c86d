"""The quickstart: the first slice of the loan-default pipeline, on the embedded default.

1. a home in the working folder; 2. the German credit data uploaded to
s3://sagebox-quickstart/raw/ as two parts; 3. an SKLearnProcessor job on two instances
(sharded by S3 key) that cleans the data and writes stratified splits; 4. the raw data
and a generated batch of nested applications crawled into the Glue catalog, queried with
SQL, and a data quality report written (see lake.py); 5. a Bayesian tuning job with early stopping
over XGBoost on the splits, the best model's evaluation on the test split with the
profit-maximising threshold, and the trials' MLflow runs (see training.py); 6. the best
model registered and approved, deployed to a serverless endpoint and invoked, and the
test split scored by a batch transform job (see hosting.py); 7. where it is.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

BUCKET = "sagebox-quickstart"
CATEGORICAL_LIMIT = 20


def _schema(rows: list[dict[str, str]], target: str) -> dict[str, object]:
    numeric, categorical = [], {}
    for column in rows[0]:
        if column == target:
            continue
        values = [r[column].strip() for r in rows]
        try:
            [float(v) for v in values]
            numeric.append(column)
        except ValueError:
            categorical[column] = sorted(set(values))
    return {"target": target, "numeric": numeric, "categorical": categorical}


def run(home_path: Path) -> None:
    from sagebox.datasets import GERMAN_CREDIT
    from sagebox.errors import BucketAlreadyOwnedByYou
    from sagebox.sdk.processing import ProcessingInput, ProcessingOutput, SKLearnProcessor
    from sagebox.session import Session

    session = Session(home_path)
    home = session.local_home()
    print(f"sagebox home: {home.path} (account {home.account_id}, region {home.region})")

    with contextlib.suppress(BucketAlreadyOwnedByYou):
        home.objects.create_bucket(BUCKET)
    text = GERMAN_CREDIT.read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    header, *lines = text.splitlines(keepends=True)
    half = len(lines) // 2
    for index, chunk in enumerate((lines[:half], lines[half:])):
        key = f"raw/german_credit-part-{index:04d}.csv"
        home.objects.put_object(
            BUCKET, key, (header + "".join(chunk)).encode(), content_type="text/csv"
        )
    schema = _schema(rows, "creditability")
    home.objects.put_object(
        BUCKET, "schema/schema.json", json.dumps(schema).encode(), content_type="application/json"
    )
    print(f"uploaded {len(rows)} applications to s3://{BUCKET}/raw/ (2 parts)")

    role = session.get_execution_role()
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=role,
        instance_type="ml.m5.xlarge",
        instance_count=2,
        base_job_name="loan-default-prep",
        sagemaker_session=session,
    )
    job = processor.run(
        code=str(Path(__file__).with_name("preprocess.py")),
        inputs=[
            ProcessingInput(
                f"s3://{BUCKET}/raw/",
                "/opt/ml/processing/input/raw",
                "raw",
                s3_data_distribution_type="ShardedByS3Key",
            ),
            ProcessingInput(f"s3://{BUCKET}/schema/", "/opt/ml/processing/input/schema", "schema"),
        ],
        outputs=[
            ProcessingOutput(
                f"/opt/ml/processing/output/{split}", f"s3://{BUCKET}/prepared/{split}", split
            )
            for split in ("train", "validation", "test")
        ],
        wait=True,
        logs=True,
    )
    description = job.describe()
    print()
    print(f"processing job {job.job_name}: {description['ProcessingJobStatus']}")
    for split in ("train", "validation", "test"):
        objects = list(home.objects.iter_objects(BUCKET, f"prepared/{split}/"))
        total = sum(
            home.objects.get_object(BUCKET, o.key).count(b"\n")
            for o in objects
            if o.key.endswith(".csv")
        )
        print(
            f"  {split:<10} s3://{BUCKET}/prepared/{split}/  {total} rows, {len(objects)} objects"
        )
    print()
    from sagebox.quickstart.lake import crawl_query_report

    crawl_query_report(session, BUCKET)
    print()
    from sagebox.quickstart.training import train_and_evaluate

    trained = train_and_evaluate(session, BUCKET)
    print()
    from sagebox.quickstart.hosting import ENDPOINT, register_serve_score

    register_serve_score(session, trained.estimator, BUCKET, trained.report)
    print()
    print(f"  objects on disk:  {home.path / 's3' / BUCKET}")
    print(f"  job logs:         {home.logs_path / 'processing-job' / job.job_name}")
    print(f"  metadata:         {home.metadata_url}")
    print(f"  evaluation:       {home.path / 'reports' / trained.job / 'evaluation.html'}")
    print(f"  endpoint logs:    {home.logs_path / 'endpoint' / ENDPOINT}")
    print(f"next: sagebox processing-jobs list --home {home.path}")
    print(f"      sagebox tuning-jobs list --home {home.path}")
    print(f"      sagebox experiments ui --home {home.path}")
    print(
        f'      sagebox invoke {ENDPOINT} --body "$(sed -n 1p {home.path / "s3" / BUCKET}'
        f'/prepared/test/part-algo-1.csv | cut -d, -f2-)" --home {home.path}'
    )
    print(f"      sagebox endpoints delete {ENDPOINT} --home {home.path}   (when done)")
