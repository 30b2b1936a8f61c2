"""The router's verdict rules, pure: what happens to an appeal, and the reasons given."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from minyi.triage.domain import (
    Inputs,
    ItemGuess,
    LabelGuess,
    Outcome,
    Related,
    Route,
    Thresholds,
    decide,
    dispatch_due,
    emergency_advice,
    explanation,
)
from minyi.triage.urgency import UrgencyLevel

ROUTE = Route(
    lead_unit_id=7,
    lead_unit_name="A2区生态环境分局",
    co_unit_ids=(9,),
    batch_number="2026-08",
    responsibility_rule_id=31,
    implementation_rule_id=44,
    process="standard",
    reply_hours=24.0,
)
ITEM = ItemGuess("08/0804/080401", "080401", "建筑施工噪声", 0.96, ("施工", "噪音"))
LABEL = LabelGuess(
    "环境保护", 0.93, (("环境保护", 0.93), ("城乡建设", 0.05)), {"环境保护": 0.93}, (("噪音", 1.2),)
)
CONFIDENT = Inputs(
    urgency=UrgencyLevel.ORDINARY,
    emergency_lines=(),
    label=LABEL,
    items=(ITEM,),
    item_id=12,
    area_id=5,
    area_depth_ok=True,
    route=ROUTE,
    related=(),
    knowledge_offered=False,
)


def _related(kind: str = "duplicate", similarity: float = 0.9, is_open: bool = True) -> Related:
    return Related(41, "A2K3M9P7QX", kind, similarity, is_open, "同一地点的相似诉求")


def test_confident_owned_located_appeal_is_dispatched_with_the_unit_and_batch_named() -> None:
    verdict = decide(CONFIDENT)
    assert verdict.outcome is Outcome.AUTO_DISPATCH and verdict.auto_dispatch
    assert "A2区生态环境分局" in verdict.reasons[0] and "2026-08" in verdict.reasons[0]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"items": (replace(ITEM, score=0.5),)}, "低于自动派单门槛"),
        ({"items": ()}, "未能判断诉求事项"),
        ({"item_id": None}, "目录中没有事项"),
        ({"area_id": None}, "未能确定诉求发生地"),
        ({"area_depth_ok": False}, "只确定到区"),
        ({"route": None}, "清单未覆盖"),
        ({"route": replace(ROUTE, lead_unit_id=None)}, "首办单位"),
        ({"related": (_related("repeat", 0.5),)}, "重复件"),
    ],
    ids=[
        "unsure",
        "no-item",
        "item-not-in-catalogue",
        "no-place",
        "district-only",
        "lists-silent",
        "no-owner",
        "repeat-caller",
    ],
)
def test_anything_uncertain_waits_for_a_dispatcher_with_the_reason(
    change: dict[str, object], reason: str
) -> None:
    verdict = decide(replace(CONFIDENT, **change))  # type: ignore[arg-type]
    assert verdict.outcome is Outcome.QUEUE
    assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_emergency_comes_before_everything_and_names_the_lines_to_call() -> None:
    verdict = decide(
        replace(
            CONFIDENT,
            urgency=UrgencyLevel.EMERGENCY,
            emergency_lines=("119", "120"),
            knowledge_offered=True,
        )
    )
    assert verdict.outcome is Outcome.EMERGENCY
    assert "119" in verdict.reasons[0] and "120" in verdict.reasons[0]


def test_instant_answer_is_offered_before_dispatch() -> None:
    assert decide(replace(CONFIDENT, knowledge_offered=True)).outcome is Outcome.KNOWLEDGE


def test_close_match_with_an_open_ticket_goes_to_a_person_never_merged_silently() -> None:
    verdict = decide(replace(CONFIDENT, related=(_related(similarity=0.91),)))
    assert verdict.outcome is Outcome.DUPLICATE
    assert "A2K3M9P7QX" in verdict.reasons[0] and "合并" in verdict.reasons[0]


def test_a_closed_or_loosely_similar_ticket_does_not_hold_dispatch() -> None:
    for related in (_related(is_open=False), _related(similarity=0.5)):
        assert decide(replace(CONFIDENT, related=(related,))).outcome is Outcome.AUTO_DISPATCH


def test_threshold_is_respected_exactly() -> None:
    at = replace(CONFIDENT, thresholds=Thresholds(auto_item=0.96))
    above = replace(CONFIDENT, thresholds=Thresholds(auto_item=0.961))
    assert decide(at).outcome is Outcome.AUTO_DISPATCH
    assert decide(above).outcome is Outcome.QUEUE


@pytest.mark.parametrize(
    ("level", "minutes"),
    [(UrgencyLevel.URGENT, 30), (UrgencyLevel.FAST, 120), (UrgencyLevel.ORDINARY, 480)],
)
def test_dispatch_deadline_follows_urgency(level: UrgencyLevel, minutes: int) -> None:
    received = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    assert (dispatch_due(received, level) - received).total_seconds() == minutes * 60


def test_emergency_advice_is_plain_chinese_with_every_line() -> None:
    advice = emergency_advice(["119", "gas"])
    assert "119" in advice and "燃气" in advice and "12345 不是紧急热线" in advice


def test_explanation_carries_model_rules_batch_and_reasons() -> None:
    verdict = decide(CONFIDENT)
    data = explanation(
        model_version="v1",
        label=LABEL,
        items=[ITEM],
        location={"method": "names", "area_id": 5},
        urgency={"level": "ordinary", "rule_ids": []},
        route=ROUTE,
        related=[],
        knowledge=None,
        verdict=verdict,
        thresholds=Thresholds(),
    )
    assert data["model_version"] == "v1" and data["outcome"] == "auto_dispatch"
    assert data["route"]["responsibility_rule_id"] == 31
    assert data["route"]["batch_number"] == "2026-08"
    assert data["items"][0]["matched"] == ["施工", "噪音"]
    assert data["label"]["features"] == [["噪音", 1.2]]


def test_without_a_threshold_that_reached_the_precision_target_nothing_goes_out_alone() -> None:
    verdict = decide(replace(CONFIDENT, thresholds=Thresholds(auto_item=None)))
    assert verdict.outcome is Outcome.QUEUE
    assert any("97%" in r for r in verdict.reasons)
