"""Pure rules of the organisation: area levels, unit kinds, roles and scopes."""

from __future__ import annotations

from enum import StrEnum


class AreaLevel(StrEnum):
    """The five levels of "two platforms, five levels" (两级平台、五级应用)."""

    CITY = "city"
    DISTRICT = "district"
    STREET = "street"  # 街道 / 乡镇
    COMMUNITY = "community"  # 社区 / 村
    GRID = "grid"  # 网格

    @property
    def depth(self) -> int:
        return AREA_DEPTH[self]

    @property
    def label_zh(self) -> str:
        return AREA_LABEL_ZH[self]


AREA_DEPTH: dict[AreaLevel, int] = {
    AreaLevel.CITY: 0,
    AreaLevel.DISTRICT: 1,
    AreaLevel.STREET: 2,
    AreaLevel.COMMUNITY: 3,
    AreaLevel.GRID: 4,
}
AREA_LABEL_ZH: dict[AreaLevel, str] = {
    AreaLevel.CITY: "市",
    AreaLevel.DISTRICT: "区县",
    AreaLevel.STREET: "街道/乡镇",
    AreaLevel.COMMUNITY: "社区/村",
    AreaLevel.GRID: "网格",
}


def parent_level(level: AreaLevel) -> AreaLevel | None:
    """The level an area of `level` must hang under; a city hangs under nothing."""
    depth = level.depth
    if depth == 0:
        return None
    return next(lvl for lvl, d in AREA_DEPTH.items() if d == depth - 1)


class UnitKind(StrEnum):
    DISPATCH_CENTRE = "dispatch_centre"  # 12345 city centre or a district centre
    CITY_DEPARTMENT = "city_department"
    DISTRICT_DEPARTMENT = "district_department"
    STREET_OFFICE = "street_office"  # 街道办事处 / 乡镇政府
    COMMUNITY_COMMITTEE = "community_committee"  # 居委会 / 村委会
    GRID_STATION = "grid_station"  # 网格工作站: grid workers act here
    PUBLIC_INSTITUTION = "public_institution"  # 事业单位
    UTILITY = "utility"  # water, gas, power, telecom companies

    @property
    def label_zh(self) -> str:
        return UNIT_KIND_LABEL_ZH[self]


UNIT_KIND_LABEL_ZH: dict[UnitKind, str] = {
    UnitKind.DISPATCH_CENTRE: "派单中心",
    UnitKind.CITY_DEPARTMENT: "市直部门",
    UnitKind.DISTRICT_DEPARTMENT: "区直部门",
    UnitKind.STREET_OFFICE: "街道/乡镇",
    UnitKind.COMMUNITY_COMMITTEE: "社区居委会/村委会",
    UnitKind.GRID_STATION: "网格工作站",
    UnitKind.PUBLIC_INSTITUTION: "事业单位",
    UnitKind.UTILITY: "公共服务企业",
}

# The area level at which each kind of unit naturally sits (its home area).
UNIT_HOME_LEVEL: dict[UnitKind, tuple[AreaLevel, ...]] = {
    UnitKind.DISPATCH_CENTRE: (AreaLevel.CITY, AreaLevel.DISTRICT),
    UnitKind.CITY_DEPARTMENT: (AreaLevel.CITY,),
    UnitKind.DISTRICT_DEPARTMENT: (AreaLevel.DISTRICT,),
    UnitKind.STREET_OFFICE: (AreaLevel.STREET,),
    UnitKind.COMMUNITY_COMMITTEE: (AreaLevel.COMMUNITY,),
    UnitKind.GRID_STATION: (AreaLevel.GRID, AreaLevel.COMMUNITY),
    UnitKind.PUBLIC_INSTITUTION: (AreaLevel.CITY, AreaLevel.DISTRICT),
    UnitKind.UTILITY: (AreaLevel.CITY, AreaLevel.DISTRICT),
}


class UtilityService(StrEnum):
    WATER = "water"
    GAS = "gas"
    POWER = "power"
    TELECOM = "telecom"
    HEATING = "heating"


class Role(StrEnum):
    CITIZEN = "citizen"
    AGENT = "agent"  # 座席: hotline agent
    DISPATCHER = "dispatcher"  # city or district centre, by the unit the user belongs to
    HANDLER = "handler"  # 承办人
    LEADER = "leader"
    SUPERVISOR = "supervisor"  # 督办
    ANALYST = "analyst"
    EVALUATOR = "evaluator"  # third-party evaluator: read-only, anonymised
    ADMIN = "admin"

    @property
    def label_zh(self) -> str:
        return ROLE_LABEL_ZH[self]


ROLE_LABEL_ZH: dict[Role, str] = {
    Role.CITIZEN: "市民",
    Role.AGENT: "话务座席",
    Role.DISPATCHER: "派单员",
    Role.HANDLER: "承办人",
    Role.LEADER: "领导",
    Role.SUPERVISOR: "督办员",
    Role.ANALYST: "分析员",
    Role.EVALUATOR: "第三方评估员",
    Role.ADMIN: "管理员",
}

# Roles that need a unit; the others may stand alone (a citizen, a third-party evaluator).
ROLES_NEEDING_UNIT = frozenset(
    {Role.AGENT, Role.DISPATCHER, Role.HANDLER, Role.LEADER, Role.SUPERVISOR}
)


class ClientScope(StrEnum):
    """What a machine client (a unit's or district's own case system) may do."""

    APPEALS_CREATE = "appeals:create"
    TICKETS_READ = "tickets:read"
    TICKETS_ACT = "tickets:act"
    LISTS_READ = "lists:read"
    LISTS_WRITE = "lists:write"


def mask_phone(phone: str | None) -> str | None:
    """138****5678: enough to recognise one's own number, not enough to call it."""
    if not phone:
        return phone
    digits = phone.strip()
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return "*" * (len(digits) - 4) + digits[-4:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
