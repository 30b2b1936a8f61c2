"""Coverage of the lists: where an appeal would find no owner, no deadline, or a bad value.

Three gaps make a ticket stall or get a deadline nobody agreed to:

- a finest-grain item (a leaf) with no responsibility rule for it or any ancestor, in any
  area: such appeals always go to the dispute path (首办负责制 / 快速裁决 / 会商); and, for
  items covered somewhere, the districts whose streets (or the district itself, when it
  has no streets) still resolve to nobody;
- an (item, lead unit) pair that the responsibility list produces but the implementation
  list does not describe, neither for that unit nor as the item's default: the ticket has
  an owner but no process or time limit;
- a district's chosen value that lies outside the recommended range of its rule (or whose
  rule is gone or no longer recommended): resolution then silently falls back to the
  range's upper bound, so the district's choice is not what its tickets get.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.catalogue import service
from minyi.catalogue.domain import ListSnapshot, StandardKind, in_range
from minyi.catalogue.models import Item
from minyi.org.domain import AreaLevel
from minyi.org.models import Area, Unit

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Area:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None


class UncoveredItem(BaseModel):
    item_id: int
    item_path: str
    name: str


class DistrictGap(BaseModel):
    item_path: str
    name: str
    district_code: str
    district_name: str
    area_codes: list[str]  # the streets (or the district) where the item finds no owner


class MissingImplementation(BaseModel):
    item_path: str
    name: str
    unit_code: str
    unit_name: str
    area_codes: list[str]  # where the responsibility list sends this item to this unit


class ChoiceProblem(BaseModel):
    item_path: str
    unit_code: str | None
    district_code: str
    completion_days: int
    min_days: int | None
    max_days: int | None
    problem: Literal["out_of_range", "not_recommended", "no_rule"]
    reason: str
    reason_en: str


class CoverageReport(BaseModel):
    at: datetime
    batch_number: str | None
    leaf_items: int
    uncovered_count: int
    uncovered_items: list[UncoveredItem]
    district_gap_count: int
    district_gaps: list[DistrictGap]
    missing_implementation_count: int
    missing_implementations: list[MissingImplementation]
    choice_problem_count: int
    choice_problems: list[ChoiceProblem]
    truncated: bool  # a list was cut at `limit`; the counts are always complete


def coverage_report(session: Session, *, at: datetime, limit: int | None = None) -> CoverageReport:
    """The gaps of the lists in force at `at` (see the module docstring for what counts)."""
    snap = service.build_snapshot(session, service.batch_in_force(session, at))
    items = {i.id: i for i in session.scalars(select(Item)) if i.id in snap.item_parent}
    children: dict[int, list[int]] = defaultdict(list)
    for item_id, parent in snap.item_parent.items():
        if parent is not None:
            children[parent].append(item_id)
    leaves = sorted((i for i in items if i not in children), key=lambda i: items[i].path)
    areas = [
        _Area(*row)
        for row in session.execute(
            select(Area.id, Area.code, Area.name, Area.level, Area.parent_id)
        )
    ]
    units = {u.id: (u.code, u.name) for u in session.execute(select(Unit.id, Unit.code, Unit.name))}
    area_code = {a.id: a.code for a in areas}

    with_rule = {item_id for item_id, _ in snap.responsibility}
    uncovered = [i for i in leaves if not with_rule.intersection(snap.item_chain(i))]
    covered = [i for i in leaves if with_rule.intersection(snap.item_chain(i))]
    gaps = _district_gaps(snap, covered, items, areas)
    missing = _missing_implementations(snap, children, items, units, area_code)
    choices = _choice_problems(snap, items, units, area_code)

    def cut(values: list[_T]) -> list[_T]:
        return values if limit is None else values[:limit]

    return CoverageReport(
        at=at,
        batch_number=snap.batch_number,
        leaf_items=len(leaves),
        uncovered_count=len(uncovered),
        uncovered_items=cut(
            [
                UncoveredItem(
                    item_id=i, item_path=items[i].path, name=service.display_name(items[i])
                )
                for i in uncovered
            ]
        ),
        district_gap_count=len(gaps),
        district_gaps=cut(gaps),
        missing_implementation_count=len(missing),
        missing_implementations=cut(missing),
        choice_problem_count=len(choices),
        choice_problems=cut(choices),
        truncated=limit is not None
        and max(len(uncovered), len(gaps), len(missing), len(choices)) > limit,
    )


def _district_gaps(
    snap: ListSnapshot, leaves: list[int], items: dict[int, Item], areas: list[_Area]
) -> list[DistrictGap]:
    cities = [a.id for a in areas if a.level == AreaLevel.CITY.value]
    districts = [a for a in areas if a.level == AreaLevel.DISTRICT.value]
    streets: dict[int, list[_Area]] = defaultdict(list)
    for a in areas:
        if a.level == AreaLevel.STREET.value and a.parent_id is not None:
            streets[a.parent_id].append(a)
    gaps: list[DistrictGap] = []
    for leaf in leaves:
        chain = snap.item_chain(leaf)
        if any((i, c) in snap.responsibility for i in chain for c in cities):
            continue  # a city-wide rule reaches every street
        for district in sorted(districts, key=lambda d: d.code):
            targets = sorted(streets.get(district.id) or [district], key=lambda a: a.code)
            holes = [a.code for a in targets if snap.find_responsibility(leaf, a.id) is None]
            if holes:
                gaps.append(
                    DistrictGap(
                        item_path=items[leaf].path,
                        name=service.display_name(items[leaf]),
                        district_code=district.code,
                        district_name=district.name,
                        area_codes=holes,
                    )
                )
    return gaps


def _missing_implementations(
    snap: ListSnapshot,
    children: dict[int, list[int]],
    items: dict[int, Item],
    units: dict[int, tuple[str, str]],
    area_code: dict[int, str],
) -> list[MissingImplementation]:
    memo: dict[int, list[int]] = {}

    def leaves_under(item_id: int) -> list[int]:
        if item_id not in memo:
            kids = children.get(item_id)
            memo[item_id] = (
                [leaf for kid in kids for leaf in leaves_under(kid)] if kids else [item_id]
            )
        return memo[item_id]

    pairs: dict[tuple[int, int], set[str]] = defaultdict(set)
    for entry in snap.responsibility.values():
        if entry.item_id not in items:
            continue
        for leaf in leaves_under(entry.item_id):
            # A finer rule for the leaf in this area takes the leaf elsewhere.
            found = snap.find_responsibility(leaf, entry.area_id)
            if found is None or found.rule_id != entry.rule_id:
                continue
            if snap.find_implementation(leaf, entry.lead_unit_id) is None:
                pairs[(leaf, entry.lead_unit_id)].add(area_code.get(entry.area_id, ""))
    result = [
        MissingImplementation(
            item_path=items[leaf].path,
            name=service.display_name(items[leaf]),
            unit_code=units.get(unit, ("", ""))[0],
            unit_name=units.get(unit, ("", ""))[1],
            area_codes=sorted(where),
        )
        for (leaf, unit), where in pairs.items()
    ]
    return sorted(result, key=lambda m: (m.item_path, m.unit_code))


def _choice_problems(
    snap: ListSnapshot,
    items: dict[int, Item],
    units: dict[int, tuple[str, str]],
    area_code: dict[int, str],
) -> list[ChoiceProblem]:
    result: list[ChoiceProblem] = []
    for (item_id, unit_id, district_id), days in snap.district_values.items():
        entry = snap.implementation.get((item_id, unit_id))
        low = entry.recommended_min_days if entry else None
        high = entry.recommended_max_days if entry else None
        problem: Literal["out_of_range", "not_recommended", "no_rule"]
        if entry is None:
            problem = "no_rule"
            zh, en = "没有对应的实施规则", "no implementation rule for this item and unit"
        elif entry.standard_kind is not StandardKind.RECOMMENDED:
            problem = "not_recommended"
            zh = "对应的实施规则不是推荐性标准，区县取值不起作用"
            en = f"the rule is {entry.standard_kind.value}, so the district value is ignored"
        elif not in_range(days, low, high):
            problem = "out_of_range"
            zh = f"取值 {days} 天超出推荐范围 {low}–{high} 天，实际按 {high} 天计"
            en = f"{days} days lies outside {low}-{high}; tickets get {high} days instead"
        else:
            continue
        path = items[item_id].path if item_id in items else str(item_id)
        result.append(
            ChoiceProblem(
                item_path=path,
                unit_code=units[unit_id][0] if unit_id in units else None,
                district_code=area_code.get(district_id, str(district_id)),
                completion_days=days,
                min_days=low,
                max_days=high,
                problem=problem,
                reason=zh,
                reason_en=en,
            )
        )
    return sorted(result, key=lambda c: (c.item_path, c.unit_code or "", c.district_code))
