"""Shapes of the knowledge base over the API, separate from the tables."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, model_validator

from minyi.triage.knowledge.domain import EntryStatus, NoticeKind

Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=300)]


class _Window(BaseModel):
    @model_validator(mode="after")
    def _ordered(self) -> Self:
        start = getattr(self, "valid_from", None) or getattr(self, "starts_at", None)
        end = getattr(self, "valid_to", None) or getattr(self, "ends_at", None)
        if start is not None and end is not None and end <= start:
            raise ValueError("the end of the window must come after its start")
        return self


class EntryCreate(_Window):
    questions: list[Question] = Field(min_length=1, max_length=50)
    answer: str = Field(min_length=2, max_length=20000)
    source_title: str = Field(min_length=2, max_length=300)
    source_url: str | None = Field(default=None, max_length=500)
    owner_unit_id: int | None = None
    area_id: int | None = Field(default=None, description="None: the whole city")
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None


class EntryUpdate(_Window):
    """Every field optional; changing an approved entry sends it back to draft."""

    questions: list[Question] | None = Field(default=None, min_length=1, max_length=50)
    answer: str | None = Field(default=None, min_length=2, max_length=20000)
    source_title: str | None = Field(default=None, min_length=2, max_length=300)
    source_url: str | None = Field(default=None, max_length=500)
    owner_unit_id: int | None = None
    area_id: int | None = None
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None


class EntryRead(BaseModel):
    id: int
    status: EntryStatus
    status_label: str
    questions: list[str]
    answer: str
    source_title: str
    source_url: str | None
    owner_unit_id: int | None
    area_id: int | None
    valid_from: AwareDatetime | None
    valid_to: AwareDatetime | None
    privacy_flags: list[str]
    privacy_labels: list[str]
    origin: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    approved_by_id: int | None
    approved_at: AwareDatetime | None
    retired_at: AwareDatetime | None


class NoticeCreate(_Window):
    kind: NoticeKind
    area_id: int | None = Field(default=None, description="None: the whole city")
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    text: str = Field(min_length=2, max_length=5000)
    source_title: str = Field(min_length=2, max_length=300)
    owner_unit_id: int | None = None


class NoticeUpdate(_Window):
    area_id: int | None = None
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    text: str | None = Field(default=None, min_length=2, max_length=5000)
    source_title: str | None = Field(default=None, min_length=2, max_length=300)


class NoticeRead(BaseModel):
    id: int
    kind: NoticeKind
    kind_label: str
    area_id: int | None
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    text: str
    source_title: str
    owner_unit_id: int | None
    created_at: AwareDatetime
    retired_at: AwareDatetime | None


class SearchHitRead(BaseModel):
    entry_id: int
    question: str = Field(description="The question variant that matched best")
    answer: str
    source: str
    score: float


class InstantAnswerRead(BaseModel):
    kind: str = Field(description="entry | notice")
    entry_id: int | None
    notice_id: int | None
    answer: str
    source: str
    score: float
    outcome: str
