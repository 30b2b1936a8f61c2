"""The notification outbox, machine clients' webhook subscriptions, staff inboxes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class WebhookSubscription(Base):
    """A machine client's wish to hear of its unit's ticket events, signed with its secret."""

    __tablename__ = "notify_webhook"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("org_machine_client.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: all
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxMessage(Base):
    """A message written in the same transaction as the change it reports, sent later.

    Written with the change, so a message is never lost when the sender is down, and never
    sent for a change that was rolled back.
    """

    __tablename__ = "notify_outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # webhook / sms / wechat / email / log
    target: Mapped[str] = mapped_column(String(500))  # url, masked-safe recipient reference
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("notify_webhook.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/sent/dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The SMS/WeChat gateway's or mail server's id for the sent message, for support calls.
    provider_id: Mapped[str | None] = mapped_column(String(100))


class InboxItem(Base):
    """One message in one user's in-app inbox, written when its outbox message is sent.

    (outbox_id, user_id) is unique so that a message delivered again after a crash lands
    in each inbox once.
    """

    __tablename__ = "notify_inbox"
    __table_args__ = (
        UniqueConstraint("outbox_id", "user_id", name="uq_notify_inbox_outbox_user"),
        Index("ix_notify_inbox_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("org_user.id"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("notify_outbox.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TemplateOverride(Base):
    """An admin's wording for one template of `notify/data/templates.csv`, which stays the
    default: deleting the row brings the packaged wording back."""

    __tablename__ = "notify_template_override"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    subject: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(String(500))
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TemplateStamp(Base):
    """A single row whose token changes with every change to the overrides, so that each
    process refreshes its cached templates on next use.

    A random token rather than a counter or the latest `updated_at`: two edits within one
    clock tick, or a rolled-back edit, must never leave a stale wording under a stamp that
    looks current.
    """

    __tablename__ = "notify_template_stamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
