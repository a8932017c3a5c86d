"""Cost of authorization and of the HTTP edge, measured against their floors.

Two parts:

1. Policy decisions per second for a user with 100 attached managed policies
   (wildcard actions and resources, conditions, a few Denies):
   - ``sagebox.iam.evaluate`` alone, on a prebuilt ``RequestContext`` and ``PolicySet``;
   - ``PolicyAuthorizer.decide`` on a real home, where the user's 100 policies were
     created and attached through the control plane: gathering them from the metadata
     store is part of every decision;
   - ``PolicyAuthorizer.authorize``: ``decide`` plus the audit-log line, as every
     operation pays it.
2. Server overhead: ``DescribeProcessingJob`` through the whole sagebox server (uvicorn
   on loopback, SigV4, throttle, authorization, validation, the store) against a bare
   Starlette route served by the same uvicorn that returns the same JSON document.
   Requests are SigV4-signed one by one with botocore ahead of the timed loop and sent
   over one keep-alive ``http.client`` connection, one at a time. Each server runs in
   its own process, so client and server do not share a GIL.

Run: ``.venv/bin/python benchmarks/authz.py [--seconds 1.0] [--requests 1500]``.
Not run by CI.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

POLICIES = 100
USER = "bench-analyst"
JOB = f"team{POLICIES - 1:03d}-describe"  # the user may describe it by its last policy
SCRIPT = "print('benchmark job')\n"
WARMUP = 100  # requests sent before timing starts, per server


# ---- part 1: policy decisions -----------------------------------------------------------
def policy_document(i: int, account: str, region: str) -> dict[str, Any]:
    """A realistic team policy: read its own jobs, create jobs from the office network,
    use its own bucket over TLS; every tenth policy also denies deletions."""
    team = f"team{i:03d}"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadOwnJobs",
            "Effect": "Allow",
            "Action": ["sagemaker:Describe*", "sagemaker:List*"],
            "Resource": [
                f"arn:aws:sagemaker:{region}:{account}:processing-job/{team}-*",
                f"arn:aws:sagemaker:{region}:{account}:training-job/{team}-*",
            ],
        },
        {
            "Sid": "CreateFromOffice",
            "Effect": "Allow",
            "Action": ["sagemaker:Create*Job", "sagemaker:AddTags"],
            "Resource": f"arn:aws:sagemaker:*:{account}:*-job/{team}-*",
            "Condition": {
                "IpAddress": {"aws:SourceIp": [f"10.{i % 256}.0.0/16", "127.0.0.0/8"]},
                "StringEqualsIfExists": {"aws:RequestedRegion": region},
            },
        },
        {
            "Sid": "OwnBucket",
            "Effect": "Allow",
            "Action": ["s3:Get*", "s3:PutObject", "s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{team}-data", f"arn:aws:s3:::{team}-data/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "true"}},
        },
        {
            "Sid": "CatalogRead",
            "Effect": "Allow",
            "Action": "glue:Get*",
            "Resource": f"arn:aws:glue:{region}:{account}:table/{team}_*/*",
            "Condition": {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{account}:user/*"}},
        },
    ]
    if i % 10 == 0:
        statements.append(
            {
                "Sid": "NoDeletes",
                "Effect": "Deny",
                "Action": "sagemaker:Delete*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:username": "admin"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True)
class Case:
    """One kind of request, and the decision it must get."""

    name: str
    action: str
    resource: str
    expected: str


def cases(account: str, region: str) -> list[Case]:
    job = f"arn:aws:sagemaker:{region}:{account}:processing-job"
    last = f"team{POLICIES - 1:03d}"
    return [
        # Matches only in the last policy: every Describe* statement is looked at.
        Case(
            "allow (last policy)", "sagemaker:DescribeProcessingJob", f"{job}/{last}-x", "allowed"
        ),
        Case("allow (condition)", "sagemaker:CreateProcessingJob", f"{job}/team050-x", "allowed"),
        Case("implicit deny", "sagemaker:DescribeProcessingJob", f"{job}/other-x", "implicitDeny"),
        Case("explicit deny", "sagemaker:DeleteProcessingJob", f"{job}/team001-x", "explicitDeny"),
    ]


def context_keys() -> dict[str, Any]:
    """The keys the server passes for a plain-HTTP request from loopback."""
    return {"aws:SourceIp": "127.0.0.1", "aws:SecureTransport": False}


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second: the best of five rounds of about ``seconds / 5`` each."""
    for _ in range(20):  # warm caches
        call()
    best = 0.0
    for _ in range(5):
        count = 0
        start = time.perf_counter()
        end = start + seconds / 5
        while True:
            for _ in range(10):
                call()
            count += 10
            now = time.perf_counter()
            if now >= end:
                break
        best = max(best, count / (now - start))
    return best


def setup_home(path: Path) -> tuple[Any, Any]:
    """A home whose user has POLICIES attached managed policies; returns (session, user)."""
    from sagebox.control.authorize import Principal
    from sagebox.session import Session

    session = Session(path)
    control, home = session.control, session.home
    user = control.call("CreateUser", {"UserName": USER}, service="iam")["User"]
    for i in range(POLICIES):
        document = json.dumps(policy_document(i, home.account_id, home.region))
        arn = control.call(
            "CreatePolicy",
            {"PolicyName": f"team{i:03d}-access", "PolicyDocument": document},
            service="iam",
        )["Policy"]["Arn"]
        control.call("AttachUserPolicy", {"UserName": USER, "PolicyArn": arn}, service="iam")
    attached = control.call(
        "ListAttachedUserPolicies", {"UserName": USER, "MaxItems": 1000}, service="iam"
    )["AttachedPolicies"]
    assert len(attached) == POLICIES, f"{len(attached)} policies attached, not {POLICIES}"
    return session, Principal(user["Arn"], home.account_id)


def bench_decisions(session: Any, principal: Any, seconds: float) -> list[tuple[str, str, float]]:
    from sagebox.control.authorizer import PolicyAuthorizer
    from sagebox.errors import AccessDenied
    from sagebox.iam import NamedPolicy, PolicySet, RequestContext, evaluate, parse_policy

    home = session.home
    account, region = home.account_id, home.region
    authorizer = PolicyAuthorizer(home)
    keys = context_keys()
    identity = tuple(
        NamedPolicy(f"p{i}", parse_policy(policy_document(i, account, region), "identity"))
        for i in range(POLICIES)
    )
    policies = PolicySet(identity=identity)
    rows: list[tuple[str, str, float]] = []
    for case in cases(account, region):
        request = RequestContext(principal.arn, account, "user", case.action, case.resource, keys)
        got = evaluate(request, policies).decision
        assert got == case.expected, (case, got)
        got = authorizer.decide(principal, case.action, case.resource, keys).decision
        assert got == case.expected, (case, got)

        def engine(request: RequestContext = request) -> None:
            evaluate(request, policies)

        def decide(case: Case = case) -> None:
            authorizer.decide(principal, case.action, case.resource, keys)

        def authorize(case: Case = case) -> None:
            with suppress(AccessDenied):
                authorizer.authorize(principal, case.action, case.resource, keys)

        rows.append(("iam.evaluate", case.name, rate(engine, seconds)))
        rows.append(("PolicyAuthorizer.decide", case.name, rate(decide, seconds)))
        rows.append(("PolicyAuthorizer.authorize", case.name, rate(authorize, seconds)))
    return rows


# ---- part 2: server overhead --------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_sagebox(home_path: str, port: int) -> None:
    """Child process: the sagebox server, throttle raised so one client never hits it."""
    import uvicorn

    from sagebox.api.app import Server, build_app
    from sagebox.home import Home

    home = Home.open(home_path)
    app = build_app(home, server=Server(home, rate=1e9, burst=1e9))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def serve_bare(document_path: str, port: int) -> None:
    """Child process: one Starlette route answering a fixed JSON document."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    document = json.loads(Path(document_path).read_text())

    async def describe(request: Request) -> Response:
        await request.body()
        return JSONResponse(document, media_type="application/x-amz-json-1.1")

    app = Starlette(routes=[Route("/", describe, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


@contextmanager
def child_server(kind: str, argument: str) -> Iterator[int]:
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, argument, str(port)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert child.poll() is None, f"the {kind} server exited with {child.returncode}"
            assert time.monotonic() < deadline, f"the {kind} server did not start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        child.terminate()
        child.wait(timeout=10)


@dataclass(frozen=True)
class Signed:
    body: bytes
    headers: dict[str, str]


def sign_requests(count: int, port: int, key_id: str, secret: str, region: str) -> list[Signed]:
    """``count`` DescribeProcessingJob requests, each with its own SigV4 signature."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signer = SigV4Auth(Credentials(key_id, secret), "sagemaker", region)
    body = json.dumps({"ProcessingJobName": JOB}).encode()
    signed = []
    for _ in range(count):
        request = AWSRequest(
            method="POST",
            url=f"http://127.0.0.1:{port}/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": "SageMaker.DescribeProcessingJob",
            },
        )
        signer.add_auth(request)
        signed.append(Signed(body, dict(request.headers.items())))
    return signed


@dataclass(frozen=True)
class Timing:
    latencies: list[float]  # seconds, one per request
    wall: float
    last_body: bytes

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.wall

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def send_all(port: int, requests: list[Signed], warmup: int) -> Timing:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    body = b""
    start = 0.0
    for index, request in enumerate(requests):
        if index == warmup:
            start = time.perf_counter()
        sent = time.perf_counter()
        connection.request("POST", "/", body=request.body, headers=request.headers)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - sent
        if response.status != 200:
            raise AssertionError(f"HTTP {response.status}: {body[:300]!r}")
        if index >= warmup:
            latencies.append(elapsed)
    wall = time.perf_counter() - start
    connection.close()
    return Timing(latencies, wall, body)


def bench_server(session: Any, requests: int, tmp: Path) -> list[tuple[str, Timing, int]]:
    import configparser

    home = session.home
    region = home.region
    objects = home.objects
    objects.create_bucket("bench")
    objects.put_object("bench", "code/script.py", SCRIPT.encode())
    session.control.call(
        "CreateProcessingJob",
        {
            "ProcessingJobName": JOB,
            "RoleArn": session.get_execution_role(),
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                    "VolumeSizeInGB": 1,
                }
            },
            "AppSpecification": {
                "ImageUri": "sagebox/sklearn",
                "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"],
            },
            "ProcessingInputs": [
                {
                    "InputName": "code",
                    "S3Input": {
                        "S3Uri": "s3://bench/code/",
                        "LocalPath": "/opt/ml/processing/input/code",
                        "S3DataType": "S3Prefix",
                        "S3InputMode": "File",
                    },
                }
            ],
        },
    )
    deadline = time.monotonic() + 60
    while True:
        status = session.control.describe_processing_job(ProcessingJobName=JOB)
        if status["ProcessingJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.monotonic() < deadline, "the benchmark's processing job did not finish"
        time.sleep(0.1)
    assert status["ProcessingJobStatus"] == "Completed", status

    credentials = configparser.ConfigParser()
    credentials.read(home.credentials_path)
    root = (
        credentials["default"]["aws_access_key_id"],
        credentials["default"]["aws_secret_access_key"],
    )
    key = session.control.call("CreateAccessKey", {"UserName": USER}, service="iam")["AccessKey"]
    user = (key["AccessKeyId"], key["SecretAccessKey"])
    warmup = WARMUP
    results: list[tuple[str, Timing, int]] = []
    with child_server("sagebox", str(home.path)) as port:
        # The user's requests are ~15x slower (see part 1), so fewer of them.
        for label, (key_id, secret), count in (
            ("sagebox server (root)", root, requests),
            (f"sagebox server (user, {POLICIES} policies)", user, max(100, requests // 6)),
        ):
            signed = sign_requests(warmup + count, port, key_id, secret, region)
            timing = send_all(port, signed, warmup)
            document = json.loads(timing.last_body)
            assert document["ProcessingJobName"] == JOB and "CreationTime" in document
            results.append((label, timing, len(timing.last_body)))
    document_path = tmp / "document.json"
    document_path.write_bytes(results[0][1].last_body)
    with child_server("bare", str(document_path)) as port:
        signed = sign_requests(warmup + requests, port, *root, region)
        timing = send_all(port, signed, warmup)
        results.append(("bare Starlette route", timing, len(timing.last_body)))
    return results


# ---- report ---------------------------------------------------------------------------
def print_decisions(rows: list[tuple[str, str, float]]) -> None:
    print(f"\nPolicy decisions, one user with {POLICIES} attached managed policies")
    print(f"{'path':<28} {'request':<22} {'decisions/s':>12} {'us/decision':>12}")
    print("-" * 77)
    for path, case, per_second in rows:
        print(f"{path:<28} {case:<22} {per_second:>12,.0f} {1e6 / per_second:>12.1f}")


def print_server(results: list[tuple[str, Timing, int]]) -> None:
    bare = results[-1][1]
    print("\nDescribeProcessingJob over HTTP/1.1 keep-alive, concurrency 1")
    print(
        f"{'server':<36} {'bytes':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50 vs bare':>12}"
    )
    print("-" * 83)
    for label, timing, size in results:
        ratio = timing.percentile(50) / bare.percentile(50)
        print(
            f"{label:<36} {size:>6} {timing.per_second:>8,.0f} "
            f"{timing.percentile(50) * 1e3:>8.2f} {timing.percentile(99) * 1e3:>8.2f} "
            f"{ratio:>11.1f}x"
        )
    sagebox = results[0][1]
    overhead = sagebox.percentile(50) - bare.percentile(50)
    print(
        f"\nsagebox adds {overhead * 1e3:.2f} ms at p50 per request over the bare route; "
        f"throughput ratio bare/sagebox = {bare.per_second / sagebox.per_second:.1f}x."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per decision row")
    parser.add_argument("--requests", type=int, default=1500, help="timed requests per server")
    parser.add_argument("--serve", nargs=3, metavar=("KIND", "ARG", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        kind, argument, port = args.serve
        (serve_sagebox if kind == "sagebox" else serve_bare)(argument, int(port))
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sagebox-bench-") as tmp:
        print(f"Setting up a home with {POLICIES} policies attached to one user ...", flush=True)
        session, principal = setup_home(Path(tmp) / "home")
        rows = bench_decisions(session, principal, args.seconds)
        print_decisions(rows)
        results = bench_server(session, args.requests, Path(tmp))
        print_server(results)
    print(
        f"\n(python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{time.monotonic() - started:.0f} s in all; median of the per-request latencies "
        f"after {WARMUP} warm-up requests)"
    )


if __name__ == "__main__":
    main()
