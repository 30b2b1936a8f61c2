"""knowledge: entries, temporary notices and instant-answer offers

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import minyi.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _dt() -> minyi.core.db.UTCDateTime:
    return minyi.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "kb_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("source_title", sa.String(length=300), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=True),
        sa.Column("owner_unit_id", sa.Integer(), nullable=True),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", _dt(), nullable=True),
        sa.Column("valid_to", _dt(), nullable=True),
        sa.Column("privacy_flags", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("origin_ref", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _dt(), nullable=False),
        sa.Column("updated_at", _dt(), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_at", _dt(), nullable=True),
        sa.Column("retired_at", _dt(), nullable=True),
        sa.ForeignKeyConstraint(
            ["approved_by_id"], ["org_user.id"], name=op.f("fk_kb_entry_approved_by_id_org_user")
        ),
        sa.ForeignKeyConstraint(
            ["area_id"], ["org_area.id"], name=op.f("fk_kb_entry_area_id_org_area")
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["org_unit.id"], name=op.f("fk_kb_entry_owner_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_entry")),
    )
    with op.batch_alter_table("kb_entry", schema=None) as batch_op:
        batch_op.create_index("ix_kb_entry_status", ["status", "id"], unique=False)

    op.create_table(
        "kb_notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", _dt(), nullable=False),
        sa.Column("ends_at", _dt(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source_title", sa.String(length=300), nullable=False),
        sa.Column("owner_unit_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", _dt(), nullable=False),
        sa.Column("retired_at", _dt(), nullable=True),
        sa.ForeignKeyConstraint(
            ["area_id"], ["org_area.id"], name=op.f("fk_kb_notice_area_id_org_area")
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["org_unit.id"], name=op.f("fk_kb_notice_owner_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_notice")),
    )
    with op.batch_alter_table("kb_notice", schema=None) as batch_op:
        batch_op.create_index("ix_kb_notice_window", ["ends_at", "starts_at"], unique=False)

    op.create_table(
        "kb_offer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=900), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("offered_at", _dt(), nullable=False),
        sa.Column("decided_at", _dt(), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["kb_entry.id"], name=op.f("fk_kb_offer_entry_id_kb_entry")
        ),
        sa.ForeignKeyConstraint(
            ["notice_id"], ["kb_notice.id"], name=op.f("fk_kb_offer_notice_id_kb_notice")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["ticket.id"], name=op.f("fk_kb_offer_ticket_id_ticket")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_offer")),
    )
    with op.batch_alter_table("kb_offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kb_offer_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("kb_offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kb_offer_ticket_id"))
    op.drop_table("kb_offer")
    with op.batch_alter_table("kb_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_notice_window")
    op.drop_table("kb_notice")
    with op.batch_alter_table("kb_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_kb_entry_status")
    op.drop_table("kb_entry")
