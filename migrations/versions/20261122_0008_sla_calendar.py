"""sla calendar: admin-entered days (holidays, make-up working days, local closures)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 03:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import minyi.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_calendar_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendar_day")),
        sa.UniqueConstraint("day", name=op.f("uq_sla_calendar_day_day")),
    )
    stamp = op.create_table(
        "sla_calendar_stamp",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_calendar_stamp")),
    )
    op.bulk_insert(stamp, [{"id": 1, "token": ""}])


def downgrade() -> None:
    op.drop_table("sla_calendar_stamp")
    op.drop_table("sla_calendar_day")
