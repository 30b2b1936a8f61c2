"""Notification channels behind one interface: `Sender.send(outgoing) -> SendResult`.

Channels:
    sms, wechat  an HTTP gateway (the operator's SMS platform, the WeChat template-message
                 relay); `GatewaySender`
    email        SMTP with the standard library; `SmtpSender`
    log, inbox   a line in a file and the recipient staff users' in-app inbox; `LogSender`.
                 The default: a channel whose gateway or server is not configured sends here.
    webhook      signed POSTs to machine clients: `notify.delivery.WebhookSender`, or in
                 batches by `notify.delivery.deliver_due`.

The gateway contract (also in docs/notify-gateway.md). Minyi POSTs to the configured URL
(`MINYI_SMS_GATEWAY_URL`, `MINYI_WECHAT_GATEWAY_URL`) with
`Authorization: Bearer <MINYI_*_GATEWAY_TOKEN>`, `Idempotency-Key: <message_id>` and the body

    {"message_id": 12, "channel": "sms", "to": "13812345678",
     "template": "citizen.dispatched", "params": {"tracking_code": "...", "unit": "..."},
     "text": "【民意】您的诉求（查询码 ...）已转交住建局办理，请留意来电。"}

`to` is the mobile number (for WeChat the gateway finds the citizen's openid by it).
`message_id` is the same on every retry: the gateway must send a message id once only.
Answers:
    2xx {"accepted": true, "provider_id": "..."}   sent
    409 (the message id was already accepted)       sent, never resent
    429, 5xx, a timeout, a refused connection       retried by the outbox schedule
    any other 4xx, or 2xx with accepted false       failed for good (dead), not retried
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.core.config import Settings
from minyi.intake.models import Requester
from minyi.notify import inbox
from minyi.notify.domain import Channel
from minyi.notify.models import OutboxMessage
from minyi.org.models import Unit, User
from minyi.tickets.models import Ticket

GATEWAY_TIMEOUT_SECONDS = 5.0
SMTP_TIMEOUT_SECONDS = 10.0
MAX_ERROR_LENGTH = 500


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    RETRY = "retry"  # a failure that may pass: try again later
    PERMANENT = "permanent"  # will never succeed: give up now


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    provider_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """An outbox message ready to send, its recipient resolved at send time."""

    message_id: int
    channel: str
    event_type: str
    target: str  # the reference kept in the outbox (never a number)
    to: str | None  # the address for this channel: a mobile number, an e-mail address
    user_ids: tuple[int, ...]  # staff users whose inbox receives it
    ticket_id: int | None
    template: str | None
    params: Mapping[str, str]
    subject: str
    text: str


class Sender(Protocol):
    def send(self, message: Outgoing) -> SendResult: ...


def _error(text: str) -> str:
    return text[:MAX_ERROR_LENGTH]


# --- recipients -----------------------------------------------------------------------


def _requester(session: Session, ticket_id: int) -> Requester | None:
    # The citizen's contact is read at send time, never copied into the outbox.
    return session.scalars(
        select(Requester)
        .join(Ticket, Ticket.requester_id == Requester.id)
        .where(Ticket.id == ticket_id)
    ).first()


def _unit_users(session: Session, unit_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.unit_id == unit_id, User.active.is_(True)).order_by(User.id)
        ).all()
    )


def resolve(session: Session, message: OutboxMessage) -> Outgoing:
    """Who `message` goes to: its address on its channel and the inboxes it lands in.

    Targets: `unit:<id>` (the unit's duty phone; its active users' inboxes), `user:<id>`,
    `ticket:<id>:requester` (the requester's mobile; no inbox) and `mailto:<address>`.
    """
    payload: Mapping[str, Any] = message.payload or {}
    target = message.target
    to: str | None = None
    users: list[User] = []
    kind, _, rest = target.partition(":")
    if kind == "unit" and rest.isdigit():
        users = _unit_users(session, int(rest))
        # A unit is texted on its duty phone, not on whichever member's comes first.
        unit = session.get(Unit, int(rest))
        to = unit.phone if unit is not None else None
    elif kind == "user" and rest.isdigit():
        user = session.get(User, int(rest))
        users = [user] if user is not None and user.active else []
        to = user.phone if user is not None else None
    elif kind == "ticket" and rest.endswith(":requester"):
        # A citizen has no in-app inbox (that is the staff's); only the number is needed.
        requester = _requester(session, int(rest.split(":")[0]))
        to = requester.phone if requester is not None else None
    elif kind == "mailto":
        to = rest
    ticket_id = payload.get("ticket_id")
    return Outgoing(
        message_id=message.id,
        channel=message.channel,
        event_type=message.event_type,
        target=target,
        to=to,
        user_ids=tuple(u.id for u in users),
        ticket_id=int(ticket_id) if isinstance(ticket_id, int) else None,
        template=payload.get("template"),
        params=dict(payload.get("params") or {}),
        subject=str(payload.get("subject") or "民意通知"),
        text=str(payload.get("text") or ""),
    )


# --- the HTTP gateway (SMS, WeChat) ---------------------------------------------------


class GatewaySender:
    """One channel's HTTP gateway. Pass `client` to reuse an httpx.Client."""

    def __init__(
        self,
        channel: Channel,
        url: str,
        token: str | None,
        *,
        timeout: float = GATEWAY_TIMEOUT_SECONDS,
        client: httpx.Client | None = None,
        trust_env: bool = True,
    ) -> None:
        self.channel = channel
        self.url = url
        self.token = token
        self._owned = client is None
        self._client = client or httpx.Client(
            timeout=timeout, follow_redirects=False, trust_env=trust_env
        )

    def send(self, message: Outgoing) -> SendResult:
        if not message.to:
            return SendResult(Outcome.PERMANENT, error="recipient has no mobile number")
        body = {
            "message_id": message.message_id,
            "channel": self.channel.value,
            "to": message.to,
            "template": message.template,
            "params": dict(message.params),
            "text": message.text,
        }
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": str(message.message_id),
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self._client.post(
                self.url,
                content=json.dumps(body, ensure_ascii=False).encode(),
                headers=headers,
            )
        except httpx.HTTPError as exc:  # timeouts, refused connections: the gateway may recover
            return SendResult(Outcome.RETRY, error=_error(f"{type(exc).__name__}: {exc}"))
        return _gateway_answer(response)

    def close(self) -> None:
        if self._owned:
            self._client.close()

    def __enter__(self) -> GatewaySender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _provider_id(response: httpx.Response) -> tuple[bool | None, str | None]:
    try:
        data = response.json()
    except ValueError:
        return None, None
    if not isinstance(data, dict):
        return None, None
    accepted = data.get("accepted")
    provider = data.get("provider_id")
    return (
        accepted if isinstance(accepted, bool) else None,
        str(provider)[:100] if provider is not None else None,
    )


def _gateway_answer(response: httpx.Response) -> SendResult:
    status = response.status_code
    # Only the status and our two fields are read: the gateway's text may echo the number.
    if 200 <= status < 300:
        accepted, provider = _provider_id(response)
        if accepted is False:
            return SendResult(Outcome.PERMANENT, error=f"HTTP {status}: not accepted")
        return SendResult(Outcome.ACCEPTED, provider_id=provider)
    if status == 409:
        # The gateway already has this message id: it was sent by an earlier attempt whose
        # answer we lost. Sending it again would text the citizen twice.
        _, provider = _provider_id(response)
        return SendResult(Outcome.ACCEPTED, provider_id=provider, error="duplicate")
    if status == 429 or status >= 500:
        return SendResult(Outcome.RETRY, error=f"HTTP {status}")
    return SendResult(Outcome.PERMANENT, error=f"HTTP {status}")


# --- e-mail ---------------------------------------------------------------------------


class SmtpSender:
    """Plain SMTP to the configured relay; one connection per message (a few an hour)."""

    def __init__(
        self, host: str, port: int, sender: str, *, timeout: float = SMTP_TIMEOUT_SECONDS
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout

    def send(self, message: Outgoing) -> SendResult:
        if not message.to:
            return SendResult(Outcome.PERMANENT, error="no e-mail address")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        # The same id on every retry lets a mail system drop a copy we sent twice.
        message_id = f"<minyi-outbox-{message.message_id}@minyi>"
        mail["Message-ID"] = message_id
        mail.set_content(message.text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            outcome = Outcome.PERMANENT if all(c >= 500 for c in codes) else Outcome.RETRY
            return SendResult(outcome, error=f"recipient refused: {codes}")
        except smtplib.SMTPResponseException as exc:
            outcome = Outcome.PERMANENT if exc.smtp_code >= 500 else Outcome.RETRY
            return SendResult(outcome, error=f"SMTP {exc.smtp_code}")
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(Outcome.RETRY, error=_error(f"{type(exc).__name__}: {exc}"))
        return SendResult(Outcome.ACCEPTED, provider_id=message_id)


# --- log and inbox --------------------------------------------------------------------


@dataclass
class LogSender:
    """Appends a line to `path` and puts the message into its recipients' inboxes.

    The line names the message, never its recipient's number or the text: the log is read
    by operators who need to know that a message went, not what it said to whom.
    """

    session: Session
    path: Path
    now: datetime
    lines: int = field(default=0)

    def send(self, message: Outgoing) -> SendResult:
        target = "email" if message.target.startswith("mailto:") else message.target
        stored = inbox.store(
            self.session,
            outbox_id=message.message_id,
            user_ids=message.user_ids,
            event_type=message.event_type,
            ticket_id=message.ticket_id,
            subject=message.subject,
            text=message.text,
            now=self.now,
        )
        line = "\t".join(
            (
                self.now.isoformat(),
                f"message={message.message_id}",
                f"channel={message.channel}",
                f"event={message.event_type}",
                f"target={target}",
                f"template={message.template or '-'}",
                f"inbox={stored}",
            )
        )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            return SendResult(Outcome.RETRY, error=_error(f"log file: {exc}"))
        self.lines += 1
        return SendResult(Outcome.ACCEPTED, provider_id=f"log:{message.message_id}")


def build_senders(
    session: Session, settings: Settings, *, now: datetime, trust_env: bool = True
) -> dict[str, Sender]:
    """The sender of every non-webhook channel by the settings; unset ones fall back to log.

    Close the returned gateway senders (`close_senders`) when done.
    """
    log_sender = LogSender(session=session, path=settings.notify_log_path, now=now)
    senders: dict[str, Sender] = {
        Channel.LOG.value: log_sender,
        Channel.INBOX.value: log_sender,
        Channel.SMS.value: log_sender,
        Channel.WECHAT.value: log_sender,
        Channel.EMAIL.value: log_sender,
    }
    if settings.sms_gateway_url:
        senders[Channel.SMS.value] = GatewaySender(
            Channel.SMS, settings.sms_gateway_url, settings.sms_gateway_token, trust_env=trust_env
        )
    if settings.wechat_gateway_url:
        senders[Channel.WECHAT.value] = GatewaySender(
            Channel.WECHAT,
            settings.wechat_gateway_url,
            settings.wechat_gateway_token,
            trust_env=trust_env,
        )
    if settings.smtp_host:
        senders[Channel.EMAIL.value] = SmtpSender(
            settings.smtp_host, settings.smtp_port, settings.smtp_from
        )
    return senders


def close_senders(senders: Mapping[str, Sender]) -> None:
    for sender in senders.values():
        if isinstance(sender, GatewaySender):
            sender.close()
