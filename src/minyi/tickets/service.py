"""Use cases of tickets: open one, act on one. Every status change goes through `act`.

`act` locks the ticket (row lock on PostgreSQL, the write lock on SQLite, and a version
check everywhere), works out how the actor stands to the ticket, lets the state machine
decide, then stores the new state, the timeline event, the audit entry and the outgoing
notifications in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from minyi.audit import service as audit
from minyi.catalogue import service as catalogue
from minyi.catalogue.domain import Resolution
from minyi.core.clock import Clock, get_clock
from minyi.core.errors import Conflict, NotFound
from minyi.org import service as org
from minyi.org.domain import AreaLevel, UnitKind
from minyi.org.models import Area, Unit
from minyi.tickets import effects
from minyi.tickets.access import Principal, can_view, ensure_can_view, relations
from minyi.tickets.domain import (
    ACTION_RELATIONS,
    DEFAULT_RETURN_LIMIT,
    NOTE_ZH,
    RECEIVE,
    Action,
    Actor,
    CoUnitState,
    Relation,
    Status,
    TicketState,
    apply,
)
from minyi.tickets.models import Ticket, TicketCoUnit, TicketEvent


@dataclass(frozen=True)
class NewTicket:
    """What intake hands over once an appeal is validated (personal data already stored)."""

    tracking_code: str
    channel: str
    appeal_type: str
    title: str
    text: str
    dedupe_hash: str
    address_text: str | None = None
    lon: float | None = None
    lat: float | None = None
    area_id: int | None = None
    requester_id: int | None = None
    requester_kind: str = "person"
    anonymous: bool = False
    source_client_id: int | None = None
    urgency: str = "ordinary"
    item_id: int | None = None


def open_ticket(
    session: Session, *, new: NewTicket, principal: Principal, clock: Clock | None = None
) -> Ticket:
    """Create the ticket in `received`, with its first timeline event and audit entry."""
    now = (clock or get_clock()).now()
    district_id = district_of(session, new.area_id)
    ticket = Ticket(
        **asdict(new),
        district_id=district_id,
        status=Status.RECEIVED.value,
        is_open=True,
        returns_by_unit={},
        consultation_unit_ids=[],
        routing={},
        received_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    _append_event(
        session,
        ticket,
        seq=1,
        at=now,
        action=RECEIVE,
        from_status=None,
        to_status=Status.RECEIVED,
        principal=principal,
        reason=None,
        payload={"channel": new.channel},
    )
    audit.record(
        session,
        actor=principal.label,
        action="ticket.receive",
        object_type="ticket",
        object_id=ticket.id,
        data={"channel": new.channel, "tracking_code": new.tracking_code},
        clock=clock,
    )
    return ticket


def get_ticket(session: Session, ticket_id: int) -> Ticket | None:
    return session.get(Ticket, ticket_id)


def get_ticket_or_raise(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound("ticket_not_found", "找不到该工单", "No such ticket")
    return ticket


def act(
    session: Session,
    *,
    ticket_id: int,
    action: Action,
    principal: Principal,
    reason: str | None = None,
    payload: Mapping[str, Any] | None = None,
    expected_version: int | None = None,
    clock: Clock | None = None,
    return_limit: int = DEFAULT_RETURN_LIMIT,
) -> Ticket:
    """Apply one workflow action to one ticket, or raise and change nothing."""
    now = (clock or get_clock()).now()
    ticket = session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None:
        raise NotFound("ticket_not_found", "找不到该工单", "No such ticket")
    if not can_view(principal, ticket):
        if principal.unit_id is not None and str(principal.unit_id) in (
            ticket.returns_by_unit or {}
        ):
            # Their unit returned it a moment ago (perhaps a colleague): say so plainly.
            raise Conflict(
                "ticket_left_unit",
                "该工单已由本单位退回，不再由本单位办理",
                "Your unit has returned this ticket; it is no longer yours",
            )
        ensure_can_view(principal, ticket)
    if expected_version is not None and ticket.version != expected_version:
        raise Conflict(
            "version_conflict",
            "工单已被他人更新，请刷新后重试",
            "The ticket was changed by someone else: reload and try again",
            details={"current_version": ticket.version},
        )
    found = relations(principal, ticket)
    relation = next((r for r in ACTION_RELATIONS[action] if r in found), Relation.NONE)
    prepared = effects.prepare(session, ticket, action, principal, dict(payload or {}), now)
    actor = Actor(relation, _user_id(principal), principal.unit_id, principal.role)
    before = Status(ticket.status)
    new_state, events = apply(
        to_state(ticket),
        action,
        actor,
        now,
        reason=reason,
        payload=prepared,
        return_limit=return_limit,
    )
    write_state(ticket, new_state, now)
    effects.after(session, ticket, action, principal, prepared, reason, now)
    seq = _next_seq(session, ticket.id)
    for i, event in enumerate(events):
        _append_event(
            session,
            ticket,
            seq=seq + i,
            at=now,
            action=event.action.value,
            from_status=event.from_status,
            to_status=event.to_status,
            principal=principal,
            reason=event.reason,
            payload=_public_payload(event.payload),
        )
    audit.record(
        session,
        actor=principal.label,
        action=f"ticket.{action.value}",
        object_type="ticket",
        object_id=ticket.id,
        data={"from": before.value, "to": ticket.status, "relation": relation.value},
        clock=clock,
    )
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict(
            "version_conflict",
            "工单已被他人更新，请刷新后重试",
            "The ticket was changed by someone else: reload and try again",
        ) from exc
    effects.followups(session, ticket, action, principal, now, clock=clock)
    return ticket


def record_note(
    session: Session,
    *,
    ticket_id: int,
    note: str,
    principal: Principal,
    reason: str | None = None,
    payload: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
) -> TicketEvent:
    """A timeline entry that changes no status (a deadline warning, a card, an escalation),
    audited like an action. `note` is one of `domain.NOTE_ZH`."""
    if note not in NOTE_ZH:
        raise ValueError(f"unknown timeline note {note!r}")
    now = (clock or get_clock()).now()
    ticket = session.scalar(select(Ticket).where(Ticket.id == ticket_id).with_for_update())
    if ticket is None:
        raise NotFound("ticket_not_found", "找不到该工单", "No such ticket")
    status = Status(ticket.status)
    event = _append_event(
        session,
        ticket,
        seq=_next_seq(session, ticket.id),
        at=now,
        action=note,
        from_status=status,
        to_status=status,
        principal=principal,
        reason=reason,
        payload=_public_payload(payload or {}),
    )
    audit.record(
        session,
        actor=principal.label,
        action=f"ticket.{note}",
        object_type="ticket",
        object_id=ticket.id,
        data={"status": status.value, **_public_payload(payload or {})},
        clock=clock,
    )
    session.flush()
    return event


def to_state(ticket: Ticket) -> TicketState:
    return TicketState(
        status=Status(ticket.status),
        lead_unit_id=ticket.lead_unit_id,
        ruled=ticket.ruled,
        first_handler=ticket.first_handler,
        ruling_requested=ticket.ruling_requested,
        returns_by_unit={int(k): v for k, v in (ticket.returns_by_unit or {}).items()},
        co_units=tuple(
            CoUnitState(
                c.unit_id,
                reported=c.reported_at is not None,
                replied=c.replied_at is not None,
                excused=c.excused,
            )
            for c in ticket.co_units
        ),
        contacted=ticket.contacted,
        redo_count=ticket.redo_count,
        extension_pending=ticket.extension_pending,
        suspension_pending=ticket.suspension_pending,
        chase_count=ticket.chase_count,
    )


def write_state(ticket: Ticket, state: TicketState, now: datetime) -> None:
    ticket.status = state.status.value
    ticket.is_open = not state.status.is_terminal
    ticket.lead_unit_id = state.lead_unit_id
    ticket.ruled = state.ruled
    ticket.first_handler = state.first_handler
    ticket.ruling_requested = state.ruling_requested
    ticket.returns_by_unit = {str(k): v for k, v in state.returns_by_unit.items()}
    ticket.contacted = state.contacted
    ticket.redo_count = state.redo_count
    ticket.extension_pending = state.extension_pending
    ticket.suspension_pending = state.suspension_pending
    ticket.chase_count = state.chase_count
    ticket.updated_at = now
    if state.status.is_terminal and ticket.closed_at is None:
        ticket.closed_at = now
    # Co-units the state machine dropped (a return, a re-dispatch) leave the ticket.
    keep = {c.unit_id for c in state.co_units}
    ticket.co_units = [c for c in ticket.co_units if c.unit_id in keep]
    known = {c.unit_id for c in ticket.co_units}
    for co in state.co_units:
        if co.unit_id not in known:
            ticket.co_units.append(TicketCoUnit(unit_id=co.unit_id, added_at=now))


def timeline(session: Session, ticket_id: int) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.seq)
        )
    )


def district_centre(session: Session, district_id: int) -> Unit | None:
    return session.scalar(
        select(Unit)
        .where(Unit.kind == UnitKind.DISPATCH_CENTRE.value, Unit.area_id == district_id)
        .order_by(Unit.id)
        .limit(1)
    )


def city_centre(session: Session) -> Unit | None:
    """The city's dispatch centre: the one whose area is the city itself."""
    return session.scalar(
        select(Unit)
        .join(Area, Area.id == Unit.area_id)
        .where(Unit.kind == UnitKind.DISPATCH_CENTRE.value, Area.level == AreaLevel.CITY.value)
        .order_by(Unit.id)
        .limit(1)
    )


def resolve_route(session: Session, ticket: Ticket, at: datetime) -> Resolution | None:
    if ticket.item_id is None or ticket.area_id is None:
        return None
    return catalogue.resolve(session, item_id=ticket.item_id, area_id=ticket.area_id, at=at)


def district_of(session: Session, area_id: int | None) -> int | None:
    if area_id is None:
        return None
    area = org.get_area(session, area_id)
    while area is not None:
        if area.level == AreaLevel.DISTRICT.value:
            return area.id
        area = area.parent
    return None


def _user_id(principal: Principal) -> int | None:
    return principal.user.id if principal.user is not None else None


def _next_seq(session: Session, ticket_id: int) -> int:
    current = session.scalar(
        select(func.max(TicketEvent.seq)).where(TicketEvent.ticket_id == ticket_id)
    )
    return int(current or 0) + 1


_PRIVATE_KEYS = frozenset({"phone", "id_number", "name"})


def _public_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Timeline payloads never carry a requester's identity."""
    return {k: v for k, v in payload.items() if k not in _PRIVATE_KEYS}


def _append_event(
    session: Session,
    ticket: Ticket,
    *,
    seq: int,
    at: datetime,
    action: str,
    from_status: Status | None,
    to_status: Status,
    principal: Principal,
    reason: str | None,
    payload: Mapping[str, Any],
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        seq=seq,
        at=at,
        action=action,
        from_status=from_status.value if from_status else None,
        to_status=to_status.value,
        actor_user_id=_user_id(principal),
        actor_client_id=principal.client.id if principal.client is not None else None,
        actor_role=principal.role,
        actor_unit_id=principal.unit_id,
        reason=reason,
        payload=dict(payload),
    )
    session.add(event)
    return event
