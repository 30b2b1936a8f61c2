"""The citizen's appeal after it is filed: found by tracking code + the phone's last four
digits, followed like a parcel, supplemented, chased, withdrawn and rated; its files.

Who may see what is `citizen_proof`: the owner (the pair, kept in a cookie) sees all and
acts; a follower (a token from the "already reported" box) sees the progress only; anyone
else gets the same 404 page whether the code exists or not.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse, Response

from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import DomainError, NotFound
from minyi.intake.routes import FileStoreDep
from minyi.tickets import queries
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action, IllegalTransition, Status
from minyi.tickets.models import Ticket
from minyi.tickets.routes import citizen_rate
from minyi.tickets.schemas import RateRequest
from minyi.triage.knowledge import service as knowledge
from minyi.web import citizen_views as views
from minyi.web.citizen_forms import (
    RATING_DIMENSIONS,
    RATING_WORDS,
    FormDep,
    RatingForm,
    RawForm,
)
from minyi.web.citizen_proof import (
    clean_code,
    clean_last4,
    follows,
    proofs,
    remember,
    same_origin,
)
from minyi.web.templating import render

router = APIRouter(include_in_schema=False)

WRONG_PAIR = "查询码或手机号后四位不对，请核对后再试。查询码在受理短信里，共 10 位。"
MAX_SUPPLEMENT = 5000  # ActionRequest.text
# Why the state machine said no, in the citizen's words.
NOT_NOW_ZH = {
    Action.CHASE: "您的诉求刚刚受理，正在分派给承办单位；派单以后才能催办。",
    Action.SUPPLEMENT: "这条诉求已经办结，不能再补充；如有新的问题，请重新反映。",
    Action.WITHDRAW: "这条诉求已经办结，不需要撤回。",
}
# What the tracking page says after an action (PRG: the action redirects back with ?done=).
DONE_ZH = {
    "supplement": "补充内容已提交，我们已转告承办单位。",
    "chase": "已催办，我们已提醒承办单位尽快办理。",
    "withdraw": "您已撤回该诉求，不再办理。",
    "rate-satisfied": "感谢您的评价！",
    "rate-redo": "您的评价是“不满意”。工单已退回承办单位重新办理，重新办理的期限会更短。",
    "rate-supervised": "您的评价是“不满意”。该诉求已列入督办，由督办部门督促承办单位办理。",
    "accept": "问题已解决，诉求已办结。感谢您的确认。",
    "decline": "好的，我们会安排工作人员继续办理。",
}


def error_page(
    request: Request, status_code: int, title: str, message: str, *, show_find: bool = False
) -> HTMLResponse:
    return render(
        request,
        "citizen/error.html",
        {"title": title, "message": message, "show_find": show_find},
        status_code=status_code,
    )


def cross_site(request: Request) -> HTMLResponse:
    return error_page(
        request,
        403,
        "请从本网站的页面提交",
        "这次提交不是从本网站的页面发出的，为了您的安全没有处理。请回到页面重新操作。",
    )


def not_found(request: Request) -> HTMLResponse:
    # One answer for "no such code" and "not yours": whether a code exists is not told.
    return error_page(
        request,
        404,
        "查询不到该诉求",
        "请核对查询码，并输入手机号后四位查看办理进度。查询码在受理短信里，共 10 位。",
        show_find=True,
    )


# --- finding and tracking -----------------------------------------------------------------


def find(session: SessionDep, code: str, last4: str | None) -> Ticket | None:
    if not code or not last4:
        return None
    try:
        return queries.find_for_citizen(session, tracking_code=code, phone_last4=last4)
    except NotFound:
        return None


def _owned(request: Request, session: SessionDep, code: str) -> Ticket | None:
    return find(session, code, proofs(request).get(code))


@router.get("/track", response_class=HTMLResponse)
def track_form(request: Request, code: str = "") -> HTMLResponse:
    return render(
        request,
        "citizen/track_find.html",
        {"nav": "track", "code": clean_code(code), "last4": "", "errors": {}},
    )


@router.post("/track", response_class=HTMLResponse)
def track_find(request: Request, raw: FormDep, session: SessionDep) -> Response:
    """Tracking code + last four phone digits; the proof is remembered for this browser."""
    if not same_origin(request):
        return cross_site(request)
    code, last4 = clean_code(raw.get("code")), clean_last4(raw.get("last4"))
    errors: dict[str, str] = {}
    if not code:
        errors["code"] = "请填写查询码（受理短信里的 10 位字母和数字）。"
    if last4 is None:
        errors["last4"] = "请填写您提交诉求时所留手机号的最后 4 位数字。"
    ticket = None if errors else find(session, code, last4)
    if ticket is None:
        if not errors:
            errors["form"] = WRONG_PAIR
        return render(
            request,
            "citizen/track_find.html",
            {"nav": "track", "code": code, "last4": "", "errors": errors},
            status_code=404 if "form" in errors else 422,
        )
    response = RedirectResponse(f"/track/{quote(ticket.tracking_code)}", status_code=303)
    remember(request, response, ticket.tracking_code, last4 or "")
    return response


def _track_page(
    request: Request,
    session: SessionDep,
    ticket: Ticket,
    now: datetime,
    *,
    owner: bool,
    done: str = "",
    error: str | None = None,
    supplement: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    view = views.tracking_view(session, ticket, now, owner=owner)
    offer = knowledge.current_offer(session, ticket=ticket) if owner else None
    return render(
        request,
        "citizen/track.html",
        {
            "nav": "track",
            "v": view,
            "owner": owner,
            "title": ticket.title if owner else views.mask_numbers(ticket.title),
            "done": DONE_ZH.get(done),
            "error": error,
            "supplement": supplement,
            "offer": offer,
            "awaiting_rating": ticket.status == Status.AWAITING_RATING.value,
        },
        status_code=status_code,
    )


@router.get("/track/{tracking_code}", response_class=HTMLResponse)
def track(
    request: Request,
    tracking_code: str,
    session: SessionDep,
    clock: ClockDep,
    follow: str = "",
    done: str = "",
) -> HTMLResponse:
    """The parcel-like page: the owner's full view, or a follower's public one."""
    code = clean_code(tracking_code)
    ticket = _owned(request, session, code)
    if ticket is not None:
        return _track_page(request, session, ticket, clock.now(), owner=True, done=done)
    found = views.ticket_by_code(session, code) if follow and code else None
    if found is not None and follows(found, follow):
        return _track_page(request, session, found, clock.now(), owner=False)
    return not_found(request)


def _citizen_act(
    request: Request,
    raw: RawForm,
    session: SessionDep,
    clock: ClockDep,
    tracking_code: str,
    action: Action,
) -> Response:
    if not same_origin(request):
        return cross_site(request)
    ticket = _owned(request, session, clean_code(tracking_code))
    if ticket is None:
        return not_found(request)
    status_code = 413 if raw.too_large else 422
    text = raw.get("text").strip()
    problem = None
    if raw.too_large:
        problem = f"提交的内容太长了：补充内容最多 {MAX_SUPPLEMENT} 字，请删减后再提交。"
    elif action is Action.WITHDRAW and raw.get("confirm") != "yes":
        return render(request, "citizen/withdraw_confirm.html", {"nav": "track", "ticket": ticket})
    elif action is Action.SUPPLEMENT and not text:
        problem = "请填写补充内容。"
    elif action is Action.SUPPLEMENT and len(text) > MAX_SUPPLEMENT:
        problem = f"补充内容最多 {MAX_SUPPLEMENT} 字，现在有 {len(text)} 字，请删减后再提交。"
    if problem is not None:
        return _track_page(
            request,
            session,
            ticket,
            clock.now(),
            owner=True,
            error=problem,
            supplement=text[:MAX_SUPPLEMENT],
            status_code=status_code,
        )
    try:
        tickets.act(
            session,
            ticket_id=ticket.id,
            action=action,
            principal=Principal(session=session, tracking_ticket_id=ticket.id),
            payload={"text": text} if action is Action.SUPPLEMENT else {},
            clock=clock,
        )
    except DomainError as exc:
        session.rollback()
        not_now = isinstance(exc, IllegalTransition) and action in NOT_NOW_ZH
        return _track_page(
            request,
            session,
            ticket,
            clock.now(),
            owner=True,
            error=NOT_NOW_ZH[action] if not_now else f"{exc.message}。",
            supplement=text[:MAX_SUPPLEMENT] if action is Action.SUPPLEMENT else "",
            status_code=exc.status_code,
        )
    return RedirectResponse(
        f"/track/{quote(ticket.tracking_code)}?done={action.value}", status_code=303
    )


@router.post("/track/{tracking_code}/supplement", response_class=HTMLResponse)
def supplement(
    request: Request, tracking_code: str, raw: FormDep, session: SessionDep, clock: ClockDep
) -> Response:
    """补充: more details for the unit, kept on the ticket."""
    return _citizen_act(request, raw, session, clock, tracking_code, Action.SUPPLEMENT)


@router.post("/track/{tracking_code}/chase", response_class=HTMLResponse)
def chase(
    request: Request, tracking_code: str, raw: FormDep, session: SessionDep, clock: ClockDep
) -> Response:
    """催办: remind the unit."""
    return _citizen_act(request, raw, session, clock, tracking_code, Action.CHASE)


@router.post("/track/{tracking_code}/withdraw", response_class=HTMLResponse)
def withdraw(
    request: Request, tracking_code: str, raw: FormDep, session: SessionDep, clock: ClockDep
) -> Response:
    """撤诉, after a confirmation page (no script needed to confirm)."""
    return _citizen_act(request, raw, session, clock, tracking_code, Action.WITHDRAW)


@router.post("/track/{tracking_code}/instant-answer/{decision}", response_class=HTMLResponse)
def instant_answer(
    request: Request, tracking_code: str, decision: str, session: SessionDep, clock: ClockDep
) -> Response:
    """秒答: the answer solved it (the appeal closes as answered), or ask for a person."""
    if not same_origin(request):
        return cross_site(request)
    ticket = _owned(request, session, clean_code(tracking_code))
    if ticket is None or decision not in ("accept", "decline"):
        return not_found(request)
    try:
        if decision == "accept":
            knowledge.accept_offer(session, ticket=ticket, now=clock.now(), clock=clock)
        else:
            knowledge.decline_offer(session, ticket=ticket, now=clock.now())
    except DomainError as exc:
        session.rollback()
        return _track_page(
            request,
            session,
            ticket,
            clock.now(),
            owner=True,
            error=f"{exc.message}。",
            status_code=exc.status_code,
        )
    return RedirectResponse(f"/track/{quote(ticket.tracking_code)}?done={decision}", 303)


# --- rating -------------------------------------------------------------------------------


def _rate_page(
    request: Request, ticket: Ticket, form: RatingForm, *, status_code: int = 200
) -> HTMLResponse:
    return render(
        request,
        "citizen/rate.html",
        {
            "nav": "track",
            "ticket": ticket,
            "form": form,
            "dimensions": RATING_DIMENSIONS,
            "words": RATING_WORDS,
            "can_rate": ticket.status == Status.AWAITING_RATING.value,
        },
        status_code=status_code,
    )


@router.get("/track/{tracking_code}/rate", response_class=HTMLResponse)
def rate_form(request: Request, tracking_code: str, session: SessionDep) -> HTMLResponse:
    ticket = _owned(request, session, clean_code(tracking_code))
    if ticket is None:
        return not_found(request)
    can = ticket.status == Status.AWAITING_RATING.value
    return _rate_page(request, ticket, RatingForm(), status_code=200 if can else 409)


@router.post("/track/{tracking_code}/rate", response_class=HTMLResponse)
def rate(
    request: Request, tracking_code: str, raw: FormDep, session: SessionDep, clock: ClockDep
) -> Response:
    """好差评: four dimensions; an unsatisfied rating sends the appeal back to be redone."""
    if not same_origin(request):
        return cross_site(request)
    code = clean_code(tracking_code)
    last4 = proofs(request).get(code)
    ticket = find(session, code, last4)
    if ticket is None or last4 is None:
        return not_found(request)
    form = RatingForm.from_raw(raw)
    if raw.too_large:
        form.errors["comment"] = ["评价意见太长了，请删减后再提交。"]
        return _rate_page(request, ticket, form, status_code=413)
    body = form.check()
    if body is None:
        return _rate_page(request, ticket, form, status_code=422)
    try:
        # The API's own citizen endpoint: the same proof check and satisfaction rule.
        citizen_rate(
            tracking_code=ticket.tracking_code,
            body=RateRequest.model_validate(body),
            session=session,
            clock=clock,
            phone_last4=last4,
        )
    except DomainError as exc:
        session.rollback()
        form.errors.setdefault("form", []).append(f"{exc.message}。")
        return _rate_page(request, ticket, form, status_code=exc.status_code)
    outcome = {
        Status.REOPENED.value: "rate-redo",
        Status.SUPERVISED.value: "rate-supervised",
    }.get(ticket.status, "rate-satisfied")
    return RedirectResponse(f"/track/{quote(ticket.tracking_code)}?done={outcome}", 303)


# --- attachments --------------------------------------------------------------------------


@router.get("/track/{tracking_code}/files/{attachment_id}")
def attachment(
    request: Request,
    tracking_code: str,
    attachment_id: str,
    session: SessionDep,
    store: FileStoreDep,
) -> Response:
    """An attachment of the citizen's own appeal. Only images open in the page; anything
    else downloads, and nothing may run (sandboxed, no type sniffing)."""
    ticket = _owned(request, session, clean_code(tracking_code))
    number = int(attachment_id) if attachment_id.isdigit() and len(attachment_id) < 10 else None
    found = views.attachment_of(session, ticket, number) if ticket and number else None
    if found is None:
        return not_found(request)
    try:
        with store.open(found.sha256) as f:
            content = f.read()
    except FileNotFoundError:
        return error_page(request, 404, "附件暂时无法打开", "附件文件暂时无法读取，请稍后再试。")
    disposition = "inline" if found.kind == "image" else "attachment"
    return Response(
        content,
        media_type=found.mime,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(found.original_name)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=600",
        },
    )


@router.get("/track/{tracking_code}/{action}", response_class=RedirectResponse)
@router.get("/track/{tracking_code}/instant-answer/{action}", response_class=RedirectResponse)
def track_step(tracking_code: str, action: str) -> RedirectResponse:
    return RedirectResponse(f"/track/{quote(clean_code(tracking_code))}", status_code=303)
