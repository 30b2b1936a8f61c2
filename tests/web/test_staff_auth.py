"""Staff sign-in on the pages: a session cookie holding the API's token, a page guard that
sends strangers to the login page, sign-out that ends the token, and posts accepted only
from our own pages."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.web.staff_auth import COOKIE
from tests.factories import PASSWORD, make_world

# What a browser sends with a form posted from one of our pages (TestClient's host).
SAME_SITE = {"Origin": "http://testserver"}


def sign_in(client: TestClient, username: str) -> None:
    response = client.post(
        "/staff/login",
        data={"username": username, "password": PASSWORD},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_the_login_page_has_the_labelled_fields(client: TestClient) -> None:
    page = client.get("/staff/login")
    assert page.status_code == 200
    assert '<label for="username">用户名</label>' in page.text
    assert '<label for="password">密码</label>' in page.text
    assert ">登录</button>" in page.text
    assert "/static/css/staff.css" in page.text.split("</head>")[0]


def test_an_agent_signs_in_with_an_httponly_lax_cookie_and_lands_on_intake(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    response = client.post(
        "/staff/login",
        data={"username": "agent", "password": PASSWORD},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/intake"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/staff" in cookie
    page = client.get("/staff/intake")
    assert page.status_code == 200 and "来电受理" in page.text


def test_the_cookie_is_the_apis_own_token(client: TestClient, session: Session) -> None:
    make_world(session)
    sign_in(client, "dispatcher")
    token = client.cookies[COOKIE]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == "dispatcher"


def test_a_wrong_password_says_so_and_sets_no_cookie(client: TestClient, session: Session) -> None:
    make_world(session)
    response = client.post(
        "/staff/login",
        data={"username": "agent", "password": "wrong-password"},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert 'value="agent"' in response.text  # the username is kept, the password is not
    assert COOKIE not in response.headers.get("set-cookie", "")


def test_a_citizen_account_cannot_sign_in_to_the_staff_pages(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    response = client.post(
        "/staff/login",
        data={"username": "citizen", "password": PASSWORD},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert response.status_code == 403 and "市民服务页面" in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")


def test_the_guard_sends_a_stranger_to_the_login_page_and_back_after(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    for path in ("/staff/", "/staff/intake", "/staff/tickets/1", "/staff/queue"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/staff/login?next=/staff/")
    back = client.post(
        "/staff/login",
        data={"username": "agent", "password": PASSWORD, "next": "/staff/queue"},
        headers=SAME_SITE,
        follow_redirects=False,
    )
    assert back.headers["location"] == "/staff/queue"


def test_login_never_sends_anyone_to_another_site(client: TestClient, session: Session) -> None:
    make_world(session)
    for target in ("//evil.example/", "https://evil.example/", "/staff\\@evil", "/elsewhere"):
        response = client.post(
            "/staff/login",
            data={"username": "agent", "password": PASSWORD, "next": target},
            headers=SAME_SITE,
            follow_redirects=False,
        )
        assert response.headers["location"] == "/staff/intake", target


def test_an_htmx_fragment_asks_htmx_to_load_the_login_page(client: TestClient) -> None:
    response = client.post(
        "/staff/intake/caller",
        data={"phone": "13812345678"},
        headers={**SAME_SITE, "HX-Request": "true"},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/staff/login")


def test_logout_ends_the_token_so_a_copied_cookie_stops_working(
    client: TestClient, session: Session
) -> None:
    make_world(session)
    sign_in(client, "agent")
    token = client.cookies[COOKIE]
    response = client.get("/staff/logout", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/staff/login"
    assert f'{COOKIE}=""' in response.headers["set-cookie"]
    assert client.get("/staff/intake", follow_redirects=False).status_code == 303
    # The same token, replayed, is refused by the pages and by the API alike.
    client.cookies.set(COOKIE, token, path="/staff")
    assert client.get("/staff/intake", follow_redirects=False).status_code == 303
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401


def test_a_post_from_another_site_is_refused(client: TestClient, session: Session) -> None:
    make_world(session)
    sign_in(client, "agent")
    form = {"phone": "13812345678", "text": "路灯不亮", "appeal_type": "complaint"}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {},
    ):
        response = client.post("/staff/intake", data=form, headers=headers)
        assert response.status_code == 403, headers
        assert "请求来源无法确认" in response.text
    # A browser that sends only the Referer of our own page is let through.
    ok = client.post(
        "/staff/intake",
        data=form,
        headers={"Referer": "http://testserver/staff/intake"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
