"""Fire crawler schedules: start each crawler whose ``Schedule`` came due.

``run_due_crawlers`` looks once; ``SchedulerThread`` looks every 30 seconds while
``sagebox server`` runs. A crawler fires when its ``Schedule.State`` is SCHEDULED and the
first time its cron expression matches after it last fired (or after the crawler was
created) is at or before now. It is started with ``StartCrawler`` through the control
plane as the home's root, exactly as a user would start it.

Each crawler's last firing is kept in a small record of kind ``glue-crawler-schedule``
(``LastFireTime``, the slot that fired; ``CheckedThrough``, the time it was claimed), so
that a slot fires once even with two schedulers on one home: a slot is claimed by an
atomic update before the crawler starts. As in Glue, a slot that comes due while the
crawler is not READY (still crawling) is skipped, not queued, and slots missed while no
server ran fire once, not once each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sagebox.errors import ResourceInUse, ResourceNotFound, SageboxError
from sagebox.glue.catalog import Catalog
from sagebox.glue.schedule import next_fire_time
from sagebox.home import Home
from sagebox.session import Session
from sagebox.store.metadata import Change, Record

CRAWLER_KIND = "glue-crawler"  # sagebox.control.glue_crawlers.KIND
KIND = "glue-crawler-schedule"
INTERVAL_S = 30.0

log = logging.getLogger(__name__)


def _utc(moment: datetime) -> datetime:
    """``moment`` as aware UTC; a naive one is read as UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _session(home_or_session: Home | Session) -> Session:
    if isinstance(home_or_session, Session):
        return home_or_session
    return Session(home_or_session)


def _last_checked(home: Home, name: str) -> datetime | None:
    try:
        record = home.metadata.get(KIND, name)
    except ResourceNotFound:
        return None
    return datetime.fromisoformat(str(record.document["CheckedThrough"]))


def _claim(home: Home, crawler: Record, slot: datetime, now: datetime) -> bool:
    """Record that ``slot`` fired; False when another scheduler already claimed it."""
    document = {
        "CrawlerName": crawler.name,
        "LastFireTime": slot.isoformat(),
        "CheckedThrough": now.isoformat(),
    }
    try:
        home.metadata.create(
            KIND, crawler.name, home.arn("glue", f"crawler-schedule/{crawler.name}"), None, document
        )
        return True
    except ResourceInUse:
        pass
    claimed = False

    def advance(record: Record) -> Change | None:
        nonlocal claimed
        if datetime.fromisoformat(str(record.document["CheckedThrough"])) >= slot:
            return None
        claimed = True
        return Change(None, document)

    home.metadata.update(KIND, crawler.name, advance)
    return claimed


def _due(home: Home, crawler: Record, now: datetime) -> datetime | None:
    """The slot at or before ``now`` that ``crawler`` has not fired yet, if any."""
    schedule = crawler.document.get("Schedule") or {}
    expression = schedule.get("ScheduleExpression")
    if not expression or schedule.get("State") != "SCHEDULED":
        return None
    since = _utc(crawler.creation_time)
    checked = _last_checked(home, crawler.name)
    if checked is not None and checked > since:  # an older record may outlive a deleted crawler
        since = checked
    slot = next_fire_time(expression, since)
    return slot if slot is not None and slot <= now else None


def _fire(session: Session, home: Home, crawler: Record, now: datetime) -> bool:
    slot = _due(home, crawler, now)
    if slot is None or not _claim(home, crawler, slot, now):
        return False
    name = crawler.name
    try:
        # GetCrawler first: it records a crawl whose process died as FAILED (READY again).
        state = session.control.call("GetCrawler", {"Name": name}, service="glue")["Crawler"]
        if state["State"] != "READY":
            log.info("Skipped crawler %s's schedule at %s: it is %s.", name, slot, state["State"])
            return False
        session.control.call("StartCrawler", {"Name": name}, service="glue")
    except (ResourceInUse, ResourceNotFound) as error:  # started or deleted meanwhile
        log.info("Skipped crawler %s's schedule at %s: %s", name, slot, error)
        return False
    log.info("Started crawler %s for its schedule at %s.", name, slot)
    return True


def run_due_crawlers(home_or_session: Home | Session, now: datetime) -> list[str]:
    """Start every scheduled crawler that came due by ``now``; the names started, sorted.

    ``now`` is read as UTC when naive. A crawler that fails to start is logged and
    skipped, so one broken crawler does not keep the others from firing.
    """
    session = _session(home_or_session)
    home = session.local_home()
    now = _utc(now)
    started = []
    for crawler in Catalog(home).records(CRAWLER_KIND):
        try:
            if _fire(session, home, crawler, now):
                started.append(crawler.name)
        except SageboxError as error:
            log.warning("Crawler %s's schedule could not fire: %s", crawler.name, error)
    return started


class SchedulerThread(threading.Thread):
    """A daemon thread that runs ``run_due_crawlers`` every ``interval`` seconds.

    ``stop()`` ends it within one check; ``sagebox server`` starts one on its home.
    """

    def __init__(
        self,
        home_or_session: Home | Session,
        interval: float = INTERVAL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(name="glue-scheduler", daemon=True)
        self._target_home = home_or_session
        self._interval = interval
        self._clock = clock  # tests pass a fixed clock
        self._stopped = threading.Event()

    def run(self) -> None:
        session = _session(self._target_home)
        while not self._stopped.is_set():
            try:
                run_due_crawlers(session, self._clock())
            except Exception:  # the thread must outlive any one failed look
                log.exception("The Glue crawler scheduler failed; it tries again shortly.")
            self._stopped.wait(self._interval)

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to end and wait up to ``timeout`` seconds for it."""
        self._stopped.set()
        if self.is_alive():
            self.join(timeout)
