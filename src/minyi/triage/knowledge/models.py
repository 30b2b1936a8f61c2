"""Tables of the knowledge base: entries, temporary notices, and the offers made to citizens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class KnowledgeEntry(Base):
    """One curated answer with the phrasings that should find it."""

    __tablename__ = "kb_entry"
    __table_args__ = (Index("ix_kb_entry_status", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    questions: Mapped[list[str]] = mapped_column(JSON, default=list)
    answer: Mapped[str] = mapped_column(Text)
    source_title: Mapped[str] = mapped_column(String(300))
    source_url: Mapped[str | None] = mapped_column(String(500))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    # None: the whole city; else this area and everything below it.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("org_area.id"))
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Kinds of personal detail found at the last check (codes only): such an entry is
    # never approved or served.
    privacy_flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # manual | drafted (from replies.csv); origin_ref names the messages it came from.
    origin: Mapped[str] = mapped_column(String(16))
    origin_ref: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A digest of what is matched and served: the in-process index is rebuilt when it moves.
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("org_user.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class KnowledgeNotice(Base):
    """A temporary notice (停水、停电、燃气停供、道路施工) for an area and a time window."""

    __tablename__ = "kb_notice"
    __table_args__ = (Index("ix_kb_notice_window", "ends_at", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("org_area.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    text: Mapped[str] = mapped_column(Text)
    source_title: Mapped[str] = mapped_column(String(300))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class KnowledgeOffer(Base):
    """An instant answer shown to a citizen, and what they decided."""

    __tablename__ = "kb_offer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("kb_entry.id"))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("kb_notice.id"))
    score: Mapped[float] = mapped_column(Float)
    # What was shown, as shown: a later edit of the entry must not change the record.
    answer: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(900))
    outcome: Mapped[str] = mapped_column(String(16))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
