"""InvokeEndpoint against the usual self-hosted choices, on the same models and machine.

For a 100-tree LightGBM and a 100-tree XGBoost model (``_models.py``, 40 features) and
1-row ``text/csv`` requests on loopback, each target has one model worker process:

- sagebox: ``sagebox server`` (SigV4, IAM, the runtime's REST-JSON) in front of a
  real-time endpoint of one ``ml.m5.large`` instance with one worker, as boto3's
  ``sagemaker-runtime`` calls it;
- bare: a FastAPI app (uvicorn, httptools, uvloop) holding the booster, the floor any
  HTTP model server stands on; it scores with the library's own predict (XGBoost's
  ``inplace_predict``, LightGBM's ``Booster.predict``), where sagebox scores one LightGBM
  row with LightGBM's single-row fast C API (``algorithms/lightgbm_row.py``);
- mlflow: ``mlflow models serve --env-manager local -w 1`` of the same booster logged as
  an MLflow model (JSON ``dataframe_split`` requests, its documented format).

Load: ``wrk`` (Debian's package) with keep-alive at concurrency 1, 10 and 50; the sagebox
request is SigV4-signed once (a signature is valid for 15 minutes) and replayed. Then the
serverless cold start: the time from InvokeEndpoint to the answer when the variant has
no worker (fork, load the model, answer), over ``--cold-starts`` scale-to-zero rounds.

Run: ``.venv/bin/python benchmarks/serving.py [--duration 10] [--json out.json]``.
Ratios to read it by: sagebox req/s / bare req/s (goal >= 0.7 at every concurrency),
sagebox p50 at concurrency 1 (goal <= 1 ms), cold start (goal <= 1.5 s).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _models import train_models

BUCKET = "bench-serving"
FEATURES = 40

BARE_APP = """
import os
import numpy as np
from fastapi import FastAPI, Request, Response
from sagebox.algorithms.inference import load_model

loaded = load_model(os.environ["BENCH_MODEL"])
booster = loaded.model
# the library's own predict: XGBoost's inplace_predict, LightGBM's Booster.predict
predict = booster.inplace_predict if loaded.algorithm == "xgboost" else booster.predict
app = FastAPI()

@app.get("/ping")
def ping():
    return Response(b"")

@app.post("/invocations")
async def invocations(request: Request):
    body = await request.body()
    rows = np.array([[float(v) for v in line.split(b",")] for line in body.splitlines()])
    scores = predict(rows)
    return Response("".join(f"{s!r}\\n" for s in scores.tolist()), media_type="text/csv")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 120, ok: tuple[int, ...] = (200,)) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status in ok:
                    return
        except urllib.error.HTTPError as error:
            if error.code in ok:
                return
        except OSError:
            pass
        if time.monotonic() > end:
            raise SystemExit(f"{url} did not come up")
        time.sleep(0.2)


def wrk(url: str, body: bytes, headers: dict[str, str], connections: int, seconds: int) -> dict:
    """wrk's requests/s and latency percentiles for ``connections`` keep-alive clients."""
    lua = "wrk.method = 'POST'\n" + f"wrk.body = {json.dumps(body.decode())}\n"
    lua += "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    result: dict[str, Any] = {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
        "errors": 0,
    }
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}%\s+([\d.]+)(us|ms|s)", output)
        if match:
            scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}[match.group(2)]
            result[f"p{pct}_ms"] = float(match.group(1)) * scale
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad:
        result["errors"] = int(bad.group(1))
    return result


def signed_headers(url: str, body: bytes, key: str, secret: str, region: str) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "text/csv"})
    SigV4Auth(Credentials(key, secret), "sagemaker", region).add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def start(command: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    handle = log.open("wb")
    return subprocess.Popen(
        command, stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def mlflow_model(booster: Any, flavor: str, folder: Path) -> Path:
    import mlflow

    path = folder / f"mlflow-{flavor}"
    getattr(mlflow, flavor).save_model(booster, str(path))
    return path


def cold_starts(session: Any, model: str, archive_uri: str, rounds: int) -> list[float]:
    """Seconds from InvokeEndpoint to its answer on a serverless variant with no worker."""
    from sagebox.sdk.model import wait_for_endpoint

    control = session.sagemaker_client
    control.create_model(
        ModelName="cold",
        PrimaryContainer={
            "Image": f"sagebox/{model}",
            "ModelDataUrl": archive_uri,
            "Environment": {"SAGEBOX_SERVERLESS_IDLE_SECONDS": "1"},
        },
        ExecutionRoleArn=session.get_execution_role(),
    )
    control.create_endpoint_config(
        EndpointConfigName="cold",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "cold",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    control.create_endpoint(EndpointName="cold", EndpointConfigName="cold")
    wait_for_endpoint(session, "cold")
    sockets = session.home.path / "endpoints" / "cold" / "sock"
    row = ",".join(["0.5"] * FEATURES).encode()
    runtime = session.sagemaker_runtime_client
    seconds = []
    for _ in range(rounds):
        end = time.monotonic() + 30
        while list(sockets.glob("*-w*.sock")) and time.monotonic() < end:
            time.sleep(0.1)  # scaled to zero: no worker left
        started = time.perf_counter()
        runtime.invoke_endpoint(EndpointName="cold", Body=row, ContentType="text/csv")
        seconds.append(time.perf_counter() - started)
    control.delete_endpoint(EndpointName="cold")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=10, help="Seconds per wrk run.")
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--models", default="lightgbm,xgboost")
    parser.add_argument("--targets", default="sagebox,bare,mlflow")
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    for name in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        os.environ.setdefault(name, "true" if name.startswith("MLFLOW") else "1")
    os.environ["OMP_NUM_THREADS"] = "1"  # one thread per worker, as the endpoint's

    from sagebox.algorithms.inference import load_model
    from sagebox.home import Home
    from sagebox.sdk.model import wait_for_endpoint
    from sagebox.session import Session

    concurrencies = [int(c) for c in args.concurrency.split(",")]
    targets = args.targets.split(",")
    results: dict[str, Any] = {"cpus": os.cpu_count(), "duration_s": args.duration}
    rng = np.random.default_rng(5)
    row_values = rng.normal(size=FEATURES).round(4).tolist()
    csv_row = (",".join(map(str, row_values)) + "\n").encode()
    mlflow_body = json.dumps({"dataframe_split": {"data": [row_values]}}).encode()
    with tempfile.TemporaryDirectory(prefix="sagebox-bench-serving-") as scratch:
        root = Path(scratch)
        archives = train_models(FEATURES, root)
        home = Home.open(root / "home")
        session = Session(home.path)
        session.objects.create_bucket(BUCKET)
        port = free_port()
        server = start(
            [
                sys.executable,
                "-m",
                "sagebox",
                "server",
                "--home",
                str(home.path),
                "--port",
                str(port),
            ],
            root / "server.log",
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/health")
            import configparser

            credentials = configparser.ConfigParser()
            credentials.read(home.credentials_path)
            key = credentials["default"]["aws_access_key_id"]
            secret = credentials["default"]["aws_secret_access_key"]
            for model in args.models.split(","):
                archive = archives[model]
                uri = f"s3://{BUCKET}/models/{model}.tar.gz"
                session.objects.put_object(BUCKET, f"models/{model}.tar.gz", archive)
                loaded = load_model(archive)
                booster = loaded.model
                if "sagebox" in targets:
                    control = session.sagemaker_client
                    control.create_model(
                        ModelName=model,
                        PrimaryContainer={"Image": f"sagebox/{model}", "ModelDataUrl": uri},
                        ExecutionRoleArn=session.get_execution_role(),
                    )
                    control.create_endpoint_config(
                        EndpointConfigName=model,
                        ProductionVariants=[
                            {
                                "VariantName": "AllTraffic",
                                "ModelName": model,
                                "InstanceType": "ml.m5.large",
                                "InitialInstanceCount": 1,
                            }
                        ],
                    )
                    control.create_endpoint(EndpointName=model, EndpointConfigName=model)
                    wait_for_endpoint(session, model)
                    url = f"http://127.0.0.1:{port}/endpoints/{model}/invocations"
                    headers = signed_headers(url, csv_row, key, secret, home.region)
                    request = urllib.request.Request(url, csv_row, headers, method="POST")
                    with urllib.request.urlopen(request) as answer:
                        score = float(answer.read())
                    expected = float(loaded.predict(np.array([row_values]))[0])
                    assert abs(score - expected) < 1e-6, (score, expected)
                    for c in concurrencies:
                        run = wrk(url, csv_row, headers, c, args.duration)
                        results[f"{model}/sagebox/c{c}"] = run
                        report(model, "sagebox", c, run)
                    control.delete_endpoint(EndpointName=model)
                if "bare" in targets:
                    bare_port = free_port()
                    app = root / "bare_app.py"
                    app.write_text(textwrap.dedent(BARE_APP))
                    bare = start(
                        [sys.executable, "-m", "uvicorn", "bare_app:app", "--port",
                         str(bare_port), "--log-level", "warning", "--no-access-log"],
                        root / f"bare-{model}.log",
                        {"BENCH_MODEL": str(archive), "PYTHONPATH": str(root)},
                    )  # fmt: skip
                    try:
                        wait_http(f"http://127.0.0.1:{bare_port}/ping")
                        url = f"http://127.0.0.1:{bare_port}/invocations"
                        for c in concurrencies:
                            run = wrk(url, csv_row, {"Content-Type": "text/csv"}, c, args.duration)
                            results[f"{model}/bare/c{c}"] = run
                            report(model, "bare", c, run)
                    finally:
                        stop(bare)
                if "mlflow" in targets:
                    flavor = {"lightgbm": "lightgbm", "xgboost": "xgboost"}[model]
                    path = mlflow_model(booster, flavor, root)
                    mlflow_port = free_port()
                    served = start(
                        [str(Path(sys.executable).with_name("mlflow")), "models", "serve",
                         "-m", str(path), "-p", str(mlflow_port), "--env-manager", "local",
                         "-w", "1"],
                        root / f"mlflow-{model}.log",
                        {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
                    )  # fmt: skip
                    try:
                        wait_http(f"http://127.0.0.1:{mlflow_port}/ping")
                        url = f"http://127.0.0.1:{mlflow_port}/invocations"
                        headers = {"Content-Type": "application/json"}
                        for c in concurrencies:
                            run = wrk(url, mlflow_body, headers, c, args.duration)
                            results[f"{model}/mlflow/c{c}"] = run
                            report(model, "mlflow", c, run)
                    finally:
                        stop(served)
            for model in args.models.split(","):
                for c in concurrencies:
                    ours = results.get(f"{model}/sagebox/c{c}")
                    for peer in ("bare", "mlflow"):
                        theirs = results.get(f"{model}/{peer}/c{c}")
                        if ours and theirs:
                            ratio = ours["requests_per_s"] / theirs["requests_per_s"]
                            results[f"{model}/ratio_to_{peer}/c{c}"] = ratio
                            print(f"{model} c={c}: sagebox / {peer} throughput {ratio:.2f}x")
            if args.cold_starts and "sagebox" in targets:
                model = args.models.split(",")[0]
                uri = f"s3://{BUCKET}/models/{model}.tar.gz"
                seconds = cold_starts(session, model, uri, args.cold_starts)
                results["serverless_cold_start_s"] = seconds
                print(
                    f"serverless cold start ({model}, InvokeEndpoint to answer): "
                    + ", ".join(f"{s:.2f}" for s in seconds)
                    + f" s; median {sorted(seconds)[len(seconds) // 2]:.2f} s"
                )
        finally:
            stop(server)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def report(model: str, target: str, concurrency: int, run: dict[str, Any]) -> None:
    print(
        f"{model:8} {target:8} c={concurrency:<3} {run['requests_per_s']:8,.0f} req/s  "
        f"p50 {run.get('p50_ms', math.nan):.2f} ms  p99 {run.get('p99_ms', math.nan):.2f} ms"
        + (f"  ({run['errors']} errors)" if run["errors"] else ""),
        flush=True,
    )


if __name__ == "__main__":
    main()
