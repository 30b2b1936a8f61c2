"""Admin-entered calendar days, and the stamp that tells every process they changed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class CalendarDay(Base):
    """One date an admin entered: an official holiday, a make-up working day (for a year
    the `chinese_calendar` package does not know yet, or a correction) or a local closure."""

    __tablename__ = "sla_calendar_day"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One entry per date: two entries for one date could only contradict each other.
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # holiday / workday / closure
    name: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CalendarStamp(Base):
    """A single row whose token changes with every change to the days.

    A random token rather than a counter: a rolled-back change must never leave a cached
    calendar under a stamp that a later, different change reuses.
    """

    __tablename__ = "sla_calendar_stamp"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
