"""The staff pages under `/staff/`: sign-in, the hotline agent's fast intake form (来电受理),
a ticket as staff see it, and the workbench (工作台).

Thin like the JSON routes: parse the form, call the same services (`intake.submit_appeal`,
`tickets.act`, `triage.decision_for`, `sla.clocks_for_ticket`), render. A domain error is
shown on the page in Chinese with its status, and nothing is stored (the request's
transaction is rolled back).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

from minyi.core.config import Settings
from minyi.core.deps import ClockDep, SessionDep, SettingsDep, TriageDep
from minyi.core.errors import DomainError
from minyi.intake import service as intake
from minyi.intake.domain import CHANNEL_LABEL_ZH, Channel
from minyi.intake.filestore import FileStore, get_file_store
from minyi.org import service as org
from minyi.org.domain import Role
from minyi.org.models import User
from minyi.tickets import service as tickets
from minyi.tickets.access import can_view
from minyi.tickets.domain import Action
from minyi.web import staff_forms as forms
from minyi.web import staff_views as views
from minyi.web.staff_auth import (
    COOKIE,
    StaffUser,
    clear_session_cookie,
    origin_problem,
    principal_for,
    revoke,
    safe_next,
    set_session_cookie,
)
from minyi.web.staff_forms import IntakeForm
from minyi.web.templating import render

router = APIRouter(prefix="/staff", include_in_schema=False)

FileStoreDep = Annotated[FileStore, Depends(get_file_store)]


def _tz(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


def _page(
    request: Request,
    session: Session,
    user: User,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """A page for a signed-in staff member, with the links their role has a use for."""
    principal = principal_for(session, user)
    nav = {
        "may_intake": views.intake_channel(principal) is not None,
        "is_centre": principal.centre_level is not None,
    }
    return render(request, name, {"user": user, "nav": nav, **context}, status_code=status_code)


def _error_page(
    request: Request, session: Session, user: User, exc: DomainError, heading: str
) -> HTMLResponse:
    return _page(
        request,
        session,
        user,
        "staff/error.html",
        {"heading": heading, "message": exc.message, "code": exc.code},
        status_code=exc.status_code,
    )


# --- sign-in --------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "staff/login.html", {"next": safe_next(next) or "", "username": ""})


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    username: Annotated[str, Form(max_length=150)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """The API's own password check and token (`org.service`), kept in the cookie."""
    if (refused := origin_problem(request)) is not None:
        return refused
    context = {"next": safe_next(next) or "", "username": username}
    try:
        user = org.authenticate(session, username=username.strip(), password=password)
    except DomainError as exc:
        return render(
            request, "staff/login.html", {**context, "error": exc.message}, status_code=401
        )
    if user.role == Role.CITIZEN.value:
        return render(
            request,
            "staff/login.html",
            {**context, "error": "市民账号请使用市民服务页面，本页面仅供工作人员登录"},
            status_code=403,
        )
    token = org.issue_token(
        session, user=user, ttl=timedelta(minutes=settings.token_ttl_minutes), clock=clock
    )
    principal = principal_for(session, user)
    home = "/staff/intake" if views.intake_channel(principal) is Channel.HOTLINE else "/staff/"
    response = RedirectResponse(safe_next(next) or home, status_code=303)
    set_session_cookie(request, response, token)
    return response


@router.get("/logout")
def logout(request: Request, session: SessionDep) -> RedirectResponse:
    # A GET (the contract's link): a forged sign-out costs the agent one login, no more.
    token = request.cookies.get(COOKIE)
    if token:
        revoke(session, token)
    response = RedirectResponse("/staff/login", status_code=303)
    clear_session_cookie(response)
    return response


# --- the workbench --------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def workbench(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, user: StaffUser
) -> HTMLResponse:
    principal = principal_for(session, user)
    return _page(
        request,
        session,
        user,
        "staff/index.html",
        {
            "role_label": Role(user.role).label_zh,
            "channel": views.intake_channel(principal),
            "recent": views.recent_intake(
                session, principal, user, now=clock.now(), tz=_tz(settings)
            ),
            "queue_size": views.queue_size(session, principal),
        },
    )


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request, session: SessionDep, settings: SettingsDep, user: StaffUser
) -> HTMLResponse:
    """The dispatcher's queue (what waits for this centre), most urgent and oldest first."""
    from minyi.tickets import queries

    principal = principal_for(session, user)
    try:
        rows, total = queries.centre_queue(session, principal=principal, limit=50)
    except DomainError as exc:
        return _error_page(request, session, user, exc, "无法查看派单队列")
    tz = _tz(settings)
    return _page(
        request,
        session,
        user,
        "staff/queue.html",
        {
            "total": total,
            "rows": [
                {
                    "id": t.id,
                    "tracking_code": t.tracking_code,
                    "title": t.title,
                    "urgency": t.urgency,
                    "status": views.status_zh(t.status),
                    "received_at": views.local(t.received_at, tz),
                    "dispatch_due_at": views.local(t.dispatch_due_at, tz),
                }
                for t in rows
            ],
        },
    )


# --- the intake form (来电受理) ---------------------------------------------------------------


def _intake_page(
    request: Request,
    session: Session,
    user: User,
    channel: Channel,
    form: IntakeForm,
    *,
    tz: ZoneInfo,
    errors: dict[str, list[str]] | None = None,
    summary: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    principal = principal_for(session, user)
    history = views.caller_history(session, principal, form.phone, tz)
    return _page(
        request,
        session,
        user,
        "staff/intake.html",
        {
            "form": form,
            "channel": channel,
            "channel_label": CHANNEL_LABEL_ZH[channel],
            "types": views.appeal_types(),
            "errors": errors or {},
            "summary": summary,
            "history": history,
        },
        status_code=status_code,
    )


def _no_intake(request: Request, session: Session, user: User) -> HTMLResponse:
    return _page(
        request,
        session,
        user,
        "staff/error.html",
        {
            "heading": "无权使用来电受理",
            "message": "来电受理页面供12345热线座席、派单员和党群服务中心窗口工作人员使用。"
            "您的账号不能在此登记诉求。",
            "code": "intake_not_allowed",
        },
        status_code=403,
    )


@router.get("/intake", response_class=HTMLResponse)
def intake_form(
    request: Request, session: SessionDep, settings: SettingsDep, user: StaffUser
) -> HTMLResponse:
    channel = views.intake_channel(principal_for(session, user))
    if channel is None:
        return _no_intake(request, session, user)
    return _intake_page(request, session, user, channel, IntakeForm(), tz=_tz(settings))


@router.post("/intake", response_model=None)
def intake_submit(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    engine: TriageDep,
    store: FileStoreDep,
    user: StaffUser,
    form: Annotated[IntakeForm, Form()],
) -> Response:
    """受理: the same `submit_appeal` as `POST /api/v1/appeals`, on the hotline (or the
    window), triaged at once; then the ticket page with the machine's suggestion."""
    if (refused := origin_problem(request)) is not None:
        return refused
    principal = principal_for(session, user)
    channel = views.intake_channel(principal)
    if channel is None:
        return _no_intake(request, session, user)
    tz = _tz(settings)
    try:
        data = form.appeal(channel)
    except ValidationError as exc:
        problems = forms.shape_problems(exc)
        return _intake_page(
            request,
            session,
            user,
            channel,
            form,
            tz=tz,
            errors=problems,
            summary=f"有 {forms.count(problems)} 处需要修改，未受理",
            status_code=422,
        )
    try:
        result = intake.submit_appeal(
            session,
            data=data,
            files=[],
            principal=principal,
            idempotency_key=form.idempotency_key or None,
            store=store,
            clock=clock,
            triage=engine if settings.triage_enabled else None,
            auto_dispatch=settings.triage_auto_dispatch,
            auto_item_threshold=settings.triage_auto_item_threshold,
        )
    except DomainError as exc:
        session.rollback()
        return _intake_page(
            request,
            session,
            user,
            channel,
            form,
            tz=tz,
            errors=forms.service_problems(exc),
            summary=exc.message,
            status_code=exc.status_code,
        )
    # Durable before the agent reads the tracking code out to the caller (as the API does).
    session.commit()
    ticket = result.ticket
    if can_view(principal, ticket):
        query = "" if result.created else "?repeat=1"
        return RedirectResponse(f"/staff/tickets/{ticket.id}{query}", status_code=303)
    # A window's staff cannot follow a ticket a unit now holds: the receipt is shown here.
    return _page(
        request,
        session,
        user,
        "staff/received.html",
        {
            "ticket": ticket,
            "created": result.created,
            "triage": views.triage_view(session, result.decision) if result.decision else None,
        },
    )


@router.post("/intake/caller", response_class=HTMLResponse)
def caller_fragment(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: StaffUser,
    phone: Annotated[str, Form(max_length=32)] = "",
) -> HTMLResponse:
    """The caller's previous appeals (重复来电), as soon as the number is typed. A POST, so
    that the number stays out of URLs and access logs."""
    if (refused := origin_problem(request)) is not None:
        return refused
    principal = principal_for(session, user)
    if views.intake_channel(principal) is None:
        return _no_intake(request, session, user)
    history = views.caller_history(session, principal, phone, _tz(settings))
    return render(request, "staff/_caller_history.html", {"history": history})


@router.get("/intake/places", response_class=HTMLResponse)
def places_fragment(
    request: Request, session: SessionDep, user: StaffUser, address: str = ""
) -> HTMLResponse:
    """Suggestions from the organisation tree for the address typed (a datalist's options)."""
    return render(
        request,
        "staff/_places.html",
        {"places": views.place_suggestions(session, address[:200])},
    )


# --- a ticket as staff see it ---------------------------------------------------------------


def _ticket_page(
    request: Request,
    session: Session,
    user: User,
    ticket_id: int,
    *,
    now: datetime,
    tz: ZoneInfo,
    message: str | None = None,
    error: str | None = None,
    reveal_reason: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    principal = principal_for(session, user)
    try:
        ticket = tickets.get_ticket_or_raise(session, ticket_id)
        page = views.ticket_page(
            session, principal, ticket, now=now, tz=tz, reveal_reason=reveal_reason
        )
    except DomainError as exc:
        if reveal_reason is None:
            return _error_page(request, session, user, exc, "找不到该工单")
        session.rollback()
        return _ticket_page(
            request,
            session,
            user,
            ticket_id,
            now=now,
            tz=tz,
            error=exc.message,
            status_code=exc.status_code,
        )
    return _page(
        request,
        session,
        user,
        "staff/ticket.html",
        {
            "page": page,
            "message": message,
            "error": error,
            "revealed": reveal_reason is not None,
            "may_intake": views.intake_channel(principal) is not None,
        },
        status_code=status_code,
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_view(
    request: Request,
    ticket_id: int,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    user: StaffUser,
    repeat: bool = False,
    handed_over: bool = False,
) -> HTMLResponse:
    message = None
    if repeat:
        message = "该来电与刚受理的诉求内容相同，未重复受理，以下是原工单。"
    elif handed_over:
        message = "已移交应急部门处理，移交已记录在工单流程中。"
    return _ticket_page(
        request, session, user, ticket_id, now=clock.now(), tz=_tz(settings), message=message
    )


@router.post("/tickets/{ticket_id}/hand-over", response_model=None)
def hand_over(
    request: Request,
    ticket_id: int,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    user: StaffUser,
    line: Annotated[str, Form(max_length=8)] = "",
    version: Annotated[int | None, Form()] = None,
) -> Response:
    """移交应急: the workflow's hand_over_emergency action with the line chosen."""
    if (refused := origin_problem(request)) is not None:
        return refused
    try:
        tickets.act(
            session,
            ticket_id=ticket_id,
            action=Action.HAND_OVER_EMERGENCY,
            principal=principal_for(session, user),
            payload={"line": line},
            expected_version=version,
            clock=clock,
        )
    except DomainError as exc:
        session.rollback()
        return _ticket_page(
            request,
            session,
            user,
            ticket_id,
            now=clock.now(),
            tz=_tz(settings),
            error=exc.message,
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/staff/tickets/{ticket_id}?handed_over=1", status_code=303)


@router.post("/tickets/{ticket_id}/requester", response_model=None)
def reveal_requester(
    request: Request,
    ticket_id: int,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    user: StaffUser,
    reason: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The caller's full number for a call back: only for those entitled, with a reason,
    and recorded in the audit trail (`tickets.queries.requester_view`)."""
    if (refused := origin_problem(request)) is not None:
        return refused
    return _ticket_page(
        request,
        session,
        user,
        ticket_id,
        now=clock.now(),
        tz=_tz(settings),
        reveal_reason=reason,
    )
