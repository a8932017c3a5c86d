"""The audit log's two encoders: an event, and the shared fields of a cached decision's
events (``AuditLine``), give the same bytes."""

from __future__ import annotations

from pathlib import Path

from sagebox.control.audit import AuditEvent, AuditLine, AuditLog


def test_audit_line_writes_what_write_many_writes(tmp_path: Path) -> None:
    statement = {"Effect": "Allow", "Action": ["sagemaker:InvokeEndpoint"], "Sid": 'é "q"'}
    for source_ip, shown in ((None, None), ("10.0.0.7", statement)):
        events = [
            AuditEvent(
                eventTime=f"2026-12-0{day}T10:00:00.12345{day}+00:00",
                principal="arn:aws:iam::123456789012:user/origination",
                action="sagemaker:InvokeEndpoint",
                resource="arn:aws:sagemaker:us-east-1:123456789012:endpoint/loans",
                sourceIp=source_ip,
                decision="allowed",
                statement=shown,
                requestId=f"0c6b3f2e-0000-4000-8000-00000000000{day}",
            )
            for day in (7, 8)
        ]
        one, other = tmp_path / f"one-{source_ip}", tmp_path / f"other-{source_ip}"
        AuditLog(one).write_many(events)
        line = AuditLine(
            events[0].principal, events[0].action, events[0].resource, source_ip, "allowed", shown
        )
        AuditLog(other).append(
            {e.eventTime[:10]: [line.encode(e.eventTime, e.requestId)] for e in events}
        )
        for day in ("2026-12-07", "2026-12-08"):
            assert (one / f"{day}.jsonl").read_bytes() == (other / f"{day}.jsonl").read_bytes()
        assert list(AuditLog(other).read()) == events
