"""Queueing notifications in the outbox, and machine clients' webhook subscriptions.

Every `notify_*` / `publish_*` function adds rows to the caller's session and flushes: the
message is committed with the change it reports or not at all (the transactional outbox),
so a rolled-back change never notifies anyone and a committed one is never forgotten.
Sending happens later, outside the request: webhooks in `notify.delivery`, SMS, WeChat and
inboxes in the notification worker.

Personal data never goes into the outbox. Payloads and texts are about the ticket, not the
citizen; a citizen is addressed by reference (`ticket:34:requester`) and the sender looks
the number up at send time, so a number corrected meanwhile is honoured and the outbox
never becomes a second copy of the citizens' phone book.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from minyi.audit import service as audit
from minyi.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from minyi.notify.domain import (
    EVENT_TYPE_PATTERN,
    REQUESTER_CHANNELS,
    Channel,
    OutboxStatus,
    strip_personal,
    subscribes_to,
    webhook_url_problem,
)
from minyi.notify.models import OutboxMessage, WebhookSubscription
from minyi.notify.templates import render_for, safe_params
from minyi.org.models import MachineClient

# Enough for a production and a test endpoint per event family; more is a misconfiguration.
MAX_SUBSCRIPTIONS_PER_CLIENT = 10


def unit_target(unit_id: int) -> str:
    return f"unit:{unit_id}"


def requester_target(ticket_id: int) -> str:
    return f"ticket:{ticket_id}:requester"


def user_target(user_id: int) -> str:
    return f"user:{user_id}"


def email_target(address: str) -> str:
    """A staff mailbox (a work address, not a citizen's); e-mail only."""
    return f"mailto:{address.strip()}"


def _json_safe(value: Any) -> Any:
    """What the JSON column and the receiver can both read: dates become ISO strings."""

    def default(obj: Any) -> Any:
        if isinstance(obj, datetime | date):
            return obj.isoformat()
        raise TypeError(f"{type(obj).__name__} cannot go into a notification payload")

    return json.loads(json.dumps(value, default=default, ensure_ascii=False))


def _queue(
    session: Session,
    *,
    channel: Channel,
    target: str,
    event_type: str,
    payload: Mapping[str, Any],
    now: datetime,
    subscription_id: int | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        channel=channel.value,
        target=target,
        subscription_id=subscription_id,
        event_type=event_type,
        payload=dict(payload),
        status=OutboxStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        last_error=None,
        created_at=now,
        sent_at=None,
    )
    session.add(message)
    return message


def publish_ticket_event(
    session: Session,
    *,
    ticket_id: int,
    tracking_code: str,
    event_type: str,
    unit_ids: Sequence[int],
    payload: Mapping[str, Any],
    now: datetime,
) -> int:
    """Queue a webhook for every active subscription of the units concerned; returns how many.

    "Machine clients can subscribe to events of their unit": a subscription hears of a
    ticket when its client belongs to one of `unit_ids` (pass the lead unit and the
    co-units). `payload` must hold no unmasked personal data; keys such as `phone` and
    `id_number` are stripped anyway, at any depth, as a last line of defence.
    """
    wanted = {uid for uid in unit_ids if uid is not None}
    if not wanted:
        return 0
    subscriptions = session.scalars(
        select(WebhookSubscription)
        .join(MachineClient, MachineClient.id == WebhookSubscription.client_id)
        .where(
            WebhookSubscription.active.is_(True),
            MachineClient.active.is_(True),
            MachineClient.unit_id.in_(sorted(wanted)),
        )
        .order_by(WebhookSubscription.id)
    ).all()
    body = {
        "ticket_id": ticket_id,
        "tracking_code": tracking_code,
        "payload": _json_safe(strip_personal(payload)),
    }
    queued = 0
    for sub in subscriptions:
        if not subscribes_to(sub.event_types, event_type):
            continue
        _queue(
            session,
            channel=Channel.WEBHOOK,
            target=sub.url,
            subscription_id=sub.id,
            event_type=event_type,
            payload=body,
            now=now,
        )
        queued += 1
    if queued:
        session.flush()
    return queued


def notify_unit(
    session: Session,
    *,
    unit_id: int,
    ticket_id: int,
    event_type: str,
    text: str,
    now: datetime,
) -> OutboxMessage:
    """Queue a message to a unit's inbox, e.g. the citizen added information (补充) or chased
    (催办): the unit must see it without polling the ticket. `text` must hold no personal data.
    """
    message = _queue(
        session,
        channel=Channel.INBOX,
        target=unit_target(unit_id),
        event_type=event_type,
        payload={"ticket_id": ticket_id, "unit_id": unit_id, "text": text},
        now=now,
    )
    session.flush()
    return message


def notify_requester(
    session: Session,
    *,
    ticket_id: int,
    channel: Channel | str,
    event_type: str,
    text: str,
    now: datetime,
) -> OutboxMessage:
    """Queue an SMS or WeChat message to the citizen at a key step (SPEC 2.7: the tracking
    code at once, the dispatch, the reply). Addressed by reference, never by number: the
    sender resolves the requester's contact when it sends.
    """
    chosen = Channel(channel)
    if chosen not in REQUESTER_CHANNELS:
        raise ValueError(f"a citizen is told by SMS or WeChat, not by {chosen.value}")
    message = _queue(
        session,
        channel=chosen,
        target=requester_target(ticket_id),
        event_type=event_type,
        payload={"ticket_id": ticket_id, "text": text},
        now=now,
    )
    session.flush()
    return message


def notify_template(
    session: Session,
    *,
    channel: Channel | str,
    target: str,
    code: str,
    params: Mapping[str, Any],
    event_type: str,
    ticket_id: int | None,
    now: datetime,
) -> OutboxMessage:
    """Queue template `code` (notify/data/templates.csv, or the admins' wording) to `target`
    on `channel`.

    The text is rendered now, masked (`templates.render_for`), and stored with the masked
    params, so the outbox holds no unmasked personal data; a gateway gets both.
    Targets: `unit_target`, `user_target`, `requester_target`, `email_target`.
    """
    chosen = Channel(channel)
    if chosen is Channel.WEBHOOK:
        raise ValueError("webhooks are queued by publish_ticket_event")
    if target.startswith("mailto:") and chosen is not Channel.EMAIL:
        raise ValueError("an e-mail address is reached by e-mail only")
    rendered = render_for(session, code, params)
    message = _queue(
        session,
        channel=chosen,
        target=target,
        event_type=event_type,
        payload={
            "ticket_id": ticket_id,
            "template": code,
            "params": safe_params(params),
            "subject": rendered.subject,
            "text": rendered.text,
        },
        now=now,
    )
    session.flush()
    return message


# --- subscriptions -------------------------------------------------------------------


def _check_event_types(event_types: Sequence[str]) -> list[str]:
    cleaned: list[str] = []
    for raw in event_types:
        value = raw.strip()
        if not EVENT_TYPE_PATTERN.fullmatch(value):
            raise ValidationFailed(
                "webhook_bad_event_type",
                f"事件类型「{raw}」格式不正确（小写字母开头，仅含小写字母、数字、_ . : -）",
                f"The event type {raw!r} is malformed (lowercase letters, digits, _ . : -)",
                details={"event_type": raw},
            )
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def create_subscription(
    session: Session,
    *,
    client: MachineClient,
    url: str,
    event_types: Sequence[str],
    now: datetime,
) -> WebhookSubscription:
    """Subscribe a machine client to its unit's ticket events.

    The secret is generated here and readable on the returned row; the API shows it once.
    It is kept in clear because signing needs it (an HMAC key cannot be stored hashed).
    """
    if client.unit_id is None:
        raise Forbidden(
            "webhook_needs_unit",
            "该客户端未绑定单位，无法订阅单位的工单事件",
            "This client belongs to no unit, so it has no unit events to subscribe to",
        )
    url = url.strip()
    problem = webhook_url_problem(url)
    if problem is not None:
        raise ValidationFailed(
            "webhook_bad_url",
            "回调地址无效：须为 http:// 或 https:// 开头的完整网址",
            f"The webhook URL is invalid: {problem}",
            details={"url": url},
        )
    types = _check_event_types(event_types)
    active = session.scalars(
        select(WebhookSubscription.id).where(
            WebhookSubscription.client_id == client.id, WebhookSubscription.active.is_(True)
        )
    ).all()
    if len(active) >= MAX_SUBSCRIPTIONS_PER_CLIENT:
        raise Conflict(
            "webhook_limit",
            f"每个客户端最多 {MAX_SUBSCRIPTIONS_PER_CLIENT} 个订阅，请先删除不用的订阅",
            f"A client may hold at most {MAX_SUBSCRIPTIONS_PER_CLIENT} subscriptions",
        )
    sub = WebhookSubscription(
        client_id=client.id,
        url=url,
        secret="whsec_" + secrets.token_urlsafe(32),
        event_types=types,
        active=True,
        created_at=now,
    )
    session.add(sub)
    session.flush()
    audit.record(
        session,
        actor=f"client:{client.id}",
        action="webhook.create",
        object_type="webhook",
        object_id=sub.id,
        data={"url": url, "event_types": types},
    )
    return sub


def list_subscriptions(session: Session, *, client: MachineClient) -> list[WebhookSubscription]:
    """The client's active subscriptions (a handful, so not paginated)."""
    return list(
        session.scalars(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.client_id == client.id,
                WebhookSubscription.active.is_(True),
            )
            .order_by(WebhookSubscription.id)
        ).all()
    )


def get_subscription_or_raise(
    session: Session, *, client: MachineClient, subscription_id: int
) -> WebhookSubscription:
    """Another client's subscription is "not found", not "forbidden": ids reveal nothing."""
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None or sub.client_id != client.id or not sub.active:
        raise NotFound(
            "webhook_not_found",
            "找不到该订阅",
            f"No webhook subscription {subscription_id} for this client",
        )
    return sub


def delete_subscription(
    session: Session, *, client: MachineClient, subscription_id: int, now: datetime
) -> None:
    """Deactivate rather than delete: the outbox rows that went to it keep their history.

    Its pending deliveries are given up at once; the receiver asked to hear nothing more.
    """
    sub = get_subscription_or_raise(session, client=client, subscription_id=subscription_id)
    sub.active = False
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.subscription_id == sub.id,
            OutboxMessage.status == OutboxStatus.PENDING.value,
        )
        .values(status=OutboxStatus.DEAD.value, last_error="subscription deleted")
    )
    session.flush()
    audit.record(
        session,
        actor=f"client:{client.id}",
        action="webhook.delete",
        object_type="webhook",
        object_id=sub.id,
        data={"deleted_at": now.isoformat()},
    )
