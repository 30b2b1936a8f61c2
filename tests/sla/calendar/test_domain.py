"""Working-time arithmetic, checked against dates a handler would count by hand.

All times are written in Beijing time; the calendar answers in UTC, and aware datetimes
compare equal across zones.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from minyi.core.clock import CHINA_TZ
from minyi.sla.calendar.domain import (
    WARNING_YEAR_UNKNOWN,
    BusinessCalendar,
    DayKind,
    DayOverride,
    DayOverrides,
    Duration,
    DurationKind,
    default_calendar,
    natural_calendar,
)


def bj(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA_TZ)


def days(n: float) -> Duration:
    return Duration(DurationKind.WORKING_DAYS, n)


def hours(n: float) -> Duration:
    return Duration(DurationKind.WORKING_HOURS, n)


def natural(n: float) -> Duration:
    return Duration(DurationKind.NATURAL, n)


CAL = default_calendar()


def test_working_days_count_from_the_next_working_day_and_skip_the_weekend() -> None:
    # received Friday 17:00, 3 working days: Monday, Tuesday, Wednesday → Wednesday 18:00
    due = CAL.add(bj(2026, 11, 20, 17), days(3))
    assert due.due_at == bj(2026, 11, 25, 18)
    assert due.warnings == ()
    assert due.due_at.utcoffset() is not None and due.due_at.utcoffset().total_seconds() == 0
    # received on Saturday: Monday is still day one
    assert CAL.add(bj(2026, 11, 21, 10), days(1)).due_at == bj(2026, 11, 23, 18)
    # working hours run over the weekend to Monday morning
    assert CAL.add(bj(2026, 11, 20, 17), hours(2)).due_at == bj(2026, 11, 23, 10)


def test_national_day_2026_is_skipped_and_the_make_up_saturday_is_worked() -> None:
    # chinese_calendar 2026: 1–7 October off; Sunday 20 September and Saturday 10 October worked
    assert not CAL.is_working_day(date(2026, 10, 5))
    assert not CAL.is_working_day(date(2026, 10, 1))
    assert CAL.is_working_day(date(2026, 10, 10))
    assert CAL.is_working_day(date(2026, 9, 20))
    assert CAL.is_working_day(date(2026, 10, 8))
    # received Wednesday 30 September: Thursday 8, Friday 9, Saturday 10 October
    assert CAL.add(bj(2026, 9, 30, 10), days(3)).due_at == bj(2026, 10, 10, 18)
    # two working hours from 17:00 before the holiday end on the first day back
    assert CAL.add(bj(2026, 9, 30, 17), hours(2)).due_at == bj(2026, 10, 8, 10)


@pytest.mark.parametrize(
    ("start", "amount", "due"),
    [
        (bj(2026, 11, 24, 23), 1, bj(2026, 11, 25, 10)),  # night: from 09:00 next morning
        (bj(2026, 11, 24, 3), 1, bj(2026, 11, 24, 10)),  # small hours: same morning
        (bj(2026, 11, 24, 12, 30), 1, bj(2026, 11, 24, 14, 30)),  # lunch: from 13:30
        (bj(2026, 11, 24, 11), 2, bj(2026, 11, 24, 14, 30)),  # across lunch
        (bj(2026, 11, 24, 9), 3, bj(2026, 11, 24, 12)),  # a period used up ends at its end
        (bj(2026, 11, 24, 9), 7.5, bj(2026, 11, 24, 18)),
        (bj(2026, 11, 24, 9), 0.5, bj(2026, 11, 24, 9, 30)),
    ],
    ids=["night", "small-hours", "lunch", "across-lunch", "period-end", "whole-day", "30-min"],
)
def test_working_hours_start_at_the_next_working_moment(
    start: datetime, amount: float, due: datetime
) -> None:
    assert CAL.add(start, hours(amount)).due_at == due


def test_natural_time_runs_through_the_night_and_the_weekend() -> None:
    night = bj(2026, 11, 21, 2)  # Saturday 02:00
    assert CAL.add(night, natural(0.5)).due_at == bj(2026, 11, 21, 2, 30)  # urgent dispatch
    assert CAL.add(bj(2026, 11, 20, 22), natural(8)).due_at == bj(2026, 11, 21, 6)
    around_the_clock = natural_calendar()
    assert around_the_clock.is_working_day(date(2026, 10, 1))
    assert around_the_clock.add(night, hours(2)).due_at == bj(2026, 11, 21, 4)
    assert around_the_clock.working_seconds_between(night, bj(2026, 11, 21, 3)) == 3600


def test_a_15_day_deadline_into_2027_without_data_counts_weekends_only_and_warns() -> None:
    start = bj(2026, 12, 21, 10)  # Monday
    due = CAL.add(start, days(15))
    # 22–25 Dec (4), 28–31 Dec (8), Fri 1 Jan (9), 4–8 Jan (14), Mon 11 Jan (15)
    assert due.due_at == bj(2027, 1, 11, 18)
    assert due.warnings == (WARNING_YEAR_UNKNOWN,)
    assert CAL.is_working_day(date(2027, 1, 1))  # a guess, never an exception
    assert not CAL.year_known(2027)
    assert CAL.unknown_years(2025, 2028) == (2027, 2028)
    assert CAL.year_known(2026)
    # no warning for a deadline that stays inside a known year
    assert CAL.add(bj(2026, 12, 1, 10), days(5)).warnings == ()


def arrangement_2027() -> DayOverrides:
    """An admin's entry of 2027 (dates as an example of the State Council's notice)."""
    entries = [DayOverride(date(2027, 1, 1), DayKind.HOLIDAY, "元旦")]
    entries += [
        DayOverride(date(2027, 2, d), DayKind.HOLIDAY, "春节") for d in (5, 8, 9, 10, 11, 12)
    ]
    entries.append(DayOverride(date(2027, 2, 14), DayKind.WORKDAY, "春节调休上班"))
    return DayOverrides(entries)


def test_admin_entered_2027_days_remove_the_warning_and_are_skipped() -> None:
    cal = default_calendar(arrangement_2027())
    due = cal.add(bj(2026, 12, 21, 10), days(15))
    assert due.due_at == bj(2027, 1, 12, 18)  # New Year's Day skipped
    assert due.warnings == ()
    # across the Spring Festival: received Mon 1 Feb; 2, 3, 4 Feb, then Sunday 14 Feb worked
    assert cal.add(bj(2027, 2, 1, 10), days(4)).due_at == bj(2027, 2, 14, 18)
    assert cal.is_working_day(date(2027, 2, 14))
    assert not cal.is_working_day(date(2027, 2, 9))


def test_a_local_closure_is_not_worked_and_does_not_make_a_year_known() -> None:
    closed = default_calendar(
        DayOverrides([DayOverride(date(2026, 11, 25), DayKind.CLOSURE, "台风停工")])
    )
    assert not closed.is_working_day(date(2026, 11, 25))
    assert closed.add(bj(2026, 11, 20, 17), days(3)).due_at == bj(2026, 11, 26, 18)
    # a closure beats a make-up working day
    both = default_calendar(
        DayOverrides(
            [
                DayOverride(date(2027, 3, 6), DayKind.WORKDAY, "调休"),
                DayOverride(date(2027, 3, 8), DayKind.CLOSURE, "停工"),
            ]
        )
    )
    assert not both.is_working_day(date(2027, 3, 8))
    only_closure = default_calendar(
        DayOverrides([DayOverride(date(2027, 1, 4), DayKind.CLOSURE, "停工")])
    )
    assert not only_closure.year_known(2027)
    assert only_closure.add(bj(2026, 12, 30, 10), days(3)).warnings == (WARNING_YEAR_UNKNOWN,)


def test_suspension_keeps_the_working_time_left_and_resumption_restarts_with_it() -> None:
    start = bj(2026, 11, 23, 9)  # Monday
    due = CAL.add(start, days(3)).due_at
    assert due == bj(2026, 11, 26, 18)
    suspended = bj(2026, 11, 24, 15)  # Tuesday 15:00, waiting for the citizen
    left = CAL.working_seconds_between(suspended, due)
    assert left == (3 + 7.5 + 7.5) * 3600
    resumed = bj(2026, 11, 30, 10)  # the next Monday
    assert CAL.add_working_seconds(resumed, left).due_at == bj(2026, 12, 2, 14, 30)
    # a round trip lands where it started from
    assert CAL.add_working_seconds(start, CAL.working_seconds_between(start, due)).due_at == due
    assert CAL.working_seconds_between(due, start) == -CAL.working_seconds_between(start, due)


def test_fraction_elapsed_reaches_80_percent_in_working_time() -> None:
    start = bj(2026, 11, 23, 9)  # Monday
    due = CAL.add(start, hours(10)).due_at
    assert due == bj(2026, 11, 24, 11, 30)
    assert CAL.fraction_elapsed(start, due, bj(2026, 11, 24, 9, 30)) == pytest.approx(0.8)
    # the night does not count: at midnight only Monday's 7.5 hours are used
    assert CAL.fraction_elapsed(start, due, bj(2026, 11, 24, 0)) == pytest.approx(0.75)
    assert CAL.fraction_elapsed(start, due, bj(2026, 11, 22, 0)) == 0
    assert CAL.fraction_elapsed(start, due, bj(2026, 11, 25, 9)) > 1
    clock24 = natural_calendar()
    assert clock24.fraction_elapsed(start, bj(2026, 11, 23, 19), bj(2026, 11, 23, 17)) == 0.8


def test_no_date_ever_raises_even_for_a_calendar_with_no_working_time() -> None:
    nothing = BusinessCalendar(periods=((0, 0),))
    result = nothing.add(bj(2030, 1, 1), hours(1))
    assert result.due_at == bj(2030, 1, 1, 1)
    assert "calendar_no_working_time" in result.warnings
    assert CAL.add(bj(2099, 12, 31, 10), days(3)).warnings == (WARNING_YEAR_UNKNOWN,)


def test_a_long_deadline_is_counted_to_the_end() -> None:
    # 1,000 working days is about four years: counted through, not cut off by the guard
    due = CAL.add(bj(2026, 1, 5, 10), days(1000))
    assert "calendar_no_working_time" not in due.warnings
    assert due.due_at.year == 2029
    assert CAL.add_working_seconds(bj(2026, 1, 5, 9), 1000 * 7.5 * 3600).due_at.year == 2029
