"""The citizen's appeal form: every page in Chinese, a submission with a real photo, the
live emergency and "already reported" boxes, and bad input answered plainly in the page
with nothing stored."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.intake.filestore import DirectoryFileStore
from minyi.intake.models import Attachment
from minyi.tickets.models import Ticket
from tests.factories import World, make_world
from tests.intake.samples import png
from tests.web.test_citizen_helpers import (
    FORM,
    NOISE,
    count,
    labelled,
    post_notice,
    stored,
    submit,
    tracking_code,
    use_store,
)


@pytest.fixture()
def world(session: Session) -> World:
    return make_world(session)


@pytest.fixture()
def store(client: TestClient, tmp_path: Path) -> DirectoryFileStore:
    return use_store(client, tmp_path)


def test_every_page_is_chinese_with_the_contracts_labels(client: TestClient, world: World) -> None:
    home = client.get("/")
    assert home.status_code == 200 and '<html lang="zh-CN">' in home.text
    assert labelled(home.text, "搜索政策和通知") and ">搜索</button>" in home.text
    assert 'href="/appeal"' in home.text and "我要反映问题" in home.text
    assert 'href="/track"' in home.text and "查询办理进度" in home.text
    assert "长辈模式（大字）" in home.text

    form = client.get("/appeal")
    assert form.status_code == 200
    for label in ("诉求类型", "诉求内容", "问题地址", "手机号码", "姓名（可不填）", "匿名反映"):
        assert labelled(form.text, label), label
    assert labelled(form.text, "上传照片、录音或视频")
    assert re.search(r'<input type="file" id="files" name="files" multiple', form.text)
    for word in ("投诉", "求助", "咨询", "建议", "举报", "表扬"):
        assert f">{word}</option>" in form.text
    assert ">提交诉求</button>" in form.text
    # The live boxes are announced politely by screen readers and refreshed by htmx.
    for box in ("emergency-box", "similar-box"):
        tag = re.search(rf'<div id="{box}"[^>]*>', form.text)
        assert tag is not None and 'aria-live="polite"' in tag.group(0)
        assert "hx-post=" in tag.group(0)
    # Suggestions for the address come from the organisation tree.
    assert '<option value="T1区东风街道">' in form.text

    find = client.get("/track")
    assert find.status_code == 200
    assert labelled(find.text, "查询码") and labelled(find.text, "手机号后四位")
    assert ">查询</button>" in find.text


def test_a_submission_with_a_real_photo_opens_a_ticket_and_shows_its_code(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    before = count(session)
    answer = submit(client, files=[("工地.png", png(4, 4), "image/png")])
    assert answer.status_code == 303, answer.text
    code = answer.headers["location"].removeprefix("/appeal/done/")
    assert count(session) == before + 1

    done = client.get(answer.headers["location"])
    assert done.status_code == 200 and "您的诉求已受理" in done.text
    assert tracking_code(done.text) == code
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_code == code))
    assert ticket is not None and ticket.channel == "web" and ticket.text == NOISE
    photo = session.scalar(select(Attachment).where(Attachment.ticket_id == ticket.id))
    assert photo is not None and photo.mime == "image/png" and photo.original_name == "工地.png"
    assert len(stored(store)) == 1
    # The browser that submitted may follow it straight away; another may not see it.
    assert client.get(f"/track/{code}").status_code == 200
    stranger = TestClient(client.app)
    assert stranger.get(answer.headers["location"]).status_code == 404


def test_a_double_submission_opens_one_ticket(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    before = count(session)
    first = submit(client, form_key="same-form-key-123")
    again = submit(client, form_key="same-form-key-123")
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert count(session) == before + 1


def test_bad_input_is_explained_beside_its_field_and_nothing_is_stored(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    before = count(session)

    empty = submit(client, text="   ")
    assert empty.status_code == 422
    assert "请填写诉求内容" in empty.text and 'role="alert"' in empty.text
    assert 'aria-invalid="true"' in empty.text
    # What was typed is kept.
    assert 'value="13812345678"' in empty.text and 'value="王小明"' in empty.text

    wrong_phone = submit(client, phone="12345")
    assert wrong_phone.status_code == 422 and "手机号码格式不对" in wrong_phone.text
    assert NOISE in wrong_phone.text

    fake = submit(client, files=[("照片.jpg", b"MZ\x90\x00 not a picture at all", "image/jpeg")])
    assert fake.status_code == 422
    assert "照片.jpg" in fake.text and "不支持的文件类型" in fake.text

    huge = "很长的诉求" * 2_100_000  # over 10 MB of text, typed into the form
    as_multipart = submit(client, text=huge, files=[("工地.png", png(), "image/png")])
    assert as_multipart.status_code == 413 and "太大" in as_multipart.text
    as_plain = client.post("/appeal", data={**FORM, "text": huge}, follow_redirects=False)
    assert as_plain.status_code == 413 and "太大" in as_plain.text
    too_long = submit(client, text="字" * 10_001)
    assert too_long.status_code == 422 and "最多 10000 字" in too_long.text

    assert count(session) == before
    assert stored(store) == []


def test_a_script_is_refused_and_shown_back_as_text_and_other_markup_stays_text(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    before = count(session)
    script = "<script>alert('x')</script>路灯不亮"
    refused = submit(client, text=script)
    assert refused.status_code == 422
    assert "网页代码" in refused.text
    assert "<script>alert" not in refused.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;路灯不亮" in refused.text
    assert count(session) == before

    typed = "<b>路灯</b>不亮，离路口<5米"
    answer = submit(client, text=typed)
    assert answer.status_code == 303
    page = client.get(f"/track/{answer.headers['location'].rsplit('/', 1)[-1]}")
    assert "<b>路灯</b>" not in page.text and "&lt;b&gt;路灯&lt;/b&gt;" in page.text


def test_the_emergency_box_says_to_call_at_once(client: TestClient, world: World) -> None:
    gas = client.post("/appeal/emergency", data={"text": "煤气泄漏了好大的味道"})
    assert gas.status_code == 200
    assert 'href="tel:119"' in gas.text and "燃气" in gas.text and "马上" in gas.text
    hurt = client.post("/appeal/emergency", data={"text": "有人被困在电梯里，有人受伤了"})
    assert 'href="tel:120"' in hurt.text and 'href="tel:119"' in hurt.text
    ordinary = client.post("/appeal/emergency", data={"text": "小区门口的路灯坏了一个月"})
    assert ordinary.status_code == 200 and "tel:" not in ordinary.text
    # The same box is on the page when the form comes back (without JavaScript too).
    again = submit(client, text="楼道里煤气泄漏了，味道很大", phone="1")
    box = again.text.split('id="emergency-box"', 1)[1].split('id="similar-box"', 1)[0]
    assert 'href="tel:119"' in box


def test_the_similar_box_offers_to_follow_an_open_appeal_without_personal_data(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    first = submit(client, text=f"{NOISE}，我的电话13900001111", phone="13900001111")
    code = first.headers["location"].rsplit("/", 1)[-1]
    neighbour = TestClient(client.app)
    box = neighbour.post(
        "/appeal/similar",
        data={"text": "幸福社区边上工地半夜打桩太吵了", "address_text": "东风街道幸福社区"},
    )
    assert box.status_code == 200
    assert "附近可能已有人反映过同一问题" in box.text and "关注此诉求" in box.text
    link = re.search(rf'href="(/track/{code}\?follow=[0-9a-f]+)"', box.text)
    assert link is not None
    for private in ("13900001111", "1111", "王小明"):
        assert private not in box.text
    # No long number anywhere but in the link's token.
    assert not re.search(r"\d{5,}", re.sub(r'href="[^"]*"', "", box.text))

    # The follower sees the progress, not the reply, the files or the buttons.
    followed = neighbour.get(link.group(1).replace("&amp;", "&"))
    assert followed.status_code == 200 and 'id="ticket-status"' in followed.text
    assert "1111" not in followed.text and "提交补充" not in followed.text
    assert neighbour.get(f"/track/{code}?follow=0000").status_code == 404
    # Nothing about another area.
    elsewhere = neighbour.post(
        "/appeal/similar", data={"text": "菜市场门口下水道堵了", "address_text": ""}
    )
    assert "关注此诉求" not in elsewhere.text


def test_a_post_from_another_site_is_refused(
    client: TestClient, world: World, session: Session, store: DirectoryFileStore
) -> None:
    before = count(session)
    evil = client.post(
        "/appeal", data=FORM, headers={"Origin": "https://evil.example"}, follow_redirects=False
    )
    assert evil.status_code == 403 and "本网站" in evil.text
    referred = client.post(
        "/appeal",
        data=FORM,
        headers={"Referer": "https://evil.example/form"},
        follow_redirects=False,
    )
    assert referred.status_code == 403
    ours = client.post(
        "/appeal", data=FORM, headers={"Origin": "http://testserver"}, follow_redirects=False
    )
    assert ours.status_code == 303
    assert count(session) == before + 1


def test_search_finds_notices_and_offers_the_form(
    client: TestClient, world: World, session: Session
) -> None:
    post_notice(session, world, "东风街道幸福社区11月2日8:00至18:00停水检修管道")
    found = client.get("/search", params={"q": "停水"})
    assert found.status_code == 200
    assert "停水检修管道" in found.text and 'href="/appeal"' in found.text
    nothing = client.get("/search", params={"q": "停电"})
    assert "停水检修管道" not in nothing.text and "没有找到" in nothing.text
    short = client.get("/search", params={"q": "水"})
    assert short.status_code == 400 and "至少输入两个字" in short.text
    home = client.get("/")
    assert "停水检修管道" in home.text
