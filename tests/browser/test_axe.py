"""The accessibility check itself: it runs the vendored axe-core and sees real problems,
so that a clean answer on the pages means something."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import assert_accessible, axe_violations


def test_the_axe_check_reports_a_broken_page(page: Page) -> None:
    page.set_content(
        "<html><head><title>坏页面</title></head><body><main><button></button>"
        '<input type="text"><img src="x.png"></main></body></html>'
    )
    found = {v["id"]: v["impact"] for v in axe_violations(page)}
    assert found.get("button-name") == "critical"
    assert "image-alt" in found and "label" in found
    with pytest.raises(AssertionError, match="button-name"):
        assert_accessible(page, "坏页面")
