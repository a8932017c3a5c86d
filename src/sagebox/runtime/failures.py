"""Turning how an instance ended into the FailureReason a user reads."""

from __future__ import annotations

import signal
from pathlib import Path

from sagebox.runtime.instance_types import InstanceProfile

MAX_REASON = 1024  # AWS's limit on FailureReason


def traceback_tail(lines: list[str]) -> str | None:
    """The exception line of the last Python traceback, with the frame that raised it."""
    start = None
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last):"):
            start = index
    if start is None:
        return None
    body = [line for line in lines[start + 1 :] if line.strip()]
    if not body:
        return None
    exception = body[-1].strip()
    frames = [line.strip() for line in body[:-1] if line.lstrip().startswith("File ")]
    where = f" (at {frames[-1]})" if frames else ""
    return exception + where


def failure_reason(
    code: int,
    tail: list[str],
    failure_file: Path,
    profile: InstanceProfile,
    host: str | None,
) -> str:
    """Why an instance failed: output/failure, else a traceback, else the exit status."""
    on = f" on {host}" if host else ""
    if failure_file.is_file():
        text = failure_file.read_text(errors="replace").strip()
        if text:
            first = text.splitlines()[0]
            return f"AlgorithmError: {first}"[:MAX_REASON]
    memory = f"{profile.name}: {profile.memory_mib} MiB"
    if code < 0 or code in (128 + signal.SIGKILL,):
        number = -code if code < 0 else code - 128
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else ""
        if number == signal.SIGKILL:
            return (
                f"AlgorithmError: the process{on} was killed by SIGKILL, which is how the "
                f"operating system ends a process that runs out of memory ({memory}). Use an "
                "instance type with more memory, or process the data in smaller pieces."
            )[:MAX_REASON]
        return f"AlgorithmError: the process{on} was killed by signal {number} {name}"[:MAX_REASON]
    exception = traceback_tail(tail)
    if exception is not None:
        if exception.startswith("MemoryError"):
            return (
                f"AlgorithmError: out of memory{on}: the program used more memory than its "
                f"instance type allows ({memory}). Use an instance type with more memory. "
                f"{exception}"
            )[:MAX_REASON]
        return f"AlgorithmError: {exception}, exit code: {code}"[:MAX_REASON]
    last = " | ".join(line.strip() for line in tail[-3:] if line.strip())
    detail = f"; last log lines: {last}" if last else ""
    return f"AlgorithmError: the program exited with code {code}{on}{detail}"[:MAX_REASON]
