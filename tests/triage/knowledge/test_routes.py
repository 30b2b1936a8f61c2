"""The knowledge base over HTTP: staff endpoints, public search, the citizen's decision."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.triage.knowledge import service as kb
from minyi.triage.knowledge.models import KnowledgeEntry, KnowledgeNotice
from tests.factories import login, make_world
from tests.triage.knowledge.helpers import (
    NOW,
    RESIDENCE_ANSWER,
    RESIDENCE_QUESTIONS,
    approved_entry,
    consultation,
    user,
)

ENTRY = {
    "questions": RESIDENCE_QUESTIONS,
    "answer": RESIDENCE_ANSWER,
    "source_title": "《居住证暂行条例》",
}


def _error_shape(body: dict[str, Any]) -> None:
    assert {"code", "message", "message_en"} <= body.keys()


def _counts(session: Session) -> tuple[int, int]:
    entries = session.scalar(select(func.count()).select_from(KnowledgeEntry)) or 0
    notices = session.scalar(select(func.count()).select_from(KnowledgeNotice)) or 0
    return entries, notices


def test_draft_approve_then_search_finds_it(client: TestClient, session: Session) -> None:
    make_world(session)
    agent = login(client, "agent")
    created = client.post("/api/v1/knowledge/entries", json=ENTRY, headers=agent)
    assert created.status_code == 201, created.text
    entry_id = created.json()["id"]
    assert created.json()["status"] == "draft"
    assert client.get("/api/v1/knowledge/search", params={"q": "居住证怎么办理"}).json() == []

    approved = client.post(
        f"/api/v1/knowledge/entries/{entry_id}/approve", headers=login(client, "dispatcher")
    )
    assert approved.status_code == 200, approved.text
    found = client.get("/api/v1/knowledge/search", params={"q": "居住证怎么办理"}).json()
    assert [(h["entry_id"], h["answer"]) for h in found] == [(entry_id, RESIDENCE_ANSWER)]


def test_a_private_draft_is_refused_with_its_reasons(client: TestClient, session: Session) -> None:
    make_world(session)
    body = {**ENTRY, "answer": "张先生，您家的房屋经核实不在拆迁范围内。"}
    created = client.post("/api/v1/knowledge/entries", json=body, headers=login(client, "agent"))
    assert created.json()["privacy_flags"] == ["person_name", "one_case"]

    refused = client.post(
        f"/api/v1/knowledge/entries/{created.json()['id']}/approve",
        headers=login(client, "admin"),
    )

    assert refused.status_code == 409
    _error_shape(refused.json())
    assert refused.json()["code"] == "kb_entry_private"
    entry = kb.get_entry_or_raise(session, created.json()["id"])
    assert entry.status == "draft"


@pytest.mark.parametrize(
    ("username", "body", "status", "code"),
    [
        ("agent", {**ENTRY, "questions": []}, 422, "validation_error"),
        ("agent", {**ENTRY, "answer": ""}, 422, "validation_error"),
        (
            "agent",
            {
                **ENTRY,
                "valid_from": "2026-12-01T00:00:00+08:00",
                "valid_to": "2026-11-01T00:00:00+08:00",
            },
            422,
            "validation_error",
        ),
        ("agent", {**ENTRY, "valid_from": "2026-12-01T00:00:00"}, 422, "validation_error"),
        ("agent", {**ENTRY, "area_id": 999999}, 422, "area_not_found"),
        ("handler", ENTRY, 403, "knowledge_role_not_allowed"),
        (None, ENTRY, 401, "not_authenticated"),
    ],
    ids=["no-question", "no-answer", "window-reversed", "naive-time", "no-area", "role", "anon"],
)
def test_bad_entries_are_refused_and_nothing_is_stored(
    client: TestClient,
    session: Session,
    username: str | None,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    make_world(session)
    headers = login(client, username) if username else {}
    response = client.post("/api/v1/knowledge/entries", json=body, headers=headers)
    assert response.status_code == status, response.text
    _error_shape(response.json())
    assert response.json()["code"] == code
    assert _counts(session) == (0, 0)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"kind": "flood"}, "validation_error"),
        ({"ends_at": "2026-11-01T00:00:00+00:00"}, "validation_error"),
        ({"area_id": 999999}, "area_not_found"),
    ],
    ids=["unknown-kind", "ends-before-start", "no-area"],
)
def test_bad_notices_are_refused_and_nothing_is_stored(
    client: TestClient, session: Session, body: dict[str, Any], code: str
) -> None:
    make_world(session)
    notice = {
        "kind": "water_outage",
        "starts_at": "2026-11-02T00:00:00+00:00",
        "ends_at": "2026-11-02T08:00:00+00:00",
        "text": "东风街道今日停水",
        "source_title": "自来水公司通知",
        **body,
    }
    response = client.post(
        "/api/v1/knowledge/notices", json=notice, headers=login(client, "dispatcher")
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    assert _counts(session) == (0, 0)


def test_search_returns_only_approved_entries(client: TestClient, session: Session) -> None:
    make_world(session)
    approved = approved_entry(session, questions=RESIDENCE_QUESTIONS, answer=RESIDENCE_ANSWER)
    client.post(
        "/api/v1/knowledge/entries",
        json={**ENTRY, "answer": "草稿答案，尚未审核。"},
        headers=login(client, "agent"),
    )
    retired = approved_entry(session, questions=["居住证过期了怎么办"], answer="到派出所续签。")
    kb.retire_entry(session, entry_id=retired.id, actor=user(session, "admin"))

    found = client.get("/api/v1/knowledge/search", params={"q": "居住证怎么办理"}).json()

    assert [h["entry_id"] for h in found] == [approved.id]


def _offer(session: Session) -> tuple[str, str]:
    world = make_world(session)
    approved_entry(session, questions=RESIDENCE_QUESTIONS, answer=RESIDENCE_ANSWER)
    ticket = consultation(session, world, title="请问居住证怎么办理", phone="13900001234")
    assert kb.offer_for(session, ticket=ticket, now=NOW) is not None
    return ticket.tracking_code, "1234"


def test_the_citizen_sees_and_accepts_the_instant_answer(
    client: TestClient, session: Session
) -> None:
    code, last4 = _offer(session)
    shown = client.get(f"/api/v1/track/{code}/instant-answer", params={"phone_last4": last4})
    assert shown.status_code == 200 and shown.json()["answer"] == RESIDENCE_ANSWER

    accepted = client.post(
        f"/api/v1/track/{code}/instant-answer/accept", params={"phone_last4": last4}
    )

    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "answered"
    assert RESIDENCE_ANSWER in accepted.json()["reply_text"]


def test_the_citizen_asks_for_a_person(client: TestClient, session: Session) -> None:
    code, last4 = _offer(session)
    declined = client.post(
        f"/api/v1/track/{code}/instant-answer/decline", params={"phone_last4": last4}
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "pending_dispatch"
    again = client.post(
        f"/api/v1/track/{code}/instant-answer/accept", params={"phone_last4": last4}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "kb_no_open_offer"


def test_wrong_phone_digits_are_refused(client: TestClient, session: Session) -> None:
    code, _ = _offer(session)
    response = client.post(
        f"/api/v1/track/{code}/instant-answer/accept", params={"phone_last4": "9999"}
    )
    assert response.status_code == 404
    _error_shape(response.json())
    assert response.json()["code"] == "tracking_not_found"
    status = client.get(f"/api/v1/track/{code}", params={"phone_last4": "1234"}).json()["status"]
    assert status == "pending_dispatch"
