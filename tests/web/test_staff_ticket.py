"""A ticket as staff see it: the emergency hand-over (移交应急) through the workflow's own
action, the masked caller revealed only with a reason and an audit entry, and nothing of a
ticket shown to staff who may not see it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.audit.models import AuditEntry
from minyi.tickets.models import Ticket
from tests.factories import make_ticket, make_world
from tests.web.test_staff_auth import SAME_SITE, sign_in
from tests.web.test_staff_intake import CALL

FIRE = "我家楼下厨房着火了，浓烟很大，快来人"


def _call_in(client: TestClient, text: str) -> str:
    response = client.post(
        "/staff/intake",
        data={**CALL, "text": text, "phone": "13900001111"},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def test_an_emergency_shows_the_hand_over_button_and_pressing_it_hands_over(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    sign_in(client, "agent")
    url = _call_in(client, FIRE)

    page = client.get(url)
    assert page.status_code == 200
    assert ">移交应急</button>" in page.text
    assert '<option value="119" selected>' in page.text  # the line triage suggests
    assert "紧急情况" in page.text and "已受理" in page.text

    ticket_id = int(url.rsplit("/", 1)[1])
    version = session.get(Ticket, ticket_id).version  # type: ignore[union-attr]
    done = client.post(
        f"{url}/hand-over",
        data={"line": "119", "version": str(version)},
        headers=SAME_SITE,
        follow_redirects=False,
    )

    assert done.status_code == 303
    after = client.get(done.headers["location"])
    assert '<strong id="ticket-status">已移交应急</strong>' in after.text
    assert "已移交应急部门处理" in after.text
    assert ">移交应急</button>" not in after.text  # done once, not offered again
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.status == "emergency_handed_over"


def test_a_bad_line_or_a_stale_page_changes_nothing(client: TestClient, session: Session) -> None:
    make_world(session)
    sign_in(client, "agent")
    url = _call_in(client, FIRE)
    ticket_id = int(url.rsplit("/", 1)[1])
    bad = client.post(f"{url}/hand-over", data={"line": "999"}, headers=SAME_SITE)
    assert bad.status_code == 422 and "请选择移交的应急热线" in bad.text
    stale = client.post(f"{url}/hand-over", data={"line": "119", "version": "1"}, headers=SAME_SITE)
    assert stale.status_code == 409 and "请刷新后重试" in stale.text
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.status == "received"


def test_an_ordinary_call_offers_only_the_manual_hand_over(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    sign_in(client, "agent")
    page = client.get(_call_in(client, "小区门口的路灯坏了一个星期"))
    assert ">移交应急</button>" not in page.text
    assert "人工判断为紧急情况" in page.text and ">人工移交应急</button>" in page.text


def test_a_handler_cannot_hand_over(client: TestClient, session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world, text=FIRE)
    sign_in(client, "handler")
    response = client.post(
        f"/staff/tickets/{ticket.id}/hand-over", data={"line": "119"}, headers=SAME_SITE
    )
    assert response.status_code in (403, 404, 409)
    session.refresh(ticket)
    assert ticket.status == "received"


def test_staff_who_may_not_see_a_ticket_get_not_found(client: TestClient, session: Session) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world)  # the bureau's matter, in the first street
    sign_in(client, "other-handler")
    page = client.get(f"/staff/tickets/{ticket.id}")
    assert page.status_code == 404 and "找不到该工单" in page.text
    assert ticket.text not in page.text
    assert client.get("/staff/tickets/999999").status_code == 404


def test_the_full_number_is_shown_only_with_a_reason_and_is_audited(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world, phone="13812345678")
    sign_in(client, "agent")
    page = client.get(f"/staff/tickets/{ticket.id}")
    assert "138****5678" in page.text and "13812345678" not in page.text

    no_reason = client.post(
        f"/staff/tickets/{ticket.id}/requester", data={"reason": " "}, headers=SAME_SITE
    )
    assert no_reason.status_code == 422 and "必须说明用途" in no_reason.text
    assert "13812345678" not in no_reason.text

    shown = client.post(
        f"/staff/tickets/{ticket.id}/requester", data={"reason": "回拨来电人"}, headers=SAME_SITE
    )
    assert shown.status_code == 200 and "13812345678" in shown.text
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "requester.reveal", AuditEntry.object_id == str(ticket.id)
        )
    ).first()
    assert entry is not None


def test_an_evaluator_reads_the_ticket_without_the_callers_identity(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    ticket = make_ticket(session, world, phone="13812345678")
    sign_in(client, "evaluator")
    page = client.get(f"/staff/tickets/{ticket.id}")
    assert page.status_code == 200 and ticket.text in page.text
    assert "5678" not in page.text and "王" not in page.text
    assert ticket.address_text is not None and ticket.address_text not in page.text
    assert "（已隐藏）" in page.text


def test_the_dispatcher_queue_lists_what_waits(client: TestClient, session: Session) -> None:
    make_world(session)
    sign_in(client, "agent")
    url = _call_in(client, FIRE)
    ticket = session.get(Ticket, int(url.rsplit("/", 1)[1]))
    assert ticket is not None
    sign_in(client, "dispatcher")
    queue = client.get("/staff/queue")
    assert queue.status_code == 200 and ticket.tracking_code in queue.text
    assert "紧急" in queue.text
    sign_in(client, "handler")
    assert client.get("/staff/queue").status_code == 403
