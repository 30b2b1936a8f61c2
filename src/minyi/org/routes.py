"""Read endpoints for areas and units; admin endpoints for machine clients."""

from __future__ import annotations

from fastapi import APIRouter

from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import NotFound
from minyi.core.pagination import LimitParam, OffsetParam, Page
from minyi.org import service
from minyi.org.auth import AdminUser
from minyi.org.domain import AreaLevel, UnitKind
from minyi.org.models import Area, Unit
from minyi.org.schemas import (
    AreaRead,
    MachineClientCreate,
    MachineClientCreated,
    SectionRead,
    UnitRead,
)

router = APIRouter(tags=["organisation"])


def area_read(area: Area) -> AreaRead:
    return AreaRead(
        id=area.id,
        code=area.code,
        name=area.name,
        level=AreaLevel(area.level),
        parent_id=area.parent_id,
        aliases=list(area.aliases or []),
        population=area.population,
        has_boundary=bool(area.boundary_wkt),
    )


def unit_read(unit: Unit) -> UnitRead:
    return UnitRead(
        id=unit.id,
        code=unit.code,
        name=unit.name,
        kind=UnitKind(unit.kind),
        area_id=unit.area_id,
        parent_id=unit.parent_id,
        service=unit.service,
        active=unit.active,
        sections=[SectionRead.model_validate(s) for s in unit.sections],
        jurisdiction_area_ids=sorted(j.area_id for j in unit.jurisdiction),
    )


@router.get("/areas", response_model=Page[AreaRead])
def list_areas(
    session: SessionDep,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
    level: AreaLevel | None = None,
    parent_id: int | None = None,
    q: str | None = None,
) -> Page[AreaRead]:
    rows, total = service.list_areas(
        session, level=level, parent_id=parent_id, q=q, offset=offset, limit=limit
    )
    return Page(items=[area_read(a) for a in rows], total=total, offset=offset, limit=limit)


@router.get("/areas/{area_id}", response_model=AreaRead)
def get_area(area_id: int, session: SessionDep) -> AreaRead:
    area = service.get_area(session, area_id)
    if area is None:
        raise NotFound("area_not_found", "找不到该区域", f"No area {area_id}")
    return area_read(area)


@router.get("/units", response_model=Page[UnitRead])
def list_units(
    session: SessionDep,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
    kind: UnitKind | None = None,
    area_id: int | None = None,
    q: str | None = None,
) -> Page[UnitRead]:
    rows, total = service.list_units(
        session, kind=kind, area_id=area_id, q=q, offset=offset, limit=limit
    )
    return Page(items=[unit_read(u) for u in rows], total=total, offset=offset, limit=limit)


@router.get("/units/{unit_id}", response_model=UnitRead)
def get_unit(unit_id: int, session: SessionDep) -> UnitRead:
    unit = service.get_unit(session, unit_id)
    if unit is None:
        raise NotFound("unit_not_found", "找不到该单位", f"No unit {unit_id}")
    return unit_read(unit)


@router.post("/admin/machine-clients", response_model=MachineClientCreated, status_code=201)
def create_machine_client(
    body: MachineClientCreate, session: SessionDep, clock: ClockDep, _: AdminUser
) -> MachineClientCreated:
    unit = service.get_unit_by_code_or_raise(session, body.unit_code) if body.unit_code else None
    area = service.get_area_by_code_or_raise(session, body.area_code) if body.area_code else None
    client, key = service.create_machine_client(
        session, name=body.name, scopes=body.scopes, unit=unit, area=area, clock=clock
    )
    return MachineClientCreated(id=client.id, name=client.name, scopes=body.scopes, api_key=key)
