"""Timezone-aware time from an injectable clock, so deadline tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, replays)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = when


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; everything we store is UTC, so say so."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_clock: Clock = SystemClock()


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> None:
    global _clock
    _clock = clock


def local_text(at: datetime) -> str:
    """A time as people read it in messages and notes: local wall time ("11月24日 09:30")."""
    from minyi.core.config import get_settings

    return at.astimezone(ZoneInfo(get_settings().timezone)).strftime("%m月%d日 %H:%M")
