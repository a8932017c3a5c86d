"""Crawler schedules fire: next_fire_time on known answers, and run_due_crawlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sagebox.control.glue_crawlers import wait_for_crawl
from sagebox.glue.schedule import next_fire_time
from sagebox.glue.scheduler import SchedulerThread, run_due_crawlers
from sagebox.session import Session
from sagebox.store.metadata import Change, Record
from tests.glue.conftest import create_crawler, glue

MONDAY = datetime(2024, 1, 1, 0, 7, tzinfo=UTC)  # Monday 1 January 2024, 00:07 UTC


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0/15 * * * ? *)", MONDAY, at(2024, 1, 1, 0, 15)),
        ("cron(*/15 * * * ? *)", at(2024, 1, 1, 0, 45), at(2024, 1, 1, 1, 0)),
        ("cron(0 12 * * ? *)", MONDAY, at(2024, 1, 1, 12, 0)),
        ("cron(0 12 * * ? *)", at(2024, 1, 1, 12, 0), at(2024, 1, 2, 12, 0)),  # strictly after
        ("cron(0 12 * * ? *)", at(2024, 1, 1, 11, 59, 59), at(2024, 1, 1, 12, 0)),
        ("cron(0 9 ? * MON-FRI *)", at(2024, 1, 5, 10, 0), at(2024, 1, 8, 9, 0)),  # Fri -> Mon
        ("cron(0 9 ? * 2-6 *)", at(2024, 1, 6, 10, 0), at(2024, 1, 8, 9, 0)),
        ("cron(0 0 ? * FRI-MON *)", MONDAY, at(2024, 1, 5, 0, 0)),  # a range that wraps
        ("cron(0 0 ? * SAT,SUN *)", MONDAY, at(2024, 1, 6, 0, 0)),
        ("cron(0 0 L * ? *)", at(2024, 2, 1), at(2024, 2, 29, 0, 0)),  # leap year
        ("cron(0 0 L * ? *)", at(2023, 2, 1), at(2023, 2, 28, 0, 0)),
        ("cron(0 0 L-3 * ? *)", MONDAY, at(2024, 1, 28, 0, 0)),
        ("cron(0 0 LW * ? *)", at(2024, 3, 1), at(2024, 3, 29, 0, 0)),  # 31 March is a Sunday
        ("cron(0 0 ? * L *)", MONDAY, at(2024, 1, 6, 0, 0)),  # L alone: Saturday
        ("cron(0 0 ? * 6L *)", MONDAY, at(2024, 1, 26, 0, 0)),  # the last Friday
        ("cron(0 0 ? * FRIL *)", at(2024, 1, 27), at(2024, 2, 23, 0, 0)),
        ("cron(0 0 15W * ? *)", MONDAY, at(2024, 1, 15, 0, 0)),  # a Monday already
        ("cron(0 0 15W * ? *)", at(2024, 6, 1), at(2024, 6, 14, 0, 0)),  # Sat 15 -> Fri 14
        ("cron(0 0 15W * ? *)", at(2024, 9, 1), at(2024, 9, 16, 0, 0)),  # Sun 15 -> Mon 16
        ("cron(0 0 1W * ? *)", at(2024, 6, 1), at(2024, 6, 3, 0, 0)),  # Sat 1 -> Mon 3
        ("cron(0 0 ? * 2#1 *)", MONDAY, at(2024, 2, 5, 0, 0)),  # the first Monday
        ("cron(0 0 ? * MON#1 *)", at(2023, 12, 31), at(2024, 1, 1, 0, 0)),
        ("cron(0 0 ? * 6#3 *)", MONDAY, at(2024, 1, 19, 0, 0)),  # the third Friday
        ("cron(0 0 1 JAN ? 2026-2027)", MONDAY, at(2026, 1, 1, 0, 0)),
        ("cron(0 0 1 1 ? 2025)", at(2025, 1, 1, 0, 0), None),  # its only minute is past
        ("cron(0 0 1 1 ? 2199)", MONDAY, None),  # beyond five years
        ("cron(30 8 1 MAR,sep ? *)", MONDAY, at(2024, 3, 1, 8, 30)),
        ("cron(0 22-2 * * ? *)", MONDAY, at(2024, 1, 1, 1, 0)),  # hours that wrap midnight
        ("cron(5/20 * * * ? *)", MONDAY, at(2024, 1, 1, 0, 25)),
        ("cron(0 10-18/4 * * ? *)", at(2024, 1, 1, 15), at(2024, 1, 1, 18, 0)),
        ("cron(0 0 31 * ? *)", at(2024, 2, 1), at(2024, 3, 31, 0, 0)),  # skips short months
        ("cron(0 0 29 2 ? *)", at(2024, 3, 1), at(2028, 2, 29, 0, 0)),
    ],
)
def test_next_fire_time(expression: str, after: datetime, expected: datetime | None) -> None:
    assert next_fire_time(expression, after) == expected


def test_next_fire_time_reads_a_naive_time_as_utc() -> None:
    assert next_fire_time("cron(0 12 * * ? *)", datetime(2024, 1, 1)) == at(2024, 1, 1, 12, 0)


def test_next_fire_time_rejects_what_validate_schedule_rejects() -> None:
    from sagebox.glue.errors import InvalidInput

    with pytest.raises(InvalidInput, match="exactly one of Day-of-month"):
        next_fire_time("cron(0 12 * * * *)", MONDAY)


def _created(session: Session, name: str) -> datetime:
    assert session.home is not None
    return session.home.metadata.get("glue-crawler", name).creation_time


def test_a_due_crawler_fires_once_per_slot(lake: Session, glue_role: str) -> None:
    create_crawler(lake, "every15", glue_role, Schedule="cron(0/15 * * * ? *)")
    first = next_fire_time("cron(0/15 * * * ? *)", _created(lake, "every15"))
    assert first is not None
    now = first + timedelta(minutes=5)  # the first quarter hour has passed, not the second

    assert run_due_crawlers(lake, now) == ["every15"]
    wait_for_crawl("every15", timeout=20)
    crawler = glue(lake, "GetCrawler", Name="every15")["Crawler"]
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    tables = glue(lake, "GetTables", DatabaseName="lake")["TableList"]
    assert "loans" in [t["Name"] for t in tables]

    assert run_due_crawlers(lake, now) == []  # the same slot never fires twice
    assert run_due_crawlers(lake, now + timedelta(minutes=1)) == []
    assert run_due_crawlers(lake, now + timedelta(minutes=15)) == ["every15"]  # the next slot
    wait_for_crawl("every15", timeout=20)


def test_a_not_due_crawler_does_not_fire(lake: Session, glue_role: str) -> None:
    create_crawler(lake, "yearly", glue_role, Schedule="cron(0 0 1 1 ? *)")
    create_crawler(lake, "never", glue_role, Schedule="cron(0 0 1 1 ? 2199)")
    create_crawler(lake, "manual", glue_role)
    now = _created(lake, "never")

    assert run_due_crawlers(lake, now) == []
    assert run_due_crawlers(lake, now + timedelta(days=3650)) == ["yearly"]
    assert glue(lake, "GetCrawler", Name="manual")["Crawler"]["State"] == "READY"
    wait_for_crawl("yearly", timeout=20)


def test_a_schedule_not_scheduled_or_a_busy_crawler_does_not_fire(
    lake: Session, glue_role: str
) -> None:
    assert lake.home is not None
    create_crawler(lake, "paused", glue_role, Schedule="cron(0/15 * * * ? *)")
    create_crawler(lake, "busy", glue_role, Schedule="cron(0/15 * * * ? *)")

    def pause(record: Record) -> Change:
        schedule = {**record.document["Schedule"], "State": "NOT_SCHEDULED"}
        return Change(record.status, {**record.document, "Schedule": schedule})

    def busy(record: Record) -> Change:
        return Change("STOPPING", dict(record.document))  # a crawl is finishing

    lake.home.metadata.update("glue-crawler", "paused", pause)
    lake.home.metadata.update("glue-crawler", "busy", busy)
    now = _created(lake, "busy") + timedelta(minutes=16)

    assert run_due_crawlers(lake.home, now) == []
    lake.home.metadata.update("glue-crawler", "busy", lambda r: Change("READY", dict(r.document)))
    assert run_due_crawlers(lake.home, now) == []  # the slot passed while it was busy: skipped


def test_the_scheduler_thread_fires_and_stops(lake: Session, glue_role: str) -> None:
    create_crawler(lake, "soon", glue_role, Schedule="cron(* * * * ? *)")  # every minute
    later = _created(lake, "soon") + timedelta(minutes=5)
    thread = SchedulerThread(lake, interval=0.05, clock=lambda: later)
    thread.start()
    try:
        for _ in range(200):
            if glue(lake, "GetCrawler", Name="soon")["Crawler"].get("LastCrawl"):
                break
            wait_for_crawl("soon", timeout=0.1)
    finally:
        thread.stop(timeout=5)
    assert not thread.is_alive()
    assert glue(lake, "GetCrawler", Name="soon")["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
