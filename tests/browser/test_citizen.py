"""The citizen's whole journey in a real browser: submit with a photo, find the appeal by
its tracking code, watch the status change as staff act, rate; and the emergency box."""

from __future__ import annotations

import re

from playwright.sync_api import Dialog, FilePayload, Page, expect

from tests.browser.conftest import (
    GAS_LINE,
    LAST4,
    PHONE_NUMBER,
    LiveServer,
    StaffApi,
    api_appeal,
    assert_accessible,
    open_tracking,
    screenshot,
    tiny_png,
    walk_to_rating,
)

NOISE = "幸福社区旁边的工地每天晚上十一点以后还在打桩，吵得孩子睡不着，请管一管"


def test_submit_with_a_photo_track_watch_the_status_and_rate(
    page: Page, live_server: LiveServer, staff_api: StaffApi
) -> None:
    page.goto("/appeal")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    assert_accessible(page, "反映问题表单 /appeal")
    screenshot(page, "appeal-form")

    types = page.get_by_label("诉求类型").locator("option").all_inner_texts()
    assert [t.strip() for t in types] == ["投诉", "求助", "咨询", "建议", "举报", "表扬"], types
    page.get_by_label("诉求类型").select_option(label="投诉")
    page.get_by_label("诉求内容").fill(NOISE)
    # The address suggests places from the organisation tree as it is typed.
    page.get_by_label("问题地址").press_sequentially("幸福", delay=30)
    suggestions = page.locator("#place-list option[value*='幸福社区']")
    expect(suggestions.first).to_be_attached()
    page.get_by_label("问题地址").fill("东风街道幸福社区3号楼旁工地")
    page.get_by_label("手机号码").fill(PHONE_NUMBER)
    page.get_by_label("姓名（可不填）").fill("王小明")
    photo: FilePayload = {"name": "工地.png", "mimeType": "image/png", "buffer": tiny_png()}
    page.get_by_label("上传照片、录音或视频").set_input_files([photo])
    screenshot(page, "appeal-form-filled")
    page.get_by_role("button", name="提交诉求").click()

    page.wait_for_url("**/appeal/done/*")
    expect(page.get_by_text("您的诉求已受理").first).to_be_visible()
    code = page.locator("#tracking-code").inner_text().strip()
    assert re.fullmatch(r"[A-Z0-9]{6,32}", code), code
    assert page.url.endswith(f"/appeal/done/{code}")
    assert_accessible(page, "受理回执 /appeal/done")
    screenshot(page, "appeal-done")
    # The photo was kept with the appeal.
    assert [p for p in live_server.files_dir.rglob("*") if p.is_file()], "no attachment stored"

    # A fresh visit finds the appeal by its code and the phone's last four digits.
    page.context.clear_cookies()
    page.goto("/track")
    assert_accessible(page, "查询表单 /track")
    screenshot(page, "track-form")
    open_tracking(page, code)
    status = page.locator("#ticket-status")
    expect(status).to_contain_text("已受理")
    expect(page.get_by_text(NOISE).first).to_be_visible()
    assert_accessible(page, "办理进度 /track/{code}")
    screenshot(page, "track-received")

    # Staff act through the API; the citizen reloads and sees each step.
    ticket = live_server.ticket_id(code)
    bureau = live_server.world.bureau_name
    staff_api.do(
        "dispatcher", ticket, "dispatch", unit_id=live_server.world.bureau_id, co_unit_ids=[]
    )
    page.reload()
    expect(status).to_contain_text("已派单")
    expect(page.locator("main")).to_contain_text(bureau)
    staff_api.do("handler", ticket, "accept")
    staff_api.do("handler", ticket, "contact")
    page.reload()
    expect(status).to_contain_text("已联系")
    staff_api.do("handler", ticket, "start")
    page.reload()
    expect(status).to_contain_text("办理中")
    reply = "已到现场检查，责令工地夜间停止打桩，并安排夜间巡查。"
    staff_api.do("handler", ticket, "reply", text=reply)
    staff_api.do("dispatcher", ticket, "approve_reply")
    page.reload()
    expect(status).to_contain_text("待评价")
    expect(page.get_by_text(reply).first).to_be_visible()
    for step in ("已受理", "已派单", "已联系", "办理中", "已答复"):
        expect(page.locator("main")).to_contain_text(step)
    assert_accessible(page, "办理进度（已答复）")
    screenshot(page, "track-replied")

    page.get_by_role("link", name="评价").or_(page.get_by_role("button", name="评价")).first.click()
    page.wait_for_url(f"**/track/{code}/rate")
    assert_accessible(page, "评价 /track/{code}/rate")
    screenshot(page, "rate")
    for group in ("办理速度", "办理结果", "服务态度", "答复质量"):
        radios = page.get_by_role("radiogroup", name=group).or_(
            page.get_by_role("group", name=group)
        )
        expect(radios.get_by_role("radio")).to_have_count(5)
        radios.get_by_role("radio", name=re.compile("很满意")).check()
    page.get_by_label("评价意见").fill("处理很及时，谢谢！")
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_url(f"**/track/{code}*")
    expect(page.locator("#ticket-status")).to_contain_text("已办结")


def test_a_bad_rating_says_the_appeal_goes_back_to_be_redone(
    page: Page, live_server: LiveServer, staff_api: StaffApi
) -> None:
    ticket, code = api_appeal(live_server, "小区门口的路灯坏了一个多月，晚上很黑，请尽快修好")
    walk_to_rating(staff_api, ticket, live_server.world.bureau_id, "已处理")
    open_tracking(page, code)
    page.goto(f"/track/{code}/rate")
    for group in ("办理速度", "办理结果", "服务态度", "答复质量"):
        radios = page.get_by_role("radiogroup", name=group).or_(
            page.get_by_role("group", name=group)
        )
        radios.get_by_role("radio", name=re.compile("很不满意")).check()
    page.get_by_label("评价意见").fill("路灯还是不亮")
    page.get_by_role("button", name="提交评价").click()
    # Said plainly: the appeal is not closed, it goes back to be handled again.
    expect(page.locator("main")).to_contain_text("重新办理")
    assert_accessible(page, "不满意评价之后")
    screenshot(page, "rate-unsatisfied")


def test_a_wrong_pair_gets_a_clear_message_and_leaks_nothing(
    page: Page, live_server: LiveServer
) -> None:
    _, code = api_appeal(live_server, "公园的健身器材坏了，有小孩差点受伤，请尽快维修")
    answers = []
    for tried_code, last4 in ((code, "0000"), ("ZZZZZZZZZZ", LAST4)):
        page.goto("/track")
        page.get_by_label("查询码").fill(tried_code)
        page.get_by_label("手机号后四位").fill(last4)
        page.get_by_role("button", name="查询", exact=True).click()
        page.wait_for_load_state()
        assert "/track/" not in page.url
        answers.append(page.locator("main").inner_text())
    # A wrong phone and an unknown code read the same: nobody learns which codes exist.
    assert answers[0] == answers[1].replace("ZZZZZZZZZZ", code)
    assert_accessible(page, "查询失败")
    # And the tracking page itself is closed without the proof.
    page.context.clear_cookies()
    response = page.goto(f"/track/{code}")
    assert response is not None and response.status == 404


def test_supplement_and_chase_from_the_tracking_page(
    page: Page, live_server: LiveServer, staff_api: StaffApi
) -> None:
    ticket, code = api_appeal(live_server, "楼上住户空调外机滴水，滴在我家窗台上，沟通无果")
    # Chasing only makes sense once a unit has the appeal.
    staff_api.do(
        "dispatcher", ticket, "dispatch", unit_id=live_server.world.bureau_id, co_unit_ids=[]
    )
    open_tracking(page, code)
    page.get_by_label("补充内容").fill("今天早上又在滴水，已拍照")
    page.get_by_role("button", name="提交补充").click()
    page.wait_for_url(f"**/track/{code}?*")
    expect(page.locator(".supplement")).to_contain_text("今天早上又在滴水")
    page.get_by_role("button", name="催办").click()
    expect(page.get_by_role("status")).to_contain_text("已催办")
    assert_accessible(page, "补充和催办之后")
    detail = staff_api.get("handler", f"/api/v1/tickets/{ticket}")
    assert detail["chase_count"] == 1


def test_withdraw_asks_for_confirmation_first(page: Page, live_server: LiveServer) -> None:
    _, code = api_appeal(live_server, "小区绿化带里有人种菜，请物业处理，已自行协商中")
    open_tracking(page, code)
    page.get_by_role("button", name="撤回诉求").click()
    # A confirmation step first; going back leaves the appeal as it was.
    expect(page.get_by_role("heading", level=1)).to_contain_text("撤回")
    assert_accessible(page, "撤回确认")
    screenshot(page, "withdraw-confirm")
    page.get_by_role("link", name=re.compile("不撤回")).click()
    expect(page.locator("#ticket-status")).to_have_text("已受理")
    page.get_by_role("button", name="撤回诉求").click()
    page.get_by_role("button", name="确认撤回").click()
    expect(page.locator("#ticket-status")).to_have_text("已撤诉")


def test_emergency_text_shows_tap_to_call_lines_before_submitting(page: Page) -> None:
    page.goto("/appeal")
    box = page.locator("#emergency-box")
    page.get_by_label("诉求内容").press_sequentially("楼道里煤气味很重，好像燃气泄漏了", delay=20)
    expect(box.locator("a[href='tel:119']")).to_be_visible()
    expect(box.locator(f"a[href='tel:{GAS_LINE}']")).to_be_visible()  # the gas company
    assert_accessible(page, "紧急情况提示")
    screenshot(page, "appeal-emergency")
    page.get_by_label("诉求内容").fill("")
    page.get_by_label("诉求内容").press_sequentially("有人被困在电梯里，有人受伤了", delay=20)
    expect(box.locator("a[href='tel:120']")).to_be_visible()
    assert page.url.endswith("/appeal"), "nothing was submitted"


def test_similar_open_appeals_are_offered_before_submitting(
    page: Page, live_server: LiveServer
) -> None:
    text = "东风街道幸福社区菜市场门口下水道堵塞，污水漫到路面上，气味很大"
    api_appeal(live_server, text, phone="13900001111")
    page.goto("/appeal")
    page.get_by_label("问题地址").fill("东风街道幸福社区")
    page.get_by_label("诉求内容").press_sequentially(
        "幸福社区菜市场门口下水道堵了，污水漫到路上", delay=10
    )
    similar = page.locator("#similar-box")
    expect(similar).to_contain_text("附近可能已有人反映过同一问题")
    follow = similar.get_by_role("link", name="关注此诉求").first
    expect(follow).to_have_attribute("href", re.compile(r"/track/"))
    # No personal data of the other citizen.
    expect(similar).not_to_contain_text("1111")
    expect(similar).not_to_contain_text("王小明")
    assert_accessible(page, "相似诉求提示")
    screenshot(page, "appeal-similar")


def test_bad_input_is_explained_on_the_form_and_nothing_is_stored(
    page: Page, live_server: LiveServer
) -> None:
    before = live_server.ticket_count()
    page.goto("/appeal")
    page.get_by_label("手机号码").fill(PHONE_NUMBER)
    page.get_by_label("问题地址").fill("东风街道幸福社区")
    with page.expect_navigation() as sent:
        page.get_by_role("button", name="提交诉求").click()
    response = sent.value
    assert response is not None and 400 <= response.status < 500, response
    expect(page.get_by_role("alert")).to_contain_text("没有保存")
    # What was typed is kept, so nothing has to be typed twice.
    expect(page.get_by_label("手机号码")).to_have_value(PHONE_NUMBER)
    expect(page.get_by_label("诉求内容")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "提交失败的表单")
    screenshot(page, "appeal-errors")
    assert live_server.ticket_count() == before

    # A script tag is refused with a clear message, kept as text in the box, never run.
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    script = "<script>alert('x')</script>路灯坏了"
    page.get_by_label("诉求内容").fill(script)
    with page.expect_navigation() as sent:
        page.get_by_role("button", name="提交诉求").click()
    response = sent.value
    assert response is not None and 400 <= response.status < 500, response
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("诉求内容")).to_have_value(script)
    assert dialogs == [] and live_server.ticket_count() == before


def test_markup_a_citizen_typed_is_shown_as_text(page: Page, live_server: LiveServer) -> None:
    # Scripts are refused at intake; other markup is ordinary text and must stay text.
    typed = "<b>路面塌陷</b>，<u>井盖</u>丢了，坑深<50厘米，很危险"
    _, code = api_appeal(live_server, typed)
    open_tracking(page, code)
    expect(page.get_by_text(typed).first).to_be_visible()
    assert page.locator("main b").count() == 0 and page.locator("main u").count() == 0
