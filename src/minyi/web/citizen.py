"""The citizen portal (市民端), plain Chinese and mobile first: the home page, search and
the appeal form here; following, supplementing and rating an appeal in `citizen_track`.

Pages post like ordinary HTML forms and work without JavaScript; htmx only refreshes the
emergency and "already reported" boxes while the appeal is typed. Every rule is a
service's (intake, tickets, triage, sla, knowledge); a page only calls it and answers in
HTML: bad input re-renders the form with the problems beside their fields (4xx, nothing
stored), other errors are error pages, never the API's JSON. How a browser proves it may
see an appeal, and how cross-site posts are refused, is `citizen_proof`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.responses import HTMLResponse, Response

from minyi.core.deps import ClockDep, SessionDep, SettingsDep, TriageDep
from minyi.core.errors import Conflict, DomainError, ValidationFailed
from minyi.intake import service as intake
from minyi.intake.domain import normalise_phone
from minyi.intake.routes import FileStoreDep
from minyi.tickets.access import Principal
from minyi.triage import service as triage
from minyi.triage.domain import emergency_advice
from minyi.triage.engine import TriageEngine
from minyi.triage.knowledge import service as knowledge
from minyi.web import citizen_views as views
from minyi.web.citizen_forms import MAX_TEXT, TYPE_CHOICES, AppealForm, FormDep
from minyi.web.citizen_proof import (
    clean_code,
    proofs,
    remember,
    same_origin,
)
from minyi.web.citizen_track import cross_site, find, not_found
from minyi.web.citizen_track import router as track_router
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


def _too_large(request: Request, session: SessionDep, message: str) -> HTMLResponse:
    blank = AppealForm()
    blank.add("text", message)
    return _appeal_page(request, session, blank, status_code=413)


@router.post("/appeal", response_class=HTMLResponse)
def submit_appeal(
    request: Request,
    body: FormDep,
    session: SessionDep,
    clock: ClockDep,
    store: FileStoreDep,
    engine: TriageDep,
    settings: SettingsDep,
) -> Response:
    """Take the appeal through intake (channel 网站) and answer with its tracking code."""
    if not same_origin(request):
        return cross_site(request)
    if body.too_large:
        return _too_large(request, session, body.too_large)
    form = AppealForm.from_raw(body)
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
def check_appeal(
    request: Request, body: FormDep, session: SessionDep, clock: ClockDep, engine: TriageDep
) -> HTMLResponse:
    """Without JavaScript: show the emergency and "already reported" boxes for what was
    typed, without submitting anything."""
    if body.too_large:
        return _too_large(request, session, body.too_large)
    form = AppealForm.from_raw(body)
    form.files = []
    boxes = _boxes(session, _preview(session, engine, form.text, form.address_text, clock))
    return _appeal_page(
        request,
        session,
        form,
        boxes,
        notice="还没有提交。看过下面的提示后，请点“提交诉求”；已选的附件需要重新选择。",
    )


@router.post("/appeal/emergency", response_class=HTMLResponse)
def emergency_box(
    request: Request, body: FormDep, session: SessionDep, clock: ClockDep, engine: TriageDep
) -> HTMLResponse:
    """The emergency box while typing (htmx): call 119/110/120/gas now, before submitting."""
    found = _preview(session, engine, body.get("text"), "", clock)
    return render(request, "citizen/_emergency.html", _boxes(session, found))


@router.post("/appeal/similar", response_class=HTMLResponse)
def similar_box(
    request: Request, body: FormDep, session: SessionDep, clock: ClockDep, engine: TriageDep
) -> HTMLResponse:
    """Open appeals about the same matter nearby (htmx); nothing personal is shown."""
    found = _preview(session, engine, body.get("text"), body.get("address_text"), clock)
    return render(request, "citizen/_similar.html", _boxes(session, found))


@router.post("/appeal/places", response_class=HTMLResponse)
def place_options(request: Request, body: FormDep, session: SessionDep) -> HTMLResponse:
    """Suggestions for the address field from the organisation tree (htmx, a datalist)."""
    places = views.place_suggestions(session, body.get("address_text"))
    return render(request, "citizen/_places.html", {"places": places})


@router.get("/appeal/done/{tracking_code}", response_class=HTMLResponse)
def appeal_done(request: Request, tracking_code: str, session: SessionDep) -> HTMLResponse:
    """The confirmation, for the browser that submitted the appeal."""
    code = clean_code(tracking_code)
    last4 = proofs(request).get(code)
    ticket = find(session, code, last4) if last4 else None
    if ticket is None and last4 == "":
        # Filed without a phone: it cannot be tracked online, but this browser is shown
        # its code (the cookie says it filed it; a phoneless appeal is all it may see).
        found = views.ticket_by_code(session, code) if code else None
        ticket = found if found is not None and views.without_phone(session, found) else None
    if ticket is None:
        return not_found(request)
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


# --- addresses typed or kept after a post -------------------------------------------------


@router.get("/appeal/{step}", response_class=RedirectResponse)
def appeal_step(step: str) -> RedirectResponse:
    """An address only ever posted to (a page re-shown after a post, then reloaded): the
    form, rather than the API's "method not allowed"."""
    return RedirectResponse("/appeal", status_code=303)


# --- large type ---------------------------------------------------------------------------


@router.get("/large-type", response_class=RedirectResponse)
def large_type_page() -> RedirectResponse:
    return RedirectResponse("/", status_code=303)


@router.post("/large-type", response_model=None)
def toggle_large_type(request: Request, body: FormDep) -> Response:
    """Switch the large-type mode (长辈模式) on or off; remembered for a year."""
    if not same_origin(request):
        return cross_site(request)
    back = body.get("back") or "/"
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


# app.py includes this router only: the tracking pages come with it.
router.include_router(track_router)
