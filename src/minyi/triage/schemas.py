"""API shapes of triage: a ticket's decision with its reasons, and the preview an intake
form asks for while the appeal is being typed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class RelatedRead(BaseModel):
    ticket_id: int
    tracking_code: str
    kind: str  # repeat | duplicate
    similarity: float
    is_open: bool
    reason: str


class TriageRead(BaseModel):
    ticket_id: int
    created_at: datetime
    outcome: str
    outcome_zh: str
    auto_dispatched: bool
    model_version: str | None
    label: str | None
    label_confidence: float | None
    item_id: int | None
    item_path: str | None
    item_confidence: float | None
    area_id: int | None
    urgency: str
    emergency_lines: list[str]
    lead_unit_id: int | None
    co_unit_ids: list[int]
    batch_number: str | None
    reasons: list[str]
    # The whole explanation: top features, item candidates with matched words, the places
    # matched, urgency rules, list rule ids, thresholds.
    explanation: dict[str, Any]
    elapsed_ms: float | None
    # Related tickets as of now (the index keeps growing after intake): merge candidates.
    related_now: list[RelatedRead]


class PreviewRequest(BaseModel):
    title: str = Field(default="", max_length=200)
    text: str = Field(min_length=1, max_length=20000)
    address_text: str | None = Field(default=None, max_length=500)
    area_id: int | None = None
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)


class PreviewRead(BaseModel):
    urgency: str
    emergency_lines: list[str]
    emergency_advice: str | None
    # Staff only (an agent's screen): the machine's suggestion; empty for the public.
    label: str | None = None
    label_confidence: float | None = None
    items: list[dict[str, Any]] = Field(default_factory=list)
    area_id: int | None = None
    location: dict[str, Any] | None = None
    lead_unit_id: int | None = None
    lead_unit_name: str | None = None
    related: list[RelatedRead] = Field(default_factory=list)
