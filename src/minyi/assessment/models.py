"""The cards issued against units. Rows are only ever added."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class Card(Base):
    __tablename__ = "assessment_card"
    __table_args__ = (
        # One card per missed deadline: a timer fired twice (two workers, a restart) finds
        # the card already there.
        UniqueConstraint("ticket_id", "unit_id", "deadline_kind", "color", "due_at"),
        # A unit's cards over a period, for the rates and rankings.
        Index("ix_assessment_card_unit", "unit_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    color: Mapped[str] = mapped_column(String(8))
    # Which deadline was missed: dispatch, acceptance, contact, reply, co_report, ...
    deadline_kind: Mapped[str] = mapped_column(String(32))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    escalated_to: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)


class TimeCharge(Base):
    """Time a unit (or the centre, `unit_id` None) is charged with though no clock of its
    own shows it: the working time a return cost when the centre's ruling rejects it."""

    __tablename__ = "assessment_time_charge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    # return_rejected (charged to the returning unit) | return_upheld (the centre's routing)
    reason: Mapped[str] = mapped_column(String(32))
    seconds: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
