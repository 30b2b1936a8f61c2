"""Tables of tickets: the ticket (one per appeal), its timeline and its co-units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from minyi.core.db import Base, UTCDateTime


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        # A unit's queue: its open tickets, newest first.
        Index("ix_ticket_unit_queue", "lead_unit_id", "is_open", "id"),
        # The same by time received, the lists' default order: page 1 without a sort.
        Index("ix_ticket_unit_received", "lead_unit_id", "is_open", "received_at", "id"),
        Index("ix_ticket_centre_queue", "centre_unit_id", "status", "id"),
        Index("ix_ticket_district_open", "district_id", "is_open", "id"),
        Index("ix_ticket_dedupe", "dedupe_hash", "received_at"),
        Index("ix_ticket_overdue", "is_open", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    appeal_type: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    address_text: Mapped[str | None] = mapped_column(String(500))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    area_id: Mapped[int | None] = mapped_column(ForeignKey("org_area.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("org_area.id"))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("intake_requester.id"), index=True)
    requester_kind: Mapped[str] = mapped_column(String(16), default="person")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    source_client_id: Mapped[int | None] = mapped_column(ForeignKey("org_machine_client.id"))
    dedupe_hash: Mapped[str] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(16), default="ordinary")
    # When a dispatcher must have sent it on (SPEC §2.5: 30 min / 2 h / 8 h by urgency).
    dispatch_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    item_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_item.id"), index=True)

    # Workflow state: changed only through tickets.domain.apply().
    status: Mapped[str] = mapped_column(String(32), index=True)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    centre_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    lead_section_id: Mapped[int | None] = mapped_column(ForeignKey("org_section.id"))
    ruled: Mapped[bool] = mapped_column(Boolean, default=False)
    first_handler: Mapped[bool] = mapped_column(Boolean, default=False)
    ruling_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    returns_by_unit: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    contacted: Mapped[bool] = mapped_column(Boolean, default=False)
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    extension_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    suspension_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    chase_count: Mapped[int] = mapped_column(Integer, default=0)
    consultation_unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    consultation_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    excluded_from_assessment: Mapped[bool] = mapped_column(Boolean, default=False)

    # Why it went where it went: the list batch and rows, the machine's confidence.
    routing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reply_text: Mapped[str | None] = mapped_column(Text)

    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the unit's substantive reply is due (set at dispatch from the implementation list).
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    co_units: Mapped[list[TicketCoUnit]] = relationship(
        back_populates="ticket", order_by="TicketCoUnit.id", cascade="all, delete-orphan"
    )

    # Optimistic locking: two people acting on one ticket at once, one of them gets a 409.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class TicketEvent(Base):
    """One step of the timeline. Rows are only ever added."""

    __tablename__ = "ticket_event"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("org_user.id"))
    actor_client_id: Mapped[int | None] = mapped_column(ForeignKey("org_machine_client.id"))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    actor_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketCoUnit(Base):
    """A co-unit (协办), set at dispatch or summoned later (吹哨), and how it answered."""

    __tablename__ = "ticket_co_unit"
    __table_args__ = (
        UniqueConstraint("ticket_id", "unit_id"),
        # A unit's co-handled tickets, read from the index alone.
        Index("ix_ticket_co_unit_unit", "unit_id", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    summoned: Mapped[bool] = mapped_column(Boolean, default=False)  # 吹哨, not set at dispatch
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    report_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sub_reply: Mapped[str | None] = mapped_column(Text)
    excused: Mapped[bool] = mapped_column(Boolean, default=False)
    excuse_reason: Mapped[str | None] = mapped_column(Text)

    ticket: Mapped[Ticket] = relationship(back_populates="co_units")
