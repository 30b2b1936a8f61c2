"""Triage through the HTTP API: an appeal is answered with what the machine made of it,
and staff can read why a ticket went where it went."""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.core.deps import get_triage_engine
from minyi.tickets.models import Ticket
from tests.factories import World, login, make_world
from tests.triage.test_service import SimpleEngine


def _use(client: TestClient, engine: Any) -> None:
    cast(FastAPI, client.app).dependency_overrides[get_triage_engine] = lambda: engine


def _appeal(world: World, text: str = "工地晚上十一点还在打桩，吵得孩子睡不着") -> dict[str, Any]:
    return {
        "channel": "web",
        "type": "complaint",
        "title": "夜间施工噪声",
        "text": text,
        "area_id": world.town.grid.id,
        "requester": {"name": "王先生", "phone": "13812345678"},
    }


def test_confident_appeal_is_dispatched_and_the_reasons_are_in_the_ticket_api(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    _use(client, SimpleEngine(item_path=world.noise.path, score=0.97))
    answer = client.post("/api/v1/appeals", json=_appeal(world))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["triage_outcome"] == "auto_dispatch" and body["status"] == "dispatched"
    assert body["emergency_lines"] == [] and body["emergency_advice"] is None

    headers = login(client, "dispatcher")
    ticket = client.get(f"/api/v1/tickets/{body['ticket_id']}", headers=headers).json()
    assert ticket["lead_unit_id"] == world.bureau.id
    assert ticket["routing"]["triage"]["outcome"] == "auto_dispatch"
    assert ticket["dispatch_due_at"] is not None

    why = client.get(f"/api/v1/tickets/{body['ticket_id']}/triage", headers=headers)
    assert why.status_code == 200, why.text
    data = why.json()
    assert data["auto_dispatched"] and data["model_version"] == "test-1"
    assert data["batch_number"] == "2026-01" and data["lead_unit_id"] == world.bureau.id
    assert data["explanation"]["route"]["responsibility_rule_id"] is not None
    assert data["explanation"]["items"][0]["matched"] == ["打桩"]
    assert data["reasons"] and "T1区生态环境分局" in data["reasons"][0]


def test_emergency_appeal_is_told_to_call_the_emergency_line_at_once(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    _use(client, SimpleEngine(item_path=world.noise.path, score=0.97))
    answer = client.post(
        "/api/v1/appeals", json=_appeal(world, "隔壁楼着火了，浓烟很大，有人被困在楼上")
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["triage_outcome"] == "emergency" and body["urgency"] == "emergency"
    assert "119" in body["emergency_lines"]
    assert "119" in body["emergency_advice"] and "12345 不是紧急热线" in body["emergency_advice"]
    assert body["status"] == "received"


def test_a_failing_model_never_costs_the_citizen_the_appeal(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    _use(client, SimpleEngine(item_path=world.noise.path, score=0.97, fail=True))
    answer = client.post("/api/v1/appeals", json=_appeal(world))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["triage_outcome"] is None and body["status"] == "received"
    stored = session.scalars(select(Ticket).where(Ticket.id == body["ticket_id"])).one()
    assert stored.text.startswith("工地晚上")


def test_preview_warns_everyone_of_an_emergency_but_shows_routing_to_staff_only(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    _use(client, SimpleEngine(item_path=world.noise.path, score=0.97))
    gas = {"text": "厨房燃气泄漏了，闻到很浓的煤气味", "area_id": world.town.grid.id}
    public = client.post("/api/v1/triage/preview", json=gas).json()
    assert public["urgency"] == "emergency" and "gas" in public["emergency_lines"]
    assert public["items"] == [] and public["lead_unit_id"] is None

    noise = {"text": "工地夜间打桩太吵", "area_id": world.town.grid.id}
    staff = client.post("/api/v1/triage/preview", json=noise, headers=login(client, "agent")).json()
    assert staff["urgency"] != "emergency" and staff["emergency_advice"] is None
    assert staff["items"][0]["path"] == world.noise.path
    assert staff["lead_unit_id"] == world.bureau.id


def test_preview_refuses_empty_text_with_a_clear_error(
    client: TestClient, session: Session
) -> None:
    answer = client.post("/api/v1/triage/preview", json={"text": ""})
    assert answer.status_code == 422
    assert answer.json()["code"] and answer.json()["message"]


def test_only_those_who_may_see_the_ticket_see_its_triage(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    _use(client, SimpleEngine(item_path=world.noise.path, score=0.97))
    ticket_id = client.post("/api/v1/appeals", json=_appeal(world)).json()["ticket_id"]
    assert client.get(f"/api/v1/tickets/{ticket_id}/triage").status_code == 401
    other = client.get(
        f"/api/v1/tickets/{ticket_id}/triage", headers=login(client, "other-handler")
    )
    assert other.status_code in (403, 404)
    own = client.get(f"/api/v1/tickets/{ticket_id}/triage", headers=login(client, "handler"))
    assert own.status_code == 200
