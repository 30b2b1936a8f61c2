"""The running clocks of tickets (SLA timers): one row per deadline a worker must watch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class SlaTimer(Base):
    __tablename__ = "sla_timer"
    __table_args__ = (
        # The worker's two look-ups: warnings due (state, warn_at) and deadlines due
        # (state, due_at); rows done or cancelled are never read by it.
        Index("ix_sla_timer_warn", "state", "warn_at"),
        Index("ix_sla_timer_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # sla.deadlines.DeadlineKind
    # Who answers for the clock; None for the dispatch centre when no centre unit is known.
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    # The clock's length as set (DurationKind, amount): its time base and a redo's length.
    span_kind: Mapped[str] = mapped_column(String(16))
    span_amount: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # pending | warned | escalated_leader | escalated_supervisor | overdue | done | cancelled
    state: Mapped[str] = mapped_column(String(24))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    # Seconds of the clock's own time left, kept while the ticket is suspended (else None).
    remaining_seconds: Mapped[float | None] = mapped_column(Float)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
