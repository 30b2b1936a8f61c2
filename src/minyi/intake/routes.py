"""`POST /api/v1/appeals` for every channel, and the code lists a form needs.

Register with `app.include_router(router, prefix="/api/v1")`.

The body is JSON (an appeal without files) or `multipart/form-data` (a `data` part holding
the same JSON, and `files` parts). It is read here, under a size cap, so that a giant
upload is refused with 413 before it fills memory or disk; everything else is the service's.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from minyi.core.deps import ClockDep, SessionDep, SettingsDep, TriageDep
from minyi.core.errors import DomainError, ValidationFailed
from minyi.intake import media, service
from minyi.intake.domain import AppealType, Channel
from minyi.intake.filestore import FileStore, get_file_store
from minyi.intake.schemas import (
    AppealAccepted,
    AppealCreate,
    ChannelChoice,
    Choice,
    InstantAnswerRead,
)
from minyi.tickets.deps import OptionalPrincipal
from minyi.triage.domain import emergency_advice

router = APIRouter(tags=["intake"])

# All attachments of one appeal plus room for the JSON and the multipart framing.
MAX_REQUEST_BYTES = media.MAX_TOTAL_BYTES + 8 * media.MIB
_MAX_DATA_BYTES = 1 * media.MIB

FileStoreDep = Annotated[FileStore, Depends(get_file_store)]


@dataclass
class AppealRequest:
    data: AppealCreate
    files: list[media.IncomingFile] = field(default_factory=list)


def _too_large() -> DomainError:
    limit = MAX_REQUEST_BYTES // media.MIB
    return DomainError(
        "request_too_large",
        f"提交内容过大：整个请求不能超过 {limit} MB（附件合计不超过 "
        f"{media.MAX_TOTAL_BYTES // media.MIB} MB）",
        f"The request is too large: at most {limit} MB in all "
        f"(attachments at most {media.MAX_TOTAL_BYTES // media.MIB} MB together)",
        status_code=413,
    )


async def _capped(request: Request) -> AsyncGenerator[bytes, None]:
    # Content-Length can be absent (chunked) or lie: count what actually arrives.
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > MAX_REQUEST_BYTES:
            raise _too_large()
        yield chunk


def _parse_appeal(raw: str | bytes) -> AppealCreate:
    try:
        return AppealCreate.model_validate_json(raw)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ())),
                "code": err.get("type", "invalid"),
                "reason": "格式或取值不正确",
                "reason_en": err.get("msg", ""),
            }
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed(
            "validation_error", "提交的内容有误", "Invalid input", details=details
        ) from None


async def read_appeal_request(request: Request) -> AppealRequest:
    """The appeal and its files from a JSON or multipart body, refused above the cap."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise _too_large()
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        chunks = [chunk async for chunk in _capped(request)]
        return AppealRequest(_parse_appeal(b"".join(chunks)))
    if media_type == "multipart/form-data":
        return await _read_multipart(request)
    raise DomainError(
        "unsupported_media_type",
        "请以 JSON 或 multipart/form-data 提交",
        "Send application/json or multipart/form-data",
        status_code=415,
    )


async def _read_multipart(request: Request) -> AppealRequest:
    # More parts than an appeal may have are let through, so that the service names the
    # problem (too many files) together with every other one; the byte cap still holds.
    parser = MultiPartParser(
        request.headers,
        _capped(request),
        max_files=50,
        max_fields=20,
        max_part_size=_MAX_DATA_BYTES,
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise DomainError(
            "multipart_invalid",
            "multipart/form-data 格式有误",
            f"Malformed multipart/form-data: {exc.message}",
        ) from None
    try:
        raw = form.get("data")
        if raw is None:
            raise ValidationFailed(
                "validation_error",
                "提交的内容有误",
                "Invalid input",
                details=[
                    {
                        "field": "data",
                        "code": "missing",
                        "reason": "缺少 data 字段（诉求内容 JSON）",
                        "reason_en": "The data part (the appeal as JSON) is missing",
                    }
                ],
            )
        text = await raw.read(_MAX_DATA_BYTES + 1) if isinstance(raw, UploadFile) else raw
        data = _parse_appeal(text)
        files = []
        for part in form.getlist("files"):
            if isinstance(part, UploadFile):
                content = await part.read()
                files.append(media.IncomingFile(part.filename or "", content, part.content_type))
            else:
                files.append(media.IncomingFile("", part.encode("utf-8")))
        return AppealRequest(data, files)
    finally:
        await form.close()


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` inlined, to sit inside the OpenAPI body."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    result: dict[str, Any] = walk(schema)
    return result


_APPEAL_SCHEMA = _inline(AppealCreate.model_json_schema(by_alias=True))
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _APPEAL_SCHEMA},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["data"],
                    "properties": {
                        "data": {"type": "string", "description": "The appeal, as JSON"},
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": json.dumps(
                                {k.value: v // media.MIB for k, v in media.MAX_BYTES.items()}
                            )
                            + " MB at most per kind",
                        },
                    },
                }
            },
        },
    }
}


@router.post(
    "/appeals",
    response_model=AppealAccepted,
    status_code=201,
    responses={
        200: {"model": AppealAccepted, "description": "A repeat: the ticket already opened"},
        401: {"description": "A staff channel without a staff token"},
        403: {"description": "Not allowed on this channel, or an API key without the scope"},
        409: {"description": "`idempotency_key_reused`: the key was used for another appeal"},
        413: {"description": "`request_too_large`"},
        415: {"description": "Neither JSON nor multipart"},
        422: {"description": "`appeal_invalid`, every problem in `details`; nothing stored"},
    },
    openapi_extra=_BODY,
)
def create_appeal(
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    principal: OptionalPrincipal,
    store: FileStoreDep,
    engine: TriageDep,
    settings: SettingsDep,
    body: Annotated[AppealRequest, Depends(read_appeal_request)],
    idempotency_key: Annotated[
        str | None,
        Header(description="Any unique string per appeal; a retry with it opens no second"),
    ] = None,
) -> AppealAccepted:
    """Take an appeal from any channel. 201 with a new ticket, 200 for a repeat."""
    result = service.submit_appeal(
        session,
        data=body.data,
        files=body.files,
        principal=principal,
        idempotency_key=idempotency_key,
        store=store,
        clock=clock,
        triage=engine if settings.triage_enabled else None,
        auto_dispatch=settings.triage_auto_dispatch,
        auto_item_threshold=settings.triage_auto_item_threshold,
    )
    # Durable before the tracking code is given (SPEC §4: nothing acknowledged is lost).
    # The request's session would otherwise commit only after the answer has been sent,
    # holding the audit head lock, which every appeal needs, all that while.
    session.commit()
    if not result.created:
        response.status_code = 200
    ticket = result.ticket
    decision = result.decision
    lines = list(decision.emergency_lines) if decision is not None else []
    offer = (decision.explanation.get("knowledge") or None) if decision is not None else None
    return AppealAccepted(
        ticket_id=ticket.id,
        tracking_code=ticket.tracking_code,
        status=ticket.status,
        created=result.created,
        received_at=ticket.received_at,
        urgency=ticket.urgency,
        emergency_lines=lines,
        emergency_advice=emergency_advice(lines) if lines else None,
        triage_outcome=decision.outcome if decision is not None else None,
        instant_answer=InstantAnswerRead(answer=offer["answer"], source=offer["source"])
        if offer
        else None,
    )


@router.get("/appeals/channels", response_model=list[ChannelChoice])
def list_channels() -> list[ChannelChoice]:
    """Channel codes with their Chinese names, and who may use each."""
    return [ChannelChoice(code=c.value, label=c.label_zh, access=c.access.value) for c in Channel]


@router.get("/appeals/types", response_model=list[Choice])
def list_types() -> list[Choice]:
    """Appeal types (投诉, 求助, 咨询, 建议, 举报, 表扬) for forms."""
    return [Choice(code=t.value, label=t.label_zh) for t in AppealType]
