"""The pure rules: privacy detection, validity, area scope, notice words and matching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from minyi.triage.knowledge.domain import (
    IndexDoc,
    KnowledgeIndex,
    NoticeKind,
    confident,
    in_scope,
    is_valid_at,
    notice_kinds_in,
    privacy_findings,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("张先生您好，关于您反映的问题", "person_name"),
        ("经核实，业主姚某群于2017年购买商铺", "person_name"),
        ("李女士的诉求已办结", "person_name"),
        ("身份证号430102199001011234的申请人", "id_number"),
        ("请拨打13812345678联系", "phone"),
        ("您反映的问题，您家的水管已修好", "one_case"),
        ("经调查，信访人的房屋不符合拆迁条件", "one_case"),
        ("3栋2单元502室漏水已处理", "house_number"),
        ("网友“UU0082034”您好", "user_handle"),
    ],
    ids=[
        "honorific",
        "x-mou",
        "nvshi",
        "id",
        "mobile",
        "your-home",
        "petitioner",
        "room",
        "handle",
    ],
)
def test_personal_details_are_found(text: str, expected: str) -> None:
    assert expected in privacy_findings(text)


@pytest.mark.parametrize(
    "text",
    [
        "持身份证、居住证明到居住地派出所申领居住证，15个工作日内发证。",
        "您反映的问题已转市教育局调查处理。",
        "对某些部门的建议已收悉，咨询电话0731-12345678。",
        "婚假天数3天，按国务院令第9号执行。",
    ],
    ids=["general-answer", "forwarded", "some-units", "law-number"],
)
def test_general_answers_are_clean(text: str) -> None:
    assert privacy_findings(text) == []


def test_validity_window_is_half_open() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 12, 31, tzinfo=UTC)
    assert is_valid_at(start, end, start)
    assert not is_valid_at(start, end, end)
    assert not is_valid_at(start, None, datetime(2025, 12, 31, tzinfo=UTC))
    assert is_valid_at(None, None, end)


def test_scope_covers_the_area_and_below_only() -> None:
    city, district, street = 1, 2, 3
    chain_in_street = [street, district, city]
    assert in_scope(None, chain_in_street)
    assert in_scope(district, chain_in_street)
    assert not in_scope(99, chain_in_street)
    # An appeal without a place gets city-wide answers only.
    assert in_scope(None, [])
    assert not in_scope(district, [])


def test_outage_questions_name_their_notice_kind() -> None:
    assert notice_kinds_in("幸福小区为什么停水了？") == [NoticeKind.WATER]
    assert notice_kinds_in("家里突然没电了") == [NoticeKind.POWER]
    assert notice_kinds_in("解放路为什么封路") == [NoticeKind.ROAD_WORKS]
    assert notice_kinds_in("怎么办理居住证") == []


def test_the_best_variant_wins_and_weak_matches_are_not_served() -> None:
    index = KnowledgeIndex(
        [
            IndexDoc(1, ("居住证怎么办理", "办理居住证需要什么材料")),
            IndexDoc(2, ("公积金怎么提取",)),
        ]
    )
    hits = index.search("请问办理居住证要带什么材料")
    assert [h.key for h in hits] == [1, 2]
    assert hits[0].question == "办理居住证需要什么材料"
    assert confident(hits, 0.5) == hits[0]
    assert confident(index.search("小区门口的路灯坏了"), 0.5) is None
    assert [h.key for h in index.search("居住证", eligible={2})] == [2]


def test_an_empty_index_finds_nothing() -> None:
    assert KnowledgeIndex([]).search("居住证") == []
