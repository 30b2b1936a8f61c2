"""The demo city's users: one per role (two dispatchers, two handlers), documented passwords.

The passwords are public on purpose (docs/demo-users.md): the demo database is for trying
the product, never for real data. Keep this table and that page in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from minyi.core.clock import Clock
from minyi.demo.units import DemoUnits
from minyi.org import service as org
from minyi.org.domain import ClientScope, Role
from minyi.org.models import Unit, User


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    password: str
    role: Role
    display_name: str
    # Where the user works: "city_centre", "centre:A3", "district:A3:ecology",
    # "first_street:A3" (the first street office of A3区), or "" for none.
    unit: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "minyi-admin-2026", Role.ADMIN, "系统管理员", "city_centre"),
    DemoUser("agent", "minyi-agent-2026", Role.AGENT, "话务员小王", "city_centre"),
    DemoUser("dispatcher", "minyi-dispatcher-2026", Role.DISPATCHER, "市派单员李敏", "city_centre"),
    DemoUser(
        "dispatcher-a3", "minyi-dispatcher-a3-2026", Role.DISPATCHER, "A3区派单员周强", "centre:A3"
    ),
    DemoUser(
        "handler",
        "minyi-handler-2026",
        Role.HANDLER,
        "A3区生态环境分局承办人",
        "district:A3:ecology",
    ),
    DemoUser(
        "handler-street", "minyi-handler-street-2026", Role.HANDLER, "街道承办人", "first_street:A3"
    ),
    DemoUser("leader", "minyi-leader-2026", Role.LEADER, "A3区分管领导", "centre:A3"),
    DemoUser("supervisor", "minyi-supervisor-2026", Role.SUPERVISOR, "督办员陈静", "city_centre"),
    DemoUser("analyst", "minyi-analyst-2026", Role.ANALYST, "数据分析员", "city_centre"),
    DemoUser("evaluator", "minyi-evaluator-2026", Role.EVALUATOR, "第三方评估员", ""),
    DemoUser("citizen", "minyi-citizen-2026", Role.CITIZEN, "市民张女士", ""),
)
MACHINE_CLIENT_NAME = "A3区12345分中心案件系统"


def _unit_for(key: str, units: DemoUnits, first_streets: dict[str, str]) -> Unit | None:
    if not key:
        return None
    if key == "city_centre":
        return units.city_centre
    kind, _, rest = key.partition(":")
    if kind == "centre":
        return units.district_centres[rest]
    if kind == "district":
        district, _, dept = rest.partition(":")
        return units.district[(district, dept)]
    if kind == "first_street":
        return units.street_offices[first_streets[rest]]
    raise ValueError(f"unknown unit key {key}")  # pragma: no cover


def create_users(
    session: Session, *, units: DemoUnits, first_streets: dict[str, str], clock: Clock
) -> list[User]:
    """Every demo user; `first_streets` maps a district code to its first street's code."""
    return [
        org.create_user(
            session,
            username=u.username,
            display_name=u.display_name,
            password=u.password,
            role=u.role,
            unit=_unit_for(u.unit, units, first_streets),
            clock=clock,
        )
        for u in DEMO_USERS
    ]


def create_machine_client(session: Session, *, units: DemoUnits, clock: Clock) -> str:
    """The A3 district centre's own case system; returns its key, which is shown only once."""
    centre = units.district_centres["A3"]
    _, key = org.create_machine_client(
        session,
        name=MACHINE_CLIENT_NAME,
        scopes=[
            ClientScope.APPEALS_CREATE,
            ClientScope.TICKETS_READ,
            ClientScope.TICKETS_ACT,
            ClientScope.LISTS_READ,
        ],
        unit=centre,
        area=centre.area,
        clock=clock,
    )
    return key
