"""Staff sign-in for the pages: the API's own bearer token, kept in an HttpOnly cookie.

The token is the one `POST /api/v1/auth/token` issues (`org.service.issue_token`): a long
random secret stored only as its digest, with the same expiry, so the pages and the API
share one notion of who is signed in and for how long; `user_for_token` resolves it here
exactly as `org.auth.current_user` does for the API.

Cross-site request forgery: a cookie is sent by the browser whoever built the request,
so every POST under /staff is checked for coming from our own pages (`origin_problem`).
SameSite=Lax already keeps the cookie off cross-site POSTs in current browsers; the check
is the second lock for older ones. Browsers send `Origin` on every POST (`Referer` when
an old one does not), and neither can be set by a page on another site, so a request
whose Origin (or Referer) names another host, or that has neither, is refused.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

from minyi.core.clock import Clock
from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import Unauthorized
from minyi.org import security
from minyi.org import service as org
from minyi.org.domain import Role
from minyi.org.models import AuthToken, User
from minyi.tickets.access import Principal
from minyi.web.templating import render

COOKIE = "minyi_staff"
COOKIE_PATH = "/staff"
LOGIN_URL = "/staff/login"


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    # No max_age: the cookie goes when the browser closes (a hotline seat is shared by
    # shifts); the token's own expiry on the server still ends it sooner if due.
    response.set_cookie(
        COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax")


def revoke(session: Session, token: str) -> None:
    """Sign-out ends the token on the server too, so a copied cookie stops working.
    (org.service has no revoke call yet; this flips the flag `user_for_token` checks.)"""
    row = session.scalar(select(AuthToken).where(AuthToken.token_digest == security.digest(token)))
    if row is not None:
        row.revoked = True
        session.flush()


def safe_next(target: str | None) -> str | None:
    """Only a path of our own staff pages: never another site (`//evil`, `https://…`)."""
    if not target or not target.startswith("/staff") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


def _login_redirect(request: Request) -> HTTPException:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"{LOGIN_URL}?next={quote(here, safe='/')}"
    if request.headers.get("HX-Request") == "true":
        # An htmx fragment: let htmx load the whole login page instead of nesting it.
        return HTTPException(status_code=401, headers={"HX-Redirect": target})
    return HTTPException(status_code=303, headers={"Location": target})


def signed_in_user(request: Request, session: Session, clock: Clock) -> User | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        user = org.user_for_token(session, token, now=clock.now())
    except Unauthorized:
        return None
    # Citizens have their own portal; a staff page never serves them.
    return None if user.role == Role.CITIZEN.value else user


def staff_user(request: Request, session: SessionDep, clock: ClockDep) -> User:
    """The page guard: the signed-in staff member, or a redirect to the login page."""
    user = signed_in_user(request, session, clock)
    if user is None:
        raise _login_redirect(request)
    return user


StaffUser = Annotated[User, Depends(staff_user)]


def principal_for(session: Session, user: User) -> Principal:
    return Principal(session=session, user=user)


def origin_problem(request: Request) -> HTMLResponse | None:
    """None when the POST comes from our own pages, else the refusal page (403)."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    source = origin if origin and origin != "null" else request.headers.get("referer")
    if host and source and urlsplit(source).netloc == host:
        return None
    return render(
        request,
        "staff/error.html",
        {
            "heading": "请求来源无法确认",
            "message": "为保护账号安全，只接受本系统页面提交的操作。请返回页面重新操作。",
            "code": "csrf_origin_mismatch",
        },
        status_code=403,
    )
