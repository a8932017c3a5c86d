"""Extracting tar archives that users hand in (model.tar.gz, sourcedir.tar.gz) safely.

Every member is checked before anything is written: absolute paths, ``..``, links,
devices and oversized members are refused, and extraction itself runs with tarfile's
``data`` filter as a second line of defence.
"""

from __future__ import annotations

import re
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

__all__ = ["refuse_member", "safe_extract"]


def refuse_member(member: tarfile.TarInfo, max_bytes: int | None = None) -> str | None:
    """Why ``member`` must not be extracted, or None when it is a plain file or folder."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith("\\") or re.match(r"^[A-Za-z]:", member.name):
        return "has an absolute path"
    if ".." in name.parts or ".." in member.name.split("\\"):
        return "climbs out of the archive with '..'"
    if member.issym() or member.islnk():
        return f"is a link (to {member.linkname!r})"
    if not (member.isfile() or member.isdir()):
        return "is not a regular file or folder"
    if max_bytes is not None and member.size > max_bytes:
        limit = f"{max_bytes >> 30} GiB" if max_bytes % (1 << 30) == 0 else f"{max_bytes} bytes"
        return f"is {member.size} bytes, more than the {limit} limit"
    return None


def safe_extract(
    archive: Path,
    destination: Path,
    refused: Callable[[str, str], Exception],
    unreadable: Callable[[str], Exception],
    max_bytes: int | None = None,
) -> None:
    """Extract ``archive`` into ``destination`` after checking every member.

    ``refused(member_name, problem)`` and ``unreadable(reason)`` make the caller's
    exception, so each caller's message says what to do in its own terms.
    """
    try:
        with tarfile.open(archive) as tar:
            members = []
            for member in tar:  # lazily, so a hostile header stops us before reading on
                problem = refuse_member(member, max_bytes)
                if problem:
                    raise refused(member.name, problem)
                members.append(member)
            destination.mkdir(parents=True, exist_ok=True)
            tar.extractall(destination, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise unreadable(str(exc)) from None
