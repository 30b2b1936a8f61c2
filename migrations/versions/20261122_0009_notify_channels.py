"""notify channels: the provider's message id on the outbox, and staff inboxes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 03:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import minyi.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider_id", sa.String(length=100), nullable=True))
    op.create_table(
        "notify_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", minyi.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", minyi.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"],
            ["notify_outbox.id"],
            name=op.f("fk_notify_inbox_outbox_id_notify_outbox"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["org_user.id"], name=op.f("fk_notify_inbox_user_id_org_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_inbox")),
        sa.UniqueConstraint("outbox_id", "user_id", name="uq_notify_inbox_outbox_user"),
    )
    with op.batch_alter_table("notify_inbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notify_inbox_user_created", ["user_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notify_inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_inbox_user_created")
    op.drop_table("notify_inbox")
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.drop_column("provider_id")
