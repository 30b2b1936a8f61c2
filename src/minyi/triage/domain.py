"""The router's rules: from what the machine understood of an appeal to what happens to it.

Pure: the classifier's guess, the item candidates, the place, the urgency, the lists'
answer, the related tickets and the knowledge base's offer come in; the outcome and the
reasons a dispatcher reads come out. The service gathers the inputs and carries out the
outcome through the ticket state machine.

The order of the checks is the order of what matters to the citizen (SPEC §2 steps 2–5):
an emergency is not 12345 work and is handed over before anything else; a consultation
the knowledge base answers is answered at once; a probable duplicate of an open ticket is
shown to a person, never merged silently; only then does a confident, owned, located
appeal go straight to its unit. Everything else waits for a dispatcher, in the order of its
dispatch deadline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from minyi.triage.urgency import UrgencyLevel


class Outcome(StrEnum):
    AUTO_DISPATCH = "auto_dispatch"  # sent to the unit the lists name, by the machine
    QUEUE = "queue"  # waits for a dispatcher
    EMERGENCY = "emergency"  # hand over to 110/119/120/122/gas at once
    KNOWLEDGE = "knowledge"  # an instant answer is offered; queued until the citizen decides
    DUPLICATE = "duplicate"  # likely the same matter as an open ticket: a person decides


OUTCOME_ZH: dict[Outcome, str] = {
    Outcome.AUTO_DISPATCH: "自动派单",
    Outcome.QUEUE: "待人工派单",
    Outcome.EMERGENCY: "紧急情况，应立即移交应急热线",
    Outcome.KNOWLEDGE: "知识库秒答，待市民确认",
    Outcome.DUPLICATE: "疑似重复，待人工确认是否合并",
}

# SPEC §2.5: a ticket is dispatched within 30 minutes (urgent), 2 hours (fast) or 8 hours
# (ordinary) of receipt; an emergency is handed over at once.
DISPATCH_MINUTES: dict[UrgencyLevel, int] = {
    UrgencyLevel.EMERGENCY: 0,
    UrgencyLevel.URGENT: 30,
    UrgencyLevel.FAST: 120,
    UrgencyLevel.ORDINARY: 480,
}

EMERGENCY_ADVICE_ZH = (
    "您反映的情况可能危及人身或财产安全，12345 不是紧急热线：请立即拨打 {lines}。"
    "我们已记录您的诉求。"
)
LINE_NAMES_ZH: dict[str, str] = {
    "119": "119（火警、救援）",
    "110": "110（报警）",
    "120": "120（急救）",
    "122": "122（交通事故）",
    "gas": "燃气抢修热线",
}


def dispatch_due(received_at: datetime, level: UrgencyLevel) -> datetime:
    return received_at + timedelta(minutes=DISPATCH_MINUTES[level])


def emergency_advice(lines: Sequence[str]) -> str:
    return EMERGENCY_ADVICE_ZH.format(lines="、".join(LINE_NAMES_ZH.get(x, x) for x in lines))


@dataclass(frozen=True)
class LabelGuess:
    """The first-level classifier's answer (the contest's label set)."""

    label: str
    confidence: float
    top3: tuple[tuple[str, float], ...]
    probabilities: Mapping[str, float]
    features: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class ItemGuess:
    """One candidate catalogue item (DB44 path) with a calibrated confidence."""

    path: str
    code: str
    name: str
    score: float
    matched: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    """What the lists say for (item, area) at the time of receipt."""

    lead_unit_id: int | None
    lead_unit_name: str | None
    co_unit_ids: tuple[int, ...]
    batch_number: str | None
    responsibility_rule_id: int | None
    implementation_rule_id: int | None
    process: str | None
    reply_hours: float | None


@dataclass(frozen=True)
class Related:
    ticket_id: int
    tracking_code: str
    kind: str  # repeat | duplicate
    similarity: float
    is_open: bool
    reason: str


@dataclass(frozen=True)
class Thresholds:
    # The top item's calibrated score at or above which the machine dispatches on its own
    # (chosen where the measured item precision of the auto-dispatched share is ≥ 97 %).
    # None: no score reached that precision in the model's evaluation, so nothing goes out
    # without a person.
    auto_item: float | None = 0.9
    # Similarity to an open ticket at or above which a person must look before dispatch.
    duplicate: float = 0.8


@dataclass(frozen=True)
class Inputs:
    urgency: UrgencyLevel
    emergency_lines: tuple[str, ...]
    label: LabelGuess | None
    items: tuple[ItemGuess, ...]
    item_id: int | None  # the catalogue row of items[0], when the catalogue has it
    area_id: int | None
    area_depth_ok: bool  # located at street level or below (a district alone is too coarse)
    route: Route | None
    related: tuple[Related, ...]
    knowledge_offered: bool
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reasons: tuple[str, ...]  # plain Chinese, for the dispatcher, most important first

    @property
    def auto_dispatch(self) -> bool:
        return self.outcome is Outcome.AUTO_DISPATCH


def decide(inputs: Inputs) -> Verdict:
    """What to do with a freshly received appeal, and why."""
    t = inputs.thresholds
    if inputs.urgency is UrgencyLevel.EMERGENCY:
        return Verdict(Outcome.EMERGENCY, (emergency_advice(inputs.emergency_lines),))
    if inputs.knowledge_offered:
        return Verdict(
            Outcome.KNOWLEDGE, ("知识库有可信的现成答复，已提供给市民；市民也可要求人工办理",)
        )
    open_twins = [r for r in inputs.related if r.is_open and r.similarity >= t.duplicate]
    if open_twins:
        best = max(open_twins, key=lambda r: r.similarity)
        return Verdict(
            Outcome.DUPLICATE,
            (f"与在办工单 {best.tracking_code} 疑似重复：{best.reason}；请确认是否合并",),
        )
    blockers = _blockers(inputs)
    if blockers:
        return Verdict(Outcome.QUEUE, tuple(blockers))
    top = inputs.items[0]
    route = inputs.route
    assert route is not None and t.auto_item is not None  # _blockers checked both
    return Verdict(
        Outcome.AUTO_DISPATCH,
        (
            f"事项「{top.name}」置信度 {top.score:.2f} ≥ {t.auto_item:.2f}，"
            f"按清单（批次 {route.batch_number}）派至 {route.lead_unit_name}",
        ),
    )


def _blockers(inputs: Inputs) -> list[str]:
    """Why the machine may not dispatch on its own; empty when it may."""
    t = inputs.thresholds
    reasons: list[str] = []
    if not inputs.items:
        reasons.append("未能判断诉求事项")
    else:
        top = inputs.items[0]
        if t.auto_item is None:
            reasons.append("模型评估中没有达到 97% 事项准确率的置信度门槛，暂不自动派单")
        elif top.score < t.auto_item:
            reasons.append(
                f"事项「{top.name}」置信度 {top.score:.2f} 低于自动派单门槛 {t.auto_item:.2f}"
            )
        if inputs.item_id is None:
            reasons.append(f"目录中没有事项 {top.path}")
    if inputs.area_id is None:
        reasons.append("未能确定诉求发生地")
    elif not inputs.area_depth_ok:
        reasons.append("发生地只确定到区，需人工确认街道")
    if inputs.item_id is not None and inputs.area_id is not None:
        if inputs.route is None:
            reasons.append("清单未覆盖该事项与区域")
        elif inputs.route.lead_unit_id is None:
            reasons.append("职责清单中无责任单位：由派单中心指定首办单位或作出裁决")
    if any(r.kind == "repeat" for r in inputs.related):
        reasons.append("同一来电人近期反映过同一事项（重复件），请人工查看")
    return reasons


def explanation(
    *,
    model_version: str | None,
    label: LabelGuess | None,
    items: Sequence[ItemGuess],
    location: Mapping[str, Any],
    urgency: Mapping[str, Any],
    route: Route | None,
    related: Sequence[Related],
    knowledge: Mapping[str, Any] | None,
    verdict: Verdict,
    thresholds: Thresholds,
) -> dict[str, Any]:
    """Everything a person needs to see why the machine decided what it did (JSON)."""
    return {
        "outcome": verdict.outcome.value,
        "outcome_zh": OUTCOME_ZH[verdict.outcome],
        "reasons": list(verdict.reasons),
        "model_version": model_version,
        "label": None
        if label is None
        else {
            "label": label.label,
            "confidence": round(label.confidence, 4),
            "top3": [[name, round(p, 4)] for name, p in label.top3],
            "features": [[f, round(w, 4)] for f, w in label.features],
        },
        "items": [
            {
                "path": i.path,
                "code": i.code,
                "name": i.name,
                "score": round(i.score, 4),
                "matched": list(i.matched),
            }
            for i in items
        ],
        "location": dict(location),
        "urgency": dict(urgency),
        "route": None
        if route is None
        else {
            "lead_unit_id": route.lead_unit_id,
            "lead_unit_name": route.lead_unit_name,
            "co_unit_ids": list(route.co_unit_ids),
            "batch_number": route.batch_number,
            "responsibility_rule_id": route.responsibility_rule_id,
            "implementation_rule_id": route.implementation_rule_id,
            "process": route.process,
            "reply_hours": route.reply_hours,
        },
        "related": [
            {
                "ticket_id": r.ticket_id,
                "tracking_code": r.tracking_code,
                "kind": r.kind,
                "similarity": round(r.similarity, 4),
                "is_open": r.is_open,
                "reason": r.reason,
            }
            for r in related
        ],
        "knowledge": dict(knowledge) if knowledge is not None else None,
        "thresholds": {"auto_item": thresholds.auto_item, "duplicate": thresholds.duplicate},
    }
