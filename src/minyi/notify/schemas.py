"""API shapes of webhook subscriptions and the inbox, separate from the tables."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from minyi.notify.domain import MAX_EVENT_TYPES, MAX_URL_LENGTH


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="Where events are POSTed; http:// or https://.",
        examples=["https://cases.example.gov.cn/minyi/events"],
    )
    event_types: list[str] = Field(
        default_factory=list,
        max_length=MAX_EVENT_TYPES,
        description="Event types to receive, such as dispatch or chase; empty: all.",
    )


class WebhookRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime


class WebhookCreated(WebhookRead):
    secret: str = Field(
        description=(
            "Shown once. Verify each delivery: X-Minyi-Signature is sha256=<hex HMAC-SHA256 "
            'of "<X-Minyi-Timestamp>.<body>" keyed with this secret>.'
        )
    )


class InboxItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    event_type: str
    ticket_id: int | None
    subject: str
    text: str
    created_at: datetime
    read_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxItemRead]
    unread: int = Field(description="The user's unread messages, all of them.")


# --- message templates (admins) ----------------------------------------------------------

# Generous caps against giant bodies; the real limits (50 / 500) are checked with clear
# messages by `templates.check_override`.
_MAX_SUBJECT_INPUT = 200
_MAX_TEXT_INPUT = 2000


class TemplateWarningRead(BaseModel):
    code: str
    message: str
    message_en: str


class TemplateRead(BaseModel):
    code: str
    audience: str = Field(description="citizen (SMS / WeChat) or staff (inbox, e-mail).")
    placeholders: list[str] = Field(description="What the wording may use, as {name}.")
    required_placeholders: list[str] = Field(
        description="What the wording must keep: the tracking code a citizen tracks by."
    )
    default_subject: str
    default_text: str
    subject: str = Field(description="The subject in use.")
    text: str = Field(description="The text in use.")
    overridden: bool = Field(description="An admin's wording is stored for this template.")
    problem: str | None = Field(
        default=None,
        description=(
            "Why the stored wording is not used (the default's placeholders changed in a "
            "release); the default is sent meanwhile."
        ),
    )
    updated_by: str | None = None
    updated_at: datetime | None = None


class TemplateList(BaseModel):
    items: list[TemplateRead]


class TemplateUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(max_length=_MAX_SUBJECT_INPUT, examples=["诉求已受理"])
    text: str = Field(
        max_length=_MAX_TEXT_INPUT,
        examples=["【民意】您的诉求已收到，查询码 {tracking_code}，我们会尽快办理。"],
    )


class TemplateSaved(TemplateRead):
    warnings: list[TemplateWarningRead] = Field(
        description="Allowed but worth a look, e.g. a citizen's SMS longer than one segment."
    )


class TemplatePreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(
        default=None, max_length=_MAX_SUBJECT_INPUT, description="A draft; unset: in use."
    )
    text: str | None = Field(
        default=None, max_length=_MAX_TEXT_INPUT, description="A draft; unset: in use."
    )
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Values for some placeholders; the others get sample values.",
    )


class TemplatePreview(BaseModel):
    code: str
    subject: str
    text: str = Field(description="As the recipient would read it, personal data masked.")
    length: int
    sms_segments: int = Field(description="SMS parts it would be sent as (70, then 67 each).")
    warnings: list[TemplateWarningRead]
