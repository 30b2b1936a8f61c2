"""From the public appeal form to the handling unit, and back to the citizen's tracking page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.notify.models import OutboxMessage
from minyi.org import service as org
from minyi.org.domain import ClientScope
from tests.factories import World, login, make_world


@pytest.fixture()
def world(session: Session) -> World:
    return make_world(session)


def test_web_appeal_is_dispatched_by_the_lists_and_tracked(
    client: TestClient, session: Session, world: World
) -> None:
    # a machine client of the bureau listens for its tickets
    _, key = org.create_machine_client(
        session, name="环境分局案件系统", scopes=[ClientScope.TICKETS_READ], unit=world.bureau
    )
    hook = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": []},
        headers={"X-API-Key": key},
    )
    assert hook.status_code == 201, hook.text

    submitted = client.post(
        "/api/v1/appeals",
        json={
            "channel": "web",
            "type": "complaint",
            "title": "工地夜间打桩",
            "text": "工地晚上十一点还在打桩，吵得孩子睡不着",
            "area_code": world.town.grid.code,
            "requester": {"name": "李女士", "phone": "13900001234"},
        },
    )
    assert submitted.status_code == 201, submitted.text
    code = submitted.json()["tracking_code"]
    ticket_id = submitted.json()["ticket_id"]

    dispatcher = login(client, "dispatcher")
    dispatched = client.post(
        f"/api/v1/tickets/{ticket_id}/dispatch",
        json={"item_id": world.noise.id},
        headers=dispatcher,
    )
    assert dispatched.status_code == 200, dispatched.text
    body = dispatched.json()
    assert body["lead_unit_id"] == world.bureau.id
    assert body["item_id"] == world.noise.id
    assert body["routing"]["routed_by_lists"] is True

    accepted = client.post(
        f"/api/v1/tickets/{ticket_id}/accept", json={}, headers=login(client, "handler")
    )
    assert accepted.status_code == 200

    view = client.get(f"/api/v1/track/{code}", params={"phone_last4": "1234"}).json()
    assert view["handling_unit"] == "T1区生态环境分局"
    assert [s["text"] for s in view["steps"]] == [
        "您的诉求已受理",
        "已派至「T1区生态环境分局」办理",
        "承办单位已签收",
    ]
    webhooks = session.scalars(
        select(OutboxMessage).where(OutboxMessage.channel == "webhook")
    ).all()
    assert {m.event_type for m in webhooks} == {"ticket.dispatch", "ticket.accept"}
    assert all("13900001234" not in str(m.payload) for m in webhooks)


def test_consultation_ends_in_a_ruling(client: TestClient, session: Session, world: World) -> None:
    submitted = client.post(
        "/api/v1/appeals",
        json={
            "channel": "web",
            "type": "request",
            "text": "小区门口的井盖松动，不知道归谁管",
            "requester": {"phone": "13900005678"},
        },
    ).json()
    t = submitted["ticket_id"]
    dispatcher = login(client, "dispatcher")
    no_owner = client.post(f"/api/v1/tickets/{t}/dispatch", json={}, headers=dispatcher)
    assert no_owner.status_code == 422 and no_owner.json()["code"] == "unit_required"
    client.post(f"/api/v1/tickets/{t}/queue", json={}, headers=dispatcher)
    opened = client.post(
        f"/api/v1/tickets/{t}/open_consultation",
        json={
            "reason": "职责不清，请相关单位会商",
            "unit_ids": [world.street_office.id, world.other_unit.id],
            "hours": 24,
        },
        headers=dispatcher,
    )
    assert opened.status_code == 200 and opened.json()["status"] == "consultation"
    ruled = client.post(
        f"/api/v1/tickets/{t}/rule",
        json={"unit_id": world.street_office.id, "reason": "会商结论：属地街道牵头"},
        headers=dispatcher,
    ).json()
    assert ruled["status"] == "dispatched" and ruled["ruled"] is True
    assert ruled["lead_unit_id"] == world.street_office.id
