"""Planning the area tree: pure, deterministic, nested, sized as asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from minyi.demo.city import plan_from_shared_data
from minyi.demo.layout import (
    CITY_RECT,
    DISTRICTS,
    CityPlan,
    chinese_number,
    contains,
    plan_city,
    rect_wkt,
    split_rect,
)
from minyi.demo.places import MinedPlace, MinedPlaces, PlaceKind
from minyi.org.domain import AreaLevel


@pytest.fixture(scope="module")
def real(shared_data: Path) -> tuple[MinedPlaces, CityPlan]:
    return plan_from_shared_data(shared_data)


def test_split_rect_tiles_exactly() -> None:
    for parts in (1, 2, 5, 7, 12):
        cells = split_rect((0.0, 0.0, 3.0, 2.0), parts)
        assert len(cells) == parts
        assert sum((e - w) * (n - s) for w, s, e, n in cells) == pytest.approx(6.0)
        assert all(contains((0.0, 0.0, 3.0, 2.0), c) for c in cells)


def test_districts_tile_the_city() -> None:
    total = sum((e - w) * (n - s) for w, s, e, n in (d.rect for d in DISTRICTS))
    w, s, e, n = CITY_RECT
    assert total == pytest.approx((e - w) * (n - s))
    assert all(contains(CITY_RECT, d.rect) for d in DISTRICTS)
    assert [d.name for d in DISTRICTS] == [
        "A1区", "A2区", "A3区", "A4区", "A5区", "A6区", "A7县", "A8县", "A9市"
    ]  # fmt: skip


def test_wkt_and_numbers() -> None:
    assert rect_wkt((1.0, 2.0, 3.0, 4.0)) == (
        "POLYGON((1.000000 2.000000, 3.000000 2.000000, 3.000000 4.000000, "
        "1.000000 4.000000, 1.000000 2.000000))"
    )
    assert [chinese_number(n) for n in (1, 9, 10, 12, 20, 23)] == [
        "一", "九", "十", "十二", "二十", "二十三"
    ]  # fmt: skip


def test_with_nothing_mined_every_name_is_generated() -> None:
    plan = plan_city(MinedPlaces())

    assert plan.count(AreaLevel.STREET) == 60
    assert plan.count(AreaLevel.STREET, real=True) == 0
    assert 400 <= plan.count(AreaLevel.COMMUNITY) <= 420
    assert plan.count(AreaLevel.GRID) == 2000
    names = [a.name for a in plan.areas if a.level is not AreaLevel.GRID]
    assert len(names) == len(set(names))


def test_mined_names_come_first_and_estates_become_aliases() -> None:
    mined = MinedPlaces(
        streets=(MinedPlace("A3区", PlaceKind.STREET, "天顶街道", 9, aliases=("天顶乡",)),),
        communities=(MinedPlace("A3区", PlaceKind.COMMUNITY, "尖山社区", 3, "天顶街道"),),
        estates=(
            MinedPlace("A3区", PlaceKind.ESTATE, "青青家园", 5, "天顶街道", ("青青家园小区",)),
        ),
    )
    plan = plan_city(mined)

    street = next(a for a in plan.of_level(AreaLevel.STREET) if a.parent_code == "A3")
    assert (street.name, street.aliases, street.real) == ("天顶街道", ("天顶乡",), True)
    community = next(a for a in plan.of_level(AreaLevel.COMMUNITY) if a.parent_code == street.code)
    assert community.name == "尖山社区" and community.real
    assert community.aliases == ("青青家园", "青青家园小区")
    assert plan.estates_attached == 1


def test_real_plan_sizes_and_nesting(real: tuple[MinedPlaces, CityPlan]) -> None:
    _, plan = real

    assert plan.count(AreaLevel.DISTRICT) == 9
    assert 55 <= plan.count(AreaLevel.STREET) <= 65
    assert 380 <= plan.count(AreaLevel.COMMUNITY) <= 420
    assert 1900 <= plan.count(AreaLevel.GRID) <= 2100
    assert plan.count(AreaLevel.STREET, real=True) >= 50
    assert plan.count(AreaLevel.COMMUNITY, real=True) >= 150
    assert plan.estates_attached >= 200
    rects = {a.code: a.rect for a in plan.areas}
    for area in plan.areas:
        if area.parent_code is not None:
            assert contains(rects[area.parent_code], area.rect), area.code


def test_planning_is_deterministic(real: tuple[MinedPlaces, CityPlan]) -> None:
    mined, plan = real
    assert plan_city(mined) == plan
