"""Staff users' in-app inbox: messages delivered by the log/inbox channel, marked read.

Rows are written by `notify.channels.LogSender` when an outbox message is sent, one per
recipient user; (outbox_id, user_id) is unique, so a resend after a crash adds nothing.
A user sees only their own rows; another user's row is "not found".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.core.errors import NotFound
from minyi.notify.models import InboxItem
from minyi.org.models import User

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def store(
    session: Session,
    *,
    outbox_id: int,
    user_ids: Sequence[int],
    event_type: str,
    ticket_id: int | None,
    subject: str,
    text: str,
    now: datetime,
) -> int:
    """Put one message into each user's inbox unless already there; returns how many rows."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return 0
    present = set(
        session.scalars(
            select(InboxItem.user_id).where(
                InboxItem.outbox_id == outbox_id, InboxItem.user_id.in_(wanted)
            )
        ).all()
    )
    for user_id in wanted:
        if user_id in present:
            continue
        session.add(
            InboxItem(
                user_id=user_id,
                outbox_id=outbox_id,
                event_type=event_type,
                ticket_id=ticket_id,
                subject=subject[:200],
                text=text,
                created_at=now,
                read_at=None,
            )
        )
    session.flush()
    return len(wanted)


def list_items(
    session: Session, *, user: User, unread_only: bool = False, limit: int = DEFAULT_LIMIT
) -> list[InboxItem]:
    """The user's messages, newest first."""
    query = select(InboxItem).where(InboxItem.user_id == user.id)
    if unread_only:
        query = query.where(InboxItem.read_at.is_(None))
    query = query.order_by(InboxItem.created_at.desc(), InboxItem.id.desc()).limit(
        max(1, min(limit, MAX_LIMIT))
    )
    return list(session.scalars(query).all())


def unread_count(session: Session, *, user: User) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(InboxItem)
            .where(InboxItem.user_id == user.id, InboxItem.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, *, user: User, item_id: int, now: datetime) -> InboxItem:
    """Idempotent: marking a read message again keeps its first read time."""
    item = session.get(InboxItem, item_id)
    if item is None or item.user_id != user.id:
        raise NotFound(
            "inbox_item_not_found",
            "找不到该消息",
            f"No inbox message {item_id} for this user",
        )
    if item.read_at is None:
        item.read_at = now
        session.flush()
    return item
