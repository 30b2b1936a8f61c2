"""Sending queued webhooks: signed, retried with backoff, never twice by two workers.

Delivery is at least once. A receiver must de-duplicate on X-Minyi-Delivery (the outbox
message id, the same on every retry): if a worker dies after a POST succeeded but before
its transaction committed, the message is sent again.

Every request carries:
    X-Minyi-Event      the event type
    X-Minyi-Delivery   the message id
    X-Minyi-Timestamp  Unix seconds when it was signed
    X-Minyi-Signature  sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the secret>
Receivers check it with `minyi.notify.domain.verify_signature`.

The other channels (SMS, WeChat, e-mail, log/inbox; `notify.channels`) are sent by
`deliver_channels` with the same claim, schedule and attempt limit; `deliver_all_due` runs
both. Their idempotency is the message id, sent to the gateway on every retry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.core.config import Settings
from minyi.notify.channels import (
    Outcome,
    Outgoing,
    Sender,
    SendResult,
    build_senders,
    close_senders,
    resolve,
)
from minyi.notify.domain import (
    DEFAULT_MAX_ATTEMPTS,
    Channel,
    OutboxStatus,
    next_attempt_delay,
    sign,
    signature_timestamp,
)
from minyi.notify.models import OutboxMessage, WebhookSubscription
from minyi.org.models import MachineClient

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 5.0
MAX_ERROR_LENGTH = 500
USER_AGENT = "Minyi-Webhook/1"


class Transport(Protocol):
    """Posts one request and returns the HTTP status; raises on a network failure."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int: ...


class HttpxTransport:
    """The real transport. Pass `client` to reuse one (or, in tests, an httpx.MockTransport)."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        client: httpx.Client | None = None,
        trust_env: bool = True,
    ) -> None:
        self._owned = client is None
        # Redirects are not followed: a receiver that moved must update its subscription,
        # and a signed body must not be re-posted to wherever a redirect points.
        self._client = client or httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=trust_env
        )

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        response = self._client.post(url, content=body, headers=dict(headers))
        # Only the status matters; the body is never read nor kept (it may echo our data).
        response.close()
        return response.status_code

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> HttpxTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class DeliveryReport:
    picked: int = 0
    sent: int = 0
    retrying: int = 0
    dead: int = 0


def webhook_body(message: OutboxMessage) -> bytes:
    """The JSON POSTed for a message: the same bytes on every retry (only the signature moves)."""
    stored: Mapping[str, Any] = message.payload or {}
    document = {
        "id": message.id,
        "event_type": message.event_type,
        "ticket_id": stored.get("ticket_id"),
        "tracking_code": stored.get("tracking_code"),
        "payload": stored.get("payload", {}),
        "created_at": message.created_at.isoformat(),
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def webhook_headers(
    message: OutboxMessage, body: bytes, *, secret: str, now: datetime
) -> dict[str, str]:
    timestamp = signature_timestamp(now)
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Minyi-Event": message.event_type,
        "X-Minyi-Delivery": str(message.id),
        "X-Minyi-Timestamp": timestamp,
        "X-Minyi-Signature": sign(secret, timestamp, body),
    }


def _due(session: Session, *, now: datetime, limit: int) -> list[OutboxMessage]:
    # SKIP LOCKED: a second worker passes over the rows the first holds instead of waiting
    # for them and sending them again. SQLite ignores it; its single writer lock already
    # keeps two workers apart.
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.channel == Channel.WEBHOOK.value,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )


def _subscriptions(
    session: Session, ids: set[int]
) -> dict[int, tuple[WebhookSubscription, MachineClient]]:
    if not ids:
        return {}
    rows = session.execute(
        select(WebhookSubscription, MachineClient)
        .join(MachineClient, MachineClient.id == WebhookSubscription.client_id)
        .where(WebhookSubscription.id.in_(sorted(ids)))
    ).all()
    return {sub.id: (sub, client) for sub, client in rows}


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]


def _post_webhook(
    message: OutboxMessage, sub: WebhookSubscription, *, transport: Transport, now: datetime
) -> str | None:
    """POST one signed webhook; None when the receiver took it, else why not."""
    body = webhook_body(message)
    headers = webhook_headers(message, body, secret=sub.secret, now=now)
    try:
        status = transport.post(message.target, body, headers)
    except Exception as exc:  # any failure of one receiver must not stop the others
        return _describe(exc)
    return None if 200 <= status < 300 else f"HTTP {status}"


class WebhookSender:
    """Webhooks behind the `channels.Sender` interface, for `deliver_channels`.

    `deliver_due` remains the batch path (it loads all subscriptions of a batch at once);
    this one loads each message's subscription, for callers that treat every channel alike.
    Any failed answer is retried (a receiver's 4xx is often a deployment in progress); a
    deactivated subscription or client gives up at once.
    """

    def __init__(self, session: Session, *, transport: Transport, now: datetime) -> None:
        self.session = session
        self.transport = transport
        self.now = now

    def send(self, message: Outgoing) -> SendResult:
        row = self.session.get(OutboxMessage, message.message_id)
        sub_id = row.subscription_id if row is not None else None
        pair = _subscriptions(self.session, {sub_id}).get(sub_id) if sub_id else None
        if row is None or pair is None or not pair[0].active or not pair[1].active:
            return SendResult(Outcome.PERMANENT, error="subscription inactive")
        error = _post_webhook(row, pair[0], transport=self.transport, now=self.now)
        if error is None:
            return SendResult(Outcome.ACCEPTED)
        return SendResult(Outcome.RETRY, error=error)


def deliver_due(
    session: Session,
    *,
    transport: Transport,
    now: datetime,
    limit: int = 100,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> DeliveryReport:
    """Send the webhooks due at `now`; the caller commits right after.

    A 2xx answer marks a message sent. Anything else, or a network error, counts an
    attempt and schedules the next one by `domain.RETRY_SCHEDULE`; after `max_attempts`
    the message is dead. A message whose subscription or client was deactivated is dead
    at once, unsent. Messages of other channels are the notification worker's.

    The picked rows stay locked until the caller's commit, so keep `limit` small enough
    that a batch of slow receivers (5 s each at worst) does not hold them for long; on
    SQLite the whole database's write lock is held as long.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    messages = _due(session, now=now, limit=limit)
    subs = _subscriptions(session, {m.subscription_id for m in messages if m.subscription_id})
    sent = retrying = dead = 0
    for message in messages:
        found = subs.get(message.subscription_id) if message.subscription_id else None
        if found is None or not found[0].active or not found[1].active:
            message.status = OutboxStatus.DEAD.value
            message.last_error = "subscription inactive"
            dead += 1
            log.info("webhook %s dropped: subscription inactive", message.id)
            continue
        sub = found[0]
        error = _post_webhook(message, sub, transport=transport, now=now)
        message.attempts += 1
        if error is None:
            message.status = OutboxStatus.SENT.value
            message.sent_at = now
            message.last_error = None
            sent += 1
            log.info("webhook %s sent to subscription %s", message.id, sub.id)
        elif message.attempts >= max_attempts:
            message.status = OutboxStatus.DEAD.value
            message.last_error = error
            dead += 1
            log.warning(
                "webhook %s dead after %s attempts to subscription %s: %s",
                message.id,
                message.attempts,
                sub.id,
                error,
            )
        else:
            message.next_attempt_at = now + next_attempt_delay(message.attempts)
            message.last_error = error
            retrying += 1
            log.info(
                "webhook %s to subscription %s failed (%s), retry at %s",
                message.id,
                sub.id,
                error,
                message.next_attempt_at.isoformat(),
            )
    session.flush()
    return DeliveryReport(picked=len(messages), sent=sent, retrying=retrying, dead=dead)


def _due_channels(
    session: Session, *, channels: list[str], now: datetime, limit: int
) -> list[OutboxMessage]:
    # Claimed like the webhooks: SKIP LOCKED keeps two workers off the same messages.
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.channel.in_(channels),
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
    )


def deliver_channels(
    session: Session,
    *,
    senders: Mapping[str, Sender],
    now: datetime,
    limit: int = 100,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> DeliveryReport:
    """Send the due messages of every channel in `senders`; the caller commits right after.

    Accepted (including a gateway's "duplicate") marks a message sent with the provider's
    id; a retryable failure schedules the next attempt by `domain.RETRY_SCHEDULE` until
    `max_attempts`; a permanent failure is dead at once. Build `senders` with
    `notify.channels.build_senders`.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    if not senders:
        return DeliveryReport()
    messages = _due_channels(session, channels=sorted(senders), now=now, limit=limit)
    sent = retrying = dead = 0
    for message in messages:
        try:
            result = senders[message.channel].send(resolve(session, message))
        except Exception as exc:  # one broken message must not stop the others
            result = SendResult(Outcome.RETRY, error=_describe(exc))
        message.attempts += 1
        if result.outcome is Outcome.ACCEPTED:
            message.status = OutboxStatus.SENT.value
            message.sent_at = now
            message.provider_id = result.provider_id
            message.last_error = None
            sent += 1
            log.info("%s message %s sent", message.channel, message.id)
        elif result.outcome is Outcome.PERMANENT or message.attempts >= max_attempts:
            message.status = OutboxStatus.DEAD.value
            message.last_error = result.error
            dead += 1
            log.warning(
                "%s message %s dead after %s attempts: %s",
                message.channel,
                message.id,
                message.attempts,
                result.error,
            )
        else:
            message.next_attempt_at = now + next_attempt_delay(message.attempts)
            message.last_error = result.error
            retrying += 1
            log.info(
                "%s message %s failed (%s), retry at %s",
                message.channel,
                message.id,
                result.error,
                message.next_attempt_at.isoformat(),
            )
    session.flush()
    return DeliveryReport(picked=len(messages), sent=sent, retrying=retrying, dead=dead)


def deliver_all_due(
    session: Session,
    *,
    transport: Transport,
    senders: Mapping[str, Sender],
    now: datetime,
    limit: int = 100,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> DeliveryReport:
    """Webhooks, then every other channel; one report summing both."""
    hooks = deliver_due(
        session, transport=transport, now=now, limit=limit, max_attempts=max_attempts
    )
    rest = deliver_channels(
        session, senders=senders, now=now, limit=limit, max_attempts=max_attempts
    )
    return DeliveryReport(
        picked=hooks.picked + rest.picked,
        sent=hooks.sent + rest.sent,
        retrying=hooks.retrying + rest.retrying,
        dead=hooks.dead + rest.dead,
    )


def deliver_once(
    session: Session,
    settings: Settings,
    *,
    now: datetime,
    limit: int = 100,
    trust_env: bool = True,
) -> DeliveryReport:
    """One pass of the notification worker over every channel, configured by `settings`.

    Call it every few seconds from a scheduler, committing after each call.
    """
    senders = build_senders(session, settings, now=now, trust_env=trust_env)
    try:
        with HttpxTransport(trust_env=trust_env) as transport:
            return deliver_all_due(
                session, transport=transport, senders=senders, now=now, limit=limit
            )
    finally:
        close_senders(senders)
