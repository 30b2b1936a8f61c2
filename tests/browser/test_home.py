"""The home page, search, and the large-type mode (长辈模式), in a real browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser.conftest import StaffApi, assert_accessible, screenshot


def _font_px(page: Page, selector: str) -> float:
    size: str = page.locator(selector).first.evaluate("e => getComputedStyle(e).fontSize")
    return float(size.removesuffix("px"))


def test_home_page_links_search_and_is_accessible(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_title("首页 · 12345")
    expect(page.get_by_role("link", name="我要反映问题")).to_have_attribute("href", "/appeal")
    expect(page.get_by_role("link", name="查询办理进度")).to_have_attribute("href", "/track")
    expect(page.get_by_label("搜索政策和通知")).to_be_visible()
    expect(page.get_by_role("button", name="搜索", exact=True)).to_be_visible()
    # The emergency lines are tap-to-call on every page.
    expect(page.locator("footer a[href='tel:119']")).to_be_visible()
    assert_accessible(page, "首页")
    screenshot(page, "home", desktop=True)


def test_large_type_mode_makes_the_text_visibly_larger_and_is_remembered(page: Page) -> None:
    page.goto("/")
    before = {sel: _font_px(page, sel) for sel in ("body", "h1", "main p", "main a.button")}
    page.get_by_role("button", name="长辈模式（大字）").click()
    expect(page.locator("body")).to_have_class(re.compile(r"\blarge-type\b"))
    after = {sel: _font_px(page, sel) for sel in before}
    # "Visibly": at least a fifth larger, not a rounding difference.
    small = [
        f"{sel}: {before[sel]}px → {after[sel]}px"
        for sel in before
        if after[sel] < before[sel] * 1.2
    ]
    assert not small, "长辈模式 leaves the text (nearly) as it was: " + "; ".join(small)
    assert_accessible(page, "首页（长辈模式）")
    screenshot(page, "home-large-type")
    # Remembered on the next page, and switched off again with the same button.
    page.goto("/appeal")
    assert _font_px(page, "body") == after["body"]
    assert_accessible(page, "反映问题表单（长辈模式）")
    screenshot(page, "appeal-form-large-type")
    toggle = page.get_by_role("button", name="标准字号")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(page.get_by_role("button", name="长辈模式（大字）")).to_be_visible()
    assert _font_px(page, "body") == before["body"]


def test_search_finds_answers_and_notices_and_offers_to_appeal(
    page: Page, staff_api: StaffApi
) -> None:
    # What the city has published: an approved answer, and a water cut in force now.
    entry = staff_api.post(
        "admin",
        "/api/v1/knowledge/entries",
        {
            "questions": ["家里突然停水了怎么办", "停水以后多久恢复供水"],
            "answer": "计划停水会提前 24 小时公告；突发停水请拨打供水抢修电话 96116，"
            "一般 8 小时内恢复。",
            "source_title": "市供水公司停水处置须知",
        },
    )
    staff_api.post("admin", f"/api/v1/knowledge/entries/{entry['id']}/approve", {})
    now = datetime.now(UTC)
    staff_api.post(
        "admin",
        "/api/v1/knowledge/notices",
        {
            "kind": "water_outage",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=10)).isoformat(),
            "text": "因东风路主管道维修，东风街道全域暂停供水，恢复时间以本通知为准。",
            "source_title": "市供水公司",
        },
    )
    page.goto("/")
    page.get_by_label("搜索政策和通知").fill("停水")
    page.get_by_role("button", name="搜索", exact=True).click()
    page.wait_for_url("**/search?q=*")
    expect(page.get_by_label("搜索政策和通知")).to_have_value("停水")
    main = page.locator("main")
    expect(main).to_contain_text("96116")
    expect(main).to_contain_text("东风路主管道维修")
    expect(page.locator("main a[href='/appeal']").first).to_be_visible()
    assert_accessible(page, "搜索结果 /search")
    screenshot(page, "search")
