"""Working-time arithmetic: which days are worked, and when a deadline falls.

Pure: no database, no clock. All datetimes in and out are timezone-aware and returned in
UTC (the project stores UTC); the working day itself is defined in local time
(Asia/Shanghai by default).

Which days are worked, in this order (the first rule that speaks decides):
1. an admin-entered local closure (a date the unit or the city does not work): not worked;
2. an admin-entered holiday or make-up working day: as entered (so an admin can enter a
   year the package does not know yet, or correct it);
3. China's official holidays and make-up working days from `chinese_calendar`, for the
   years that package covers (1.11: up to 2026);
4. otherwise Monday–Friday. If the year has neither package data nor any admin-entered
   holiday/make-up day, the result carries the warning `calendar_year_unknown`, so the
   ticket and the admins can be told; nothing ever raises for a date.

Durations (`Duration`):
- NATURAL: `amount` hours of clock time, day and night (hotline, dispatch centres).
- WORKING_HOURS: `amount` hours of working time. A start outside working hours (night,
  lunch, a weekend) begins counting at the next working moment; a deadline that uses up
  a working period exactly falls at that period's end (18:00, not 09:00 next day).
- WORKING_DAYS: "within N working days" means by the END of the N-th working day AFTER
  the day of receipt (18:00 by default). The day of receipt never counts, whatever the
  hour: this is the rule of Chinese law for periods counted in days (民法典 第二百零一条,
  行政许可法 第八十二条: 开始的当日不计入，自下一日开始计算) and the rule the Beijing
  and Shenzhen 12345 centres apply (自受理次日起算). Example: received Friday 17:00,
  3 working days → the following Wednesday 18:00. A fractional part is working time of a
  standard working day (7.5 h by default) added after the whole days; with no whole day
  it counts from the next working day's first moment (0.5 days received Friday → Monday
  14:15).
  On the 24/7 calendar a working day is simply 24 hours.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import chinese_calendar.constants as _cc

from minyi.core.clock import CHINA_TZ, aware

WARNING_YEAR_UNKNOWN = "calendar_year_unknown"
WARNING_NO_WORKING_TIME = "calendar_no_working_time"

WARNING_TEXTS: dict[str, tuple[str, str]] = {
    WARNING_YEAR_UNKNOWN: (
        "期限所在年份尚无法定节假日安排，已暂按周末休息计算，请管理员录入该年节假日",
        "No official holiday arrangement is known for a year this deadline spans; "
        "counted with weekends only — an admin should enter that year's holidays",
    ),
    WARNING_NO_WORKING_TIME: (
        "日历在十年内没有工作时间，期限已按自然时间计算",
        "The calendar has no working time within ten years; the deadline uses natural time",
    ),
}

# Ten years of days in a row without working time: far beyond any real holiday, a guard
# against a calendar with no working time at all (every date closed), which must not loop
# forever. Counted since the last working day, so long deadlines are not cut short.
_MAX_DAYS = 3660


class DurationKind(StrEnum):
    NATURAL = "natural"
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"


class DayKind(StrEnum):
    HOLIDAY = "holiday"  # an official holiday (放假)
    WORKDAY = "workday"  # an official make-up working day (调休上班)
    CLOSURE = "closure"  # a local closure: the unit or the city does not work that day


@dataclass(frozen=True)
class Duration:
    """NATURAL and WORKING_HOURS: `amount` in hours (30 min = 0.5); WORKING_DAYS: days."""

    kind: DurationKind
    amount: float


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    warnings: tuple[str, ...]  # warning codes, see WARNING_TEXTS


@dataclass(frozen=True)
class DayOverride:
    day: date
    kind: DayKind
    name: str = ""


class DayOverrides:
    """Admin-entered days, looked up by date."""

    def __init__(self, entries: Iterable[DayOverride] = ()) -> None:
        self._kinds: dict[date, DayKind] = {}
        self._closures: set[date] = set()
        self._years: set[int] = set()
        for entry in entries:
            if entry.kind is DayKind.CLOSURE:
                self._closures.add(entry.day)
            else:
                self._kinds[entry.day] = entry.kind
                # Any holiday or make-up day entered for a year means the year's
                # arrangement is known: the remaining weekdays are ordinary.
                self._years.add(entry.day.year)

    def closed(self, d: date) -> bool:
        return d in self._closures

    def kind(self, d: date) -> DayKind | None:
        return self._kinds.get(d)

    def knows_year(self, year: int) -> bool:
        return year in self._years

    def years(self) -> frozenset[int]:
        """The years with at least one holiday or make-up day entered."""
        return frozenset(self._years)


_PACKAGE_HOLIDAYS: frozenset[date] = frozenset(_cc.holidays)
_PACKAGE_WORKDAYS: frozenset[date] = frozenset(_cc.workdays)
_PACKAGE_YEARS: frozenset[int] = frozenset(d.year for d in _PACKAGE_HOLIDAYS)

DEFAULT_PERIODS: tuple[tuple[time, time], ...] = (
    (time(9, 0), time(12, 0)),
    (time(13, 30), time(18, 0)),
)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


class BusinessCalendar:
    """Working days and hours in one time zone. Build with `default_calendar` or
    `natural_calendar`."""

    def __init__(
        self,
        *,
        tz: ZoneInfo = CHINA_TZ,
        periods: tuple[tuple[int, int], ...] | None = None,
        overrides: DayOverrides | None = None,
        natural: bool = False,
    ) -> None:
        self.tz = tz
        # minutes from local midnight, end exclusive, ≤ 1440
        self.periods = periods or tuple((_minutes(a), _minutes(b)) for a, b in DEFAULT_PERIODS)
        self.overrides = overrides or DayOverrides()
        self.natural = natural
        self.day_seconds = float(sum(b - a for a, b in self.periods) * 60)

    # -- days ---------------------------------------------------------------------------

    def _day(self, d: date) -> tuple[bool, bool]:
        """(worked, year unknown) for a local date."""
        if self.natural:
            return True, False
        if self.overrides.closed(d):
            return False, False
        admin = self.overrides.kind(d)
        if admin is not None:
            return admin is DayKind.WORKDAY, False
        if d.year in _PACKAGE_YEARS:
            if d in _PACKAGE_WORKDAYS:
                return True, False
            if d in _PACKAGE_HOLIDAYS:
                return False, False
            return d.weekday() < 5, False
        return d.weekday() < 5, not self.overrides.knows_year(d.year)

    def is_working_day(self, d: date) -> bool:
        return self._day(d)[0]

    def year_known(self, year: int) -> bool:
        """Whether holidays are known for `year` (package data or admin entries)."""
        return self.natural or year in _PACKAGE_YEARS or self.overrides.knows_year(year)

    def unknown_years(self, first: int, last: int) -> tuple[int, ...]:
        """The years in `first..last` counted weekends-only: what admins must enter."""
        return tuple(y for y in range(first, last + 1) if not self.year_known(y))

    def _intervals(self, d: date) -> list[tuple[datetime, datetime]]:
        midnight = datetime.combine(d, time(0), tzinfo=self.tz)
        return [
            (
                (midnight + timedelta(minutes=a)).astimezone(UTC),
                (midnight + timedelta(minutes=b)).astimezone(UTC),
            )
            for a, b in self.periods
        ]

    def _local_date(self, when: datetime) -> date:
        return _require_aware(when).astimezone(self.tz).date()

    # -- arithmetic ---------------------------------------------------------------------

    def add(self, start: datetime, duration: Duration) -> Deadline:
        start = _require_aware(start).astimezone(UTC)
        if duration.kind is DurationKind.NATURAL:
            return Deadline(start + timedelta(hours=duration.amount), ())
        if duration.kind is DurationKind.WORKING_HOURS:
            return self.add_working_seconds(start, duration.amount * 3600)
        return self._add_working_days(start, duration.amount)

    def _add_working_days(self, start: datetime, amount: float) -> Deadline:
        if self.natural:
            return Deadline(start + timedelta(days=amount), ())
        if amount <= 0:
            return Deadline(start, ())
        whole = math.floor(amount)
        fraction = amount - whole
        warnings: set[str] = set()
        counted = 0
        d = self._local_date(start)
        idle = 0
        while idle < _MAX_DAYS:
            d += timedelta(days=1)  # the day of receipt never counts
            worked, unknown = self._day(d)
            if unknown:
                warnings.add(WARNING_YEAR_UNKNOWN)
            if not worked or not self.day_seconds:
                idle += 1
                continue
            idle = 0
            if whole == 0:
                # Only a fraction: counted from the first moment of the next working day.
                base = self._intervals(d)[0][0]
                return _merge(self.add_working_seconds(base, fraction * self.day_seconds), warnings)
            counted += 1
            if counted == whole:
                end = self._intervals(d)[-1][1]
                if fraction == 0:
                    return Deadline(end, tuple(sorted(warnings)))
                return _merge(self.add_working_seconds(end, fraction * self.day_seconds), warnings)
        return Deadline(
            start + timedelta(days=amount), tuple(sorted(warnings | {WARNING_NO_WORKING_TIME}))
        )

    def add_working_seconds(self, start: datetime, seconds: float) -> Deadline:
        """The moment `seconds` of working time after `start` (resuming a suspended clock
        with the time it had left)."""
        start = _require_aware(start).astimezone(UTC)
        if self.natural or seconds <= 0:
            return Deadline(start + timedelta(seconds=max(seconds, 0.0)), ())
        remaining = seconds
        warnings: set[str] = set()
        d = self._local_date(start) - timedelta(days=1)  # a period may start the day before
        idle = 0
        while idle < _MAX_DAYS:
            idle += 1
            worked, unknown = self._day(d)
            if worked:
                for lo, hi in self._intervals(d):
                    lo = max(lo, start)
                    if hi <= lo:
                        continue
                    span = (hi - lo).total_seconds()
                    if remaining <= span:
                        if unknown:
                            warnings.add(WARNING_YEAR_UNKNOWN)
                        return Deadline(lo + timedelta(seconds=remaining), tuple(sorted(warnings)))
                    remaining -= span
                    idle = 0
                    if unknown:
                        warnings.add(WARNING_YEAR_UNKNOWN)
            elif unknown and d >= self._local_date(start):
                warnings.add(WARNING_YEAR_UNKNOWN)
            d += timedelta(days=1)
        return Deadline(
            start + timedelta(seconds=seconds),
            tuple(sorted(warnings | {WARNING_NO_WORKING_TIME})),
        )

    def working_seconds_between(self, a: datetime, b: datetime) -> float:
        """Working seconds from `a` to `b` (negative when `b` is before `a`): the time a
        suspended clock had left, or the working time used so far."""
        a = _require_aware(a).astimezone(UTC)
        b = _require_aware(b).astimezone(UTC)
        if b < a:
            return -self.working_seconds_between(b, a)
        if self.natural:
            return (b - a).total_seconds()
        total = 0.0
        for d in _dates(self._local_date(a) - timedelta(days=1), self._local_date(b)):
            if not self._day(d)[0]:
                continue
            for lo, hi in self._intervals(d):
                lo, hi = max(lo, a), min(hi, b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
        return total

    def fraction_elapsed(self, start: datetime, due: datetime, now: datetime) -> float:
        """Share of the working time from `start` to `due` used by `now` (0 before the
        start, above 1 when overdue): the 80 % warning compares against this."""
        total = self.working_seconds_between(start, due)
        used = max(self.working_seconds_between(start, now), 0.0)
        if total <= 0:
            return 1.0 if _require_aware(now) >= _require_aware(due) else 0.0
        return used / total


def _dates(first: date, last: date) -> Iterator[date]:
    d = first
    while d <= last:
        yield d
        d += timedelta(days=1)


def _merge(deadline: Deadline, warnings: set[str]) -> Deadline:
    return Deadline(deadline.due_at, tuple(sorted(warnings | set(deadline.warnings))))


def _require_aware(value: datetime) -> datetime:
    # Never raise for a date: a naive value can only come from storage (SQLite hands them
    # back naive), and everything stored is UTC.
    return aware(value)


def natural_calendar() -> BusinessCalendar:
    """Around the clock, every day: the hotline's and the dispatch centres' own deadlines."""
    return BusinessCalendar(periods=((0, 1440),), natural=True)


def default_calendar(overrides: DayOverrides | None = None) -> BusinessCalendar:
    """Monday–Friday 09:00–12:00 and 13:30–18:00 Asia/Shanghai, official holidays and
    make-up days, plus the admin-entered days."""
    return BusinessCalendar(overrides=overrides)


def warning_text(code: str) -> tuple[str, str]:
    """(Chinese, English) text for a warning code."""
    return WARNING_TEXTS.get(code, (code, code))


# -- the horizon: how far ahead the holidays are known ---------------------------------

# The State Council's General Office publishes next year's arrangement in late autumn
# (October to December): reminding admins earlier would only nag about something that
# cannot be entered yet.
REMIND_FROM_MONTH = 10
REMIND_FROM_DAY = 1


@dataclass(frozen=True)
class Horizon:
    """Which years the calendar knows the official holidays of, seen from `today`."""

    today: date
    # The last year Y such that every year from the package's first up to Y is known
    # (package data or admin entries): working-day deadlines are right up to 31 Dec of Y.
    covered_until: int
    # This year and next, where unknown: deadlines there count weekends only.
    missing_years: tuple[int, ...]
    # Whether admins should be reminded today: this year is missing (at once), or next
    # year is missing and the State Council's arrangement is due (from 1 October).
    remind: bool
    message_zh: str
    message_en: str


def years_zh(years: Iterable[int]) -> str:
    """2027 → "2027年"; 2027, 2028 → "2027年和2028年"."""
    parts = [f"{y}年" for y in years]
    if len(parts) <= 1:
        return "".join(parts)
    return "、".join(parts[:-1]) + "和" + parts[-1]


def _years_en(years: Iterable[int]) -> str:
    return " and ".join(str(y) for y in years)


def horizon(calendar: BusinessCalendar, today: date) -> Horizon:
    """How far ahead `calendar` knows the holidays, and what to tell the admins."""
    year = min(_PACKAGE_YEARS)
    # Bounded by the last year anyone knows of: the 24/7 calendar knows every year.
    last = max(_PACKAGE_YEARS | calendar.overrides.years())
    while year < last and calendar.year_known(year + 1):
        year += 1
    missing = calendar.unknown_years(today.year, today.year + 1)
    remind = today.year in missing or (
        bool(missing) and (today.month, today.day) >= (REMIND_FROM_MONTH, REMIND_FROM_DAY)
    )
    if not missing:
        zh = f"已掌握{year}年及以前的法定节假日和调休安排，本年和下一年的工作日时限均按安排计算。"
        en = (
            f"Official holidays are known up to {year}; working-day deadlines this year "
            f"and next follow them."
        )
    else:
        if missing == (today.year + 1,):
            scope_zh = f"跨入{missing[0]}年"
            scope_en = f"reaching into {missing[0]}"
        else:
            scope_zh = f"落在{years_zh(missing)}"
            scope_en = f"falling in {_years_en(missing)}"
        zh = (
            f"尚未录入{years_zh(missing)}的法定节假日和调休安排：{scope_zh}的工作日时限"
            f"暂按周末计算，请管理员录入国务院办公厅公布的安排。"
        )
        en = (
            f"No official holiday arrangement is entered for {_years_en(missing)}: "
            f"working-day deadlines {scope_en} count weekends only until an admin enters "
            f"the arrangement published by the General Office of the State Council."
        )
    return Horizon(
        today=today,
        covered_until=year,
        missing_years=missing,
        remind=remind,
        message_zh=zh,
        message_en=en,
    )
