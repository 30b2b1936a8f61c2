"""What the staff pages show, read through the services: plain values for the templates.

Nothing here decides anything: who may see a ticket is `tickets.access`, what triage made of
it is `triage.service.decision_for`, the clocks are `sla.service.clocks_for_ticket`, the
masked requester is `tickets.queries.requester_view`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.core.errors import DomainError
from minyi.intake import service as intake
from minyi.intake.domain import (
    APPEAL_TYPE_LABEL_ZH,
    CHANNEL_LABEL_ZH,
    AppealType,
    Channel,
    normalise_phone,
)
from minyi.intake.models import Requester
from minyi.org import service as org
from minyi.org.domain import ROLE_LABEL_ZH, Role
from minyi.org.models import Area, User
from minyi.sla import service as sla
from minyi.tickets import queries
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal, anonymised_for, can_view, visibility_filter
from minyi.tickets.domain import RECEIVE, Action, Status
from minyi.tickets.models import Ticket, TicketEvent
from minyi.tickets.schemas import RequesterRead
from minyi.triage import service as triage
from minyi.triage.domain import LINE_NAMES_ZH
from minyi.triage.models import TriageDecision

# The hand-over lines, in the order triage ranks them (tickets/effects.py EMERGENCY_LINES).
HAND_OVER_LINES: tuple[tuple[str, str], ...] = tuple(LINE_NAMES_ZH.items())
HISTORY_LIMIT = 10
RECENT_HOURS = 24
PLACE_SUGGESTIONS = 8


def local(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def status_zh(status: str | None) -> str:
    return Status(status).label_zh if status else ""


def unit_name(session: Session, unit_id: int | None) -> str | None:
    unit = org.get_unit(session, unit_id) if unit_id is not None else None
    return unit.name if unit is not None else None


# --- who may take calls -------------------------------------------------------------------


def intake_channel(principal: Principal) -> Channel | None:
    """The channel this staff member types calls in on, by intake's own channel rules: the
    hotline for the centres' agents and dispatchers, the party-mass service centre window
    (党群服务中心) for street and community staff; None for everyone else."""
    for channel in (Channel.HOTLINE, Channel.WINDOW):
        try:
            intake.ensure_may_submit(principal, channel)
        except DomainError:
            continue
        return channel
    return None


def appeal_types() -> list[tuple[str, str]]:
    return [(t.value, APPEAL_TYPE_LABEL_ZH[t]) for t in AppealType]


def channel_label(channel: str) -> str:
    try:
        return CHANNEL_LABEL_ZH[Channel(channel)]
    except ValueError:
        return channel


# --- the caller's previous appeals (重复来电) -------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    ticket_id: int
    tracking_code: str
    received_at: str
    title: str
    status_label: str
    is_open: bool
    unit: str | None


@dataclass(frozen=True)
class CallerHistory:
    asked: bool  # a number was typed at all
    valid: bool  # and it is a number one can call back
    rows: tuple[HistoryRow, ...] = ()
    total: int = 0
    open_count: int = 0

    @property
    def repeat(self) -> bool:
        return self.total > 0


def caller_history(
    session: Session, principal: Principal, raw_phone: str, tz: ZoneInfo
) -> CallerHistory:
    """The appeals the principal may see from the same phone number, newest first. An
    anonymous appeal is left out for those from whom its requester is hidden, so that the
    number typed cannot unmask it."""
    if not raw_phone.strip():
        return CallerHistory(asked=False, valid=False)
    phone = normalise_phone(raw_phone)
    if phone is None:
        return CallerHistory(asked=True, valid=False)
    same_caller = select(Requester.id).where(Requester.phone == phone)
    stmt = select(Ticket).where(Ticket.requester_id.in_(same_caller), visibility_filter(principal))
    found = [
        t
        for t in session.scalars(stmt.order_by(Ticket.received_at.desc(), Ticket.id.desc()))
        if not anonymised_for(principal, t)
    ]
    rows = tuple(
        HistoryRow(
            ticket_id=t.id,
            tracking_code=t.tracking_code,
            received_at=local(t.received_at, tz),
            title=t.title,
            status_label=status_zh(t.status),
            is_open=t.is_open,
            unit=unit_name(session, t.lead_unit_id),
        )
        for t in found[:HISTORY_LIMIT]
    )
    return CallerHistory(
        asked=True,
        valid=True,
        rows=rows,
        total=len(found),
        open_count=sum(1 for t in found if t.is_open),
    )


# --- the address suggestions ----------------------------------------------------------------


def place_suggestions(session: Session, typed: str) -> list[str]:
    """Full names from the organisation tree ("T1区 东风街道 幸福社区") for the address typed:
    the place triage's locator reads in it and the places below it, then the places whose
    name holds the last word typed. The locator reads the same names back at intake, so
    picking one places the appeal."""
    typed = typed.strip()
    if len(typed) < 2:
        return []
    found: list[Area] = []
    located = triage.locate(session, area_id=None, text=typed, address=typed, lon=None, lat=None)
    area = org.get_area(session, located.area_id) if located.area_id is not None else None
    if area is not None:
        below, _ = org.list_areas(session, parent_id=area.id, limit=PLACE_SUGGESTIONS)
        found.extend([area, *below])
    last = typed.split()[-1][:50]
    if len(last) >= 2:
        named, _ = org.list_areas(session, q=last, limit=PLACE_SUGGESTIONS)
        found.extend(named)
    paths = dict.fromkeys(_area_path(session, a) for a in found)
    return list(paths)[:PLACE_SUGGESTIONS]


def _area_path(session: Session, area: Area) -> str:
    names: list[str] = []
    node: Area | None = area
    while node is not None and node.parent_id is not None:  # the city itself goes unsaid
        names.append(node.name)
        node = org.get_area(session, node.parent_id)
    return " ".join(reversed(names)) or area.name


# --- the ticket page ------------------------------------------------------------------------


@dataclass(frozen=True)
class TriageView:
    outcome: str
    outcome_zh: str
    urgency: str
    item: str | None
    item_confidence: str | None
    label: str | None
    label_confidence: str | None
    unit: str | None
    batch_number: str | None
    reasons: tuple[str, ...]
    urgency_reasons: tuple[str, ...]
    emergency_lines: tuple[tuple[str, str], ...]
    related: tuple[dict[str, Any], ...]
    instant_answer: str | None
    instant_source: str | None


@dataclass(frozen=True)
class ClockRow:
    label: str
    unit: str | None
    due_at: str
    time_left: str
    state: str
    running: bool
    overdue: bool


@dataclass(frozen=True)
class StepRow:
    at: str
    label: str
    to_status: str
    actor: str
    reason: str | None


@dataclass
class TicketPage:
    ticket: Ticket
    status_label: str
    channel_label: str
    type_label: str
    received_at: str
    # None where the requester's identity is hidden from this reader (`ticket_read`).
    address: str | None
    requester: RequesterRead | None
    triage: TriageView | None
    clocks: list[ClockRow]
    steps: list[StepRow]
    may_hand_over: bool
    emergency: bool
    suggested_line: str | None
    lines: Sequence[tuple[str, str]] = HAND_OVER_LINES
    unit: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _percent(value: float | None) -> str | None:
    return f"{value * 100:.0f}%" if value is not None else None


def triage_view(session: Session, decision: TriageDecision) -> TriageView:
    explanation = decision.explanation or {}
    item = catalogue.get_item(session, decision.item_id) if decision.item_id is not None else None
    urgency = explanation.get("urgency") or {}
    knowledge = explanation.get("knowledge") or {}
    return TriageView(
        outcome=decision.outcome,
        outcome_zh=str(explanation.get("outcome_zh") or decision.outcome),
        urgency=decision.urgency,
        item=f"{item.name}（{item.path}）" if item is not None else decision.item_path,
        item_confidence=_percent(decision.item_confidence),
        label=decision.label,
        label_confidence=_percent(decision.label_confidence),
        unit=unit_name(session, decision.lead_unit_id),
        batch_number=decision.batch_number,
        reasons=tuple(str(r) for r in explanation.get("reasons") or ()),
        urgency_reasons=tuple(str(r) for r in urgency.get("reasons") or ()),
        emergency_lines=tuple((x, LINE_NAMES_ZH.get(x, x)) for x in decision.emergency_lines),
        related=tuple(dict(r) for r in explanation.get("related") or ()),
        instant_answer=knowledge.get("answer"),
        instant_source=knowledge.get("source"),
    )


def _actor(session: Session, role: str | None, unit_id: int | None) -> str:
    try:
        who = ROLE_LABEL_ZH[Role(role)] if role else "系统"
    except ValueError:
        who = {"machine": "对接系统", "system": "系统", "public": "市民"}.get(role or "", "系统")
    unit = unit_name(session, unit_id)
    return f"{unit} · {who}" if unit else who


def ticket_page(
    session: Session,
    principal: Principal,
    ticket: Ticket,
    *,
    now: datetime,
    tz: ZoneInfo,
    reveal_reason: str | None = None,
) -> TicketPage:
    """The ticket as staff see it. `reveal_reason`: show the requester in full (for a call
    back), which `requester_view` allows only to those entitled and records in the audit."""
    read = queries.ticket_read(session, principal, ticket)
    decision = triage.decision_for(session, ticket.id)
    view = triage_view(session, decision) if decision is not None else None
    requester = queries.requester_view(
        session, principal, ticket, reveal=reveal_reason is not None, reason=reveal_reason
    )
    clocks = [
        ClockRow(
            label=c.label_zh,
            unit=c.unit_name,
            due_at=local(c.timer.due_at, tz),
            time_left=c.time_left_zh,
            state=c.state_zh,
            running=c.seconds_left is not None,
            overdue=c.seconds_left is not None and c.seconds_left < 0,
        )
        for c in sla.clocks_for_ticket(session, ticket, now)
    ]
    steps = []
    for event in tickets.timeline(session, ticket.id):
        e = queries.event_read(event)
        steps.append(
            StepRow(
                at=local(e.at, tz),
                label=e.action_label,
                to_status=status_zh(e.to_status),
                actor=_actor(session, e.actor_role, e.actor_unit_id),
                reason=e.reason,
            )
        )
    lines = view.emergency_lines if view is not None else ()
    emergency = ticket.urgency == "emergency" or bool(lines)
    return TicketPage(
        ticket=ticket,
        status_label=read.status_label,
        channel_label=channel_label(ticket.channel),
        type_label=APPEAL_TYPE_LABEL_ZH.get(AppealType(ticket.appeal_type), ticket.appeal_type),
        received_at=local(ticket.received_at, tz),
        address=read.address_text,
        requester=requester,
        triage=view,
        clocks=clocks,
        steps=steps,
        may_hand_over=Action.HAND_OVER_EMERGENCY.value in read.allowed_actions,
        emergency=emergency,
        suggested_line=lines[0][0] if lines else None,
        unit=unit_name(session, ticket.lead_unit_id),
    )


# --- the workbench --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecentRow:
    ticket_id: int
    tracking_code: str
    received_at: str
    title: str
    status_label: str
    urgency: str
    viewable: bool  # a window's staff may not follow a ticket once it left for a unit


def recent_intake(
    session: Session, principal: Principal, user: User, *, now: datetime, tz: ZoneInfo
) -> list[RecentRow]:
    """What this staff member took in over the last day, newest first: the tickets whose
    first step (受理) they recorded. Bounded by the time received, which is indexed."""
    since = now - timedelta(hours=RECENT_HOURS)
    rows = session.scalars(
        select(Ticket)
        .join(TicketEvent, (TicketEvent.ticket_id == Ticket.id) & (TicketEvent.seq == 1))
        .where(
            Ticket.received_at >= since,
            TicketEvent.action == RECEIVE,
            TicketEvent.actor_user_id == user.id,
        )
        .order_by(Ticket.received_at.desc(), Ticket.id.desc())
        .limit(20)
    )
    return [
        RecentRow(
            ticket_id=t.id,
            tracking_code=t.tracking_code,
            received_at=local(t.received_at, tz),
            title=t.title,
            status_label=status_zh(t.status),
            urgency=t.urgency,
            viewable=can_view(principal, t),
        )
        for t in rows
    ]


def queue_size(session: Session, principal: Principal) -> int | None:
    """How many tickets wait in this dispatcher's centre queue (None: not a centre)."""
    if principal.centre_level is None:
        return None
    _, total = queries.centre_queue(session, principal=principal, limit=1)
    return total
