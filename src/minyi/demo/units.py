"""The demo city's handling units: dispatch centres, departments, street offices, utilities.

One city department leads each of the catalogue's 14 first-level classes; a few second-level
groups go to the department that really handles them (city appearance to 城管, fire and
disasters to 应急管理, housing funds to the 公积金 centre). Each department has sections
(科室) that lead on some second-level groups, so dispatch can go straight to a section
(一派到底). Every district has its own dispatch centre and the three departments that take
most street-level appeals (ecology, housing, city management).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from minyi.org import service as org
from minyi.org.domain import UnitKind, UtilityService
from minyi.org.models import Area, Unit


@dataclass(frozen=True, slots=True)
class SectionSpec:
    code: str
    name: str
    groups: tuple[str, ...] = ()  # second-level catalogue codes this section leads on


@dataclass(frozen=True, slots=True)
class DepartmentSpec:
    key: str
    name: str
    classes: tuple[str, ...]  # first-level catalogue codes it leads on
    groups: tuple[str, ...]  # second-level codes taken from another class's department
    sections: tuple[SectionSpec, ...]
    legal_basis: str
    kind: UnitKind = UnitKind.CITY_DEPARTMENT


S = SectionSpec
CITY_DEPARTMENTS: tuple[DepartmentSpec, ...] = (
    DepartmentSpec(
        "edu",
        "市教育局",
        ("01",),
        (),
        (
            S("JC", "基础教育处", ("0102", "0107")),
            S("ZJ", "职业教育与成人教育处"),
            S("KJ", "科技信息处", ("0101",)),
        ),
        "《中华人民共和国教育法》",
    ),
    DepartmentSpec(
        "health",
        "市卫生健康委员会",
        ("02",),
        (),
        (
            S("YZ", "医政医管处", ("0203", "0205")),
            S("JK", "疾病预防控制处", ("0204",)),
            S("JC", "基层卫生健康处", ("0201", "0202")),
        ),
        "《中华人民共和国基本医疗卫生与健康促进法》",
    ),
    DepartmentSpec(
        "housing",
        "市住房和城乡建设局",
        ("03",),
        (),
        (
            S("FC", "房地产市场监管处", ("0302",)),
            S("WY", "物业管理处", ("0306",)),
            S("JZ", "建筑市场监管处"),
        ),
        "《物业管理条例》《城市房地产管理法》",
    ),
    DepartmentSpec(
        "ecology",
        "市生态环境局",
        ("04",),
        (),
        (
            S("DQ", "大气环境处"),
            S("SH", "水生态环境处"),
            S("ZF", "生态环境保护综合行政执法支队", ("0402",)),
        ),
        "《中华人民共和国环境保护法》",
    ),
    DepartmentSpec(
        "transport",
        "市交通运输局",
        ("05",),
        (),
        (
            S("YS", "道路运输管理处", ("0504", "0505")),
            S("GJ", "公共交通处", ("0502", "0503", "0508")),
            S("JS", "交通建设管理处", ("0511",)),
        ),
        "《中华人民共和国道路运输条例》",
    ),
    DepartmentSpec(
        "agri",
        "市农业农村局",
        ("06",),
        (),
        (S("ZZ", "种植业管理处", ("0601",)), S("XM", "畜牧水产处", ("0603", "0604"))),
        "《中华人民共和国农业法》",
    ),
    DepartmentSpec(
        "police",
        "市公安局",
        ("07",),
        ("9901",),
        (
            S("ZA", "治安管理支队", ("0703",)),
            S("HZ", "户政管理处", ("0702",)),
            S("CRJ", "出入境管理支队", ("0701",)),
            S("JJ", "交通警察支队", ("0512",)),
        ),
        "《中华人民共和国治安管理处罚法》",
    ),
    DepartmentSpec(
        "hrss",
        "市人力资源和社会保障局",
        ("08",),
        (),
        (
            S("LD", "劳动关系处", ("0804", "0805")),
            S("SB", "社会保险处", ("0801",)),
            S("JY", "就业促进处", ("0803", "0806")),
        ),
        "《中华人民共和国劳动合同法》《社会保险法》",
    ),
    DepartmentSpec(
        "civil",
        "市民政局",
        ("09",),
        (),
        (
            S("JZ", "社会救助处", ("0901",)),
            S("JC", "基层政权建设和社区治理处", ("0903",)),
            S("YL", "养老服务处"),
        ),
        "《中华人民共和国城市居民委员会组织法》《社会救助暂行办法》",
    ),
    DepartmentSpec(
        "market",
        "市市场监督管理局",
        ("10",),
        ("0708", "0709"),
        (
            S("XB", "消费者权益保护处", ("1002",)),
            S("SP", "食品安全协调处", ("0708",)),
            S("TS", "特种设备安全监察处", ("0709",)),
        ),
        "《中华人民共和国消费者权益保护法》《食品安全法》",
    ),
    DepartmentSpec(
        "commerce",
        "市商务局",
        ("11",),
        (),
        (S("SC", "市场运行调节处", ("1103",)), S("WM", "对外贸易处", ("1101", "1107"))),
        "《中华人民共和国对外贸易法》",
    ),
    DepartmentSpec(
        "justice",
        "市司法局",
        ("12",),
        ("9902",),
        (S("GF", "公共法律服务处", ("1201",)), S("LS", "律师工作处", ("1202",))),
        "《中华人民共和国律师法》《法律援助法》",
    ),
    DepartmentSpec(
        "gov_service",
        "市政务服务管理局",
        ("13",),
        (),
        (S("XN", "效能督查科", ("1301",)), S("SP", "行政审批协调科", ("1303",))),
        "《优化营商环境条例》",
    ),
    DepartmentSpec(
        "gov_office",
        "市人民政府办公厅",
        ("99",),
        (),
        (S("ZH", "综合协调处"), S("DC", "督查室")),
        "《A市12345政务服务便民热线管理办法》",
    ),
    DepartmentSpec(
        "urban",
        "市城市管理和综合执法局",
        (),
        ("0303", "0305", "0307"),
        (
            S("SR", "市容环境卫生处", ("0303",)),
            S("SZ", "市政设施管理处", ("0305",)),
            S("ZF", "综合执法支队", ("0307",)),
        ),
        "《城市市容和环境卫生管理条例》",
    ),
    DepartmentSpec(
        "planning",
        "市自然资源和规划局",
        (),
        ("0304", "0401", "0405", "0406"),
        (S("GH", "国土空间规划处", ("0304",)), S("ZY", "自然资源调查监测处", ("0401",))),
        "《中华人民共和国城乡规划法》《土地管理法》",
    ),
    DepartmentSpec(
        "emergency",
        "市应急管理局",
        (),
        ("0704", "0705", "0707"),
        (S("AQ", "安全生产监督管理处", ("0705",)), S("JZ", "防灾减灾救灾处", ("0707",))),
        "《中华人民共和国安全生产法》《消防法》",
    ),
    DepartmentSpec(
        "culture",
        "市文化旅游广电局",
        (),
        ("0103", "0104", "0105", "0106", "0108"),
        (S("WH", "文化市场管理处", ("0103",)), S("LY", "旅游市场管理处", ("0108",))),
        "《中华人民共和国旅游法》",
    ),
    DepartmentSpec(
        "fund",
        "市住房公积金管理中心",
        (),
        ("0301",),
        (S("GJ", "归集管理部"), S("DK", "贷款管理部")),
        "《住房公积金管理条例》",
        UnitKind.PUBLIC_INSTITUTION,
    ),
)
# What the 12345 centre itself answers for: the hotline, invalid appeals, emergency hand-over.
CENTRE_GROUPS = ("9907", "9908", "9909")
CENTRE_LEGAL_BASIS = "《A市12345政务服务便民热线管理办法》"


@dataclass(frozen=True, slots=True)
class DistrictDepartmentSpec:
    key: str
    suffix: str  # the unit is named district name + suffix: "A3区生态环境分局"
    parent: str  # key of the city department that supervises it
    sections: tuple[tuple[str, str], ...]


DISTRICT_DEPARTMENTS: tuple[DistrictDepartmentSpec, ...] = (
    DistrictDepartmentSpec(
        "ecology", "生态环境分局", "ecology", (("ZF", "执法大队"), ("HP", "环评科"))
    ),
    DistrictDepartmentSpec(
        "housing",
        "住房和城乡建设局",
        "housing",
        (("WY", "物业科"), ("JG", "建设工程质量安全监督站")),
    ),
    DistrictDepartmentSpec(
        "urban", "城市管理和综合执法局", "urban", (("ZF", "执法大队"), ("HW", "环卫科"))
    ),
)


@dataclass(frozen=True, slots=True)
class UtilitySpec:
    key: str
    name: str
    service: UtilityService
    districts: tuple[str, ...]  # district codes it supplies
    phone: str  # its 24-hour repair line: the portal's tap-to-call for a gas leak


UTILITIES: tuple[UtilitySpec, ...] = (
    # The two counties in the west and east keep their own county water and gas works,
    # so the city companies serve the urban districts and A7县 only.
    UtilitySpec(
        "water",
        "A市供水有限公司",
        UtilityService.WATER,
        ("A1", "A2", "A3", "A4", "A5", "A6", "A7"),
        "96116",
    ),
    UtilitySpec(
        "gas",
        "A市燃气有限公司",
        UtilityService.GAS,
        ("A1", "A2", "A3", "A4", "A5", "A6", "A7"),
        "96777",
    ),
    UtilitySpec(
        "power",
        "国网A市供电公司",
        UtilityService.POWER,
        ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9"),
        "95598",
    ),
    UtilitySpec(
        "telecom",
        "A市通信运营服务中心",
        UtilityService.TELECOM,
        ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9"),
        "10000",
    ),
)
COMMUNITY_COMMITTEES = 6  # the most mentioned real communities get their committee as a unit


@dataclass
class DemoUnits:
    """The units by role, as the list builder and the user builder need them."""

    city_centre: Unit
    district_centres: dict[str, Unit]  # district code → centre
    city: dict[str, Unit]  # department key → unit
    district: dict[tuple[str, str], Unit]  # (district code, department key) → unit
    street_offices: dict[str, Unit]  # street code → office
    community_committees: dict[str, Unit]  # community code → committee
    utilities: dict[str, Unit]  # utility key → unit

    def all(self) -> list[Unit]:
        return [
            self.city_centre,
            *self.district_centres.values(),
            *self.city.values(),
            *self.district.values(),
            *self.street_offices.values(),
            *self.community_committees.values(),
            *self.utilities.values(),
        ]


def office_name(street: Area) -> str:
    """街道办事处 for a 街道, 人民政府 for a 镇 or 乡."""
    if street.name.endswith("街道"):
        return f"{street.name}办事处"
    return f"{street.name}人民政府"


def committee_name(community: Area) -> str:
    if community.name.endswith("村"):
        return f"{community.name}村民委员会"
    return f"{community.name}居民委员会"


def create_units(
    session: Session,
    *,
    city: Area,
    districts: Sequence[Area],
    streets: Mapping[str, Sequence[Area]],
    committees_for: Sequence[Area],
) -> DemoUnits:
    """Create every unit of the demo city, each answering for its own area or districts."""
    by_code = {d.code: d for d in districts}
    city_centre = org.create_unit(
        session,
        code="A-12345",
        name="A市12345政务服务便民热线中心",
        kind=UnitKind.DISPATCH_CENTRE,
        area=city,
        phone="12345",
        sections=[("PD", "派单科"), ("ZX", "话务座席科"), ("DB", "督办科"), ("FX", "数据分析科")],
    )
    centres = {
        d.code: org.create_unit(
            session,
            code=f"{d.code}-12345",
            name=f"{d.name}12345热线分中心",
            kind=UnitKind.DISPATCH_CENTRE,
            area=d,
            parent=city_centre,
            sections=[("PD", "派单科")],
        )
        for d in districts
    }
    city_units = {
        spec.key: org.create_unit(
            session,
            code=f"A-{spec.key.upper()}",
            name=spec.name,
            kind=spec.kind,
            area=city,
            sections=[(s.code, s.name) for s in spec.sections],
        )
        for spec in CITY_DEPARTMENTS
    }
    district_units: dict[tuple[str, str], Unit] = {}
    for d in districts:
        for dd in DISTRICT_DEPARTMENTS:
            district_units[(d.code, dd.key)] = org.create_unit(
                session,
                code=f"{d.code}-{dd.key.upper()}",
                name=f"{d.name}{dd.suffix}",
                kind=UnitKind.DISTRICT_DEPARTMENT,
                area=d,
                parent=city_units[dd.parent],
                sections=dd.sections,
            )
    offices: dict[str, Unit] = {}
    for d in districts:
        for street in streets[d.code]:
            offices[street.code] = org.create_unit(
                session,
                code=f"{street.code}-JD",
                name=office_name(street),
                kind=UnitKind.STREET_OFFICE,
                area=street,
                sections=[("ZH", "综合治理办公室"), ("CG", "城市管理办公室")],
            )
    committees = {
        c.code: org.create_unit(
            session,
            code=f"{c.code}-JW",
            name=committee_name(c),
            kind=UnitKind.COMMUNITY_COMMITTEE,
            area=c,
        )
        for c in committees_for
    }
    utilities = {
        u.key: org.create_unit(
            session,
            code=f"A-{u.key.upper()}",
            name=u.name,
            kind=UnitKind.UTILITY,
            area=city,
            service=u.service.value,
            phone=u.phone,
            jurisdiction=[by_code[c] for c in u.districts],
            sections=[("QX", "抢修调度中心"), ("KF", "客户服务中心")],
        )
        for u in UTILITIES
    }
    return DemoUnits(
        city_centre=city_centre,
        district_centres=centres,
        city=city_units,
        district=district_units,
        street_offices=offices,
        community_committees=committees,
        utilities=utilities,
    )


def city_department_for(level1: str, level2: str) -> DepartmentSpec | None:
    """The city department that leads on items of this group (None: the 12345 centre)."""
    if level2 in CENTRE_GROUPS:
        return None
    for spec in CITY_DEPARTMENTS:
        if level2 in spec.groups:
            return spec
    for spec in CITY_DEPARTMENTS:
        if level1 in spec.classes:
            return spec
    raise LookupError(f"no department for class {level1}")  # pragma: no cover


def section_for(spec: DepartmentSpec, level2: str) -> SectionSpec | None:
    return next((s for s in spec.sections if level2 in s.groups), None)
