"""Model archives: extracted only after every member is checked, and found in channels."""

from __future__ import annotations

from pathlib import Path

from sagebox import archives
from sagebox.errors import ValidationError

MAX_TAR_MEMBER_BYTES = 1 << 30
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")

__all__ = ["MAX_TAR_MEMBER_BYTES", "model_from_channel", "safe_extract"]


def safe_extract(archive: Path, destination: Path, expected: str = "model") -> None:
    """Extract ``archive`` after checking every member, refusing hostile ones before any write."""

    def refused(member: str, problem: str) -> ValidationError:
        return ValidationError(
            f"Refusing model archive {archive.name}: member {member!r} {problem}. "
            f"Package only the model file: tar -czf model.tar.gz {expected}."
        )

    def unreadable(reason: str) -> ValidationError:
        return ValidationError(f"Model archive {archive.name} is not a readable tar: {reason}.")

    archives.safe_extract(archive, destination, refused, unreadable, MAX_TAR_MEMBER_BYTES)


def model_from_channel(directory: Path, filename: str, scratch: Path, who: str) -> Path | None:
    """The model file ``filename`` in a ``model`` channel (plain or in a model.tar.gz)."""
    if not directory.is_dir():
        return None
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    named = [p for p in files if p.name == filename]
    if named:
        return named[0]
    archives = [p for p in files if p.name.endswith(ARCHIVE_SUFFIXES)]
    if not archives:
        if len(files) == 1:
            return files[0]
        raise ValidationError(
            f"The 'model' channel at {directory} holds no {filename} file or model.tar.gz; "
            f"point it at the model artifact of an earlier {who} training job."
        )
    target = scratch / "model"
    safe_extract(archives[0], target, filename)
    extracted = sorted(p for p in target.rglob("*") if p.is_file())
    chosen = [p for p in extracted if p.name == filename] or extracted[:1]
    if not chosen:
        raise ValidationError(f"Model archive {archives[0].name} is empty.")
    return chosen[0]
