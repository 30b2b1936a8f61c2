"""What an import checks its rows against: the database as it stands, plus earlier rows.

An import is validated in full before anything is stored, so a row may refer to an area,
unit or item that an earlier row (or an earlier sheet) of the same import creates. The
context keeps both — what exists, and what is planned — and collects every problem found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from minyi.catalogue import service
from minyi.catalogue.domain import ListSnapshot
from minyi.catalogue.models import Item
from minyi.catalogue.tabular import ZH_LABELS, Problem, Row, Table, fold, parse_flag, problem
from minyi.org.models import Area, Section, Unit

# --- planned rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class AreaPlan:
    code: str
    name: str
    level: str
    parent_code: str | None
    aliases: tuple[str, ...]
    population: int | None


@dataclass(frozen=True)
class UnitPlan:
    code: str
    name: str
    kind: str
    area_code: str
    parent_code: str | None
    service: str | None
    phone: str | None
    jurisdiction_codes: tuple[str, ...]
    sections: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ItemPlan:
    path: str
    name: str
    definition: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class ResponsibilityPlan:
    item_path: str
    area_code: str
    lead_unit_code: str | None
    lead_section_code: str | None
    co_unit_codes: tuple[str, ...]
    legal_basis: str
    removed: bool


@dataclass(frozen=True)
class ImplementationPlan:
    item_path: str
    unit_code: str | None
    process: str
    response_level: str
    contact_hours: int
    completion_days: int | None
    standard_kind: str
    min_days: int | None
    max_days: int | None
    closing_requirements: tuple[str, ...]
    removed: bool


@dataclass(frozen=True)
class ChoicePlan:
    item_path: str
    unit_code: str | None
    district_code: str
    completion_days: int


# --- the context -------------------------------------------------------------------------


class Progress(Protocol):
    """Told how many rows a stage ("validate", "store") has, then of each row done."""

    def start(self, stage: str, total: int) -> None: ...

    def advance(self, stage: str, count: int) -> None: ...


class ImportContext:
    def __init__(
        self, session: Session, *, effective_at: datetime, progress: Progress | None = None
    ) -> None:
        self.session = session
        self.effective_at = effective_at
        self.problems: list[Problem] = []
        self.unchanged: Counter[str] = Counter()
        self.planned_areas: dict[str, AreaPlan] = {}
        self.planned_units: dict[str, UnitPlan] = {}
        self.planned_items: dict[str, ItemPlan] = {}
        self.planned_impl: dict[tuple[str, str | None], ImplementationPlan] = {}
        self._snapshot: ListSnapshot | None = None
        self.progress = progress

    def tick(self, stage: str) -> None:
        if self.progress is not None:
            self.progress.advance(stage, 1)

    # What exists. Loaded once: an import of tens of thousands of rows must not query per row.

    @cached_property
    def areas(self) -> dict[str, Area]:
        return {a.code: a for a in self.session.scalars(select(Area))}

    @cached_property
    def area_code_by_id(self) -> dict[int, str]:
        return {a.id: code for code, a in self.areas.items()}

    @cached_property
    def units(self) -> dict[str, Unit]:
        stmt = select(Unit).options(selectinload(Unit.sections), selectinload(Unit.jurisdiction))
        return {u.code: u for u in self.session.scalars(stmt)}

    @cached_property
    def unit_code_by_id(self) -> dict[int, str]:
        return {u.id: code for code, u in self.units.items()}

    @cached_property
    def section_ids(self) -> dict[tuple[str, str], int]:
        rows = self.session.execute(select(Section.id, Section.code, Unit.code).join(Section.unit))
        return {(unit_code, code): sid for sid, code, unit_code in rows}

    @cached_property
    def section_code_by_id(self) -> dict[int, str]:
        return {sid: code for (_, code), sid in self.section_ids.items()}

    @cached_property
    def item_ids(self) -> dict[str, int]:
        return {path: iid for iid, path in self.session.execute(select(Item.id, Item.path))}

    @cached_property
    def items(self) -> dict[str, Item]:
        return {i.path: i for i in self.session.scalars(select(Item))}

    def snapshot(self) -> ListSnapshot:
        """The rules in force when the new batch takes effect: what "unchanged" compares to."""
        if self._snapshot is None:
            batch = service.batch_in_force(self.session, self.effective_at)
            self._snapshot = service.build_snapshot(self.session, batch)
        return self._snapshot

    # Look-ups over what exists and what is planned.

    def area_level(self, code: str) -> str | None:
        if code in self.planned_areas:
            return self.planned_areas[code].level
        area = self.areas.get(code)
        return area.level if area is not None else None

    def has_unit(self, code: str) -> bool:
        return code in self.units or code in self.planned_units

    def unit_sections(self, code: str) -> set[str]:
        if code in self.planned_units:
            return {c for c, _ in self.planned_units[code].sections}
        unit = self.units.get(code)
        return {s.code for s in unit.sections} if unit is not None else set()

    @cached_property
    def _unit_codes_by_name(self) -> dict[str, set[str]]:
        index: dict[str, set[str]] = {}
        for unit in self.units.values():
            index.setdefault(unit.name, set()).add(unit.code)
        return index

    @cached_property
    def _item_paths_by_code(self) -> dict[str, set[str]]:
        index: dict[str, set[str]] = {}
        for path in self.item_ids:
            index.setdefault(path.rsplit("/", 1)[-1], set()).add(path)
        return index

    def plan_unit(self, plan: UnitPlan) -> None:
        self.planned_units[plan.code] = plan
        self._unit_codes_by_name.setdefault(plan.name, set()).add(plan.code)

    def plan_item(self, plan: ItemPlan) -> None:
        self.planned_items[plan.path] = plan
        self._item_paths_by_code.setdefault(plan.path.rsplit("/", 1)[-1], set()).add(plan.path)

    def find_unit(self, text: str) -> tuple[str | None, str | None]:
        """A unit by code, or by its exact name when that names one unit: (code, why not)."""
        if self.has_unit(text):
            return text, None
        codes = set(self._unit_codes_by_name.get(text, ()))
        if len(codes) == 1:
            return codes.pop(), None
        if codes:
            return None, "ambiguous"
        return None, "unknown"

    def has_item(self, path: str) -> bool:
        return path in self.item_ids or path in self.planned_items

    def find_item(self, text: str) -> tuple[str | None, str | None]:
        """An item by full path; a bare code is accepted when it names exactly one node."""
        path = text.strip().strip("/")
        if self.has_item(path):
            return path, None
        if "/" in path:
            return None, "unknown"
        paths = set(self._item_paths_by_code.get(path, ()))
        if len(paths) == 1:
            return paths.pop(), None
        return None, ("ambiguous" if paths else "unknown")


# --- one row's checks --------------------------------------------------------------------


class RowCheck:
    """Reads one row's cells, recording a problem for each bad one (and carrying on)."""

    def __init__(self, ctx: ImportContext, table: Table, row: Row) -> None:
        self.ctx = ctx
        self.table = table
        self.row = row
        self.ok = True
        self._zh = {c.name: c.zh for c in table.spec.columns}
        ctx.tick("validate")

    def label(self, column: str) -> str:
        return f"{self._zh.get(column, column)}（{column}）"

    def bad(self, column: str | None, reason: str, reason_en: str) -> None:
        self.ok = False
        self.ctx.problems.append(
            problem(self.table.file, self.row.number, column, reason, reason_en)
        )

    def text(self, column: str, *, required: bool = False, max_len: int | None = None) -> str:
        value = self.row.get(column)
        if required and not value:
            self.bad(column, f"{self.label(column)}不能为空", f"{column} is required")
        elif max_len is not None and len(value) > max_len:
            self.bad(
                column,
                f"{self.label(column)}过长：{len(value)} 个字符，最多 {max_len} 个",
                f"{column} is {len(value)} characters long; at most {max_len}",
            )
        return value

    def integer(
        self, column: str, *, required: bool = False, minimum: int | None = None
    ) -> int | None:
        value = self.row.get(column)
        if not value:
            if required:
                self.bad(column, f"{self.label(column)}不能为空", f"{column} is required")
            return None
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not number.is_integer():
            self.bad(
                column,
                f"{self.label(column)}“{value}”不是整数",
                f"{column} {value!r} is not a whole number",
            )
            return None
        result = int(number)
        if minimum is not None and result < minimum:
            self.bad(
                column,
                f"{self.label(column)}必须不小于 {minimum}，实际为 {result}",
                f"{column} must be at least {minimum}, got {result}",
            )
            return None
        return result

    def choice(
        self,
        column: str,
        vocabulary: Mapping[str, str],
        *,
        required: bool = False,
        default: str | None = None,
    ) -> str | None:
        value = self.row.get(column)
        if not value:
            if required:
                self.bad(column, f"{self.label(column)}不能为空", f"{column} is required")
            return default
        found = vocabulary.get(fold(value))
        if found is None:
            canonical = sorted(set(vocabulary.values()))
            labels = ZH_LABELS.get(column, {})
            hint = "、".join(f"{v}（{labels[v]}）" if v in labels else v for v in canonical)
            self.bad(
                column,
                f"{self.label(column)}“{value}”无效；可选：{hint}",
                f"{column} {value!r} is not one of: {', '.join(canonical)}",
            )
        return found

    def flag(self, column: str) -> bool:
        value = self.row.get(column)
        parsed = parse_flag(value)
        if parsed is None:
            self.bad(
                column,
                f"{self.label(column)}“{value}”无效；请填“是”或留空",
                f"{column} {value!r} is not yes/no",
            )
            return False
        return parsed

    def unit(self, column: str, text: str) -> str | None:
        code, why = self.ctx.find_unit(text)
        if why == "ambiguous":
            self.bad(
                column,
                f"单位名称“{text}”对应多个单位，请填写单位编码",
                f"Unit name {text!r} matches several units; use the unit code",
            )
        elif why is not None:
            self.bad(
                column,
                f"找不到单位“{text}”（单位必须已存在或在本次导入中创建）",
                f"No unit {text!r} (it must exist or be created by this import)",
            )
        return code

    def item(self, column: str = "item_path") -> str | None:
        text = self.text(column, required=True)
        if not text:
            return None
        path, why = self.ctx.find_item(text)
        if why == "ambiguous":
            self.bad(
                column,
                f"事项编码“{text}”对应多个事项，请填写完整的事项路径（如 04/0402/040201）",
                f"Item code {text!r} names several items; give the full path",
            )
        elif why is not None:
            self.bad(
                column,
                f"找不到事项“{text}”",
                f"No catalogue item {text!r}",
            )
        return path

    def area(self, column: str, *, required: bool = True) -> str | None:
        code = self.text(column, required=required)
        if code and self.ctx.area_level(code) is None:
            self.bad(
                column,
                f"找不到区域编码“{code}”（区域必须已存在或在本次导入中更早创建）",
                f"No area with code {code!r} (it must exist or come earlier in this import)",
            )
            return None
        return code or None
