"""Cards against units for missed deadlines: issued once, on the timeline, counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.assessment import service as assessment
from minyi.assessment.domain import CardColor
from minyi.audit.models import AuditEntry
from minyi.core.clock import FixedClock
from minyi.tickets import service as tickets
from tests.factories import login, make_ticket, make_world

DUE = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def test_a_missed_deadline_gives_one_yellow_card_on_the_timeline(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    card, issued = assessment.issue_card(
        session,
        ticket_id=ticket.id,
        unit_id=world.bureau.id,
        color=CardColor.YELLOW,
        deadline_kind="acceptance",
        deadline_label="签收时限",
        due_at=DUE,
        clock=clock,
    )
    assert issued and card.escalated_to == "leader"
    assert "签收时限" in card.reason and "T1区生态环境分局" in card.reason and "黄牌" in card.reason
    last = tickets.timeline(session, ticket.id)[-1]
    assert last.action == "yellow_card" and last.from_status == last.to_status == ticket.status
    assert last.payload["unit_id"] == world.bureau.id
    assert session.query(AuditEntry).filter(AuditEntry.action == "ticket.yellow_card").count() == 1


def test_a_timer_firing_twice_issues_nothing_twice(session: Session, clock: FixedClock) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    args = {
        "ticket_id": ticket.id,
        "unit_id": world.bureau.id,
        "color": CardColor.RED,
        "deadline_kind": "reply",
        "deadline_label": "答复时限",
        "due_at": DUE,
        "clock": clock,
    }
    first, issued_first = assessment.issue_card(session, **args)  # type: ignore[arg-type]
    again, issued_again = assessment.issue_card(session, **args)  # type: ignore[arg-type]
    assert issued_first and not issued_again and again.id == first.id
    assert first.escalated_to == "supervisor"
    assert len(assessment.cards_for_ticket(session, ticket.id)) == 1
    notes = [e.action for e in tickets.timeline(session, ticket.id) if e.action == "red_card"]
    assert notes == ["red_card"]


def test_card_counts_by_unit_and_period(session: Session, clock: FixedClock) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    for color, due in ((CardColor.YELLOW, DUE), (CardColor.YELLOW, DUE + timedelta(days=1))):
        assessment.issue_card(
            session,
            ticket_id=ticket.id,
            unit_id=world.bureau.id,
            color=color,
            deadline_kind="contact",
            deadline_label="联系时限",
            due_at=due,
            clock=clock,
        )
    counts = assessment.card_counts(
        session,
        unit_id=world.bureau.id,
        since=clock.now() - timedelta(days=1),
        until=clock.now() + timedelta(days=1),
    )
    assert counts == {"yellow": 2, "red": 0}
    other = assessment.card_counts(
        session, unit_id=world.street_office.id, since=clock.now(), until=clock.now()
    )
    assert other == {"yellow": 0, "red": 0}


def test_the_card_shows_in_the_staff_timeline_but_not_to_the_citizen(
    client: TestClient, session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)
    assessment.issue_card(
        session,
        ticket_id=ticket.id,
        unit_id=world.bureau.id,
        color=CardColor.YELLOW,
        deadline_kind="dispatch",
        deadline_label="派单时限",
        due_at=DUE,
        clock=clock,
    )
    staff = client.get(
        f"/api/v1/tickets/{ticket.id}/events", headers=login(client, "dispatcher")
    ).json()
    assert any(e["action"] == "yellow_card" and e["action_label"] == "亮黄牌" for e in staff)
    public = client.get(
        f"/api/v1/track/{ticket.tracking_code}", params={"phone_last4": "5678"}
    ).json()
    assert all("黄牌" not in step["text"] for step in public["steps"])
