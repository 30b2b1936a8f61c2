"""Tables of the three lists. Rows are only ever added: a batch never changes after it is made.

A rule's identity is its key ((item, area) for responsibility, (item, unit) for
implementation, (item, unit, district) for a district's chosen value). A later batch
supersedes a key by adding a row with the same key; `removed` rows withdraw a key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from minyi.core.db import Base, UTCDateTime


class Batch(Base):
    """调整批次: one numbered, authored, reasoned change to the lists, in force from a time."""

    __tablename__ = "catalogue_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    author: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Counts of what the batch holds, kept for the batch list page.
    summary: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)


class Item(Base):
    """A node of the catalogue (目录清单), identified by its full code path."""

    __tablename__ = "catalogue_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer, index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("catalogue_item.id"), index=True)
    definition: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    source_node_id: Mapped[str | None] = mapped_column(String(64))
    source_anomaly: Mapped[str | None] = mapped_column(String(64))
    introduced_batch_id: Mapped[int] = mapped_column(ForeignKey("catalogue_batch.id"))

    parent: Mapped[Item | None] = relationship(remote_side="Item.id")
    introduced_batch: Mapped[Batch] = relationship()


class ResponsibilityRule(Base):
    """职责清单: (item, area scope) → lead unit, co-units, legal basis."""

    __tablename__ = "catalogue_responsibility_rule"
    __table_args__ = (Index("ix_resp_key", "item_id", "area_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("catalogue_batch.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item.id"))
    area_id: Mapped[int] = mapped_column(ForeignKey("org_area.id"))
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    lead_section_id: Mapped[int | None] = mapped_column(ForeignKey("org_section.id"))
    co_unit_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    removed: Mapped[bool] = mapped_column(Boolean, default=False)

    batch: Mapped[Batch] = relationship()


class ImplementationRule(Base):
    """实施清单: (item, unit) → process, response level, deadlines, standard, closing needs."""

    __tablename__ = "catalogue_implementation_rule"
    __table_args__ = (Index("ix_impl_key", "item_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("catalogue_batch.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    process: Mapped[str] = mapped_column(String(16), default="standard")
    response_level: Mapped[str] = mapped_column(String(8), default="15d")
    contact_hours: Mapped[int] = mapped_column(Integer, default=24)
    completion_days: Mapped[int | None] = mapped_column(Integer)
    standard_kind: Mapped[str] = mapped_column(String(16), default="mandatory")
    recommended_min_days: Mapped[int | None] = mapped_column(Integer)
    recommended_max_days: Mapped[int | None] = mapped_column(Integer)
    closing_requirements: Mapped[list[str]] = mapped_column(JSON, default=list)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)

    batch: Mapped[Batch] = relationship()


class DistrictChoice(Base):
    """A district's chosen value inside a recommended range (推荐性标准的区级取值)."""

    __tablename__ = "catalogue_district_choice"
    __table_args__ = (Index("ix_choice_key", "item_id", "unit_id", "district_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("catalogue_batch.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("catalogue_item.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    district_id: Mapped[int] = mapped_column(ForeignKey("org_area.id"))
    completion_days: Mapped[int] = mapped_column(Integer)

    batch: Mapped[Batch] = relationship()
