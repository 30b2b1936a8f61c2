"""Read endpoints for the three lists; admin endpoint to open a batch."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel

from minyi.catalogue import service
from minyi.catalogue.crosswalk import load_crosswalk, to_item_path
from minyi.catalogue.domain import ClosingRequirement, Process, ResponseLevel, StandardKind
from minyi.catalogue.models import Item
from minyi.catalogue.schemas import (
    BatchCreate,
    BatchRead,
    ImplementationRead,
    ImplementationRuleRead,
    ItemRead,
    ResolutionRead,
    ResponsibilityRead,
    ResponsibilityRuleRead,
)
from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import NotFound
from minyi.core.pagination import LimitParam, OffsetParam, Page
from minyi.org.auth import AdminUser

router = APIRouter(prefix="/catalogue", tags=["catalogue"])


def item_read(item: Item) -> ItemRead:
    return ItemRead(
        id=item.id,
        path=item.path,
        code=item.code,
        name=item.name,
        display_name=service.display_name(item),
        level=item.level,
        parent_id=item.parent_id,
        definition=item.definition,
        keywords=list(item.keywords or []),
        source_anomaly=item.source_anomaly,
    )


@router.get("/items", response_model=Page[ItemRead])
def list_items(
    session: SessionDep,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
    level: int | None = Query(default=None, ge=1, le=8),
    parent_id: int | None = None,
    code: str | None = None,
    q: str | None = None,
) -> Page[ItemRead]:
    rows, total = service.list_items(
        session, level=level, parent_id=parent_id, code=code, q=q, offset=offset, limit=limit
    )
    return Page(items=[item_read(i) for i in rows], total=total, offset=offset, limit=limit)


@router.get("/items/{item_id}", response_model=ItemRead)
def get_item(item_id: int, session: SessionDep) -> ItemRead:
    item = service.get_item(session, item_id)
    if item is None:
        raise NotFound("item_not_found", "找不到该事项", f"No catalogue item {item_id}")
    return item_read(item)


@router.get("/batches", response_model=Page[BatchRead])
def list_batches(
    session: SessionDep, offset: OffsetParam = 0, limit: LimitParam = 50
) -> Page[BatchRead]:
    rows, total = service.list_batches(session, offset=offset, limit=limit)
    return Page(
        items=[BatchRead.model_validate(b) for b in rows], total=total, offset=offset, limit=limit
    )


@router.post("/batches", response_model=BatchRead, status_code=201)
def create_batch(
    body: BatchCreate, session: SessionDep, clock: ClockDep, admin: AdminUser
) -> BatchRead:
    batch = service.create_batch(
        session,
        number=body.number,
        author=admin.display_name,
        reason=body.reason,
        effective_at=body.effective_at,
        clock=clock,
        actor=f"user:{admin.id}",
    )
    return BatchRead.model_validate(batch)


@router.get("/responsibility-rules", response_model=Page[ResponsibilityRuleRead])
def list_responsibility_rules(
    session: SessionDep,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
    batch_id: int | None = None,
    item_id: int | None = None,
    area_id: int | None = None,
    unit_id: int | None = None,
) -> Page[ResponsibilityRuleRead]:
    """The 职责清单 rows as recorded, batch by batch (use /resolve for what is in force)."""
    rows, total = service.list_responsibility_rules(
        session,
        batch_id=batch_id,
        item_id=item_id,
        area_id=area_id,
        unit_id=unit_id,
        offset=offset,
        limit=limit,
    )
    items = [
        ResponsibilityRuleRead(
            id=r.id,
            batch_id=r.batch_id,
            batch_number=r.batch.number,
            item_id=r.item_id,
            area_id=r.area_id,
            lead_unit_id=r.lead_unit_id,
            lead_section_id=r.lead_section_id,
            co_unit_ids=list(r.co_unit_ids or []),
            legal_basis=r.legal_basis,
            removed=r.removed,
        )
        for r in rows
    ]
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.get("/implementation-rules", response_model=Page[ImplementationRuleRead])
def list_implementation_rules(
    session: SessionDep,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
    batch_id: int | None = None,
    item_id: int | None = None,
    unit_id: int | None = None,
) -> Page[ImplementationRuleRead]:
    """The 实施清单 rows as recorded, batch by batch."""
    rows, total = service.list_implementation_rules(
        session, batch_id=batch_id, item_id=item_id, unit_id=unit_id, offset=offset, limit=limit
    )
    items = [
        ImplementationRuleRead(
            id=r.id,
            batch_id=r.batch_id,
            batch_number=r.batch.number,
            item_id=r.item_id,
            unit_id=r.unit_id,
            process=Process(r.process),
            response_level=ResponseLevel(r.response_level),
            contact_hours=r.contact_hours,
            completion_days=r.completion_days,
            standard_kind=StandardKind(r.standard_kind),
            recommended_min_days=r.recommended_min_days,
            recommended_max_days=r.recommended_max_days,
            closing_requirements=[ClosingRequirement(c) for c in r.closing_requirements],
            removed=r.removed,
        )
        for r in rows
    ]
    return Page(items=items, total=total, offset=offset, limit=limit)


@router.get("/resolve", response_model=ResolutionRead)
def resolve(
    session: SessionDep,
    clock: ClockDep,
    item_id: int,
    area_id: int,
    at: datetime | None = None,
) -> ResolutionRead:
    """Who handles this item in this area at this time (now by default), and by when."""
    when = at if at is not None and at.tzinfo is not None else clock.now()
    if service.get_item(session, item_id) is None:
        raise NotFound("item_not_found", "找不到该事项", f"No catalogue item {item_id}")
    res = service.resolve(session, item_id=item_id, area_id=area_id, at=when)
    resp = res.responsibility
    impl = res.implementation
    return ResolutionRead(
        item_id=item_id,
        area_id=area_id,
        at=when,
        batch_number=res.batch_number,
        has_owner=res.has_owner,
        responsibility=ResponsibilityRead(
            rule_id=resp.rule_id,
            batch_number=resp.batch_number,
            item_id=resp.item_id,
            area_id=resp.area_id,
            lead_unit_id=resp.lead_unit_id,
            lead_section_id=resp.lead_section_id,
            co_unit_ids=list(resp.co_unit_ids),
            legal_basis=resp.legal_basis,
        )
        if resp
        else None,
        implementation=ImplementationRead(
            rule_id=impl.rule_id,
            process=impl.process,
            response_level=impl.response_level,
            contact_hours=impl.contact_hours,
            completion_days=impl.completion_days,
            completion_source=impl.completion_source,
            standard_kind=impl.standard_kind,
            closing_requirements=list(impl.closing_requirements),
        )
        if impl
        else None,
        message="已找到牵头单位"
        if resp
        else "无责任单位：该事项在此区域没有职责规则，将进入争议处理",
    )


class CrosswalkRead(BaseModel):
    contest_label: str
    db44_path: str
    strength: str
    note: str


@router.get("/crosswalk", response_model=list[CrosswalkRead])
def crosswalk() -> list[CrosswalkRead]:
    """Contest first-level labels → DB44 subtrees (used by triage to find the finest item)."""
    return [
        CrosswalkRead(
            contest_label=e.contest_label,
            db44_path=to_item_path(e.db44_path),
            strength=e.strength.value,
            note=e.note,
        )
        for e in load_crosswalk()
    ]
