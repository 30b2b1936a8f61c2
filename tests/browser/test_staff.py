"""The staff pages in a real browser: sign-in, the hotline agent's intake form (repeat
callers, the triage suggestion, the emergency hand-over) and a ticket as staff see it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import (
    DESKTOP,
    LiveServer,
    api_appeal,
    assert_accessible,
    screenshot,
    staff_login,
)

CALLER = "13700002222"


def _taken(page: Page, live: LiveServer) -> int:
    """The ticket the intake form just created, shown with the triage suggestion: either
    on the ticket's own page (/staff/tickets/{id}) or on a receipt with its tracking code."""
    expect(page.locator("main")).to_contain_text("智能分拨建议")
    found = re.search(r"/staff/tickets/(\d+)", page.url)
    if found:
        return int(found.group(1))
    return live.ticket_id(page.locator("#tracking-code").inner_text().strip())


def test_sign_in_is_accessible_and_refuses_a_wrong_password(page: Page) -> None:
    page.set_viewport_size(DESKTOP)
    page.goto("/staff/login")
    assert_accessible(page, "工作人员登录 /staff/login")
    screenshot(page, "staff-login", phone=False, desktop=True)
    page.get_by_label("用户名").fill("agent")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert "/staff/login" in page.url
    assert_accessible(page, "登录失败")
    # Signed in, then out: the staff pages send the browser back to the sign-in.
    staff_login(page, "agent", "/staff/intake")
    expect(page.get_by_label("来电号码")).to_be_visible()
    page.goto("/staff/logout")
    page.goto("/staff/intake")
    assert "/staff/login" in page.url


def test_an_agent_takes_a_call_with_the_callers_history_and_triage(
    page: Page, live_server: LiveServer
) -> None:
    earlier, earlier_code = api_appeal(
        live_server, "小区地下车库积水一直没人处理，车都开不进去", phone=CALLER
    )
    page.set_viewport_size(DESKTOP)
    staff_login(page, "agent", "/staff/intake")
    page.goto("/staff/intake")
    expect(page.get_by_role("button", name="受理", exact=True)).to_be_visible()
    assert_accessible(page, "来电受理 /staff/intake")

    page.get_by_label("来电号码").press_sequentially(CALLER, delay=10)
    history = page.locator("#caller-history")
    expect(history).to_contain_text("重复来电")
    expect(history).to_contain_text(earlier_code)
    page.get_by_label("诉求内容").fill(
        "地下车库积水还是没人处理，已经第二次打电话了，车库里有电线泡在水里"
    )
    page.get_by_label("问题地址").fill("东风街道幸福社区")
    page.get_by_label("诉求类型").select_option(label="投诉")
    page.get_by_label("诉求人类型").select_option(label="企业")
    expect(page.get_by_label("统一社会信用代码")).to_be_visible()
    page.get_by_label("诉求人类型").select_option(label="个人")
    expect(page.get_by_label("统一社会信用代码")).to_be_hidden()
    assert_accessible(page, "来电受理（重复来电）")
    screenshot(page, "staff-intake", phone=False, desktop=True)

    page.get_by_role("button", name="受理", exact=True).click()
    ticket = _taken(page, live_server)
    assert ticket != earlier
    assert_accessible(page, "受理结果")

    # The ticket as staff see it: status, the triage suggestion, deadlines, the timeline.
    page.goto(f"/staff/tickets/{ticket}")
    code = live_server.tracking_code(ticket)
    main = page.locator("main")
    expect(main).to_contain_text(code)
    expect(main).to_contain_text("已受理")
    expect(main).to_contain_text("未能判断诉求事项")  # the triage reason with no model
    expect(main).to_contain_text("派单")  # the dispatch deadline
    assert_accessible(page, "工单详情 /staff/tickets/{id}")
    screenshot(page, "staff-ticket", phone=False, desktop=True)


def test_an_emergency_call_is_handed_over_from_the_intake(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size(DESKTOP)
    staff_login(page, "agent", "/staff/intake")
    page.goto("/staff/intake")
    page.get_by_label("来电号码").fill("13700003333")
    page.get_by_label("诉求内容").fill("幸福社区5号楼楼道里燃气泄漏，味道很大，有老人在家")
    page.get_by_label("问题地址").fill("东风街道幸福社区5号楼")
    page.get_by_role("button", name="受理", exact=True).click()
    ticket = _taken(page, live_server)
    expect(page.locator("main")).to_contain_text("燃气")
    hand_over = page.get_by_role("button", name="移交应急")
    expect(hand_over).to_be_visible()
    assert_accessible(page, "紧急来电")
    screenshot(page, "staff-emergency", phone=False, desktop=True)
    hand_over.click()
    page.wait_for_load_state()
    page.goto(f"/staff/tickets/{ticket}")
    expect(page.locator("main")).to_contain_text("已移交应急")
