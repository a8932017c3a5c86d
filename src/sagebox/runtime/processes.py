"""Process identity, liveness and the per-instance isolation wrapper.

Each job instance runs in a private mount namespace where its own folder is bind-
mounted on ``/opt/ml``, so scripts written for SageMaker find their literal paths;
``EnableNetworkIsolation`` adds a private network namespace with no interfaces up.
In the same namespace a generated hosts file is bind-mounted on ``/etc/hosts``, so the
instances' host names (``algo-1``, ``algo-2`` ...) resolve to this machine, where every
instance runs (torch.distributed's ``MASTER_ADDR=algo-1`` works as on SageMaker).
Where namespaces cannot be made the instance still runs, with a warning.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sagebox.runtime.spec import CONTAINER_ROOT

_MOUNT_SCRIPT = (
    'ulimit -v "$2" 2>/dev/null; '
    'mount --bind "$1" ' + CONTAINER_ROOT + " || "
    '{ echo "sagebox: could not mount the job folder on ' + CONTAINER_ROOT + '" >&2; exit 97; }; '
    'if [ -n "$3" ]; then mount --bind "$3" /etc/hosts || '
    'echo "sagebox: WARNING: could not map the instance host names in /etc/hosts" >&2; fi; '
    'shift 3; exec "$@"'
)
HOSTS_FILE = ".sagebox-hosts"  # in the instance folder, so it goes with it
_PLAIN_SCRIPT = 'ulimit -v "$1" 2>/dev/null; shift; exec "$@"'


def process_start_ticks(pid: int) -> int | None:
    """The kernel start time of ``pid`` (clock ticks since boot), or None if it is gone.

    Together with the pid it names a process uniquely, so a recycled pid is never
    mistaken for a job's supervisor.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):  # zombie or dead: finished, not yet reaped
        return None
    return int(fields[19])


def is_alive(pid: int | None, start_ticks: int | None) -> bool:
    if not pid:
        return False
    ticks = process_start_ticks(pid)
    return ticks is not None and (start_ticks is None or ticks == start_ticks)


def spawn_detached(argv: Sequence[str], log: Path, home: Path) -> tuple[int, int | None]:
    """Start ``argv`` in a session of its own (it outlives this process), appending its
    output to ``log``, with ``SAGEBOX_HOME`` set; its pid and start ticks."""
    with log.open("ab") as handle:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "SAGEBOX_HOME": str(home)},
        )
    # Reap it when it ends so it never lingers as a zombie of this process.
    threading.Thread(target=process.wait, daemon=True).start()
    return process.pid, process_start_ticks(process.pid)


def kill_process_groups(entries: Sequence[Mapping[str, Any]]) -> None:
    """SIGKILL the process groups of ``entries`` (``{"pid", "ticks"}``) that still run,
    and wait (bounded) until they are gone: SIGKILL is delivered at once, but the exit
    takes a moment."""
    killed = []
    for entry in entries:
        if is_alive(entry.get("pid"), entry.get("ticks")):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(entry["pid"], signal.SIGKILL)
                killed.append(entry)
    deadline = time.monotonic() + 5
    while killed and time.monotonic() < deadline:
        killed = [e for e in killed if is_alive(e.get("pid"), e.get("ticks"))]
        if killed:
            time.sleep(0.02)


def kill_recorded(path: Path) -> None:
    """:func:`kill_process_groups` of the entries recorded in the JSON file ``path``."""
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    kill_process_groups(entries)


@functools.cache
def namespace_mode() -> str | None:
    """How this machine isolates instances: "root", "user", or None when it cannot."""
    unshare = shutil.which("unshare")
    if unshare is None or not Path("/proc/self/ns/mnt").exists():
        return None
    candidates = [("root", [unshare, "--mount", "--propagation", "private", "true"])]
    candidates.append(
        (
            "user",
            [unshare, "--user", "--map-root-user", "--mount", "--propagation", "private", "true"],
        )
    )
    for mode, argv in candidates:
        if mode == "root" and os.geteuid() != 0:
            continue
        try:
            ok = subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok and _ensure_mount_point():
            return mode
    return None


def _ensure_mount_point() -> bool:
    try:
        Path(CONTAINER_ROOT).mkdir(parents=True, exist_ok=True)
    except OSError:
        return Path(CONTAINER_ROOT).is_dir()
    return True


def free_port() -> int:
    """A TCP port nobody listens on now (for a job's MASTER_PORT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_hosts_file(instance_root: Path, hosts: Sequence[str]) -> Path:
    """This machine's /etc/hosts plus every instance host name on the loopback address."""
    try:
        base = Path("/etc/hosts").read_text()
    except OSError:
        base = "127.0.0.1 localhost\n::1 localhost\n"
    path = instance_root / HOSTS_FILE
    lines = [base.rstrip("\n"), "# sagebox: the job's instances, all on this machine"]
    lines += [f"127.0.0.1 {host}" for host in hosts]
    path.write_text("\n".join(lines) + "\n")
    return path


def wrap_instance_command(
    command: list[str],
    instance_root: Path,
    memory_kib: int,
    *,
    network_isolation: bool,
    hosts: Sequence[str] = (),
) -> tuple[list[str], bool]:
    """The argv that runs ``command`` as one instance, and whether /opt/ml is mounted.

    With ``hosts``, the instance resolves each of those names to 127.0.0.1 (when
    namespaces are available; the caller logs that they do not resolve otherwise).
    """
    mode = namespace_mode()
    if mode is None:
        return [
            "/bin/sh",
            "-c",
            _PLAIN_SCRIPT,
            "sagebox-instance",
            str(memory_kib),
            *command,
        ], False
    unshare = ["unshare"]
    if mode == "user":
        unshare += ["--user", "--map-root-user"]
    unshare += ["--mount", "--propagation", "private"]
    if network_isolation:
        unshare.append("--net")
    argv = [*unshare, "--", "/bin/sh", "-c", _MOUNT_SCRIPT, "sagebox-instance"]
    hosts_file = str(write_hosts_file(instance_root, hosts)) if hosts else ""
    return [*argv, str(instance_root), str(memory_kib), hosts_file, *command], True
