"""Place-name mining on small handmade texts (no real message is quoted here)."""

from __future__ import annotations

import pytest

from minyi.demo.places import Mention, PlaceKind, find_mentions, mine_places

STREET = PlaceKind.STREET
COMMUNITY = PlaceKind.COMMUNITY
ESTATE = PlaceKind.ESTATE


def test_street_and_community_right_after_the_district() -> None:
    text = "我住在A市A3区天顶街道青山新村社区，楼下噪音很大。"

    assert find_mentions(text) == [
        Mention("A3区", STREET, "天顶街道"),
        Mention("A3区", COMMUNITY, "青山新村社区", "天顶街道"),
    ]


def test_estate_after_street_and_road_is_stripped() -> None:
    assert find_mentions("A7县泉塘街道圣力华苑小区停车难") == [
        Mention("A7县", STREET, "泉塘街道"),
        Mention("A7县", ESTATE, "圣力华苑小区", "泉塘街道"),
    ]
    assert find_mentions("A5区劳动东路魅力之城小区门口") == [
        Mention("A5区", ESTATE, "魅力之城小区")
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("B2区天顶街道青山社区", id="another-city"),
        pytest.param("K9县星沙镇", id="another-county"),
        pytest.param("A1区A2区华庭小区水箱", id="masked-name-glued"),
        pytest.param("A4区A1区北路街道卫生", id="masked-name-fragment"),
        pytest.param("A7县农村道路", id="generic-village"),
        pytest.param("A1区城乡建设局", id="bureau-not-town"),
        pytest.param("A3区的小区", id="function-word"),
        pytest.param("A1区苑小区物业", id="one-char-stem"),
        pytest.param("A3区, 天顶街道", id="other-clause"),
        pytest.param("A8县喻坳家乡", id="hometown-not-township"),
    ],
)
def test_nothing_is_taken_without_confidence(text: str) -> None:
    assert find_mentions(text) == []


def test_county_turned_city_token() -> None:
    # "A8县市" is a county that became a city, masked as county + 市.
    assert find_mentions("A8县市双凫铺镇石清村") == [
        Mention("A8县", STREET, "双凫铺镇"),
        Mention("A8县", COMMUNITY, "石清村", "双凫铺镇"),
    ]


def test_villagers_are_not_a_village() -> None:
    assert find_mentions("A7县春华镇武塘村村民反映")[1] == Mention(
        "A7县", COMMUNITY, "武塘村", "春华镇"
    )
    assert find_mentions("A7县春华镇武塘村村委会")[1].name == "武塘村"


def test_scrape_residue_splits_clauses() -> None:
    assert find_mentions("A3区\n\t\t\t天顶街道") == []
    assert find_mentions("\u3000A3区天顶街道\xa0") == [Mention("A3区", STREET, "天顶街道")]


TEXTS = [
    "A7县星沙街道某某路",
    "A7县星沙街道杉仙岭社区",
    "A7县星沙镇",
    "A7县泉塘街道泉星社区",
    "A7县泉塘泉星社区",
    "A7县泉塘街道",
    "A3区星沙街道",  # a wrong district, outvoted
    "A2区暮云街道丽发新城小区",
    "A2区丽发新城",
    "A2区丽发新城小区",
    "A3区天顶街道青山新村社区",
    "A3区天顶街道青山新村",
]


def test_aggregation_counts_merges_and_attaches() -> None:
    mined = mine_places(TEXTS)

    streets = {(p.district, p.name): p for p in mined.streets}
    star = streets[("A7县", "星沙街道")]
    assert star.mentions == 4 and star.aliases == ("星沙镇",)
    assert ("A3区", "星沙街道") not in streets

    communities = {(p.district, p.name): p for p in mined.communities}
    # "泉塘泉星社区" is 泉塘街道's 泉星社区
    assert communities[("A7县", "泉星社区")].mentions == 2
    assert communities[("A7县", "泉星社区")].street == "泉塘街道"
    # the bare form is an alias of the 社区
    qingshan = communities[("A3区", "青山新村社区")]
    assert qingshan.mentions == 2 and qingshan.aliases == ("青山新村",)

    estate = next(p for p in mined.estates if p.name == "丽发新城")
    assert (estate.district, estate.mentions, estate.street) == ("A2区", 3, "暮云街道")
    assert estate.aliases == ("丽发新城小区",)


def test_mining_is_deterministic_in_any_order() -> None:
    assert mine_places(TEXTS) == mine_places(list(reversed(TEXTS)))
    ordered = mine_places(TEXTS).streets
    assert [p.mentions for p in ordered if p.district == "A7县"] == sorted(
        (p.mentions for p in ordered if p.district == "A7县"), reverse=True
    )
