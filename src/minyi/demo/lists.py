"""The demo city's three lists: the real standard as catalogue, then who handles what.

Batch 2026-01 (in force from 1 January 2026) seeds the catalogue from DB44/T 2479-2024,
refines two items below level 3 (noise by source, 水电气暖 by utility), and gives
- every item from level 3 down a city-wide lead (the department of its class or group),
- the street-level groups (pollution, property management, city appearance, street order)
  a district rule in every district, led by the district's own department,
- neighbour and family disputes a rule in every street, led by the street office, and
- an implementation row for every (item, lead unit) pair, with district choices for the
  recommended ones.

Batch 2026-08 (in force from 1 August 2026) moves construction noise in A3区 from the
district housing bureau to the A3 ecology bureau with the street office as co-unit, moves
car-moving requests (挪车) to the traffic police, and tightens social-life noise to a
2-hour response, so a ticket's routing visibly depends on the batch it falls under.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.catalogue.domain import ClosingRequirement, Process, ResponseLevel, StandardKind
from minyi.catalogue.models import Batch, Item
from minyi.core.clock import CHINA_TZ, Clock
from minyi.demo.layout import DISTRICTS, SEED
from minyi.demo.units import (
    CENTRE_LEGAL_BASIS,
    DemoUnits,
    city_department_for,
    section_for,
)
from minyi.org.models import Area, Unit

FIRST_BATCH = "2026-01"
FIRST_EFFECTIVE = datetime(2026, 1, 1, tzinfo=CHINA_TZ)
SECOND_BATCH = "2026-08"
SECOND_EFFECTIVE = datetime(2026, 8, 1, tzinfo=CHINA_TZ)
AUTHOR = "A市12345热线中心（演示数据）"

CONSTRUCTION_NOISE = "04020101"
SOCIAL_NOISE = "04020102"


@dataclass(frozen=True, slots=True)
class Refinement:
    code: str
    name: str
    definition: str
    keywords: tuple[str, ...]
    lead: str  # city department key, or "utility:<key>"
    legal_basis: str


NOISE_LAW = "《中华人民共和国噪声污染防治法》"
REFINEMENTS: dict[str, tuple[Refinement, ...]] = {
    "040201": (
        Refinement(
            CONSTRUCTION_NOISE,
            "建筑施工噪声",
            "建筑工地夜间施工、打桩、机械作业等产生的噪声",
            ("工地", "施工", "打桩", "夜间施工", "搅拌站"),
            "housing",
            NOISE_LAW + "《建设工程安全生产管理条例》",
        ),
        Refinement(
            SOCIAL_NOISE,
            "社会生活噪声",
            "商业经营、娱乐场所、广场舞、室内装修等产生的社会生活噪声",
            ("广场舞", "装修", "酒吧", "KTV", "喇叭"),
            "police",
            NOISE_LAW + "《中华人民共和国治安管理处罚法》",
        ),
        Refinement(
            "04020103",
            "交通运输噪声",
            "机动车、轨道交通、铁路、高架道路等交通运输产生的噪声",
            ("高铁", "地铁", "高架", "鸣笛", "货车"),
            "transport",
            NOISE_LAW,
        ),
        Refinement(
            "04020104",
            "工业噪声",
            "工业企业生产活动中产生的噪声",
            ("工厂", "厂房", "机器", "风机"),
            "ecology",
            NOISE_LAW,
        ),
    ),
    "090403": (
        Refinement(
            "09040301",
            "供水服务",
            "停水、水压、水质、水费等供水服务诉求",
            ("停水", "水压", "水质", "水费"),
            "utility:water",
            "《城市供水条例》",
        ),
        Refinement(
            "09040302",
            "供电服务",
            "停电、电压、电费等供电服务诉求",
            ("停电", "电压", "电费", "跳闸"),
            "utility:power",
            "《电力供应与使用条例》",
        ),
        Refinement(
            "09040303",
            "燃气服务",
            "停气、燃气报装、燃气费等燃气服务诉求",
            ("燃气", "天然气", "停气", "报装"),
            "utility:gas",
            "《城镇燃气管理条例》",
        ),
        Refinement(
            "09040304",
            "通信服务",
            "宽带、固话、移动网络信号等通信服务诉求",
            ("宽带", "信号", "网络", "光纤"),
            "utility:telecom",
            "《中华人民共和国电信条例》",
        ),
    ),
}

# Second-level groups that every district handles with its own department.
DISTRICT_GROUPS: dict[str, str] = {
    "0402": "ecology",
    "0306": "housing",
    "0303": "urban",
    "0307": "urban",
}
# Refinements that leave their group's district department for another one, or for none.
DISTRICT_OVERRIDES: dict[str, str | None] = {
    CONSTRUCTION_NOISE: "housing",
    SOCIAL_NOISE: None,
    "04020103": None,
}
# Items where two district departments must act together: (lead group key, co key).
DISTRICT_CO_UNITS: dict[str, str] = {
    "030705": "ecology",  # 露天烧烤: smoke
    "040202": "urban",  # 大气污染: often open burning in the street
    "030301": "housing",  # 建筑工程管理: the site's permit
}
STREET_ITEMS = ("090303", "090305")  # 家庭纠纷, 邻里纠纷: mediated where people live
STREET_LEGAL_BASIS = "《中华人民共和国人民调解法》《中华人民共和国城市居民委员会组织法》"
# Utilities that do not supply every district: there the district housing bureau leads.
UTILITY_GAPS = {"09040301": "water", "09040303": "gas"}


@dataclass
class ListCounts:
    items: int = 0
    refinements: int = 0
    responsibility: int = 0
    implementation: int = 0
    district_choices: int = 0
    batches: list[str] = field(default_factory=list)


@dataclass
class _Writer:
    """Adds rules to one batch, remembering which (item, unit) pairs need implementation."""

    session: Session
    batch: Batch
    districts: Sequence[Area]
    counts: ListCounts
    resource_rank: dict[str, int]
    pairs: dict[tuple[int, int], tuple[Item, Unit]] = field(default_factory=dict)

    def responsibility(
        self,
        item: Item,
        area: Area,
        lead: Unit,
        *,
        legal_basis: str,
        section: str | None = None,
        co_units: Sequence[Unit] = (),
    ) -> None:
        section_id = next((s.id for s in lead.sections if s.code == section), None)
        catalogue.add_responsibility(
            self.session,
            batch=self.batch,
            item=item,
            area=area,
            lead_unit_id=lead.id,
            lead_section_id=section_id,
            co_unit_ids=[u.id for u in co_units],
            legal_basis=legal_basis,
        )
        self.counts.responsibility += 1
        self.pairs.setdefault((item.id, lead.id), (item, lead))

    def implementations(self, acting_in: dict[int, list[Area]]) -> None:
        """One implementation row per (item, lead unit) pair added to this batch."""
        for item, unit in self.pairs.values():
            profile = implementation_profile(item.path, unit.code)
            catalogue.add_implementation(
                self.session,
                batch=self.batch,
                item=item,
                unit_id=unit.id,
                process=profile.process,
                response_level=profile.response_level,
                contact_hours=profile.contact_hours,
                completion_days=profile.completion_days,
                standard_kind=profile.standard_kind,
                recommended_min_days=profile.min_days,
                recommended_max_days=profile.max_days,
                closing_requirements=profile.closing,
            )
            self.counts.implementation += 1
            if profile.standard_kind is StandardKind.RECOMMENDED:
                assert profile.min_days is not None and profile.max_days is not None
                for district in acting_in.get(unit.id, self.districts):
                    catalogue.add_district_choice(
                        self.session,
                        batch=self.batch,
                        item=item,
                        unit_id=unit.id,
                        district=district,
                        completion_days=district_value(
                            profile.min_days, profile.max_days, self.resource_rank[district.code]
                        ),
                    )
                    self.counts.district_choices += 1
        self.pairs.clear()


@dataclass(frozen=True, slots=True)
class Profile:
    process: Process
    response_level: ResponseLevel
    contact_hours: int
    completion_days: int | None
    standard_kind: StandardKind
    min_days: int | None
    max_days: int | None
    closing: tuple[ClosingRequirement, ...]


_URGENT_GROUPS = ("0704", "0709", "0708", "9909")
_FAST_GROUPS = ("0402", "0306", "0307", "0303", "0305", "0512", "0904", "0703")
_SITE_GROUPS = ("0303", "0305", "0306", "0307", "0402", "0704", "0709")
_PHOTO_GROUPS = ("0303", "0305", "0307", "0402")
_LEGAL_CLASSES = ("08", "12", "13")


def implementation_profile(path: str, unit_code: str) -> Profile:
    """The implementation row for one (item, unit): the same every run for the same pair.

    Safety groups (fire, lifts, food, emergency hand-over) get the 2-hour response level,
    street-level nuisances 24 hours, the rest 7 or 15 days; a standard is mandatory,
    recommended (a range each district picks inside) or the unit's own.
    """
    rng = random.Random(f"{SEED}:{path}:{unit_code}")
    codes = path.split("/")
    level1, level2 = codes[0], codes[1]
    if level2 in _URGENT_GROUPS:
        level = ResponseLevel.H2
    elif level2 in _FAST_GROUPS or path.endswith(("09040301", "09040302", "09040303")):
        level = ResponseLevel.H24
    else:
        level = ResponseLevel.D15 if rng.random() < 0.3 else ResponseLevel.D7
    if level2 == "9909" or level1 == "13" or level2 == "0805":
        process = Process.SPECIAL  # hand-over, conduct complaints, labour arbitration
    elif level2 in ("9907", "9908") or rng.random() < 0.15:
        process = Process.SIMPLE
    else:
        process = Process.STANDARD
    days, low, high = {
        ResponseLevel.H2: (1, 1, 2),
        ResponseLevel.H24: (3, 2, 5),
        ResponseLevel.D7: (7, 3, 7),
        ResponseLevel.D15: (15, 7, 15),
    }[level]
    roll = rng.random()
    kind = (
        StandardKind.MANDATORY
        if roll < 0.5 or level is ResponseLevel.H2
        else StandardKind.RECOMMENDED
        if roll < 0.85
        else StandardKind.INDIVIDUAL
    )
    completion: int | None = days
    if kind is StandardKind.RECOMMENDED:
        completion = None
    elif kind is StandardKind.INDIVIDUAL:
        completion = rng.randint(low, days)
    closing = [ClosingRequirement.CITIZEN_CONTACTED]
    if level2 in _SITE_GROUPS:
        closing.append(ClosingRequirement.SITE_VISIT)
    if level2 in _PHOTO_GROUPS:
        closing.append(ClosingRequirement.RESULT_PHOTO)
    if level is ResponseLevel.D15:
        closing.append(ClosingRequirement.WRITTEN_REPLY)
    if level1 in _LEGAL_CLASSES:
        closing.append(ClosingRequirement.LEGAL_BASIS_CITED)
    return Profile(
        process=process,
        response_level=level,
        contact_hours={ResponseLevel.H2: 2, ResponseLevel.H24: 12}.get(level, 24),
        completion_days=completion,
        standard_kind=kind,
        min_days=low if kind is StandardKind.RECOMMENDED else None,
        max_days=high if kind is StandardKind.RECOMMENDED else None,
        closing=tuple(closing),
    )


def district_value(low: int, high: int, rank: int) -> int:
    """A district's pick in a recommended range: the better-resourced, the faster."""
    return low + round((high - low) * rank / 3)


def build_lists(
    session: Session,
    *,
    shared_data: Path,
    clock: Clock,
    city: Area,
    districts: Sequence[Area],
    streets: dict[str, list[Area]],
    units: DemoUnits,
) -> ListCounts:
    counts = ListCounts()
    rank = {d.code: d.resource_rank for d in DISTRICTS}
    rows = catalogue.read_standard(catalogue.standard_path(shared_data))
    first = catalogue.create_batch(
        session,
        number=FIRST_BATCH,
        author=AUTHOR,
        reason="初始清单：按 DB44/T 2479-2024 建立目录，明确市、区、街道三级职责和实施标准",
        effective_at=FIRST_EFFECTIVE,
        clock=clock,
        allow_backdated=True,  # the demo city comes with its history
    )
    counts.items = catalogue.seed_standard(session, batch=first, rows=rows)
    for parent_code, refinements in REFINEMENTS.items():
        (parent,) = catalogue.items_by_code(session, parent_code)
        for r in refinements:
            catalogue.add_item(
                session,
                batch=first,
                code=r.code,
                name=r.name,
                parent=parent,
                definition=r.definition,
                keywords=r.keywords,
            )
            counts.refinements += 1
    counts.items += counts.refinements
    catalogue.record_summary(first, items=counts.refinements)

    items, _ = catalogue.list_items(session, limit=100_000)
    writer = _Writer(session, first, districts, counts, rank)
    acting_in = _acting_in(units, districts, streets)
    _first_batch_rules(writer, items, city, districts, streets, units)
    writer.implementations(acting_in)
    catalogue.record_summary(
        first,
        responsibility=counts.responsibility,
        implementation=counts.implementation,
        district_choices=counts.district_choices,
    )
    counts.batches.append(FIRST_BATCH)

    before = (counts.responsibility, counts.implementation, counts.district_choices)
    second = catalogue.create_batch(
        session,
        number=SECOND_BATCH,
        author=AUTHOR,
        reason="第8批调整：A3区建筑施工噪声改由生态环境分局牵头、街道协办；挪车服务划归交警；"
        "社会生活噪声改为2小时响应",
        effective_at=SECOND_EFFECTIVE,
        clock=clock,
        allow_backdated=True,
    )
    writer.batch = second
    _second_batch_rules(writer, items, city, districts, streets, units)
    writer.implementations(acting_in)
    catalogue.record_summary(
        second,
        responsibility=counts.responsibility - before[0],
        implementation=counts.implementation - before[1],
        district_choices=counts.district_choices - before[2],
    )
    counts.batches.append(SECOND_BATCH)
    session.flush()
    return counts


def _acting_in(
    units: DemoUnits, districts: Sequence[Area], streets: dict[str, list[Area]]
) -> dict[int, list[Area]]:
    """The districts a unit works in: where its district choices are needed."""
    by_code = {d.code: d for d in districts}
    acting: dict[int, list[Area]] = {}
    for (district_code, _), unit in units.district.items():
        acting[unit.id] = [by_code[district_code]]
    for district_code, district_streets in streets.items():
        for street in district_streets:
            acting[units.street_offices[street.code].id] = [by_code[district_code]]
    for unit in units.utilities.values():
        ids = {j.area_id for j in unit.jurisdiction}
        acting[unit.id] = [d for d in districts if d.id in ids]
    return acting


def _one(items: Sequence[Item], code: str) -> Item:
    """The item printed with `code` (the standard's one duplicate code is never asked for)."""
    (item,) = [i for i in items if i.code == code]
    return item


def _first_batch_rules(
    w: _Writer,
    items: list[Item],
    city: Area,
    districts: Sequence[Area],
    streets: dict[str, list[Area]],
    units: DemoUnits,
) -> None:
    refined = {r.code: r for rs in REFINEMENTS.values() for r in rs}
    for item in items:
        if item.level < 3:
            continue
        codes = item.path.split("/")
        level1, level2 = codes[0], codes[1]
        refinement = refined.get(item.code) if item.level > 3 else None
        if refinement is not None:
            lead_key = refinement.lead
            if lead_key.startswith("utility:"):
                lead = units.utilities[lead_key.removeprefix("utility:")]
                w.responsibility(item, city, lead, legal_basis=refinement.legal_basis, section="QX")
            else:
                section = "JZ" if lead_key == "housing" else None
                w.responsibility(
                    item,
                    city,
                    units.city[lead_key],
                    legal_basis=refinement.legal_basis,
                    section=section,
                )
        else:
            spec = city_department_for(level1, level2)
            if spec is None:
                w.responsibility(
                    item, city, units.city_centre, legal_basis=CENTRE_LEGAL_BASIS, section="PD"
                )
            else:
                sec = section_for(spec, level2)
                w.responsibility(
                    item,
                    city,
                    units.city[spec.key],
                    legal_basis=spec.legal_basis,
                    section=sec.code if sec else None,
                )
        dept_key = DISTRICT_GROUPS.get(level2)
        if item.code in DISTRICT_OVERRIDES:
            dept_key = DISTRICT_OVERRIDES[item.code]
        if dept_key is not None:
            basis = "A市职责清单区级分工；" + (refinement.legal_basis if refinement else "属地管理")
            co_key = DISTRICT_CO_UNITS.get(item.code)
            for d in districts:
                co = [units.district[(d.code, co_key)]] if co_key else []
                w.responsibility(
                    item,
                    d,
                    units.district[(d.code, dept_key)],
                    legal_basis=basis,
                    section="ZF" if dept_key in ("ecology", "urban") else "WY",
                    co_units=co,
                )
    for code, utility_key in UTILITY_GAPS.items():
        item = _one(items, code)
        served = {j.area_id for j in units.utilities[utility_key].jurisdiction}
        for d in districts:
            if d.id not in served:
                w.responsibility(
                    item,
                    d,
                    units.district[(d.code, "housing")],
                    legal_basis="县城供水、供气由县住房和城乡建设局监管",
                )
    for code in STREET_ITEMS:
        item = _one(items, code)
        for d in districts:
            for street in streets[d.code]:
                w.responsibility(
                    item,
                    street,
                    units.street_offices[street.code],
                    legal_basis=STREET_LEGAL_BASIS,
                    section="ZH",
                )


def _second_batch_rules(
    w: _Writer,
    items: list[Item],
    city: Area,
    districts: Sequence[Area],
    streets: dict[str, list[Area]],
    units: DemoUnits,
) -> None:
    a3 = next(d for d in districts if d.code == "A3")
    noise = _one(items, CONSTRUCTION_NOISE)
    ecology = units.district[("A3", "ecology")]
    basis = NOISE_LAW + "；A市职责清单第8批调整：A3区建筑施工噪声由区生态环境分局牵头，街道协办"
    w.responsibility(noise, a3, ecology, legal_basis=basis, section="ZF")
    for street in streets["A3"]:
        w.responsibility(
            noise,
            street,
            ecology,
            legal_basis=basis,
            section="ZF",
            co_units=[units.street_offices[street.code]],
        )
    police = units.city["police"]
    for item in sorted(
        (i for i in items if i.path.split("/")[1:2] == ["0512"] and i.level == 3),
        key=lambda i: i.path,
    ):
        w.responsibility(
            item,
            city,
            police,
            legal_basis="《中华人民共和国道路交通安全法》；A市职责清单第8批调整：挪车服务由交警承担",
            section="JJ",
        )
    # Night-time noise cannot wait a day: the police now answer within 2 hours.
    social = _one(items, SOCIAL_NOISE)
    catalogue.add_implementation(
        w.session,
        batch=w.batch,
        item=social,
        unit_id=police.id,
        process=Process.STANDARD,
        response_level=ResponseLevel.H2,
        contact_hours=1,
        completion_days=1,
        standard_kind=StandardKind.MANDATORY,
        closing_requirements=(
            ClosingRequirement.CITIZEN_CONTACTED,
            ClosingRequirement.SITE_VISIT,
        ),
    )
    w.counts.implementation += 1
