"""The background audit of IAM decisions served from InvokeEndpoint's cache: a batch
that cannot be written is kept and written on the next try, in order."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from sagebox.api.invocations import _AuditQueue
from sagebox.control.audit import AuditLog
from sagebox.control.identity import Principal


class FlakyLog(AuditLog):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.failures = 1

    def append(self, days: dict[str, list[bytes]]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        super().append(days)


def test_a_batch_that_fails_to_write_is_written_on_the_next_flush(tmp_path: Path) -> None:
    log = FlakyLog(tmp_path / "audit")
    server = SimpleNamespace(control=SimpleNamespace(authorizer=SimpleNamespace(audit=log)))
    queue = _AuditQueue(server)
    principal = Principal("arn:aws:iam::123456789012:user/origination", "123456789012")
    resource = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/loans"
    statement = {"policy": "inline:user/origination/invoke", "index": 0, "sid": None}
    queue.allowed(principal, resource, "10.0.0.7", statement, "first")
    with pytest.raises(OSError):
        queue.flush()
    queue.allowed(principal, resource, "10.0.0.7", statement, "second")
    queue.flush()
    events = list(log.read())
    assert [event.requestId for event in events] == ["first", "second"]
    assert {(e.principal, e.resource, e.decision) for e in events} == {
        (principal.arn, resource, "allowed")
    }
    assert events[0].statement == statement
