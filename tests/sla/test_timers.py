"""SLA timers follow the ticket: started at dispatch, stopped, paused, moved, cancelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock, aware
from minyi.org.models import User
from minyi.sla import deadlines
from minyi.sla import service as sla
from minyi.sla.models import SlaTimer
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from tests.factories import World, make_ticket, make_world

START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def act(
    session: Session,
    ticket: Ticket,
    action: Action,
    who: str | None,
    clock: FixedClock,
    **payload: Any,
) -> Ticket:
    if who is None:
        principal = Principal(session=session, system=True)
    elif who == "requester":
        principal = Principal(session=session, tracking_ticket_id=ticket.id)
    else:
        user = session.scalars(select(User).where(User.username == who)).one()
        principal = Principal(session=session, user=user)
    return tickets.act(
        session,
        ticket_id=ticket.id,
        action=action,
        principal=principal,
        payload=payload,
        reason="测试",
        clock=clock,
    )


def dispatched(session: Session, clock: FixedClock) -> tuple[World, Ticket]:
    world = make_world(session)
    ticket = make_ticket(session, world)
    act(session, ticket, Action.DISPATCH, "dispatcher", clock)
    return world, ticket


def timer(session: Session, ticket: Ticket, kind: str) -> SlaTimer:
    rows = [t for t in sla.timers_for_ticket(session, ticket.id) if t.kind == kind]
    return rows[-1]


def test_dispatch_starts_the_acceptance_and_reply_clocks_of_the_lead_unit(
    session: Session, clock: FixedClock
) -> None:
    world, ticket = dispatched(session, clock)
    acceptance = timer(session, ticket, "acceptance")
    assert acceptance.unit_id == world.bureau.id and acceptance.state == "pending"
    # Two working hours from Monday 09:00: 11:00 in Shanghai; warned at 80 % (10:36).
    assert aware(acceptance.due_at) == START + timedelta(hours=2)
    assert aware(acceptance.warn_at) == START + timedelta(hours=1, minutes=36)  # type: ignore[arg-type]
    reply = timer(session, ticket, "reply")
    assert ticket.due_at is not None and aware(reply.due_at) == aware(ticket.due_at)


def test_acceptance_stops_its_clock_and_closing_cancels_the_rest(
    session: Session, clock: FixedClock
) -> None:
    _, ticket = dispatched(session, clock)
    clock.advance(timedelta(minutes=30))
    act(session, ticket, Action.ACCEPT, "handler", clock)
    assert timer(session, ticket, "acceptance").state == "done"
    assert timer(session, ticket, "reply").state == "pending"
    act(session, ticket, Action.WITHDRAW, "requester", clock)
    assert {t.state for t in sla.timers_for_ticket(session, ticket.id)} <= {"done", "cancelled"}
    assert sla.active_timers(session, ticket.id) == []


def test_suspension_keeps_the_time_left_and_resumption_gives_it_back(
    session: Session, clock: FixedClock
) -> None:
    _, ticket = dispatched(session, clock)
    act(session, ticket, Action.ACCEPT, "handler", clock)
    reply = timer(session, ticket, "reply")
    # Monday 09:00, five working days from the next one: due Monday 18:00 a week later.
    assert aware(reply.due_at) == START + timedelta(days=7, hours=9)
    act(session, ticket, Action.REQUEST_SUSPENSION, "handler", clock)
    clock.advance(timedelta(hours=3))  # suspended at 12:00 Monday: 4.5 + 5 × 7.5 hours left
    act(session, ticket, Action.APPROVE_SUSPENSION, "dispatcher", clock)
    assert reply.remaining_seconds == 42 * 3600
    clock.set(START + timedelta(days=3))  # resumed Thursday 09:00
    act(session, ticket, Action.RESUME, "dispatcher", clock)
    assert reply.remaining_seconds is None
    # Thu, Fri, Mon, Tue, Wed (37.5 h) and 4.5 h on Thursday: 09:00–12:00, 13:30–15:00.
    assert aware(reply.due_at) == START + timedelta(days=10, hours=6)
    assert ticket.due_at is not None and aware(ticket.due_at) == aware(reply.due_at)


def test_an_approved_extension_moves_the_reply_due(session: Session, clock: FixedClock) -> None:
    _, ticket = dispatched(session, clock)
    act(session, ticket, Action.ACCEPT, "handler", clock)
    before = aware(timer(session, ticket, "reply").due_at)
    act(session, ticket, Action.REQUEST_EXTENSION, "handler", clock, days=3)
    act(session, ticket, Action.APPROVE_EXTENSION, "dispatcher", clock, days=3)
    after = aware(timer(session, ticket, "reply").due_at)
    # Due Monday 9 November 18:00; three working days more: Thursday 12 November 18:00.
    assert after == before + timedelta(days=3)
    assert ticket.due_at is not None and aware(ticket.due_at) == after


def test_the_dispatch_clock_runs_from_receipt_until_dispatch(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    ticket.dispatch_due_at = aware(ticket.received_at) + timedelta(hours=8)
    started = sla.start_dispatch_timer(session, ticket=ticket, now=clock.now())
    assert started is not None and started.kind == "dispatch"
    assert sla.start_dispatch_timer(session, ticket=ticket, now=clock.now()) is None
    act(session, ticket, Action.DISPATCH, "dispatcher", clock)
    assert started.state == "done"


def replied(session: Session, clock: FixedClock) -> Ticket:
    _, ticket = dispatched(session, clock)
    act(session, ticket, Action.ACCEPT, "handler", clock)
    act(session, ticket, Action.CONTACT, "handler", clock)
    act(session, ticket, Action.CO_REPLY, "street-handler", clock, text="已配合")
    clock.advance(timedelta(hours=4))
    act(session, ticket, Action.REPLY, "handler", clock, text="已责令工地夜间停工")
    assert timer(session, ticket, "reply").state == "done"
    return ticket


def test_a_rejected_reply_lets_the_reply_clock_run_on(session: Session, clock: FixedClock) -> None:
    ticket = replied(session, clock)
    due = aware(timer(session, ticket, "reply").due_at)
    act(session, ticket, Action.REJECT_REPLY, "dispatcher", clock)
    reply = timer(session, ticket, "reply")
    assert reply.state == "pending" and aware(reply.due_at) == due


def test_a_bad_rating_starts_a_shorter_reply_clock(session: Session, clock: FixedClock) -> None:
    ticket = replied(session, clock)
    first = timer(session, ticket, "reply")
    first_span = aware(first.due_at) - aware(first.started_at)
    act(session, ticket, Action.APPROVE_REPLY, "dispatcher", clock)
    clock.advance(timedelta(days=1))
    act(session, ticket, Action.RATE_UNSATISFIED, "requester", clock)
    redo = timer(session, ticket, "reply")
    assert redo.id != first.id and redo.state == "pending"
    assert aware(redo.started_at) == clock.now()
    assert aware(redo.due_at) - clock.now() < first_span
    assert ticket.due_at is not None and aware(ticket.due_at) == aware(redo.due_at)


def test_the_return_visit_hook_runs_a_clock_until_the_rating_when_configured(
    session: Session, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = replied(session, clock)
    act(session, ticket, Action.APPROVE_REPLY, "dispatcher", clock)
    assert [t for t in sla.timers_for_ticket(session, ticket.id) if t.kind == "return_visit"] == []
    act(session, ticket, Action.RATE_UNSATISFIED, "requester", clock)
    clock.advance(timedelta(hours=2))
    act(session, ticket, Action.CONTACT, "handler", clock)
    act(session, ticket, Action.REPLY, "handler", clock, text="已重新处理，工地夜间停工")

    # The assessment work sets the window: 48 natural hours from the approval.
    monkeypatch.setattr(sla, "POLICY", deadlines.Policy(return_visit=deadlines.natural_hours(48)))
    act(session, ticket, Action.APPROVE_REPLY, "dispatcher", clock)
    visit = timer(session, ticket, "return_visit")
    assert aware(visit.due_at) == clock.now() + timedelta(hours=48)
    act(session, ticket, Action.RATE_SATISFIED, "requester", clock)
    assert visit.state == "done"
