"""The calendar's HTTP endpoints: admins keep the days, staff check deadlines."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.audit.models import AuditEntry
from minyi.org.domain import Role
from minyi.org.models import User
from minyi.sla.calendar.models import CalendarDay
from tests.factories import login, make_town, make_unit, make_user

DAYS = "/api/v1/calendar/days"


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(CalendarDay)) or 0


def test_admin_adds_lists_and_deletes_a_day_and_each_change_is_audited(
    client: TestClient, session: Session
) -> None:
    make_user(session, "root", Role.ADMIN)
    admin = login(client, "root")
    # the admins are told which year still needs its arrangement entered
    assert client.get(DAYS, headers=admin).json()["unknown_years"] == [2027]
    created = client.post(
        DAYS, json={"day": "2027-01-01", "kind": "holiday", "name": "元旦"}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["day"], body["kind"], body["name"]) == ("2027-01-01", "holiday", "元旦")

    listed = client.get(DAYS, params={"year": 2027}, headers=admin).json()
    assert [d["day"] for d in listed["items"]] == ["2027-01-01"]
    assert listed["unknown_years"] == []  # 2026 from the package, 2027 now entered

    root = session.scalars(select(User).where(User.username == "root")).one()
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "sla.calendar.day.add")
    ).one()
    assert (entry.actor, entry.object_id) == (f"user:{root.id}", str(body["id"]))

    taken = client.post(
        DAYS, json={"day": "2027-01-01", "kind": "workday", "name": "x"}, headers=admin
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "calendar_day_taken"

    assert client.delete(f"{DAYS}/{body['id']}", headers=admin).status_code == 204
    assert _count(session) == 0
    gone = client.delete(f"{DAYS}/{body['id']}", headers=admin)
    assert gone.status_code == 404
    assert gone.json()["code"] == "calendar_day_not_found"


def test_only_admins_change_the_calendar(client: TestClient, session: Session) -> None:
    town = make_town(session)
    make_user(session, "disp", Role.DISPATCHER, make_unit(session, "C", town.city))
    payload = {"day": "2027-01-01", "kind": "holiday", "name": "元旦"}
    refused = client.post(DAYS, json=payload, headers=login(client, "disp"))
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_not_allowed"
    assert client.post(DAYS, json=payload).status_code == 401
    assert _count(session) == 0


def test_bad_input_gets_the_error_shape_and_stores_nothing(
    client: TestClient, session: Session
) -> None:
    make_user(session, "root", Role.ADMIN)
    admin = login(client, "root")
    for payload in (
        {"day": "2027-01-01", "kind": "party", "name": "x"},
        {"day": "2027-02-30", "kind": "holiday", "name": "x"},
        {"day": "tomorrow", "kind": "holiday", "name": "x"},
        {"day": "2027-01-01", "kind": "holiday", "name": ""},
    ):
        response = client.post(DAYS, json=payload, headers=admin)
        assert response.status_code == 422, payload
        body = response.json()
        assert body["code"] == "validation_error"
        assert body["message"] and body["message_en"] and body["details"]
    assert _count(session) == 0


def test_staff_check_a_deadline_and_see_the_unknown_year_warning(
    client: TestClient, session: Session
) -> None:
    town = make_town(session)
    make_user(session, "disp", Role.DISPATCHER, make_unit(session, "C", town.city))
    make_user(session, "root", Role.ADMIN)
    staff = login(client, "disp")
    query = {"start": "2026-12-21T10:00:00+08:00", "kind": "working_days", "amount": 15}

    unknown = client.get("/api/v1/calendar/deadline", params=query, headers=staff)
    assert unknown.status_code == 200, unknown.text
    body = unknown.json()
    assert body["due_at"].startswith("2027-01-11T10:00:00")  # 18:00 Beijing time, in UTC
    assert [w["code"] for w in body["warnings"]] == ["calendar_year_unknown"]
    assert body["warnings"][0]["message"] and body["warnings"][0]["message_en"]

    client.post(
        DAYS,
        json={"day": "2027-01-01", "kind": "holiday", "name": "元旦"},
        headers=login(client, "root"),
    )
    known = client.get("/api/v1/calendar/deadline", params=query, headers=staff).json()
    assert known["due_at"].startswith("2027-01-12T10:00:00")
    assert known["warnings"] == []

    night = {"start": "2026-11-21T02:00:00+08:00", "kind": "natural", "amount": 0.5}
    assert (
        client.get("/api/v1/calendar/deadline", params=night, headers=staff)
        .json()["due_at"]
        .startswith("2026-11-20T18:30:00")
    )

    naive = client.get(
        "/api/v1/calendar/deadline", params={**query, "start": "2026-12-21T10:00:00"}, headers=staff
    )
    assert naive.status_code == 422
    assert naive.json()["code"] == "calendar_start_naive"
    bad_kind = client.get(
        "/api/v1/calendar/deadline", params={**query, "kind": "fortnights"}, headers=staff
    )
    assert bad_kind.status_code == 422
    assert bad_kind.json()["code"] == "validation_error"
