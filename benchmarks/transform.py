"""Batch transform throughput against a bare in-process ``booster.predict`` on the same rows.

Generates ``--rows`` rows (default 1M) of ``--features`` numeric columns (default 40, a
German-credit-like width, already encoded) as ``--files`` CSV files, trains the same
100-tree LightGBM and XGBoost models on a sample, then measures for each model:

- bare: ``pandas.read_csv`` of each file + ``booster.predict`` in this process
  (rows / (read + predict) seconds), and predict alone; then once more with glibc's malloc
  told to keep freed memory, as the job's slots are (``transform.pool.keep_freed_memory``),
  so that what the job gains from that alone is seen;
- transform jobs: ``CreateTransformJob`` -> ``Completed`` wall time, and the in-job
  rows/s the batch program logs (``transform:records_per_second``, summed over
  instances), for MaxConcurrentTransforms 1, 2, 4 (one instance) and InstanceCount 2;
  ``--workers thread`` compares thread slots with the default process slots.

Run: ``.venv/bin/python benchmarks/transform.py [--rows 1000000] [--features 40]``.
The ratio to read it by: job rows/s / bare (read + predict) rows/s, goal >= 0.8; the
ratio to a bare run that also writes its scores (as the job does) is shown beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BUCKET = "bench-transform"
sys.path.insert(0, str(Path(__file__).parent))
from _models import train_models  # noqa: E402  (the models serving.py also uses)


def make_data(rows: int, features: int, files: int, folder: Path) -> list[Path]:
    """``files`` CSV files of features only (no header, no label), and nothing in memory
    beyond one file's rows at a time."""
    rng = np.random.default_rng(7)
    per_file = -(-rows // files)
    paths = []
    for index in range(files):
        count = min(per_file, rows - index * per_file)
        block = rng.normal(size=(count, features)).astype(np.float32)
        block[:, : features // 4] = np.round(np.abs(block[:, : features // 4]) * 10)  # counts
        path = folder / f"part-{index:03d}.csv"
        import pandas as pd

        pd.DataFrame(block).to_csv(path, header=False, index=False, float_format="%.4f")
        paths.append(path)
    return paths


def bare(name: str, archive: Path, paths: list[Path], keep_freed: bool = False) -> dict[str, float]:
    """In this process: read each CSV with pandas' C parser, predict with the booster."""
    import pandas as pd

    from sagebox.algorithms.inference import load_model

    if keep_freed:  # for the rest of this process
        from sagebox.transform.pool import keep_freed_memory

        keep_freed_memory()

    model = load_model(archive)
    rows = 0
    read_s = predict_s = write_s = 0.0
    for path in paths:
        start = time.perf_counter()
        frame = pd.read_csv(path, header=None, dtype=np.float64, engine="c").to_numpy()
        read_s += time.perf_counter() - start
        start = time.perf_counter()
        scores = model.predict(frame)
        predict_s += time.perf_counter() - start
        start = time.perf_counter()
        # what a job does too: the scores written out, a line each
        path.with_suffix(".scores").write_text("\n".join(map(repr, scores.tolist())) + "\n")
        write_s += time.perf_counter() - start
        rows += len(scores)
    return {
        "rows": rows,
        "read_predict_rows_per_s": rows / (read_s + predict_s),
        "read_predict_write_rows_per_s": rows / (read_s + predict_s + write_s),
        "predict_rows_per_s": rows / predict_s,
        "seconds": read_s + predict_s,
    }


def run_job(
    session: Any, model: str, name: str, concurrency: int, instances: int, workers: str | None
) -> dict[str, float]:
    request: dict[str, Any] = {
        "TransformJobName": name,
        "ModelName": model,
        "MaxConcurrentTransforms": concurrency,
        "MaxPayloadInMB": 6,
        "BatchStrategy": "MultiRecord",
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/in/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": f"s3://{BUCKET}/out/{name}/",
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": "ml.m5.4xlarge", "InstanceCount": instances},
    }
    if workers:
        request["Environment"] = {"SAGEBOX_TRANSFORM_WORKERS": workers}
    start = time.perf_counter()
    session.control.create_transform_job(**request)
    while True:
        described = session.control.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.1)
    wall = time.perf_counter() - start
    if described["TransformJobStatus"] != "Completed":
        raise SystemExit(
            f"{name}: {described['TransformJobStatus']}: {described.get('FailureReason')}"
        )
    arn = described["TransformJobArn"]
    rates = [
        p.value
        for p in session.home.metadata.get_metrics(arn)
        if p.name == "transform:records_per_second"
    ]
    return {"wall_s": wall, "in_job_rows_per_s": sum(rates), "instances_reporting": len(rates)}


def create_model(session: Any, name: str, image: str, uri: str) -> None:
    session.control.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image, "ModelDataUrl": uri},
        ExecutionRoleArn=session.get_execution_role(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--concurrency", default="1,2,4")
    parser.add_argument("--workers", choices=("process", "thread", "both"), default="process")
    parser.add_argument("--models", default="lightgbm,xgboost")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "1")

    from sagebox.home import Home
    from sagebox.session import Session

    results: dict[str, Any] = {"rows": args.rows, "features": args.features, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="sagebox-bench-transform-") as scratch:
        root = Path(scratch)
        (root / "data").mkdir()
        start = time.perf_counter()
        paths = make_data(args.rows, args.features, args.files, root / "data")
        size = sum(p.stat().st_size for p in paths)
        print(
            f"data: {args.rows} rows x {args.features} features, {size / 1e6:.0f} MB in "
            f"{len(paths)} files ({time.perf_counter() - start:.1f} s to generate)",
            flush=True,
        )
        archives = train_models(args.features, root)
        home = root / "home"
        Home.open(home)
        config = json.loads((home / "config.json").read_text())
        config["capacity"] = {**config.get("capacity", {}), "max_instances": 64}
        (home / "config.json").write_text(json.dumps(config))
        session = Session(home)
        objects = session.home.objects
        objects.create_bucket(BUCKET)
        for path in paths:
            objects.put_object(BUCKET, f"in/{path.name}", path)
        images = {"lightgbm": "sagebox/lightgbm", "xgboost": "sagebox/xgboost"}
        workers = ["process", "thread"] if args.workers == "both" else [args.workers]
        models = args.models.split(",")
        for model in models:
            objects.put_object(BUCKET, f"models/{model}.tar.gz", archives[model])
            create_model(session, model, images[model], f"s3://{BUCKET}/models/{model}.tar.gz")
            base = bare(model, archives[model], paths)
            results[f"{model}/bare"] = base
            print(
                f"{model} bare: read+predict {base['read_predict_rows_per_s']:,.0f} rows/s, "
                f"read+predict+write {base['read_predict_write_rows_per_s']:,.0f} rows/s, "
                f"predict only {base['predict_rows_per_s']:,.0f} rows/s",
                flush=True,
            )
        for model in models:  # after every default run: the setting cannot be undone
            tuned = bare(model, archives[model], paths, keep_freed=True)
            results[f"{model}/bare_keeping_freed_memory"] = tuned
            print(
                f"{model} bare, malloc keeping freed memory: read+predict "
                f"{tuned['read_predict_rows_per_s']:,.0f} rows/s, read+predict+write "
                f"{tuned['read_predict_write_rows_per_s']:,.0f} rows/s",
                flush=True,
            )
        for model in models:
            base = results[f"{model}/bare"]
            cases = [(c, 1, w) for w in workers for c in map(int, args.concurrency.split(","))]
            cases.append((max(map(int, args.concurrency.split(","))) // 2 or 1, 2, workers[0]))
            for concurrency, instances, kind in cases:
                name = f"{model}-c{concurrency}-i{instances}-{kind}"
                job = run_job(session, model, name, concurrency, instances, kind)
                ratio = job["in_job_rows_per_s"] / base["read_predict_rows_per_s"]
                job["ratio_to_bare"] = ratio
                written = job["in_job_rows_per_s"] / base["read_predict_write_rows_per_s"]
                job["ratio_to_bare_with_writing"] = written
                job["end_to_end_rows_per_s"] = args.rows / job["wall_s"]
                results[f"{model}/{name}"] = job
                print(
                    f"{model} MaxConcurrentTransforms={concurrency} InstanceCount={instances} "
                    f"{kind}: in-job {job['in_job_rows_per_s']:,.0f} rows/s "
                    f"({ratio:.2f}x bare, {written:.2f}x bare with writing), "
                    f"Create->Completed {job['wall_s']:.1f} s "
                    f"({job['end_to_end_rows_per_s']:,.0f} rows/s)",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
