"""Starting, finding, waking and cleaning up after an endpoint's host process.

Files in the endpoint's folder (``<home>/endpoints/<name>``):

- ``host.lock``: held (flock) by the live host for its whole life; one host per endpoint;
- ``host.pid``: ``{"pid", "ticks"}`` of the host (written at launch, then by the host);
- ``workers.json``: the processes the host started, so a successor (or a cleanup after
  the host died) can stop them;
- ``wake``: touched by the API after it changed the endpoint, so the host acts at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import sys
import time
from pathlib import Path

from sagebox.files import write_json
from sagebox.home import Home
from sagebox.runtime.processes import is_alive, kill_recorded, spawn_detached
from sagebox.serving.routes import endpoint_dir, remove_routes

__all__ = [
    "ensure_host",
    "finish_deleting",
    "host_alive",
    "log_dir",
    "start_host",
    "teardown",
    "wake",
]

LOCK, PID, WORKERS, WAKE = "host.lock", "host.pid", "workers.json", "wake"


def log_dir(home: Home, name: str) -> Path:
    """Where an endpoint's logs go: the host's, and one stream per variant instance."""
    return home.logs_path / "endpoint" / name


def start_host(home: Home, name: str) -> None:
    """Launch the endpoint's host, detached: it outlives this process."""
    folder = endpoint_dir(home.path, name)
    folder.mkdir(parents=True, exist_ok=True)
    logs = log_dir(home, name)
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "sagebox.serving.host", "--home", str(home.path), name]
    pid, ticks = spawn_detached(command, logs / "host.log", home.path)
    write_json(folder / PID, {"pid": pid, "ticks": ticks})


def host_alive(home: Home, name: str) -> bool:
    """True while a host runs (or is starting) for the endpoint."""
    folder = endpoint_dir(home.path, name)
    lock = folder / LOCK
    if lock.exists():
        with lock.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    try:
        recorded = json.loads((folder / PID).read_text())
    except (OSError, ValueError):
        return False
    return is_alive(recorded.get("pid"), recorded.get("ticks"))


def wake(home: Home, name: str) -> None:
    """Tell the host that its endpoint changed."""
    path = endpoint_dir(home.path, name) / WAKE
    with contextlib.suppress(OSError):
        path.write_text(str(time.time_ns()))


def finish_deleting(home: Home, name: str) -> bool:
    """Carry out a deletion the API recorded: the live host does it (woken now); without
    one (a Failed endpoint, a host that died) it is done here. True when done here."""
    if host_alive(home, name):
        wake(home, name)
        return False
    teardown(home, name)
    return True


def ensure_host(home: Home, name: str) -> None:
    if host_alive(home, name):
        wake(home, name)
    else:
        start_host(home, name)


def remove_folder(folder: Path) -> None:
    """Remove what is in an endpoint's folder but its lock."""
    for child in folder.iterdir() if folder.is_dir() else ():
        if child.name == LOCK:
            continue  # a host may hold it while it exits; it goes with the folder
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def teardown(home: Home, name: str) -> None:
    """Remove an endpoint whose host is gone: routes, processes, files, record."""
    from sagebox.errors import ResourceNotFound

    folder = endpoint_dir(home.path, name)
    _clear(home, name, folder)
    with contextlib.suppress(OSError):
        (folder / LOCK).unlink()
        folder.rmdir()
    with contextlib.suppress(ResourceNotFound):
        home.metadata.delete("endpoint", name)


def teardown_leftovers(home: Home, name: str) -> None:
    """Before creating an endpoint: clear what an earlier endpoint of the name left."""
    folder = endpoint_dir(home.path, name)
    if folder.exists() and not host_alive(home, name):
        _clear(home, name, folder)


def _clear(home: Home, name: str, folder: Path) -> None:
    """No routes, none of the recorded processes, no files but the lock."""
    remove_routes(home.path, name)
    kill_recorded(folder / WORKERS)
    remove_folder(folder)
