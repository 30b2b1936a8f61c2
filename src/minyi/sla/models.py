"""The running clocks of tickets (SLA timers): one row per deadline a worker must watch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, event, text
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class SlaTimer(Base):
    __tablename__ = "sla_timer"
    __table_args__ = (
        # The worker's one look-up: the clocks with a next firing, in firing order. Partial,
        # so the millions of finished clocks are not in it, and its own column, so the
        # planner's estimate is the few rows due rather than every row whose times have
        # passed (the state and the times are not independent: benchmarks/README.md).
        Index(
            "ix_sla_timer_next_fire",
            "next_fire_at",
            "id",
            postgresql_where=text("next_fire_at IS NOT NULL"),
            sqlite_where=text("next_fire_at IS NOT NULL"),
        ),
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
    # When the worker must next look at this clock (kept by `_schedule` on every write):
    # the warning while pending, else the deadline; None once nothing more can fire.
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# pending | warned | escalated_* : the states the worker still fires.
_FIRING = ("pending", "warned", "escalated_leader", "escalated_supervisor")


def next_fire_at(timer: SlaTimer) -> datetime | None:
    """The next moment anything can fire for `timer` (None: finished, or suspended)."""
    if timer.state not in _FIRING or timer.remaining_seconds is not None:
        return None
    if timer.state == "pending" and timer.warn_at is not None and timer.warn_at < timer.due_at:
        return timer.warn_at
    return timer.due_at


@event.listens_for(SlaTimer, "before_insert")
@event.listens_for(SlaTimer, "before_update")
def _schedule(_mapper: object, _connection: object, timer: SlaTimer) -> None:
    # One place keeps the column true, whatever moved the clock (start, stop, suspension,
    # extension, firing): every change of a timer goes through a flush.
    timer.next_fire_at = next_fire_at(timer)
