"""Admins reword the message templates at run time: checked, audited, used from the next
message on, masked like the packaged ones; deleting the wording brings the default back."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.audit.models import AuditEntry
from minyi.core.clock import FixedClock
from minyi.core.errors import ValidationFailed
from minyi.notify import service, template_admin, templates
from minyi.notify.models import OutboxMessage, TemplateOverride
from minyi.org.domain import Role, UnitKind
from tests.factories import login, make_town, make_unit, make_user

RECEIVED = "citizen.received"
NEW_WORDING = "【民意】我们已收到您的诉求，查询码 {tracking_code}，请留意后续短信。"
PHONE = "13900001111"


@pytest.fixture()
def admin(client: TestClient, session: Session) -> dict[str, str]:
    make_user(session, "admin", Role.ADMIN)
    return login(client, "admin")


def _put(api: TestClient, headers: dict[str, str], code: str, **body: Any) -> Any:
    return api.put(f"/api/v1/notify/templates/{code}", json=body, headers=headers)


def _overrides(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(TemplateOverride)) or 0


def _audit(session: Session, action: str) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        )
    )


def _appeal(
    api: TestClient, session: Session, text: str = "小区门口路灯坏了一个星期，晚上很黑"
) -> tuple[str, OutboxMessage]:
    """A citizen's web appeal: its tracking code and the SMS it queued. (The same text again
    within ten minutes would be taken as a repeat of the first.)"""
    response = api.post(
        "/api/v1/appeals",
        json={
            "channel": "web",
            "type": "request",
            "text": text,
            "requester": {"name": "张先生", "phone": PHONE},
        },
    )
    assert response.status_code == 201, response.text
    answer = response.json()
    sms = session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.target == service.requester_target(answer["ticket_id"]),
            OutboxMessage.event_type == "ticket.receive",
        )
    ).one()
    return answer["tracking_code"], sms


@pytest.fixture()
def api(client: TestClient, session: Session) -> TestClient:
    make_town(session)
    return client


# --- the whole path: an admin rewords, the next appeal's SMS uses it -----------------------


def test_an_admin_rewords_the_receipt_and_the_next_appeals_sms_uses_it(
    api: TestClient, session: Session, admin: dict[str, str]
) -> None:
    # given: the packaged wording goes out first
    _, before = _appeal(api, session)
    assert before.payload["text"].startswith("【民意】您的诉求已受理")
    # when: an admin rewords the receipt
    saved = _put(api, admin, RECEIVED, subject="诉求已收到", text=NEW_WORDING)
    assert saved.status_code == 200, saved.text
    answer = saved.json()
    assert answer["overridden"] is True and answer["text"] == NEW_WORDING
    assert answer["subject"] == "诉求已收到" and answer["warnings"] == []
    assert answer["default_text"].startswith("【民意】您的诉求已受理")
    # then: the next appeal's SMS is in the new wording, with its own tracking code
    code, after = _appeal(api, session, "楼下餐馆油烟很大，窗户都不敢开")
    assert after.channel == "sms"
    assert after.payload["text"] == NEW_WORDING.format(tracking_code=code)
    assert after.payload["subject"] == "诉求已收到"
    assert after.payload["template"] == RECEIVED
    # and the citizen's number is still nowhere in the outbox: addressed by reference
    assert PHONE not in str(after.payload) and PHONE not in after.target


def test_a_reworded_staff_template_still_masks_phone_name_and_id_numbers(
    session: Session, clock: FixedClock
) -> None:
    template_admin.set_override(
        session,
        code="staff.new_ticket",
        subject="新工单",
        text="请签收 {tracking_code}：{summary}（{name}，{phone}），{due} 前。",
        actor="user:1",
        clock=clock,
    )
    message = service.notify_template(
        session,
        channel="log",
        target=service.unit_target(7),
        code="staff.new_ticket",
        params={
            "tracking_code": "7KQ2M9XH4T",
            "summary": "请回电13812345678，身份证110101199003078515",
            "name": "王小明",
            "phone": "13812345678",
            "due": "11月3日 17:00",
        },
        event_type="ticket.dispatch",
        ticket_id=None,
        now=clock.now(),
    )
    text = message.payload["text"]
    assert text.startswith("请签收 7KQ2M9XH4T：") and message.payload["subject"] == "新工单"
    assert "138****5678" in text and "王**" in text
    assert "13812345678" not in str(message.payload) and "王小明" not in str(message.payload)
    assert "110101199003078515" not in text


def test_delete_brings_the_default_back(
    api: TestClient, session: Session, admin: dict[str, str]
) -> None:
    assert _put(api, admin, RECEIVED, subject="诉求已收到", text=NEW_WORDING).status_code == 200
    response = api.delete(f"/api/v1/notify/templates/{RECEIVED}", headers=admin)
    assert response.status_code == 204
    code, sms = _appeal(api, session)
    assert sms.payload["text"] == templates.load_templates()[RECEIVED].text.format(
        tracking_code=code
    )
    assert _overrides(session) == 0
    # deleting again changes nothing and is no error
    assert api.delete(f"/api/v1/notify/templates/{RECEIVED}", headers=admin).status_code == 204
    assert len(_audit(session, "notify.template.reset")) == 1


def test_every_change_is_audited_with_old_and_new_wording(
    api: TestClient, session: Session, admin: dict[str, str]
) -> None:
    default = templates.load_templates()[RECEIVED]
    _put(api, admin, RECEIVED, subject="诉求已收到", text=NEW_WORDING)
    _put(api, admin, RECEIVED, subject="已收到", text=NEW_WORDING + "谢谢。")
    api.delete(f"/api/v1/notify/templates/{RECEIVED}", headers=admin)
    first, second = _audit(session, "notify.template.set")
    [reset] = _audit(session, "notify.template.reset")
    assert first.object_type == "notify_template" and first.object_id == RECEIVED
    assert first.actor.startswith("user:")
    assert first.data["old"] == {
        "subject": default.subject,
        "text": default.text,
        "overridden": False,
    }
    assert first.data["new"] == {"subject": "诉求已收到", "text": NEW_WORDING, "overridden": True}
    assert second.data["old"]["text"] == NEW_WORDING
    assert second.data["new"]["text"] == NEW_WORDING + "谢谢。"
    assert reset.data["old"]["text"] == NEW_WORDING + "谢谢。"
    assert reset.data["new"] == {
        "subject": default.subject,
        "text": default.text,
        "overridden": False,
    }


# --- refused wordings: a clear error, nothing stored ---------------------------------------


@pytest.mark.parametrize(
    ("code", "body", "status", "error"),
    [
        pytest.param(
            RECEIVED,
            {"subject": "已受理", "text": "查询码 {tracking_code}，承办单位 {unit}"},
            422,
            "template_unknown_placeholder",
            id="unknown-placeholder",
        ),
        pytest.param(
            RECEIVED,
            {"subject": "已受理", "text": "您的诉求已受理，请耐心等待。"},
            422,
            "template_tracking_code_required",
            id="tracking-code-removed",
        ),
        pytest.param(
            RECEIVED, {"subject": "已受理", "text": "   "}, 422, "template_text_length", id="empty"
        ),
        pytest.param(
            RECEIVED,
            {"subject": "已受理", "text": "查询码" + "很长" * 250 + "{tracking_code}"},
            422,
            "template_text_length",
            id="text-too-long",
        ),
        pytest.param(
            RECEIVED,
            {"subject": "", "text": NEW_WORDING},
            422,
            "template_subject_length",
            id="empty-subject",
        ),
        pytest.param(
            RECEIVED,
            {"subject": "字" * 51, "text": NEW_WORDING},
            422,
            "template_subject_length",
            id="subject-too-long",
        ),
        pytest.param(
            RECEIVED,
            {"subject": "已受理", "text": "查询码 {tracking_code"},
            422,
            "template_bad_braces",
            id="unbalanced-brace",
        ),
        pytest.param(
            RECEIVED,
            {"subject": "已受理", "text": "查询码 {tracking_code}，格式 {{json}}"},
            422,
            "template_bad_braces",
            id="literal-braces",
        ),
        pytest.param(
            RECEIVED,
            {"subject": "已受理", "text": "查询码 {tracking_code!r}"},
            422,
            "template_bad_placeholder",
            id="conversion",
        ),
        pytest.param(
            RECEIVED,
            {"subject": "已受理", "text": "查询码 {tracking_code.__class__}"},
            422,
            "template_bad_placeholder",
            id="attribute",
        ),
        pytest.param(
            RECEIVED,
            {"subject": "已受理 {tracking_code}", "text": NEW_WORDING},
            422,
            "template_bad_braces",
            id="placeholder-in-subject",
        ),
        pytest.param(
            "citizen.nonsense",
            {"subject": "已受理", "text": NEW_WORDING},
            404,
            "template_not_found",
            id="unknown-code",
        ),
    ],
)
def test_a_bad_wording_is_refused_clearly_and_nothing_is_stored(
    api: TestClient,
    session: Session,
    admin: dict[str, str],
    code: str,
    body: dict[str, str],
    status: int,
    error: str,
) -> None:
    response = _put(api, admin, code, **body)
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["code"] == error
    assert answer["message"] and answer["message_en"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in answer["message"])
    assert _overrides(session) == 0
    assert _audit(session, "notify.template.set") == []


def test_the_unknown_placeholder_error_names_what_may_be_used(
    api: TestClient, admin: dict[str, str]
) -> None:
    response = _put(
        api, admin, "citizen.dispatched", subject="已转办", text="{tracking_code} 由 {phone}"
    )
    assert response.status_code == 422
    details = response.json()["details"]
    assert details == {"unknown": ["phone"], "allowed": ["tracking_code", "unit"]}
    assert "{tracking_code}、{unit}" in response.json()["message"]


def test_a_placeholder_without_the_tracking_code_may_be_dropped(
    api: TestClient, admin: dict[str, str]
) -> None:
    # {unit} is the default's, but only {tracking_code} must stay
    response = _put(
        api,
        admin,
        "citizen.dispatched",
        subject="已转办",
        text="【民意】您的诉求（查询码 {tracking_code}）已转交承办单位办理。",
    )
    assert response.status_code == 200, response.text


def test_a_long_citizen_sms_is_saved_with_a_warning(
    api: TestClient, session: Session, admin: dict[str, str]
) -> None:
    long_text = "【民意】您的诉求已受理，查询码 {tracking_code}。" + "请保持电话畅通，" * 8
    response = _put(api, admin, RECEIVED, subject="诉求已受理", text=long_text)
    assert response.status_code == 200, response.text
    [warning] = response.json()["warnings"]
    assert warning["code"] == "template_sms_long"
    assert "70" in warning["message"] and warning["message_en"]
    assert _overrides(session) == 1
    # staff messages go to the inbox, not by SMS: no warning however long
    staff = _put(
        api,
        admin,
        "staff.warning",
        subject="即将到期",
        text="预警：工单 {tracking_code} 将于 {due} 到期。" + "请尽快办理并在系统中登记进展。" * 6,
    )
    assert staff.status_code == 200 and staff.json()["warnings"] == []


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.SUPERVISOR, Role.CITIZEN])
def test_only_admins_see_or_change_templates(api: TestClient, session: Session, role: Role) -> None:
    town = make_town(session, "R")
    centre = make_unit(session, "RC", town.city, UnitKind.DISPATCH_CENTRE, "12345中心")
    make_user(session, "someone", role, None if role is Role.CITIZEN else centre)
    headers = login(api, "someone")
    base = "/api/v1/notify/templates"
    answers = [
        api.get(base, headers=headers),
        _put(api, headers, RECEIVED, subject="诉求已收到", text=NEW_WORDING),
        api.delete(f"{base}/{RECEIVED}", headers=headers),
        api.post(f"{base}/{RECEIVED}/preview", headers=headers),
    ]
    assert [a.status_code for a in answers] == [403] * 4
    assert answers[1].json()["code"] == "role_not_allowed"
    assert _overrides(session) == 0
    assert api.get(base).status_code == 401


# --- the list and the preview -----------------------------------------------------------------


def test_the_list_shows_every_template_default_and_current(
    api: TestClient, admin: dict[str, str]
) -> None:
    _put(api, admin, RECEIVED, subject="诉求已收到", text=NEW_WORDING)
    response = api.get("/api/v1/notify/templates", headers=admin)
    assert response.status_code == 200
    items = {i["code"]: i for i in response.json()["items"]}
    assert set(items) == set(templates.load_templates())
    received = items[RECEIVED]
    assert received["overridden"] is True and received["text"] == NEW_WORDING
    assert received["default_subject"] == "诉求已受理"
    assert received["placeholders"] == ["tracking_code"]
    assert received["required_placeholders"] == ["tracking_code"]
    assert received["updated_by"].startswith("user:") and received["updated_at"]
    new_ticket = items["staff.new_ticket"]
    assert new_ticket["overridden"] is False and new_ticket["text"] == new_ticket["default_text"]
    assert new_ticket["placeholders"] == ["due", "name", "phone", "summary", "tracking_code"]
    assert new_ticket["updated_by"] is None and new_ticket["problem"] is None


def test_preview_shows_what_the_recipient_reads_masked(
    api: TestClient, session: Session, admin: dict[str, str]
) -> None:
    url = "/api/v1/notify/templates/staff.new_ticket/preview"
    # the wording in use, with sample values
    sample = api.post(url, headers=admin)
    assert sample.status_code == 200, sample.text
    shown = sample.json()
    assert "138****5678" in shown["text"] and "张**" in shown["text"]
    assert "13812345678" not in shown["text"] and "张三丰" not in shown["text"]
    assert shown["subject"] == "新工单待签收" and shown["length"] == len(shown["text"])
    # a draft with values of the admin's own: masked too, and nothing stored
    draft = api.post(
        url,
        headers=admin,
        json={
            "text": "{name}（{phone}）的诉求 {tracking_code}：{summary}，{due} 前签收",
            "params": {"name": "欧阳娜娜", "phone": "13712345678", "summary": "噪声"},
        },
    )
    assert draft.status_code == 200, draft.text
    assert draft.json()["text"].startswith("欧***（137****5678）的诉求 7KQ2M9XH4T：噪声")
    assert _overrides(session) == 0
    # a draft is checked like a save
    bad = api.post(url, headers=admin, json={"text": "诉求 {summary}"})
    assert bad.status_code == 422 and bad.json()["code"] == "template_tracking_code_required"
    unknown = api.post(url, headers=admin, json={"params": {"address": "东风路1号"}})
    assert unknown.status_code == 422 and unknown.json()["code"] == "template_unknown_placeholder"
    missing = api.post("/api/v1/notify/templates/nope/preview", headers=admin)
    assert missing.status_code == 404 and missing.json()["code"] == "template_not_found"


def test_preview_of_a_long_citizen_draft_counts_the_sms_parts(
    api: TestClient, admin: dict[str, str]
) -> None:
    text = "【民意】查询码 {tracking_code}。" + "请保持电话畅通。" * 10
    response = api.post(
        f"/api/v1/notify/templates/{RECEIVED}/preview", headers=admin, json={"text": text}
    )
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["length"] > 70 and shown["sms_segments"] == 2
    assert [w["code"] for w in shown["warnings"]] == ["template_sms_long"]


# --- the cache and stale wordings -------------------------------------------------------------


def test_render_for_follows_every_change_within_one_clock_tick(
    session: Session, clock: FixedClock
) -> None:
    params = {"tracking_code": "7KQ2M9XH4T"}
    assert templates.render_for(session, RECEIVED, params).text.startswith("【民意】您的诉求")
    for wording in ("第一版 {tracking_code}", "第二版 {tracking_code}"):
        template_admin.set_override(
            session, code=RECEIVED, subject="已受理", text=wording, actor="user:1", clock=clock
        )
        assert templates.render_for(session, RECEIVED, params).text == wording.format(**params)
    template_admin.reset_override(session, code=RECEIVED, actor="user:1", clock=clock)
    assert templates.render_for(session, RECEIVED, params).text.startswith("【民意】您的诉求")
    # callers without a session keep the packaged wording
    assert templates.render(RECEIVED, params).text.startswith("【民意】您的诉求")


def test_a_stored_wording_that_no_longer_fits_its_default_is_not_used(
    session: Session, clock: FixedClock
) -> None:
    # given: a wording stored before a release renamed a placeholder
    session.add(
        TemplateOverride(
            code=RECEIVED,
            subject="已受理",
            text="查询码 {tracking_code}，受理人 {agent}",
            updated_by="user:1",
            updated_at=clock.now(),
        )
    )
    templates.touch(session)
    # then: the appeal is still taken, in the default wording, and the list says why
    rendered = templates.render_for(session, RECEIVED, {"tracking_code": "7KQ2M9XH4T"})
    assert rendered.text.startswith("【民意】您的诉求已受理，查询码 7KQ2M9XH4T")
    view = template_admin.get_template(session, RECEIVED)
    assert view.problem == "template_unknown_placeholder"
    assert view.current.text == templates.load_templates()[RECEIVED].text


def test_check_override_is_pure_and_names_the_problem() -> None:
    default = templates.load_templates()["citizen.replied"]
    assert (
        templates.check_override(default, subject="已答复", text="{tracking_code}：{reply}") == []
    )
    with pytest.raises(ValidationFailed) as caught:
        templates.check_override(default, subject="已答复", text="{reply} {}")
    assert caught.value.code == "template_bad_placeholder"
    staff = templates.load_templates()["admin.calendar_missing"]
    # a template without a tracking code has none to keep
    assert templates.check_override(staff, subject="节假日", text="请录入{years}的安排。") == []
