"""Staff read their own in-app inbox over the API and mark messages read."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.core.config import Settings
from minyi.notify import service
from minyi.notify.channels import build_senders
from minyi.notify.delivery import deliver_channels
from minyi.notify.domain import Channel
from tests.factories import World, login, make_ticket, make_world


@pytest.fixture()
def town(session: Session) -> World:
    return make_world(session)


def _deliver_warning(
    session: Session, town: World, clock: FixedClock, tmp_path: Path, unit_id: int
) -> None:
    ticket = make_ticket(session, town)
    service.notify_template(
        session,
        channel=Channel.INBOX,
        target=service.unit_target(unit_id),
        code="staff.warning",
        params={"tracking_code": ticket.tracking_code, "due": "11月6日 17:00"},
        event_type="warning",
        ticket_id=ticket.id,
        now=clock.now(),
    )
    settings = Settings(notify_log_path=tmp_path / "notify.log")
    senders = build_senders(session, settings, now=clock.now())
    assert deliver_channels(session, senders=senders, now=clock.now()).sent == 1


def test_a_handler_sees_their_units_message_and_marks_it_read(
    client: TestClient, session: Session, town: World, clock: FixedClock, tmp_path: Path
) -> None:
    _deliver_warning(session, town, clock, tmp_path, town.bureau.id)
    headers = login(client, "handler")

    page = client.get("/api/v1/inbox", headers=headers)
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["unread"] == 1
    [item] = body["items"]
    assert item["subject"] == "工单即将到期"
    assert item["text"].startswith("预警：工单 ") and item["read_at"] is None

    read = client.post(f"/api/v1/inbox/{item['id']}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    after = client.get("/api/v1/inbox", headers=headers).json()
    assert after["unread"] == 0
    assert client.get("/api/v1/inbox?unread=true", headers=headers).json()["items"] == []


def test_a_user_sees_only_their_own_messages(
    client: TestClient, session: Session, town: World, clock: FixedClock, tmp_path: Path
) -> None:
    _deliver_warning(session, town, clock, tmp_path, town.bureau.id)
    handler = login(client, "handler")
    [item] = client.get("/api/v1/inbox", headers=handler).json()["items"]

    other = login(client, "street-handler")  # another unit's handler
    assert client.get("/api/v1/inbox", headers=other).json() == {"items": [], "unread": 0}
    refused = client.post(f"/api/v1/inbox/{item['id']}/read", headers=other)
    assert refused.status_code == 404
    assert refused.json()["code"] == "inbox_item_not_found"
    # still unread for its owner
    assert client.get("/api/v1/inbox", headers=handler).json()["unread"] == 1


def test_citizens_and_strangers_have_no_inbox(client: TestClient, town: World) -> None:
    assert client.get("/api/v1/inbox").status_code == 401
    citizen = client.get("/api/v1/inbox", headers=login(client, "citizen"))
    assert citizen.status_code == 403 and citizen.json()["code"] == "inbox_staff_only"
