"""Following an appeal like a parcel: found by tracking code + the phone's last four digits,
its status moving as staff act through the ticket service, the reply deadline, the reply,
the files; supplement, chase, withdraw and rate from the page; errors as HTML pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.intake.filestore import DirectoryFileStore
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from tests.factories import World, make_world
from tests.intake.samples import png
from tests.web.test_citizen_helpers import (
    NOISE,
    PHONE,
    act,
    file_appeal,
    status_of,
    submit,
    use_store,
    walk_to_rating,
)

REPLY = "已到现场检查，责令工地夜间停止打桩，并安排夜间巡查。"
ALL_FIVE = {"speed": "5", "result": "5", "attitude": "5", "quality": "5", "comment": "谢谢"}


@pytest.fixture()
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture()
def store(client: TestClient, tmp_path: Path) -> DirectoryFileStore:
    return use_store(client, tmp_path)


def fresh(client: TestClient) -> TestClient:
    """Another browser: same app, no cookies."""
    return TestClient(client.app)


def ticket_of(session: Session, code: str) -> Ticket:
    session.expire_all()
    found = session.scalar(select(Ticket).where(Ticket.tracking_code == code))
    assert found is not None
    return found


def test_found_by_code_and_last_four_digits_and_nothing_else(
    client: TestClient, world: World, store: DirectoryFileStore
) -> None:
    code = file_appeal(client)
    browser = fresh(client)
    # Without the proof the page is closed, as for a code that does not exist.
    closed = browser.get(f"/track/{code}")
    unknown = browser.get("/track/ZZZZZZZZZZ")
    assert closed.status_code == unknown.status_code == 404
    assert closed.headers["content-type"].startswith("text/html")
    assert "查询不到该诉求" in closed.text
    assert closed.text.replace(code, "ZZZZZZZZZZ") == unknown.text

    wrong = browser.post("/track", data={"code": code, "last4": "0000"}, follow_redirects=False)
    nobody = browser.post(
        "/track", data={"code": "ZZZZZZZZZZ", "last4": PHONE[-4:]}, follow_redirects=False
    )
    assert wrong.status_code == nobody.status_code == 404
    assert "查询码或手机号后四位不对" in wrong.text
    assert wrong.text.replace(code, "ZZZZZZZZZZ") == nobody.text
    assert "minyi_track" not in wrong.headers.get("set-cookie", "")

    malformed = browser.post("/track", data={"code": "", "last4": "12"}, follow_redirects=False)
    assert malformed.status_code == 422
    assert "请填写查询码" in malformed.text and "最后 4 位" in malformed.text

    right = browser.post(
        "/track", data={"code": code.lower(), "last4": PHONE[-4:]}, follow_redirects=False
    )
    assert right.status_code == 303 and right.headers["location"] == f"/track/{code}"
    cookie = right.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    page = browser.get(f"/track/{code}")
    assert page.status_code == 200 and status_of(page.text) == "已受理"
    assert NOISE in page.text and PHONE not in page.text


def test_the_status_follows_the_staff_and_the_page_shows_deadline_and_reply(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    code = file_appeal(client)
    page = client.get(f"/track/{code}").text
    assert status_of(page) == "已受理" and "派给承办单位后确定" in page

    act(session, code, "dispatcher", Action.DISPATCH, unit_id=world.bureau.id, co_unit_ids=[])
    page = client.get(f"/track/{code}").text
    assert status_of(page) == "已派单"
    assert f"已派单（{world.bureau.name}）" in page
    # The unit's reply clock, with the time left, on working days.
    deadline = page.split("答复期限", 1)[1].split("</dd>", 1)[0]
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d", deadline)
    assert "剩余" in deadline and "工作日" in deadline

    act(session, code, "handler", Action.ACCEPT)
    act(session, code, "handler", Action.CONTACT)
    assert status_of(client.get(f"/track/{code}").text) == "已联系"
    act(session, code, "handler", Action.START)
    assert status_of(client.get(f"/track/{code}").text) == "办理中"
    act(session, code, "handler", Action.REPLY, text=REPLY)
    page = client.get(f"/track/{code}").text
    # Not shown until the centre has checked it; the deadline gives way to the reply's time.
    assert REPLY not in page and "正在审核" in page
    assert "答复时间" in page and "答复期限" not in page
    act(session, code, "dispatcher", Action.APPROVE_REPLY)
    page = client.get(f"/track/{code}").text
    assert status_of(page) == "待评价" and REPLY in page
    for step in ("已受理", "已派单", "已联系", "办理中", "已答复"):
        assert step in page
    assert f'href="/track/{code}/rate">评价</a>' in page


def test_rating_all_fives_closes_the_appeal(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    code = file_appeal(client)
    assert client.get(f"/track/{code}/rate").status_code == 409  # nothing to rate yet
    walk_to_rating(session, world, code, REPLY)
    form = client.get(f"/track/{code}/rate")
    assert form.status_code == 200
    for legend in ("办理速度", "办理结果", "服务态度", "答复质量"):
        assert f"<legend>{legend}</legend>" in form.text
    for word in ("很不满意", "不满意", "一般", "满意", "很满意"):
        assert word in form.text
    assert '<label for="comment">评价意见</label>' in form.text and "重新办理" in form.text

    missing = client.post(
        f"/track/{code}/rate", data={**ALL_FIVE, "quality": ""}, follow_redirects=False
    )
    assert missing.status_code == 422 and "答复质量" in missing.text
    assert 'value="5" checked' in missing.text  # what was chosen is kept
    assert ticket_of(session, code).status == "awaiting_rating"

    rated = client.post(f"/track/{code}/rate", data=ALL_FIVE, follow_redirects=False)
    assert rated.status_code == 303
    page = client.get(rated.headers["location"]).text
    assert status_of(page) == "已办结" and "感谢您的评价" in page


def test_a_bad_rating_says_plainly_it_goes_back_to_be_redone(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    code = file_appeal(client)
    walk_to_rating(session, world, code, REPLY)
    bad = {"speed": "4", "result": "1", "attitude": "3", "quality": "2", "comment": "还在打桩"}
    rated = client.post(f"/track/{code}/rate", data=bad, follow_redirects=False)
    assert rated.status_code == 303
    page = client.get(rated.headers["location"]).text
    assert "退回承办单位重新办理" in page and status_of(page) == "重办中"
    assert ticket_of(session, code).redo_count == 1


def test_supplement_chase_and_withdraw_from_the_page(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    code = file_appeal(client)
    page = client.get(f"/track/{code}").text
    assert '<label for="supplement-text">补充内容</label>' in page and "提交补充" in page
    assert "派单以后才能催办" in page  # nothing to chase before dispatch
    early = client.post(f"/track/{code}/chase", follow_redirects=False)
    assert early.status_code == 409 and "派单以后才能催办" in early.text
    empty = client.post(f"/track/{code}/supplement", data={"text": "  "}, follow_redirects=False)
    assert empty.status_code == 422 and "请填写补充内容" in empty.text

    added = client.post(
        f"/track/{code}/supplement",
        data={"text": "今天早上又在打桩，<b>已拍照</b>"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    page = client.get(added.headers["location"]).text
    assert "补充内容已提交" in page and "今天早上又在打桩，&lt;b&gt;已拍照&lt;/b&gt;" in page

    act(session, code, "dispatcher", Action.DISPATCH, unit_id=world.bureau.id, co_unit_ids=[])
    assert "提醒承办单位尽快办理" in client.get(f"/track/{code}").text
    chased = client.post(f"/track/{code}/chase", follow_redirects=False)
    assert chased.status_code == 303 and ticket_of(session, code).chase_count == 1
    assert "已催办" in client.get(chased.headers["location"]).text

    ask = client.post(f"/track/{code}/withdraw", follow_redirects=False)
    assert ask.status_code == 200 and "确认撤回" in ask.text
    assert ticket_of(session, code).status == "dispatched"
    withdrawn = client.post(
        f"/track/{code}/withdraw", data={"confirm": "yes"}, follow_redirects=False
    )
    assert withdrawn.status_code == 303
    page = client.get(withdrawn.headers["location"]).text
    assert status_of(page) == "已撤诉" and "撤回诉求</button>" not in page

    # Without the proof, nothing can be done.
    stranger = fresh(client)
    assert stranger.post(f"/track/{code}/chase", follow_redirects=False).status_code == 404


def test_a_post_from_another_site_changes_nothing(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    code = file_appeal(client)
    evil = client.post(
        f"/track/{code}/withdraw",
        data={"confirm": "yes"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert evil.status_code == 403
    assert ticket_of(session, code).status == "received"


def test_attachments_are_shown_to_the_owner_only(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    photo = png(3, 3)
    answer = submit(client, files=[("路灯.png", photo, "image/png")])
    code = answer.headers["location"].rsplit("/", 1)[-1]
    page = client.get(f"/track/{code}").text
    link = re.search(rf'href="(/track/{code}/files/\d+)"', page)
    assert link is not None and "路灯.png" in page and 'alt="您提交的图片：路灯.png"' in page
    served = client.get(link.group(1))
    assert served.status_code == 200 and served.content == photo
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert fresh(client).get(link.group(1)).status_code == 404


def test_large_type_mode_is_thorough(client: TestClient, world: World) -> None:
    client.post("/large-type", data={"back": "/appeal"}, follow_redirects=False)
    page = client.get("/appeal").text
    assert '<body class="large-type' in page and "标准字号" in page
    css = client.get("/static/css/minyi.css").text
    assert '<html lang="zh-CN" class="large-type">' in page
    for rule in ("html.large-type", "--base-size: 21px", ".large-type .scale", ":focus-visible"):
        assert rule in css
    refused = client.post(
        "/large-type", data={"back": "/"}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    back = client.post("/large-type", data={"back": "/\\evil.example"}, follow_redirects=False)
    assert back.headers["location"] == "/"


def test_an_instant_answer_can_close_a_consultation(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    from tests.triage.knowledge.helpers import RESIDENCE_ANSWER, RESIDENCE_QUESTIONS, approved_entry

    approved_entry(session, questions=RESIDENCE_QUESTIONS, answer=RESIDENCE_ANSWER)
    session.commit()
    code = file_appeal(client, type="consultation", text="请问居住证怎么办理？")
    done = client.get(f"/appeal/done/{code}").text
    assert RESIDENCE_ANSWER in done and "问题已解决" in done
    page = client.get(f"/track/{code}").text
    assert RESIDENCE_ANSWER in page
    accepted = client.post(f"/track/{code}/instant-answer/accept", follow_redirects=False)
    assert accepted.status_code == 303
    page = client.get(accepted.headers["location"]).text
    assert status_of(page) == "已直接答复" and "问题已解决，诉求已办结" in page


def test_an_appeal_without_a_phone_is_confirmed_but_cannot_be_tracked_online(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    answer = submit(client, phone="", name="", anonymous="1")
    assert answer.status_code == 303
    done = client.get(answer.headers["location"])
    assert done.status_code == 200 and "不能在网上查询进度" in done.text
    code = answer.headers["location"].rsplit("/", 1)[-1]
    assert client.get(f"/track/{code}").status_code == 404
    named = submit(client, text="匿名反映：公园长椅坏了", phone="", name="老王", anonymous="1")
    assert client.get(named.headers["location"]).status_code == 200
    # A browser cannot claim an appeal that left a phone by saying it had none.
    other = file_appeal(fresh(client), text="另一条：楼道灯不亮")
    client.cookies.set("minyi_track", f"{other}-")
    assert client.get(f"/appeal/done/{other}").status_code == 404


def test_addresses_only_posted_to_lead_back_to_their_page(
    client: TestClient, world: World, store: DirectoryFileStore
) -> None:
    code = file_appeal(client)
    for url, target in (
        ("/appeal/check", "/appeal"),
        (f"/track/{code}/supplement", f"/track/{code}"),
        (f"/track/{code}/instant-answer/accept", f"/track/{code}"),
        ("/large-type", "/"),
    ):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == target, url
    bad = client.get(f"/track/{code}/files/not-a-number")
    assert bad.status_code == 404 and bad.headers["content-type"].startswith("text/html")
