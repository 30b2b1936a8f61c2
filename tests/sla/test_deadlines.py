"""The deadline rules of a ticket, pure: a simple calendar passed in, no database.

The simple calendar works Monday–Friday 09:00–17:00 UTC (8 working hours a day) with the
holidays a test gives it; a working-day span ends at the close of the Nth working day after
the day it starts, as the business calendar does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from minyi.catalogue.domain import ResponseLevel
from minyi.core.errors import ValidationFailed
from minyi.sla.calendar.domain import Deadline, Duration, DurationKind, default_calendar
from minyi.sla.deadlines import (
    NATURAL_TIME,
    RULES,
    Card,
    DeadlineKind,
    Policy,
    Responsible,
    TimeBase,
    calendar_for,
    charge_return,
    deadline_for,
    extend,
    next_step,
    redo_deadline,
    redo_span,
    resume,
    time_left,
    warn_at,
    working_days,
)
from minyi.triage.urgency import UrgencyLevel

OPEN_H, CLOSE_H = 9, 17
DAY = (CLOSE_H - OPEN_H) * 3600.0


@dataclass
class SimpleCalendar:
    holidays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, d: date, /) -> bool:
        return d.weekday() < 5 and d not in self.holidays

    def _window(self, d: date) -> tuple[datetime, datetime]:
        return (
            datetime(d.year, d.month, d.day, OPEN_H, tzinfo=UTC),
            datetime(d.year, d.month, d.day, CLOSE_H, tzinfo=UTC),
        )

    def add(self, start: datetime, duration: Duration, /) -> Deadline:
        if duration.kind is not DurationKind.WORKING_DAYS:
            return self.add_working_seconds(start, duration.amount * 3600)
        d, counted = start.date(), 0
        while counted < duration.amount:
            d += timedelta(days=1)
            counted += self.is_working_day(d)
        return Deadline(self._window(d)[1], ())

    def add_working_seconds(self, start: datetime, seconds: float, /) -> Deadline:
        d, left = start.date(), seconds
        while True:
            if self.is_working_day(d):
                lo, hi = self._window(d)
                lo = max(lo, start)
                if hi > lo:
                    if left <= (hi - lo).total_seconds():
                        return Deadline(lo + timedelta(seconds=left), ())
                    left -= (hi - lo).total_seconds()
            d += timedelta(days=1)

    def working_seconds_between(self, a: datetime, b: datetime, /) -> float:
        if b < a:
            return -self.working_seconds_between(b, a)
        total, d = 0.0, a.date()
        while d <= b.date():
            if self.is_working_day(d):
                lo, hi = self._window(d)
                lo, hi = max(lo, a), min(hi, b)
                total += max((hi - lo).total_seconds(), 0.0)
            d += timedelta(days=1)
        return total


CAL = SimpleCalendar()
# Thursday 2026-10-08 is a working day; Friday 9th too; the weekend follows.
THU_10 = datetime(2026, 10, 8, 10, 0, tzinfo=UTC)
FRI_16 = datetime(2026, 10, 9, 16, 0, tzinfo=UTC)
SAT_23 = datetime(2026, 10, 10, 23, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("urgency", "hours"),
    [
        (UrgencyLevel.URGENT, 0.5),
        (UrgencyLevel.EMERGENCY, 0.5),
        (UrgencyLevel.FAST, 2),
        (UrgencyLevel.ORDINARY, 8),
    ],
    ids=["urgent", "emergency", "fast", "ordinary"],
)
def test_dispatch_deadline_runs_on_natural_time_even_at_night(
    urgency: UrgencyLevel, hours: float
) -> None:
    d = deadline_for(DeadlineKind.DISPATCH, start=SAT_23, calendar=CAL, urgency=urgency)
    assert d.due_at == SAT_23 + timedelta(hours=hours)
    assert d.responsible is Responsible.CENTRE
    assert d.time_base is TimeBase.NATURAL


def test_acceptance_is_two_working_hours_over_the_weekend_and_urgent_is_30_natural_minutes() -> (
    None
):
    ordinary = deadline_for(DeadlineKind.ACCEPTANCE, start=FRI_16, calendar=CAL)
    assert ordinary.due_at == datetime(2026, 10, 12, 10, 0, tzinfo=UTC)  # Monday 10:00
    assert ordinary.responsible is Responsible.LEAD_UNIT
    urgent = deadline_for(
        DeadlineKind.ACCEPTANCE, start=FRI_16, calendar=CAL, urgency=UrgencyLevel.URGENT
    )
    assert urgent.due_at == FRI_16 + timedelta(minutes=30)


def test_contact_is_24_natural_hours_from_dispatch_unless_the_item_says_otherwise() -> None:
    default = deadline_for(DeadlineKind.CONTACT, start=FRI_16, calendar=CAL)
    assert default.due_at == FRI_16 + timedelta(hours=24)
    item = deadline_for(DeadlineKind.CONTACT, start=FRI_16, calendar=CAL, contact_hours=12)
    assert item.due_at == FRI_16 + timedelta(hours=12)


def test_reply_follows_the_response_level() -> None:
    h2 = deadline_for(
        DeadlineKind.REPLY, start=SAT_23, calendar=CAL, response_level=ResponseLevel.H2
    )
    assert h2.due_at == SAT_23 + timedelta(hours=2)
    d7 = deadline_for(
        DeadlineKind.REPLY, start=THU_10, calendar=CAL, response_level=ResponseLevel.D7
    )
    # Seven working days after Thursday 8th: Fri 9, Mon 12 … Fri 16, Mon 19 → close of the 19th.
    assert d7.due_at == datetime(2026, 10, 19, 17, 0, tzinfo=UTC)


def test_reply_takes_the_stricter_of_level_and_completion_period() -> None:
    # given a 15-day level and an item that must be finished in 3 working days
    d = deadline_for(
        DeadlineKind.REPLY,
        start=THU_10,
        calendar=CAL,
        response_level=ResponseLevel.D15,
        completion_days=3,
    )
    assert d.due_at == datetime(2026, 10, 13, 17, 0, tzinfo=UTC)
    assert d.span == working_days(3)
    assert "办结时限" in d.basis
    # a 24 h level is stricter than a 3-day period
    d = deadline_for(
        DeadlineKind.REPLY,
        start=THU_10,
        calendar=CAL,
        response_level=ResponseLevel.H24,
        completion_days=3,
    )
    assert d.due_at == THU_10 + timedelta(hours=24)
    assert "响应等级" in d.basis


def test_working_day_deadlines_skip_holidays() -> None:
    cal = SimpleCalendar(holidays=frozenset({date(2026, 10, 9), date(2026, 10, 12)}))
    d = deadline_for(
        DeadlineKind.REPLY,
        start=THU_10,
        calendar=cal,
        response_level=ResponseLevel.D15,
        completion_days=2,
    )
    assert d.due_at == datetime(2026, 10, 14, 17, 0, tzinfo=UTC)


def test_co_unit_deadlines_are_charged_to_the_co_unit_on_its_own_calendar() -> None:
    co_cal = SimpleCalendar(holidays=frozenset({date(2026, 10, 9)}))
    report = deadline_for(DeadlineKind.CO_REPORT, start=THU_10, calendar=co_cal)
    assert report.responsible is Responsible.CO_UNIT
    assert report.due_at == datetime(2026, 10, 8, 14, 0, tzinfo=UTC)  # 4 working hours
    reply = deadline_for(DeadlineKind.CO_REPLY, start=THU_10, calendar=co_cal)
    assert reply.due_at == datetime(2026, 10, 14, 17, 0, tzinfo=UTC)  # 9th is its holiday
    summoned = deadline_for(
        DeadlineKind.CO_REPLY, start=THU_10, calendar=co_cal, span=working_days(1)
    )
    assert summoned.due_at == datetime(2026, 10, 12, 17, 0, tzinfo=UTC)
    step = next_step(DeadlineKind.CO_REPLY, True, 0)
    assert step is not None and step.card_against is Responsible.CO_UNIT


def test_every_kind_has_one_documented_rule() -> None:
    assert set(RULES) == set(DeadlineKind)
    assert RULES[DeadlineKind.DISPATCH].time_base is TimeBase.NATURAL
    assert RULES[DeadlineKind.REPLY].time_base is TimeBase.UNIT_CALENDAR


def test_warning_comes_at_80_percent_of_the_working_time() -> None:
    d = deadline_for(DeadlineKind.ACCEPTANCE, start=FRI_16, calendar=CAL)
    # 2 working hours: 1 h Friday, 1 h Monday; 80 % = 96 min → Monday 09:36
    assert warn_at(d.start, d.due_at, CAL) == datetime(2026, 10, 12, 9, 36, tzinfo=UTC)
    natural = deadline_for(DeadlineKind.DISPATCH, start=SAT_23, calendar=CAL)
    assert warn_at(natural.start, natural.due_at, NATURAL_TIME, share=0.5) == SAT_23 + timedelta(
        hours=4
    )
    with pytest.raises(ValidationFailed):
        warn_at(FRI_16, FRI_16 + timedelta(hours=1), CAL, share=1.5)


def test_suspension_and_resumption_keep_the_time_left() -> None:
    # given a 3-working-day reply from Thursday 10:00, due Tuesday 13th 17:00
    d = deadline_for(DeadlineKind.REPLY, start=THU_10, calendar=CAL, completion_days=3)
    cal = calendar_for(d, CAL)
    # when it is suspended on Friday at 16:00 (1 h Friday + Mon + Tue left = 17 h)
    left = time_left(FRI_16, d.due_at, cal)
    assert left == 17 * 3600
    # and resumed the next Wednesday at 09:00
    resumed = resume(datetime(2026, 10, 14, 9, 0, tzinfo=UTC), left, cal)
    # then the same 17 working hours remain: Wed 8 h, Thu 8 h, Fri 1 h → Friday 10:00
    assert resumed.due_at == datetime(2026, 10, 16, 10, 0, tzinfo=UTC)


def test_natural_clocks_suspend_in_natural_time_and_overdue_stays_overdue() -> None:
    d = deadline_for(DeadlineKind.CONTACT, start=THU_10, calendar=CAL)
    cal = calendar_for(d, CAL)
    assert cal is NATURAL_TIME
    left = time_left(THU_10 + timedelta(hours=20), d.due_at, cal)
    assert left == 4 * 3600
    later = datetime(2026, 10, 20, 3, 0, tzinfo=UTC)
    assert resume(later, left, cal).due_at == later + timedelta(hours=4)
    overdue = time_left(d.due_at + timedelta(hours=1), d.due_at, cal)
    assert overdue < 0
    assert resume(later, overdue, cal).due_at == later


def test_extension_moves_the_reply_deadline_by_working_days() -> None:
    d = deadline_for(DeadlineKind.REPLY, start=THU_10, calendar=CAL, completion_days=3)
    moved = extend(d.due_at, 2, CAL)
    assert moved.due_at == datetime(2026, 10, 15, 17, 0, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        extend(d.due_at, 0, CAL)


@pytest.mark.parametrize(
    ("original", "redo"),
    [
        (working_days(15), working_days(8)),
        (working_days(7), working_days(4)),
        (working_days(1), working_days(1)),
        (Duration(DurationKind.NATURAL, 24), Duration(DurationKind.NATURAL, 12)),
    ],
    ids=["15d", "7d", "1d-floor", "24h"],
)
def test_redo_gets_a_shorter_span(original: Duration, redo: Duration) -> None:
    assert redo_span(original) == redo


def test_redo_deadline_is_fresh_from_the_bad_rating_and_configurable() -> None:
    first = deadline_for(
        DeadlineKind.REPLY, start=THU_10, calendar=CAL, response_level=ResponseLevel.D7
    )
    rated_bad = datetime(2026, 10, 20, 11, 0, tzinfo=UTC)  # a Tuesday
    redo = redo_deadline(first, start=rated_bad, calendar=CAL)
    assert redo.start == rated_bad
    assert redo.due_at == datetime(2026, 10, 26, 17, 0, tzinfo=UTC)  # 4 working days
    assert redo.due_at - redo.start < first.due_at - first.start
    strict = redo_deadline(
        first, start=rated_bad, calendar=CAL, policy=Policy(redo_share=0.1, redo_min_working_days=2)
    )
    assert strict.span == working_days(2)


def test_a_rejected_return_is_charged_to_the_returning_unit() -> None:
    # given unit 7 got the ticket Thursday 10:00 and returned it; the centre ruled the
    # return wrong and re-dispatched on Friday 16:00 to unit 9
    charge = charge_return(
        returning_unit_id=7,
        dispatched_at=THU_10,
        redispatched_at=FRI_16,
        return_upheld=False,
        next_unit_id=9,
        calendar=CAL,
    )
    assert charge.charged_to is Responsible.LEAD_UNIT
    assert charge.unit_id == 7
    assert charge.seconds == 14 * 3600  # Thu 7 h + Fri 7 h of working time
    assert charge.restart_clocks  # unit 9 is not charged: its clocks start afresh
    # back to the same unit: no fresh time for having returned it
    same = charge_return(
        returning_unit_id=7,
        dispatched_at=THU_10,
        redispatched_at=FRI_16,
        return_upheld=False,
        next_unit_id=7,
        calendar=CAL,
    )
    assert not same.restart_clocks


def test_an_upheld_return_is_the_centres_routing_time() -> None:
    charge = charge_return(
        returning_unit_id=7,
        dispatched_at=THU_10,
        redispatched_at=FRI_16,
        return_upheld=True,
        next_unit_id=9,
        calendar=CAL,
    )
    assert charge.charged_to is Responsible.CENTRE
    assert charge.unit_id is None
    assert charge.seconds == 30 * 3600
    assert charge.restart_clocks


def test_ladder_yellow_then_leader_then_red_then_supervisor() -> None:
    assert next_step(DeadlineKind.REPLY, False, 0) is None
    yellow = next_step(DeadlineKind.REPLY, True, 0)
    assert yellow is not None
    assert (yellow.card, yellow.card_against, yellow.escalate_to) == (
        Card.YELLOW,
        Responsible.LEAD_UNIT,
        Responsible.LEADER,
    )
    assert yellow.next_deadline is DeadlineKind.LEADER
    # the leader's own deadline, on the unit's calendar
    at_yellow = datetime(2026, 10, 13, 17, 0, tzinfo=UTC)
    leader = deadline_for(DeadlineKind.LEADER, start=at_yellow, calendar=CAL)
    assert leader.due_at == datetime(2026, 10, 14, 17, 0, tzinfo=UTC)
    red = next_step(DeadlineKind.REPLY, True, 1)
    assert red is not None
    assert (red.card, red.card_against, red.escalate_to) == (
        Card.RED,
        Responsible.LEAD_UNIT,
        Responsible.SUPERVISOR,
    )
    supervisor = deadline_for(DeadlineKind.SUPERVISOR, start=leader.due_at, calendar=CAL)
    assert supervisor.due_at == datetime(2026, 10, 19, 17, 0, tzinfo=UTC)
    top = next_step(DeadlineKind.REPLY, True, 2)
    assert top is not None and top.card is Card.RED and top.escalate_to is None
    late_acceptance = next_step(DeadlineKind.ACCEPTANCE, True, 0)
    assert late_acceptance is not None and late_acceptance.card is Card.YELLOW


def test_the_business_calendar_plugs_in() -> None:
    business = default_calendar()
    d = deadline_for(
        DeadlineKind.REPLY, start=THU_10, calendar=business, response_level=ResponseLevel.D7
    )
    assert d.due_at == business.add(THU_10, working_days(7)).due_at
    assert business.is_working_day(d.due_at.date())


def test_every_kind_is_in_the_documented_table() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "sla-deadlines.md").read_text("utf-8")
    for kind in DeadlineKind:
        assert f"| `{kind.value}` |" in doc
