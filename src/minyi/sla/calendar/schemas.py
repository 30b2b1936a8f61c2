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
