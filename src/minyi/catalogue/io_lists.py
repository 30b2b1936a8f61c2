"""Import of the three lists: catalogue items, responsibility, implementation,
and the districts' chosen values inside recommended ranges.

Rules are append-only: an import adds rows to ONE new batch and never touches an old one.
A row that says exactly what is already in force when the batch takes effect is counted as
unchanged and not stored again, so a batch holds what it changed and an exported file
re-imports without effect. A `removed` row withdraws a key (withdrawing what is not in
force is a no-op).
"""

from __future__ import annotations

from dataclasses import dataclass

from minyi.catalogue import service
from minyi.catalogue.domain import (
    CLOSING_REQUIREMENT_ZH,
    DEFAULT_CONTACT_HOURS,
    ClosingRequirement,
    ImplementationEntry,
    Process,
    ResponseLevel,
    StandardKind,
    in_range,
)
from minyi.catalogue.io_context import (
    ChoicePlan,
    ImplementationPlan,
    ImportContext,
    ItemPlan,
    ResponsibilityPlan,
    RowCheck,
)
from minyi.catalogue.models import Batch
from minyi.catalogue.tabular import (
    CLOSING_VALUES,
    PROCESS_VALUES,
    RESPONSE_LEVEL_VALUES,
    STANDARD_KIND_VALUES,
    Table,
    fold,
    split_list,
)
from minyi.org.domain import AreaLevel

# --- items -------------------------------------------------------------------------------


def validate_items(ctx: ImportContext, table: Table) -> list[ItemPlan]:
    """New nodes and refinements, named by full path; the parent exists or comes earlier."""
    plans: list[ItemPlan] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        check = RowCheck(ctx, table, row)
        raw = check.text("item_path", required=True, max_len=200)
        segments = [s.strip() for s in raw.strip().strip("/").split("/")] if raw else []
        path = "/".join(segments)
        name = check.text("name", max_len=200)
        definition = check.text("definition")
        keywords = tuple(split_list(row.get("keywords")))
        if raw and any(not s or len(s) > 32 or any(c.isspace() for c in s) for s in segments):
            check.bad(
                "item_path",
                f"事项路径“{raw}”无效：应为以 / 连接的编码（如 04/0402/040201），每级不超过 32 位",
                f"Item path {raw!r} must be codes joined by '/', each at most 32 characters",
            )
            continue
        if not path:
            continue
        if path in seen:
            check.bad(
                "item_path",
                f"事项“{path}”与第 {seen[path]} 行重复",
                f"Item {path!r} repeats row {seen[path]}",
            )
            continue
        seen[path] = row.number
        parent = "/".join(segments[:-1])
        if parent and not ctx.has_item(parent):
            check.bad(
                "item_path",
                f"找不到上级事项“{parent}”（上级必须已存在或在本文件中更早出现）",
                f"No parent item {parent!r} (it must exist or come earlier in the file)",
            )
        plan = ItemPlan(path, name, definition, keywords)
        existing = ctx.items.get(path)
        if existing is not None:
            stored = {
                "name": existing.name,
                "definition": existing.definition,
                "keywords": tuple(existing.keywords or ()),
            }
            wanted = {"name": name, "definition": definition, "keywords": keywords}
            column = next((k for k in stored if stored[k] != wanted[k]), None)
            if column is not None:
                check.bad(
                    column,
                    f"事项“{path}”已存在，但{check.label(column)}与现有数据不同；"
                    "导入只新增事项，不修改已有事项",
                    f"Item {path!r} exists with a different {column}; an import only adds items",
                )
            elif check.ok:
                ctx.unchanged["items"] += 1
            continue
        ctx.plan_item(plan)
        if check.ok:
            plans.append(plan)
    return plans


def store_items(ctx: ImportContext, batch: Batch, plans: list[ItemPlan]) -> int:
    for plan in plans:
        parent_path, _, code = plan.path.rpartition("/")
        item = service.add_item(
            ctx.session,
            batch=batch,
            code=code,
            name=plan.name,
            parent=ctx.items[parent_path] if parent_path else None,
            definition=plan.definition,
            keywords=plan.keywords,
        )
        ctx.items[plan.path] = item
        ctx.item_ids[plan.path] = item.id
        ctx.tick("store")
    return len(plans)


# --- responsibility ----------------------------------------------------------------------


def validate_responsibility(ctx: ImportContext, table: Table) -> list[ResponsibilityPlan]:
    """职责清单 rows: item and area known, a lead unit (unless removed), co-units distinct."""
    plans: list[ResponsibilityPlan] = []
    seen: dict[tuple[str, str], int] = {}
    for row in table.rows:
        check = RowCheck(ctx, table, row)
        item = check.item()
        area = check.area("area_code")
        removed = check.flag("removed")
        lead_text = check.text("lead_unit_code")
        lead = check.unit("lead_unit_code", lead_text) if lead_text else None
        if not lead_text and not removed:
            check.bad(
                "lead_unit_code",
                "牵头单位不能为空（要撤销一条职责规则，请在“删除”列填“是”）",
                "lead_unit_code is required (to withdraw a rule, set removed)",
            )
        section = check.text("lead_section_code", max_len=32) or None
        if section and lead and section not in ctx.unit_sections(lead):
            check.bad(
                "lead_section_code",
                f"牵头单位“{lead}”没有科室“{section}”",
                f"Unit {lead!r} has no section {section!r}",
            )
        co_units: list[str] = []
        for text in split_list(row.get("co_unit_codes")):
            code = check.unit("co_unit_codes", text)
            if code is None:
                continue
            if code == lead:
                check.bad(
                    "co_unit_codes",
                    "牵头单位不能同时是协办单位",
                    "The lead unit cannot also be a co-unit",
                )
            elif code in co_units:
                check.bad("co_unit_codes", f"协办单位“{code}”重复", f"Co-unit {code!r} repeats")
            else:
                co_units.append(code)
        legal_basis = check.text("legal_basis")
        if item and area:
            first = seen.setdefault((item, area), row.number)
            if first != row.number:
                check.bad(
                    "item_path",
                    f"事项“{item}”在区域“{area}”的职责规则与第 {first} 行重复",
                    f"The rule for item {item!r} in area {area!r} repeats row {first}",
                )
        if not check.ok or item is None or area is None:
            continue
        plan = ResponsibilityPlan(
            item_path=item,
            area_code=area,
            lead_unit_code=None if removed else lead,
            lead_section_code=None if removed else section,
            co_unit_codes=() if removed else tuple(co_units),
            legal_basis="" if removed else legal_basis,
            removed=removed,
        )
        if _responsibility_unchanged(ctx, plan):
            ctx.unchanged["responsibility"] += 1
        else:
            plans.append(plan)
    return plans


def _responsibility_unchanged(ctx: ImportContext, plan: ResponsibilityPlan) -> bool:
    item_id = ctx.item_ids.get(plan.item_path)
    area = ctx.areas.get(plan.area_code)
    if item_id is None or area is None:
        return False
    entry = ctx.snapshot().responsibility.get((item_id, area.id))
    if entry is None:
        return plan.removed
    units = ctx.unit_code_by_id
    section = ctx.section_code_by_id.get(entry.lead_section_id) if entry.lead_section_id else None
    return not plan.removed and (
        units.get(entry.lead_unit_id),
        section,
        tuple(units.get(u) for u in entry.co_unit_ids),
        entry.legal_basis,
    ) == (plan.lead_unit_code, plan.lead_section_code, plan.co_unit_codes, plan.legal_basis)


def store_responsibility(ctx: ImportContext, batch: Batch, plans: list[ResponsibilityPlan]) -> int:
    for plan in plans:
        lead_id = ctx.units[plan.lead_unit_code].id if plan.lead_unit_code else None
        service.add_responsibility(
            ctx.session,
            batch=batch,
            item=ctx.items[plan.item_path],
            area=ctx.areas[plan.area_code],
            lead_unit_id=lead_id,
            co_unit_ids=[ctx.units[c].id for c in plan.co_unit_codes],
            legal_basis=plan.legal_basis,
            lead_section_id=(
                ctx.section_ids[(plan.lead_unit_code, plan.lead_section_code)]
                if plan.lead_unit_code and plan.lead_section_code
                else None
            ),
            removed=plan.removed,
        )
        ctx.tick("store")
    return len(plans)


# --- implementation ----------------------------------------------------------------------


def validate_implementation(ctx: ImportContext, table: Table) -> list[ImplementationPlan]:
    """实施清单 rows: enums, whole numbers, and the list's own range rules."""
    plans: list[ImplementationPlan] = []
    seen: dict[tuple[str, str | None], int] = {}
    for row in table.rows:
        check = RowCheck(ctx, table, row)
        item = check.item()
        unit_text = check.text("unit_code")
        unit = check.unit("unit_code", unit_text) if unit_text else None
        removed = check.flag("removed")
        process = check.choice("process", PROCESS_VALUES, default=Process.STANDARD.value)
        level = check.choice("response_level", RESPONSE_LEVEL_VALUES, default="15d")
        kind = check.choice("standard_kind", STANDARD_KIND_VALUES, default="mandatory")
        numbers: dict[str, int | None] = {}
        unreadable: set[str] = set()
        for column in ("contact_hours", "completion_days", "min_days", "max_days"):
            before = len(ctx.problems)
            numbers[column] = check.integer(column)
            if len(ctx.problems) != before:
                unreadable.add(column)
        contact, completion = numbers["contact_hours"], numbers["completion_days"]
        min_days, max_days = numbers["min_days"], numbers["max_days"]
        requirements: list[str] = []
        for text in split_list(row.get("closing_requirements")):
            value = CLOSING_VALUES.get(fold(text))
            if value is None:
                accepted = "、".join(
                    f"{r.value}（{zh}）" for r, zh in CLOSING_REQUIREMENT_ZH.items()
                )
                check.bad(
                    "closing_requirements",
                    f"办结要求“{text}”无效；可选：{accepted}",
                    f"Closing requirement {text!r} is not one of: "
                    + ", ".join(r.value for r in ClosingRequirement),
                )
            elif value not in requirements:
                requirements.append(value)
        contact_hours = DEFAULT_CONTACT_HOURS if contact is None else contact
        if kind is not None and not removed:
            for zh, en in service.implementation_problems(
                standard_kind=StandardKind(kind),
                completion_days=completion,
                recommended_min_days=min_days,
                recommended_max_days=max_days,
                contact_hours=contact_hours,
            ):
                column = _problem_column(en, min_days, max_days)
                # An unreadable number is reported once, not again as "missing".
                if column in unreadable or (
                    column in ("min_days", "max_days") and unreadable & {"min_days", "max_days"}
                ):
                    continue
                check.bad(column, zh, en)
        if item is not None and (unit is not None or not unit_text):
            first = seen.setdefault((item, unit), row.number)
            if first != row.number:
                check.bad(
                    "item_path",
                    f"事项“{item}”、单位“{unit or '（默认）'}”的实施规则与第 {first} 行重复",
                    f"The rule for item {item!r} and unit {unit or '(default)'!r} "
                    f"repeats row {first}",
                )
        if not check.ok or item is None or process is None or level is None or kind is None:
            continue
        plan = ImplementationPlan(
            item_path=item,
            unit_code=unit,
            process=process,
            response_level=level,
            contact_hours=contact_hours,
            completion_days=completion,
            standard_kind=kind,
            min_days=min_days,
            max_days=max_days,
            closing_requirements=tuple(requirements),
            removed=removed,
        )
        ctx.planned_impl[(item, unit)] = plan
        if _implementation_unchanged(ctx, plan):
            ctx.unchanged["implementation"] += 1
        else:
            plans.append(plan)
    return plans


def _problem_column(reason_en: str, min_days: int | None, max_days: int | None) -> str:
    if "contact_hours" in reason_en:
        return "contact_hours"
    if "recommended" in reason_en:
        return "max_days" if min_days is not None and max_days is None else "min_days"
    return "completion_days"


def _entry_for(
    ctx: ImportContext, item_path: str, unit_code: str | None
) -> ImplementationEntry | None:
    item_id = ctx.item_ids.get(item_path)
    if item_id is None:
        return None
    unit_id: int | None = None
    if unit_code is not None:
        unit = ctx.units.get(unit_code)
        if unit is None:
            return None
        unit_id = unit.id
    return ctx.snapshot().implementation.get((item_id, unit_id))


def _implementation_unchanged(ctx: ImportContext, plan: ImplementationPlan) -> bool:
    entry = _entry_for(ctx, plan.item_path, plan.unit_code)
    if entry is None:
        return plan.removed
    return not plan.removed and (
        entry.process.value,
        entry.response_level.value,
        entry.contact_hours,
        entry.completion_days,
        entry.standard_kind.value,
        entry.recommended_min_days,
        entry.recommended_max_days,
        tuple(c.value for c in entry.closing_requirements),
    ) == (
        plan.process,
        plan.response_level,
        plan.contact_hours,
        plan.completion_days,
        plan.standard_kind,
        plan.min_days,
        plan.max_days,
        plan.closing_requirements,
    )


def store_implementation(ctx: ImportContext, batch: Batch, plans: list[ImplementationPlan]) -> int:
    for plan in plans:
        service.add_implementation(
            ctx.session,
            batch=batch,
            item=ctx.items[plan.item_path],
            unit_id=ctx.units[plan.unit_code].id if plan.unit_code else None,
            process=Process(plan.process),
            response_level=ResponseLevel(plan.response_level),
            contact_hours=plan.contact_hours,
            completion_days=plan.completion_days,
            standard_kind=StandardKind(plan.standard_kind),
            recommended_min_days=plan.min_days,
            recommended_max_days=plan.max_days,
            closing_requirements=[ClosingRequirement(c) for c in plan.closing_requirements],
            removed=plan.removed,
        )
        ctx.tick("store")
    return len(plans)


# --- district choices --------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    kind: str
    low: int | None
    high: int | None


def _range_for(ctx: ImportContext, item_path: str, unit_code: str | None) -> Range | None:
    """The rule a district value belongs to: this import's row, else the rule in force."""
    planned = ctx.planned_impl.get((item_path, unit_code))
    if planned is not None:
        return (
            None
            if planned.removed
            else Range(planned.standard_kind, planned.min_days, planned.max_days)
        )
    entry = _entry_for(ctx, item_path, unit_code)
    if entry is None:
        return None
    return Range(entry.standard_kind.value, entry.recommended_min_days, entry.recommended_max_days)


def validate_district_choices(ctx: ImportContext, table: Table) -> list[ChoicePlan]:
    """区县取值 rows: a district, and a value inside the recommended range of its rule."""
    plans: list[ChoicePlan] = []
    seen: dict[tuple[str, str | None, str], int] = {}
    for row in table.rows:
        check = RowCheck(ctx, table, row)
        item = check.item()
        unit_text = check.text("unit_code")
        unit = check.unit("unit_code", unit_text) if unit_text else None
        district = check.area("district_code")
        if district is not None and ctx.area_level(district) != AreaLevel.DISTRICT.value:
            level = AreaLevel(ctx.area_level(district) or "city")
            check.bad(
                "district_code",
                f"“{district}”是{level.label_zh}，不是区县",
                f"{district!r} is a {level.value}, not a district",
            )
            district = None
        days = check.integer("completion_days", required=True, minimum=1)
        unit_ok = unit is not None or not unit_text
        if item is not None and district is not None and unit_ok:
            first = seen.setdefault((item, unit, district), row.number)
            if first != row.number:
                check.bad(
                    "district_code",
                    f"区县“{district}”对该事项和单位的取值与第 {first} 行重复",
                    f"The value of district {district!r} for this item and unit "
                    f"repeats row {first}",
                )
        if item is not None and days is not None and unit_ok:
            _check_range(check, item, unit, days)
        if not check.ok or item is None or district is None or days is None:
            continue
        plan = ChoicePlan(item, unit, district, days)
        if _choice_unchanged(ctx, plan):
            ctx.unchanged["district_choices"] += 1
        else:
            plans.append(plan)
    return plans


def _check_range(check: RowCheck, item: str, unit: str | None, days: int) -> None:
    rng = _range_for(check.ctx, item, unit)
    who = f"单位“{unit}”" if unit else "默认单位"
    if rng is None:
        check.bad(
            "unit_code" if unit else "item_path",
            f"事项“{item}”对{who}没有实施规则，区县取值无所依附",
            f"Item {item!r} has no implementation rule for unit {unit or '(default)'!r}",
        )
    elif rng.kind != StandardKind.RECOMMENDED.value:
        check.bad(
            "completion_days",
            f"事项“{item}”对{who}的实施规则不是推荐性标准，区县不能自行取值",
            f"The rule for item {item!r} is {rng.kind}, not recommended; districts pick no value",
        )
    elif not in_range(days, rng.low, rng.high):
        check.bad(
            "completion_days",
            f"取值 {days} 天超出推荐范围 {rng.low}–{rng.high} 天",
            f"{days} days lies outside the recommended range {rng.low}-{rng.high}",
        )


def _choice_unchanged(ctx: ImportContext, plan: ChoicePlan) -> bool:
    item_id = ctx.item_ids.get(plan.item_path)
    district = ctx.areas.get(plan.district_code)
    unit = ctx.units.get(plan.unit_code) if plan.unit_code else None
    if item_id is None or district is None or (plan.unit_code and unit is None):
        return False
    key = (item_id, unit.id if unit else None, district.id)
    return ctx.snapshot().district_values.get(key) == plan.completion_days


def store_district_choices(ctx: ImportContext, batch: Batch, plans: list[ChoicePlan]) -> int:
    for plan in plans:
        service.add_district_choice(
            ctx.session,
            batch=batch,
            item=ctx.items[plan.item_path],
            unit_id=ctx.units[plan.unit_code].id if plan.unit_code else None,
            district=ctx.areas[plan.district_code],
            completion_days=plan.completion_days,
        )
        ctx.tick("store")
    return len(plans)
