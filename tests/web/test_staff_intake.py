"""The hotline agent's fast intake form (来电受理): a call taken through the same intake
service as the API, on the hotline, triaged at once; the caller's previous appeals as soon
as the number is typed; clear errors with nothing stored; only those entitled may use it."""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.core.deps import get_triage_engine
from minyi.intake.models import Requester
from minyi.tickets.models import Ticket
from minyi.triage import service as triage
from tests.factories import World, make_ticket, make_world
from tests.triage.test_service import SimpleEngine
from tests.web.test_staff_auth import SAME_SITE, sign_in

CALL = {
    "phone": "138 1234 5678",
    "text": "东风街道幸福社区工地晚上十一点还在打桩，吵得孩子睡不着",
    "address": "T1区 东风街道 幸福社区",
    "appeal_type": "complaint",
    "requester_kind": "person",
    "name": "王先生",
}


def _use_engine(client: TestClient, world: World, score: float = 0.97) -> None:
    engine = SimpleEngine(item_path=world.noise.path, score=score)
    cast(FastAPI, client.app).dependency_overrides[get_triage_engine] = lambda: engine


def _take(client: TestClient, **changes: Any) -> Any:
    return client.post(
        "/staff/intake", data={**CALL, **changes}, headers=SAME_SITE, follow_redirects=False
    )


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Ticket)) or 0


def test_the_form_is_keyboard_first_with_the_contracts_labels(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    sign_in(client, "agent")
    page = client.get("/staff/intake")
    assert page.status_code == 200
    for field, label in (
        ("phone", "来电号码"),
        ("text", "诉求内容"),
        ("address", "问题地址"),
        ("appeal_type", "诉求类型"),
        ("requester_kind", "诉求人类型"),
        ("credit_code", "统一社会信用代码"),
    ):
        assert f'<label for="{field}">{label}</label>' in page.text, label
    html = page.text
    # The number first and focused; then text, address, type, requester, the button.
    order = [html.index(f'id="{f}"') for f in ("phone", "text", "address", "appeal_type")]
    assert order == sorted(order)
    assert (
        'id="phone" name="phone" type="tel"' in html and "autofocus" in html.split('id="text"')[0]
    )
    assert '<button type="submit" class="primary">受理</button>' in html
    assert 'id="caller-history"' in html and 'hx-post="/staff/intake/caller"' in html
    # The caller's history comes after the form, so Tab goes from field to field.
    assert html.index('id="caller-history"') > html.index(">受理</button>")
    assert "12345热线" in html


def test_an_agent_takes_a_call_and_sees_the_triage_suggestion(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    _use_engine(client, world)
    sign_in(client, "agent")

    response = _take(client)

    assert response.status_code == 303, response.text
    ticket_id = int(response.headers["location"].rsplit("/", 1)[1])
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    assert ticket.channel == "hotline" and ticket.appeal_type == "complaint"
    assert ticket.address_text == "T1区 东风街道 幸福社区"
    requester = session.get(Requester, ticket.requester_id)
    assert requester is not None and requester.phone == "13812345678"
    decision = triage.decision_for(session, ticket.id)
    assert decision is not None and decision.item_id == world.noise.id
    assert decision.lead_unit_id == world.bureau.id

    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "智能分拨建议" in page.text and "建筑施工噪声" in page.text
    assert "置信度 97%" in page.text and "T1区生态环境分局" in page.text
    assert 'id="ticket-status"' in page.text
    assert "138****5678" in page.text and "13812345678" not in page.text
    assert "办理时限" in page.text and "剩余" in page.text
    assert "办理流程" in page.text and "受理" in page.text
    assert "12345热线" in page.text
    # Not an emergency: no hand-over button beyond the manual one tucked away.
    assert ">移交应急</button>" not in page.text


def test_pressing_twice_opens_one_ticket(client: TestClient, session: Session) -> None:
    make_world(session)
    sign_in(client, "agent")
    first = _take(client, idempotency_key="form-1")
    again = _take(client, idempotency_key="form-1")
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"] + "?repeat=1"
    assert _count(session) == 1
    assert "未重复受理" in client.get(again.headers["location"]).text


def test_a_repeat_callers_previous_appeals_appear_as_the_number_is_typed(
    client: TestClient, session: Session
) -> None:
    world = make_world(session)
    earlier = make_ticket(session, world, phone="13812345678")
    make_ticket(session, world, phone="13900000000")  # someone else
    sign_in(client, "agent")

    fragment = client.post(
        "/staff/intake/caller", data={"phone": "138-1234-5678"}, headers=SAME_SITE
    )

    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<section id="caller-history"')
    assert "重复来电" in fragment.text and "已有 1 件诉求" in fragment.text
    assert earlier.tracking_code in fragment.text
    assert f'href="/staff/tickets/{earlier.id}"' in fragment.text


def test_a_new_caller_has_no_previous_appeals(client: TestClient, session: Session) -> None:
    world = make_world(session)
    make_ticket(session, world, phone="13812345678")
    sign_in(client, "agent")
    fragment = client.post("/staff/intake/caller", data={"phone": "13700001111"}, headers=SAME_SITE)
    assert fragment.status_code == 200
    assert "首次来电" in fragment.text and "重复来电" not in fragment.text
    half = client.post("/staff/intake/caller", data={"phone": "1370"}, headers=SAME_SITE)
    assert "号码尚不完整" in half.text and "重复来电" not in half.text


def test_a_unit_handler_sees_no_caller_history_it_may_not_see(
    client: TestClient, session: Session
) -> None:
    # A street office's staff (a party-mass service centre window) see only their own
    # unit's tickets: another unit's ticket from the same number is not shown.
    world = make_world(session)
    make_ticket(session, world, phone="13812345678")  # the bureau's, not the street's
    sign_in(client, "street-handler")
    fragment = client.post("/staff/intake/caller", data={"phone": "13812345678"}, headers=SAME_SITE)
    assert fragment.status_code == 200 and "首次来电" in fragment.text


def test_empty_text_and_a_bad_phone_are_refused_clearly_and_nothing_is_stored(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    sign_in(client, "agent")
    before = _count(session)

    empty = _take(client, text="   ")
    assert empty.status_code == 422
    assert "诉求内容不能为空" in empty.text and 'role="alert"' in empty.text
    assert 'value="138 1234 5678"' in empty.text  # what was typed is kept

    bad_phone = _take(client, phone="12345")
    assert bad_phone.status_code == 422
    assert "联系电话格式有误" in bad_phone.text
    assert 'id="phone-error"' in bad_phone.text and 'aria-invalid="true"' in bad_phone.text
    assert CALL["text"] in bad_phone.text

    both = _take(client, text="", phone="12345")
    assert both.status_code == 422
    assert "诉求内容不能为空" in both.text and "联系电话格式有误" in both.text

    too_long = _take(client, text="吵" * 10_001)
    assert too_long.status_code == 422 and "不能超过 10000 字" in too_long.text

    assert _count(session) == before


def test_what_the_caller_said_is_shown_escaped(client: TestClient, session: Session) -> None:
    make_world(session)
    sign_in(client, "agent")
    script = "<script>alert(1)</script>楼道灯坏了"
    bad = _take(client, text=script)
    assert bad.status_code == 422 and "网页代码" in bad.text  # refused, nothing stored
    assert "<script>alert(1)</script>" not in bad.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bad.text
    typed = "<b>楼道灯</b>坏了"
    ok = _take(client, text=typed)
    page = client.get(ok.headers["location"])
    assert "<b>楼道灯</b>" not in page.text
    assert "&lt;b&gt;楼道灯&lt;/b&gt;坏了" in page.text


def test_a_company_caller_needs_a_valid_credit_code(client: TestClient, session: Session) -> None:
    make_world(session)
    sign_in(client, "agent")
    company = {"requester_kind": "company", "company_name": "幸福物业有限公司"}
    bad = _take(client, **company, credit_code="91350100M000100Y44")
    assert bad.status_code == 422 and "统一社会信用代码有误" in bad.text
    assert 'id="credit_code-error"' in bad.text
    assert 'id="company-fields" class="company-fields">' in bad.text  # shown, not hidden
    ok = _take(client, **company, credit_code="91350100M000100Y43")
    assert ok.status_code == 303
    ticket = session.get(Ticket, int(ok.headers["location"].rsplit("/", 1)[1]))
    assert ticket is not None and ticket.requester_kind == "company"


def test_a_handler_of_a_department_cannot_use_the_intake_page(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    sign_in(client, "handler")
    page = client.get("/staff/intake")
    assert page.status_code == 403 and "无权使用来电受理" in page.text
    posted = _take(client)
    assert posted.status_code == 403
    fragment = client.post("/staff/intake/caller", data={"phone": "13812345678"}, headers=SAME_SITE)
    assert fragment.status_code == 403
    assert _count(session) == 0
    assert 'href="/staff/intake"' not in client.get("/staff/").text


def test_a_street_office_takes_a_window_appeal(client: TestClient, session: Session) -> None:
    # 党群服务中心: the street's own staff type the visitor's appeal in on the window channel.
    make_world(session)
    sign_in(client, "street-handler")
    page = client.get("/staff/intake")
    assert page.status_code == 200 and "党群服务中心窗口" in page.text
    response = _take(client)
    ticket = session.scalars(select(Ticket)).one()
    assert ticket.channel == "window"
    # The ticket waits for the centre, which the street's staff cannot follow: the receipt
    # with the tracking code and the triage suggestion is shown at once instead.
    assert response.status_code == 200
    assert f'<strong id="tracking-code">{ticket.tracking_code}</strong>' in response.text
    assert "智能分拨建议" in response.text


def test_address_suggestions_come_from_the_organisation_tree(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    sign_in(client, "agent")
    options = client.get("/staff/intake/places", params={"address": "幸福"})
    assert options.status_code == 200
    assert '<option value="T1区 东风街道 幸福社区">' in options.text
    # Typed as callers say it, in one run: the locator finds the place and what lies below.
    run_on = client.get("/staff/intake/places", params={"address": "东风街道幸福社区5号楼"})
    assert '<option value="T1区 东风街道 幸福社区">' in run_on.text
    assert '<option value="T1区 东风街道 幸福社区 幸福社区第一网格">' in run_on.text
    assert client.get("/staff/intake/places", params={"address": "幸"}).text.strip() == ""


def test_the_workbench_lists_what_the_agent_took_in(client: TestClient, session: Session) -> None:
    make_world(session)
    sign_in(client, "agent")
    taken = _take(client)
    ticket = session.get(Ticket, int(taken.headers["location"].rsplit("/", 1)[1]))
    assert ticket is not None
    bench = client.get("/staff/")
    assert bench.status_code == 200
    assert ticket.tracking_code in bench.text and 'href="/staff/intake"' in bench.text
    assert "派单队列" in bench.text
