"""A Data Wrangler flow against the same steps written by hand in pandas and in DuckDB SQL.

The work: N generated loan applications as JSON lines (nested: applicant, employment,
address, loan, and a credit history array of 0-8 accounts) -> flatten applicant and loan
-> explode credit_history (an empty history keeps its application) -> flatten the
account struct -> one-hot encode loan.purpose and applicant.employment.status -> random
80/20 split -> Parquet, one folder per part. Every variant reads the same files and
writes the same rows and columns (checked).

Each variant runs in its own subprocess, timed from the parent; peak memory is that
subprocess's maximum resident set, read by a small wrapper process with
``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``. The flow also runs on a quarter of the
data, on the data and on twice the data (the same files linked twice): its peak reaches a
steady level once a few batches are in flight and then stays flat (memory bounded by the
batch size), while pandas' and DuckDB's grow with the data.

The DuckDB variants: ``duckdb`` materialises the flattened rows in a temporary table (the
fast way), ``duckdb-view`` queries a view, so the category queries read the JSON again.

Run: ``.venv/bin/python benchmarks/wrangle.py [--rows 1000000] [--batch-rows 65536]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CATEGORICAL = ("loan.purpose", "applicant.employment.status")
MAX_CATEGORIES = 20
TRAIN = 0.8


# -- the variants (each runs in a fresh process: python wrangle.py --run VARIANT ...) -----
def run_flow(data: Path, out: Path, batch_rows: int) -> int:
    from sagebox.data.formats import DataSource
    from sagebox.wrangler import Flow
    from sagebox.wrangler.runner import export

    flow = Flow("bench", source=DataSource("s3://data/", format="jsonl"), batch_rows=batch_rows)
    flow = (
        flow.add("flatten", column="applicant")
        .add("flatten", column="loan")
        .add("explode", column="credit_history")
        .add("flatten", column="credit_history")
        .add("encode-one-hot", column="loan.purpose", max_categories=MAX_CATEGORIES, other=False)
        .add(
            "encode-one-hot",
            column="applicant.employment.status",
            max_categories=MAX_CATEGORIES,
            other=False,
        )
        .add("split", method="random", splits={"train": TRAIN, "test": 1 - TRAIN})
    )
    report = export(flow, data, out, format="parquet", spill_dir=out.parent)
    return int(report["RowsOut"])


def run_pandas(data: Path, out: Path, batch_rows: int) -> int:
    import numpy as np
    import pandas as pd

    records: list[dict] = []
    for path in sorted(data.glob("*.jsonl")):
        with path.open() as lines:
            records.extend(json.loads(line) for line in lines)
    frame = pd.json_normalize(records, sep=".", max_level=3)  # applicant.*, loan.*
    del records
    frame = frame.explode("credit_history", ignore_index=True)
    history = pd.json_normalize(
        [h if isinstance(h, dict) else {} for h in frame["credit_history"]], sep="."
    ).add_prefix("credit_history.")
    frame = pd.concat([frame.drop(columns="credit_history"), history], axis=1)
    for column in CATEGORICAL:
        top = frame[column].value_counts().index[:MAX_CATEGORIES]
        dummies = pd.get_dummies(
            pd.Categorical(frame[column], categories=top), prefix=column, prefix_sep="_"
        ).astype("int8")
        frame = pd.concat([frame.drop(columns=column), dummies], axis=1)
    train = np.random.default_rng(0).random(len(frame)) < TRAIN
    for name, part in (("train", frame[train]), ("test", frame[~train])):
        (out / name).mkdir(parents=True, exist_ok=True)
        part.to_parquet(out / name / "part-00000.parquet", index=False)
    return len(frame)


_SQL_COLUMNS = """
    application_id, applied_at,
    applicant.name AS "applicant.name", applicant.date_of_birth AS "applicant.date_of_birth",
    applicant.age AS "applicant.age", applicant.email AS "applicant.email",
    applicant.address.city AS "applicant.address.city",
    applicant.address.postcode AS "applicant.address.postcode",
    applicant.employment.status AS "applicant.employment.status",
    applicant.employment.employer AS "applicant.employment.employer",
    applicant.employment.years AS "applicant.employment.years",
    applicant.employment.annual_income AS "applicant.employment.annual_income",
    h.account_type AS "credit_history.account_type", h.opened AS "credit_history.opened",
    h."limit" AS "credit_history.limit", h.balance AS "credit_history.balance",
    h.delinquencies AS "credit_history.delinquencies",
    loan.amount AS "loan.amount", loan.term_months AS "loan.term_months",
    loan.purpose AS "loan.purpose", loan.interest_rate AS "loan.interest_rate",
    "default", true_default_probability, duplicate_of
"""


def run_duckdb(data: Path, out: Path, batch_rows: int, materialize: bool = True) -> int:
    """The flattened rows as a DuckDB table (it spills to disk when it must), then the
    category queries and the export over it; ``materialize=False``: a view instead, so
    each query reads the JSON again (less memory, more time)."""
    import duckdb

    con = duckdb.connect()
    con.sql(f"SET temp_directory = '{out.parent / 'duckdb-tmp'}'")
    files = f"'{data}/*.jsonl'"
    con.sql(
        f"""CREATE {"TEMP TABLE" if materialize else "VIEW"} flat AS
        SELECT {_SQL_COLUMNS}
        FROM read_json({files}, format = 'newline_delimited')
        LEFT JOIN LATERAL (SELECT unnest(credit_history) AS h) ON true"""
    )
    encoded = []
    for column in CATEGORICAL:
        top = con.sql(
            f'SELECT "{column}" FROM flat WHERE "{column}" IS NOT NULL GROUP BY 1 '
            f"ORDER BY count(*) DESC, 1 LIMIT {MAX_CATEGORIES}"
        ).fetchall()
        encoded += [
            f'("{column}" IS NOT DISTINCT FROM \'{v}\')::TINYINT AS "{column}_{v}"' for (v,) in top
        ]
    keep = ", ".join(f'"{c}"' for c in CATEGORICAL)
    written = con.execute(
        f"""COPY (
            SELECT * EXCLUDE ({keep}), {", ".join(encoded)},
                   CASE WHEN random() < {TRAIN} THEN 'train' ELSE 'test' END AS split
            FROM flat
        ) TO '{out}' (FORMAT parquet, PARTITION_BY (split))"""
    ).fetchall()
    return int(written[0][0])


def run_duckdb_view(data: Path, out: Path, batch_rows: int) -> int:
    return run_duckdb(data, out, batch_rows, materialize=False)


VARIANTS = {
    "flow": run_flow,
    "duckdb": run_duckdb,
    "duckdb-view": run_duckdb_view,
    "pandas": run_pandas,
}


# -- the harness ---------------------------------------------------------------------------
_MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "seconds = time.perf_counter() - start\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'seconds': seconds, 'peak_kib': peak, 'code': done.returncode,\n"
    "                  'stdout': done.stdout, 'stderr': done.stderr[-3000:]}))\n"
)


def measure(variant: str, data: Path, work: Path, batch_rows: int) -> dict:
    out = work / f"out-{variant}-{time.monotonic_ns()}" / "output"
    out.parent.mkdir(parents=True)
    command = [sys.executable, __file__, "--run", variant, str(data), str(out)]
    command += ["--batch-rows", str(batch_rows)]
    wrapper = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True
    )
    result = json.loads(wrapper.stdout)
    if result["code"] != 0:
        raise SystemExit(f"{variant} failed:\n{result['stderr']}")
    result["rows"] = json.loads(result["stdout"].strip().splitlines()[-1])["rows"]
    columns = _columns(out)
    shutil.rmtree(out.parent)
    result["columns"] = columns
    return result


def _columns(out: Path) -> list[str]:
    import pyarrow.parquet as pq

    files = sorted(out.rglob("*.parquet"))
    names = pq.read_schema(files[0]).names
    return sorted(n for n in names if n != "split")


def generate(folder: Path, rows: int) -> float:
    """Write ``rows`` applications as JSON lines under ``folder``; returns the bytes."""
    from sagebox.data.synthetic import write_loans
    from sagebox.store.objects import open_object_store

    folder.mkdir(parents=True, exist_ok=True)
    store = open_object_store(folder.parent)
    write_loans(store, f"s3://{folder.name}/", rows, "jsonl", batch_rows=250_000)
    # Flush the new files to disk and read them once, so that no variant pays for the
    # generator's write-back or a cold cache.
    os.sync()
    for path in folder.glob("*.jsonl"):
        with path.open("rb") as data:
            while data.read(1 << 24):
                pass
    return float(sum(p.stat().st_size for p in folder.glob("*.jsonl")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=65536)
    parser.add_argument("--variants", default="flow,duckdb,duckdb-view,pandas")
    parser.add_argument(
        "--run", nargs=3, metavar=("VARIANT", "DATA", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.run:
        variant, data, out = args.run
        rows = VARIANTS[variant](Path(data), Path(out), args.batch_rows)
        print(json.dumps({"rows": rows}))
        return

    with tempfile.TemporaryDirectory(prefix="sagebox-wrangle-") as tmp:
        work = Path(tmp)
        quarter = max(args.rows // 4, 1)
        started = time.perf_counter()
        size = generate(work / "data", args.rows)
        generate(work / "quarter", quarter)
        # twice the data without generating it again: every file linked in twice
        (work / "double").mkdir()
        for path in (work / "data").glob("*.jsonl"):
            for copy in ("a", "b"):
                os.link(path, work / "double" / f"{copy}-{path.name}")
        took = time.perf_counter() - started
        print(
            f"generated {args.rows:,} applications ({size / 2**20:.0f} MiB JSONL) in {took:.0f} s"
        )
        results = {}
        for variant in args.variants.split(","):
            results[variant] = measure(variant, work / "data", work, args.batch_rows)
        scaling = {
            quarter: measure("flow", work / "quarter", work, args.batch_rows),
            args.rows: results.get("flow") or measure("flow", work / "data", work, args.batch_rows),
            2 * args.rows: measure("flow", work / "double", work, args.batch_rows),
        }

    fastest = min(r["seconds"] for r in results.values())
    reference = next(iter(results.values()))
    cpus = os.cpu_count()
    print(f"\n{args.rows:,} applications, batch_rows={args.batch_rows:,}, {cpus} CPUs\n")
    print(f"{'variant':<12}{'seconds':>10}{'vs fastest':>12}{'peak RSS':>12}{'rows out':>12}")
    for variant, r in results.items():
        same = "" if r["columns"] == reference["columns"] else "  (columns differ!)"
        print(
            f"{variant:<12}{r['seconds']:>10.1f}{r['seconds'] / fastest:>11.2f}x"
            f"{r['peak_kib'] / 1024:>9.0f} MiB{r['rows']:>12,}{same}"
        )
    print("\nthe flow's peak RSS against the size of the data:\n")
    print(f"{'applications':>14}{'seconds':>10}{'peak RSS':>12}")
    for rows, r in scaling.items():
        print(f"{rows:>14,}{r['seconds']:>10.1f}{r['peak_kib'] / 1024:>9.0f} MiB")


if __name__ == "__main__":
    main()
