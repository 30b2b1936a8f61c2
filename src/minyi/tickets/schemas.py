"""API shapes of tickets. Requests never carry a raw status: each action is an endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class ActionRequest(BaseModel):
    """The body of `POST /api/v1/tickets/{id}/<action>`; each action reads the fields it needs."""

    reason: str | None = Field(default=None, max_length=2000)
    version: int | None = Field(
        default=None, description="The version you saw; a newer one makes this a 409"
    )
    unit_id: int | None = None
    item_id: int | None = Field(default=None, description="dispatch/rule: the catalogue item")
    co_unit_ids: list[int] = Field(default_factory=list)
    section_id: int | None = None
    district_id: int | None = None
    unit_ids: list[int] = Field(default_factory=list)
    report_hours: float | None = Field(default=None, gt=0, le=720)
    reply_hours: float | None = Field(default=None, gt=0, le=2160)
    hours: float | None = Field(default=None, gt=0, le=720)
    text: str | None = Field(default=None, max_length=5000)
    line: str | None = None
    city: str | None = Field(default=None, max_length=50)
    into_ticket_id: int | None = None
    days: int | None = None
    kind: str | None = Field(default=None, description="invalidate: duplicate/unreasonable/invalid")
    return_upheld: bool | None = Field(
        default=None,
        description="dispatch/rule after a return: whether the return was justified "
        "(default: justified when the ticket goes to another unit)",
    )

    def payload(self) -> dict[str, Any]:
        """Only what the caller sent: an explicit empty list (no co-units) differs from none."""
        return self.model_dump(exclude={"reason", "version"}, exclude_unset=True)


class RateRequest(BaseModel):
    """Four dimensions, 1–5 each (好差评), and a comment."""

    speed: int = Field(ge=1, le=5)
    result: int = Field(ge=1, le=5)
    attitude: int = Field(ge=1, le=5)
    quality: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)
    version: int | None = None


class BulkMergeRequest(BaseModel):
    parent_id: int
    child_ids: list[int] = Field(min_length=1, max_length=500)
    reason: str = Field(min_length=1, max_length=2000)


class CoUnitRead(BaseModel):
    unit_id: int
    summoned: bool
    report_due_at: datetime | None
    reply_due_at: datetime | None
    reported_at: datetime | None
    replied_at: datetime | None
    sub_reply: str | None
    excused: bool


class RequesterRead(BaseModel):
    kind: str
    name: str | None
    phone: str | None
    id_number: str | None
    company_name: str | None
    credit_code: str | None
    masked: bool


class TicketRead(BaseModel):
    id: int
    tracking_code: str
    version: int
    status: str
    status_label: str
    channel: str
    appeal_type: str
    title: str
    text: str
    address_text: str | None
    area_id: int | None
    district_id: int | None
    item_id: int | None
    urgency: str
    anonymous: bool
    requester: RequesterRead | None
    centre_unit_id: int | None
    lead_unit_id: int | None
    lead_section_id: int | None
    co_units: list[CoUnitRead]
    ruled: bool
    first_handler: bool
    returns_by_unit: dict[str, int]
    chase_count: int
    redo_count: int
    merged_into_id: int | None
    excluded_from_assessment: bool
    routing: dict[str, Any]
    reply_text: str | None
    received_at: datetime
    updated_at: datetime
    dispatch_due_at: datetime | None
    due_at: datetime | None
    dispatched_at: datetime | None
    accepted_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None
    allowed_actions: list[str]


class TicketSummary(BaseModel):
    id: int
    tracking_code: str
    status: str
    status_label: str
    channel: str
    appeal_type: str
    title: str
    area_id: int | None
    item_id: int | None
    lead_unit_id: int | None
    urgency: str
    chase_count: int
    received_at: datetime
    updated_at: datetime
    dispatch_due_at: datetime | None


class EventRead(BaseModel):
    seq: int
    at: datetime
    action: str
    action_label: str
    from_status: str | None
    to_status: str
    actor_role: str | None
    actor_unit_id: int | None
    actor_user_id: int | None
    reason: str | None
    payload: dict[str, Any]


class PublicStep(BaseModel):
    """One line of the citizen's timeline: plain words, no staff names, no internal notes."""

    at: datetime
    text: str
    status_label: str


class PublicTracking(BaseModel):
    tracking_code: str
    title: str
    status: str
    status_label: str
    received_at: datetime
    handling_unit: str | None
    reply_text: str | None
    steps: list[PublicStep]
