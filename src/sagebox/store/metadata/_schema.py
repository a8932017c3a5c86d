"""The metadata store's tables, as SQLAlchemy Core objects.

The migrations in ``migrations/versions`` create these tables; this module is what
queries are written against, and a contract test checks that the two agree.
Text columns use the "C" collation on PostgreSQL so that names sort byte-wise, as on
SQLite: one order (and one pagination) on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

from sagebox.errors import ValidationError

metadata = sa.MetaData()


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes in and out, on every backend.

    PostgreSQL stores ``timestamptz``; SQLite stores a naive UTC string, which this
    type normalises so that callers never see a naive datetime.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = as_utc(value, "timestamp")
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def as_utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; a naive datetime is rejected, since its zone is a guess."""
    if not isinstance(value, datetime):
        raise ValidationError(
            f"The {what} must be a datetime. Got {value!r} instead. "
            "Pass a timezone-aware datetime, e.g. datetime.now(timezone.utc)."
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            f"The {what} must be timezone-aware. Got the naive datetime {value.isoformat()} "
            "instead. Attach a zone, e.g. value.replace(tzinfo=timezone.utc)."
        )
    return value.astimezone(UTC)


def _text() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


resources = sa.Table(
    "resources",
    metadata,
    sa.Column("arn", _text(), primary_key=True),
    sa.Column("kind", _text(), nullable=False),
    sa.Column("name", _text(), nullable=False),
    sa.Column("status", _text(), nullable=True),
    sa.Column("creation_time", UtcDateTime(), nullable=False),
    sa.Column("last_modified_time", UtcDateTime(), nullable=False),
    sa.Column("document", _json(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.UniqueConstraint("kind", "name", name="uq_resources_kind_name"),
    sa.Index("ix_resources_kind_created", "kind", "creation_time", "name"),
    sa.Index("ix_resources_kind_modified", "kind", "last_modified_time", "name"),
    sa.Index("ix_resources_kind_status", "kind", "status", "creation_time"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column(
        "arn",
        _text(),
        sa.ForeignKey("resources.arn", ondelete="CASCADE", name="fk_tags_arn"),
        primary_key=True,
    ),
    sa.Column("key", _text(), primary_key=True),
    sa.Column("value", _text(), nullable=False),
)

metrics = sa.Table(
    "metrics",
    metadata,
    # seq is the insertion order, the tiebreaker between points of one timestamp.
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column(
        "arn",
        _text(),
        sa.ForeignKey("resources.arn", ondelete="CASCADE", name="fk_metrics_arn"),
        nullable=False,
    ),
    sa.Column("name", _text(), nullable=False),
    # NULL stands for NaN: SQLite cannot store a NaN REAL.
    sa.Column("value", sa.Double(), nullable=True),
    sa.Column("timestamp", UtcDateTime(), nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=True),
    sa.Index("ix_metrics_arn_name_timestamp", "arn", "name", "timestamp", "seq"),
    sa.Index("ix_metrics_arn_timestamp", "arn", "timestamp", "seq"),
)
