"""Exports: the organisation as it stands and the lists as in force at a time.

Every export is written so that it re-imports cleanly: parents before children (areas by
level, units after the units that lead them, items by path), codes rather than ids, and
only keys in force (a withdrawn rule is simply absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from minyi.catalogue import service
from minyi.catalogue.models import Batch, Item
from minyi.catalogue.tabular import join_list
from minyi.org.domain import AreaLevel
from minyi.org.models import Area, Section, Unit

# --- the organisation --------------------------------------------------------------------


def export_areas(session: Session) -> list[dict[str, str]]:
    """Parents before children (city, districts, streets, ...), so the file re-imports."""
    areas = list(session.scalars(select(Area)))
    code_of = {a.id: a.code for a in areas}
    areas.sort(key=lambda a: (AreaLevel(a.level).depth, a.code))
    return [
        {
            "code": a.code,
            "name": a.name,
            "level": a.level,
            "parent_code": code_of.get(a.parent_id, "") if a.parent_id is not None else "",
            "aliases": join_list(a.aliases or ()),
            "population": "" if a.population is None else str(a.population),
        }
        for a in areas
    ]


def export_units(session: Session) -> list[dict[str, str]]:
    """Parent units before the units they lead, so the file re-imports."""
    stmt = select(Unit).options(selectinload(Unit.sections), selectinload(Unit.jurisdiction))
    units = list(session.scalars(stmt))
    by_id = {u.id: u for u in units}
    area_code = dict(session.execute(select(Area.id, Area.code)).all())

    def depth(unit: Unit) -> int:
        steps, seen, node = 0, set(), unit
        while node.parent_id is not None and node.parent_id in by_id and node.id not in seen:
            seen.add(node.id)
            node, steps = by_id[node.parent_id], steps + 1
        return steps

    units.sort(key=lambda u: (depth(u), u.code))
    return [
        {
            "code": u.code,
            "name": u.name,
            "kind": u.kind,
            "area_code": area_code.get(u.area_id, ""),
            "parent_code": by_id[u.parent_id].code if u.parent_id in by_id else "",
            "service": u.service or "",
            "phone": u.phone or "",
            "jurisdiction_codes": join_list(
                sorted(area_code.get(j.area_id, "") for j in u.jurisdiction)
            ),
            "sections": join_list(f"{s.code}:{s.name}" for s in u.sections),
        }
        for u in units
    ]


# --- the lists ---------------------------------------------------------------------------


def export_items(session: Session, at: datetime) -> list[dict[str, str]]:
    """The catalogue as in force at `at`, parents first (a path sorts before its children)."""
    rows = session.scalars(
        select(Item)
        .join(Batch, Item.introduced_batch_id == Batch.id)
        .where(Batch.effective_at <= at)
    )
    return [
        {
            "item_path": i.path,
            "name": i.name,
            "definition": i.definition,
            "keywords": join_list(i.keywords or ()),
        }
        for i in sorted(rows, key=lambda i: i.path)
    ]


@dataclass(frozen=True)
class Codes:
    """Ids to the codes a person reads and an import accepts."""

    item: dict[int, str]
    area: dict[int, str]
    unit: dict[int, str]
    section: dict[int, str]

    @classmethod
    def load(cls, session: Session) -> Codes:
        return cls(
            item=dict(session.execute(select(Item.id, Item.path)).all()),
            area=dict(session.execute(select(Area.id, Area.code)).all()),
            unit=dict(session.execute(select(Unit.id, Unit.code)).all()),
            section=dict(session.execute(select(Section.id, Section.code)).all()),
        )


def export_responsibility(session: Session, at: datetime) -> list[dict[str, str]]:
    snap = service.build_snapshot(session, service.batch_in_force(session, at))
    codes = Codes.load(session)
    rows = [
        {
            "item_path": codes.item[e.item_id],
            "area_code": codes.area[e.area_id],
            "lead_unit_code": codes.unit[e.lead_unit_id],
            "lead_section_code": codes.section.get(e.lead_section_id, "")
            if e.lead_section_id
            else "",
            "co_unit_codes": join_list(codes.unit[u] for u in e.co_unit_ids),
            "legal_basis": e.legal_basis,
            "removed": "",
        }
        for e in snap.responsibility.values()
    ]
    return sorted(rows, key=lambda r: (r["item_path"], r["area_code"]))


def export_implementation(session: Session, at: datetime) -> list[dict[str, str]]:
    snap = service.build_snapshot(session, service.batch_in_force(session, at))
    codes = Codes.load(session)

    def num(value: int | None) -> str:
        return "" if value is None else str(value)

    rows = [
        {
            "item_path": codes.item[e.item_id],
            "unit_code": codes.unit[e.unit_id] if e.unit_id is not None else "",
            "process": e.process.value,
            "response_level": e.response_level.value,
            "contact_hours": str(e.contact_hours),
            "completion_days": num(e.completion_days),
            "standard_kind": e.standard_kind.value,
            "min_days": num(e.recommended_min_days),
            "max_days": num(e.recommended_max_days),
            "closing_requirements": join_list(c.value for c in e.closing_requirements),
            "removed": "",
        }
        for e in snap.implementation.values()
    ]
    return sorted(rows, key=lambda r: (r["item_path"], r["unit_code"]))


def export_district_choices(session: Session, at: datetime) -> list[dict[str, str]]:
    snap = service.build_snapshot(session, service.batch_in_force(session, at))
    codes = Codes.load(session)
    rows = [
        {
            "item_path": codes.item[item_id],
            "unit_code": codes.unit[unit_id] if unit_id is not None else "",
            "district_code": codes.area[district_id],
            "completion_days": str(days),
        }
        for (item_id, unit_id, district_id), days in snap.district_values.items()
    ]
    return sorted(rows, key=lambda r: (r["item_path"], r["unit_code"], r["district_code"]))
