"""API shapes of the three lists."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from minyi.catalogue.domain import (
    ClosingRequirement,
    Process,
    ResponseLevel,
    StandardKind,
)


class BatchCreate(BaseModel):
    number: str = Field(min_length=1, max_length=32, examples=["2026-08"])
    reason: str = Field(min_length=1)
    effective_at: AwareDatetime


class BatchRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    author: str
    reason: str
    effective_at: datetime
    created_at: datetime
    summary: dict[str, int]


class ItemRead(BaseModel):
    id: int
    path: str
    code: str
    name: str
    display_name: str
    level: int
    parent_id: int | None
    definition: str
    keywords: list[str]
    source_anomaly: str | None


class ResponsibilityRead(BaseModel):
    rule_id: int
    batch_number: str
    item_id: int
    area_id: int
    lead_unit_id: int
    lead_section_id: int | None
    co_unit_ids: list[int]
    legal_basis: str


class ImplementationRead(BaseModel):
    rule_id: int
    process: Process
    response_level: ResponseLevel
    contact_hours: int
    completion_days: int | None
    completion_source: str
    standard_kind: StandardKind
    closing_requirements: list[ClosingRequirement]


class ResolutionRead(BaseModel):
    item_id: int
    area_id: int
    at: datetime
    batch_number: str | None
    has_owner: bool
    responsibility: ResponsibilityRead | None
    implementation: ImplementationRead | None
    message: str = Field(description="Plain Chinese summary for staff")


class ResponsibilityRuleRead(BaseModel):
    id: int
    batch_id: int
    batch_number: str
    item_id: int
    area_id: int
    lead_unit_id: int | None
    lead_section_id: int | None
    co_unit_ids: list[int]
    legal_basis: str
    removed: bool


class ImplementationRuleRead(BaseModel):
    id: int
    batch_id: int
    batch_number: str
    item_id: int
    unit_id: int | None
    process: Process
    response_level: ResponseLevel
    contact_hours: int
    completion_days: int | None
    standard_kind: StandardKind
    recommended_min_days: int | None
    recommended_max_days: int | None
    closing_requirements: list[ClosingRequirement]
    removed: bool
