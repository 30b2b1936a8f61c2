"""Cards (亮牌): what a missed deadline costs a unit, as data the three rates read later.

A deadline that passes gives a yellow card to the unit responsible for it (for a co-unit's
report or sub-reply, the co-unit) and escalates to that unit's leader with a deadline of
its own; when the leader's deadline passes too, a red card and escalation to the
supervisor (督办). The ladder's timing is the SLA domain's; this module names the cards.
"""

from __future__ import annotations

from enum import StrEnum


class CardColor(StrEnum):
    YELLOW = "yellow"
    RED = "red"

    @property
    def label_zh(self) -> str:
        return {"yellow": "黄牌", "red": "红牌"}[self.value]

    @property
    def note(self) -> str:
        """The ticket timeline entry that records it (tickets.domain.NOTE_ZH)."""
        return f"{self.value}_card"


class EscalatedTo(StrEnum):
    LEADER = "leader"  # the responsible unit's leader
    SUPERVISOR = "supervisor"  # the centre's supervision (督办)


ESCALATION_FOR: dict[CardColor, EscalatedTo] = {
    CardColor.YELLOW: EscalatedTo.LEADER,
    CardColor.RED: EscalatedTo.SUPERVISOR,
}


def card_reason(color: CardColor, deadline_label: str, unit_name: str) -> str:
    """Plain Chinese for the timeline and the unit's inbox."""
    to = "本单位领导" if color is CardColor.YELLOW else "督办部门"
    return f"「{deadline_label}」已超时，{unit_name}被亮{color.label_zh}，已升级至{to}"


class ChargeReason(StrEnum):
    RETURN_REJECTED = "return_rejected"  # the unit should have kept it: its time
    RETURN_UPHELD = "return_upheld"  # a routing mistake: the centre's time


def charge_reason_zh(reason: ChargeReason, hours: float, unit_name: str) -> str:
    if reason is ChargeReason.RETURN_REJECTED:
        return f"退单理由不成立：退单耗费的{hours:.1f}个工作小时计入{unit_name}"
    return f"退单成立（派单有误）：耗费的{hours:.1f}小时计入派单中心，新承办单位重新计时"
