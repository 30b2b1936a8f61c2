"""The citizen portal (市民端): submit, track like a parcel, rate; plain Chinese, mobile first.

Pages post like ordinary HTML forms and work without JavaScript; htmx only refreshes the
emergency and "already reported" boxes while the appeal is typed. Every rule is a
service's (intake, tickets, triage, sla, knowledge); a page only calls it and answers in
HTML: bad input re-renders the form with the problems beside their fields (4xx, nothing
stored), other errors are error pages, never the API's JSON. How a browser proves it may
see an appeal, and how cross-site posts are refused, is `citizen_proof`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse, Response

from minyi.core.deps import ClockDep, SessionDep, SettingsDep, TriageDep
from minyi.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from minyi.intake import service as intake
from minyi.intake.domain import normalise_phone
from minyi.intake.routes import FileStoreDep
from minyi.tickets import queries
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action, Status
from minyi.tickets.models import Ticket
from minyi.tickets.routes import citizen_rate
from minyi.tickets.schemas import RateRequest
from minyi.triage import service as triage
from minyi.triage.domain import emergency_advice
from minyi.triage.engine import TriageEngine
from minyi.triage.knowledge import service as knowledge
from minyi.web import citizen_views as views
from minyi.web.citizen_forms import (
    MAX_TEXT,
    RATING_DIMENSIONS,
    RATING_WORDS,
    TYPE_CHOICES,
    AppealForm,
    FormTooLarge,
    RatingForm,
    RawForm,
    read_form,
)
from minyi.web.citizen_proof import (
    clean_code,
    clean_last4,
    follows,
    proofs,
    remember,
    same_origin,
)
from minyi.web.templating import LARGE_TYPE_COOKIE, large_type, render

router = APIRouter(include_in_schema=False)

# Where each form field lives on the appeal page (the error summary links to it).
FIELD_IDS = {
    "type": "appeal-type",
    "text": "appeal-text",
    "address_text": "address",
    "phone": "phone",
    "name": "name",
    "files": "files",
}
WRONG_PAIR = "查询码或手机号后四位不对，请核对后再试。查询码在受理短信里，共 10 位。"
MAX_SUPPLEMENT = 5000  # ActionRequest.text
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


def _cross_site(request: Request) -> HTMLResponse:
    return error_page(
        request,
        403,
        "请从本网站的页面提交",
        "这次提交不是从本网站的页面发出的，为了您的安全没有处理。请回到页面重新操作。",
    )


def _not_found(request: Request) -> HTMLResponse:
    # One answer for "no such code" and "not yours": whether a code exists is not told.
    return error_page(
        request,
        404,
        "查询不到该诉求",
        "请核对查询码，并输入手机号后四位查看办理进度。查询码在受理短信里，共 10 位。",
        show_find=True,
    )


# --- home and search ----------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    return render(
        request,
        "citizen/home.html",
        {"nav": "home", "notices": views.current_notices(session, clock.now(), limit=3)},
    )


@router.get("/search", response_class=HTMLResponse)
def search(
    request: Request, session: SessionDep, clock: ClockDep, q: str = "", area: str = ""
) -> HTMLResponse:
    """Answers of the knowledge base and notices in force (停水、停电…) for a question."""
    query = q.strip()[:200]
    place = views.find_area(session, area) if area.strip() else None
    context: dict[str, Any] = {
        "nav": "home",
        "q": query,
        "area": area.strip()[:50],
        "place": place,
        "places": views.place_suggestions(session, ""),
        "asked": len(query) >= 2,
        "error": None,
    }
    if len(query) < 2:
        asked = "q" in request.query_params
        context["error"] = "请至少输入两个字，比如“停水”。" if asked else None
        return render(request, "citizen/search.html", context, status_code=400 if asked else 200)
    now = clock.now()
    context.update(
        answers=views.search_answers(session, query, place, now),
        notices=views.current_notices(session, now, query=query, area=place),
    )
    return render(request, "citizen/search.html", context)


# --- the appeal ---------------------------------------------------------------------------


def _preview(
    session: SessionDep, engine: TriageEngine, text: str, address: str, clock: ClockDep
) -> triage.Preview | None:
    text = text.strip()
    if not text or len(text) > MAX_TEXT:
        return None
    return triage.preview(
        session,
        title="",
        text=text,
        address=address.strip()[:500] or None,
        area_id=None,
        lon=None,
        lat=None,
        engine=engine,
        now=clock.now(),
    )


def _boxes(session: SessionDep, found: triage.Preview | None) -> dict[str, Any]:
    """What the emergency and similar boxes show for a preview (nothing for no preview)."""
    lines = views.call_lines(
        session, list(found.assessment.emergency_lines) if found is not None else []
    )
    return {
        "emergency_lines": lines,
        "emergency_advice": views.advice_before_submitting(lines),
        "similar": views.similar_appeals(session, found.related) if found is not None else [],
    }


def _appeal_page(
    request: Request,
    session: SessionDep,
    form: AppealForm,
    boxes: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    notice: str | None = None,
) -> HTMLResponse:
    context = {
        "nav": "appeal",
        "form": form,
        "types": TYPE_CHOICES,
        "field_ids": FIELD_IDS,
        "places": views.place_suggestions(session, ""),
        "notice": notice,
        **(boxes or _boxes(session, None)),
    }
    return render(request, "citizen/appeal.html", context, status_code=status_code)


@router.get("/appeal", response_class=HTMLResponse)
def appeal_form(request: Request, session: SessionDep) -> HTMLResponse:
    return _appeal_page(request, session, AppealForm())


async def _read_appeal(request: Request) -> AppealForm | FormTooLarge:
    try:
        return AppealForm.from_raw(await read_form(request))
    except FormTooLarge as exc:
        return exc


@router.post("/appeal", response_class=HTMLResponse)
async def submit_appeal(
    request: Request,
    session: SessionDep,
    clock: ClockDep,
    store: FileStoreDep,
    engine: TriageDep,
    settings: SettingsDep,
) -> Response:
    """Take the appeal through intake (channel 网站) and answer with its tracking code."""
    if not same_origin(request):
        return _cross_site(request)
    form = await _read_appeal(request)
    if isinstance(form, FormTooLarge):
        blank = AppealForm()
        blank.add("text", form.message)
        return _appeal_page(request, session, blank, status_code=413)
    data = form.check()
    if data is None:
        boxes = _boxes(session, _preview(session, engine, form.text, form.address_text, clock))
        return _appeal_page(request, session, form, boxes, status_code=422)
    try:
        result = intake.submit_appeal(
            session,
            data=data,
            files=form.files,
            principal=Principal(session=session),
            idempotency_key=f"web:{form.form_key}",
            store=store,
            clock=clock,
            triage=engine if settings.triage_enabled else None,
            auto_dispatch=settings.triage_auto_dispatch,
            auto_item_threshold=settings.triage_auto_item_threshold,
        )
    except DomainError as exc:
        session.rollback()
        if isinstance(exc, ValidationFailed):
            form.take_problems(exc.details)
        elif isinstance(exc, Conflict) and exc.code == "idempotency_key_reused":
            # This page was submitted before with other content: a fresh key for this one.
            form.form_key = AppealForm().form_key
            form.add("text", "这张表已经提交过一次了。请确认内容后再点一次“提交诉求”。")
        else:
            form.add("text", f"{exc.message}。")
        boxes = _boxes(session, _preview(session, engine, form.text, form.address_text, clock))
        return _appeal_page(request, session, form, boxes, status_code=exc.status_code)
    # Durable before the tracking code is shown (SPEC §4: nothing acknowledged is lost).
    session.commit()
    code = result.ticket.tracking_code
    response = RedirectResponse(f"/appeal/done/{code}", status_code=303)
    phone = normalise_phone(form.phone) if form.phone else None
    remember(request, response, code, phone[-4:] if phone else "")
    return response


@router.post("/appeal/check", response_class=HTMLResponse)
async def check_appeal(
    request: Request, session: SessionDep, clock: ClockDep, engine: TriageDep
) -> HTMLResponse:
    """Without JavaScript: show the emergency and "already reported" boxes for what was
    typed, without submitting anything."""
    form = await _read_appeal(request)
    if isinstance(form, FormTooLarge):
        blank = AppealForm()
        blank.add("text", form.message)
        return _appeal_page(request, session, blank, status_code=413)
    form.files = []
    boxes = _boxes(session, _preview(session, engine, form.text, form.address_text, clock))
    return _appeal_page(
        request,
        session,
        form,
        boxes,
        notice="还没有提交。看过下面的提示后，请点“提交诉求”；已选的附件需要重新选择。",
    )


async def _typed(request: Request) -> RawForm:
    try:
        return await read_form(request)
    except FormTooLarge:
        return RawForm()


@router.post("/appeal/emergency", response_class=HTMLResponse)
async def emergency_box(
    request: Request, session: SessionDep, clock: ClockDep, engine: TriageDep
) -> HTMLResponse:
    """The emergency box while typing (htmx): call 119/110/120/gas now, before submitting."""
    raw = await _typed(request)
    found = _preview(session, engine, raw.get("text"), "", clock)
    return render(request, "citizen/_emergency.html", _boxes(session, found))


@router.post("/appeal/similar", response_class=HTMLResponse)
async def similar_box(
    request: Request, session: SessionDep, clock: ClockDep, engine: TriageDep
) -> HTMLResponse:
    """Open appeals about the same matter nearby (htmx); nothing personal is shown."""
    raw = await _typed(request)
    found = _preview(session, engine, raw.get("text"), raw.get("address_text"), clock)
    return render(request, "citizen/_similar.html", _boxes(session, found))


@router.post("/appeal/places", response_class=HTMLResponse)
async def place_options(request: Request, session: SessionDep) -> HTMLResponse:
    """Suggestions for the address field from the organisation tree (htmx, a datalist)."""
    raw = await _typed(request)
    places = views.place_suggestions(session, raw.get("address_text"))
    return render(request, "citizen/_places.html", {"places": places})


@router.get("/appeal/done/{tracking_code}", response_class=HTMLResponse)
def appeal_done(request: Request, tracking_code: str, session: SessionDep) -> HTMLResponse:
    """The confirmation, for the browser that submitted the appeal."""
    code = clean_code(tracking_code)
    last4 = proofs(request).get(code)
    ticket = _find(session, code, last4) if last4 else None
    if ticket is None and last4 == "":
        # Filed without a phone: it cannot be tracked online, but its code is shown once.
        found = views.ticket_by_code(session, code) if code else None
        ticket = found if found is not None and found.requester_id is None else None
    if ticket is None:
        return _not_found(request)
    decision = triage.decision_for(session, ticket.id)
    lines = list(decision.emergency_lines) if decision is not None else []
    return render(
        request,
        "citizen/done.html",
        {
            "ticket": ticket,
            "trackable": bool(last4),
            "emergency_lines": views.call_lines(session, lines),
            "emergency_advice": emergency_advice(lines) if lines else None,
            "offer": knowledge.current_offer(session, ticket=ticket),
        },
    )


# --- finding and tracking -----------------------------------------------------------------


def _find(session: SessionDep, code: str, last4: str | None) -> Ticket | None:
    if not code or not last4:
        return None
    try:
        return queries.find_for_citizen(session, tracking_code=code, phone_last4=last4)
    except NotFound:
        return None


def _owned(request: Request, session: SessionDep, code: str) -> Ticket | None:
    return _find(session, code, proofs(request).get(code))


@router.get("/track", response_class=HTMLResponse)
def track_form(request: Request, code: str = "") -> HTMLResponse:
    return render(
        request,
        "citizen/track_find.html",
        {"nav": "track", "code": clean_code(code), "last4": "", "errors": {}},
    )


@router.post("/track", response_class=HTMLResponse)
async def track_find(request: Request, session: SessionDep) -> Response:
    """Tracking code + last four phone digits; the proof is remembered for this browser."""
    if not same_origin(request):
        return _cross_site(request)
    try:
        raw = await read_form(request)
    except FormTooLarge:
        raw = RawForm()
    code, last4 = clean_code(raw.get("code")), clean_last4(raw.get("last4"))
    errors: dict[str, str] = {}
    if not code:
        errors["code"] = "请填写查询码（受理短信里的 10 位字母和数字）。"
    if last4 is None:
        errors["last4"] = "请填写您提交诉求时所留手机号的最后 4 位数字。"
    ticket = None if errors else _find(session, code, last4)
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
    return _not_found(request)


async def _citizen_act(
    request: Request, session: SessionDep, clock: ClockDep, tracking_code: str, action: Action
) -> Response:
    if not same_origin(request):
        return _cross_site(request)
    ticket = _owned(request, session, clean_code(tracking_code))
    if ticket is None:
        return _not_found(request)
    status_code = 422
    try:
        raw = await read_form(request)
    except FormTooLarge:
        raw, status_code = RawForm(), 413
    text = raw.get("text").strip()
    problem = None
    if status_code == 413:
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
        return _track_page(
            request,
            session,
            ticket,
            clock.now(),
            owner=True,
            error=f"{exc.message}。",
            supplement=text[:MAX_SUPPLEMENT] if action is Action.SUPPLEMENT else "",
            status_code=exc.status_code,
        )
    return RedirectResponse(
        f"/track/{quote(ticket.tracking_code)}?done={action.value}", status_code=303
    )


@router.post("/track/{tracking_code}/supplement", response_class=HTMLResponse)
async def supplement(
    request: Request, tracking_code: str, session: SessionDep, clock: ClockDep
) -> Response:
    """补充: more details for the unit, kept on the ticket."""
    return await _citizen_act(request, session, clock, tracking_code, Action.SUPPLEMENT)


@router.post("/track/{tracking_code}/chase", response_class=HTMLResponse)
async def chase(
    request: Request, tracking_code: str, session: SessionDep, clock: ClockDep
) -> Response:
    """催办: remind the unit."""
    return await _citizen_act(request, session, clock, tracking_code, Action.CHASE)


@router.post("/track/{tracking_code}/withdraw", response_class=HTMLResponse)
async def withdraw(
    request: Request, tracking_code: str, session: SessionDep, clock: ClockDep
) -> Response:
    """撤诉, after a confirmation page (no script needed to confirm)."""
    return await _citizen_act(request, session, clock, tracking_code, Action.WITHDRAW)


@router.post("/track/{tracking_code}/instant-answer/{decision}", response_class=HTMLResponse)
async def instant_answer(
    request: Request, tracking_code: str, decision: str, session: SessionDep, clock: ClockDep
) -> Response:
    """秒答: the answer solved it (the appeal closes as answered), or ask for a person."""
    if not same_origin(request):
        return _cross_site(request)
    ticket = _owned(request, session, clean_code(tracking_code))
    if ticket is None or decision not in ("accept", "decline"):
        return _not_found(request)
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
        return _not_found(request)
    can = ticket.status == Status.AWAITING_RATING.value
    return _rate_page(request, ticket, RatingForm(), status_code=200 if can else 409)


@router.post("/track/{tracking_code}/rate", response_class=HTMLResponse)
async def rate(
    request: Request, tracking_code: str, session: SessionDep, clock: ClockDep
) -> Response:
    """好差评: four dimensions; an unsatisfied rating sends the appeal back to be redone."""
    if not same_origin(request):
        return _cross_site(request)
    code = clean_code(tracking_code)
    last4 = proofs(request).get(code)
    ticket = _find(session, code, last4)
    if ticket is None or last4 is None:
        return _not_found(request)
    try:
        form = RatingForm.from_raw(await read_form(request))
    except FormTooLarge:
        form = RatingForm()
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
    attachment_id: int,
    session: SessionDep,
    store: FileStoreDep,
) -> Response:
    """An attachment of the citizen's own appeal. Only images open in the page; anything
    else downloads, and nothing may run (sandboxed, no type sniffing)."""
    ticket = _owned(request, session, clean_code(tracking_code))
    found = views.attachment_of(session, ticket, attachment_id) if ticket else None
    if found is None:
        return _not_found(request)
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


# --- large type ---------------------------------------------------------------------------


@router.post("/large-type", response_model=None)
async def toggle_large_type(request: Request) -> Response:
    """Switch the large-type mode (长辈模式) on or off; remembered for a year."""
    if not same_origin(request):
        return _cross_site(request)
    try:
        raw = await read_form(request)
    except FormTooLarge:
        raw = RawForm()
    back = raw.get("back") or "/"
    # Only a path of this site: "//host" and "/\\host" would leave it.
    local = back.startswith("/") and not back.startswith("//") and "\\" not in back
    target = back if local else "/"
    response = RedirectResponse(target, status_code=303)
    if large_type(request):
        response.delete_cookie(LARGE_TYPE_COOKIE)
    else:
        response.set_cookie(
            LARGE_TYPE_COOKIE, "1", max_age=365 * 24 * 3600, samesite="lax", httponly=True
        )
    return response
