"""Pure rules of notification: channels, the retry schedule, payload hygiene, signatures.

Webhooks are signed the way Stripe and GitHub sign theirs: an HMAC-SHA256, keyed with the
subscription's secret, over "<timestamp>.<body>". Signing the timestamp with the body lets a
receiver refuse an old delivery replayed by whoever captured it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit


class Channel(StrEnum):
    WEBHOOK = "webhook"  # a machine client's own system, delivered here (notify.delivery)
    INBOX = "inbox"  # a unit's inbox in the web app
    SMS = "sms"
    WECHAT = "wechat"
    EMAIL = "email"
    LOG = "log"


# A citizen hears from us by SMS or WeChat (the mini-program's subscription messages).
REQUESTER_CHANNELS = frozenset({Channel.SMS, Channel.WECHAT})


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # given up: retries exhausted or the subscription is gone


# Waits after the 1st, 2nd, ... failed attempt. Short at first (a receiver restarting),
# then long enough to outlast a night's maintenance window; the last wait repeats.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=24),
)
# With the schedule above, 8 attempts span about 44 hours: a receiver down over a weekend
# day still gets its messages, and a dead one stops costing us after two days.
DEFAULT_MAX_ATTEMPTS = 8

SIGNATURE_PREFIX = "sha256="
# A receiver should refuse a delivery signed longer ago than this (a replay).
DEFAULT_SIGNATURE_TOLERANCE = timedelta(minutes=5)

# Keys that hold personal data and so must never leave in a payload; matched in any case
# and at any depth. A last line of defence: publishers must not put them there at all.
PERSONAL_KEYS = frozenset(
    {"phone", "phone_number", "mobile", "id_number", "id_card", "id_card_number"}
)

# Event types name ticket actions ("dispatch", "chase") or the like ("ticket.created").
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}$")
MAX_EVENT_TYPES = 50
MAX_URL_LENGTH = 500  # the width of notify_webhook.url


def next_attempt_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failure (counting from 1)."""
    if attempts < 1:
        raise ValueError("attempts counts from 1")
    return RETRY_SCHEDULE[min(attempts, len(RETRY_SCHEDULE)) - 1]


def strip_personal(value: Any) -> Any:
    """A copy of `value` without PERSONAL_KEYS anywhere inside it.

    Machine clients are other units' systems: the law on personal information lets us
    give them what the case needs, and a phone number is never needed in an event.
    """
    if isinstance(value, Mapping):
        return {
            str(k): strip_personal(v)
            for k, v in value.items()
            if str(k).lower() not in PERSONAL_KEYS
        }
    if isinstance(value, list | tuple):
        return [strip_personal(v) for v in value]
    return value


def subscribes_to(event_types: list[str], event_type: str) -> bool:
    """An empty list means every event."""
    return not event_types or event_type in event_types


def webhook_url_problem(url: str) -> str | None:
    """Why `url` cannot receive webhooks (in English), or None if it can."""
    if len(url) > MAX_URL_LENGTH:
        return f"the URL is longer than {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the URL cannot be parsed"
    if parts.scheme not in ("http", "https"):
        return "the URL must start with http:// or https://"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username or parts.password:
        # Credentials in a URL end up in logs; the signature already proves who is calling.
        return "the URL must not contain a user name or password"
    if any(ch.isspace() for ch in url):
        return "the URL contains spaces"
    return None


def signature_timestamp(at: datetime) -> str:
    """Unix seconds, as receivers in any language can read them."""
    return str(int(at.timestamp()))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The value of the X-Minyi-Signature header."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_SIGNATURE_TOLERANCE,
) -> bool:
    """For receivers: does `header` sign `body` at `timestamp` with `secret`?

    The comparison takes constant time, so an attacker cannot guess a signature byte by
    byte from response times. Pass `now` to also refuse deliveries signed more than
    `tolerance` away from it (replays).
    """
    if now is not None:
        try:
            signed_at = int(timestamp)
        except ValueError:
            return False
        if abs(now.timestamp() - signed_at) > tolerance.total_seconds():
            return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode())


# --- masking for message texts ---------------------------------------------------------

# Mainland mobile numbers (11 digits from 1) and resident ID numbers (17 digits + check).
_ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1\d{2})\d{4}(\d{4})(?!\d)")


def mask_phone(phone: str) -> str:
    """138****5678: enough for a citizen to recognise the number, useless to anyone else."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    """张** : the family name is how a handler greets the citizen; the rest is not needed."""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""


def mask_text(text: str) -> str:
    """Free text (a summary, a reply) with ID numbers removed and mobile numbers masked.

    ID numbers go first: their digits would otherwise look like a phone number inside.
    """
    text = _ID_NUMBER.sub("[证件号已隐去]", text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
