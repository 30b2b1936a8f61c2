"""API shapes of a ticket's clocks, cards and charged time."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ClockRead(BaseModel):
    id: int
    kind: str
    label_zh: str
    unit_id: int | None
    unit_name: str | None
    time_base: str  # natural | unit_calendar
    span_kind: str
    span_amount: float
    started_at: datetime
    due_at: datetime
    warn_at: datetime | None
    state: str
    state_zh: str
    escalation_level: int
    paused: bool
    seconds_left: float | None
    time_left_zh: str


class CardRead(BaseModel):
    id: int
    unit_id: int
    color: str
    deadline_kind: str
    due_at: datetime
    issued_at: datetime
    escalated_to: str
    reason: str


class ChargeRead(BaseModel):
    unit_id: int | None
    reason: str
    seconds: float
    started_at: datetime
    ended_at: datetime


class TicketDeadlinesRead(BaseModel):
    ticket_id: int
    now: datetime
    due_at: datetime | None
    clocks: list[ClockRead]
    cards: list[CardRead]
    charges: list[ChargeRead]
