"""The export program a processing job runs: ``python3 -m sagebox.wrangler.runner FLOW.json``.

It reads the flow's source from the job's staged input (``--data``, the source staged
by the job under its execution role, as on SageMaker), runs every step over all of it in
streaming batches (see :mod:`sagebox.wrangler.engine`), and writes under ``--output``,
which the job uploads: the data (``part-00000.<ext>``, or ``<part>/part-00000.<ext>``
per split part), ``_report.json`` (rows in and out per step, fitted states, bad rows)
and, with the ``quarantine`` policy, ``_bad-rows.jsonl``. Names that start with ``_``
are skipped by sagebox's readers (and Spark's, Hive's, Athena's), so the output folder
reads back as data only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sagebox.data.readers import ReadReport, read_batches
from sagebox.errors import SageboxError
from sagebox.store.objects import open_object_store
from sagebox.wrangler.engine import compile_steps, run_steps, split_outputs
from sagebox.wrangler.flow import Flow
from sagebox.wrangler.sink import OutputSink

REPORT = "_report.json"
QUARANTINE = "_bad-rows.jsonl"


def _folder_store(folder: Path) -> tuple[Any, str]:
    """An object store whose bucket is ``folder`` (a local store rooted at its parent)."""
    folder.mkdir(parents=True, exist_ok=True)
    return open_object_store(folder.parent), folder.name


def _original_uris(source_uri: str, staged: str) -> Callable[[str], str]:
    """Maps a staged file's URI (``s3://data/part-1.jsonl``) back to the source object's."""

    def original(uri: str) -> str:
        if not uri.startswith(staged):
            return uri
        relative = uri[len(staged) :]
        if source_uri.endswith("/" + relative):  # the source named one object
            return source_uri
        return source_uri.rstrip("/") + "/" + relative

    return original


def export(
    flow: Flow,
    data: Path,
    output: Path,
    *,
    format: str,
    label_column: str | None = None,
    output_uri: str | None = None,
    spill_dir: Path | None = None,
) -> dict[str, Any]:
    """Run ``flow`` over the files in ``data``, writing into ``output``; returns the report."""
    started = time.perf_counter()
    inputs, in_bucket = _folder_store(data)
    outputs, out_bucket = _folder_store(output)
    source = replace(flow.source, uri=f"s3://{in_bucket}/")
    read_report = ReadReport()
    # The reader writes bad rows through its own store: a folder beside the data, moved
    # into the output at the end.
    quarantine = None
    if flow.error_policy == "quarantine":
        (data.parent / "quarantine").mkdir(exist_ok=True)
        quarantine = f"s3://quarantine/{QUARANTINE}"
    batches = read_batches(
        inputs,
        source,
        batch_rows=flow.batch_rows,
        on_error=flow.error_policy,
        report=read_report,
        quarantine_uri=quarantine,
    )
    runs = compile_steps(flow.steps)
    sink = OutputSink(
        outputs, f"s3://{out_bucket}/", format, label_column=label_column, split=split_outputs(runs)
    )
    try:
        result = run_steps(runs, batches, sink.write, spill_dir=spill_dir)
    except BaseException:
        sink.abort()
        raise
    written = sink.close()
    original = _original_uris(flow.source.uri, f"s3://{in_bucket}/")
    quarantined = data.parent / "quarantine" / QUARANTINE
    if quarantine and quarantined.is_file():
        with quarantined.open() as bad, (output / QUARANTINE).open("w") as out:
            for line in bad:
                row = json.loads(line)
                row["file"] = original(row.get("file", ""))
                out.write(json.dumps(row) + "\n")
        quarantined.unlink()
    for example in read_report.examples:
        example["file"] = original(example.get("file", ""))
    base = (output_uri or "").rstrip("/")
    report = {
        "FlowName": flow.name,
        "FlowVersion": flow.version,
        "Source": flow.source.uri,
        "Format": format,
        "LabelColumn": label_column,
        "ErrorPolicy": flow.error_policy,
        "BatchRows": flow.batch_rows,
        "RowsIn": result.rows_in,
        "RowsOut": result.rows_out,
        "BadRows": read_report.bad_rows,
        "BadRowExamples": read_report.examples,
        "Quarantine": f"{base}/{QUARANTINE}" if quarantine and read_report.bad_rows else None,
        "Steps": [run.report() for run in result.steps],
        "Outputs": {
            name: {"Rows": part["Rows"], "Objects": [f"{base}/{k}" for k in part["Keys"]]}
            for name, part in written.items()
        },
        "FitPasses": result.fit_passes,
        "SpilledRows": result.spilled_rows,
        "Seconds": round(time.perf_counter() - started, 3),
    }
    outputs.put_object(
        out_bucket,
        REPORT,
        json.dumps(report, indent=2, default=str).encode(),
        content_type="application/json",
    )
    return report


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python3 -m sagebox.wrangler.runner")
    parser.add_argument("flow", type=Path, help="The flow's JSON document.")
    parser.add_argument("--data", type=Path, default=Path("/opt/ml/processing/input/data"))
    parser.add_argument("--output", type=Path, default=Path("/opt/ml/processing/output"))
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--label", default=None, help="CSV: this column first, no header.")
    parser.add_argument("--output-uri", default=None, help="Where the output is uploaded.")
    parser.add_argument("--version", type=int, default=None, help="The flow's version.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        flow = Flow.parse(args.flow.read_text(), version=args.version)
        print(f"flow {flow.name}: {len(flow.steps)} steps, batches of {flow.batch_rows} rows")
        report = export(
            flow,
            args.data,
            args.output,
            format=args.format,
            label_column=args.label,
            output_uri=args.output_uri,
            spill_dir=args.output.parent,
        )
    except SageboxError as error:
        failure = Path(os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")) / "failure"
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(error.message + "\n")
        print(f"flow failed: {error.message}", file=sys.stderr)
        return 1
    for step in report["Steps"]:
        print(f"  {step['Id']:<24} {step['RowsIn']:>10} -> {step['RowsOut']:>10} rows")
    for name, part in report["Outputs"].items():
        print(f"  output {name}: {part['Rows']} rows")
    print(f"read {report['RowsIn']} rows ({report['BadRows']} bad), wrote {report['RowsOut']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
