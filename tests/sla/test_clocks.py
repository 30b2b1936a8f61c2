"""A ticket's clocks on the unit's working calendar, its co-units' clocks, and who pays for
a return: with a moved clock, as a dispatcher and a unit would see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.assessment import service as assessment
from minyi.assessment.models import Card
from minyi.core.clock import FixedClock, aware
from minyi.sla import service as sla
from minyi.sla.calendar import service as calendar_service
from minyi.sla.deadlines import DeadlineKind
from minyi.sla.tasks import fire_due
from minyi.tickets import service as tickets
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from tests.factories import World, make_ticket, make_world
from tests.sla.test_timers import act, timer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def bj(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def dispatch_at(session: Session, clock: FixedClock, when: datetime) -> tuple[World, Ticket]:
    clock.set(when)
    world = make_world(session)
    ticket = make_ticket(session, world)
    act(session, ticket, Action.DISPATCH, "dispatcher", clock)
    return world, ticket


def test_the_reply_is_due_five_working_days_later_over_a_weekend(
    session: Session, clock: FixedClock
) -> None:
    # The item's list: response level 15 working days, completion 5: the stricter governs.
    _, ticket = dispatch_at(session, clock, bj(2026, 11, 20, 17))  # Friday 17:00
    reply = timer(session, ticket, "reply")
    assert aware(reply.due_at) == bj(2026, 11, 27, 18)  # Mon–Fri the week after
    assert ticket.due_at is not None and aware(ticket.due_at) == aware(reply.due_at)
    assert reply.span_kind == "working_days" and reply.span_amount == 5


def test_the_reply_skips_national_day_and_counts_the_make_up_saturday(
    session: Session, clock: FixedClock
) -> None:
    # Wednesday 30 September: 8, 9, 10 (make-up Saturday), 12, 13 October.
    _, ticket = dispatch_at(session, clock, bj(2026, 9, 30, 10))
    assert aware(timer(session, ticket, "reply").due_at) == bj(2026, 10, 13, 18)
    # Two working hours to accept from 10:00: 12:00 the same day.
    assert aware(timer(session, ticket, "acceptance").due_at) == bj(2026, 9, 30, 12)


def test_a_dispatch_at_night_gives_the_unit_working_hours_from_the_morning(
    session: Session, clock: FixedClock
) -> None:
    _, ticket = dispatch_at(session, clock, bj(2026, 11, 24, 23))
    assert aware(timer(session, ticket, "acceptance").due_at) == bj(2026, 11, 25, 11)
    # Contact is natural time: 24 hours, night or not.
    assert aware(timer(session, ticket, "contact").due_at) == bj(2026, 11, 25, 23)


def test_the_contact_clock_stops_when_the_unit_contacts_the_citizen(
    session: Session, clock: FixedClock
) -> None:
    _, ticket = dispatch_at(session, clock, bj(2026, 11, 24, 9))
    act(session, ticket, Action.ACCEPT, "handler", clock)
    assert timer(session, ticket, "contact").state == "pending"
    clock.advance(timedelta(hours=3))
    act(session, ticket, Action.CONTACT, "handler", clock)
    assert timer(session, ticket, "contact").state == "done"
    assert timer(session, ticket, "reply").state == "pending"


def test_a_missed_contact_gives_the_unit_a_yellow_card(session: Session, clock: FixedClock) -> None:
    world, ticket = dispatch_at(session, clock, bj(2026, 11, 24, 9))
    act(session, ticket, Action.ACCEPT, "handler", clock)
    clock.set(bj(2026, 11, 25, 9, 1))
    fire_due(session, now=clock.now())
    cards = assessment.cards_for_ticket(session, ticket.id)
    assert [(c.unit_id, c.color, c.deadline_kind) for c in cards] == [
        (world.bureau.id, "yellow", "contact")
    ]


def test_summoned_co_units_get_report_and_reply_clocks_and_their_own_cards(
    session: Session, clock: FixedClock
) -> None:
    world, ticket = dispatch_at(session, clock, bj(2026, 11, 24, 9))
    act(session, ticket, Action.ACCEPT, "handler", clock)
    act(session, ticket, Action.CONTACT, "handler", clock)
    act(session, ticket, Action.SUMMON, "handler", clock, unit_ids=[world.other_unit.id])
    co = next(c for c in ticket.co_units if c.unit_id == world.other_unit.id)
    report = timer(session, ticket, "co_report")
    co_reply = timer(session, ticket, "co_reply")
    assert report.unit_id == co_reply.unit_id == world.other_unit.id
    # Four working hours to report from 09:00 (lunch excluded), three working days to answer.
    assert aware(report.due_at) == bj(2026, 11, 24, 14, 30)
    assert aware(co_reply.due_at) == bj(2026, 11, 27, 18)
    assert co.report_due_at is not None and aware(co.report_due_at) == aware(report.due_at)
    # The co-unit reports late: the yellow card is the co-unit's, not the lead unit's.
    clock.set(bj(2026, 11, 24, 15))
    fire_due(session, now=clock.now())
    act(session, ticket, Action.REPORT, "other-handler", clock)
    assert timer(session, ticket, "co_report").state != "pending"
    assert sla.active_timers(session, ticket.id, [DeadlineKind.CO_REPORT]) == []
    cards = session.scalars(select(Card).where(Card.ticket_id == ticket.id)).all()
    assert [(c.unit_id, c.deadline_kind) for c in cards] == [(world.other_unit.id, "co_report")]
    # Its sub-reply stops the last co-unit clock.
    act(session, ticket, Action.CO_REPLY, "other-handler", clock, text="已到场配合")
    assert timer(session, ticket, "co_reply").state == "done"


def test_the_summoner_may_set_the_co_unit_lengths_in_hours(
    session: Session, clock: FixedClock
) -> None:
    world, ticket = dispatch_at(session, clock, bj(2026, 11, 24, 9))
    act(session, ticket, Action.ACCEPT, "handler", clock)
    act(
        session,
        ticket,
        Action.SUMMON,
        "handler",
        clock,
        unit_ids=[world.other_unit.id],
        report_hours=1,
        reply_hours=48,
    )
    assert aware(timer(session, ticket, "co_report").due_at) == bj(2026, 11, 24, 10)
    assert aware(timer(session, ticket, "co_reply").due_at) == bj(2026, 11, 26, 9)
    act(session, ticket, Action.EXCUSE_CO_UNIT, "dispatcher", clock, unit_id=world.other_unit.id)
    assert sla.active_timers(session, ticket.id, [DeadlineKind.CO_REPLY]) == []


def test_a_rejected_return_is_charged_to_the_returning_unit_which_keeps_its_first_clocks(
    session: Session, clock: FixedClock
) -> None:
    world, ticket = dispatch_at(session, clock, bj(2026, 11, 24, 9))
    first_reply = aware(timer(session, ticket, "reply").due_at)
    clock.set(bj(2026, 11, 24, 10))
    act(session, ticket, Action.RETURN, "handler", clock)
    # Back at the centre: the returned clocks do not fire, a dispatch clock runs again.
    assert sla.active_timers(session, ticket.id, [DeadlineKind.REPLY]) == []
    assert timer(session, ticket, "dispatch").state == "pending"
    clock.set(bj(2026, 11, 24, 15))
    act(session, ticket, Action.DISPATCH, "dispatcher", clock, unit_id=world.bureau.id)
    # The return did not stand: 4.5 working hours (09:00–15:00 less lunch) on the bureau.
    charges = assessment.charges_for_ticket(session, ticket.id)
    assert [(c.unit_id, c.reason, c.seconds) for c in charges] == [
        (world.bureau.id, "return_rejected", 4.5 * 3600)
    ]
    # Its reply clock runs from the first dispatch: returning bought it no time.
    assert aware(timer(session, ticket, "reply").due_at) == first_reply
    assert ticket.due_at is not None and aware(ticket.due_at) == first_reply
    notes = [e for e in tickets.timeline(session, ticket.id) if e.action == "return_charged"]
    assert len(notes) == 1 and "计入T1区生态环境分局" in (notes[0].reason or "")
    dispatch_event = next(
        e for e in reversed(tickets.timeline(session, ticket.id)) if e.action == "dispatch"
    )
    assert dispatch_event.seq < notes[0].seq  # the timeline reads in order


def test_a_return_the_ruling_rejects_is_never_the_next_units_time(
    session: Session, clock: FixedClock
) -> None:
    world, ticket = dispatch_at(session, clock, bj(2026, 11, 24, 9))
    clock.set(bj(2026, 11, 25, 9))
    act(session, ticket, Action.RETURN, "handler", clock)
    clock.set(bj(2026, 11, 25, 11))
    act(
        session,
        ticket,
        Action.DISPATCH,
        "dispatcher",
        clock,
        unit_id=world.street_office.id,
        return_upheld=False,
    )
    charges = assessment.charges_for_ticket(session, ticket.id)
    # 24 Nov 09:00 → 25 Nov 11:00: a working day (7.5 h) and two hours.
    assert [(c.unit_id, c.seconds) for c in charges] == [(world.bureau.id, 9.5 * 3600)]
    # The street office starts afresh: its reply is 5 working days from now.
    reply = timer(session, ticket, "reply")
    assert reply.unit_id == world.street_office.id
    assert aware(reply.started_at) == clock.now()
    assert aware(reply.due_at) == bj(2026, 12, 2, 18)


def test_an_upheld_return_is_the_centres_and_the_next_unit_starts_afresh(
    session: Session, clock: FixedClock
) -> None:
    world, ticket = dispatch_at(session, clock, bj(2026, 11, 24, 9))
    clock.set(bj(2026, 11, 24, 10))
    act(session, ticket, Action.RETURN, "handler", clock)
    clock.set(bj(2026, 11, 24, 10, 30))
    act(session, ticket, Action.DISPATCH, "dispatcher", clock, unit_id=world.street_office.id)
    charges = assessment.charges_for_ticket(session, ticket.id)
    assert [(c.unit_id, c.reason, c.seconds) for c in charges] == [
        (None, "return_upheld", 1.5 * 3600)
    ]
    assert aware(timer(session, ticket, "acceptance").started_at) == clock.now()


def test_a_deadline_in_a_year_without_holidays_warns_on_the_ticket(
    session: Session, clock: FixedClock
) -> None:
    calendar_service.clear_cache()
    # Monday 28 December 2026 with 5 working days: the deadline lands in 2027.
    world, ticket = dispatch_at(session, clock, bj(2026, 12, 28, 10))
    reply = timer(session, ticket, "reply")
    assert aware(reply.due_at) == bj(2027, 1, 4, 18)  # weekends only: Jan 1 is not known
    warnings = [e for e in tickets.timeline(session, ticket.id) if e.action == "calendar_fallback"]
    assert warnings and "请管理员录入该年节假日" in (warnings[0].reason or "")
    # Once an admin enters New Year's Day 2027 the next dispatch counts it.
    calendar_service.add_day(
        session, day=datetime(2027, 1, 1).date(), kind="holiday", name="元旦", actor="admin"
    )
    other = make_ticket(session, world)
    act(session, other, Action.DISPATCH, "dispatcher", clock)
    assert aware(timer(session, other, "reply").due_at) == bj(2027, 1, 5, 18)


def test_an_urgent_appeal_at_night_must_be_dispatched_in_30_minutes_or_the_centre_is_carded(
    session: Session, clock: FixedClock
) -> None:
    clock.set(bj(2026, 11, 21, 23))  # Saturday 23:00: the centre works around the clock
    world = make_world(session)
    ticket = make_ticket(session, world)
    ticket.received_at = clock.now()
    ticket.urgency = "urgent"
    started = sla.start_dispatch_timer(session, ticket=ticket, now=clock.now())
    assert started is not None and aware(started.due_at) == bj(2026, 11, 21, 23, 30)
    assert aware(started.warn_at) == bj(2026, 11, 21, 23, 24)  # type: ignore[arg-type]
    clock.set(bj(2026, 11, 21, 23, 31))
    fire_due(session, now=clock.now())
    # No district centre holds it: the city centre answers for the late dispatch.
    cards = assessment.cards_for_ticket(session, ticket.id)
    assert [(c.unit_id, c.deadline_kind) for c in cards] == [(world.city_centre.id, "dispatch")]
