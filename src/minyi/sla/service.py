"""Starting, stopping and moving a ticket's SLA timers as the ticket moves.

`on_ticket_action` is called by `tickets.effects.after` inside every action's transaction,
so a timer never disagrees with the status it belongs to. The deadline maths is
`sla.deadlines`; this module only stores its answers. `Ticket.due_at` stays equal to the
reply timer's due time (the workbench and the overdue queries read it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.assessment import service as assessment
from minyi.assessment.domain import ChargeReason, charge_reason_zh
from minyi.catalogue.domain import ResponseLevel
from minyi.core.clock import Clock, FixedClock, aware
from minyi.org.models import Unit
from minyi.sla import deadlines
from minyi.sla.calendar import service as calendar_service
from minyi.sla.calendar.domain import Duration, DurationKind, warning_text
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
RETURNED = "returned"  # stopped by a return until the centre's ruling settles who pays
# States the worker still watches (a suspended row is skipped by its remaining_seconds).
ACTIVE = (PENDING, WARNED, ESCALATED_LEADER, ESCALATED_SUPERVISOR)
WAITING_FOR_DISPATCH = (
    Status.RECEIVED,
    Status.PENDING_DISPATCH,
    Status.DISTRICT_PENDING,
    Status.RETURNED,
)
# The clocks of the unit a ticket is dispatched to; a re-dispatch replaces them.
UNIT_CLOCKS = (DeadlineKind.ACCEPTANCE, DeadlineKind.CONTACT, DeadlineKind.REPLY)
# The unit's clocks that the unit's own action stops.
STOPPED_BY: Mapping[Action, tuple[DeadlineKind, ...]] = {
    Action.ACCEPT: (DeadlineKind.ACCEPTANCE,),
    Action.CONTACT: (DeadlineKind.CONTACT,),
    Action.REPLY: (DeadlineKind.REPLY,),
    Action.APPROVE_REPLY: (DeadlineKind.REPLY,),
    Action.ANSWER: (DeadlineKind.DISPATCH,),
}
DEFAULT_EXTENSION_DAYS = 5
# The configurable lengths; `return_visit` is left for the assessment work to set.
POLICY = deadlines.DEFAULT_POLICY
RATED = (Action.RATE_SATISFIED, Action.RATE_UNSATISFIED, Action.RATE_UNSATISFIED_AFTER_REDO)


_NOTES_KEY = "minyi.sla.notes"
PendingNote = tuple[int, str, str, dict[str, Any]]


def _pending_notes(session: Session) -> list[PendingNote]:
    """Timeline notes a clock change gives rise to, written after the action's own event
    (`record_pending_notes`, from `tickets.effects.followups`) so the timeline reads in
    order: the dispatch, then what it meant for the clocks."""
    notes: list[PendingNote] = session.info.setdefault(_NOTES_KEY, [])
    return notes


def record_pending_notes(session: Session, *, now: datetime, clock: Clock | None = None) -> None:
    from minyi.tickets import service as tickets
    from minyi.tickets.access import Principal

    notes = session.info.pop(_NOTES_KEY, [])
    for ticket_id, note, reason, payload in notes:
        tickets.record_note(
            session,
            ticket_id=ticket_id,
            note=note,
            principal=Principal(session=session, system=True),
            reason=reason,
            payload=payload,
            clock=clock or FixedClock(now),
        )


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
    if deadline.warnings:
        # A year the holiday tables do not know: counted on weekends only until an admin
        # enters that year's arrangement; the handler should know the date may move.
        _pending_notes(session).append(
            (
                ticket.id,
                "calendar_fallback",
                f"{deadline.basis}：{'；'.join(warning_text(w)[0] for w in deadline.warnings)}",
                {"deadline_kind": deadline.kind.value, "due_at": deadline.due_at.isoformat()},
            )
        )
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
    """The centre's dispatch clock while the ticket waits for a dispatcher, one at a time.

    The first runs from receipt to `Ticket.dispatch_due_at` (set by triage from the
    urgency; without triage, the policy's length for the urgency). A ticket back at the
    centre after a return gets a fresh one from now: the centre must re-dispatch it.
    """
    if active_timers(session, ticket.id, [DeadlineKind.DISPATCH]):
        return None
    had_one = session.scalar(
        select(SlaTimer.id).where(
            SlaTimer.ticket_id == ticket.id, SlaTimer.kind == DeadlineKind.DISPATCH.value
        )
    )
    received = aware(ticket.received_at) if ticket.received_at is not None else now
    if had_one is None and ticket.dispatch_due_at is not None:
        start, due = received, aware(ticket.dispatch_due_at)
        span = Duration(DurationKind.NATURAL, max((due - start).total_seconds(), 0) / 3600)
        deadline = deadlines.TicketDeadline(
            DeadlineKind.DISPATCH, deadlines.Responsible.CENTRE, start, due, span, "派单时限"
        )
    else:
        deadline = deadlines.deadline_for(
            DeadlineKind.DISPATCH,
            start=received if had_one is None else now,
            calendar=deadlines.NATURAL_TIME,
            urgency=_urgency(ticket),
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


def _dispatch_rule(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The implementation list's reply and contact rules as `prepare` put them in the
    payload; an item outside the lists gets the longest level (15 working days)."""
    try:
        level = ResponseLevel(str(payload.get("response_level")))
    except ValueError:
        level = ResponseLevel.D15
    completion = payload.get("completion_days")
    contact = payload.get("contact_hours")
    return {
        "response_level": level,
        "completion_days": completion if isinstance(completion, int) else None,
        "contact_hours": contact if isinstance(contact, int) else None,
    }


def _charge_return(
    session: Session,
    ticket: Ticket,
    returned: Sequence[SlaTimer],
    payload: Mapping[str, Any],
    now: datetime,
) -> bool:
    """Settle the time a return cost; True when the same unit keeps its first clocks."""
    returning_unit = returned[0].unit_id
    if returning_unit is None or ticket.lead_unit_id is None:
        return False
    dispatched_at = min(aware(t.started_at) for t in returned)
    upheld = payload.get("return_upheld")
    if not isinstance(upheld, bool):
        # Sent back to the unit that returned it: the return did not stand.
        upheld = ticket.lead_unit_id != returning_unit
    calendar = calendar_service.get_calendar(session)
    charge = deadlines.charge_return(
        returning_unit_id=returning_unit,
        dispatched_at=dispatched_at,
        redispatched_at=now,
        return_upheld=upheld,
        next_unit_id=ticket.lead_unit_id,
        calendar=calendar,
    )
    reason = ChargeReason.RETURN_UPHELD if upheld else ChargeReason.RETURN_REJECTED
    assessment.charge_time(
        session,
        ticket_id=ticket.id,
        unit_id=charge.unit_id if charge.unit_id is not None else ticket.centre_unit_id,
        reason=reason,
        seconds=charge.seconds,
        started_at=dispatched_at,
        ended_at=now,
        now=now,
    )
    unit = session.get(Unit, returning_unit)
    _pending_notes(session).append(
        (
            ticket.id,
            "return_charged",
            charge_reason_zh(reason, charge.seconds / 3600, unit.name if unit else "退单单位"),
            {
                "unit_id": charge.unit_id,
                "returning_unit_id": returning_unit,
                "seconds": round(charge.seconds),
                "upheld": upheld,
            },
        )
    )
    return not charge.restart_clocks


def _on_dispatch(
    session: Session, ticket: Ticket, now: datetime, payload: Mapping[str, Any]
) -> None:
    # A re-dispatch replaces the previous unit's clocks; the dispatch clock has stopped.
    _finish(active_timers(session, ticket.id, [DeadlineKind.DISPATCH]), DONE, now)
    _finish(active_timers(session, ticket.id, UNIT_CLOCKS), CANCELLED, now)
    returned = [t for t in timers_for_ticket(session, ticket.id) if t.state == RETURNED]
    keep_first_clocks = bool(returned) and _charge_return(session, ticket, returned, payload, now)
    calendar = calendar_service.get_calendar(session)
    rule = _dispatch_rule(payload)
    planned = [
        deadlines.deadline_for(
            DeadlineKind.ACCEPTANCE, start=now, calendar=calendar, urgency=_urgency(ticket)
        ),
        deadlines.deadline_for(
            DeadlineKind.CONTACT,
            start=now,
            calendar=calendar,
            contact_hours=rule["contact_hours"],
        ),
        deadlines.deadline_for(
            DeadlineKind.REPLY,
            start=now,
            calendar=calendar,
            response_level=rule["response_level"],
            completion_days=rule["completion_days"],
        ),
    ]
    if keep_first_clocks:
        # The return did not stand and the unit has it back: its contact and reply clocks
        # run on from the first dispatch, so returning bought it no time.
        first = {t.kind: t for t in returned}
        planned = [
            _as_deadline(first[d.kind.value])
            if d.kind is not DeadlineKind.ACCEPTANCE and d.kind.value in first
            else d
            for d in planned
        ]
    for deadline in planned:
        timer = _start(
            session,
            ticket=ticket,
            deadline=deadline,
            unit_id=ticket.lead_unit_id,
            now=now,
            calendar=calendar,
        )
        if deadline.kind is DeadlineKind.REPLY:
            ticket.due_at = timer.due_at
    _finish(returned, CANCELLED, now)


def _as_deadline(
    timer: SlaTimer, basis: str = "退单不成立，沿用首次派单时限"
) -> deadlines.TicketDeadline:
    """A stored clock as the rules' value, to carry it over (rejected return) or scale it (redo)."""
    kind = DeadlineKind(timer.kind)
    return deadlines.TicketDeadline(
        kind,
        deadlines.RULES[kind].responsible,
        aware(timer.started_at),
        aware(timer.due_at),
        Duration(DurationKind(timer.span_kind), timer.span_amount),
        basis,
    )


def _summon(session: Session, ticket: Ticket, now: datetime, payload: Mapping[str, Any]) -> None:
    """Each newly summoned co-unit gets a report and a sub-reply clock on its calendar; the
    summoner may set either length in natural hours (`report_hours`, `reply_hours`)."""
    calendar = calendar_service.get_calendar(session)
    summoned = set(payload.get("unit_ids") or [])
    for co in ticket.co_units:
        if co.unit_id not in summoned or co.report_due_at is not None:
            continue
        for kind, key in (
            (DeadlineKind.CO_REPORT, "report_hours"),
            (DeadlineKind.CO_REPLY, "reply_hours"),
        ):
            hours = payload.get(key)
            span = deadlines.natural_hours(float(hours)) if isinstance(hours, int | float) else None
            deadline = deadlines.deadline_for(kind, start=now, calendar=calendar, span=span)
            _start(
                session,
                ticket=ticket,
                deadline=deadline,
                unit_id=co.unit_id,
                now=now,
                calendar=calendar,
            )
            if kind is DeadlineKind.CO_REPORT:
                co.report_due_at = deadline.due_at
            else:
                co.reply_due_at = deadline.due_at


def _co_unit_answered(session: Session, ticket: Ticket, now: datetime) -> None:
    """A co-unit's report stops its report clock, its sub-reply or excuse stops both."""
    for co in ticket.co_units:
        stopped: list[DeadlineKind] = []
        if co.reported_at is not None or co.excused:
            stopped.append(DeadlineKind.CO_REPORT)
        if co.replied_at is not None or co.excused:
            stopped.append(DeadlineKind.CO_REPLY)
        if stopped:
            timers = [
                t for t in active_timers(session, ticket.id, stopped) if t.unit_id == co.unit_id
            ]
            _finish(timers, DONE, now)


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


def _last_reply_timer(session: Session, ticket_id: int) -> SlaTimer | None:
    """The newest reply clock, whatever its state (a redo's or a reopened reply's source)."""
    return session.scalars(
        select(SlaTimer)
        .where(SlaTimer.ticket_id == ticket_id, SlaTimer.kind == DeadlineKind.REPLY.value)
        .order_by(SlaTimer.id.desc())
    ).first()


def _redo(session: Session, ticket: Ticket, now: datetime) -> None:
    previous = _last_reply_timer(session, ticket.id)
    _finish(active_timers(session, ticket.id, [DeadlineKind.REPLY]), CANCELLED, now)
    if previous is None:
        return
    calendar = calendar_service.get_calendar(session)
    original = _as_deadline(previous)
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
    last = _last_reply_timer(session, ticket.id)
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
    # Notes left by an action whose transaction failed must not reach this one's timeline.
    session.info.pop(_NOTES_KEY, None)
    status = Status(ticket.status)
    if action in RATED:
        _finish(active_timers(session, ticket.id, [DeadlineKind.RETURN_VISIT]), DONE, now)
    if status.is_terminal:
        _finish(active_timers(session, ticket.id), CANCELLED, now)
    elif action in (Action.DISPATCH, Action.RULE):
        _on_dispatch(session, ticket, now, payload or {})
    elif action is Action.SUMMON:
        _summon(session, ticket, now, payload or {})
    elif action in (Action.DISPATCH_TO_DISTRICT, Action.RETURN_TO_CITY):
        # The dispatch clock runs on; the centre that now holds the ticket answers for it.
        for timer in active_timers(session, ticket.id, [DeadlineKind.DISPATCH]):
            timer.unit_id = ticket.centre_unit_id
            timer.updated_at = now
    elif action in (Action.REPORT, Action.CO_REPLY, Action.EXCUSE_CO_UNIT):
        _co_unit_answered(session, ticket, now)
    elif action in STOPPED_BY:
        _finish(active_timers(session, ticket.id, STOPPED_BY[action]), DONE, now)
        if action is Action.APPROVE_REPLY and POLICY.return_visit is not None:
            visit = deadlines.deadline_for(
                DeadlineKind.RETURN_VISIT,
                start=now,
                calendar=deadlines.NATURAL_TIME,
                policy=POLICY,
            )
            _start(
                session,
                ticket=ticket,
                deadline=visit,
                unit_id=ticket.centre_unit_id,
                now=now,
                calendar=deadlines.NATURAL_TIME,
            )
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
        # The unit gave it back: its clocks stop, kept until the centre's ruling (the next
        # dispatch) settles who pays for the time.
        _finish(active_timers(session, ticket.id, UNIT_CLOCKS), RETURNED, now)
    if status in WAITING_FOR_DISPATCH:
        start_dispatch_timer(session, ticket=ticket, now=now)
    session.flush()


@dataclass(frozen=True, slots=True)
class ClockView:
    """One clock of a ticket as staff see it: what, who, until when, how much is left."""

    timer: SlaTimer
    label_zh: str
    unit_name: str | None
    time_base: deadlines.TimeBase
    seconds_left: float | None  # on the clock's own time; None once it is done
    time_left_zh: str
    state_zh: str


def clocks_for_ticket(session: Session, ticket: Ticket, now: datetime) -> list[ClockView]:
    """Every clock the ticket has run, the running ones first, with the time left now."""
    calendar = calendar_service.get_calendar(session)
    views: list[ClockView] = []
    for timer in timers_for_ticket(session, ticket.id):
        kind = DeadlineKind(timer.kind)
        base = (
            deadlines.TimeBase.NATURAL
            if timer.span_kind == DurationKind.NATURAL.value
            else deadlines.TimeBase.UNIT_CALENDAR
        )
        cal = deadlines.NATURAL_TIME if base is deadlines.TimeBase.NATURAL else calendar
        left: float | None = None
        left_zh = deadlines.TIMER_STATE_ZH.get(timer.state, timer.state)
        if timer.state in ACTIVE:
            paused = timer.remaining_seconds is not None
            left = (
                timer.remaining_seconds
                if timer.remaining_seconds is not None
                else deadlines.time_left(now, aware(timer.due_at), cal)
            )
            left_zh = deadlines.time_left_zh(left, base, paused=paused)
        unit = session.get(Unit, timer.unit_id) if timer.unit_id is not None else None
        label = deadlines.clock_label_zh(kind, timer.escalation_level)
        views.append(
            ClockView(
                timer=timer,
                label_zh=label,
                unit_name=unit.name if unit is not None else None,
                time_base=base,
                seconds_left=left,
                time_left_zh=left_zh,
                state_zh=deadlines.TIMER_STATE_ZH.get(timer.state, timer.state),
            )
        )
    views.sort(key=lambda v: (v.timer.state not in ACTIVE, aware(v.timer.due_at)))
    return views
