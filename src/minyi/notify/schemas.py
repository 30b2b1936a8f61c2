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
