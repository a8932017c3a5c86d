"""``sagebox experiments list|compare|ui``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from typer.testing import CliRunner

from sagebox.cli import app
from tests.experiments.conftest import Logged

runner = CliRunner()
WIDE = {"COLUMNS": "300"}  # rich tables fit the terminal; keep every cell whole


def test_list_shows_experiments_and_their_runs(logged: Logged) -> None:
    home = str(logged.home.path)
    result = runner.invoke(app, ["experiments", "list", "--home", home, "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = {row["Experiment"]: row for row in json.loads(result.output)}
    assert rows["loan-default"]["Jobs"] == 2
    assert rows["loan-default"]["Runs"] == 3  # the trial's parent run too
    assert rows["Default"]["Jobs"] == 2  # plain and broken
    table = runner.invoke(app, ["experiments", "list", "--home", home], env=WIDE)
    assert "loan-default" in table.output and "Default" in table.output


def test_compare_prints_runs_side_by_side_sorted_by_a_metric(logged: Logged) -> None:
    home = str(logged.home.path)
    args = ["experiments", "compare", "--home", home, "--experiment", "loan-default"]
    result = runner.invoke(app, [*args, "--metric", "validation:auc", "-o", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {r["Job"] for r in rows} == {"tuned-3", "tuned-5"}
    aucs = [r["validation:auc"] for r in rows]
    assert aucs == sorted(aucs, reverse=True)
    for row in rows:
        final = {
            m["MetricName"]: m["Value"] for m in logged.described[row["Job"]]["FinalMetricDataList"]
        }
        assert row["validation:auc"] == final["validation:auc"]
    # Only the params that differ: max_depth, not num_round or the instance type.
    assert {r["Job"]: r["max_depth"] for r in rows} == {"tuned-3": "3", "tuned-5": "5"}
    assert "num_round" not in rows[0] and "sagemaker.instance_type" not in rows[0]

    table = runner.invoke(app, [*args, "-m", "validation:auc", "-m", "train:auc"], env=WIDE)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    for row in rows:
        line = next(x for x in lines if row["Job"] in x)
        assert row["Run"] in line and f"{row['validation:auc']:.6g}" in line

    missing = runner.invoke(app, [*args[:-1], "no-such-experiment"])
    assert missing.exit_code == 1
    assert "no-such-experiment" in missing.output and "loan-default" in missing.output


def test_commands_on_a_home_with_nothing_logged_create_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = runner.invoke(app, ["experiments", "list", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "No experiments yet" in result.output
    assert not (home / "mlflow").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ui_serves_the_home_store_until_stopped(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = _free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [sys.executable, "-m", "sagebox", "experiments", "ui", "--home", str(home)]
    ui = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        end = time.monotonic() + 120
        answer = None
        while answer is None:
            assert ui.poll() is None, ui.stdout.read().decode() if ui.stdout else ""
            assert time.monotonic() < end, "the MLflow UI did not answer in 120 s"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    answer = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert answer.strip() == "OK"
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name"
        with urllib.request.urlopen(f"{url}?experiment_name=Default", timeout=10) as r:
            default = json.loads(r.read())["experiment"]
        # The home's store, with artifacts in the home, not ./mlruns.
        assert default["artifact_location"].startswith(str(home / "mlflow" / "artifacts"))
        ui.send_signal(signal.SIGTERM)
        assert ui.wait(timeout=30) == 0
        out = ui.stdout.read().decode() if ui.stdout else ""
        assert f"http://127.0.0.1:{port}" in out
        with socket.socket() as probe:  # the server went with it
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        if ui.poll() is None:  # SIGTERM first: the command ends the server it started
            ui.terminate()
            try:
                ui.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(ui.pid, signal.SIGKILL)
                ui.wait()
