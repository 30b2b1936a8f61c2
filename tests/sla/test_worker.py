"""The SLA worker: warnings at 80 %, the card ladder when deadlines pass, fired once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from minyi.assessment import service as assessment
from minyi.assessment.models import Card
from minyi.catalogue import service as catalogue_service
from minyi.core.clock import FixedClock, aware
from minyi.notify.models import OutboxMessage
from minyi.sla import service as sla
from minyi.sla.models import SlaTimer
from minyi.sla.tasks import fire_due
from minyi.tickets import service as tickets
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from tests.factories import make_ticket, make_world
from tests.sla.test_timers import START, act, dispatched, timer


def notes(session: Session, ticket: Ticket) -> list[str]:
    kinds = ("deadline_warning", "yellow_card", "red_card", "escalate")
    return [e.action for e in tickets.timeline(session, ticket.id) if e.action in kinds]


def templates(session: Session, ticket: Ticket) -> list[str]:
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.event_type.like("sla.%")))
    return [m.payload["template"] for m in rows if m.payload.get("ticket_id") == ticket.id]


def test_the_unit_is_warned_at_80_percent_of_the_acceptance_time(
    session: Session, clock: FixedClock
) -> None:
    _, ticket = dispatched(session, clock)
    clock.set(START + timedelta(hours=1, minutes=35))
    assert fire_due(session, now=clock.now()).warnings == 0
    clock.set(START + timedelta(hours=1, minutes=36))
    assert fire_due(session, now=clock.now()).warnings == 1
    assert fire_due(session, now=clock.now()).claimed == 0  # fired once
    assert notes(session, ticket) == ["deadline_warning"]
    assert templates(session, ticket) == ["staff.warning"]
    assert timer(session, ticket, "acceptance").state == "warned"


def test_an_overdue_acceptance_gives_a_yellow_card_then_a_red_card_up_the_ladder(
    session: Session, clock: FixedClock
) -> None:
    world, ticket = dispatched(session, clock)
    clock.set(START + timedelta(hours=1, minutes=40))
    fire_due(session, now=clock.now())
    clock.set(START + timedelta(hours=2))
    report = fire_due(session, now=clock.now())
    assert report.cards == 1 and report.escalations == 1
    [card] = assessment.cards_for_ticket(session, ticket.id)
    assert (card.color, card.unit_id, card.deadline_kind) == (
        "yellow",
        world.bureau.id,
        "acceptance",
    )
    acceptance = timer(session, ticket, "acceptance")
    assert acceptance.state == "escalated_leader" and acceptance.escalation_level == 1
    leader_due = aware(acceptance.due_at)
    assert leader_due > clock.now()  # the leader has a working day
    assert notes(session, ticket) == ["deadline_warning", "yellow_card", "escalate"]
    assert {"staff.overdue", "staff.escalation"} <= set(templates(session, ticket))

    clock.set(leader_due - timedelta(seconds=1))
    fire_due(session, now=clock.now())  # the 24 h contact clock has passed meanwhile
    assert acceptance.escalation_level == 1
    clock.set(leader_due)
    assert fire_due(session, now=clock.now()).cards == 1
    colors = [
        c.color
        for c in assessment.cards_for_ticket(session, ticket.id)
        if c.deadline_kind != "contact"
    ]
    assert colors == ["yellow", "red"]
    assert acceptance.state == "escalated_supervisor" and acceptance.escalation_level == 2
    # The supervisor (督办) sits at the city centre: its inbox hears of the red card.
    to_centre = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.event_type == "sla.escalation",
            OutboxMessage.target == f"unit:{world.city_centre.id}",
        )
    ).all()
    assert [m.payload.get("ticket_id") for m in to_centre] == [ticket.id]
    assert fire_due(session, now=clock.now()).claimed == 0


def test_acceptance_before_the_deadline_gives_no_card(session: Session, clock: FixedClock) -> None:
    _, ticket = dispatched(session, clock)
    clock.set(START + timedelta(hours=1, minutes=50))
    fire_due(session, now=clock.now())  # warned
    act(session, ticket, Action.ACCEPT, "handler", clock)
    act(session, ticket, Action.CONTACT, "handler", clock)
    clock.set(START + timedelta(days=3))
    fire_due(session, now=clock.now())
    assert assessment.cards_for_ticket(session, ticket.id) == []
    assert timer(session, ticket, "acceptance").state == "done"


def test_a_worker_back_after_downtime_fires_each_rung_once(
    session: Session, clock: FixedClock
) -> None:
    _, ticket = dispatched(session, clock)
    # Down for eight days: the warning is skipped, and the yellow and red cards (and the
    # supervisor's red card) each come once; firing again changes nothing.
    clock.set(START + timedelta(days=8))
    fire_due(session, now=clock.now())
    fire_due(session, now=clock.now())
    cards = sorted(
        (c.color, c.deadline_kind)
        for c in assessment.cards_for_ticket(session, ticket.id)
        if c.deadline_kind != "reply"
    )
    # The acceptance and the contact clocks both passed: each climbs its ladder once.
    ladder = [("red", "leader"), ("red", "supervisor")]
    assert cards == sorted([("yellow", "acceptance"), ("yellow", "contact"), *ladder, *ladder])
    acceptance = timer(session, ticket, "acceptance")
    assert acceptance.state == "overdue"
    assert "deadline_warning" not in [
        e.action
        for e in tickets.timeline(session, ticket.id)
        if (e.payload or {}).get("deadline_kind") == "acceptance"
    ]


def test_a_suspended_clock_does_not_fire(session: Session, clock: FixedClock) -> None:
    _, ticket = dispatched(session, clock)
    act(session, ticket, Action.ACCEPT, "handler", clock)
    act(session, ticket, Action.REQUEST_SUSPENSION, "handler", clock)
    act(session, ticket, Action.APPROVE_SUSPENSION, "dispatcher", clock)
    clock.set(START + timedelta(days=30))
    assert fire_due(session, now=clock.now()).claimed == 0
    assert assessment.cards_for_ticket(session, ticket.id) == []


def test_two_workers_at_once_fire_every_timer_exactly_once(
    scratch_db: tuple[Engine, str],
) -> None:
    engine, _ = scratch_db
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: there is no concurrency to test")
    count = 12
    clock = FixedClock(START)
    catalogue_service.get_index().clear()  # the lists of this database, not the last test's
    with Session(engine) as setup:
        world = make_world(setup)
        for _ in range(count):
            ticket = make_ticket(setup, world)
            act(setup, ticket, Action.DISPATCH, "dispatcher", clock)
        setup.commit()
    now = START + timedelta(hours=2)  # every acceptance deadline has just passed
    start = threading.Barrier(2, timeout=10)

    def worker() -> int:
        fired = 0
        start.wait()
        while True:
            with Session(engine) as s:
                report = fire_due(s, now=now, limit=2)
                s.commit()
            if report.claimed == 0:
                return fired
            fired += report.cards

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result() for f in [pool.submit(worker), pool.submit(worker)]]

    with Session(engine) as check:
        assert sum(results) == count
        assert check.scalar(select(func.count()).select_from(Card)) == count
        states = check.scalars(select(SlaTimer.state).where(SlaTimer.kind == "acceptance"))
        assert sorted(states) == [sla.ESCALATED_LEADER] * count
    catalogue_service.get_index().clear()


def test_triage_starts_the_dispatch_clock_and_a_late_dispatch_is_escalated(
    session: Session, clock: FixedClock
) -> None:
    from minyi.triage import service as triage
    from tests.triage.test_service import _engine, _fresh

    world = make_world(session)
    ticket = _fresh(session, world)
    triage.triage_ticket(session, ticket=ticket, engine=_engine(world, 0.4), clock=clock)
    assert ticket.status == "received"  # waiting for a dispatcher
    dispatch = timer(session, ticket, "dispatch")
    assert ticket.dispatch_due_at is not None
    assert aware(dispatch.due_at) == aware(ticket.dispatch_due_at)
    clock.set(aware(dispatch.due_at))
    fire_due(session, now=clock.now())
    assert dispatch.state == "escalated_leader"
    assert "escalate" in notes(session, ticket)
    act(session, ticket, Action.DISPATCH, "dispatcher", clock)
    assert dispatch.state == "done"


def test_the_worker_skips_a_ticket_a_handler_is_acting_on(
    scratch_db: tuple[Engine, str],
) -> None:
    engine, _ = scratch_db
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: there is no concurrency to test")
    clock = FixedClock(START)
    catalogue_service.get_index().clear()
    with Session(engine) as setup:
        world = make_world(setup)
        ticket = make_ticket(setup, world)
        act(setup, ticket, Action.DISPATCH, "dispatcher", clock)
        setup.commit()
        ticket_id = ticket.id
    clock.set(START + timedelta(hours=2))
    with Session(engine) as handler, Session(engine) as worker:
        # The citizen adds information: that transaction holds the ticket, not its timers.
        held = handler.get(Ticket, ticket_id)
        assert held is not None
        act(handler, held, Action.SUPPLEMENT, "requester", clock, text="晚上十二点还在施工")
        # The worker neither waits for it nor fires half of it: it comes back next pass.
        assert fire_due(worker, now=clock.now()).claimed == 0
        worker.commit()
        handler.commit()
        assert fire_due(worker, now=clock.now()).cards == 1
        worker.commit()
    catalogue_service.get_index().clear()
