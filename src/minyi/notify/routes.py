"""Machine clients manage their webhook subscriptions with their API key; staff read their
inbox with their token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import Forbidden, Unauthorized
from minyi.notify import inbox, service, template_admin
from minyi.notify.schemas import (
    InboxItemRead,
    InboxPage,
    TemplateList,
    TemplatePreview,
    TemplatePreviewRequest,
    TemplateRead,
    TemplateSaved,
    TemplateUpdate,
    TemplateWarningRead,
    WebhookCreate,
    WebhookCreated,
    WebhookRead,
)
from minyi.notify.templates import WordingWarning
from minyi.org import service as org
from minyi.org.auth import AdminUser, CurrentUser
from minyi.org.domain import ClientScope, Role
from minyi.org.models import MachineClient, User

router = APIRouter(tags=["webhooks"])


def webhook_client(
    session: SessionDep,
    x_api_key: Annotated[
        str | None, Header(description="The machine client's API key, shown at its creation.")
    ] = None,
) -> MachineClient:
    # Hearing of a unit's tickets is reading them, so the same scope as reading is needed.
    if not x_api_key:
        raise Unauthorized(
            "api_key_missing",
            "请在 X-API-Key 请求头中提供 API 密钥",
            "The X-API-Key header is missing",
        )
    return org.client_for_key(session, x_api_key, scope=ClientScope.TICKETS_READ)


WebhookClient = Annotated[MachineClient, Depends(webhook_client)]


@router.post("/webhooks", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: WebhookCreate, session: SessionDep, client: WebhookClient, clock: ClockDep
) -> WebhookCreated:
    """Subscribe to the ticket events of the client's unit. The secret is shown only here."""
    sub = service.create_subscription(
        session, client=client, url=body.url, event_types=body.event_types, now=clock.now()
    )
    return WebhookCreated(
        id=sub.id,
        url=sub.url,
        event_types=list(sub.event_types),
        active=sub.active,
        created_at=sub.created_at,
        secret=sub.secret,
    )


@router.get("/webhooks", response_model=list[WebhookRead])
def list_webhooks(session: SessionDep, client: WebhookClient) -> list[WebhookRead]:
    return [
        WebhookRead.model_validate(sub)
        for sub in service.list_subscriptions(session, client=client)
    ]


@router.get("/webhooks/{subscription_id}", response_model=WebhookRead)
def get_webhook(subscription_id: int, session: SessionDep, client: WebhookClient) -> WebhookRead:
    sub = service.get_subscription_or_raise(session, client=client, subscription_id=subscription_id)
    return WebhookRead.model_validate(sub)


@router.delete("/webhooks/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(
    subscription_id: int, session: SessionDep, client: WebhookClient, clock: ClockDep
) -> Response:
    service.delete_subscription(
        session, client=client, subscription_id=subscription_id, now=clock.now()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def staff_user(user: CurrentUser) -> User:
    # Citizens hear from us by SMS or WeChat; the in-app inbox is the staff's.
    if user.role == Role.CITIZEN.value:
        raise Forbidden("inbox_staff_only", "消息中心仅供工作人员使用", "The inbox is for staff")
    return user


StaffUser = Annotated[User, Depends(staff_user)]


@router.get("/inbox", response_model=InboxPage, tags=["inbox"])
def list_inbox(
    session: SessionDep,
    user: StaffUser,
    unread: Annotated[bool, Query(description="Only unread messages.")] = False,
    limit: Annotated[int, Query(ge=1, le=inbox.MAX_LIMIT)] = inbox.DEFAULT_LIMIT,
) -> InboxPage:
    """The signed-in user's own messages, newest first."""
    items = inbox.list_items(session, user=user, unread_only=unread, limit=limit)
    return InboxPage(
        items=[InboxItemRead.model_validate(i) for i in items],
        unread=inbox.unread_count(session, user=user),
    )


@router.post("/inbox/{item_id}/read", response_model=InboxItemRead, tags=["inbox"])
def read_inbox_item(
    item_id: int, session: SessionDep, user: StaffUser, clock: ClockDep
) -> InboxItemRead:
    item = inbox.mark_read(session, user=user, item_id=item_id, now=clock.now())
    return InboxItemRead.model_validate(item)


# --- message templates: admins only -------------------------------------------------------


def _template_read(view: template_admin.TemplateView) -> TemplateRead:
    current = view.current
    return TemplateRead(
        code=view.default.code,
        audience=view.default.audience,
        placeholders=sorted(view.default.fields),
        required_placeholders=sorted(view.default.required_fields),
        default_subject=view.default.subject,
        default_text=view.default.text,
        subject=current.subject,
        text=current.text,
        overridden=view.override is not None,
        problem=view.problem,
        updated_by=None if view.override is None else view.override.updated_by,
        updated_at=template_admin.updated_at(view),
    )


def _warnings(warnings: list[WordingWarning]) -> list[TemplateWarningRead]:
    return [
        TemplateWarningRead(code=w.code, message=w.message, message_en=w.message_en)
        for w in warnings
    ]


@router.get("/notify/templates", response_model=TemplateList, tags=["templates"])
def list_templates(session: SessionDep, _: AdminUser) -> TemplateList:
    """Every message template: the packaged default, the wording in use, its placeholders."""
    return TemplateList(items=[_template_read(v) for v in template_admin.list_templates(session)])


@router.put("/notify/templates/{code}", response_model=TemplateSaved, tags=["templates"])
def set_template(
    code: str, body: TemplateUpdate, session: SessionDep, user: AdminUser, clock: ClockDep
) -> TemplateSaved:
    """Reword a template from the next message on. Only the default's placeholders may be
    used and {tracking_code} must stay; a citizen's SMS over 70 characters is allowed with
    a warning (it is sent, and charged, in several parts)."""
    saved = template_admin.set_override(
        session,
        code=code,
        subject=body.subject,
        text=body.text,
        actor=f"user:{user.id}",
        clock=clock,
    )
    return TemplateSaved(
        **_template_read(saved.view).model_dump(), warnings=_warnings(saved.warnings)
    )


@router.delete("/notify/templates/{code}", status_code=204, tags=["templates"])
def reset_template(code: str, session: SessionDep, user: AdminUser, clock: ClockDep) -> Response:
    """Back to the packaged wording (nothing to do when there is no other)."""
    template_admin.reset_override(session, code=code, actor=f"user:{user.id}", clock=clock)
    return Response(status_code=204)


@router.post("/notify/templates/{code}/preview", response_model=TemplatePreview, tags=["templates"])
def preview_template(
    code: str,
    session: SessionDep,
    _: AdminUser,
    body: TemplatePreviewRequest | None = None,
) -> TemplatePreview:
    """The message as its recipient would read it, with sample values and masked: the
    wording in use, or a draft (`subject` / `text`, checked like a save, not stored)."""
    request = body or TemplatePreviewRequest()
    shown = template_admin.preview(
        session, code=code, subject=request.subject, text=request.text, params=request.params
    )
    return TemplatePreview(
        code=code,
        subject=shown.rendered.subject,
        text=shown.rendered.text,
        length=shown.length,
        sms_segments=shown.sms_segments,
        warnings=_warnings(shown.warnings),
    )
