"""Small factories that build test data through the services (never raw rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.catalogue.models import Batch, Item
from minyi.org import service as org
from minyi.org.domain import AreaLevel, Role, UnitKind
from minyi.org.models import Area, Unit, User
from minyi.tickets.models import Ticket

PASSWORD = "correct-horse-42"


@dataclass
class Town:
    """A small city: one district with two streets, a community and a grid under the first."""

    city: Area
    district: Area
    street: Area
    other_street: Area
    community: Area
    grid: Area


def make_town(session: Session, prefix: str = "T") -> Town:
    city = org.create_area(session, code=f"{prefix}", name=f"{prefix}市", level=AreaLevel.CITY)
    district = org.create_area(
        session, code=f"{prefix}1", name=f"{prefix}1区", level=AreaLevel.DISTRICT, parent=city
    )
    street = org.create_area(
        session, code=f"{prefix}1-01", name="东风街道", level=AreaLevel.STREET, parent=district
    )
    other = org.create_area(
        session, code=f"{prefix}1-02", name="西湖街道", level=AreaLevel.STREET, parent=district
    )
    community = org.create_area(
        session,
        code=f"{prefix}1-01-001",
        name="幸福社区",
        level=AreaLevel.COMMUNITY,
        parent=street,
    )
    grid = org.create_area(
        session,
        code=f"{prefix}1-01-001-01",
        name="幸福社区第一网格",
        level=AreaLevel.GRID,
        parent=community,
    )
    return Town(city, district, street, other, community, grid)


def make_unit(
    session: Session,
    code: str,
    area: Area,
    kind: UnitKind = UnitKind.DISTRICT_DEPARTMENT,
    name: str | None = None,
) -> Unit:
    return org.create_unit(session, code=code, name=name or f"单位{code}", kind=kind, area=area)


def make_user(session: Session, username: str, role: Role, unit: Unit | None = None) -> User:
    return org.create_user(
        session, username=username, display_name=username, password=PASSWORD, role=role, unit=unit
    )


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_batch(session: Session, number: str, effective_at: datetime | None = None) -> Batch:
    return catalogue.create_batch(
        session,
        number=number,
        author="测试管理员",
        reason="测试批次",
        effective_at=effective_at or datetime(2026, 1, 1, tzinfo=UTC),
        allow_backdated=True,
    )


def make_items(session: Session, batch: Batch) -> tuple[Item, Item, Item]:
    """环境 > 噪声污染 > 建筑施工噪声: a three-level branch of our own (not the standard's)."""
    top = catalogue.add_item(session, batch=batch, code="T4", name="环境", parent=None)
    mid = catalogue.add_item(session, batch=batch, code="T402", name="噪声污染", parent=top)
    leaf = catalogue.add_item(
        session,
        batch=batch,
        code="T40201",
        name="建筑施工噪声",
        parent=mid,
        definition="夜间施工、打桩等建筑施工噪声",
    )
    return top, mid, leaf


@dataclass
class World:
    """A town with its centres, units, staff and one routed item: enough to run tickets."""

    town: Town
    city_centre: Unit
    district_centre: Unit
    bureau: Unit  # lead for noise in the district
    street_office: Unit  # co-unit
    other_unit: Unit  # a unit in another street, for scoping
    noise: Item


def make_world(session: Session) -> World:
    town = make_town(session)
    city_centre = make_unit(session, "C-12345", town.city, UnitKind.DISPATCH_CENTRE, "T市12345中心")
    district_centre = make_unit(
        session, "D-12345", town.district, UnitKind.DISPATCH_CENTRE, "T1区12345分中心"
    )
    bureau = make_unit(session, "ENV1", town.district, name="T1区生态环境分局")
    street_office = make_unit(
        session, "ST1", town.street, UnitKind.STREET_OFFICE, name="东风街道办事处"
    )
    other_unit = make_unit(
        session, "ST2", town.other_street, UnitKind.STREET_OFFICE, "西湖街道办事处"
    )
    batch = make_batch(session, "2026-01")
    _, _, noise = make_items(session, batch)
    catalogue.add_responsibility(
        session,
        batch=batch,
        item=noise,
        area=town.district,
        lead_unit_id=bureau.id,
        co_unit_ids=[street_office.id],
        legal_basis="《噪声污染防治法》",
    )
    catalogue.add_implementation(
        session, batch=batch, item=noise, unit_id=bureau.id, completion_days=5
    )
    users = [
        ("agent", Role.AGENT, city_centre),
        ("dispatcher", Role.DISPATCHER, city_centre),
        ("district-dispatcher", Role.DISPATCHER, district_centre),
        ("handler", Role.HANDLER, bureau),
        ("street-handler", Role.HANDLER, street_office),
        ("other-handler", Role.HANDLER, other_unit),
        ("leader", Role.LEADER, bureau),
        ("supervisor", Role.SUPERVISOR, city_centre),
        ("evaluator", Role.EVALUATOR, None),
        ("citizen", Role.CITIZEN, None),
        ("admin", Role.ADMIN, None),
    ]
    for username, role, unit in users:
        make_user(session, username, role, unit)
    session.flush()
    return World(town, city_centre, district_centre, bureau, street_office, other_unit, noise)


_counter = {"n": 0}


def make_ticket(
    session: Session,
    world: World,
    *,
    text: str = "工地晚上十一点还在打桩，吵得孩子睡不着",
    phone: str = "13812345678",
    anonymous: bool = False,
    citizen: User | None = None,
    area: Area | None = None,
) -> Ticket:
    """A ticket received on the hotline, about construction noise in the town's grid."""
    from minyi.intake.models import Requester
    from minyi.tickets import service as tickets
    from minyi.tickets.access import Principal

    _counter["n"] += 1
    now = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    requester = Requester(
        kind="person",
        name="王小明",
        phone=phone,
        phone_last4=phone[-4:],
        id_number="110101199003078515",
        user_id=citizen.id if citizen else None,
        created_at=now,
    )
    session.add(requester)
    session.flush()
    new = tickets.NewTicket(
        tracking_code=f"TK{_counter['n']:08d}",
        channel="hotline",
        appeal_type="complaint",
        title="夜间施工噪声",
        text=text,
        dedupe_hash=f"h{_counter['n']}",
        address_text="东风街道幸福小区3栋",
        area_id=(area or world.town.grid).id,
        requester_id=requester.id,
        anonymous=anonymous,
        item_id=world.noise.id,
    )
    return tickets.open_ticket(session, new=new, principal=Principal(session=session, system=True))
