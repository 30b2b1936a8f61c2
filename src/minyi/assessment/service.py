"""Issuing cards: one per missed deadline, on the ticket's timeline and in the audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.assessment.domain import (
    ESCALATION_FOR,
    CardColor,
    ChargeReason,
    card_reason,
)
from minyi.assessment.models import Card, TimeCharge
from minyi.core.clock import Clock, get_clock
from minyi.org import service as org
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal


def issue_card(
    session: Session,
    *,
    ticket_id: int,
    unit_id: int,
    color: CardColor,
    deadline_kind: str,
    deadline_label: str,
    due_at: datetime,
    clock: Clock | None = None,
) -> tuple[Card, bool]:
    """The card for this missed deadline, and whether it was issued now (False: it was
    already there, so a timer that fires twice issues nothing twice)."""
    existing = session.scalar(
        select(Card).where(
            Card.ticket_id == ticket_id,
            Card.unit_id == unit_id,
            Card.deadline_kind == deadline_kind,
            Card.color == color.value,
            Card.due_at == due_at,
        )
    )
    if existing is not None:
        return existing, False
    now = (clock or get_clock()).now()
    unit = org.get_unit(session, unit_id)
    reason = card_reason(color, deadline_label, unit.name if unit is not None else "承办单位")
    card = Card(
        ticket_id=ticket_id,
        unit_id=unit_id,
        color=color.value,
        deadline_kind=deadline_kind,
        due_at=due_at,
        issued_at=now,
        escalated_to=ESCALATION_FOR[color].value,
        reason=reason,
    )
    session.add(card)
    session.flush()
    tickets.record_note(
        session,
        ticket_id=ticket_id,
        note=color.note,
        principal=Principal(session=session, system=True),
        reason=reason,
        payload={
            "unit_id": unit_id,
            "deadline_kind": deadline_kind,
            "due_at": due_at.isoformat(),
            "escalated_to": card.escalated_to,
        },
        clock=clock,
    )
    return card, True


def cards_for_ticket(session: Session, ticket_id: int) -> list[Card]:
    return list(session.scalars(select(Card).where(Card.ticket_id == ticket_id).order_by(Card.id)))


def card_counts(
    session: Session, *, unit_id: int, since: datetime, until: datetime
) -> dict[str, int]:
    """A unit's cards by colour over [since, until): an input of the three rates."""
    rows = session.execute(
        select(Card.color, func.count())
        .where(Card.unit_id == unit_id, Card.issued_at >= since, Card.issued_at < until)
        .group_by(Card.color)
    )
    counts = {c.value: 0 for c in CardColor}
    counts.update({str(color): int(n) for color, n in rows})
    return counts


def charge_time(
    session: Session,
    *,
    ticket_id: int,
    unit_id: int | None,
    reason: ChargeReason,
    seconds: float,
    started_at: datetime,
    ended_at: datetime,
    now: datetime,
) -> TimeCharge:
    """Record time lost to a return against whoever the centre's ruling says caused it."""
    charge = TimeCharge(
        ticket_id=ticket_id,
        unit_id=unit_id,
        reason=reason.value,
        seconds=max(seconds, 0.0),
        started_at=started_at,
        ended_at=ended_at,
        created_at=now,
    )
    session.add(charge)
    session.flush()
    return charge


def charged_seconds(session: Session, *, unit_id: int, since: datetime, until: datetime) -> float:
    """A unit's working seconds charged for rejected returns over [since, until)."""
    total = session.scalar(
        select(func.coalesce(func.sum(TimeCharge.seconds), 0.0)).where(
            TimeCharge.unit_id == unit_id,
            TimeCharge.created_at >= since,
            TimeCharge.created_at < until,
        )
    )
    return float(total or 0.0)


def charges_for_ticket(session: Session, ticket_id: int) -> list[TimeCharge]:
    return list(
        session.scalars(
            select(TimeCharge).where(TimeCharge.ticket_id == ticket_id).order_by(TimeCharge.id)
        )
    )
