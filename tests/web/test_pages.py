"""The pages answer in Chinese with vendored assets, and remember the large-type mode."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_the_home_page_is_chinese_and_loads_only_local_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text and "我要反映问题" in page.text
    assert "http://" not in page.text.split("<body")[0] and "https://" not in page.text
    assert client.get("/static/css/minyi.css").status_code == 200
    assert client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200


def test_large_type_mode_is_switched_on_and_off_and_remembered(client: TestClient) -> None:
    on = client.post("/large-type", data={"back": "/"}, follow_redirects=False)
    assert on.status_code == 303 and on.headers["location"] == "/"
    assert '<body class="large-type' in client.get("/").text
    client.post("/large-type", data={"back": "//evil.example"}, follow_redirects=False)
    assert '<body class="large-type' not in client.get("/").text
