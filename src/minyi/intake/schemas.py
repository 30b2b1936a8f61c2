"""Shapes of the intake API. Field checks beyond types and lengths (phone, ID number,
credit code, coordinates, area, files) are the service's, so that every problem of an
appeal comes back in one answer."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from minyi.intake.domain import AppealType, Channel, RequesterKind


class RequesterIn(BaseModel):
    """A person (name, phone, optional ID number) or a company (its name, unified social
    credit code and a contact: `name` and `phone` are then the contact's)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: RequesterKind = RequesterKind.PERSON
    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    id_number: str | None = Field(default=None, max_length=32)
    company_name: str | None = Field(default=None, max_length=200)
    credit_code: str | None = Field(default=None, max_length=32)


class AppealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    channel: Channel
    appeal_type: AppealType = Field(alias="type")
    title: str | None = Field(default=None, max_length=200)
    text: str = Field(min_length=1, max_length=10_000)
    address_text: str | None = Field(default=None, max_length=500)
    lon: float | None = None
    lat: float | None = None
    area_id: int | None = None
    area_code: str | None = Field(default=None, max_length=64)
    requester: RequesterIn | None = None
    # The handling unit then sees no identity; the hotline still can, to call back.
    anonymous: bool = False


class InstantAnswerRead(BaseModel):
    answer: str
    source: str


class AppealAccepted(BaseModel):
    ticket_id: int
    tracking_code: str
    status: str
    # False when this was a repeat of an appeal already taken (same key, or same content
    # within ten minutes): the answer then names the ticket created the first time.
    created: bool
    received_at: datetime
    # What the machine made of it, for the agent's screen and the citizen's confirmation.
    urgency: str = "ordinary"
    # An emergency (fire, gas leak, crime in progress, someone hurt or trapped): call these
    # lines now (119, 110, 120, 122, gas), in this order; `emergency_advice` says so.
    emergency_lines: list[str] = Field(default_factory=list)
    emergency_advice: str | None = None
    # auto_dispatch | queue | emergency | knowledge | duplicate (None: not triaged)
    triage_outcome: str | None = None
    # A consultation the knowledge base answers at once (秒答): accept or ask for a person.
    instant_answer: InstantAnswerRead | None = None


class Choice(BaseModel):
    code: str
    label: str


class ChannelChoice(Choice):
    access: str  # public / staff / machine
