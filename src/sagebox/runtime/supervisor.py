"""The job supervisor: one process per job that runs its instances to a final state.

Started detached by :mod:`sagebox.runtime.local` as ``python -m sagebox.runtime.supervisor
<job dir>``. It outlives the process that created the job, so a control plane that
dies does not take running jobs with it; it records every transition through the
job's reporter. Lifecycle: stage inputs -> write config files -> start one process per
instance -> stream logs and metrics -> upload outputs -> record the outcome -> clean up
(logs are kept) -> start queued jobs that now fit.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from sagebox.files import write_json
from sagebox.home import Home
from sagebox.runtime import failures
from sagebox.runtime.instance_types import instance_profile
from sagebox.runtime.pipes import PipeFeeder
from sagebox.runtime.processes import free_port, wrap_instance_command
from sagebox.runtime.reporting import BackgroundReporter, Outcome, load_factory
from sagebox.runtime.spec import CONTAINER_ROOT, InputChannel, JobSpec, host_path, log_dir
from sagebox.runtime.staging import (
    StagingError,
    list_channel_keys,
    pack_folder,
    pack_model,
    shard,
    stage_input,
    upload_output,
)
from sagebox.store.metadata import MetricPoint

RESULT_FILE = "result.json"
CHECKPOINTS = "checkpoints"  # the output channel CheckpointConfig syncs continuously
INSTANCES_FILE = "instances.json"
TAIL_LINES = 40


class Instance:
    """One running instance: its process, log stream and recent lines."""

    def __init__(self, host: str, root: Path, log_path: Path) -> None:
        self.host = host
        self.root = root
        self.log_path = log_path
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.process: subprocess.Popen[bytes] | None = None
        self.reader: threading.Thread | None = None


class Supervisor:
    def __init__(self, home: Home, spec: JobSpec, job_dir: Path) -> None:
        self.home = home
        self.spec = spec
        self.job_dir = job_dir
        self.reporter = BackgroundReporter(spec.reporter, home, spec)
        self.objects = load_factory(spec.access)(home, spec) if spec.access else home.objects
        self.profile = instance_profile(spec.instance_type)
        self.instances: list[Instance] = []
        self.stop_reason: str | None = None
        self.timed_out = False
        self._metric_patterns = [(m.name, re.compile(m.regex)) for m in spec.metric_definitions]
        self._metric_buffer: list[MetricPoint] = []
        self._lock = threading.Lock()
        self._continuous_seen: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
        self.feeders: list[PipeFeeder] = []
        # one free port per job, the same on every instance (MASTER_PORT, XGBoost's tracker)
        self.master_port = free_port() if spec.kind == "training-job" else 0
        self.bytes_on_disk = 0  # what staging wrote to disk (Pipe mode and links: none)
        self._downloading_since = 0.0
        self._first_metric_after: float | None = None

    # ---- lifecycle -------------------------------------------------------------------
    def run(self) -> Outcome:
        self.reporter.started()
        signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            outcome = self._run()
        except Exception as exc:  # a sagebox bug must still end the job in a true state
            outcome = Outcome("Failed", f"InternalFailure: the job supervisor failed: {exc!r}")
        self._finish(outcome)
        return outcome

    def _run(self) -> Outcome:
        attempt = 0
        while True:
            outcome = self._attempt()
            if not self._retryable(outcome) or attempt >= self.spec.max_retry_attempts:
                break
            attempt += 1
            self.reporter.secondary_status(
                "Restarting",
                f"Restarting the job (retry {attempt} of {self.spec.max_retry_attempts}) "
                f"after: {outcome.failure_reason}",
            )
            for instance in self.instances:
                _remove_tree(instance.root)
            self.instances = []
            self._continuous_seen = {}
        return outcome

    def _retryable(self, outcome: Outcome) -> bool:
        """RetryStrategy retries a lost instance (killed from outside), not the program's
        own error, as AWS retries internal errors only."""
        if outcome.status != "Failed" or self.stop_reason:
            return False
        codes = [i.process.returncode for i in self.instances if i.process]
        return any(code is not None and code < 0 for code in codes)

    def _attempt(self) -> Outcome:
        self._downloading_since = time.monotonic()
        self._first_metric_after = None
        self.bytes_on_disk = 0
        self.reporter.secondary_status("Downloading", "Downloading input data")
        try:
            self._prepare_instances()
        except StagingError as exc:
            return Outcome("Failed", f"ClientError: {exc}")
        if self.stop_reason:
            return Outcome("Stopped", exit_message=self.stop_reason)
        self.reporter.secondary_status(
            "Training", "Training image download completed. Training in progress."
        )
        for feeder in self.feeders:
            feeder.start()
        self._start_instances()
        outcome = self._wait()
        for feeder in self.feeders:
            feeder.stop()
        broken = [f.error for f in self.feeders if f.error]
        self.feeders = []
        if broken and outcome.status != "Stopped":
            outcome = Outcome("Failed", f"ClientError: {broken[0]}")
        self._flush_metrics()
        self._data_metrics()
        stopped_with_model = outcome.status == "Stopped" and self._model_written()
        if outcome.status == "Completed" or stopped_with_model:
            # A stopped job keeps what its program saved before it exited, as SageMaker
            # keeps the intermediate model of a stopped (or early-stopped) training job.
            self.reporter.secondary_status("Uploading", "Uploading output data")
            try:
                for instance in self.instances:
                    for channel in self.spec.outputs:
                        seen = self._continuous_seen.get((instance.host, channel.name))
                        upload_output(self.objects, channel, instance.root, seen)
                if self.spec.model_uri:
                    pack_model(self.objects, self.instances[0].root / "model", self.spec.model_uri)
                if self.spec.output_data_uri:
                    pack_folder(
                        self.objects,
                        self.instances[0].root / "output" / "data",
                        self.spec.output_data_uri,
                    )
            except StagingError as exc:
                return Outcome("Failed", f"ClientError: {exc}")
        return outcome

    def _prepare_instances(self) -> None:
        logs = log_dir(self.home.path, self.spec.kind, self.spec.name)
        logs.mkdir(parents=True, exist_ok=True)
        hosts = self.spec.host_names()
        inputs = [*self.spec.inputs, *self._checkpoint_inputs()]
        channel_keys = [list_channel_keys(self.objects, ch) for ch in inputs]
        content_types = self.spec.config_files.get(
            f"{CONTAINER_ROOT}/input/config/inputdataconfig.json", {}
        )
        for index, host in enumerate(hosts):
            root = self.job_dir / host
            root.mkdir(parents=True, exist_ok=True)
            self.instances.append(Instance(host, root, logs / f"{host}.log"))
            for channel, (bucket, keys) in zip(inputs, channel_keys, strict=True):
                mine = shard(keys, channel, index, len(hosts))
                if channel.input_mode == "Pipe":
                    content = (content_types.get(channel.name) or {}).get("ContentType", "")
                    target = host_path(root, channel.container_path)
                    self.feeders.append(
                        PipeFeeder(self.objects, channel, bucket, mine, target, content)
                    )
                else:
                    self.bytes_on_disk += stage_input(self.objects, channel, bucket, mine, root)
            for output in self.spec.outputs:
                host_path(root, output.container_path).mkdir(parents=True, exist_ok=True)
            resource = {"current_host": host, "hosts": hosts, "network_interface_name": "lo"}
            files = {
                **self.spec.config_files,
                f"{CONTAINER_ROOT}/config/resourceconfig.json": resource,
                f"{CONTAINER_ROOT}/input/config/resourceconfig.json": resource,
            }
            for container_path, document in files.items():
                path = host_path(root, container_path)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(document, indent=1))
            for sub in ("model", "output/data"):
                (root / sub).mkdir(parents=True, exist_ok=True)
            if self._checkpoint_inputs():  # only with a CheckpointConfig, as on SageMaker
                (root / "checkpoints").mkdir(parents=True, exist_ok=True)

    def _model_written(self) -> bool:
        if not self.spec.model_uri or not self.instances:
            return False
        model = self.instances[0].root / "model"
        return model.is_dir() and any(p.is_file() for p in model.rglob("*"))

    def _checkpoint_inputs(self) -> list[InputChannel]:
        """CheckpointConfig: what an earlier attempt or job left in S3, to resume from."""
        return [
            InputChannel(
                name=output.name,
                s3_uri=output.s3_uri,
                container_path=output.container_path,
                optional=True,
            )
            for output in self.spec.outputs
            if output.name == CHECKPOINTS
        ]

    def _data_metrics(self) -> None:
        """How the input modes differ, as metrics: bytes staged on disk, time to the
        program's first metric line (its first iteration)."""
        now = datetime.now(UTC)
        points = [MetricPoint("sagebox:input_bytes_on_disk", float(self.bytes_on_disk), now)]
        if self._first_metric_after is not None:
            points.append(
                MetricPoint("sagebox:seconds_to_first_metric", self._first_metric_after, now)
            )
        self.reporter.metrics(points)

    def _environment(self, instance: Instance, mounted: bool) -> dict[str, str]:
        def path(container: str) -> str:
            return container if mounted else str(host_path(instance.root, container))

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_", "SAGEBOX_")) and k != "PYTHONPATH"
        }
        hosts = self.spec.host_names()
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "AWS_REGION": self.home.region,
                "AWS_DEFAULT_REGION": self.home.region,
                "SM_CURRENT_HOST": instance.host,
                "SM_HOSTS": json.dumps(hosts),
                "SM_NUM_CPUS": str(min(self.profile.vcpus, os.cpu_count() or 1)),
                "SM_NUM_GPUS": "0",
                "SM_MODEL_DIR": path(f"{CONTAINER_ROOT}/model"),
                "SM_INPUT_DIR": path(f"{CONTAINER_ROOT}/input"),
                "SM_INPUT_CONFIG_DIR": path(f"{CONTAINER_ROOT}/input/config"),
                "SM_OUTPUT_DIR": path(f"{CONTAINER_ROOT}/output"),
                "SM_OUTPUT_DATA_DIR": path(f"{CONTAINER_ROOT}/output/data"),
                "SM_CHECKPOINT_DIR": path(f"{CONTAINER_ROOT}/checkpoints"),
                "SM_RESOURCE_CONFIG": json.dumps({"current_host": instance.host, "hosts": hosts}),
                "SM_CHANNELS": json.dumps([c.name for c in self.spec.inputs]),
                "TRAINING_JOB_NAME"
                if self.spec.kind == "training-job"
                else "PROCESSING_JOB_NAME": self.spec.name,
            }
        )
        for channel in self.spec.inputs:
            env[f"SM_CHANNEL_{channel.name.upper()}"] = path(channel.container_path)
        if self.spec.kind == "training-job":
            # One free port per job, the same on every instance: script mode's MASTER_PORT
            # for torch.distributed (docs/script-mode.md).
            env["SAGEBOX_MASTER_PORT"] = str(self.master_port)
        env.update(self.spec.environment)
        return env

    def _start_instances(self) -> None:
        memory_kib = self.profile.memory_mib * 1024
        for instance in self.instances:
            command = list(self.spec.command)
            argv, mounted = wrap_instance_command(
                command,
                instance.root,
                memory_kib,
                network_isolation=self.spec.network_isolation,
                hosts=self.spec.host_names(),
            )
            if not mounted:
                argv = [
                    str(host_path(instance.root, a)) if a.startswith(CONTAINER_ROOT + "/") else a
                    for a in argv
                ]
            log = instance.log_path.open("ab", buffering=0)
            if not mounted:
                log.write(
                    b"sagebox: WARNING: this machine cannot make a mount namespace, so the "
                    b"literal /opt/ml paths will not resolve; use the SM_* variables.\n"
                )
            with self._lock:
                if self.stop_reason:
                    log.close()
                    return
                instance.process = subprocess.Popen(
                    argv,
                    cwd=instance.root,
                    env=self._environment(instance, mounted),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            instance.reader = threading.Thread(
                target=self._read_log, args=(instance, instance.process.stdout, log), daemon=True
            )
            instance.reader.start()
        self._record_instance_pids()

    def _record_instance_pids(self) -> None:
        """Leave the instances' identities where reconciliation finds them if we die."""
        from sagebox.runtime.processes import process_start_ticks

        pids = [
            {"pid": i.process.pid, "ticks": process_start_ticks(i.process.pid)}
            for i in self.instances
            if i.process
        ]
        write_json(self.job_dir / INSTANCES_FILE, pids)

    def _read_log(self, instance: Instance, stream: IO[bytes] | None, log: IO[bytes]) -> None:
        assert stream is not None
        with log:
            for raw in stream:
                log.write(raw)
                line = raw.decode("utf-8", "replace").rstrip("\n")
                instance.tail.append(line)
                if self._metric_patterns:
                    self._parse_metrics(line)

    def _parse_metrics(self, line: str) -> None:
        now = datetime.now(UTC)
        for name, pattern in self._metric_patterns:
            match = pattern.search(line)
            if match is None:
                continue
            try:
                value = float(match.group(1) if pattern.groups else match.group(0))
            except (ValueError, IndexError):
                continue
            with self._lock:
                if self._first_metric_after is None:
                    self._first_metric_after = round(time.monotonic() - self._downloading_since, 3)
                self._metric_buffer.append(MetricPoint(name, value, now))

    def _flush_metrics(self) -> None:
        with self._lock:
            points, self._metric_buffer = self._metric_buffer, []
        if points:
            self.reporter.metrics(points)

    def _wait(self) -> Outcome:
        deadline = (
            time.monotonic() + self.spec.max_runtime_seconds
            if self.spec.max_runtime_seconds
            else None
        )
        last_poll = time.monotonic()
        last_upload = 0.0
        while True:
            codes = [i.process.poll() if i.process else 0 for i in self.instances]
            failed = [c for c in codes if c not in (None, 0)]
            if all(c is not None for c in codes) or failed:
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline and not self.stop_reason:
                self.timed_out = True
                self._request_stop(
                    f"MaxRuntimeInSeconds ({self.spec.max_runtime_seconds} s) exceeded"
                )
            if now - last_poll >= 1.0:
                last_poll = now
                self._flush_metrics()
                if not self.stop_reason and self.reporter.stop_requested():
                    self._request_stop("Stopped by a Stop request")
            if now - last_upload >= 1.0 and any(
                c.upload_mode == "Continuous" for c in self.spec.outputs
            ):
                last_upload = now
                self._upload_continuous()
            time.sleep(0.02)
        if failed and not self.stop_reason:
            self._terminate_all(grace=self.spec.stop_grace_seconds)
        for instance in self.instances:
            if instance.process:
                instance.process.wait()
                # As a container ends with its main process: what the program left
                # running (a multiprocessing fork server, pool workers, a daemon) goes
                # too, and with it the last writers of the log pipe.
                _signal_group(instance.process, signal.SIGKILL)
            if instance.reader:
                instance.reader.join(timeout=5)
        if any(c.upload_mode == "Continuous" for c in self.spec.outputs):
            self._upload_continuous()
        if self.stop_reason:
            return Outcome("Stopped", exit_message=self.stop_reason)
        for instance in self.instances:
            code = instance.process.returncode if instance.process else 0
            if code != 0:
                reason = failures.failure_reason(
                    code,
                    list(instance.tail),
                    instance.root / "output" / "failure",
                    self.profile,
                    instance.host if len(self.instances) > 1 else None,
                )
                return Outcome("Failed", reason, exit_message=reason)
        return Outcome("Completed")

    def _upload_continuous(self) -> None:
        for instance in self.instances:
            for channel in self.spec.outputs:
                if channel.upload_mode == "Continuous":
                    seen = self._continuous_seen.setdefault((instance.host, channel.name), {})
                    try:
                        upload_output(self.objects, channel, instance.root, seen)
                    except StagingError as exc:  # reported again by the final upload
                        print(f"sagebox: continuous upload failed: {exc}", file=sys.stderr)

    # ---- stopping -------------------------------------------------------------------
    def _on_sigterm(self, _signum: int, _frame: object) -> None:
        # Runs in the main thread between bytecodes; only set a flag-like state here
        # and let the wait loop do the signalling.
        threading.Thread(
            target=self._request_stop, args=("Stopped by a Stop request",), daemon=True
        ).start()

    def _request_stop(self, reason: str) -> None:
        with self._lock:
            if self.stop_reason:
                return
            self.stop_reason = reason
        self._terminate_all(grace=self.spec.stop_grace_seconds)

    def _terminate_all(self, grace: float) -> None:
        running = [i.process for i in self.instances if i.process and i.process.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        end = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)

    # ---- the end ---------------------------------------------------------------------
    def _finish(self, outcome: Outcome) -> None:
        result = self.job_dir / RESULT_FILE
        result.write_text(json.dumps(outcome.__dict__))
        self.reporter.finished(outcome)
        for instance in self.instances:
            _remove_tree(instance.root)
        result.unlink(missing_ok=True)
        (self.job_dir / INSTANCES_FILE).unlink(missing_ok=True)
        (self.job_dir / "supervisor.log").unlink(missing_ok=True)
        (self.job_dir / "spec.json").unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.job_dir.rmdir()


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def main(argv: Sequence[str]) -> int:
    job_dir = Path(argv[0])
    spec = JobSpec.from_json((job_dir / "spec.json").read_text())
    home = Home.open(spec.home, create=False)
    supervisor = Supervisor(home, spec, job_dir)
    supervisor.run()
    from sagebox.runtime.local import LocalExecutor

    executor = LocalExecutor(home)
    executor.mark_done(spec.kind, spec.name)
    executor.schedule()
    supervisor.reporter.released()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
