"""Every deadline shows on the ticket with the time left, as staff read it over HTTP."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.sla.tasks import fire_due
from minyi.tickets.domain import Action
from tests.factories import login
from tests.sla.test_timers import START, act, dispatched


def test_the_ticket_shows_each_clock_with_time_left_and_its_cards(
    client: TestClient, session: Session, clock: FixedClock
) -> None:
    world, ticket = dispatched(session, clock)
    session.commit()
    clock.set(START + timedelta(minutes=45))
    body = client.get(
        f"/api/v1/tickets/{ticket.id}/deadlines", headers=login(client, "dispatcher")
    ).json()
    clocks = {c["kind"]: c for c in body["clocks"]}
    assert set(clocks) == {"acceptance", "contact", "reply"}
    acceptance = clocks["acceptance"]
    assert acceptance["unit_name"] == world.bureau.name
    assert acceptance["time_base"] == "unit_calendar"
    assert acceptance["seconds_left"] == 75 * 60
    assert acceptance["time_left_zh"] == "剩余1个工作小时15分钟"
    assert clocks["contact"]["time_left_zh"] == "剩余23小时15分钟"
    assert body["due_at"] == clocks["reply"]["due_at"]

    # The acceptance passes: overdue, a yellow card, and the leader's clock shows.
    clock.set(START + timedelta(hours=2, minutes=30))
    fire_due(session, now=clock.now())
    session.commit()
    body = client.get(
        f"/api/v1/tickets/{ticket.id}/deadlines", headers=login(client, "leader")
    ).json()
    acceptance = next(c for c in body["clocks"] if c["kind"] == "acceptance")
    assert acceptance["state"] == "escalated_leader"
    assert acceptance["label_zh"] == "签收时限（单位领导督促）"
    assert acceptance["seconds_left"] > 0  # the leader's own working day
    assert [(c["color"], c["unit_id"]) for c in body["cards"]] == [("yellow", world.bureau.id)]

    # Suspension approved: the reply clock shows paused with its time kept.
    act(session, ticket, Action.ACCEPT, "handler", clock)
    act(session, ticket, Action.REQUEST_SUSPENSION, "handler", clock)
    act(session, ticket, Action.APPROVE_SUSPENSION, "dispatcher", clock)
    session.commit()
    body = client.get(
        f"/api/v1/tickets/{ticket.id}/deadlines", headers=login(client, "handler")
    ).json()
    reply = next(c for c in body["clocks"] if c["kind"] == "reply")
    assert reply["paused"] is True and reply["time_left_zh"].startswith("暂停中，剩余")


def test_other_units_cannot_read_a_tickets_deadlines(
    client: TestClient, session: Session, clock: FixedClock
) -> None:
    _, ticket = dispatched(session, clock)
    session.commit()
    response = client.get(
        f"/api/v1/tickets/{ticket.id}/deadlines", headers=login(client, "other-handler")
    )
    assert response.status_code in (403, 404)
    assert response.json()["code"]
    missing = client.get("/api/v1/tickets/999999/deadlines", headers=login(client, "dispatcher"))
    assert missing.status_code == 404
