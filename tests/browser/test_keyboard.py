"""Every control reachable by keyboard: an appeal submitted with Tab, typing, arrows, Space
and Enter only (no clicks, no focusing by script)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE_NUMBER, assert_accessible

# What the focused element is called, as a screen reader would find it: its <label for>
# text, its aria-label, or (a button, a link) its own text.
_FOCUSED_NAME = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return '';
  const label = e.labels && e.labels.length ? e.labels[0].innerText : '';
  return (label || e.getAttribute('aria-label') || e.innerText || e.value || '').trim();
}"""


def tab_to(page: Page, name: str, limit: int = 60) -> None:
    """Press Tab until the control called `name` has the focus."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused: str = page.evaluate(_FOCUSED_NAME)
        seen.append(focused)
        if focused == name or focused.startswith(name):
            return
    raise AssertionError(f"「{name}」 never got the focus with Tab; the order was: {seen}")


def test_an_appeal_can_be_submitted_with_the_keyboard_only(page: Page) -> None:
    page.goto("/")
    # The skip link comes first.
    page.keyboard.press("Tab")
    assert page.evaluate(_FOCUSED_NAME) == "跳到正文"
    tab_to(page, "我要反映问题")
    page.keyboard.press("Enter")
    page.wait_for_url("**/appeal")

    tab_to(page, "诉求类型")
    chosen = ""
    for _ in range(8):  # arrows walk the options of a closed <select>
        chosen = page.evaluate("document.activeElement.selectedOptions[0].text")
        if "求助" in chosen:
            break
        page.keyboard.press("ArrowDown")
    assert "求助" in chosen, chosen
    tab_to(page, "诉求内容")
    page.keyboard.type("小区东门的路灯坏了三个晚上，老人晚上出门看不清路")
    tab_to(page, "问题地址")
    page.keyboard.type("东风街道幸福社区东门")
    tab_to(page, "手机号码")
    page.keyboard.type(PHONE_NUMBER)
    tab_to(page, "匿名反映")
    page.keyboard.press("Space")
    assert page.evaluate("document.activeElement.checked") is True
    tab_to(page, "提交诉求")
    page.keyboard.press("Enter")

    page.wait_for_url("**/appeal/done/*")
    expect(page.locator("#tracking-code")).not_to_be_empty()
    assert_accessible(page, "键盘提交后的受理回执")


def test_focus_is_visible_on_the_form(page: Page) -> None:
    page.goto("/appeal")
    tab_to(page, "诉求内容")
    outline: str = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    shadow: str = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert outline != "none" or shadow != "none", "the focused field shows no focus ring"
