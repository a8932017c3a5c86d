"""What an operation handler gets: the home, the executor and who is calling."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sagebox.control.authorize import Authorizer, Principal
from sagebox.home import Home
from sagebox.runtime.local import LocalExecutor


@dataclass(frozen=True)
class Context:
    home: Home
    executor: LocalExecutor
    principal: Principal
    authorizer: Authorizer
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)
