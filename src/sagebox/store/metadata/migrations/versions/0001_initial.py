"""Initial schema: resources, tags, metrics.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text() -> sa.types.TypeEngine[str]:
    # "C" collation on PostgreSQL: byte-wise order, the same as SQLite's.
    return sa.Text().with_variant(sa.Text(collation="C"), "postgresql")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("arn", _text(), primary_key=True),
        sa.Column("kind", _text(), nullable=False),
        sa.Column("name", _text(), nullable=False),
        sa.Column("status", _text(), nullable=True),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_modified_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", _json(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("kind", "name", name="uq_resources_kind_name"),
    )
    op.create_index("ix_resources_kind_created", "resources", ["kind", "creation_time", "name"])
    op.create_index(
        "ix_resources_kind_modified", "resources", ["kind", "last_modified_time", "name"]
    )
    op.create_index("ix_resources_kind_status", "resources", ["kind", "status", "creation_time"])

    op.create_table(
        "tags",
        sa.Column(
            "arn",
            _text(),
            sa.ForeignKey("resources.arn", ondelete="CASCADE", name="fk_tags_arn"),
            primary_key=True,
        ),
        sa.Column("key", _text(), primary_key=True),
        sa.Column("value", _text(), nullable=False),
    )

    op.create_table(
        "metrics",
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
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_metrics_arn_name_timestamp", "metrics", ["arn", "name", "timestamp", "seq"])
    op.create_index("ix_metrics_arn_timestamp", "metrics", ["arn", "timestamp", "seq"])


def downgrade() -> None:
    op.drop_table("metrics")
    op.drop_table("tags")
    op.drop_table("resources")
