"""sla timers: one row per running deadline of a ticket, watched by the worker

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import minyi.core.db

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sla_timer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("span_kind", sa.String(length=16), nullable=False),
        sa.Column("span_amount", sa.Float(), nullable=False),
        sa.Column("started_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("warn_at", minyi.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("remaining_seconds", sa.Float(), nullable=True),
        sa.Column("fired_at", minyi.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_sla_timer_ticket_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_unit.id"], name=op.f("fk_sla_timer_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_timer")),
    )
    with op.batch_alter_table("sla_timer", schema=None) as batch_op:
        batch_op.create_index("ix_sla_timer_due", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_sla_timer_warn", ["state", "warn_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sla_timer_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_timer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sla_timer_ticket_id"))
        batch_op.drop_index("ix_sla_timer_warn")
        batch_op.drop_index("ix_sla_timer_due")
    op.drop_table("sla_timer")
