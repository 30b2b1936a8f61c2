"""The ticket lifecycle through HTTP, as staff and citizens would drive it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.audit import service as audit
from minyi.audit.models import AuditEntry
from minyi.tickets.models import Ticket
from tests.factories import World, login, make_ticket, make_world


@pytest.fixture()
def world(session: Session) -> World:
    return make_world(session)


class Staff:
    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens: dict[str, dict[str, str]] = {}

    def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            self.tokens[username] = login(self.client, username)
        return self.tokens[username]

    def do(self, who: str, ticket_id: int, action: str, expect: int = 200, **body: Any) -> Any:
        response = self.client.post(
            f"/api/v1/tickets/{ticket_id}/{action}", json=body, headers=self.headers(who)
        )
        assert response.status_code == expect, response.text
        return response.json()


@pytest.fixture()
def staff(client: TestClient) -> Staff:
    return Staff(client)


def test_the_whole_loop_from_hotline_to_a_good_rating(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    ticket = make_ticket(session, world)
    t = ticket.id

    # the centre dispatches; the lists name the lead and the co-unit
    body = staff.do("dispatcher", t, "dispatch")
    assert body["status"] == "dispatched"
    assert body["lead_unit_id"] == world.bureau.id
    assert [c["unit_id"] for c in body["co_units"]] == [world.street_office.id]
    assert body["routing"]["batch_number"] == "2026-01"

    staff.do("handler", t, "accept")
    staff.do("handler", t, "contact")
    staff.do("handler", t, "start")
    # the lead cannot reply while the co-unit has not answered
    blocked = staff.do("handler", t, "reply", expect=409, text="已责令停工")
    assert blocked["code"] == "co_units_pending"
    staff.do("street-handler", t, "co_reply", text="街道已配合现场检查")
    staff.do("handler", t, "reply", text="已到现场检查，责令工地夜间停工。")
    # the centre checks the reply before the citizen sees it
    staff.do("dispatcher", t, "begin_review")
    staff.do("dispatcher", t, "approve_reply")

    tracking = client.get(f"/api/v1/track/{ticket.tracking_code}", params={"phone_last4": "5678"})
    assert tracking.status_code == 200
    view = tracking.json()
    assert view["status_label"] == "待评价"
    assert view["reply_text"] == "已到现场检查，责令工地夜间停工。"
    texts = [s["text"] for s in view["steps"]]
    assert texts[0] == "您的诉求已受理"
    assert "已派至「T1区生态环境分局」办理" in texts
    assert "承办单位已与您联系" in texts
    # no staff names or internal steps on the citizen's page
    assert not any("dispatcher" in s or "handler" in s or "审核通过" in s for s in texts)

    rated = client.post(
        f"/api/v1/track/{ticket.tracking_code}/rate",
        params={"phone_last4": "5678"},
        json={"speed": 4, "result": 5, "attitude": 5, "quality": 4},
    )
    assert rated.status_code == 200
    assert rated.json()["status"] == "closed"

    events = client.get(f"/api/v1/tickets/{t}/events", headers=staff.headers("dispatcher")).json()
    assert [e["action"] for e in events] == [
        "receive",
        "dispatch",
        "accept",
        "contact",
        "start",
        "co_reply",
        "reply",
        "begin_review",
        "approve_reply",
        "rate_satisfied",
    ]
    assert events[2]["actor_role"] == "handler"
    assert events[2]["actor_unit_id"] == world.bureau.id
    # every change is in the audit trail, and the chain holds
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_id == str(t)).order_by(AuditEntry.seq)
    ).all()
    assert actions[0] == "ticket.receive" and actions[-1] == "ticket.rate_satisfied"
    assert audit.verify(session).ok


def test_an_illegal_action_is_409_with_the_allowed_actions(
    staff: Staff, session: Session, world: World
) -> None:
    ticket = make_ticket(session, world)
    body = staff.do("dispatcher", ticket.id, "approve_reply", expect=409)
    assert body["code"] == "illegal_transition"
    assert "dispatch" in body["details"]["allowed"]
    assert body["message"].startswith("工单当前状态为「已受理」")


def test_unknown_action_is_404(staff: Staff, session: Session, world: World) -> None:
    ticket = make_ticket(session, world)
    staff.do("dispatcher", ticket.id, "teleport", expect=404)


def test_returns_are_limited_then_the_centre_rules(
    staff: Staff, session: Session, world: World
) -> None:
    t = make_ticket(session, world).id
    for _ in range(2):
        staff.do("dispatcher", t, "dispatch")
        staff.do("handler", t, "return", reason="不属于本单位职责")
    staff.do("dispatcher", t, "dispatch")
    third = staff.do("handler", t, "return", expect=409, reason="还是不属于")
    assert third["code"] == "return_limit_reached"
    # a return without a reason is refused
    assert staff.do("handler", t, "return", expect=422)["code"] == "reason_required"
    staff.do("dispatcher", t, "request_ruling", expect=403)
    staff.do("handler", t, "request_ruling")
    body = staff.do(
        "dispatcher", t, "rule", unit_id=world.bureau.id, reason="依职责清单，由生态环境分局办理"
    )
    assert body["ruled"] is True
    assert staff.do("handler", t, "return", expect=409, reason="不服")["code"] == "ruled_no_return"


def test_two_level_dispatch_stays_inside_the_district(
    staff: Staff, session: Session, world: World
) -> None:
    t = make_ticket(session, world).id
    body = staff.do("dispatcher", t, "dispatch_to_district")
    assert body["status"] == "district_pending"
    assert body["centre_unit_id"] == world.district_centre.id
    # the city dispatcher cannot dispatch what now waits at the district
    outside = staff.do(
        "district-dispatcher", t, "dispatch", expect=422, unit_id=world.city_centre.id
    )
    assert outside["code"] == "dispatch_to_centre"
    body = staff.do("district-dispatcher", t, "dispatch", unit_id=world.street_office.id)
    assert body["lead_unit_id"] == world.street_office.id


def test_whistle_and_report(staff: Staff, session: Session, world: World) -> None:
    t = make_ticket(session, world).id
    staff.do("dispatcher", t, "dispatch", unit_id=world.street_office.id)
    staff.do("street-handler", t, "accept")
    staff.do("street-handler", t, "contact")
    body = staff.do(
        "street-handler", t, "summon", unit_ids=[world.bureau.id], report_hours=2, reply_hours=48
    )
    summoned = body["co_units"][0]
    assert summoned["unit_id"] == world.bureau.id and summoned["summoned"] is True
    assert summoned["report_due_at"] is not None
    staff.do("handler", t, "report")
    staff.do("handler", t, "co_reply", text="已安排执法队夜查")
    body = staff.do("street-handler", t, "reply", text="联合执法后已停工")
    assert body["status"] == "replied"
    assert body["co_units"][0]["sub_reply"] == "已安排执法队夜查"


def test_a_poor_reply_goes_back_with_a_reason(staff: Staff, session: Session, world: World) -> None:
    t = make_ticket(session, world).id
    staff.do("dispatcher", t, "dispatch", unit_id=world.bureau.id, co_unit_ids=[])
    for action in ("accept", "contact", "start"):
        staff.do("handler", t, action)
    staff.do("handler", t, "reply", text="已处理")
    assert staff.do("dispatcher", t, "reject_reply", expect=422)["code"] == "reason_required"
    body = staff.do("dispatcher", t, "reject_reply", reason="答复过于简单，未说明处理结果")
    assert body["status"] == "in_progress"


def test_bad_rating_redo_then_supervision(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    ticket = make_ticket(session, world)
    t = ticket.id

    def reply_and_release() -> None:
        staff.do("handler", t, "contact")
        staff.do("handler", t, "reply", text="已处理")
        staff.do("dispatcher", t, "approve_reply")

    staff.do("dispatcher", t, "dispatch", unit_id=world.bureau.id, co_unit_ids=[])
    staff.do("handler", t, "accept")
    reply_and_release()
    bad = {"speed": 4, "result": 2, "attitude": 3, "quality": 3}
    track = f"/api/v1/track/{ticket.tracking_code}/rate"
    first = client.post(track, params={"phone_last4": "5678"}, json=bad).json()
    assert first["status"] == "reopened"
    assert "重新办理" in first["steps"][-1]["text"]
    staff.do("handler", t, "start")
    reply_and_release()
    second = client.post(track, params={"phone_last4": "5678"}, json=bad).json()
    assert second["status"] == "supervised"


def test_extension_and_suspension_need_the_centre(
    staff: Staff, session: Session, world: World
) -> None:
    t = make_ticket(session, world).id
    staff.do("dispatcher", t, "dispatch", unit_id=world.bureau.id)
    staff.do("handler", t, "accept")
    staff.do("handler", t, "request_extension", reason="需要第三方检测", days=5)
    staff.do("handler", t, "approve_extension", expect=403)
    staff.do("dispatcher", t, "approve_extension", days=5)
    staff.do("handler", t, "request_suspension", reason="等待市民提供施工时间记录")
    body = staff.do("dispatcher", t, "approve_suspension")
    assert body["status"] == "suspended"
    assert staff.do("handler", t, "resume")["status"] == "in_progress"


def test_citizen_supplements_chases_and_withdraws(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    ticket = make_ticket(session, world)
    staff.do("dispatcher", ticket.id, "dispatch", unit_id=world.bureau.id)
    base = f"/api/v1/track/{ticket.tracking_code}"
    q = {"phone_last4": "5678"}
    assert (
        client.post(f"{base}/supplement", params=q, json={"text": "今晚又在施工"}).status_code
        == 200
    )
    for _ in range(2):
        assert client.post(f"{base}/chase", params=q, json={}).status_code == 200
    detail = client.get(f"/api/v1/tickets/{ticket.id}", headers=staff.headers("handler")).json()
    assert detail["chase_count"] == 2
    # wrong digits look exactly like a wrong code
    wrong = client.post(f"{base}/chase", params={"phone_last4": "0000"}, json={})
    assert wrong.status_code == 404 and wrong.json()["code"] == "tracking_not_found"
    withdrawn = client.post(f"{base}/withdraw", params=q, json={"reason": "已自行解决"}).json()
    assert withdrawn["status"] == "withdrawn"
    session.refresh(ticket)
    assert ticket.excluded_from_assessment is True


def test_bulk_merge_then_one_reply_for_everyone(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    parent = make_ticket(session, world)
    children = [make_ticket(session, world, phone=f"1390000000{i}") for i in range(3)]
    response = client.post(
        "/api/v1/tickets/bulk-merge",
        json={"parent_id": parent.id, "child_ids": [c.id for c in children], "reason": "同一工地"},
        headers=staff.headers("dispatcher"),
    )
    assert response.status_code == 200
    assert {t["status"] for t in response.json()} == {"merged"}
    t = parent.id
    staff.do("dispatcher", t, "dispatch", unit_id=world.bureau.id, co_unit_ids=[])
    for action in ("accept", "contact", "start"):
        staff.do("handler", t, action)
    staff.do("handler", t, "reply", text="工地已停工整改")
    staff.do("dispatcher", t, "approve_reply")
    for i, child in enumerate(children):
        view = client.get(
            f"/api/v1/track/{child.tracking_code}", params={"phone_last4": f"000{i}"}
        ).json()
        assert view["reply_text"] == "工地已停工整改"
        assert view["steps"][-1]["text"] == "合并办理的诉求已答复"
    # both histories are kept
    child_events = client.get(
        f"/api/v1/tickets/{children[0].id}/events", headers=staff.headers("dispatcher")
    ).json()
    assert [e["action"] for e in child_events] == ["receive", "merge", "share_reply"]


def test_invalid_needs_a_reason_and_leaves_assessment(
    staff: Staff, session: Session, world: World
) -> None:
    ticket = make_ticket(session, world)
    wrong = staff.do("dispatcher", ticket.id, "invalidate", expect=422, reason="x", kind="boring")
    assert wrong["code"] == "invalid_kind"
    body = staff.do("dispatcher", ticket.id, "invalidate", reason="重复诉求", kind="duplicate")
    assert body["status"] == "invalid" and body["excluded_from_assessment"] is True


def test_emergency_hand_over_and_transfer_are_recorded(
    staff: Staff, session: Session, world: World
) -> None:
    fire = make_ticket(session, world, text="楼道里着火了，浓烟很大")
    assert staff.do("agent", fire.id, "hand_over_emergency", expect=422)["code"] == (
        "emergency_line_invalid"
    )
    body = staff.do("agent", fire.id, "hand_over_emergency", line="119")
    assert body["status"] == "emergency_handed_over"
    other = make_ticket(session, world, text="B市的公交问题")
    body = staff.do("agent", other.id, "transfer_out", city="B市", reason="属B市管辖")
    assert body["status"] == "transferred_out"


def test_handlers_see_only_their_units_tickets(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    mine = make_ticket(session, world)
    staff.do("dispatcher", mine.id, "dispatch", unit_id=world.bureau.id)
    make_ticket(session, world)  # still at the centre
    listed = client.get("/api/v1/tickets", headers=staff.headers("handler")).json()
    assert [t["id"] for t in listed["items"]] == [mine.id]
    other = client.get(f"/api/v1/tickets/{mine.id}", headers=staff.headers("other-handler"))
    assert other.status_code == 404
    # the co-unit sees it too
    co = client.get(f"/api/v1/tickets/{mine.id}", headers=staff.headers("street-handler"))
    assert co.status_code == 200
    everything = client.get("/api/v1/tickets", headers=staff.headers("dispatcher")).json()
    assert everything["total"] == 2


def test_district_dispatcher_sees_only_the_district(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    inside = make_ticket(session, world)
    outside = make_ticket(session, world, area=world.town.city)
    ids = {
        t["id"]
        for t in client.get("/api/v1/tickets", headers=staff.headers("district-dispatcher")).json()[
            "items"
        ]
    }
    assert ids == {inside.id}
    assert outside.id not in ids


def test_citizens_see_only_their_own(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    from minyi.org.models import User

    me = session.scalars(select(User).where(User.username == "citizen")).one()
    mine = make_ticket(session, world, citizen=me)
    make_ticket(session, world)
    listed = client.get("/api/v1/tickets", headers=staff.headers("citizen")).json()
    assert [t["id"] for t in listed["items"]] == [mine.id]


def test_phone_and_id_are_masked_and_revealing_is_audited(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    ticket = make_ticket(session, world)
    staff.do("dispatcher", ticket.id, "dispatch", unit_id=world.bureau.id)
    detail = client.get(f"/api/v1/tickets/{ticket.id}", headers=staff.headers("handler")).json()
    assert detail["requester"]["phone"] == "138****5678"
    assert detail["requester"]["id_number"] == "110***********8515"
    assert detail["requester"]["name"] == "王**"
    assert "13812345678" not in str(detail)

    no_reason = client.get(
        f"/api/v1/tickets/{ticket.id}/requester",
        params={"reveal": True},
        headers=staff.headers("handler"),
    )
    assert no_reason.status_code == 422
    revealed = client.get(
        f"/api/v1/tickets/{ticket.id}/requester",
        params={"reveal": True, "reason": "电话联系诉求人"},
        headers=staff.headers("handler"),
    )
    assert revealed.json()["phone"] == "13812345678"
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "requester.reveal")).one()
    assert entry.data == {"reason": "电话联系诉求人"}
    assert "13812345678" not in str(entry.data)
    evaluator = client.get(
        f"/api/v1/tickets/{ticket.id}/requester",
        params={"reveal": True, "reason": "评估"},
        headers=staff.headers("evaluator"),
    )
    assert evaluator.json() is None  # evaluators see anonymised data only


def test_anonymous_appeals_hide_the_requester_from_the_unit(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    ticket = make_ticket(session, world, anonymous=True)
    staff.do("dispatcher", ticket.id, "dispatch", unit_id=world.bureau.id)
    unit_view = client.get(f"/api/v1/tickets/{ticket.id}", headers=staff.headers("handler")).json()
    assert unit_view["requester"] is None and unit_view["address_text"] is None
    centre_view = client.get(
        f"/api/v1/tickets/{ticket.id}", headers=staff.headers("dispatcher")
    ).json()
    assert centre_view["requester"]["phone"] == "138****5678"


def test_listing_filters_and_the_queue(
    staff: Staff, client: TestClient, session: Session, world: World
) -> None:
    a = make_ticket(session, world)
    b = make_ticket(session, world)
    staff.do("dispatcher", a.id, "dispatch", unit_id=world.bureau.id)
    staff.do("citizen", a.id, "chase", expect=404)  # not hers
    headers = staff.headers("dispatcher")
    dispatched = client.get(
        "/api/v1/tickets", params={"status": "dispatched"}, headers=headers
    ).json()
    assert [t["id"] for t in dispatched["items"]] == [a.id]
    queue = client.get("/api/v1/tickets/queue", headers=headers).json()
    assert [t["id"] for t in queue["items"]] == [b.id]
    by_unit = client.get(
        "/api/v1/tickets", params={"unit_id": world.bureau.id}, headers=headers
    ).json()
    assert by_unit["total"] == 1
    bad_sort = client.get("/api/v1/tickets", params={"sort": "title"}, headers=headers)
    assert bad_sort.status_code == 422


def test_stale_version_is_a_409(staff: Staff, session: Session, world: World) -> None:
    ticket = make_ticket(session, world)
    seen = ticket.version
    staff.do("dispatcher", ticket.id, "dispatch", unit_id=world.bureau.id, version=seen)
    stale = staff.do(
        "dispatcher", ticket.id, "rule", expect=409, version=seen, reason="x", unit_id=1
    )
    assert stale["code"] == "version_conflict"
    assert session.get(Ticket, ticket.id) is not None


def test_steps_queue_messages_without_personal_data(
    staff: Staff, session: Session, world: World
) -> None:
    from minyi.notify.models import OutboxMessage

    ticket = make_ticket(session, world)
    staff.do("dispatcher", ticket.id, "dispatch", unit_id=world.bureau.id, co_unit_ids=[])
    staff.do("handler", ticket.id, "accept")
    messages = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    by_channel = {(m.channel, m.target, m.event_type) for m in messages}
    assert ("inbox", f"unit:{world.bureau.id}", "ticket.dispatch") in by_channel
    assert ("sms", f"ticket:{ticket.id}:requester", "ticket.dispatch") in by_channel
    assert all(
        "13812345678" not in str(m.payload) and "13812345678" not in m.target for m in messages
    )
