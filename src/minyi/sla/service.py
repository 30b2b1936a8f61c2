"""Starting, stopping and moving a ticket's SLA timers as the ticket moves.

`on_ticket_action` is called by `tickets.effects.after` inside every action's transaction,
so a timer never disagrees with the status it belongs to. The deadline maths is
`sla.deadlines`; this module only stores its answers. `Ticket.due_at` stays equal to the
reply timer's due time (the workbench and the overdue queries read it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.core.clock import aware
from minyi.sla import deadlines
from minyi.sla.calendar import service as calendar_service
from minyi.sla.calendar.domain import Duration, DurationKind
from minyi.sla.deadlines import DeadlineKind, WorkCalendar
from minyi.sla.models import SlaTimer
from minyi.tickets.domain import Action, Status
from minyi.tickets.models import Ticket
from minyi.triage.urgency import UrgencyLevel

PENDING = "pending"
WARNED = "warned"
ESCALATED_LEADER = "escalated_leader"
ESCALATED_SUPERVISOR = "escalated_supervisor"
OVERDUE = "overdue"  # the last rung passed: nothing more fires
DONE = "done"
CANCELLED = "cancelled"
# States the worker still watches (a suspended row is skipped by its remaining_seconds).
ACTIVE = (PENDING, WARNED, ESCALATED_LEADER, ESCALATED_SUPERVISOR)
WAITING_FOR_DISPATCH = (Status.RECEIVED, Status.PENDING_DISPATCH, Status.DISTRICT_PENDING)
# The unit's clocks that the unit's own action stops.
STOPPED_BY: Mapping[Action, tuple[DeadlineKind, ...]] = {
    Action.ACCEPT: (DeadlineKind.ACCEPTANCE,),
    Action.REPLY: (DeadlineKind.REPLY,),
    Action.APPROVE_REPLY: (DeadlineKind.REPLY,),
    Action.ANSWER: (DeadlineKind.DISPATCH,),
}
DEFAULT_EXTENSION_DAYS = 5


def calendar_of(session: Session, timer: SlaTimer) -> WorkCalendar:
    """Natural time for a natural-hours clock, else the business calendar."""
    if timer.span_kind == DurationKind.NATURAL.value:
        return deadlines.NATURAL_TIME
    return calendar_service.get_calendar(session)


def active_timers(
    session: Session, ticket_id: int, kinds: Sequence[DeadlineKind] | None = None
) -> list[SlaTimer]:
    query = select(SlaTimer).where(SlaTimer.ticket_id == ticket_id, SlaTimer.state.in_(ACTIVE))
    if kinds is not None:
        query = query.where(SlaTimer.kind.in_([k.value for k in kinds]))
    return list(session.scalars(query.order_by(SlaTimer.id)))


def timers_for_ticket(session: Session, ticket_id: int) -> list[SlaTimer]:
    return list(
        session.scalars(
            select(SlaTimer).where(SlaTimer.ticket_id == ticket_id).order_by(SlaTimer.id)
        )
    )


def _start(
    session: Session,
    *,
    ticket: Ticket,
    deadline: deadlines.TicketDeadline,
    unit_id: int | None,
    now: datetime,
    calendar: WorkCalendar,
) -> SlaTimer:
    cal = deadlines.calendar_for(deadline, calendar)
    warn: datetime | None = deadlines.warn_at(deadline.start, deadline.due_at, cal)
    timer = SlaTimer(
        ticket_id=ticket.id,
        kind=deadline.kind.value,
        unit_id=unit_id,
        span_kind=deadline.span.kind.value,
        span_amount=deadline.span.amount,
        started_at=deadline.start,
        due_at=deadline.due_at,
        warn_at=warn,
        state=PENDING,
        escalation_level=0,
        updated_at=now,
    )
    session.add(timer)
    return timer


def _finish(timers: Sequence[SlaTimer], state: str, now: datetime) -> None:
    for timer in timers:
        timer.state = state
        timer.remaining_seconds = None
        timer.updated_at = now


def _urgency(ticket: Ticket) -> UrgencyLevel:
    try:
        return UrgencyLevel(ticket.urgency)
    except ValueError:
        return UrgencyLevel.ORDINARY


def start_dispatch_timer(session: Session, *, ticket: Ticket, now: datetime) -> SlaTimer | None:
    """The centre's dispatch clock from receipt, due at `Ticket.dispatch_due_at` (set by
    triage); one per ticket while it waits for a dispatcher."""
    if ticket.dispatch_due_at is None or active_timers(session, ticket.id, [DeadlineKind.DISPATCH]):
        return None
    start = aware(ticket.received_at) if ticket.received_at is not None else now
    due = aware(ticket.dispatch_due_at)
    span = Duration(DurationKind.NATURAL, max((due - start).total_seconds(), 0) / 3600)
    deadline = deadlines.TicketDeadline(
        DeadlineKind.DISPATCH, deadlines.Responsible.CENTRE, start, due, span, "派单时限"
    )
    timer = _start(
        session,
        ticket=ticket,
        deadline=deadline,
        unit_id=ticket.centre_unit_id,
        now=now,
        calendar=deadlines.NATURAL_TIME,
    )
    session.flush()
    return timer


def _on_dispatch(session: Session, ticket: Ticket, now: datetime) -> None:
    # A re-dispatch replaces the previous unit's clocks; the dispatch clock has stopped.
    _finish(active_timers(session, ticket.id, [DeadlineKind.DISPATCH]), DONE, now)
    _finish(
        active_timers(session, ticket.id, [DeadlineKind.ACCEPTANCE, DeadlineKind.REPLY]),
        CANCELLED,
        now,
    )
    calendar = calendar_service.get_calendar(session)
    acceptance = deadlines.deadline_for(
        DeadlineKind.ACCEPTANCE, start=now, calendar=calendar, urgency=_urgency(ticket)
    )
    _start(
        session,
        ticket=ticket,
        deadline=acceptance,
        unit_id=ticket.lead_unit_id,
        now=now,
        calendar=calendar,
    )
    if ticket.due_at is not None:
        # The reply clock is the ticket's own due time (natural hours, effects.reply_hours).
        due = aware(ticket.due_at)
        span = Duration(DurationKind.NATURAL, (due - now).total_seconds() / 3600)
        reply = deadlines.TicketDeadline(
            DeadlineKind.REPLY, deadlines.Responsible.LEAD_UNIT, now, due, span, "答复时限"
        )
        _start(
            session,
            ticket=ticket,
            deadline=reply,
            unit_id=ticket.lead_unit_id,
            now=now,
            calendar=calendar,
        )


def _suspend(session: Session, ticket: Ticket, now: datetime) -> None:
    for timer in active_timers(session, ticket.id):
        if timer.remaining_seconds is None:
            timer.remaining_seconds = deadlines.time_left(
                now, aware(timer.due_at), calendar_of(session, timer)
            )
            timer.updated_at = now


def _resume(session: Session, ticket: Ticket, now: datetime) -> None:
    for timer in active_timers(session, ticket.id):
        if timer.remaining_seconds is None:
            continue
        cal = calendar_of(session, timer)
        due = deadlines.resume(now, timer.remaining_seconds, cal).due_at
        if timer.state == PENDING and timer.warn_at is not None:
            # The warning keeps its share of what is left (80 % of the remaining time).
            timer.warn_at = deadlines.warn_at(now, due, cal) if due > now else due
        timer.due_at = due
        timer.remaining_seconds = None
        timer.updated_at = now
        if timer.kind == DeadlineKind.REPLY.value:
            ticket.due_at = due


def _extend(session: Session, ticket: Ticket, days: int, now: datetime) -> None:
    calendar = calendar_service.get_calendar(session)
    for timer in active_timers(session, ticket.id, [DeadlineKind.REPLY]):
        moved = deadlines.extend(aware(timer.due_at), days, calendar).due_at
        timer.due_at = moved
        if timer.state == PENDING:
            timer.warn_at = deadlines.warn_at(
                aware(timer.started_at), moved, calendar_of(session, timer)
            )
        timer.updated_at = now
        ticket.due_at = moved


def _redo(session: Session, ticket: Ticket, now: datetime) -> None:
    previous = session.scalars(
        select(SlaTimer)
        .where(SlaTimer.ticket_id == ticket.id, SlaTimer.kind == DeadlineKind.REPLY.value)
        .order_by(SlaTimer.id.desc())
    ).first()
    _finish(active_timers(session, ticket.id, [DeadlineKind.REPLY]), CANCELLED, now)
    if previous is None:
        return
    calendar = calendar_service.get_calendar(session)
    original = deadlines.TicketDeadline(
        DeadlineKind.REPLY,
        deadlines.Responsible.LEAD_UNIT,
        aware(previous.started_at),
        aware(previous.due_at),
        Duration(DurationKind(previous.span_kind), previous.span_amount),
        "答复时限",
    )
    redo = deadlines.redo_deadline(original, start=now, calendar=calendar)
    _start(
        session,
        ticket=ticket,
        deadline=redo,
        unit_id=ticket.lead_unit_id,
        now=now,
        calendar=calendar,
    )
    ticket.due_at = redo.due_at


def _reopen_reply(session: Session, ticket: Ticket, now: datetime) -> None:
    """A rejected reply is no reply: the reply clock runs on to its own due time (a passed
    one fires at the worker's next pass)."""
    last = session.scalars(
        select(SlaTimer)
        .where(SlaTimer.ticket_id == ticket.id, SlaTimer.kind == DeadlineKind.REPLY.value)
        .order_by(SlaTimer.id.desc())
    ).first()
    if last is not None and last.state == DONE:
        warned = last.warn_at is not None and aware(last.warn_at) <= now
        last.state = WARNED if warned and last.fired_at is not None else PENDING
        last.updated_at = now


def on_ticket_action(
    session: Session,
    *,
    ticket: Ticket,
    action: Action,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Keep the ticket's timers in step with the action just applied (same transaction)."""
    status = Status(ticket.status)
    if status.is_terminal:
        _finish(active_timers(session, ticket.id), CANCELLED, now)
    elif action in (Action.DISPATCH, Action.RULE):
        _on_dispatch(session, ticket, now)
    elif action in STOPPED_BY:
        _finish(active_timers(session, ticket.id, STOPPED_BY[action]), DONE, now)
    elif action is Action.APPROVE_SUSPENSION:
        _suspend(session, ticket, now)
    elif action is Action.RESUME:
        _resume(session, ticket, now)
    elif action is Action.APPROVE_EXTENSION:
        days = (payload or {}).get("days")
        _extend(session, ticket, days if isinstance(days, int) else DEFAULT_EXTENSION_DAYS, now)
    elif action is Action.RATE_UNSATISFIED:
        _redo(session, ticket, now)
    elif action is Action.REJECT_REPLY:
        _reopen_reply(session, ticket, now)
    elif action is Action.RETURN:
        # The unit gave it back: its clocks stop; the centre's ruling decides who pays.
        _finish(
            active_timers(session, ticket.id, [DeadlineKind.ACCEPTANCE, DeadlineKind.REPLY]),
            CANCELLED,
            now,
        )
    if status in WAITING_FOR_DISPATCH:
        start_dispatch_timer(session, ticket=ticket, now=now)
    session.flush()
