"""assessment cards: one row per missed deadline (yellow or red) against a unit

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 03:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import minyi.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assessment_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("color", sa.String(length=8), nullable=False),
        sa.Column("deadline_kind", sa.String(length=32), nullable=False),
        sa.Column("due_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("escalated_to", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_assessment_card_ticket_id_ticket")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_unit.id"], name=op.f("fk_assessment_card_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_card")),
        sa.UniqueConstraint(
            "ticket_id",
            "unit_id",
            "deadline_kind",
            "color",
            "due_at",
            name=op.f("uq_assessment_card_ticket_id"),
        ),
    )
    with op.batch_alter_table("assessment_card", schema=None) as batch_op:
        batch_op.create_index("ix_assessment_card_unit", ["unit_id", "issued_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_assessment_card_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("assessment_card", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessment_card_ticket_id"))
        batch_op.drop_index("ix_assessment_card_unit")
    op.drop_table("assessment_card")
