"""Platform overhead of a processing job against a bare ``subprocess.run`` of the script.

Measures, over N runs:
- start overhead: CreateProcessingJob called -> the script's first line runs,
  minus the same interval for ``subprocess.run`` of the same script;
- end overhead: the script's last line -> the job is Completed (outputs uploaded,
  state recorded), minus the same for ``subprocess.run`` (process exit seen).

The script prints ``time.time()`` at its first and last line, so both sides are timed
by the same clock. Run: ``.venv/bin/python benchmarks/job_overhead.py [--runs 10]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """\
import time
print("FIRST", time.time(), flush=True)
import pathlib
pathlib.Path("/opt/ml/processing/output/result.txt").write_text("ok")
print("LAST", time.time(), flush=True)
"""
BARE_SCRIPT = SCRIPT.replace("/opt/ml/processing/output", "{out}")


def _stamps(text: str) -> tuple[float, float]:
    first = last = 0.0
    for line in text.splitlines():
        if line.startswith("FIRST "):
            first = float(line.split()[1])
        elif line.startswith("LAST "):
            last = float(line.split()[1])
    return first, last


def bare(tmp: Path) -> tuple[float, float]:
    script = tmp / "bare.py"
    out = tmp / "bare-out"
    out.mkdir(exist_ok=True)
    script.write_text(BARE_SCRIPT.format(out=out))
    start = time.time()
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    )
    end = time.time()
    first, last = _stamps(result.stdout)
    return first - start, end - last


def sagebox_job(session: object, index: int) -> tuple[float, float]:
    from sagebox.session import Session

    assert isinstance(session, Session)
    objects = session.home.objects
    name = f"bench-{index}"
    objects.put_object("bench", f"code/{name}/script.py", SCRIPT.encode())
    request = {
        "ProcessingJobName": name,
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
                    "S3Uri": f"s3://bench/code/{name}/",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://bench/out/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
    }
    start = time.time()
    session.control.create_processing_job(**request)
    while True:
        status = session.home.metadata.get("processing-job", name).status
        if status in ("Completed", "Failed", "Stopped"):
            end = time.time()
            break
        time.sleep(0.01)
    assert status == "Completed", session.control.describe_processing_job(ProcessingJobName=name)
    log = session.home.logs_path / "processing-job" / name / "algo-1.log"
    first, last = _stamps(log.read_text())
    return first - start, end - last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    from sagebox.session import Session

    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        session = Session(tmp / "home")
        session.home.objects.create_bucket("bench")
        sagebox_job(session, -1)  # warm caches
        bare(tmp)
        jobs = [sagebox_job(session, i) for i in range(args.runs)]
        bares = [bare(tmp) for _ in range(args.runs)]
    job_start = statistics.median(j[0] for j in jobs)
    job_end = statistics.median(j[1] for j in jobs)
    bare_start = statistics.median(b[0] for b in bares)
    bare_end = statistics.median(b[1] for b in bares)
    print(f"runs: {args.runs} (medians)")
    print(
        f"create -> first line: sagebox {job_start * 1000:7.1f} ms   "
        f"subprocess.run {bare_start * 1000:7.1f} ms   overhead "
        f"{(job_start - bare_start) * 1000:7.1f} ms   ratio {job_start / bare_start:5.1f}x"
    )
    print(
        f"last line -> done:    sagebox {job_end * 1000:7.1f} ms   "
        f"subprocess.run {bare_end * 1000:7.1f} ms   overhead "
        f"{(job_end - bare_end) * 1000:7.1f} ms"
    )


if __name__ == "__main__":
    main()
