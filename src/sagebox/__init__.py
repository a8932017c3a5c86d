"""sagebox: the AWS machine-learning workflow, for real, on your own machines.

Heavy modules load on first use, so ``import sagebox`` and ``sagebox --help`` are fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Session", "__version__", "get_execution_role"]

if TYPE_CHECKING:
    from sagebox.session import Session


def get_execution_role(session: Session | None = None) -> str:
    """The default execution role's ARN, as ``sagemaker.get_execution_role()`` gives it."""
    from sagebox.session import Session

    return (session or Session()).get_execution_role()


def __getattr__(name: str) -> Any:
    if name == "Session":
        from sagebox.session import Session

        return Session
    raise AttributeError(f"module 'sagebox' has no attribute {name!r}")
