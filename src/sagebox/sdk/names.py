"""Resource names as the SageMaker SDK makes them (its ``sagemaker.utils``): a base and a
millisecond timestamp, at most 63 characters."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["base_of", "name_from_base"]

_STAMP = re.compile(r"-\d{4}(-\d{2}){5}-\d{3}$")


def name_from_base(base: str) -> str:
    """``base`` plus a timestamp, at most 63 characters, as the SageMaker SDK names things."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H-%M-%S-%f")[:-3]
    return f"{base[: 63 - len(stamp) - 1]}-{stamp}"


def base_of(name: str) -> str:
    """``name`` without the timestamp :func:`name_from_base` put on it, if it has one."""
    return _STAMP.sub("", name) or name
