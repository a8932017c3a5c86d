"""Training jobs against the peers: overhead, Pipe vs File mode, AUC per algorithm.

1. Overhead: a training job of the built-in XGBoost (CreateTrainingJob -> Completed,
   with the data already in the store) against the same work done directly in a fresh
   Python process: pyarrow reads the CSV, ``xgboost.train`` trains the same rounds with
   the same parameters, the model is saved. Goal: at most 10% + 1 s.
2. Pipe against File mode on a large channel: time to the first metric line (the first
   boosting round) and bytes written to disk by staging, from the job's own metrics.
3. German credit: validation AUC of every built-in algorithm on the same split.

Run: ``.venv/bin/python benchmarks/training.py [--sizes 100000 1000000] [--pipe-gb 2]
[--skip overhead pipe credit]``. Prints a table per part; nothing is asserted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")

BUCKET = "bench-training"
FEATURES = 30
PARAMS = {"objective": "binary:logistic", "max_depth": "6", "eta": "0.3", "tree_method": "hist"}
ROUNDS = 100

DIRECT = """\
import sys, time, numpy as np, pyarrow.csv as pacsv, xgboost
start = time.time()
table = pacsv.read_csv(sys.argv[1], read_options=pacsv.ReadOptions(autogenerate_column_names=True))
data = np.column_stack([c.to_numpy() for c in table.columns]).astype("float32")
dtrain = xgboost.DMatrix(data[:, 1:], label=data[:, 0])
params = {params}
booster = xgboost.train(params, dtrain, num_boost_round={rounds}, evals=[(dtrain, "train")],
                        verbose_eval=False)
booster.save_model(sys.argv[2])
"""


def _write_csv(path: Path, rows: int, seed: int) -> None:
    """Label-first, header-less CSV of a learnable binary problem, written in blocks."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=FEATURES)
    with path.open("w") as out:
        for start in range(0, rows, 200_000):
            n = min(200_000, rows - start)
            x = rng.normal(size=(n, FEATURES)).astype("float32")
            y = (x @ weights + rng.normal(scale=2.0, size=n) > 0).astype(int)
            block = np.column_stack([y, x])
            np.savetxt(out, block, delimiter=",", fmt=["%d"] + ["%.4f"] * FEATURES)


def _session(root: Path) -> Any:
    from sagebox.session import Session

    session = Session(root / "home")
    objects = session.local_home().objects
    if not objects.bucket_exists(BUCKET):
        objects.create_bucket(BUCKET)
    return session


def _job(
    session: Any,
    name: str,
    prefix: str,
    image: str = "sagebox/xgboost",
    hyperparameters: dict[str, str] | None = None,
    mode: str = "File",
    validation: str | None = None,
) -> dict[str, Any]:
    channels = [("train", prefix)] + ([("validation", validation)] if validation else [])
    session.control.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": mode},
        RoleArn=session.get_execution_role(),
        HyperParameters=hyperparameters or {**PARAMS, "num_round": str(ROUNDS)},
        InputDataConfig=[
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{key}"}
                },
            }
            for channel, key in channels
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    while True:
        described = session.control.describe_training_job(TrainingJobName=name)
        if described["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            return dict(described)
        time.sleep(0.05)


def _settle(seconds: float = 8.0) -> None:
    """Let the previous job's MLflow logging (after Completed) finish before timing more."""
    time.sleep(seconds)


def overhead(root: Path, sizes: list[int]) -> None:
    print(f"\n== overhead: XGBoost {ROUNDS} rounds, {FEATURES} features ==")
    print(
        f"{'rows':>9} {'direct s':>9} {'job s':>8} {'ratio':>6} {'extra s':>8}  goal <= 10% + 1 s"
    )
    session = _session(root)
    for run, rows in enumerate(sizes):
        data = root / f"train-{rows}.csv"
        _write_csv(data, rows, seed=rows)
        key = f"overhead-{rows}/train.csv"
        session.local_home().objects.put_object(BUCKET, key, data)
        script = root / "direct.py"
        params = {k: v for k, v in PARAMS.items()}
        script.write_text(DIRECT.format(params=params, rounds=ROUNDS))
        start = time.monotonic()
        subprocess.run(
            [sys.executable, str(script), str(data), str(root / "direct.json")], check=True
        )
        direct = time.monotonic() - start
        _settle(2)
        start = time.monotonic()
        described = _job(session, f"overhead-{run}-{rows}", f"overhead-{rows}/")
        job = time.monotonic() - start
        assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
        goal = "ok" if job <= direct * 1.10 + 1 else "MISSED"
        print(
            f"{rows:>9} {direct:>9.2f} {job:>8.2f} {job / direct:>6.2f} "
            f"{job - direct:>8.2f}  {goal}"
        )
        data.unlink()
        _settle()


def _metric(session: Any, described: dict[str, Any], name: str) -> float:
    points = session.local_home().metadata.get_metrics(described["TrainingJobArn"], name)
    return points[-1].value if points else float("nan")


def pipe_vs_file(root: Path, gigabytes: float) -> None:
    print(f"\n== Pipe vs File: XGBoost on a {gigabytes:g} GB CSV channel, 5 rounds ==")
    session = _session(root)
    rows = int(gigabytes * 1e9 / (FEATURES * 7.5 + 2))
    data = root / "big.csv"
    _write_csv(data, rows, seed=1)
    size = data.stat().st_size
    session.local_home().objects.put_object(BUCKET, "big/train.csv", data)
    data.unlink()
    print(f"channel: {size / 1e9:.2f} GB, {rows} rows")
    print(f"{'mode':<9} {'to first round s':>17} {'on disk GB':>11} {'job s':>8}")
    hp = {**PARAMS, "num_round": "5"}
    for mode in ("File", "Pipe", "FastFile"):
        start = time.monotonic()
        described = _job(session, f"big-{mode.lower()}", "big/", hyperparameters=hp, mode=mode)
        total = time.monotonic() - start
        assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
        first = _metric(session, described, "sagebox:seconds_to_first_metric")
        disk = _metric(session, described, "sagebox:input_bytes_on_disk") / 1e9
        print(f"{mode:<9} {first:>17.2f} {disk:>11.2f} {total:>8.2f}")
        _settle()


CREDIT_ALGORITHMS = {
    "xgboost": {
        **PARAMS,
        "max_depth": "3",
        "eta": "0.1",
        "num_round": "200",
        "eval_metric": "auc",
        "early_stopping_rounds": "20",
        "subsample": "0.8",
    },
    "lightgbm": {
        "num_boost_round": "200",
        "learning_rate": "0.05",
        "num_leaves": "15",
        "early_stopping_rounds": "20",
    },
    "catboost": {
        "iterations": "300",
        "learning_rate": "0.05",
        "depth": "4",
        "early_stopping_rounds": "30",
    },
    "linear-learner": {
        "predictor_type": "binary_classifier",
        "epochs": "20",
        "mini_batch_size": "64",
    },
    "knn": {
        "k": "25",
        "predictor_type": "classifier",
        "sample_size": "700",
        "feature_dim": "FEATURE_DIM",
    },
}


def _german_credit(root: Path, session: Any) -> int:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from sagebox.datasets import GERMAN_CREDIT

    frame = pd.read_csv(io.StringIO(GERMAN_CREDIT.read_text()))
    label = (frame.pop("creditability").str.strip() == "bad").astype(int)
    features = pd.get_dummies(frame, dtype=int)
    data = pd.concat([label.rename("default"), features], axis=1)
    train, validation = train_test_split(
        data, test_size=0.3, stratify=data["default"], random_state=42
    )
    objects = session.local_home().objects
    for name, part in (("train", train), ("validation", validation)):
        body = part.to_csv(header=False, index=False).encode()
        objects.put_object(BUCKET, f"credit/{name}/{name}.csv", body)
    return int(features.shape[1])


def credit(root: Path) -> None:
    print("\n== German credit (1,000 applications, 70/30 split): validation AUC ==")
    session = _session(root)
    dim = _german_credit(root, session)
    print(f"{'algorithm':<15} {'AUC':>6} {'KS':>6} {'job s':>7}")
    for name, hp in CREDIT_ALGORITHMS.items():
        hp = {k: (str(dim) if v == "FEATURE_DIM" else v) for k, v in hp.items()}
        start = time.monotonic()
        described = _job(
            session,
            f"credit-{name}",
            "credit/train/",
            f"sagebox/{name}",
            hp,
            validation="credit/validation/",
        )
        total = time.monotonic() - start
        if described["TrainingJobStatus"] != "Completed":
            print(f"{name:<15} failed: {described.get('FailureReason')}")
            continue
        packed = session.local_home().objects.get_object(
            BUCKET, f"models/credit-{name}/output/output.tar.gz"
        )
        with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
            member = tar.extractfile("evaluation.json")
            assert member is not None
            report = json.loads(member.read())
        metrics = report["metrics"]
        print(
            f"{name:<15} {metrics['auc']:>6.3f} {metrics.get('ks', float('nan')):>6.3f} "
            f"{total:>7.2f}"
        )
        _settle(4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--pipe-gb", type=float, default=2.0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["overhead", "pipe", "credit"])
    args = parser.parse_args()
    # the last jobs may still be logging to MLflow when the folder goes
    with tempfile.TemporaryDirectory(prefix="sagebox-bench-", ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        if "overhead" not in args.skip:
            overhead(root, args.sizes)
        if "pipe" not in args.skip:
            pipe_vs_file(root, args.pipe_gb)
        if "credit" not in args.skip:
            credit(root)


if __name__ == "__main__":
    main()
