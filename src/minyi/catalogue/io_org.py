"""Import of the organisation: areas (市 > 区县 > 街道 > 社区 > 网格) and units.

An import only adds: a row whose code already exists is accepted when it says exactly what
is stored (so an export re-imports cleanly) and refused when it differs, since moving an
area or renaming a unit changes what past tickets meant and belongs to the admin screens,
not to a spreadsheet. Rows are created through `org.service`, which enforces the same rules.
"""

from __future__ import annotations

import re

from minyi.catalogue.io_context import AreaPlan, ImportContext, RowCheck, UnitPlan
from minyi.catalogue.tabular import (
    AREA_LEVEL_VALUES,
    SERVICE_VALUES,
    UNIT_KIND_VALUES,
    Table,
    split_list,
)
from minyi.org import service as org_service
from minyi.org.domain import AreaLevel, UnitKind, parent_level
from minyi.org.models import Area, Unit

# Section names may hold commas or 、, so sections are separated by | or ; only.
_SECTION_SPLIT = re.compile(r"[|｜;；\n]")


def _level_zh(level: str) -> str:
    return AreaLevel(level).label_zh


# --- areas -------------------------------------------------------------------------------


def validate_areas(ctx: ImportContext, table: Table) -> list[AreaPlan]:
    """Every area row checked: codes unique, the parent existing or earlier, one level up."""
    plans: list[AreaPlan] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        check = RowCheck(ctx, table, row)
        code = check.text("code", required=True, max_len=32)
        name = check.text("name", required=True, max_len=100)
        level = check.choice("level", AREA_LEVEL_VALUES, required=True)
        parent_code = check.text("parent_code", max_len=32) or None
        aliases = tuple(split_list(row.get("aliases")))
        population = check.integer("population", minimum=0)
        if code in seen:
            check.bad(
                "code",
                f"区域编码“{code}”与第 {seen[code]} 行重复",
                f"Area code {code!r} repeats row {seen[code]}",
            )
            continue
        if code:
            seen[code] = row.number
        if level is not None:
            _check_parent(check, code, level, parent_code)
        if not code or level is None:
            continue
        plan = AreaPlan(code, name, level, parent_code, aliases, population)
        existing = ctx.areas.get(code)
        if existing is not None:
            differs = _area_differs(ctx, existing, plan)
            if differs:
                check.bad(
                    differs,
                    f"区域编码“{code}”已存在，但{check.label(differs)}与现有数据不同；"
                    "导入只新增区域，不修改已有区域",
                    f"Area {code!r} exists with a different {differs}; an import only adds areas",
                )
            elif check.ok:
                ctx.unchanged["areas"] += 1
            continue
        # Planned even when the row is bad, so that its children are not reported too.
        ctx.planned_areas[code] = plan
        if check.ok:
            plans.append(plan)
    return plans


def _check_parent(check: RowCheck, code: str, level: str, parent_code: str | None) -> None:
    expected = parent_level(AreaLevel(level))
    if expected is None:
        if parent_code:
            check.bad("parent_code", "市级区域不能有上级", "A city has no parent area")
        return
    if not parent_code:
        check.bad(
            "parent_code",
            f"{_level_zh(level)}必须填写上级编码（上级是{expected.label_zh}）",
            f"A {level} needs a parent_code (a {expected.value})",
        )
        return
    parent_level_value = None if parent_code == code else check.ctx.area_level(parent_code)
    if parent_level_value is None:
        check.bad(
            "parent_code",
            f"找不到上级区域“{parent_code}”（上级必须已存在或在本文件中更早出现）",
            f"No parent area {parent_code!r} (it must exist or come earlier in the file)",
        )
    elif parent_level_value != expected.value:
        check.bad(
            "parent_code",
            f"上级区域“{parent_code}”是{_level_zh(parent_level_value)}，"
            f"{_level_zh(level)}的上级必须是{expected.label_zh}",
            f"Parent {parent_code!r} is a {parent_level_value}; "
            f"the parent of a {level} must be a {expected.value}",
        )


def _area_differs(ctx: ImportContext, area: Area, plan: AreaPlan) -> str | None:
    parent = ctx.area_code_by_id.get(area.parent_id) if area.parent_id is not None else None
    stored = {
        "name": area.name,
        "level": area.level,
        "parent_code": parent,
        "aliases": tuple(area.aliases or ()),
        "population": area.population,
    }
    wanted = {
        "name": plan.name,
        "level": plan.level,
        "parent_code": plan.parent_code,
        "aliases": plan.aliases,
        "population": plan.population,
    }
    return next((k for k in stored if stored[k] != wanted[k]), None)


def store_areas(ctx: ImportContext, plans: list[AreaPlan]) -> int:
    for plan in plans:
        area = org_service.create_area(
            ctx.session,
            code=plan.code,
            name=plan.name,
            level=AreaLevel(plan.level),
            parent=ctx.areas[plan.parent_code] if plan.parent_code else None,
            aliases=plan.aliases,
            population=plan.population,
        )
        ctx.areas[plan.code] = area
        ctx.area_code_by_id[area.id] = plan.code
        ctx.tick("store")
    return len(plans)


# --- units -------------------------------------------------------------------------------


def validate_units(ctx: ImportContext, table: Table) -> list[UnitPlan]:
    """Every unit row checked: kind, home area, parent unit, jurisdiction and sections."""
    plans: list[UnitPlan] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        check = RowCheck(ctx, table, row)
        code = check.text("code", required=True, max_len=32)
        name = check.text("name", required=True, max_len=200)
        kind = check.choice("kind", UNIT_KIND_VALUES, required=True)
        area_code = check.area("area_code")
        parent_code = check.text("parent_code", max_len=32) or None
        if parent_code is not None and (parent_code == code or not ctx.has_unit(parent_code)):
            check.bad(
                "parent_code",
                f"找不到上级单位“{parent_code}”（上级必须已存在或在本文件中更早出现）",
                f"No parent unit {parent_code!r} (it must exist or come earlier in the file)",
            )
        service = check.choice("service", SERVICE_VALUES)
        phone = check.text("phone", max_len=32) or None
        jurisdiction = tuple(split_list(row.get("jurisdiction_codes")))
        for area in jurisdiction:
            if ctx.area_level(area) is None:
                check.bad(
                    "jurisdiction_codes",
                    f"管辖区域中找不到区域编码“{area}”",
                    f"jurisdiction_codes: no area with code {area!r}",
                )
        sections = _sections(check)
        if code in seen:
            check.bad(
                "code",
                f"单位编码“{code}”与第 {seen[code]} 行重复",
                f"Unit code {code!r} repeats row {seen[code]}",
            )
            continue
        if not code:
            continue
        seen[code] = row.number
        plan = UnitPlan(
            code=code,
            name=name,
            kind=kind or "",
            area_code=area_code or "",
            parent_code=parent_code,
            service=service,
            phone=phone,
            jurisdiction_codes=jurisdiction,
            sections=sections,
        )
        existing = ctx.units.get(code)
        if existing is not None:
            differs = _unit_differs(ctx, existing, plan)
            if differs:
                check.bad(
                    differs,
                    f"单位编码“{code}”已存在，但{check.label(differs)}与现有数据不同；"
                    "导入只新增单位，不修改已有单位",
                    f"Unit {code!r} exists with a different {differs}; an import only adds units",
                )
            elif check.ok:
                ctx.unchanged["units"] += 1
            continue
        ctx.plan_unit(plan)
        if check.ok:
            plans.append(plan)
    return plans


def _sections(check: RowCheck) -> tuple[tuple[str, str], ...]:
    sections: list[tuple[str, str]] = []
    for part in (p.strip() for p in _SECTION_SPLIT.split(check.row.get("sections"))):
        if not part:
            continue
        code, sep, name = part.replace("：", ":").partition(":")
        code, name = code.strip(), name.strip()
        if not sep or not code or not name:
            check.bad(
                "sections",
                f"科室“{part}”格式应为“编码:名称”，多个科室用 | 分隔",
                f"Section {part!r} must be written code:name, several separated by |",
            )
        elif len(code) > 32 or len(name) > 200:
            check.bad("sections", f"科室“{part}”的编码或名称过长", f"Section {part!r} is too long")
        elif code in {c for c, _ in sections}:
            check.bad("sections", f"科室编码“{code}”重复", f"Section code {code!r} repeats")
        else:
            sections.append((code, name))
    return tuple(sections)


def _unit_differs(ctx: ImportContext, unit: Unit, plan: UnitPlan) -> str | None:
    codes = ctx.area_code_by_id
    stored: dict[str, object] = {
        "name": unit.name,
        "kind": unit.kind,
        "area_code": codes.get(unit.area_id),
        "parent_code": ctx.unit_code_by_id.get(unit.parent_id) if unit.parent_id else None,
        "service": unit.service,
        "phone": unit.phone,
        "jurisdiction_codes": sorted(codes.get(j.area_id, "") for j in unit.jurisdiction),
        "sections": sorted((s.code, s.name) for s in unit.sections),
    }
    wanted: dict[str, object] = {
        "name": plan.name,
        "kind": plan.kind,
        "area_code": plan.area_code,
        "parent_code": plan.parent_code,
        "service": plan.service,
        "phone": plan.phone,
        # An empty jurisdiction means "its own area", as when the unit was created.
        "jurisdiction_codes": sorted(plan.jurisdiction_codes or (plan.area_code,)),
        "sections": sorted(plan.sections),
    }
    return next((k for k in stored if stored[k] != wanted[k]), None)


def store_units(ctx: ImportContext, plans: list[UnitPlan]) -> int:
    for plan in plans:
        unit = org_service.create_unit(
            ctx.session,
            code=plan.code,
            name=plan.name,
            kind=UnitKind(plan.kind),
            area=ctx.areas[plan.area_code],
            parent=ctx.units[plan.parent_code] if plan.parent_code else None,
            service=plan.service,
            phone=plan.phone,
            jurisdiction=[ctx.areas[c] for c in plan.jurisdiction_codes],
            sections=plan.sections,
        )
        ctx.units[plan.code] = unit
        ctx.unit_code_by_id[unit.id] = plan.code
        for section in unit.sections:
            ctx.section_ids[(plan.code, section.code)] = section.id
            ctx.section_code_by_id[section.id] = section.code
        ctx.tick("store")
    return len(plans)
