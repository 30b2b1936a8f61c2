"""The business calendar as the database knows it: admin-entered days, cached per process.

`get_calendar` costs one primary-key read of the stamp row while nothing changes; every
add or delete writes a fresh stamp, so each process rebuilds its calendar on next use.

`chinese_calendar` knows the official holidays only up to the year it was released for;
`horizon` says which of this year and next nobody has entered yet, and `remind_admins`
(the worker, once a day) puts that in every admin's inbox when it matters.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import extract, select, update
from sqlalchemy.orm import Session

from minyi.audit import service as audit
from minyi.core.clock import Clock, aware, get_clock
from minyi.core.errors import Conflict, NotFound, ValidationFailed
from minyi.notify import service as notify
from minyi.notify.domain import Channel
from minyi.notify.models import OutboxMessage
from minyi.org.domain import Role
from minyi.org.models import User
from minyi.sla.calendar import domain
from minyi.sla.calendar.domain import (
    BusinessCalendar,
    DayKind,
    DayOverride,
    DayOverrides,
    Horizon,
    default_calendar,
)
from minyi.sla.calendar.models import CalendarDay, CalendarStamp

REMINDER_EVENT = "calendar.year_missing"
REMINDER_TEMPLATE = "admin.calendar_missing"

_lock = threading.Lock()
_cache: dict[str, BusinessCalendar] = {}


def _stamp(session: Session) -> str:
    token = session.scalar(select(CalendarStamp.token).where(CalendarStamp.id == 1))
    return token if token is not None else ""


def _touch(session: Session) -> None:
    token = uuid.uuid4().hex
    changed = session.execute(
        update(CalendarStamp).where(CalendarStamp.id == 1).values(token=token)
    )
    if getattr(changed, "rowcount", 1) == 0:  # a hand-made database without the row
        session.add(CalendarStamp(id=1, token=token))
    session.flush()


def get_calendar(session: Session) -> BusinessCalendar:
    """The default working calendar with every admin-entered day."""
    token = _stamp(session)
    with _lock:
        cached = _cache.get(token)
    if cached is not None:
        return cached
    rows = session.scalars(select(CalendarDay)).all()
    calendar = default_calendar(
        DayOverrides(DayOverride(day=r.day, kind=DayKind(r.kind), name=r.name) for r in rows)
    )
    with _lock:
        # Only the newest calendar is worth keeping.
        _cache.clear()
        _cache[token] = calendar
    return calendar


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def list_days(session: Session, *, year: int | None = None) -> list[CalendarDay]:
    query = select(CalendarDay).order_by(CalendarDay.day)
    if year is not None:
        query = query.where(extract("year", CalendarDay.day) == year)
    return list(session.scalars(query))


def add_day(
    session: Session,
    *,
    day: date,
    kind: DayKind | str,
    name: str,
    actor: str,
    clock: Clock | None = None,
) -> CalendarDay:
    try:
        day_kind = DayKind(kind)
    except ValueError:
        raise ValidationFailed(
            "calendar_kind_unknown",
            "日期类型只能是 holiday（放假）、workday（调休上班）或 closure（本地停工）",
            f"Unknown day kind {kind!r}: use holiday, workday or closure",
        ) from None
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed(
            "calendar_name_invalid",
            "请填写名称（不超过100字）",
            "A name of 1 to 100 characters is required",
        )
    if session.scalar(select(CalendarDay.id).where(CalendarDay.day == day)) is not None:
        raise Conflict(
            "calendar_day_taken",
            "该日期已有设置，请先删除原设置",
            f"{day.isoformat()} already has an entry: delete it first",
        )
    now = (clock or get_clock()).now()
    row = CalendarDay(day=day, kind=day_kind.value, name=name, created_by=actor, created_at=now)
    session.add(row)
    session.flush()
    _touch(session)
    audit.record(
        session,
        actor=actor,
        action="sla.calendar.day.add",
        object_type="calendar_day",
        object_id=row.id,
        data={"day": day.isoformat(), "kind": day_kind.value, "name": name},
        clock=clock,
    )
    return row


def delete_day(session: Session, *, day_id: int, actor: str, clock: Clock | None = None) -> None:
    row = session.get(CalendarDay, day_id)
    if row is None:
        raise NotFound("calendar_day_not_found", "找不到该日期设置", f"No calendar day {day_id}")
    data = {"day": row.day.isoformat(), "kind": row.kind, "name": row.name}
    session.delete(row)
    session.flush()
    _touch(session)
    audit.record(
        session,
        actor=actor,
        action="sla.calendar.day.delete",
        object_type="calendar_day",
        object_id=day_id,
        data=data,
        clock=clock,
    )


# --- the horizon ------------------------------------------------------------------------


def horizon(session: Session, today: date) -> Horizon:
    """Which years the calendar knows, seen from `today` (a local date)."""
    return domain.horizon(get_calendar(session), today)


def remind_admins(session: Session, *, now: datetime) -> int:
    """Queue one inbox message per active admin when a year's holidays are missing and the
    reminder is due (see `Horizon.remind`); returns how many were queued.

    At most one per admin per local day, however often it is called: an admin who already
    has today's message in the outbox is skipped, so a restarted worker sends nothing twice
    and an admin created during the day still hears of it.
    """
    calendar = get_calendar(session)
    local = aware(now).astimezone(calendar.tz)
    seen = domain.horizon(calendar, local.date())
    if not seen.remind:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        # Two workers reminding at once would each find no message yet: the stamp row
        # lets one finish first (SQLite has one writer anyway).
        session.execute(select(CalendarStamp.id).where(CalendarStamp.id == 1).with_for_update())
    day_start = datetime.combine(local.date(), time(0), tzinfo=calendar.tz)
    day_end = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=calendar.tz)
    reminded = set(
        session.scalars(
            select(OutboxMessage.target).where(
                OutboxMessage.event_type == REMINDER_EVENT,
                OutboxMessage.created_at >= day_start.astimezone(UTC),
                OutboxMessage.created_at < day_end.astimezone(UTC),
            )
        ).all()
    )
    # org has no service call listing users by role; the admins are few.
    admin_ids = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN.value, User.active.is_(True))
        .order_by(User.id)
    ).all()
    queued = 0
    for user_id in admin_ids:
        target = notify.user_target(user_id)
        if target in reminded:
            continue
        notify.notify_template(
            session,
            channel=Channel.INBOX,
            target=target,
            code=REMINDER_TEMPLATE,
            params={"years": domain.years_zh(seen.missing_years)},
            event_type=REMINDER_EVENT,
            ticket_id=None,
            now=now,
        )
        queued += 1
    return queued
