"""Request and response shapes for the calendar endpoints."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from minyi.sla.calendar.domain import DayKind, DurationKind


class CalendarDayCreate(BaseModel):
    day: date
    kind: DayKind
    name: str = Field(min_length=1, max_length=100)


class CalendarDayRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    day: date
    kind: DayKind
    name: str
    created_by: str
    created_at: datetime


class CalendarDayList(BaseModel):
    items: list[CalendarDayRead]
    # This year and next with neither official data nor admin entries: deadlines there
    # count weekends only (and say so) until an admin enters the year's arrangement.
    unknown_years: list[int]


class HorizonRead(BaseModel):
    """How far ahead the official holidays are known, for the admins' calendar page."""

    today: date  # the local date the answer is for
    # Working-day deadlines are right up to 31 December of this year.
    covered_until: int
    # This year and next with neither official data nor admin entries.
    missing_years: list[int]
    # Admins are being reminded (this year missing, or next year missing from 1 October).
    remind: bool
    message: str
    message_en: str


class CalendarWarning(BaseModel):
    code: str
    message: str
    message_en: str


class DeadlineRead(BaseModel):
    start: datetime
    kind: DurationKind
    amount: float
    due_at: datetime
    warnings: list[CalendarWarning]
