"""Building A市 into the test database once for the module, rolled back at the end.

Every test here reads the one built city; none writes. (Tests that need the per-test
`session` fixture live in other modules: on SQLite a second writer would wait for this
module's open transaction.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.catalogue.models import DistrictChoice, ImplementationRule, Item
from minyi.core.clock import CHINA_TZ, FixedClock
from minyi.core.errors import Conflict
from minyi.demo.city import DemoSummary, build_demo_city, plan_from_shared_data
from minyi.demo.lists import CONSTRUCTION_NOISE
from minyi.demo.users import DEMO_USERS
from minyi.org import service as org
from minyi.org.domain import AreaLevel, Role
from minyi.org.models import Area, MachineClient, Unit, User

REPO = Path(__file__).resolve().parents[2]
BEFORE_AUGUST = datetime(2026, 7, 31, 12, 0, tzinfo=CHINA_TZ)
AFTER_AUGUST = datetime(2026, 8, 2, 12, 0, tzinfo=CHINA_TZ)


@dataclass
class Built:
    session: Session
    summary: DemoSummary


@pytest.fixture(scope="module")
def built(engine: Engine, shared_data: Path) -> Iterator[Built]:
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    catalogue.get_index().clear()
    try:
        clock = FixedClock(datetime(2026, 1, 1, 1, 0, tzinfo=UTC))
        yield Built(session, build_demo_city(session, shared_data=shared_data, clock=clock))
    finally:
        session.close()
        catalogue.get_index().clear()
        transaction.rollback()
        connection.close()


def areas(session: Session, level: AreaLevel) -> list[Area]:
    return list(session.scalars(select(Area).where(Area.level == level.value).order_by(Area.code)))


def area_named(session: Session, name: str, level: AreaLevel) -> Area:
    return session.scalars(select(Area).where(Area.name == name, Area.level == level.value)).one()


def district_of(session: Session, area: Area) -> Area:
    node = area
    while node.level != AreaLevel.DISTRICT.value:
        assert node.parent is not None
        node = node.parent
    return node


def test_nine_districts_named_as_the_messages_name_them(built: Built) -> None:
    city = areas(built.session, AreaLevel.CITY)
    assert [(c.code, c.name) for c in city] == [("A", "A市")]
    assert city[0].population and city[0].population > 5_000_000
    districts = areas(built.session, AreaLevel.DISTRICT)
    assert [d.name for d in districts] == [
        "A1区", "A2区", "A3区", "A4区", "A5区", "A6区", "A7县", "A8县", "A9市"
    ]  # fmt: skip
    assert all(d.parent_id == city[0].id and d.population for d in districts)


def test_sizes_of_the_tree(built: Built) -> None:
    s = built.session
    assert 55 <= len(areas(s, AreaLevel.STREET)) <= 65
    assert 380 <= len(areas(s, AreaLevel.COMMUNITY)) <= 420
    grids = areas(s, AreaLevel.GRID)
    assert 1900 <= len(grids) <= 2100
    assert all(g.boundary_wkt and g.boundary_wkt.startswith("POLYGON((") for g in grids)
    summary = built.summary
    assert summary.streets_real + summary.streets_generated == summary.areas["street"]
    assert summary.communities_real >= 150 and summary.communities_generated > 0
    assert 90 <= summary.units <= 140


def test_real_place_names_are_in_their_districts(built: Built) -> None:
    s = built.session
    # streets the real messages name right after their district
    assert district_of(s, area_named(s, "天顶街道", AreaLevel.STREET)).name == "A3区"
    assert district_of(s, area_named(s, "泉塘街道", AreaLevel.STREET)).name == "A7县"
    star = area_named(s, "星沙街道", AreaLevel.STREET)
    assert "星沙镇" in star.aliases
    # a real community under its real street
    community = area_named(s, "青山新村社区", AreaLevel.COMMUNITY)
    assert community.parent is not None and community.parent.name == "天顶街道"
    assert "青山新村" in community.aliases
    # a real estate (the hotspot cluster's) is an alias of a community of its district
    holders = [c for c in areas(s, AreaLevel.COMMUNITY) if "丽发新城" in c.aliases]
    assert len(holders) == 1 and district_of(s, holders[0]).name == "A2区"


def test_the_database_holds_the_deterministic_plan(built: Built, shared_data: Path) -> None:
    _, plan = plan_from_shared_data(shared_data)
    stored = {(a.code, a.name, tuple(a.aliases)) for a in built.session.scalars(select(Area))}
    assert stored == {(a.code, a.name, a.aliases) for a in plan.areas}


def test_units_by_kind(built: Built) -> None:
    s = built.session
    centres = s.scalars(select(Unit).where(Unit.kind == "dispatch_centre")).all()
    assert len(centres) == 10
    offices = s.scalar(select(func.count()).where(Unit.kind == "street_office"))
    assert offices == len(areas(s, AreaLevel.STREET))
    ecology = org.get_unit_by_code_or_raise(s, "A3-ECOLOGY")
    assert ecology.name == "A3区生态环境分局" and ecology.parent_id is not None
    for name in ("市教育局", "市卫生健康委员会", "市住房和城乡建设局", "市生态环境局", "市公安局"):
        unit = s.scalars(select(Unit).where(Unit.name == name)).one()
        assert 2 <= len(unit.sections) <= 4
    water = org.get_unit_by_code_or_raise(s, "A-WATER")
    assert water.service == "water" and len(water.jurisdiction) == 7


def leaves(session: Session) -> list[Item]:
    items = session.scalars(select(Item)).all()
    parents = {i.parent_id for i in items}
    return [i for i in items if i.id not in parents]


@pytest.mark.parametrize("when", [BEFORE_AUGUST, AFTER_AUGUST], ids=["2026-01", "2026-08"])
def test_every_leaf_item_has_a_lead_and_an_implementation_everywhere(
    built: Built, when: datetime
) -> None:
    s = built.session
    leaf_items = leaves(s)
    assert len(leaf_items) == 515 - 2 + 8  # two level-3 items refined into four each
    snapshot = catalogue.get_index().snapshot(s, when)
    places = areas(s, AreaLevel.DISTRICT) + areas(s, AreaLevel.GRID)[::250]
    missing = [
        (item.path, area.code)
        for item in leaf_items
        for area in places
        if (r := snapshot.resolve(item.id, area.id)).responsibility is None
        or r.implementation is None
        or (r.implementation.completion_days or 0) <= 0
    ]
    assert missing == []


def test_implementation_rules_mix_and_district_choices_stay_in_range(built: Built) -> None:
    s = built.session
    rules = s.scalars(select(ImplementationRule)).all()
    assert {r.process for r in rules} == {"simple", "standard", "special"}
    assert {r.response_level for r in rules} == {"2h", "24h", "7d", "15d"}
    assert {r.standard_kind for r in rules} == {"mandatory", "recommended", "individual"}
    ranges = {
        (r.item_id, r.unit_id): (r.recommended_min_days, r.recommended_max_days)
        for r in rules
        if r.standard_kind == "recommended"
    }
    choices = s.scalars(select(DistrictChoice)).all()
    assert choices
    for choice in choices:
        low, high = ranges[(choice.item_id, choice.unit_id)]
        assert low is not None and high is not None
        assert low <= choice.completion_days <= high


def test_construction_noise_in_a3_moves_in_august(built: Built) -> None:
    s = built.session
    (noise,) = catalogue.items_by_code(s, CONSTRUCTION_NOISE)
    street = area_named(s, "天顶街道", AreaLevel.STREET)
    grid = s.scalars(
        select(Area).where(Area.code.startswith(street.code + "-"), Area.level == "grid")
    ).first()
    assert grid is not None

    before = catalogue.resolve(s, item_id=noise.id, area_id=grid.id, at=BEFORE_AUGUST)
    after = catalogue.resolve(s, item_id=noise.id, area_id=grid.id, at=AFTER_AUGUST)

    assert before.batch_number == "2026-01" and after.batch_number == "2026-08"
    assert before.responsibility is not None and after.responsibility is not None
    housing = org.get_unit_by_code_or_raise(s, "A3-HOUSING")
    ecology = org.get_unit_by_code_or_raise(s, "A3-ECOLOGY")
    office = org.get_unit_by_code_or_raise(s, f"{street.code}-JD")
    assert before.responsibility.lead_unit_id == housing.id
    assert after.responsibility.lead_unit_id == ecology.id
    assert after.responsibility.co_unit_ids == (office.id,)
    assert after.implementation is not None
    # elsewhere nothing moved
    a1 = area_named(s, "A1区", AreaLevel.DISTRICT)
    elsewhere = catalogue.resolve(s, item_id=noise.id, area_id=a1.id, at=AFTER_AUGUST)
    assert elsewhere.responsibility is not None
    assert (
        elsewhere.responsibility.lead_unit_id == org.get_unit_by_code_or_raise(s, "A1-HOUSING").id
    )


def test_one_user_per_role_with_documented_passwords(built: Built) -> None:
    s = built.session
    roles = set(s.scalars(select(User.role)))
    assert roles == {r.value for r in Role}
    admin = org.authenticate(s, username="admin", password="minyi-admin-2026")
    assert admin.role == "admin"
    assert s.scalar(select(func.count()).select_from(MachineClient)) == 1
    doc = (REPO / "docs" / "demo-users.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| `([^`]+)` \| `([^`]+)` \|", doc, flags=re.M))
    assert documented == {u.username: u.password for u in DEMO_USERS}


def test_building_twice_is_refused(built: Built, shared_data: Path) -> None:
    clock = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(Conflict):
        build_demo_city(built.session, shared_data=shared_data, clock=clock)
