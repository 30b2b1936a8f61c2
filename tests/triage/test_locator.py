"""The locator: names in an appeal → district, street, community; coordinates → grid."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from minyi.org import service as org
from minyi.org.domain import AreaLevel
from minyi.triage.locator import (
    AreaRow,
    Location,
    Locator,
    clear_locator_cache,
    get_locator,
)


def square(west: float, south: float, size: float = 0.01) -> str:
    e, n = west + size, south + size
    return f"POLYGON(({west} {south}, {e} {south}, {e} {n}, {west} {n}, {west} {south}))"


# A small city: two districts, a street each (plus a second one in 东区), communities, and
# the village name 光明村 in both districts. Grids only under 幸福社区.
ROWS = [
    AreaRow(1, "甲市", "city", None),
    AreaRow(10, "东区", "district", 1),
    AreaRow(20, "西区", "district", 1),
    AreaRow(11, "桂花坪街道", "street", 10),
    AreaRow(12, "东风街道", "street", 10),
    AreaRow(21, "西湖街道", "street", 20),
    AreaRow(111, "幸福社区", "community", 11, ("景城苑", "东方新城小区")),
    AreaRow(112, "光明村", "community", 11),
    AreaRow(121, "青山新村社区", "community", 12, ("青山新村",)),
    AreaRow(211, "光明村", "community", 21),
    AreaRow(212, "柳湾社区", "community", 21),
    AreaRow(1111, "幸福社区第一网格", "grid", 111, (), square(113.00, 28.00)),
    AreaRow(1112, "幸福社区第二网格", "grid", 111, (), square(113.01, 28.00)),
]


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator.build(ROWS)


def ids(loc: Location) -> tuple[int | None, int | None, int | None, int | None]:
    return loc.district_id, loc.street_id, loc.community_id, loc.grid_id


def test_a_community_name_finds_community_street_and_district(locator: Locator) -> None:
    loc = locator.locate(text="幸福社区门口的路灯坏了三天")

    assert loc.method == "names"
    assert loc.area_id == 111
    assert ids(loc) == (10, 11, 111, None)
    assert [(m.name, m.start, m.end) for m in loc.matched] == [("幸福社区", 0, 4)]
    assert loc.conflicts == []


def test_an_estate_alias_finds_its_community(locator: Locator) -> None:
    loc = locator.locate(text="投诉景城苑物业乱收停车费")

    assert loc.area_id == 111
    assert loc.matched[0].form == "景城苑"
    assert loc.matched[0].name == "幸福社区"


def test_the_longest_name_wins_over_the_name_inside_it(locator: Locator) -> None:
    loc = locator.locate(text="东方新城小区停车难")

    assert loc.area_id == 111
    assert [m.form for m in loc.matched] == ["东方新城小区"]


def test_a_street_short_form_is_found(locator: Locator) -> None:
    loc = locator.locate(text="桂花坪这边晚上施工太吵")

    assert ids(loc) == (10, 11, None, None)
    assert loc.matched[0].form == "桂花坪"


def test_full_width_and_lower_case_district_names_are_read() -> None:
    rows = [AreaRow(1, "A市", "city", None), AreaRow(2, "A3区", "district", 1)]
    locator = Locator.build(rows)

    for text in ("家住Ａ３区", "家住a3区"):
        loc = locator.locate(text=text)
        assert loc.district_id == 2
        assert (loc.matched[0].start, loc.matched[0].end) == (2, 5)


def test_a_consistent_chain_beats_a_community_of_another_district(locator: Locator) -> None:
    loc = locator.locate(text="东区东风街道有一处垃圾站，柳湾社区的人也来倒垃圾")

    assert ids(loc) == (10, 12, None, None)
    assert len(loc.conflicts) == 1
    assert "柳湾社区" in loc.conflicts[0]
    assert "西区" in loc.conflicts[0]
    assert {m.name for m in loc.matched} == {"东区", "东风街道"}
    assert loc.confidence < locator.locate(text="东区东风街道有一处垃圾站").confidence


def test_an_ambiguous_name_is_resolved_by_the_district_named_elsewhere(locator: Locator) -> None:
    loc = locator.locate(text="光明村的自来水停了两天。我是西区的居民")

    assert ids(loc) == (20, 21, 211, None)
    assert loc.conflicts == []


def test_an_ambiguous_name_alone_stays_at_the_common_ancestor(locator: Locator) -> None:
    loc = locator.locate(text="光明村的自来水停了两天")

    assert loc.area_id == 1  # the city: both villages are in it
    assert loc.district_id is None
    assert loc.confidence < 0.5
    assert {m.area_id for m in loc.matched} == {112, 211}


def test_the_address_is_searched_with_the_text(locator: Locator) -> None:
    loc = locator.locate(text="光明村的自来水停了两天", address="东区光明村3组")

    assert ids(loc) == (10, 11, 112, None)
    assert loc.matched[0].source == "address"


def test_no_place_gives_method_none(locator: Locator) -> None:
    loc = locator.locate(text="我想咨询一下社保卡怎么补办")

    assert loc == Location(None, None, None, None, None, "none", 0.0, [], [])


def test_a_point_inside_a_grid_finds_the_grid_and_its_parents(locator: Locator) -> None:
    loc = locator.locate(text="柳湾社区门口积水", lon=113.015, lat=28.005)

    assert loc.method == "coordinates"
    assert loc.confidence == 1.0
    assert ids(loc) == (10, 11, 111, 1112)
    assert loc.area_id == 1112
    assert len(loc.conflicts) == 1 and "柳湾社区" in loc.conflicts[0]


def test_a_point_outside_every_grid_falls_back_to_names(locator: Locator) -> None:
    loc = locator.locate(text="柳湾社区门口积水", lon=100.0, lat=20.0)

    assert loc.method == "names"
    assert ids(loc) == (20, 21, 212, None)


def test_a_short_form_that_is_someone_elses_full_name_is_not_used() -> None:
    rows = [
        AreaRow(1, "甲市", "city", None),
        AreaRow(2, "东区", "district", 1),
        AreaRow(3, "西区", "district", 1),
        AreaRow(4, "金桥街道", "street", 2),
        AreaRow(5, "金桥镇", "street", 3),  # short form 金桥 is too short anyway
        AreaRow(6, "新河湾街道", "street", 2),
        AreaRow(7, "新河湾", "street", 3),  # a full name elsewhere beats the short form
    ]
    loc = Locator.build(rows).locate(text="新河湾的路")

    assert ids(loc) == (3, 7, None, None)


def _town(session: Session) -> None:
    city = org.create_area(session, code="LC", name="乙市", level=AreaLevel.CITY)
    district = org.create_area(
        session, code="LC1", name="南区", level=AreaLevel.DISTRICT, parent=city
    )
    street = org.create_area(
        session, code="LC1-01", name="枫林街道", level=AreaLevel.STREET, parent=district
    )
    org.create_area(
        session,
        code="LC1-01-001",
        name="桃园社区",
        level=AreaLevel.COMMUNITY,
        parent=street,
        aliases=["梅溪苑"],
    )


def test_get_locator_finds_areas_of_the_database_and_sees_new_ones(session: Session) -> None:
    # given a tree in the database (and no locator left from another test's rolled-back tree)
    clear_locator_cache()
    _town(session)
    first = get_locator(session)
    assert first.locate(text="梅溪苑小区电梯坏了").community_id is not None
    assert first.locate(text="竹山社区路灯不亮").method == "none"
    assert get_locator(session) is first  # nothing changed: the same compiled locator

    # when a community is added
    street = org.get_area_by_code_or_raise(session, "LC1-01")
    added = org.create_area(
        session, code="LC1-01-002", name="竹山社区", level=AreaLevel.COMMUNITY, parent=street
    )

    # then the next call rebuilds and finds it
    again = get_locator(session)
    assert again is not first
    loc = again.locate(text="竹山社区路灯不亮")
    assert loc.community_id == added.id
    assert loc.street_id == street.id


def test_a_place_written_twice_is_listed_once(locator: Locator) -> None:
    loc = locator.locate(text="东区东风街道，柳湾社区。再说一遍：东区东风街道，柳湾社区")

    assert [m.form for m in loc.matched] == ["东区", "东风街道"]
    assert [m.start for m in loc.matched] == [0, 2]
    assert len(loc.conflicts) == 1
