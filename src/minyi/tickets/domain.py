"""The ticket state machine: one transition table, one `apply`, nothing else changes a status.

A ticket moves through 诉 → 接 → 派 → 办 → 评: received by the hotline or any channel,
answered at once or handed over or transferred, dispatched by the city centre to a unit or
to a district centre (两级派单), accepted or returned (退单) by the unit, the citizen
contacted, the work done, a reply checked by the centre (督查核实), rated by the citizen
(好差评), redone after a bad rating (差评重办) and supervised (督办) after a second.

`TRANSITIONS` maps (status, action) to the next status. `ACTION_ROLES` says who may ask
for an action. `apply()` checks both plus the guards that need only the ticket's own state
(return limits, rulings, co-units that have not answered, reasons), and returns the new
state and the events to record. Whether a user's unit *is* the ticket's lead unit is for
the service to establish (it is passed in as `Actor.relation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from minyi.core.errors import Conflict, Forbidden, ValidationFailed


class Status(StrEnum):
    RECEIVED = "received"
    PENDING_DISPATCH = "pending_dispatch"  # waiting for the city centre
    DISTRICT_PENDING = "district_pending"  # sent to a district centre, waiting for it
    DISPATCHED = "dispatched"  # with a unit, not yet accepted
    RETURNED = "returned"  # the unit sent it back (退单): back with the centre
    CONSULTATION = "consultation"  # 会商 among units, ending in a ruling
    ACCEPTED = "accepted"
    CONTACTED = "contacted"
    IN_PROGRESS = "in_progress"
    SUSPENDED = "suspended"  # waiting for the citizen, approved: the clock stops
    REPLIED = "replied"
    REPLY_REVIEW = "reply_review"  # the centre checks the reply (督查核实)
    AWAITING_RATING = "awaiting_rating"
    REOPENED = "reopened"  # a bad rating: the same unit redoes it (差评重办)
    SUPERVISED = "supervised"  # 督办
    CLOSED = "closed"
    ANSWERED = "answered"  # closed by an instant answer (秒答)
    EMERGENCY_HANDED_OVER = "emergency_handed_over"  # 110/119/120/gas line
    TRANSFERRED_OUT = "transferred_out"  # another city's matter (转办)
    WITHDRAWN = "withdrawn"  # 撤诉
    MERGED = "merged"
    INVALID = "invalid"

    @property
    def label_zh(self) -> str:
        return STATUS_ZH[self]

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL


STATUS_ZH: dict[Status, str] = {
    Status.RECEIVED: "已受理",
    Status.PENDING_DISPATCH: "待派单",
    Status.DISTRICT_PENDING: "待区级派单",
    Status.DISPATCHED: "已派单",
    Status.RETURNED: "已退单",
    Status.CONSULTATION: "会商中",
    Status.ACCEPTED: "已签收",
    Status.CONTACTED: "已联系",
    Status.IN_PROGRESS: "办理中",
    Status.SUSPENDED: "已挂起",
    Status.REPLIED: "已答复",
    Status.REPLY_REVIEW: "答复审核中",
    Status.AWAITING_RATING: "待评价",
    Status.REOPENED: "重办中",
    Status.SUPERVISED: "督办中",
    Status.CLOSED: "已办结",
    Status.ANSWERED: "已直接答复",
    Status.EMERGENCY_HANDED_OVER: "已移交应急",
    Status.TRANSFERRED_OUT: "已转外地",
    Status.WITHDRAWN: "已撤诉",
    Status.MERGED: "已合并",
    Status.INVALID: "无效诉求",
}

TERMINAL = frozenset(
    {
        Status.CLOSED,
        Status.ANSWERED,
        Status.EMERGENCY_HANDED_OVER,
        Status.TRANSFERRED_OUT,
        Status.WITHDRAWN,
        Status.MERGED,
        Status.INVALID,
    }
)
OPEN = frozenset(s for s in Status if s not in TERMINAL)
# Where the unit holds the ticket and works on it.
WORKING = frozenset(
    {Status.ACCEPTED, Status.CONTACTED, Status.IN_PROGRESS, Status.REOPENED, Status.SUPERVISED}
)
# Where the centre holds the ticket (before or between units).
AT_CENTRE = frozenset(
    {Status.RECEIVED, Status.PENDING_DISPATCH, Status.RETURNED, Status.CONSULTATION}
)


class Action(StrEnum):
    QUEUE = "queue"
    ANSWER = "answer"
    HAND_OVER_EMERGENCY = "hand_over_emergency"
    TRANSFER_OUT = "transfer_out"
    DISPATCH = "dispatch"
    DISPATCH_TO_DISTRICT = "dispatch_to_district"
    RETURN_TO_CITY = "return_to_city"
    ACCEPT = "accept"
    RETURN = "return"
    RULE = "rule"
    REQUEST_RULING = "request_ruling"
    OPEN_CONSULTATION = "open_consultation"
    CONTACT = "contact"
    START = "start"
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"
    REQUEST_SUSPENSION = "request_suspension"
    APPROVE_SUSPENSION = "approve_suspension"
    DENY_SUSPENSION = "deny_suspension"
    RESUME = "resume"
    SUMMON = "summon"  # 吹哨
    REPORT = "report"  # 报到
    CO_REPLY = "co_reply"
    EXCUSE_CO_UNIT = "excuse_co_unit"
    REPLY = "reply"
    BEGIN_REVIEW = "begin_review"
    APPROVE_REPLY = "approve_reply"
    REJECT_REPLY = "reject_reply"
    RATE_SATISFIED = "rate_satisfied"
    RATE_UNSATISFIED = "rate_unsatisfied"
    RATE_UNSATISFIED_AFTER_REDO = "rate_unsatisfied_after_redo"
    CLOSE_UNRATED = "close_unrated"
    SUPERVISE = "supervise"
    SUPPLEMENT = "supplement"  # 补充
    CHASE = "chase"  # 催办
    WITHDRAW = "withdraw"  # 撤诉
    MERGE = "merge"
    SHARE_REPLY = "share_reply"  # a merged ticket receives its parent's reply
    INVALIDATE = "invalidate"

    @property
    def label_zh(self) -> str:
        return ACTION_ZH[self]


ACTION_ZH: dict[Action, str] = {
    Action.QUEUE: "转入待派",
    Action.ANSWER: "直接答复",
    Action.HAND_OVER_EMERGENCY: "移交应急",
    Action.TRANSFER_OUT: "转外地热线",
    Action.DISPATCH: "派单",
    Action.DISPATCH_TO_DISTRICT: "派至区级中心",
    Action.RETURN_TO_CITY: "退回市级中心",
    Action.ACCEPT: "签收",
    Action.RETURN: "退单",
    Action.RULE: "快速裁决",
    Action.REQUEST_RULING: "申请裁决",
    Action.OPEN_CONSULTATION: "发起会商",
    Action.CONTACT: "联系诉求人",
    Action.START: "开始办理",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.DENY_EXTENSION: "驳回延期",
    Action.REQUEST_SUSPENSION: "申请挂起",
    Action.APPROVE_SUSPENSION: "批准挂起",
    Action.DENY_SUSPENSION: "驳回挂起",
    Action.RESUME: "恢复办理",
    Action.SUMMON: "吹哨",
    Action.REPORT: "报到",
    Action.CO_REPLY: "协办答复",
    Action.EXCUSE_CO_UNIT: "免除协办",
    Action.REPLY: "答复",
    Action.BEGIN_REVIEW: "开始审核答复",
    Action.APPROVE_REPLY: "答复审核通过",
    Action.REJECT_REPLY: "答复退回",
    Action.RATE_SATISFIED: "评价满意",
    Action.RATE_UNSATISFIED: "评价不满意",
    Action.RATE_UNSATISFIED_AFTER_REDO: "重办后仍不满意",
    Action.CLOSE_UNRATED: "未评价办结",
    Action.SUPERVISE: "督办",
    Action.SUPPLEMENT: "补充诉求",
    Action.CHASE: "催办",
    Action.WITHDRAW: "撤诉",
    Action.MERGE: "合并",
    Action.SHARE_REPLY: "共享答复",
    Action.INVALIDATE: "认定无效",
}


def _build_transitions() -> dict[tuple[Status, Action], Status]:
    table: dict[tuple[Status, Action], Status] = {}

    def add(froms: frozenset[Status] | set[Status], action: Action, to: Status | None) -> None:
        """`to` None: the action is recorded but the status stays."""
        for status in froms:
            table[(status, action)] = to if to is not None else status

    s = Status
    add({s.RECEIVED}, Action.QUEUE, s.PENDING_DISPATCH)
    add({s.RECEIVED, s.PENDING_DISPATCH}, Action.ANSWER, s.ANSWERED)
    add({s.RECEIVED, s.PENDING_DISPATCH}, Action.HAND_OVER_EMERGENCY, s.EMERGENCY_HANDED_OVER)
    add({s.RECEIVED, s.PENDING_DISPATCH, s.RETURNED}, Action.TRANSFER_OUT, s.TRANSFERRED_OUT)
    add(
        {s.RECEIVED, s.PENDING_DISPATCH, s.RETURNED, s.DISTRICT_PENDING},
        Action.DISPATCH,
        s.DISPATCHED,
    )
    add(
        {s.RECEIVED, s.PENDING_DISPATCH, s.RETURNED},
        Action.DISPATCH_TO_DISTRICT,
        s.DISTRICT_PENDING,
    )
    add({s.DISTRICT_PENDING}, Action.RETURN_TO_CITY, s.PENDING_DISPATCH)
    add({s.DISPATCHED}, Action.ACCEPT, s.ACCEPTED)
    add({s.DISPATCHED}, Action.RETURN, s.RETURNED)
    add(
        {s.PENDING_DISPATCH, s.RETURNED, s.CONSULTATION, s.DISPATCHED} | WORKING,
        Action.RULE,
        s.DISPATCHED,
    )
    add({s.DISPATCHED} | WORKING, Action.REQUEST_RULING, None)
    add({s.PENDING_DISPATCH, s.RETURNED}, Action.OPEN_CONSULTATION, s.CONSULTATION)
    add({s.ACCEPTED}, Action.CONTACT, s.CONTACTED)
    add({s.IN_PROGRESS, s.REOPENED, s.SUPERVISED}, Action.CONTACT, None)
    add({s.CONTACTED, s.REOPENED}, Action.START, s.IN_PROGRESS)
    for action in (
        Action.REQUEST_EXTENSION,
        Action.APPROVE_EXTENSION,
        Action.DENY_EXTENSION,
        Action.REQUEST_SUSPENSION,
        Action.DENY_SUSPENSION,
        Action.SUMMON,
        Action.REPORT,
        Action.CO_REPLY,
        Action.EXCUSE_CO_UNIT,
    ):
        add(WORKING, action, None)
    add(WORKING, Action.APPROVE_SUSPENSION, s.SUSPENDED)
    add({s.SUSPENDED}, Action.RESUME, s.IN_PROGRESS)
    add({s.SUSPENDED}, Action.REPORT, None)
    add({s.SUSPENDED}, Action.CO_REPLY, None)
    add({s.CONTACTED, s.IN_PROGRESS, s.REOPENED, s.SUPERVISED}, Action.REPLY, s.REPLIED)
    add({s.REPLIED}, Action.BEGIN_REVIEW, s.REPLY_REVIEW)
    add({s.REPLIED, s.REPLY_REVIEW}, Action.APPROVE_REPLY, s.AWAITING_RATING)
    add({s.REPLIED, s.REPLY_REVIEW}, Action.REJECT_REPLY, s.IN_PROGRESS)
    add({s.AWAITING_RATING}, Action.RATE_SATISFIED, s.CLOSED)
    add({s.AWAITING_RATING}, Action.RATE_UNSATISFIED, s.REOPENED)
    add({s.AWAITING_RATING}, Action.RATE_UNSATISFIED_AFTER_REDO, s.SUPERVISED)
    add({s.AWAITING_RATING}, Action.CLOSE_UNRATED, s.CLOSED)
    add(
        {s.DISPATCHED, s.ACCEPTED, s.CONTACTED, s.IN_PROGRESS, s.REOPENED, s.SUSPENDED},
        Action.SUPERVISE,
        s.SUPERVISED,
    )
    add(OPEN, Action.SUPPLEMENT, None)
    add(OPEN - {s.RECEIVED}, Action.CHASE, None)
    add(OPEN, Action.WITHDRAW, s.WITHDRAWN)
    add(OPEN, Action.MERGE, s.MERGED)
    add(OPEN, Action.INVALIDATE, s.INVALID)
    add({s.MERGED}, Action.SHARE_REPLY, None)
    return table


TRANSITIONS: Mapping[tuple[Status, Action], Status] = _build_transitions()


# The first event of every ticket; not a transition (there is no status before it).
RECEIVE = "receive"

# Timeline entries that record something without changing the status (the deadlines'
# warnings, cards and escalations): their labels, beside the actions' ones.
NOTE_ZH: dict[str, str] = {
    "deadline_warning": "时限预警",
    "yellow_card": "亮黄牌",
    "red_card": "亮红牌",
    "escalate": "升级督办",
    "return_charged": "退单时间认定",
    "calendar_fallback": "节假日未录入提醒",
}


class Relation(StrEnum):
    """How the acting person or system stands to this ticket (established by the service)."""

    CITY_CENTRE = "city_centre"  # a city dispatcher or agent
    DISTRICT_CENTRE = "district_centre"  # the centre of the ticket's district
    LEAD = "lead"  # staff of the lead unit
    CO_UNIT = "co_unit"  # staff of a summoned co-unit
    REQUESTER = "requester"  # the citizen who filed it (or an agent on their behalf)
    SUPERVISOR = "supervisor"
    SYSTEM = "system"  # the machine: auto-dispatch, timers
    NONE = "none"


CENTRE = frozenset({Relation.CITY_CENTRE, Relation.DISTRICT_CENTRE, Relation.SYSTEM})
ACTION_RELATIONS: Mapping[Action, frozenset[Relation]] = {
    Action.QUEUE: CENTRE,
    Action.ANSWER: CENTRE,
    Action.HAND_OVER_EMERGENCY: CENTRE,
    Action.TRANSFER_OUT: CENTRE,
    Action.DISPATCH: CENTRE,
    Action.DISPATCH_TO_DISTRICT: frozenset({Relation.CITY_CENTRE, Relation.SYSTEM}),
    Action.RETURN_TO_CITY: frozenset({Relation.DISTRICT_CENTRE}),
    Action.ACCEPT: frozenset({Relation.LEAD}),
    Action.RETURN: frozenset({Relation.LEAD}),
    Action.RULE: CENTRE - {Relation.SYSTEM},
    Action.REQUEST_RULING: frozenset({Relation.LEAD}),
    Action.OPEN_CONSULTATION: CENTRE - {Relation.SYSTEM},
    Action.CONTACT: frozenset({Relation.LEAD}),
    Action.START: frozenset({Relation.LEAD}),
    Action.REQUEST_EXTENSION: frozenset({Relation.LEAD}),
    Action.APPROVE_EXTENSION: CENTRE - {Relation.SYSTEM},
    Action.DENY_EXTENSION: CENTRE - {Relation.SYSTEM},
    Action.REQUEST_SUSPENSION: frozenset({Relation.LEAD}),
    Action.APPROVE_SUSPENSION: CENTRE - {Relation.SYSTEM},
    Action.DENY_SUSPENSION: CENTRE - {Relation.SYSTEM},
    Action.RESUME: frozenset({Relation.LEAD, *CENTRE}),
    Action.SUMMON: frozenset({Relation.LEAD}),
    Action.REPORT: frozenset({Relation.CO_UNIT}),
    Action.CO_REPLY: frozenset({Relation.CO_UNIT}),
    Action.EXCUSE_CO_UNIT: CENTRE - {Relation.SYSTEM},
    Action.REPLY: frozenset({Relation.LEAD}),
    Action.BEGIN_REVIEW: CENTRE - {Relation.SYSTEM},
    Action.APPROVE_REPLY: CENTRE,
    Action.REJECT_REPLY: CENTRE - {Relation.SYSTEM},
    Action.RATE_SATISFIED: frozenset({Relation.REQUESTER, Relation.CITY_CENTRE}),
    Action.RATE_UNSATISFIED: frozenset({Relation.REQUESTER, Relation.CITY_CENTRE}),
    Action.RATE_UNSATISFIED_AFTER_REDO: frozenset({Relation.REQUESTER, Relation.CITY_CENTRE}),
    Action.CLOSE_UNRATED: CENTRE,
    Action.SUPERVISE: frozenset({Relation.SUPERVISOR, Relation.SYSTEM}),
    Action.SUPPLEMENT: frozenset({Relation.REQUESTER, Relation.CITY_CENTRE}),
    Action.CHASE: frozenset({Relation.REQUESTER, Relation.CITY_CENTRE}),
    Action.WITHDRAW: frozenset({Relation.REQUESTER, Relation.CITY_CENTRE}),
    Action.MERGE: CENTRE - {Relation.SYSTEM},
    Action.SHARE_REPLY: frozenset({Relation.SYSTEM}),
    Action.INVALIDATE: CENTRE - {Relation.SYSTEM},
}

# Actions that must carry a reason a person can read later.
NEEDS_REASON = frozenset(
    {
        Action.RETURN,
        Action.RULE,
        Action.REQUEST_EXTENSION,
        Action.DENY_EXTENSION,
        Action.REQUEST_SUSPENSION,
        Action.DENY_SUSPENSION,
        Action.REJECT_REPLY,
        Action.EXCUSE_CO_UNIT,
        Action.INVALIDATE,
        Action.TRANSFER_OUT,
        Action.SUPERVISE,
        Action.OPEN_CONSULTATION,
    }
)

DEFAULT_RETURN_LIMIT = 2


@dataclass(frozen=True, slots=True)
class CoUnitState:
    unit_id: int
    reported: bool = False
    replied: bool = False
    excused: bool = False

    @property
    def done(self) -> bool:
        return self.replied or self.excused


@dataclass(frozen=True, slots=True)
class TicketState:
    """What the rules need to know of a ticket (the service maps it to and from the row)."""

    status: Status
    lead_unit_id: int | None = None
    ruled: bool = False  # 快速裁决: the named owner may no longer return it
    # 首办负责制: dispatched with no owner in the lists, the first unit keeps it until a ruling.
    first_handler: bool = False
    ruling_requested: bool = False
    returns_by_unit: Mapping[int, int] = field(default_factory=dict)
    co_units: tuple[CoUnitState, ...] = ()
    contacted: bool = False
    redo_count: int = 0
    extension_pending: bool = False
    suspension_pending: bool = False
    chase_count: int = 0


@dataclass(frozen=True, slots=True)
class Actor:
    relation: Relation
    user_id: int | None = None
    unit_id: int | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    action: Action
    from_status: Status
    to_status: Status
    reason: str | None
    payload: Mapping[str, Any]


class IllegalTransition(Conflict):
    """HTTP 409 with the actions the ticket allows now."""

    def __init__(self, status: Status, action: Action, allowed: list[str]) -> None:
        super().__init__(
            "illegal_transition",
            f"工单当前状态为「{status.label_zh}」，不能执行「{action.label_zh}」",
            f"Action {action.value} is not allowed in status {status.value}",
            details={"status": status.value, "action": action.value, "allowed": allowed},
        )


def allowed_actions(status: Status) -> list[str]:
    return sorted(a.value for (s, a) in TRANSITIONS if s is status)


def allowed_for(state: TicketState, actor: Actor) -> list[str]:
    """The actions this actor could try now (for buttons on a page)."""
    return sorted(
        a.value
        for (s, a) in TRANSITIONS
        if s is state.status and actor.relation in ACTION_RELATIONS[a]
    )


def apply(
    state: TicketState,
    action: Action,
    actor: Actor,
    now: datetime,
    *,
    reason: str | None = None,
    payload: Mapping[str, Any] | None = None,
    return_limit: int = DEFAULT_RETURN_LIMIT,
) -> tuple[TicketState, list[Event]]:
    """The one way a ticket's state changes. Raises instead of guessing."""
    payload = dict(payload or {})
    target = TRANSITIONS.get((state.status, action))
    if target is None:
        raise IllegalTransition(state.status, action, allowed_actions(state.status))
    if actor.relation not in ACTION_RELATIONS[action]:
        raise Forbidden(
            "actor_not_allowed",
            f"您与该工单的关系不允许执行「{action.label_zh}」",
            f"A {actor.relation.value} may not {action.value} this ticket",
        )
    if action in NEEDS_REASON and not (reason and reason.strip()):
        raise ValidationFailed(
            "reason_required",
            f"「{action.label_zh}」必须填写原因",
            f"{action.value} needs a reason",
        )
    new = _guard_and_update(state, action, actor, payload, return_limit)
    new = replace(new, status=target)
    event = Event(action, state.status, target, reason.strip() if reason else None, payload)
    return new, [event]


def _guard_and_update(
    state: TicketState,
    action: Action,
    actor: Actor,
    payload: dict[str, Any],
    return_limit: int,
) -> TicketState:
    if action in (Action.DISPATCH, Action.RULE):
        unit_id = payload.get("unit_id")
        if not isinstance(unit_id, int):
            raise ValidationFailed(
                "unit_required", "派单必须指定承办单位", "Dispatch needs a unit_id"
            )
        # A ruling binds the owner; a plain re-dispatch starts a fresh acceptance.
        is_rule = action is Action.RULE
        return replace(
            state,
            lead_unit_id=unit_id,
            ruled=is_rule,
            first_handler=not is_rule and bool(payload.get("no_owner")),
            ruling_requested=False,
            contacted=state.contacted and unit_id == state.lead_unit_id,
            co_units=tuple(CoUnitState(u) for u in payload.get("co_unit_ids", ())),
        )
    if action is Action.REQUEST_RULING:
        if state.ruled:
            raise Conflict("already_ruled", "该工单已裁决", "The centre has already ruled")
        return replace(state, ruling_requested=True)
    if action is Action.RETURN:
        unit = actor.unit_id
        if state.ruled:
            raise Conflict(
                "ruled_no_return",
                "该工单已由派单中心裁决，承办单位不得再退单",
                "The centre has ruled on this ticket: the owner may no longer return it",
            )
        if state.first_handler:
            raise Conflict(
                "first_handler_duty",
                "该事项在清单中无责任单位，按首办负责制由本单位先行办理，可申请裁决",
                "No owner in the lists: the first unit keeps it (首办负责制); ask for a ruling",
            )
        used = state.returns_by_unit.get(unit, 0) if unit is not None else 0
        if used >= return_limit:
            raise Conflict(
                "return_limit_reached",
                f"本单位已退单 {used} 次，达到上限，请申请派单中心裁决",
                f"This unit has returned the ticket {used} times, the limit: ask for a ruling",
            )
        counts = dict(state.returns_by_unit)
        if unit is not None:
            counts[unit] = used + 1
        return replace(state, returns_by_unit=counts, lead_unit_id=None, co_units=())
    if action is Action.CONTACT:
        return replace(state, contacted=True)
    if action is Action.SUMMON:
        new_ids = [u for u in payload.get("unit_ids", ()) if isinstance(u, int)]
        if not new_ids:
            raise ValidationFailed(
                "units_required", "吹哨必须指定被召集单位", "Summoning needs unit_ids"
            )
        existing = {c.unit_id for c in state.co_units}
        if state.lead_unit_id in new_ids:
            raise ValidationFailed(
                "lead_is_co_unit", "牵头单位不能召集自己", "The lead unit cannot summon itself"
            )
        added = tuple(CoUnitState(u) for u in new_ids if u not in existing)
        return replace(state, co_units=state.co_units + added)
    if action in (Action.REPORT, Action.CO_REPLY, Action.EXCUSE_CO_UNIT):
        target = payload.get("unit_id", actor.unit_id)
        return replace(state, co_units=_update_co_unit(state, action, target))
    if action is Action.REPLY:
        waiting = [c.unit_id for c in state.co_units if not c.done]
        if waiting:
            raise Conflict(
                "co_units_pending",
                "尚有协办单位未答复或未被免除，牵头单位暂不能答复",
                "Co-units have not answered or been excused yet",
                details={"waiting_unit_ids": waiting},
            )
        if not state.contacted:
            raise Conflict(
                "citizen_not_contacted",
                "答复前必须先联系诉求人",
                "The citizen must be contacted before the reply",
            )
        return state
    if action is Action.REQUEST_EXTENSION:
        if state.extension_pending:
            raise Conflict(
                "extension_pending", "已有待审批的延期申请", "An extension request is pending"
            )
        return replace(state, extension_pending=True)
    if action in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION):
        if not state.extension_pending:
            raise Conflict(
                "no_extension_pending", "没有待审批的延期申请", "No extension request is pending"
            )
        return replace(state, extension_pending=False)
    if action is Action.REQUEST_SUSPENSION:
        if state.suspension_pending:
            raise Conflict(
                "suspension_pending", "已有待审批的挂起申请", "A suspension request is pending"
            )
        return replace(state, suspension_pending=True)
    if action in (Action.APPROVE_SUSPENSION, Action.DENY_SUSPENSION):
        if not state.suspension_pending:
            raise Conflict(
                "no_suspension_pending", "没有待审批的挂起申请", "No suspension request is pending"
            )
        return replace(state, suspension_pending=False)
    if action is Action.RATE_UNSATISFIED:
        if state.redo_count > 0:
            raise Conflict(
                "already_redone",
                "该工单已重办过，不满意评价应转督办",
                "Already redone once: an unsatisfied rating now opens supervision",
            )
        return replace(state, redo_count=state.redo_count + 1, contacted=False)
    if action is Action.RATE_UNSATISFIED_AFTER_REDO and state.redo_count == 0:
        raise Conflict(
            "not_redone_yet",
            "尚未重办，不满意评价应先退回重办",
            "Not redone yet: a first unsatisfied rating sends it back for a redo",
        )
    if action is Action.CHASE:
        return replace(state, chase_count=state.chase_count + 1)
    return state


def _update_co_unit(state: TicketState, action: Action, unit_id: Any) -> tuple[CoUnitState, ...]:
    found = False
    updated: list[CoUnitState] = []
    for co in state.co_units:
        if co.unit_id == unit_id:
            found = True
            if action is Action.REPORT:
                co = replace(co, reported=True)
            elif action is Action.CO_REPLY:
                co = replace(co, reported=True, replied=True)
            else:
                co = replace(co, excused=True)
        updated.append(co)
    if not found:
        raise ValidationFailed(
            "not_a_co_unit",
            "该单位不是本工单的协办单位",
            "That unit is not a co-unit of this ticket",
        )
    return tuple(updated)


def rating_action(satisfied: bool, redo_count: int) -> Action:
    """A bad rating sends the ticket back once (差评重办); a second opens 督办."""
    if satisfied:
        return Action.RATE_SATISFIED
    return Action.RATE_UNSATISFIED if redo_count == 0 else Action.RATE_UNSATISFIED_AFTER_REDO
