"""duplicates: the duplicate index (signatures and keys)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import minyi.core.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "triage_dup_key",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("received_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_triage_dup_key_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("ticket_id", "key", name=op.f("pk_triage_dup_key")),
    )
    with op.batch_alter_table("triage_dup_key", schema=None) as batch_op:
        batch_op.create_index(
            "ix_triage_dup_key_lookup",
            ["key", "district_id", "received_at", "ticket_id"],
            unique=False,
        )

    op.create_table(
        "triage_dup_signature",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=True),
        sa.Column("district_id", sa.Integer(), nullable=True),
        sa.Column("received_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("terms", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_triage_dup_signature_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_triage_dup_signature")),
    )
    with op.batch_alter_table("triage_dup_signature", schema=None) as batch_op:
        batch_op.create_index(
            "ix_triage_dup_signature_requester", ["requester_id", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("triage_dup_signature", schema=None) as batch_op:
        batch_op.drop_index("ix_triage_dup_signature_requester")
    op.drop_table("triage_dup_signature")
    with op.batch_alter_table("triage_dup_key", schema=None) as batch_op:
        batch_op.drop_index("ix_triage_dup_key_lookup")
    op.drop_table("triage_dup_key")
