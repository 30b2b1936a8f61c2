"""The SLA worker: fire the warnings and deadlines that have fallen due.

Each timer row is a small state machine (pending → warned → escalated_leader →
escalated_supervisor → overdue); a step changes the row and writes its note, card and
notification in the caller's transaction, so firing twice does nothing twice. Two workers
at once claim different rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one
writer). A worker that was down catches up: a row steps until it is no longer due, so a
warning whose deadline also passed is skipped for the card, and each rung fires once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.assessment import service as assessment
from minyi.assessment.domain import CardColor
from minyi.core.clock import FixedClock, aware, local_text
from minyi.notify import service as notify
from minyi.notify.domain import Channel
from minyi.sla import deadlines
from minyi.sla import service as sla
from minyi.sla.calendar import service as calendar_service
from minyi.sla.deadlines import Card, DeadlineKind
from minyi.sla.models import SlaTimer
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.models import Ticket

LEVEL_ZH = {1: "单位领导", 2: "督办部门"}
# After the last rung the row leaves the worker's look-ups.
STATE_AFTER_LEVEL = {1: sla.ESCALATED_LEADER, 2: sla.ESCALATED_SUPERVISOR}


@dataclass(frozen=True, slots=True)
class FireReport:
    claimed: int = 0
    warnings: int = 0
    cards: int = 0
    escalations: int = 0


def _claim(session: Session, *, now: datetime, limit: int) -> list[SlaTimer]:
    query = (
        select(SlaTimer)
        .join(Ticket, Ticket.id == SlaTimer.ticket_id)
        .where(SlaTimer.next_fire_at <= now)
        .order_by(SlaTimer.next_fire_at, SlaTimer.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Another worker's rows are skipped, not waited for: each row is fired by one. The
        # ticket is locked with its timer (FOR UPDATE covers both tables), in the order an
        # action takes them (ticket, then timers), so a worker never deadlocks with a
        # handler acting on that ticket: a ticket mid-action is skipped until next pass.
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def _label(timer: SlaTimer) -> str:
    return deadlines.clock_label_zh(DeadlineKind(timer.kind), timer.escalation_level)


def _card_kind(timer: SlaTimer) -> str:
    """The missed deadline a card names: the clock itself, then the leader's, then the
    supervisor's (so that each rung's card is a different, unique row)."""
    if timer.escalation_level == 1:
        return DeadlineKind.LEADER.value
    if timer.escalation_level >= 2:
        return DeadlineKind.SUPERVISOR.value
    return timer.kind


def _warn(session: Session, timer: SlaTimer, ticket: Ticket, now: datetime) -> None:
    system = Principal(session=session, system=True)
    due = aware(timer.due_at)
    tickets.record_note(
        session,
        ticket_id=ticket.id,
        note="deadline_warning",
        principal=system,
        reason=f"{_label(timer)}将于 {local_text(due)} 到期",
        payload={"timer_id": timer.id, "deadline_kind": timer.kind, "due_at": due.isoformat()},
        clock=FixedClock(now),
    )
    if timer.unit_id is not None:
        notify.notify_template(
            session,
            channel=Channel.INBOX,
            target=notify.unit_target(timer.unit_id),
            code="staff.warning",
            params={"tracking_code": ticket.tracking_code, "due": local_text(due)},
            event_type="sla.warning",
            ticket_id=ticket.id,
            now=now,
        )
    timer.state = sla.WARNED
    timer.fired_at = now


def _escalate(session: Session, timer: SlaTimer, ticket: Ticket, now: datetime) -> bool:
    """One rung of the card ladder for a passed deadline; True if a card was issued."""
    step = deadlines.next_step(DeadlineKind(timer.kind), True, timer.escalation_level)
    assert step is not None  # overdue is True: there is always a step
    due = aware(timer.due_at)
    unit_id = timer.unit_id if timer.unit_id is not None else ticket.centre_unit_id
    if unit_id is None and timer.kind == DeadlineKind.DISPATCH.value:
        # A ticket no district centre holds is the city centre's to dispatch.
        centre = tickets.city_centre(session)
        unit_id = centre.id if centre is not None else None
    issued = False
    color = CardColor.YELLOW if step.card is Card.YELLOW else CardColor.RED
    if unit_id is not None:
        _, issued = assessment.issue_card(
            session,
            ticket_id=ticket.id,
            unit_id=unit_id,
            color=color,
            deadline_kind=_card_kind(timer),
            deadline_label=_label(timer),
            due_at=due,
            clock=FixedClock(now),
        )
    level = timer.escalation_level + 1
    if unit_id is not None and level == 1:
        notify.notify_template(
            session,
            channel=Channel.INBOX,
            target=notify.unit_target(unit_id),
            code="staff.overdue",
            params={"tracking_code": ticket.tracking_code, "due": local_text(due)},
            event_type="sla.overdue",
            ticket_id=ticket.id,
            now=now,
        )
    if step.next_deadline is not None:
        reason = f"{_label(timer)}已超期，升级至{LEVEL_ZH[level]}"
        tickets.record_note(
            session,
            ticket_id=ticket.id,
            note="escalate",
            principal=Principal(session=session, system=True),
            reason=reason,
            payload={"timer_id": timer.id, "level": level, "deadline_kind": timer.kind},
            clock=FixedClock(now),
        )
        # The unit's leader reads the unit's inbox; the supervisor (督办) sits at the city
        # centre, which hears of every red card.
        recipients = {unit_id}
        if level >= 2:
            centre = tickets.city_centre(session)
            recipients.add(centre.id if centre is not None else None)
        for recipient in sorted(r for r in recipients if r is not None):
            notify.notify_template(
                session,
                channel=Channel.INBOX,
                target=notify.unit_target(recipient),
                code="staff.escalation",
                params={
                    "tracking_code": ticket.tracking_code,
                    "level": LEVEL_ZH[level],
                    "reason": reason,
                },
                event_type="sla.escalation",
                ticket_id=ticket.id,
                now=now,
            )
        # The next rung counts from the deadline that passed, so downtime gives no time.
        nxt = deadlines.deadline_for(
            step.next_deadline, start=due, calendar=calendar_service.get_calendar(session)
        )
        timer.due_at = nxt.due_at
        timer.state = STATE_AFTER_LEVEL[level]
    else:
        timer.state = sla.OVERDUE
    timer.escalation_level = level
    timer.warn_at = None
    timer.fired_at = now
    return issued


def fire_due(session: Session, *, now: datetime, limit: int = 500) -> FireReport:
    """Fire every warning and deadline due at `now`; the caller commits."""
    claimed = _claim(session, now=now, limit=limit)
    warnings = cards = escalations = 0
    for timer in claimed:
        ticket = session.get(Ticket, timer.ticket_id)
        if ticket is None or not ticket.is_open:
            timer.state = sla.CANCELLED
            timer.updated_at = now
            continue
        # Several steps at once after downtime; each rung changes the state, so at most
        # three iterations, and a rung already fired is never fired again.
        while timer.state in sla.ACTIVE:
            if aware(timer.due_at) <= now:
                cards += _escalate(session, timer, ticket, now)
                escalations += timer.state != sla.OVERDUE
            elif (
                timer.state == sla.PENDING
                and timer.warn_at is not None
                and aware(timer.warn_at) <= now
            ):
                _warn(session, timer, ticket, now)
                warnings += 1
            else:
                break
        timer.updated_at = now
    session.flush()
    return FireReport(len(claimed), warnings, cards, escalations)
