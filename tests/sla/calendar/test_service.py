"""Admin-entered days in the database, and the per-process calendar that follows them."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.audit.models import AuditEntry
from minyi.core.clock import CHINA_TZ, FixedClock
from minyi.core.errors import Conflict, NotFound, ValidationFailed
from minyi.sla.calendar import service
from minyi.sla.calendar.domain import WARNING_YEAR_UNKNOWN, DayKind, Duration, DurationKind
from minyi.sla.calendar.models import CalendarDay

FIFTEEN_DAYS = Duration(DurationKind.WORKING_DAYS, 15)
DEC_21 = datetime(2026, 12, 21, 10, tzinfo=CHINA_TZ)


def test_entering_2027_changes_the_calendar_at_once_and_is_audited(
    session: Session, clock: FixedClock
) -> None:
    before = service.get_calendar(session).add(DEC_21, FIFTEEN_DAYS)
    assert before.due_at == datetime(2027, 1, 11, 18, tzinfo=CHINA_TZ)
    assert before.warnings == (WARNING_YEAR_UNKNOWN,)

    row = service.add_day(
        session, day=date(2027, 1, 1), kind="holiday", name="元旦", actor="user:1"
    )
    for d in (5, 8, 9, 10, 11, 12):
        service.add_day(
            session, day=date(2027, 2, d), kind=DayKind.HOLIDAY, name="春节", actor="user:1"
        )
    after = service.get_calendar(session).add(DEC_21, FIFTEEN_DAYS)
    assert after.due_at == datetime(2027, 1, 12, 18, tzinfo=CHINA_TZ)
    assert after.warnings == ()
    assert [d.day.month for d in service.list_days(session, year=2027)] == [1, 2, 2, 2, 2, 2, 2]
    assert service.list_days(session, year=2026) == []

    entry = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "sla.calendar.day.add")
        .where(AuditEntry.object_id == str(row.id))
    ).one()
    assert entry.actor == "user:1"
    assert entry.data == {"day": "2027-01-01", "kind": "holiday", "name": "元旦"}

    # deleting New Year's Day puts it back to work, audited too
    service.delete_day(session, day_id=row.id, actor="user:1")
    again = service.get_calendar(session).add(DEC_21, FIFTEEN_DAYS)
    assert again.due_at == datetime(2027, 1, 11, 18, tzinfo=CHINA_TZ)
    assert again.warnings == ()  # the Spring Festival entries still make 2027 known
    assert (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "sla.calendar.day.delete")
        )
        == 1
    )


def test_a_closure_is_taken_into_account(session: Session, clock: FixedClock) -> None:
    friday = datetime(2026, 11, 20, 17, tzinfo=CHINA_TZ)
    three = Duration(DurationKind.WORKING_DAYS, 3)
    assert service.get_calendar(session).add(friday, three).due_at == datetime(
        2026, 11, 25, 18, tzinfo=CHINA_TZ
    )
    service.add_day(session, day=date(2026, 11, 24), kind="closure", name="台风", actor="user:1")
    assert service.get_calendar(session).add(friday, three).due_at == datetime(
        2026, 11, 26, 18, tzinfo=CHINA_TZ
    )


def test_bad_entries_are_refused_and_nothing_is_stored(session: Session, clock: FixedClock) -> None:
    with pytest.raises(ValidationFailed) as unknown:
        service.add_day(session, day=date(2027, 1, 1), kind="party", name="x", actor="user:1")
    assert unknown.value.code == "calendar_kind_unknown"
    with pytest.raises(ValidationFailed) as blank:
        service.add_day(session, day=date(2027, 1, 1), kind="holiday", name="  ", actor="user:1")
    assert blank.value.code == "calendar_name_invalid"
    assert session.scalar(select(func.count()).select_from(CalendarDay)) == 0

    service.add_day(session, day=date(2027, 1, 1), kind="holiday", name="元旦", actor="user:1")
    with pytest.raises(Conflict) as taken:
        service.add_day(session, day=date(2027, 1, 1), kind="workday", name="x", actor="user:1")
    assert taken.value.code == "calendar_day_taken"
    assert session.scalar(select(func.count()).select_from(CalendarDay)) == 1
    with pytest.raises(NotFound):
        service.delete_day(session, day_id=999_999, actor="user:1")
