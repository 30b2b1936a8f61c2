"""The pure resolver: most specific item and area win; completion periods by standard kind."""

from __future__ import annotations

import pytest

from minyi.catalogue.domain import (
    ImplementationEntry,
    ListSnapshot,
    Process,
    ResponseLevel,
    ResponsibilityEntry,
    StandardKind,
    effective_completion_days,
)

# areas: 1 city > 2 district > 3 street > 4 community; 5 another street of district 2
AREA_PARENT: dict[int, int | None] = {1: None, 2: 1, 3: 2, 4: 3, 5: 2}
DISTRICT_OF: dict[int, int | None] = {1: None, 2: 2, 3: 2, 4: 2, 5: 2}
# items: 10 > 11 > 12 (leaf) > 13 (refinement below level 3)
ITEM_PARENT: dict[int, int | None] = {10: None, 11: 10, 12: 11, 13: 12}


def resp(rule_id: int, item: int, area: int, unit: int) -> ResponsibilityEntry:
    return ResponsibilityEntry(rule_id, item, area, unit, None, (), "", "B1")


def impl(
    rule_id: int,
    item: int,
    unit: int | None,
    kind: StandardKind = StandardKind.MANDATORY,
    days: int | None = 5,
    low: int | None = None,
    high: int | None = None,
) -> ImplementationEntry:
    return ImplementationEntry(
        rule_id, item, unit, Process.STANDARD, ResponseLevel.D7, 24, days, kind, low, high, (), "B1"
    )


def snapshot(
    responsibility: list[ResponsibilityEntry],
    implementation: list[ImplementationEntry] | None = None,
    district_values: dict[tuple[int, int | None, int], int] | None = None,
) -> ListSnapshot:
    return ListSnapshot(
        batch_number="B1",
        item_parent=ITEM_PARENT,
        area_parent=AREA_PARENT,
        district_of=DISTRICT_OF,
        responsibility={(r.item_id, r.area_id): r for r in responsibility},
        implementation={(i.item_id, i.unit_id): i for i in implementation or []},
        district_values=district_values or {},
    )


@pytest.mark.parametrize(
    ("area", "expected_unit"),
    [
        pytest.param(4, 300, id="community-inherits-its-street-rule"),
        pytest.param(3, 300, id="street-rule-beats-district-rule"),
        pytest.param(5, 200, id="other-street-falls-back-to-district"),
        pytest.param(2, 200, id="district-itself"),
        pytest.param(1, 100, id="city-wide-rule"),
    ],
)
def test_most_specific_area_wins(area: int, expected_unit: int) -> None:
    snap = snapshot([resp(1, 12, 1, 100), resp(2, 12, 2, 200), resp(3, 12, 3, 300)])
    found = snap.find_responsibility(12, area)
    assert found is not None and found.lead_unit_id == expected_unit


def test_refined_item_inherits_its_parent_rule_until_given_its_own() -> None:
    snap = snapshot([resp(1, 12, 1, 100)])
    inherited = snap.find_responsibility(13, 4)
    assert inherited is not None and inherited.lead_unit_id == 100
    snap = snapshot([resp(1, 12, 1, 100), resp(2, 13, 1, 999)])
    own = snap.find_responsibility(13, 4)
    assert own is not None and own.lead_unit_id == 999


def test_item_without_rule_has_no_owner() -> None:
    res = snapshot([]).resolve(12, 4)
    assert not res.has_owner
    assert res.responsibility is None and res.implementation is None


def test_unit_specific_implementation_beats_item_default() -> None:
    snap = snapshot([resp(1, 12, 1, 100)], [impl(7, 12, None, days=15), impl(8, 12, 100, days=3)])
    res = snap.resolve(12, 4)
    assert res.implementation is not None
    assert res.implementation.rule_id == 8 and res.implementation.completion_days == 3


@pytest.mark.parametrize(
    ("kind", "chosen", "expected", "source"),
    [
        pytest.param(StandardKind.MANDATORY, None, 5, "mandatory", id="mandatory"),
        pytest.param(StandardKind.INDIVIDUAL, None, 5, "unit", id="individual"),
        pytest.param(StandardKind.RECOMMENDED, 4, 4, "district:2", id="district-choice"),
        pytest.param(StandardKind.RECOMMENDED, None, 7, "range_max", id="no-choice-uses-max"),
        pytest.param(StandardKind.RECOMMENDED, 9, 7, "range_max", id="out-of-range-ignored"),
    ],
)
def test_completion_days_by_standard_kind(
    kind: StandardKind, chosen: int | None, expected: int, source: str
) -> None:
    entry = impl(1, 12, 100, kind=kind, days=5, low=3, high=7)
    assert effective_completion_days(entry, chosen, 2) == (expected, source)


def test_resolution_applies_the_district_choice() -> None:
    snap = snapshot(
        [resp(1, 12, 1, 100)],
        [impl(7, 12, 100, kind=StandardKind.RECOMMENDED, days=None, low=3, high=7)],
        {(12, 100, 2): 3},
    )
    res = snap.resolve(12, 4)
    assert res.implementation is not None
    assert res.implementation.completion_days == 3
    assert res.implementation.completion_source == "district:2"
