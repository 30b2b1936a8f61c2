"""The paths a demo ticket takes, as steps in time: pure, and checked against `TRANSITIONS`.

A path is what people would have done with one appeal: answered at once, handed to 110,
sent to another city, or dispatched, handled, replied to and rated, with the detours real
tickets take (a district centre in between, a unit returning it, a ruling, a whistle, an
extension, a pause, a reply sent back, a bad rating and a redo, supervision, a chase).
Steps name *who* acts by role (the lead unit, the co-units, the citizen), not by user:
which unit leads is known only when the lists route the ticket, so the runner resolves
the people. The times advance minutes to days between steps; the units' own steps fall
mostly in office hours, while the centre and citizens act around the clock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from minyi.core.clock import CHINA_TZ
from minyi.tickets.domain import TRANSITIONS, Action, Status, rating_action


class Who(StrEnum):
    CITY = "city"  # the city centre's dispatcher
    DISTRICT = "district"  # the dispatcher of the ticket's district centre
    LEAD = "lead"  # a handler of the lead unit
    CO = "co"  # a handler of each co-unit in turn
    CITIZEN = "citizen"  # the requester, by tracking code
    VISIT = "visit"  # the centre's return visit by phone (回访), rating for the citizen
    SUPERVISOR = "supervisor"
    SYSTEM = "system"


class Target(StrEnum):
    LISTS = "lists"  # no unit named: the lists decide
    LOCAL = "local"  # a unit where the problem is: the street office, else a district bureau
    SAME = "same"  # the unit that returned it (a ruling binds it)


class Kind(StrEnum):
    ANSWER = "answer"  # 秒答 or answered by the centre: never dispatched
    EMERGENCY = "emergency"
    TRANSFER = "transfer"
    INVALID = "invalid"
    HANDLE = "handle"
    MERGED = "merged"  # a near-duplicate merged into an earlier ticket


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    action: Action
    who: Who
    reason: str | None = None
    text: str | None = None  # reply, answer, co-unit reply, supplement
    target: Target | None = None
    line: str | None = None  # emergency line
    city: str | None = None  # transfer
    days: int | None = None  # extension
    into: int | None = None  # merge: the parent's plan index
    scores: tuple[int, int, int, int] | None = None  # speed, result, attitude, quality


@dataclass(frozen=True, slots=True)
class Features:
    """The detours one handled ticket takes."""

    queue: bool = False
    supplement: bool = False
    consultation: bool = False
    district: bool = False
    back_to_city: bool = False
    returned: bool = False
    rule_after_return: bool = False
    withdraw_early: bool = False
    withdraw_late: bool = False
    chase: bool = False
    summon: bool = False
    extension: str = ""  # "", "approve", "deny"
    suspension: str = ""  # "", "approve", "deny"
    supervise: bool = False
    excuse: bool = False
    review: bool = False
    reject: bool = False
    rating: str = "satisfied"  # "satisfied", "unrated", "redo"
    after_redo: str = "satisfied"  # "satisfied", "unrated", "supervised"
    after_supervision: str = "satisfied"  # "satisfied", "unrated"
    slow: bool = False  # a long job (the parent of a burst must still be open for merges)


def draw_features(rng: random.Random, *, early_exit: bool = True) -> Features:
    """Shares roughly as a city hotline reports them: most tickets go straight through."""
    r = rng.random
    rating = rng.choices(["satisfied", "unrated", "redo"], [0.82, 0.07, 0.11])[0]
    district = r() < 0.22
    consultation = not district and r() < 0.03
    returned = not consultation and r() < 0.08  # a ruling (after 会商) forbids returns
    return Features(
        queue=consultation or r() < 0.35,
        supplement=r() < 0.05,
        consultation=consultation,
        district=district,
        back_to_city=district and r() < 0.1,
        returned=returned,
        rule_after_return=returned and r() < 0.4,
        withdraw_early=early_exit and r() < 0.012,
        withdraw_late=early_exit and r() < 0.008,
        chase=r() < 0.08,
        summon=r() < 0.07,
        extension=rng.choices(["", "approve", "deny"], [0.92, 0.065, 0.015])[0],
        suspension=rng.choices(["", "approve", "deny"], [0.965, 0.028, 0.007])[0],
        supervise=r() < 0.025,
        excuse=r() < 0.3,
        review=r() < 0.5,
        reject=r() < 0.06,
        rating=rating,
        after_redo=rng.choices(["satisfied", "unrated", "supervised"], [0.6, 0.1, 0.3])[0],
        after_supervision=rng.choices(["satisfied", "unrated"], [0.7, 0.3])[0],
    )


# Which detour makes a handled ticket pass through each status (for small plans that must
# show every status).
FORCING: dict[Status, Features] = {
    Status.PENDING_DISPATCH: Features(queue=True),
    Status.DISTRICT_PENDING: Features(district=True),
    Status.RETURNED: Features(returned=True),
    Status.CONSULTATION: Features(queue=True, consultation=True),
    Status.SUSPENDED: Features(suspension="approve"),
    Status.REPLY_REVIEW: Features(review=True),
    Status.REOPENED: Features(rating="redo"),
    Status.SUPERVISED: Features(supervise=True),
    Status.WITHDRAWN: Features(withdraw_early=True),
}

RETURN_REASONS = (
    "该事项不属于本单位职责范围，建议转交属地街道办理",
    "经核实，诉求地点不在本单位管辖区域",
    "诉求涉及多个部门职责，请派单中心明确牵头单位",
)
RULE_REASONS = ("依据职责清单，该事项由原承办单位负责办理，不得再退单",)
CONSULTATION_REASONS = ("职责边界不清，组织相关单位会商后裁决",)
EXTENSION_REASONS = (
    "需协调多个部门联合处置，申请延期办理",
    "需等待第三方检测结果，申请延期",
    "涉及工程施工，需待施工完成后答复",
)
DENY_EXTENSION_REASONS = ("延期理由不充分，请按期办结",)
SUSPENSION_REASONS = (
    "诉求人暂时无法配合现场核查，申请挂起",
    "需诉求人补充相关证明材料，申请挂起",
)
DENY_SUSPENSION_REASONS = ("挂起理由不充分，请继续办理",)
SUPERVISE_REASONS = ("超期未办结，列入督办", "群众多次催办，列入督办")
EXCUSE_REASONS = ("经牵头单位确认，该协办单位无需参与办理",)
REJECT_REASONS = (
    "答复未说明具体处理结果，请补充完善后重新答复",
    "答复与诉求内容不对应，请重新核实",
    "未提供现场处理照片，请补充",
)
INVALID_REASONS = (
    "诉求内容不明确，多次回拨无法联系诉求人",
    "重复来电且无实质诉求内容",
    "非政务服务类诉求，已向来电人解释",
)
WITHDRAW_REASONS = ("问题已自行解决，申请撤诉", "已与对方协商解决，不再需要办理")
SUPPLEMENTS = (
    "补充：问题仍然存在，近几天情况更严重了，请尽快处理。",
    "补充：具体位置在小区东门附近，可电话联系我到现场查看。",
    "补充：已拍照留存，如需要可以提供。",
    "补充：周边多户居民都受到影响，希望尽快解决。",
)
CO_REPLIES = (
    "已配合牵头单位到现场核查，核查情况已报送牵头单位。",
    "本单位已按职责完成相关工作，处理意见已反馈牵头单位。",
    "已安排工作人员联合处置，后续将配合做好跟踪回访。",
)
EXTENSION_DAYS = (5, 7, 10, 15)


def walk(steps: Sequence[Step]) -> list[Status]:
    """The status after each step, from `received`; raises if a step is not allowed."""
    status = Status.RECEIVED
    after: list[Status] = []
    for step in steps:
        target = TRANSITIONS.get((status, step.action))
        if target is None:
            raise ValueError(f"planned {step.action.value} in {status.value}")
        status = target
        after.append(status)
    return after


def final_status(steps: Sequence[Step]) -> Status:
    statuses = walk(steps)
    return statuses[-1] if statuses else Status.RECEIVED


def between(rng: random.Random, low: timedelta, high: timedelta) -> timedelta:
    """Log-uniform: many quick steps, a long tail of slow ones."""
    lo, hi = low.total_seconds(), high.total_seconds()
    return timedelta(seconds=math.exp(rng.uniform(math.log(lo), math.log(hi))))


def office_hours(at: datetime, rng: random.Random) -> datetime:
    """Most unit work happens 8:30–18:00 on weekdays (China time); some is done late."""
    local = at.astimezone(CHINA_TZ)
    minutes = local.hour * 60 + local.minute
    if local.weekday() < 5 and 8 * 60 + 30 <= minutes < 18 * 60:
        return at
    if rng.random() < 0.12:
        return at
    day = local.date() if minutes < 8 * 60 + 30 else local.date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    morning = datetime(day.year, day.month, day.day, 8, 30, tzinfo=CHINA_TZ)
    # Back in UTC: the audit chain hashes times as given, and reads them back in UTC.
    return max(at, morning + timedelta(minutes=rng.uniform(0, 120))).astimezone(UTC)


S, M = timedelta(seconds=1), timedelta(minutes=1)
H, D = timedelta(hours=1), timedelta(days=1)
_UNIT_WHO = frozenset({Who.LEAD, Who.CO})


class PathBuilder:
    """Appends steps at advancing times."""

    def __init__(self, rng: random.Random, start: datetime, replies: Sequence[str]) -> None:
        self.rng = rng
        self.t = start
        self.steps: list[Step] = []
        self.replies = list(replies) or ["您反映的问题已收悉，经核实已按规定处理，感谢您的监督。"]
        self.replied = 0

    def add(
        self,
        action: Action,
        who: Who,
        low: timedelta,
        high: timedelta,
        *,
        reason: str | None = None,
        text: str | None = None,
        target: Target | None = None,
        line: str | None = None,
        city: str | None = None,
        days: int | None = None,
        into: int | None = None,
        scores: tuple[int, int, int, int] | None = None,
        any_day: bool = False,
    ) -> None:
        at = self.t + between(self.rng, low, high)
        if who in _UNIT_WHO and not any_day:
            at = office_hours(at, self.rng)
        self.t = at
        self.steps.append(
            Step(at, action, who, reason, text, target, line, city, days, into, scores)
        )

    def pick(self, options: Sequence[str]) -> str:
        return options[self.rng.randrange(len(options))]

    def next_reply(self) -> str:
        text = self.replies[min(self.replied, len(self.replies) - 1)]
        self.replied += 1
        return text

    def scores(self, satisfied: bool) -> tuple[int, int, int, int]:
        r = self.rng.randint
        if satisfied:
            return r(4, 5), r(3, 5), r(4, 5), r(4, 5)
        return r(1, 3), r(1, 2), r(1, 4), r(1, 3)


def answer_path(b: PathBuilder) -> None:
    if b.rng.random() < 0.6:  # the knowledge base answers at once (秒答)
        b.add(Action.ANSWER, Who.SYSTEM, 5 * S, 2 * M, text=b.next_reply())
    else:
        b.add(Action.QUEUE, Who.SYSTEM, 10 * S, 3 * M)
        b.add(Action.ANSWER, Who.CITY, 5 * M, 6 * H, text=b.next_reply())


def emergency_path(b: PathBuilder, line: str) -> None:
    b.add(Action.HAND_OVER_EMERGENCY, Who.CITY, M, 6 * M, line=line)


def transfer_path(b: PathBuilder, city: str) -> None:
    b.add(Action.QUEUE, Who.SYSTEM, 10 * S, 3 * M)
    reason = f"诉求发生地属{city}管辖，已转{city}12345热线办理"
    b.add(Action.TRANSFER_OUT, Who.CITY, 10 * M, 4 * H, city=city, reason=reason)


def invalid_path(b: PathBuilder) -> None:
    b.add(Action.QUEUE, Who.SYSTEM, 10 * S, 3 * M)
    b.add(Action.INVALIDATE, Who.CITY, 30 * M, 8 * H, reason=b.pick(INVALID_REASONS))


def merged_path(b: PathBuilder, into: int, merge_within: timedelta) -> None:
    b.add(Action.QUEUE, Who.SYSTEM, 10 * S, 3 * M)
    b.add(Action.MERGE, Who.CITY, min(20 * M, merge_within / 2), merge_within, into=into)


def handle_path(b: PathBuilder, f: Features) -> None:
    """Dispatch, handling, reply, review and rating, with the detours in `f`."""
    if f.supplement:
        b.add(Action.SUPPLEMENT, Who.CITIZEN, 30 * M, D, text=b.pick(SUPPLEMENTS))
    if f.queue:
        b.add(Action.QUEUE, Who.SYSTEM, 10 * S, 3 * M)
    _dispatch(b, f)
    if f.returned:
        b.add(Action.RETURN, Who.LEAD, H, D, reason=b.pick(RETURN_REASONS))
        if f.rule_after_return:
            reason = b.pick(RULE_REASONS)
            b.add(Action.RULE, Who.CITY, H, 8 * H, target=Target.SAME, reason=reason)
        else:
            b.add(Action.DISPATCH, Who.CITY, 30 * M, 6 * H, target=Target.LOCAL)
    if f.withdraw_early:
        b.add(Action.WITHDRAW, Who.CITIZEN, H, 3 * D, reason=b.pick(WITHDRAW_REASONS))
        return
    # Most units sign within their 2 working hours and call within the day; a tail is late
    # and earns the cards the SLA worker gives along the history.
    b.add(Action.ACCEPT, Who.LEAD, 5 * M, 3 * H)
    # The 24-hour call to the citizen runs on natural time: the duty officer calls at weekends.
    b.add(Action.CONTACT, Who.LEAD, 20 * M, 10 * H, any_day=True)
    b.add(Action.START, Who.LEAD, 10 * M, 2 * D)
    if f.chase:
        b.add(Action.CHASE, Who.CITIZEN, D, 5 * D)
    if f.summon:
        b.add(Action.SUMMON, Who.LEAD, 2 * H, 2 * D, target=Target.LOCAL)
        b.add(Action.REPORT, Who.CO, 20 * M, 2 * H)
        b.add(Action.CO_REPLY, Who.CO, D, 3 * D, text=b.pick(CO_REPLIES))
    _extension_and_suspension(b, f)
    if f.supervise:
        b.add(Action.SUPERVISE, Who.SUPERVISOR, 3 * D, 10 * D, reason=b.pick(SUPERVISE_REASONS))
    if f.withdraw_late:
        b.add(Action.WITHDRAW, Who.CITIZEN, H, 3 * D, reason=b.pick(WITHDRAW_REASONS))
        return
    # Co-units the lists named answer (or the centre excuses them) before the lead replies.
    if f.excuse:
        b.add(Action.EXCUSE_CO_UNIT, Who.CITY, 2 * H, 2 * D, reason=b.pick(EXCUSE_REASONS))
    else:
        b.add(Action.CO_REPLY, Who.CO, 6 * H, 3 * D, text=b.pick(CO_REPLIES))
    slow = (5 * D, 12 * D) if f.slow else (2 * H, 8 * D)
    b.add(Action.REPLY, Who.LEAD, *slow, text=b.next_reply())
    _review(b, f, first=True)
    _rating(b, f)


def _dispatch(b: PathBuilder, f: Features) -> None:
    if f.consultation:
        b.add(
            Action.OPEN_CONSULTATION,
            Who.CITY,
            30 * M,
            6 * H,
            target=Target.LOCAL,
            reason=b.pick(CONSULTATION_REASONS),
        )
        reason = "经会商，依据职责清单明确由清单所列单位牵头办理"
        b.add(Action.RULE, Who.CITY, 4 * H, D, target=Target.LISTS, reason=reason)
    elif f.district:
        b.add(Action.DISPATCH_TO_DISTRICT, Who.CITY, 10 * M, 4 * H)
        if f.back_to_city:
            b.add(Action.RETURN_TO_CITY, Who.DISTRICT, 30 * M, 6 * H)
            b.add(Action.DISPATCH, Who.CITY, 10 * M, 4 * H, target=Target.LISTS)
        else:
            b.add(Action.DISPATCH, Who.DISTRICT, 30 * M, 6 * H, target=Target.LISTS)
    else:
        b.add(Action.DISPATCH, Who.CITY, 5 * M, 8 * H, target=Target.LISTS)


def _extension_and_suspension(b: PathBuilder, f: Features) -> None:
    if f.extension:
        b.add(Action.REQUEST_EXTENSION, Who.LEAD, D, 5 * D, reason=b.pick(EXTENSION_REASONS))
        if f.extension == "approve":
            days = EXTENSION_DAYS[b.rng.randrange(len(EXTENSION_DAYS))]
            b.add(Action.APPROVE_EXTENSION, Who.CITY, H, D, days=days)
        else:
            reason = b.pick(DENY_EXTENSION_REASONS)
            b.add(Action.DENY_EXTENSION, Who.CITY, H, D, reason=reason)
    if f.suspension:
        b.add(Action.REQUEST_SUSPENSION, Who.LEAD, D, 4 * D, reason=b.pick(SUSPENSION_REASONS))
        if f.suspension == "approve":
            b.add(Action.APPROVE_SUSPENSION, Who.CITY, H, D)
            b.add(Action.RESUME, Who.LEAD, 2 * D, 15 * D)
        else:
            reason = b.pick(DENY_SUSPENSION_REASONS)
            b.add(Action.DENY_SUSPENSION, Who.CITY, H, D, reason=reason)


def _review(b: PathBuilder, f: Features, *, first: bool) -> None:
    if f.review:
        b.add(Action.BEGIN_REVIEW, Who.CITY, H, D)
    if first and f.reject:
        b.add(Action.REJECT_REPLY, Who.CITY, H, 12 * H, reason=b.pick(REJECT_REASONS))
        b.add(Action.REPLY, Who.LEAD, D, 4 * D, text=b.next_reply())
        if f.review:
            b.add(Action.BEGIN_REVIEW, Who.CITY, H, D)
    b.add(Action.APPROVE_REPLY, Who.CITY, H, D)


def _rate(b: PathBuilder, satisfied: bool, redo_count: int) -> None:
    who = Who.VISIT if b.rng.random() < 0.3 else Who.CITIZEN
    action = rating_action(satisfied, redo_count)
    b.add(action, who, H, 4 * D, scores=b.scores(satisfied))


def _redo(b: PathBuilder) -> None:
    b.add(Action.CONTACT, Who.LEAD, 2 * H, D)
    b.add(Action.START, Who.LEAD, 10 * M, D)
    b.add(Action.REPLY, Who.LEAD, D, 7 * D, text=b.next_reply())
    b.add(Action.APPROVE_REPLY, Who.CITY, H, D)


def _rating(b: PathBuilder, f: Features) -> None:
    if f.rating == "unrated":
        b.add(Action.CLOSE_UNRATED, Who.SYSTEM, 7 * D, 7 * D + H)
        return
    if f.rating == "satisfied":
        _rate(b, True, 0)
        return
    _rate(b, False, 0)  # 差评重办: back to the same unit
    _redo(b)
    if f.after_redo == "unrated":
        b.add(Action.CLOSE_UNRATED, Who.SYSTEM, 7 * D, 7 * D + H)
        return
    if f.after_redo == "satisfied":
        _rate(b, True, 1)
        return
    _rate(b, False, 1)  # a second bad rating opens supervision (专项督办)
    b.add(Action.CONTACT, Who.LEAD, 2 * H, D)
    b.add(Action.REPLY, Who.LEAD, 2 * D, 10 * D, text=b.next_reply())
    b.add(Action.APPROVE_REPLY, Who.CITY, H, D)
    if f.after_supervision == "satisfied":
        _rate(b, True, 1)
    else:
        b.add(Action.CLOSE_UNRATED, Who.SYSTEM, 7 * D, 7 * D + H)
