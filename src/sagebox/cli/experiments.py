"""``sagebox experiments list|compare|ui``: training jobs as MLflow runs."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sagebox.cli._common import (
    HomeOption,
    OutputOption,
    aws_errors,
    check_output,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from sagebox.home import Home

app = typer.Typer(
    no_args_is_help=True,
    help="Every training job is an MLflow run: list experiments, compare runs, open the UI.",
)


def _home(home: Path | None) -> Home:
    from sagebox.home import Home

    return Home.open(home)


def _nothing_logged(h: Home) -> bool:
    from sagebox.experiments.store import home_store_exists

    return not home_store_exists(h)


@app.command("list")
@aws_errors()
def list_(output: OutputOption = "table", home: HomeOption = None) -> None:
    """The experiments in the home's tracking store, with how many runs each holds."""
    fmt = check_output(output)
    h = _home(home)
    if _nothing_logged(h):
        if fmt == "json":
            print_json([])
        else:
            typer.echo(
                f"No experiments yet in {h.path}: each training job is logged to MLflow "
                "when it finishes."
            )
        return
    from sagebox.experiments import list_experiments

    summaries = list_experiments(h)
    rows = [
        {
            "Experiment": s.name,
            "ID": s.experiment_id,
            "Jobs": s.jobs,
            "Runs": s.runs,
            "Last run": s.last_run,
            "Artifacts": s.artifact_location,
        }
        for s in summaries
    ]
    if fmt == "json":
        print_json(rows)
    else:
        print_table(rows, ("Experiment", "ID", "Jobs", "Runs", "Last run", "Artifacts"))


def _number(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return value


@app.command()
@aws_errors()
def compare(
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="An experiment's name (default: every one)."),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="A metric to show (repeatable), e.g. validation:auc; the first sorts the "
            "runs. Default: every metric the runs have, newest run first.",
        ),
    ] = None,
    max_runs: Annotated[int, typer.Option(help="Show at most this many runs.")] = 20,
    ascending: Annotated[
        bool, typer.Option("--ascending", help="Sort the first --metric lowest first (losses).")
    ] = False,
    output: OutputOption = "table",
    home: HomeOption = None,
) -> None:
    """Training-job runs side by side: the params that differ, and their final metrics."""
    fmt = check_output(output)
    h = _home(home)
    if _nothing_logged(h):
        if fmt == "json":
            print_json([])
        else:
            typer.echo(f"No runs yet in {h.path}: training jobs are logged when they finish.")
        return
    from sagebox.experiments import compare_runs

    comparison = compare_runs(h, experiment, metric or (), max_runs, ascending)
    records = comparison.records()
    if fmt == "json":
        print_json(records)
        return
    if not records:
        typer.echo("No training-job runs to compare.")
        return
    columns = [c for c in records[0] if c != "Run ID"]  # in -o json; too long for a table
    print_table([{k: _number(v) for k, v in r.items()} for r in records], columns)


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@app.command()
@aws_errors()
def ui(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(help="Server worker processes.")] = 1,
    home: HomeOption = None,
) -> None:
    """Start the MLflow UI on the home's tracking store; it runs until Ctrl-C."""
    from sagebox.experiments.store import (
        artifact_root,
        is_database,
        open_client,
        quiet_environment,
        tracking_uri,
    )

    h = _home(home)
    uri = tracking_uri(h)
    if not is_database(uri):
        typer.echo(f"This home logs to the MLflow server at {uri}: open it in a browser.")
        return
    if not _port_free(host, port):
        typer.echo(f"Port {port} on {host} is in use; choose another with --port.", err=True)
        raise typer.Exit(1)
    open_client(h)  # creates the home's store with its artifact locations
    quiet_environment()
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--default-artifact-root",
        str(artifact_root(h)),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"MLflow UI for {h.path} at http://{shown}:{port}  (Ctrl-C stops it)")
    raise typer.Exit(_serve(command))


def _serve(command: list[str]) -> int:
    """Run the server in its own process group until it ends, Ctrl-C or SIGTERM; then end
    the whole group (``mlflow server`` runs its web server as a child of its own)."""
    env = dict(os.environ)
    # MLflow's server also starts a GenAI job runner (about eight more Python processes);
    # comparing runs needs none of it. A user who wants it sets the variable to true.
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    server = subprocess.Popen(command, env=env, start_new_session=True)

    def on_term(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        _end_group(server)


def _end_group(server: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    # Its workers may outlive the leader by a moment; the group goes with them.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
