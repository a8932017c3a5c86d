"""Glue crawlers: Create, Get, List, Update, Start, Stop, Delete and metrics.

A crawler is a metadata record (kind ``glue-crawler``) whose document is the ``Crawler``
shape, its status the crawler's ``State``. ``StartCrawler`` moves READY -> RUNNING and
runs the crawl in a background thread of the calling process; at the end the crawler
goes STOPPING -> READY with ``LastCrawl`` (SUCCEEDED, FAILED or CANCELLED) and its
metrics. A crawl reads objects as the crawler's role session
``assumed-role/<role>/AWS-Crawler``: every list and read is authorized as that role.
Creating a crawler needs ``iam:PassRole`` on a role that trusts ``glue.amazonaws.com``.
If the process running a crawl ends, the next read of the crawler records it FAILED.
"""

from __future__ import annotations

import os
import socket
import statistics
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sagebox.control.context import Context
from sagebox.errors import ResourceInUse, ResourceNotFound
from sagebox.glue.catalog import Catalog, jsonable, now_iso, paginate
from sagebox.glue.errors import (
    AlreadyExists,
    CrawlerNotRunning,
    CrawlerRunning,
    CrawlerStopping,
    EntityNotFound,
    InvalidInput,
)
from sagebox.glue.schedule import validate_schedule
from sagebox.home import Home
from sagebox.store.metadata import Change, Record

KIND = "glue-crawler"
SERVICE = "glue.amazonaws.com"
SESSION_NAME = "AWS-Crawler"
RUNTIMES = "_Runtimes"
METRICS = "_Metrics"
OWNER = "_Owner"
_SETTABLE = (
    "Role",
    "DatabaseName",
    "Description",
    "Targets",
    "Classifiers",
    "TablePrefix",
    "SchemaChangePolicy",
    "RecrawlPolicy",
    "LineageConfiguration",
    "Configuration",
    "CrawlerSecurityConfiguration",
    "LakeFormationConfiguration",
)


# ---- the role ------------------------------------------------------------------------
def role_arn(ctx: Context, role: str) -> str:
    """Glue takes a role's name (with an optional path) or its ARN."""
    if role.startswith("arn:"):
        return role
    return f"arn:aws:iam::{ctx.home.account_id}:role/{role.lstrip('/')}"


def session_arn(account_id: str, arn: str) -> str:
    return f"arn:aws:sts::{account_id}:assumed-role/{arn.rsplit('/', 1)[-1]}/{SESSION_NAME}"


def check_crawler_role(ctx: Context, role: str) -> str:
    """Authorize passing the role to Glue and check that Glue may assume it."""
    from sagebox.iam import is_trusted, parse_policy

    arn = role_arn(ctx, role)
    ctx.authorizer.authorize(ctx.principal, "iam:PassRole", arn, {"iam:PassedToService": SERVICE})
    cannot = InvalidInput(
        f"Service is unable to assume provided role {arn}. Please ensure that the role "
        f"exists and that its trust policy allows '{SERVICE}' to assume it."
    )
    try:
        record = ctx.home.metadata.get("iam-role", arn.rsplit("/", 1)[-1])
    except ResourceNotFound:
        raise cannot from None
    if record.arn != arn:
        raise cannot
    if not is_trusted(parse_policy(record.document["AssumeRolePolicyDocument"], "trust"), SERVICE):
        raise cannot
    return arn


# ---- validation ----------------------------------------------------------------------
def _check_definition(ctx: Context, doc: Mapping[str, Any]) -> None:
    from sagebox.store.objects import parse_s3_uri

    targets = doc.get("Targets", {})
    unsupported = sorted(k for k, v in targets.items() if v and k != "S3Targets")
    if unsupported:
        raise InvalidInput(
            f"Targets {', '.join(unsupported)} are not supported by sagebox; crawl S3 paths "
            "with Targets.S3Targets."
        )
    if not targets.get("S3Targets"):
        raise InvalidInput(
            "The crawler has no targets. Give at least one, e.g. "
            "Targets={'S3Targets': [{'Path': 's3://bucket/prefix/'}]}."
        )
    for target in targets["S3Targets"]:
        parse_s3_uri(target["Path"])
    if not doc.get("DatabaseName"):
        raise InvalidInput("DatabaseName is required: the database the crawler writes tables to.")
    Catalog(ctx.home).get_database(doc["DatabaseName"])
    policy = doc.get("SchemaChangePolicy", {})
    recrawl = doc.get("RecrawlPolicy", {}).get("RecrawlBehavior", "CRAWL_EVERYTHING")
    if recrawl == "CRAWL_NEW_FOLDERS_ONLY" and (
        policy.get("UpdateBehavior", "UPDATE_IN_DATABASE") != "LOG"
        or policy.get("DeleteBehavior", "DEPRECATE_IN_DATABASE") != "LOG"
    ):
        raise InvalidInput(
            "The SchemaChangePolicy for 'Crawl new folders only' S3 targets can have only LOG "
            "DeleteBehavior and LOG UpdateBehavior. Set both to LOG."
        )
    if recrawl == "CRAWL_EVENT_MODE":
        raise InvalidInput("RecrawlBehavior CRAWL_EVENT_MODE is not supported by sagebox.")
    if doc.get("Configuration"):
        import json

        try:
            json.loads(doc["Configuration"])
        except ValueError as error:
            raise InvalidInput(f"Configuration is not valid JSON ({error}).") from None


def _schedule(expression: str | None) -> dict[str, str] | None:
    if not expression:
        return None
    return {"ScheduleExpression": validate_schedule(expression), "State": "SCHEDULED"}


# ---- records -------------------------------------------------------------------------
def _get(home: Home, name: str) -> Record:
    try:
        record = home.metadata.get(KIND, name)
    except ResourceNotFound:
        raise EntityNotFound(
            f"Crawler with name {name} does not exist. List crawlers with ListCrawlers."
        ) from None
    return _orphan_check(home, record)


def _orphan_check(home: Home, record: Record) -> Record:
    """A RUNNING crawler whose process is gone is recorded FAILED."""
    owner = record.document.get(OWNER)
    if record.status not in ("RUNNING", "STOPPING") or not owner:
        return record
    if owner.get("host") != socket.gethostname() or _alive(int(owner["pid"])):
        return record
    return _finish(
        home,
        record.name,
        "FAILED",
        "The process that ran this crawl ended before it finished. Start the crawler again.",
        None,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe(record: Record) -> dict[str, Any]:
    doc = dict(record.document)
    doc["State"] = record.status
    doc["LastUpdated"] = record.last_modified_time.isoformat()
    if record.status == "RUNNING" and doc.get("_Started"):
        doc["CrawlElapsedTime"] = int((time.time() - float(doc["_Started"])) * 1000)
    return doc


# ---- handlers ------------------------------------------------------------------------
def create_crawler(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["Name"]
    doc = {k: jsonable(request[k]) for k in _SETTABLE if k in request}
    _check_definition(ctx, doc)
    doc["Role"] = check_crawler_role(ctx, request["Role"])
    doc.update(
        {
            "Name": name,
            "Schedule": _schedule(request.get("Schedule")),
            "SchemaChangePolicy": {
                "UpdateBehavior": "UPDATE_IN_DATABASE",
                "DeleteBehavior": "DEPRECATE_IN_DATABASE",
                **doc.get("SchemaChangePolicy", {}),
            },
            "RecrawlPolicy": doc.get("RecrawlPolicy", {"RecrawlBehavior": "CRAWL_EVERYTHING"}),
            "CreationTime": now_iso(),
            "Version": 1,
            METRICS: {"TablesCreated": 0, "TablesUpdated": 0, "TablesDeleted": 0},
            RUNTIMES: [],
        }
    )
    arn = ctx.home.arn("glue", f"crawler/{name}")
    try:
        ctx.home.metadata.create(KIND, name, arn, "READY", doc)
    except ResourceInUse:
        raise AlreadyExists(f"Crawler with name {name} already exists.") from None
    if request.get("Tags"):
        ctx.home.metadata.set_tags(arn, request["Tags"])
    return {}


def get_crawler(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    return {"Crawler": _describe(_get(ctx.home, request["Name"]))}


def _all(ctx: Context) -> list[Record]:
    return [_orphan_check(ctx.home, r) for r in Catalog(ctx.home).records(KIND)]


def get_crawlers(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    crawlers = [_describe(r) for r in _all(ctx)]
    page, token = paginate(
        crawlers, lambda c: str(c["Name"]), request.get("MaxResults"), request.get("NextToken")
    )
    return {"Crawlers": page, "NextToken": token}


def list_crawlers(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    names = [r.name for r in _all(ctx)]
    page, token = paginate(names, str, request.get("MaxResults"), request.get("NextToken"))
    return {"CrawlerNames": page, "NextToken": token}


def update_crawler(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["Name"]
    current = _get(ctx.home, name)
    if current.status != "READY":
        raise CrawlerRunning(f"Crawler {name} is {current.status}; update it when it is READY.")
    changes = {k: jsonable(request[k]) for k in _SETTABLE if k in request}
    merged = {**current.document, **changes}
    _check_definition(ctx, merged)
    if "Role" in request:
        merged["Role"] = check_crawler_role(ctx, request["Role"])
    if "Schedule" in request:
        merged["Schedule"] = _schedule(request["Schedule"])

    def change(record: Record) -> Change:
        if record.status != "READY":
            raise CrawlerRunning(f"Crawler {name} is {record.status}; try when it is READY.")
        return Change("READY", {**merged, "Version": int(record.document["Version"]) + 1})

    ctx.home.metadata.update(KIND, name, change)
    return {}


def delete_crawler(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["Name"]
    record = _get(ctx.home, name)
    if record.status != "READY":
        raise CrawlerRunning(f"Crawler {name} is {record.status}; stop it before deleting it.")
    ctx.home.metadata.delete(KIND, name)
    return {}


def start_crawler(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["Name"]
    _get(ctx.home, name)
    started = time.time()

    def running(record: Record) -> Change:
        if record.status != "READY":
            raise CrawlerRunning(f"Crawler with name {name} has already started.")
        doc = {
            **record.document,
            "_Started": started,
            OWNER: {"pid": os.getpid(), "host": socket.gethostname()},
        }
        return Change("RUNNING", doc)

    record = ctx.home.metadata.update(KIND, name, running)
    thread = threading.Thread(
        target=_run, args=(ctx.home, dict(record.document)), name=f"crawler-{name}", daemon=True
    )
    thread.start()
    _THREADS[name] = thread
    return {}


def stop_crawler(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    name = request["Name"]

    def stopping(record: Record) -> Change:
        if record.status == "STOPPING":
            raise CrawlerStopping(f"Crawler with name {name} is already stopping.")
        if record.status != "RUNNING":
            raise CrawlerNotRunning(f"Crawler with name {name} is not running.")
        return Change("STOPPING", dict(record.document))

    _get(ctx.home, name)
    ctx.home.metadata.update(KIND, name, stopping)
    return {}


def get_crawler_metrics(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    wanted = set(request.get("CrawlerNameList") or [])
    metrics = []
    for record in _all(ctx):
        if wanted and record.name not in wanted:
            continue
        doc = record.document
        runtimes = [float(r) for r in doc.get(RUNTIMES, [])]
        running = record.status in ("RUNNING", "STOPPING")
        median = statistics.median(runtimes) if runtimes else 0.0
        elapsed = time.time() - float(doc.get("_Started", time.time())) if running else 0.0
        metrics.append(
            {
                "CrawlerName": record.name,
                "TimeLeftSeconds": max(0.0, median - elapsed) if running else 0.0,
                "StillEstimating": running and not runtimes,
                "LastRuntimeSeconds": runtimes[-1] if runtimes else 0.0,
                "MedianRuntimeSeconds": median,
                **doc.get(METRICS, {}),
            }
        )
    page, token = paginate(
        metrics,
        lambda m: str(m["CrawlerName"]),
        request.get("MaxResults"),
        request.get("NextToken"),
    )
    return {"CrawlerMetricsList": page, "NextToken": token}


# ---- the crawl -----------------------------------------------------------------------
_THREADS: dict[str, threading.Thread] = {}


def wait_for_crawl(name: str, timeout: float | None = None) -> None:
    """Wait for a crawl this process started (tests and the CLI use it)."""
    thread = _THREADS.get(name)
    if thread is not None:
        thread.join(timeout)


def _run(home: Home, doc: Mapping[str, Any]) -> None:
    from sagebox.control.job_access import RoleObjectStore
    from sagebox.glue.crawler import CrawlerSpec, CrawlStopped, crawl

    name, role = doc["Name"], doc["Role"]
    session = session_arn(home.account_id, role)
    spec = CrawlerSpec.from_document(doc, created_by=session)
    store = RoleObjectStore(home, session, role)

    def should_stop() -> bool:
        return home.metadata.get(KIND, name).status == "STOPPING"

    try:
        report = crawl(Catalog(home), store, spec, should_stop)
    except CrawlStopped:
        _finish(home, name, "CANCELLED", "The crawl was stopped by StopCrawler.", None)
    except Exception as error:  # every failure becomes the crawl's ErrorMessage
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        code = getattr(error, "code", "InternalServiceException")
        _finish(home, name, "FAILED", f"{code}: {message}", None)
    else:
        _finish(home, name, "SUCCEEDED", report.summary(), report)


def _finish(home: Home, name: str, status: str, message: str, report: Any) -> Record:
    ended = time.time()

    def stopping(record: Record) -> Change | None:
        if record.status not in ("RUNNING", "STOPPING"):
            return None
        return Change("STOPPING", dict(record.document))

    def ready(record: Record) -> Change | None:
        if record.status not in ("RUNNING", "STOPPING"):
            return None
        doc = {k: v for k, v in record.document.items() if k not in (OWNER, "CrawlElapsedTime")}
        started = float(doc.pop("_Started", ended))
        runtimes = [*doc.get(RUNTIMES, []), round(ended - started, 3)][-20:]
        last: dict[str, Any] = {
            "Status": status,
            "StartTime": started,
            "MessagePrefix": name,
            "LogGroup": "/aws-glue/crawlers",
            "LogStream": name,
        }
        if status != "SUCCEEDED":
            last["ErrorMessage"] = message[:2048]
        else:
            last["_Summary"] = message
        doc.update({"LastCrawl": last, RUNTIMES: runtimes})
        if report is not None:
            doc[METRICS] = {
                "TablesCreated": report.tables_created,
                "TablesUpdated": report.tables_updated,
                "TablesDeleted": report.tables_deleted,
            }
        return Change("READY", doc)

    home.metadata.update(KIND, name, stopping)
    record = home.metadata.update(KIND, name, ready)
    _append_log(home, name, f"{status}: {message}")
    return record


def _log_path(home: Home, name: str) -> Path:
    return home.logs_path / "glue-crawlers" / f"{quote(name, safe='')}.log"


def _append_log(home: Home, name: str, line: str) -> None:
    path = _log_path(home, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(f"{now_iso()} {line}\n")


def crawl_log(home: Home, name: str) -> list[str]:
    """The crawler's log (what each crawl did, what it left alone and why), oldest first."""
    path = _log_path(home, name)
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []
