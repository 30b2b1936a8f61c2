"""Pure rules of the three lists (目录清单 / 职责清单 / 实施清单).

The lists are data; this module only knows how to read them. A `ListSnapshot` holds the
rules in force at one moment, indexed so that "who handles item X in area Y" is a handful
of dictionary look-ups: it walks the item from its finest grain up to its first level and,
for each, the area from the deepest level up to the city, and the first rule found wins.
So a street's own rule beats the district's, which beats the city's, and a refined item
(below level 3) inherits its parent's rule until it is given one of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Process(StrEnum):
    SIMPLE = "simple"  # 简易流程
    STANDARD = "standard"  # 标准流程
    SPECIAL = "special"  # 特殊流程


class ResponseLevel(StrEnum):
    """Beijing's four response levels: substantive feedback within 2 h, 24 h, 7 d or 15 d."""

    H2 = "2h"
    H24 = "24h"
    D7 = "7d"
    D15 = "15d"

    @property
    def hours(self) -> int | None:
        return {"2h": 2, "24h": 24}.get(self.value)

    @property
    def working_days(self) -> int | None:
        return {"7d": 7, "15d": 15}.get(self.value)


class StandardKind(StrEnum):
    MANDATORY = "mandatory"  # 强制性: one value city-wide
    RECOMMENDED = "recommended"  # 推荐性: a range; each district picks its value inside it
    INDIVIDUAL = "individual"  # 个性化: set by the unit


class ClosingRequirement(StrEnum):
    CITIZEN_CONTACTED = "citizen_contacted"  # 已联系诉求人
    RESULT_PHOTO = "result_photo"  # 办理结果照片
    SITE_VISIT = "site_visit"  # 现场核查
    WRITTEN_REPLY = "written_reply"  # 书面答复
    LEGAL_BASIS_CITED = "legal_basis_cited"  # 引用法律依据


CLOSING_REQUIREMENT_ZH: dict[ClosingRequirement, str] = {
    ClosingRequirement.CITIZEN_CONTACTED: "已联系诉求人",
    ClosingRequirement.RESULT_PHOTO: "办理结果照片",
    ClosingRequirement.SITE_VISIT: "现场核查",
    ClosingRequirement.WRITTEN_REPLY: "书面答复",
    ClosingRequirement.LEGAL_BASIS_CITED: "引用法律依据",
}

DEFAULT_CONTACT_HOURS = 24


@dataclass(frozen=True, slots=True)
class ResponsibilityEntry:
    rule_id: int
    item_id: int
    area_id: int
    lead_unit_id: int
    lead_section_id: int | None
    co_unit_ids: tuple[int, ...]
    legal_basis: str
    batch_number: str


@dataclass(frozen=True, slots=True)
class ImplementationEntry:
    rule_id: int
    item_id: int
    unit_id: int | None  # None: the item's default for any unit
    process: Process
    response_level: ResponseLevel
    contact_hours: int
    completion_days: int | None
    standard_kind: StandardKind
    recommended_min_days: int | None
    recommended_max_days: int | None
    closing_requirements: tuple[ClosingRequirement, ...]
    batch_number: str


@dataclass(frozen=True, slots=True)
class Implementation:
    """What the implementation list asks of the unit for one ticket, after district choice."""

    rule_id: int
    process: Process
    response_level: ResponseLevel
    contact_hours: int
    completion_days: int | None
    standard_kind: StandardKind
    closing_requirements: tuple[ClosingRequirement, ...]
    # Where the completion period came from: "mandatory", "district:<area id>", "range_max",
    # "unit" — shown to staff so a deadline is never a mystery.
    completion_source: str


@dataclass(frozen=True, slots=True)
class Resolution:
    """The answer to "who handles item X in area Y at time T, and by when"."""

    item_id: int
    area_id: int
    batch_number: str | None
    responsibility: ResponsibilityEntry | None
    implementation: Implementation | None
    matched_item_id: int | None = None
    matched_area_id: int | None = None

    @property
    def has_owner(self) -> bool:
        return self.responsibility is not None


def effective_completion_days(
    entry: ImplementationEntry, district_value: int | None, district_id: int | None
) -> tuple[int | None, str]:
    """The completion period a ticket gets under one implementation entry.

    Mandatory: the city-wide value. Recommended: the district's chosen value when it lies
    inside the range, else the range's upper bound (the slowest the list allows, never a
    value outside it). Individual: the unit's own value.
    """
    if entry.standard_kind is StandardKind.RECOMMENDED:
        low, high = entry.recommended_min_days, entry.recommended_max_days
        if district_value is not None and in_range(district_value, low, high):
            return district_value, f"district:{district_id}"
        return (high if high is not None else entry.completion_days), "range_max"
    if entry.standard_kind is StandardKind.MANDATORY:
        return entry.completion_days, "mandatory"
    return entry.completion_days, "unit"


def in_range(value: int, low: int | None, high: int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


@dataclass
class ListSnapshot:
    """The three lists as in force at one moment, indexed for look-up."""

    batch_number: str | None
    item_parent: Mapping[int, int | None]
    area_parent: Mapping[int, int | None]
    district_of: Mapping[int, int | None]
    responsibility: Mapping[tuple[int, int], ResponsibilityEntry]
    implementation: Mapping[tuple[int, int | None], ImplementationEntry]
    district_values: Mapping[tuple[int, int | None, int], int]
    _item_chain: dict[int, tuple[int, ...]] = field(default_factory=dict, repr=False)
    _area_chain: dict[int, tuple[int, ...]] = field(default_factory=dict, repr=False)

    def item_chain(self, item_id: int) -> tuple[int, ...]:
        chain = self._item_chain.get(item_id)
        if chain is None:
            chain = _chain(item_id, self.item_parent)
            self._item_chain[item_id] = chain
        return chain

    def area_chain(self, area_id: int) -> tuple[int, ...]:
        chain = self._area_chain.get(area_id)
        if chain is None:
            chain = _chain(area_id, self.area_parent)
            self._area_chain[area_id] = chain
        return chain

    def find_responsibility(self, item_id: int, area_id: int) -> ResponsibilityEntry | None:
        areas = self.area_chain(area_id)
        for item in self.item_chain(item_id):
            for area in areas:
                entry = self.responsibility.get((item, area))
                if entry is not None:
                    return entry
        return None

    def find_implementation(self, item_id: int, unit_id: int | None) -> ImplementationEntry | None:
        for item in self.item_chain(item_id):
            entry = self.implementation.get((item, unit_id))
            if entry is None and unit_id is not None:
                entry = self.implementation.get((item, None))
            if entry is not None:
                return entry
        return None

    def resolve(self, item_id: int, area_id: int) -> Resolution:
        resp = self.find_responsibility(item_id, area_id)
        impl: Implementation | None = None
        if resp is not None:
            entry = self.find_implementation(item_id, resp.lead_unit_id)
            if entry is not None:
                district = self.district_of.get(area_id)
                chosen = None
                if district is not None:
                    chosen = self.district_values.get((entry.item_id, entry.unit_id, district))
                days, source = effective_completion_days(entry, chosen, district)
                impl = Implementation(
                    rule_id=entry.rule_id,
                    process=entry.process,
                    response_level=entry.response_level,
                    contact_hours=entry.contact_hours,
                    completion_days=days,
                    standard_kind=entry.standard_kind,
                    closing_requirements=entry.closing_requirements,
                    completion_source=source,
                )
        return Resolution(
            item_id=item_id,
            area_id=area_id,
            batch_number=self.batch_number,
            responsibility=resp,
            implementation=impl,
            matched_item_id=resp.item_id if resp else None,
            matched_area_id=resp.area_id if resp else None,
        )


def _chain(start: int, parent: Mapping[int, int | None]) -> tuple[int, ...]:
    chain: list[int] = []
    seen: set[int] = set()
    node: int | None = start
    while node is not None and node not in seen:
        chain.append(node)
        seen.add(node)
        node = parent.get(node)
    return tuple(chain)


def item_path(codes: Sequence[str]) -> str:
    """A node's identity: its codes from the first level down, joined by '/'.

    The printed standard repeats code 090499 under two parents, so a code alone does not
    name a node; its full path does.
    """
    return "/".join(codes)
