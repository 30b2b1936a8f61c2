"""The deadlines of a ticket, defined once: pure rules, no database, no clock of their own.

Each clock a ticket runs is a `DeadlineKind` with one `DeadlineRule` in `RULES`: who answers
for it (the centre, the lead unit, a co-unit, the unit's leader, the supervisor), which
time it counts (natural time for the hotline and the dispatch centres, which work around
the clock; the responsible unit's working calendar for units), what starts and what stops
it. `deadline_for` turns a rule and a ticket's inputs (urgency, the implementation list's
response level and completion period) into a due time; the other functions are the moves a
clock makes in its life: the warning at a share of the time, suspension and resumption,
extension, the redo after a bad rating, the return the centre's ruling rejects, and the
card ladder when a deadline passes (yellow card → leader → red card → supervisor, 督办).
`docs/sla-deadlines.md` is the same table in prose; keep them together.

The business calendar is passed in (`WorkCalendar`, the methods of
`minyi.sla.calendar.domain.BusinessCalendar`), so these rules never read a holiday table and
tests can hand in a simple one. `NATURAL_TIME` is the calendar of the centres.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from minyi.catalogue.domain import DEFAULT_CONTACT_HOURS, ResponseLevel
from minyi.core.errors import ValidationFailed
from minyi.sla.calendar.domain import Deadline, Duration, DurationKind, natural_calendar
from minyi.triage.urgency import UrgencyLevel


class WorkCalendar(Protocol):
    """What these rules need of a calendar: `BusinessCalendar`'s own methods."""

    def add(self, start: datetime, duration: Duration, /) -> Deadline: ...

    def working_seconds_between(self, a: datetime, b: datetime, /) -> float: ...

    def add_working_seconds(self, start: datetime, seconds: float, /) -> Deadline: ...

    def is_working_day(self, d: date, /) -> bool: ...


# The calendar of the hotline and the dispatch centres: every second counts.
NATURAL_TIME: WorkCalendar = natural_calendar()


def natural_hours(hours: float) -> Duration:
    return Duration(DurationKind.NATURAL, hours)


def working_hours(hours: float) -> Duration:
    return Duration(DurationKind.WORKING_HOURS, hours)


def working_days(days: float) -> Duration:
    return Duration(DurationKind.WORKING_DAYS, days)


def describe_zh(span: Duration) -> str:
    amount = f"{span.amount:g}"
    return {
        DurationKind.NATURAL: f"{amount}小时（自然时间）",
        DurationKind.WORKING_HOURS: f"{amount}个工作小时",
        DurationKind.WORKING_DAYS: f"{amount}个工作日",
    }[span.kind]


def add_span(start: datetime, span: Duration, calendar: WorkCalendar) -> Deadline:
    """`start` plus `span`: natural hours on the wall clock, working time on `calendar`."""
    if span.amount < 0:
        raise ValidationFailed(
            "sla.negative_span", "时限不能为负数", "A deadline span cannot be negative"
        )
    if span.kind is DurationKind.NATURAL:
        # Whatever the unit's calendar, a natural-hours rule runs on the wall clock.
        return Deadline(start + timedelta(hours=span.amount), ())
    due = calendar.add(start, span)
    return Deadline(due.due_at, tuple(due.warnings))


# --- the table ------------------------------------------------------------------------


class DeadlineKind(StrEnum):
    DISPATCH = "dispatch"  # 派单时限
    ACCEPTANCE = "acceptance"  # 签收时限
    CONTACT = "contact"  # 联系诉求人时限
    REPLY = "reply"  # 答复时限 (响应等级 / 办结时限)
    CO_REPORT = "co_report"  # 协办报到时限
    CO_REPLY = "co_reply"  # 协办答复时限
    LEADER = "leader"  # 升级至单位领导后的时限
    SUPERVISOR = "supervisor"  # 督办时限
    RETURN_VISIT = "return_visit"  # 回访 / 评价时限: the assessment work sets its length


class Responsible(StrEnum):
    CENTRE = "centre"  # the dispatch centre (city or district)
    LEAD_UNIT = "lead_unit"  # 主办单位
    CO_UNIT = "co_unit"  # 协办单位
    LEADER = "leader"  # the responsible unit's leader
    SUPERVISOR = "supervisor"  # 督办


class TimeBase(StrEnum):
    NATURAL = "natural"  # around the clock (hotline, centres)
    UNIT_CALENDAR = "unit_calendar"  # the responsible unit's working calendar


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    kind: DeadlineKind
    label_zh: str
    responsible: Responsible
    time_base: TimeBase
    starts: str
    stops: str


RULES: Mapping[DeadlineKind, DeadlineRule] = {
    rule.kind: rule
    for rule in (
        DeadlineRule(
            DeadlineKind.DISPATCH,
            "派单时限",
            Responsible.CENTRE,
            TimeBase.NATURAL,
            "receipt of the appeal",
            "dispatch to a unit or a district centre (or an instant answer, hand-over)",
        ),
        DeadlineRule(
            DeadlineKind.ACCEPTANCE,
            "签收时限",
            Responsible.LEAD_UNIT,
            TimeBase.UNIT_CALENDAR,
            "dispatch to the unit",
            "acceptance or return by the unit",
        ),
        DeadlineRule(
            DeadlineKind.CONTACT,
            "联系时限",
            Responsible.LEAD_UNIT,
            TimeBase.NATURAL,
            "dispatch to the unit",
            "the unit records contact with the citizen",
        ),
        DeadlineRule(
            DeadlineKind.REPLY,
            "答复时限",
            Responsible.LEAD_UNIT,
            TimeBase.UNIT_CALENDAR,
            "dispatch to the unit (a redo: the bad rating)",
            "the unit's reply; paused by an approved suspension; moved by an extension",
        ),
        DeadlineRule(
            DeadlineKind.CO_REPORT,
            "协办报到时限",
            Responsible.CO_UNIT,
            TimeBase.UNIT_CALENDAR,
            "the lead unit summons the co-unit (吹哨)",
            "the co-unit reports (报到) or is excused",
        ),
        DeadlineRule(
            DeadlineKind.CO_REPLY,
            "协办答复时限",
            Responsible.CO_UNIT,
            TimeBase.UNIT_CALENDAR,
            "the lead unit summons the co-unit (吹哨)",
            "the co-unit's sub-reply to the lead unit or its excuse",
        ),
        DeadlineRule(
            DeadlineKind.LEADER,
            "领导督促时限",
            Responsible.LEADER,
            TimeBase.UNIT_CALENDAR,
            "a deadline of the unit passed (yellow card)",
            "the overdue step is done",
        ),
        DeadlineRule(
            DeadlineKind.RETURN_VISIT,
            "回访评价时限",
            Responsible.CENTRE,
            TimeBase.NATURAL,
            "the reply is approved (the citizen is asked to rate)",
            "the citizen's rating or the close without one",
        ),
        DeadlineRule(
            DeadlineKind.SUPERVISOR,
            "督办时限",
            Responsible.SUPERVISOR,
            TimeBase.UNIT_CALENDAR,
            "the leader's deadline passed (red card)",
            "the overdue step is done",
        ),
    )
}


# Defaults of `Policy` (frozen values, shared safely). The co-unit and escalation lengths
# are this project's choice, not the regulation's: the summoner and the admin may set them.
_ACCEPTANCE = working_hours(2)
_HALF_HOUR = natural_hours(0.5)
_CO_REPORT = working_hours(4)
_CO_REPLY = working_days(3)
_LEADER = working_days(1)
_SUPERVISOR = working_days(3)


@dataclass(frozen=True, slots=True)
class Policy:
    """The configurable parts of the rules (defaults: the regulation's values where it has one)."""

    dispatch: Mapping[UrgencyLevel, Duration] = field(
        default_factory=lambda: {
            UrgencyLevel.EMERGENCY: _HALF_HOUR,  # also handed over to 110/119/120
            UrgencyLevel.URGENT: _HALF_HOUR,
            UrgencyLevel.FAST: natural_hours(2),
            UrgencyLevel.ORDINARY: natural_hours(8),
        }
    )
    acceptance: Duration = _ACCEPTANCE
    acceptance_urgent: Duration = _HALF_HOUR
    co_report: Duration = _CO_REPORT
    co_reply: Duration = _CO_REPLY
    leader: Duration = _LEADER
    supervisor: Duration = _SUPERVISOR
    # None: no return-visit clock (the hook the assessment work fills in).
    return_visit: Duration | None = None
    warn_share: float = 0.8
    redo_share: float = 0.5
    redo_min_working_days: int = 1


DEFAULT_POLICY = Policy()


@dataclass(frozen=True, slots=True)
class TicketDeadline:
    """One clock of a ticket: what it is, from when, until when, and why that long."""

    kind: DeadlineKind
    responsible: Responsible
    start: datetime
    due_at: datetime
    span: Duration
    basis: str  # shown to staff: which rule set this length
    warnings: tuple[str, ...] = ()

    @property
    def time_base(self) -> TimeBase:
        return (
            TimeBase.NATURAL if self.span.kind is DurationKind.NATURAL else TimeBase.UNIT_CALENDAR
        )


def calendar_for(deadline: TicketDeadline, unit_calendar: WorkCalendar) -> WorkCalendar:
    """The calendar a clock counts on when it is paused, resumed or warned: natural for a
    natural-hours rule (a 2 h or 24 h reply runs on natural time too), else the unit's."""
    return NATURAL_TIME if deadline.time_base is TimeBase.NATURAL else unit_calendar


def _is_urgent(urgency: UrgencyLevel) -> bool:
    return urgency in (UrgencyLevel.URGENT, UrgencyLevel.EMERGENCY)


def reply_spans(response_level: ResponseLevel, completion_days: int | None) -> list[Duration]:
    spans = [
        natural_hours(response_level.hours)
        if response_level.hours is not None
        else working_days(response_level.working_days or 15)
    ]
    if completion_days is not None:
        spans.append(working_days(completion_days))
    return spans


def deadline_for(
    kind: DeadlineKind,
    *,
    start: datetime,
    calendar: WorkCalendar,
    urgency: UrgencyLevel = UrgencyLevel.ORDINARY,
    response_level: ResponseLevel = ResponseLevel.D15,
    completion_days: int | None = None,
    contact_hours: int | None = None,
    span: Duration | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> TicketDeadline:
    """The due time of one clock of a ticket.

    `calendar` is the working calendar of the unit that answers for the clock (the co-unit's
    for co-unit clocks); natural-time rules ignore it. `completion_days` is the
    implementation list's period after the district's choice (`Implementation`), and the
    reply deadline is the stricter (earlier) of it and the response level (SPEC §2.6).
    `span` overrides the configured length where the summoner or the escalation sets it.
    """
    if start.tzinfo is None:
        raise ValidationFailed(
            "sla.naive_datetime", "时间必须带时区", "Deadlines need timezone-aware times"
        )
    rule = RULES[kind]
    candidates: list[tuple[Duration, str]]
    if span is not None:
        candidates = [(span, f"指定时限 {describe_zh(span)}")]
    elif kind is DeadlineKind.DISPATCH:
        chosen = policy.dispatch[urgency]
        candidates = [(chosen, f"派单时限（{urgency.value}）{describe_zh(chosen)}")]
    elif kind is DeadlineKind.ACCEPTANCE:
        chosen = policy.acceptance_urgent if _is_urgent(urgency) else policy.acceptance
        candidates = [(chosen, f"签收时限 {describe_zh(chosen)}")]
    elif kind is DeadlineKind.CONTACT:
        hours = contact_hours if contact_hours is not None else DEFAULT_CONTACT_HOURS
        candidates = [(natural_hours(hours), f"联系时限 {hours}小时")]
    elif kind is DeadlineKind.REPLY:
        level, *period = reply_spans(response_level, completion_days)
        candidates = [(level, f"响应等级 {response_level.value}")]
        candidates += [(p, f"办结时限 {describe_zh(p)}") for p in period]
    elif kind is DeadlineKind.RETURN_VISIT:
        if policy.return_visit is None:
            raise ValidationFailed(
                "sla.no_return_visit",
                "未设置回访评价时限",
                "No return-visit deadline is configured",
            )
        candidates = [(policy.return_visit, f"回访评价时限 {describe_zh(policy.return_visit)}")]
    else:
        configured = {
            DeadlineKind.CO_REPORT: policy.co_report,
            DeadlineKind.CO_REPLY: policy.co_reply,
            DeadlineKind.LEADER: policy.leader,
            DeadlineKind.SUPERVISOR: policy.supervisor,
        }[kind]
        candidates = [(configured, f"{rule.label_zh} {describe_zh(configured)}")]
    best: TicketDeadline | None = None
    for cand_span, basis in candidates:
        due = add_span(start, cand_span, calendar)
        if best is None or due.due_at < best.due_at:
            best = TicketDeadline(
                kind, rule.responsible, start, due.due_at, cand_span, basis, due.warnings
            )
    assert best is not None
    return best


# --- the moves of a clock --------------------------------------------------------------


def warn_at(start: datetime, due: datetime, calendar: WorkCalendar, share: float = 0.8) -> datetime:
    """When the handler is warned: once `share` of the clock's own time has gone."""
    if not 0 < share < 1:
        raise ValidationFailed(
            "sla.bad_warn_share",
            "预警比例须在0与1之间",
            "The warning share must be between 0 and 1",
        )
    total = calendar.working_seconds_between(start, due)
    return calendar.add_working_seconds(start, total * share).due_at


def time_left(now: datetime, due: datetime, calendar: WorkCalendar) -> float:
    """Seconds of the clock's own time left at `now`; negative once overdue.

    Kept when a suspension is approved, so that resumption gives back exactly this much.
    """
    if now <= due:
        return calendar.working_seconds_between(now, due)
    return -calendar.working_seconds_between(due, now)


def resume(now: datetime, left: float, calendar: WorkCalendar) -> Deadline:
    """The new due time when a suspended clock restarts with `left` seconds.

    A clock suspended after it was already overdue stays overdue: due at once, and the card
    already given for it is not given again (the firing of a deadline is idempotent).
    """
    if left <= 0:
        return Deadline(now, ())
    due = calendar.add_working_seconds(now, left)
    return Deadline(due.due_at, tuple(due.warnings))


def extend(due: datetime, days: int, calendar: WorkCalendar) -> Deadline:
    """An approved extension: the reply deadline moves `days` working days later."""
    if days <= 0:
        raise ValidationFailed(
            "sla.bad_extension",
            "延期天数须为正数",
            "An extension must be a positive number of days",
        )
    return add_span(due, working_days(days), calendar)


def redo_span(original: Duration, policy: Policy = DEFAULT_POLICY) -> Duration:
    """The length of a redo after a bad rating (差评重办): shorter than the first time.

    `redo_share` of the original (default half), rounded up to whole working days, at least
    `redo_min_working_days` but never longer than the original; an hours rule keeps its
    time base and is simply scaled.
    """
    if original.kind is DurationKind.WORKING_DAYS:
        days = max(math.ceil(original.amount * policy.redo_share), policy.redo_min_working_days)
        return working_days(min(days, original.amount))
    return Duration(original.kind, original.amount * policy.redo_share)


def redo_deadline(
    original: TicketDeadline,
    *,
    start: datetime,
    calendar: WorkCalendar,
    policy: Policy = DEFAULT_POLICY,
) -> TicketDeadline:
    """A fresh reply deadline from the bad rating `start`, shorter than `original`."""
    span = redo_span(original.span, policy)
    due = add_span(start, span, calendar)
    return TicketDeadline(
        DeadlineKind.REPLY,
        Responsible.LEAD_UNIT,
        start,
        due.due_at,
        span,
        f"差评重办 {describe_zh(span)}（原 {describe_zh(original.span)}）",
        due.warnings,
    )


@dataclass(frozen=True, slots=True)
class ReturnCharge:
    """Who answers for the time a return (退单) cost the citizen, and how much."""

    charged_to: Responsible
    unit_id: int | None  # the returning unit when it is charged; None for the centre
    seconds: float
    restart_clocks: bool  # whether the next handler's clocks start afresh at re-dispatch


def charge_return(
    *,
    returning_unit_id: int,
    dispatched_at: datetime,
    redispatched_at: datetime,
    return_upheld: bool,
    next_unit_id: int,
    calendar: WorkCalendar,
) -> ReturnCharge:
    """The centre's ruling decides who pays for a return.

    Rejected (the unit should have kept it): the working time from the dispatch to the
    re-dispatch is charged to the returning unit, never to the unit that finally handles
    it; if the ticket goes back to the same unit its clocks keep their first start, so it
    gets no fresh time for returning. Upheld (a routing mistake): the centre answers for the
    natural time and the next unit starts afresh.
    """
    if redispatched_at < dispatched_at:
        raise ValidationFailed(
            "sla.bad_return_times",
            "重新派单时间早于派单时间",
            "The re-dispatch cannot precede the dispatch",
        )
    if return_upheld:
        return ReturnCharge(
            Responsible.CENTRE, None, (redispatched_at - dispatched_at).total_seconds(), True
        )
    seconds = calendar.working_seconds_between(dispatched_at, redispatched_at)
    return ReturnCharge(
        Responsible.LEAD_UNIT, returning_unit_id, seconds, next_unit_id != returning_unit_id
    )


# --- cards and escalation --------------------------------------------------------------


class Card(StrEnum):
    YELLOW = "yellow_card"
    RED = "red_card"


@dataclass(frozen=True, slots=True)
class LadderStep:
    card: Card
    card_against: Responsible  # the unit whose deadline passed (the co-unit for its own)
    escalate_to: Responsible | None
    next_deadline: DeadlineKind | None


def next_step(kind: DeadlineKind, overdue: bool, escalation_level: int) -> LadderStep | None:
    """What happens when a clock of `kind` passes, `escalation_level` rungs up the ladder.

    Level 0 (the responsible's own deadline): a yellow card against it and escalation to
    its leader with the leader's deadline. Level 1 (the leader's deadline passed): a red
    card and escalation to the supervisor (督办) with its deadline. Level 2 and above (the
    supervisor's deadline passed): another red card; there is no rung higher.
    """
    if not overdue:
        return None
    if kind in (DeadlineKind.LEADER, DeadlineKind.SUPERVISOR):
        raise ValidationFailed(
            "sla.ladder_kind",
            "请传入原始时限类型与升级层级",
            "Pass the original deadline kind and the escalation level",
        )
    against = RULES[kind].responsible
    if escalation_level <= 0:
        return LadderStep(Card.YELLOW, against, Responsible.LEADER, DeadlineKind.LEADER)
    if escalation_level == 1:
        return LadderStep(Card.RED, against, Responsible.SUPERVISOR, DeadlineKind.SUPERVISOR)
    return LadderStep(Card.RED, against, None, None)


# --- how a clock reads on the ticket -----------------------------------------------------

TIMER_STATE_ZH: Mapping[str, str] = {
    "pending": "计时中",
    "warned": "已预警",
    "escalated_leader": "已超时，升级至单位领导",
    "escalated_supervisor": "已超时，升级督办",
    "overdue": "已超时（督办期限已过）",
    "done": "已完成",
    "cancelled": "已取消",
    "returned": "退单待裁定",
}


def clock_label_zh(kind: DeadlineKind, escalation_level: int) -> str:
    """A clock's name as staff read it, with the rung it has climbed to."""
    label = RULES[kind].label_zh
    if escalation_level == 1:
        return f"{label}（单位领导督促）"
    if escalation_level >= 2:
        return f"{label}（督办）"
    return label


def time_left_zh(seconds: float, time_base: TimeBase, *, paused: bool = False) -> str:
    """ "剩余1天3小时" / "剩余2个工作小时15分钟" / "已超时40分钟", for staff at a glance."""
    overdue = seconds < 0
    minutes = int(abs(seconds) // 60)
    if time_base is TimeBase.NATURAL:
        days, rest = divmod(minutes, 24 * 60)
        parts = [f"{days}天" if days else "", f"{rest // 60}小时" if rest // 60 else ""]
    else:
        parts = [f"{minutes // 60}个工作小时" if minutes // 60 else ""]
    parts.append(f"{minutes % 60}分钟" if minutes % 60 or not any(parts) else "")
    amount = "".join(parts)
    if overdue:
        return f"已超时{amount}"
    return f"暂停中，剩余{amount}" if paused else f"剩余{amount}"
