"""Open311 GeoReport v2 endpoints under `/open311/v2/`, each as `.xml` and `.json`.

Thin: read the request, call `minyi.open311.service`, write the answer in the format of
the suffix. Errors keep the spec's shape (a list of `{code, description}` under
`<errors>`), not the JSON API's, so they are answered here rather than by the app's
handlers; the transaction is rolled back first, so a refused request stores nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from minyi.core.config import Settings
from minyi.core.deps import ClockDep, SessionDep, SettingsDep, TriageDep
from minyi.intake.filestore import FileStore, get_file_store
from minyi.open311 import domain, service
from minyi.open311.domain import Format, Open311Error
from minyi.open311.schemas import ErrorOut
from minyi.open311.xml import to_json, to_xml

router = APIRouter(prefix="/open311/v2", tags=["open311"])

# A full request (4,000 characters of Chinese percent-encoded, the address, a URL) is
# well under 64 KiB; anything far beyond is refused before it is read into memory.
MAX_FORM_BYTES = 256 * 1024
_FORM_TYPE = "application/x-www-form-urlencoded"
_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _dump(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    if isinstance(body, list):
        return [_dump(b) for b in body]
    return body


def _render(fmt: Format, root: str, body: Any, status: int = 200) -> Response:
    data = _dump(body)
    content = to_xml(root, data) if fmt is Format.XML else to_json(data)
    return Response(content, status_code=status, media_type=fmt.media_type, headers=_HEADERS)


def _errors(fmt: Format, exc: Open311Error) -> Response:
    body = [ErrorOut(code=p.code, description=p.description) for p in exc.problems]
    return _render(fmt, "errors", body, exc.status)


def _answer(session: Session, raw_format: str, root: str, produce: Callable[[], Any]) -> Response:
    try:
        fmt = domain.parse_format(raw_format)
    except Open311Error as exc:
        return _errors(Format.XML, exc)  # XML: the one format the spec requires
    try:
        body = produce()
    except Open311Error as exc:
        session.rollback()
        return _errors(fmt, exc)
    return _render(fmt, root, body)


def _tz(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.timezone)


@router.get("/discovery.{fmt}")
def discovery(fmt: str, request: Request, session: SessionDep) -> Response:
    url = str(request.base_url).rstrip("/") + router.prefix
    return _answer(session, fmt, "discovery", lambda: service.discovery(url=url))


@router.get("/services.{fmt}")
def services(fmt: str, session: SessionDep) -> Response:
    return _answer(session, fmt, "services", lambda: service.list_services(session))


@router.get("/services/{service_code}.{fmt}")
def service_definition(service_code: str, fmt: str, session: SessionDep) -> Response:
    return _answer(
        session,
        fmt,
        "service_definition",
        lambda: service.service_definition(session, code=service_code),
    )


@dataclass(frozen=True)
class Form:
    pairs: list[tuple[str, str]]
    error: Open311Error | None = None


async def _capped(request: Request) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_FORM_BYTES:
            raise _too_large()
        yield chunk


def _too_large() -> Open311Error:
    return domain.bad_request(
        "request_too_large",
        f"提交内容过大（不能超过 {MAX_FORM_BYTES // 1024} KB；诉求内容不超过 "
        f"{domain.MAX_DESCRIPTION} 字）",
        f"The request is too large (at most {MAX_FORM_BYTES // 1024} KB; "
        f"description at most {domain.MAX_DESCRIPTION} characters)",
    )


async def read_form(request: Request) -> Form:
    """The query string's and the url-encoded body's fields, or why they cannot be read."""
    query = list(request.query_params.multi_items())
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type and media_type != _FORM_TYPE:
        error = domain.bad_request(
            "content_type_unsupported",
            f"请以 {_FORM_TYPE} 提交",
            f"Send the request as {_FORM_TYPE}",
        )
        return Form(query, error)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return Form(query, _too_large())
    try:
        raw = b"".join([chunk async for chunk in _capped(request)])
    except Open311Error as exc:
        return Form(query, exc)
    try:
        fields = parse_qsl(
            raw.decode("utf-8"), keep_blank_values=True, max_num_fields=200, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        error = domain.bad_request(
            "form_invalid",
            "提交内容无法解析（须为 UTF-8 的 URL 编码表单）",
            "The body is not a UTF-8 url-encoded form",
        )
        return Form(query, error)
    return Form(query + fields, None)


_TEXT = {"type": "string"}
_POST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            _FORM_TYPE: {
                "schema": {
                    "type": "object",
                    "required": ["api_key", "service_code", "description"],
                    "properties": {
                        "api_key": {**_TEXT, "description": "A machine client's key"},
                        "service_code": _TEXT,
                        "description": {**_TEXT, "maxLength": domain.MAX_DESCRIPTION},
                        "lat": {"type": "number"},
                        "long": {"type": "number"},
                        "address_string": _TEXT,
                        "address_id": {**_TEXT, "description": "An area code of the org tree"},
                        "media_url": {**_TEXT, "format": "uri"},
                        "first_name": _TEXT,
                        "last_name": _TEXT,
                        "phone": _TEXT,
                        "email": {**_TEXT, "description": "Accepted, not kept"},
                        "attribute[appeal_type]": _TEXT,
                        "attribute[anonymous]": _TEXT,
                    },
                }
            }
        },
    }
}


@router.post(
    "/requests.{fmt}",
    openapi_extra=_POST_BODY,
    responses={
        400: {"description": "Anything wrong with the request; every problem listed"},
        403: {"description": "api_key missing, invalid or without appeals:create"},
        404: {"description": "service_code not found"},
    },
)
def create_request(
    fmt: str,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    engine: TriageDep,
    store: Annotated[FileStore, Depends(get_file_store)],
    form: Annotated[Form, Depends(read_form)],
) -> Response:
    setup = service.Intake(
        store=store,
        clock=clock,
        triage=engine if settings.triage_enabled else None,
        auto_dispatch=settings.triage_auto_dispatch,
        auto_item_threshold=settings.triage_auto_item_threshold,
    )

    def produce() -> list[Any]:
        if form.error is not None:
            raise form.error
        created = service.create_request(session, pairs=form.pairs, intake_setup=setup)
        # Durable before the id is given (SPEC §4), as the JSON intake route does.
        session.commit()
        return [created]

    return _answer(session, fmt, "service_requests", produce)


@router.get("/requests.{fmt}")
def list_requests(
    fmt: str, request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    params = list(request.query_params.multi_items())
    return _answer(
        session,
        fmt,
        "service_requests",
        lambda: service.list_requests(session, params=params, now=clock.now(), tz=_tz(settings)),
    )


@router.get("/requests/{request_id}.{fmt}")
def get_request(request_id: str, fmt: str, session: SessionDep, settings: SettingsDep) -> Response:
    return _answer(
        session,
        fmt,
        "service_requests",
        lambda: [service.get_request(session, request_id=request_id, tz=_tz(settings))],
    )


@router.get("/tokens/{token}.{fmt}")
def token(token: str, fmt: str, session: SessionDep) -> Response:
    return _answer(
        session, fmt, "service_requests", lambda: [service.resolve_token(session, token=token)]
    )


@router.api_route(
    "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
def unknown(rest: str) -> Response:
    """Anything else under /open311/v2/ answers in the spec's shape too."""
    fmt = Format.JSON if rest.endswith(".json") else Format.XML
    return _errors(
        fmt,
        domain.not_found(
            "resource_not_found",
            "没有这个 Open311 资源，可用资源见 discovery.xml",
            "No such Open311 resource; see discovery.xml",
        ),
    )
