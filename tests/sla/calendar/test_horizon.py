"""The calendar's horizon: which years' holidays are missing, the admins' page, the reminder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.core.config import Settings
from minyi.notify.delivery import deliver_once
from minyi.notify.models import InboxItem, OutboxMessage
from minyi.notify.templates import load_templates
from minyi.org.domain import Role, UnitKind
from minyi.org.models import User
from minyi.sla.calendar import service
from minyi.sla.calendar.domain import (
    DayKind,
    DayOverride,
    DayOverrides,
    default_calendar,
    horizon,
    natural_calendar,
)
from tests.factories import login, make_town, make_unit, make_user

HORIZON = "/api/v1/calendar/horizon"
MISSING_2027 = (
    "尚未录入2027年的法定节假日和调休安排：跨入2027年的工作日时限暂按周末计算，"
    "请管理员录入国务院办公厅公布的安排。"
)
# 09:00 in Beijing on Monday 2 November 2026 (the clock fixture's start)
NOV_2 = datetime(2026, 11, 2, 1, tzinfo=UTC)


def _new_year_2027() -> list[DayOverride]:
    return [DayOverride(date(2027, 1, 1), DayKind.HOLIDAY, "元旦")]


def _reminders(session: Session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.event_type == service.REMINDER_EVENT)
            .order_by(OutboxMessage.id)
        )
    )


def _admins(session: Session) -> tuple[User, User]:
    first = make_user(session, "root", Role.ADMIN)
    second = make_user(session, "root2", Role.ADMIN)
    retired = make_user(session, "old-root", Role.ADMIN)
    retired.active = False
    town = make_town(session)
    make_user(session, "disp", Role.DISPATCHER, make_unit(session, "C", town.city))
    session.flush()
    return first, second


# --- the pure horizon -----------------------------------------------------------------


def test_in_november_2026_the_missing_2027_is_named_and_reminded() -> None:
    seen = horizon(default_calendar(), date(2026, 11, 2))
    assert (seen.covered_until, seen.missing_years, seen.remind) == (2026, (2027,), True)
    assert seen.message_zh == MISSING_2027
    assert "2027" in seen.message_en


def test_before_october_next_year_is_named_but_not_reminded() -> None:
    may = horizon(default_calendar(), date(2026, 5, 15))
    assert (may.missing_years, may.remind) == ((2027,), False)
    assert horizon(default_calendar(), date(2026, 9, 30)).remind is False
    assert horizon(default_calendar(), date(2026, 10, 1)).remind is True


def test_a_missing_current_year_is_reminded_at_once_whatever_the_month() -> None:
    march = horizon(default_calendar(), date(2027, 3, 1))
    assert (march.covered_until, march.missing_years, march.remind) == (2026, (2027, 2028), True)
    assert march.message_zh.startswith("尚未录入2027年和2028年的法定节假日和调休安排：落在")

    entered = horizon(default_calendar(DayOverrides(_new_year_2027())), date(2027, 3, 1))
    assert (entered.covered_until, entered.missing_years, entered.remind) == (2027, (2028,), False)


def test_covered_until_stops_at_the_first_gap_and_closures_do_not_count() -> None:
    later_only = DayOverrides([DayOverride(date(2028, 1, 1), DayKind.HOLIDAY, "元旦")])
    assert horizon(default_calendar(later_only), date(2026, 11, 2)).covered_until == 2026
    closure = DayOverrides([DayOverride(date(2027, 1, 4), DayKind.CLOSURE, "停水停工")])
    assert horizon(default_calendar(closure), date(2026, 11, 2)).missing_years == (2027,)


def test_all_known_says_so_and_the_24_7_calendar_misses_nothing() -> None:
    known = horizon(default_calendar(DayOverrides(_new_year_2027())), date(2026, 11, 2))
    assert (known.missing_years, known.remind) == ((), False)
    assert known.message_zh.startswith("已掌握2027年及以前")
    assert horizon(natural_calendar(), date(2026, 11, 2)).missing_years == ()


# --- the reminder ---------------------------------------------------------------------


def test_admins_are_reminded_once_a_day_until_2027_is_entered(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    first, second = _admins(session)
    assert service.horizon(session, date(2026, 11, 2)).missing_years == (2027,)

    assert service.remind_admins(session, now=NOV_2) == 2
    queued = _reminders(session)
    assert [(m.channel, m.target) for m in queued] == [
        ("inbox", f"user:{first.id}"),
        ("inbox", f"user:{second.id}"),
    ]
    assert queued[0].payload["template"] == "admin.calendar_missing"
    assert "2027年" in queued[0].payload["text"]

    # the same Beijing day, however often the worker comes by (23:30 is still 2 Nov)
    assert service.remind_admins(session, now=NOV_2) == 0
    assert service.remind_admins(session, now=datetime(2026, 11, 2, 15, 30, tzinfo=UTC)) == 0
    assert len(_reminders(session)) == 2

    # they land in the admins' inboxes, nowhere else
    settings = Settings(notify_log_path=tmp_path / "notify.log")
    deliver_once(session, settings, now=NOV_2, trust_env=False)
    inboxes = session.scalars(
        select(InboxItem.user_id)
        .where(InboxItem.event_type == service.REMINDER_EVENT)
        .order_by(InboxItem.user_id)
    ).all()
    assert list(inboxes) == [first.id, second.id]

    # 00:30 on 3 November in Beijing: a new day, a new reminder
    assert service.remind_admins(session, now=datetime(2026, 11, 2, 16, 30, tzinfo=UTC)) == 2
    assert len(_reminders(session)) == 4

    # an admin enters 2027 (as the State Council published it): no longer missing
    clock.set(datetime(2026, 11, 4, 1, tzinfo=UTC))
    service.add_day(
        session, day=date(2027, 1, 1), kind=DayKind.HOLIDAY, name="元旦", actor=f"user:{first.id}"
    )
    seen = service.horizon(session, date(2026, 11, 4))
    assert (seen.covered_until, seen.missing_years, seen.remind) == (2027, (), False)
    assert service.remind_admins(session, now=clock.now()) == 0
    assert len(_reminders(session)) == 4


def test_an_admin_added_during_the_day_still_hears_of_it(session: Session) -> None:
    _admins(session)
    assert service.remind_admins(session, now=NOV_2) == 2
    late = make_user(session, "root3", Role.ADMIN)
    assert service.remind_admins(session, now=NOV_2 + timedelta(hours=3)) == 1
    assert _reminders(session)[-1].target == f"user:{late.id}"


def test_in_may_2026_nobody_is_reminded_of_2027_yet(session: Session) -> None:
    _admins(session)
    may = datetime(2026, 5, 15, 2, tzinfo=UTC)
    assert service.horizon(session, date(2026, 5, 15)).missing_years == (2027,)
    assert service.remind_admins(session, now=may) == 0
    assert _reminders(session) == []


def test_the_reminder_template_is_a_staff_template_with_one_placeholder() -> None:
    found = load_templates()["admin.calendar_missing"]
    assert (found.audience, found.fields) == ("staff", frozenset({"years"}))


# --- the endpoint ---------------------------------------------------------------------


def test_admins_and_centre_staff_see_the_horizon_and_it_follows_their_entries(
    client: TestClient, session: Session
) -> None:
    make_user(session, "root", Role.ADMIN)
    town = make_town(session)
    centre = make_unit(session, "C", town.city, kind=UnitKind.DISPATCH_CENTRE)
    make_user(session, "disp", Role.DISPATCHER, centre)
    admin = login(client, "root")

    answer = client.get(HORIZON, headers=admin)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["missing_years"] == [2027]
    assert (body["today"], body["covered_until"], body["remind"]) == ("2026-11-02", 2026, True)
    assert body["message"] == MISSING_2027
    assert client.get(HORIZON, headers=login(client, "disp")).json()["missing_years"] == [2027]

    created = client.post(
        "/api/v1/calendar/days",
        json={"day": "2027-01-01", "kind": "holiday", "name": "元旦"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    after = client.get(HORIZON, headers=admin).json()
    assert (after["missing_years"], after["covered_until"], after["remind"]) == ([], 2027, False)


def test_others_are_refused(client: TestClient, session: Session) -> None:
    town = make_town(session)
    bureau = make_unit(session, "B", town.district)
    make_user(session, "handler", Role.HANDLER, bureau)
    make_user(session, "stray", Role.DISPATCHER, bureau)  # a dispatcher outside any centre
    for username, code in (("handler", "role_not_allowed"), ("stray", "calendar_centre_only")):
        refused = client.get(HORIZON, headers=login(client, username))
        assert refused.status_code == 403, username
        assert refused.json()["code"] == code
    assert client.get(HORIZON).status_code == 401
