"""Triage's tables: the machine's decision on each ticket, and the labelled examples that
dispatchers' confirmations and corrections leave behind for the next training run.

The duplicate index and the knowledge base keep their own tables beside these
(`duplicates` and `knowledge`), each in its own module and migration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class TriageDecision(Base):
    """What the machine concluded about one ticket at intake, and why (STYLE: every
    decision stored with the rows that matched, the list version and the model version)."""

    __tablename__ = "triage_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    model_version: Mapped[str | None] = mapped_column(String(64))
    # First-level label (the contest's label set) and its calibrated probability.
    label: Mapped[str | None] = mapped_column(String(32))
    label_confidence: Mapped[float | None] = mapped_column(Float)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_item.id"))
    item_path: Mapped[str | None] = mapped_column(String(64))
    item_confidence: Mapped[float | None] = mapped_column(Float)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("org_area.id"))
    urgency: Mapped[str] = mapped_column(String(16))
    emergency_lines: Mapped[list[str]] = mapped_column(JSON, default=list)
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    co_unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    batch_number: Mapped[str | None] = mapped_column(String(32))
    # auto_dispatch | queue | emergency | knowledge | duplicate — what was done with it.
    outcome: Mapped[str] = mapped_column(String(16))
    auto_dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    # The reasons, for people: top features, matched keywords and places, rule ids.
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    elapsed_ms: Mapped[float | None] = mapped_column(Float)


class TriageExample(Base):
    """A labelled appeal: a dispatcher confirmed the machine's item or corrected it."""

    __tablename__ = "triage_example"
    __table_args__ = (Index("ix_triage_example_created", "created_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    # The confirmed item's DB44 path ("09/0904/090403") and its first-level contest label.
    item_path: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(32))
    predicted_item_path: Mapped[str | None] = mapped_column(String(64))
    # confirmed | corrected
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("org_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
