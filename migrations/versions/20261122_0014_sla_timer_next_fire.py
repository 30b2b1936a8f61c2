"""sla timer next_fire_at: one partial index for the worker's look-up

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 05:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import minyi.core.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("next_fire_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("sla_timer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_fire_at", minyi.core.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.drop_index("ix_sla_timer_warn")
        batch_op.drop_index("ix_sla_timer_due")
    # The same rule as sla.models.next_fire_at, for the clocks already running.
    op.execute(
        """
        UPDATE sla_timer SET next_fire_at = CASE
            WHEN remaining_seconds IS NOT NULL THEN NULL
            WHEN state = 'pending' AND warn_at IS NOT NULL AND warn_at < due_at THEN warn_at
            WHEN state IN ('pending', 'warned', 'escalated_leader', 'escalated_supervisor')
                THEN due_at
            ELSE NULL
        END
        """
    )
    op.create_index(
        "ix_sla_timer_next_fire",
        "sla_timer",
        ["next_fire_at", "id"],
        unique=False,
        postgresql_where=_WHERE,
        sqlite_where=_WHERE,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_sla_timer_next_fire",
        table_name="sla_timer",
        postgresql_where=_WHERE,
        sqlite_where=_WHERE,
    )
    with op.batch_alter_table("sla_timer", schema=None) as batch_op:
        batch_op.create_index("ix_sla_timer_due", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_sla_timer_warn", ["state", "warn_at"], unique=False)
        batch_op.drop_column("next_fire_at")
