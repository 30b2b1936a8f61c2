"""Tickets over HTTP: one POST endpoint per workflow action, lists, views, citizen tracking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from minyi.core.deps import ClockDep, SessionDep, SettingsDep
from minyi.core.pagination import LimitParam, OffsetParam, Page
from minyi.org.domain import ClientScope
from minyi.tickets import queries, service
from minyi.tickets.access import Principal, ensure_can_view
from minyi.tickets.deps import RequiredPrincipal, require_scope
from minyi.tickets.domain import Action, Status, rating_action
from minyi.tickets.models import Ticket
from minyi.tickets.schemas import (
    ActionRequest,
    BulkMergeRequest,
    EventRead,
    PublicTracking,
    RateRequest,
    RequesterRead,
    TicketRead,
    TicketSummary,
)

router = APIRouter(tags=["tickets"])

# Rating has its own endpoint (the action follows from the scores); sharing a parent's
# reply is the system's own step.
_NOT_ROUTED = {
    Action.RATE_SATISFIED,
    Action.RATE_UNSATISFIED,
    Action.RATE_UNSATISFIED_AFTER_REDO,
    Action.SHARE_REPLY,
}
# What a citizen can do from the tracking page, proven by tracking code + phone digits.
CITIZEN_ACTIONS = (Action.SUPPLEMENT, Action.CHASE, Action.WITHDRAW)


def summary(ticket: Ticket) -> TicketSummary:
    fields = {k: getattr(ticket, k) for k in TicketSummary.model_fields if k != "status_label"}
    return TicketSummary.model_validate({**fields, "status_label": Status(ticket.status).label_zh})


@router.get("/tickets", response_model=Page[TicketSummary])
def list_tickets(
    session: SessionDep,
    clock: ClockDep,
    principal: RequiredPrincipal,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
    status: Annotated[list[str] | None, Query()] = None,
    open_only: bool = False,
    unit_id: int | None = None,
    area_id: int | None = None,
    item_id: int | None = None,
    channel: str | None = None,
    appeal_type: str | None = None,
    requester_kind: str | None = None,
    overdue: bool | None = None,
    chased: bool | None = None,
    received_from: datetime | None = None,
    received_to: datetime | None = None,
    sort: Annotated[str, Query(pattern="^-?(received_at|updated_at|due_at|id)$")] = "-received_at",
) -> Page[TicketSummary]:
    """Tickets the caller may see, filtered, sorted and paginated."""
    require_scope(principal, ClientScope.TICKETS_READ)
    filters = queries.TicketFilter(
        status=tuple(status or ()),
        open_only=open_only,
        unit_id=unit_id,
        area_id=area_id,
        item_id=item_id,
        channel=channel,
        appeal_type=appeal_type,
        requester_kind=requester_kind,
        overdue=overdue,
        chased=chased,
        received_from=received_from,
        received_to=received_to,
        sort=sort,
    )
    rows, total = queries.list_tickets(
        session, principal=principal, filters=filters, now=clock.now(), offset=offset, limit=limit
    )
    return Page(items=[summary(t) for t in rows], total=total or 0, offset=offset, limit=limit)


@router.get("/tickets/queue", response_model=Page[TicketSummary])
def dispatch_queue(
    session: SessionDep,
    principal: RequiredPrincipal,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
) -> Page[TicketSummary]:
    """The dispatcher's queue: what waits for this centre, urgent and oldest first."""
    rows, total = queries.centre_queue(session, principal=principal, offset=offset, limit=limit)
    return Page(items=[summary(t) for t in rows], total=total, offset=offset, limit=limit)


@router.post("/tickets/bulk-merge", response_model=list[TicketSummary])
def bulk_merge(
    body: BulkMergeRequest, session: SessionDep, clock: ClockDep, principal: RequiredPrincipal
) -> list[TicketSummary]:
    """Merge many tickets about one incident into a parent: one reply will serve them all."""
    require_scope(principal, ClientScope.TICKETS_ACT)
    merged = [
        service.act(
            session,
            ticket_id=child,
            action=Action.MERGE,
            principal=principal,
            reason=body.reason,
            payload={"into_ticket_id": body.parent_id},
            clock=clock,
        )
        for child in dict.fromkeys(body.child_ids)
    ]
    return [summary(t) for t in merged]


@router.get("/tickets/{ticket_id}", response_model=TicketRead)
def get_ticket(ticket_id: int, session: SessionDep, principal: RequiredPrincipal) -> TicketRead:
    require_scope(principal, ClientScope.TICKETS_READ)
    ticket = service.get_ticket_or_raise(session, ticket_id)
    return queries.ticket_read(session, principal, ticket)


@router.get("/tickets/{ticket_id}/events", response_model=list[EventRead])
def get_events(
    ticket_id: int, session: SessionDep, principal: RequiredPrincipal
) -> list[EventRead]:
    """The staff timeline: every step with who (role and unit), when, why."""
    require_scope(principal, ClientScope.TICKETS_READ)
    ticket = service.get_ticket_or_raise(session, ticket_id)
    ensure_can_view(principal, ticket)
    return [queries.event_read(e) for e in service.timeline(session, ticket_id)]


@router.get("/tickets/{ticket_id}/requester", response_model=RequesterRead | None)
def get_requester(
    ticket_id: int,
    session: SessionDep,
    principal: RequiredPrincipal,
    reveal: bool = False,
    reason: str | None = None,
) -> RequesterRead | None:
    """Masked by default; `reveal=true` with a reason shows it in full, and is audited."""
    ticket = service.get_ticket_or_raise(session, ticket_id)
    ensure_can_view(principal, ticket)
    return queries.requester_view(session, principal, ticket, reveal=reveal, reason=reason)


@router.post("/tickets/{ticket_id}/rate", response_model=TicketRead)
def rate(
    ticket_id: int,
    body: RateRequest,
    session: SessionDep,
    clock: ClockDep,
    principal: RequiredPrincipal,
) -> TicketRead:
    """好差评: a result of 1–2 or an average under 3 counts as unsatisfied."""
    ticket = service.get_ticket_or_raise(session, ticket_id)
    return _rate(session, clock, principal, ticket.id, ticket.redo_count, body)


def _rate(
    session: SessionDep,
    clock: ClockDep,
    principal: Principal,
    ticket_id: int,
    redo_count: int,
    body: RateRequest,
) -> TicketRead:
    scores = {"speed": body.speed, "result": body.result, "attitude": body.attitude}
    scores["quality"] = body.quality
    satisfied = body.result >= 3 and sum(scores.values()) / 4 >= 3
    ticket = service.act(
        session,
        ticket_id=ticket_id,
        action=rating_action(satisfied, redo_count),
        principal=principal,
        payload={**scores, "comment": body.comment or ""},
        expected_version=body.version,
        clock=clock,
    )
    return queries.ticket_read(session, principal, ticket, just_acted=True)


def _action_endpoint(action: Action) -> Callable[..., TicketRead]:
    def endpoint(
        ticket_id: int,
        body: ActionRequest,
        session: SessionDep,
        clock: ClockDep,
        settings: SettingsDep,
        principal: RequiredPrincipal,
    ) -> TicketRead:
        require_scope(principal, ClientScope.TICKETS_ACT)
        ticket = service.act(
            session,
            ticket_id=ticket_id,
            action=action,
            principal=principal,
            reason=body.reason,
            payload=body.payload(),
            expected_version=body.version,
            clock=clock,
            return_limit=settings.return_limit,
        )
        return queries.ticket_read(session, principal, ticket, just_acted=True)

    endpoint.__name__ = f"ticket_{action.value}"
    return endpoint


for _action in Action:
    if _action in _NOT_ROUTED:
        continue
    router.add_api_route(
        f"/tickets/{{ticket_id}}/{_action.value}",
        _action_endpoint(_action),
        methods=["POST"],
        response_model=TicketRead,
        summary=f"{_action.label_zh} ({_action.value})",
    )


# --- the citizen's side, by tracking code + the last four digits of the phone -----------


@router.get("/track/{tracking_code}", response_model=PublicTracking, tags=["citizen"])
def track(
    tracking_code: str,
    session: SessionDep,
    phone_last4: Annotated[str, Query(min_length=4, max_length=4, pattern="^[0-9]{4}$")],
) -> PublicTracking:
    """Follow an appeal like a parcel: every step in plain words, the unit's reply."""
    ticket = queries.find_for_citizen(session, tracking_code=tracking_code, phone_last4=phone_last4)
    return queries.public_tracking(session, ticket)


def _citizen_endpoint(action: Action) -> Callable[..., PublicTracking]:
    def endpoint(
        tracking_code: str,
        body: ActionRequest,
        session: SessionDep,
        clock: ClockDep,
        phone_last4: Annotated[str, Query(min_length=4, max_length=4, pattern="^[0-9]{4}$")],
    ) -> PublicTracking:
        ticket = queries.find_for_citizen(
            session, tracking_code=tracking_code, phone_last4=phone_last4
        )
        principal = Principal(session=session, tracking_ticket_id=ticket.id)
        service.act(
            session,
            ticket_id=ticket.id,
            action=action,
            principal=principal,
            reason=body.reason,
            payload={"text": body.text} if body.text else {},
            clock=clock,
        )
        return queries.public_tracking(session, ticket)

    endpoint.__name__ = f"citizen_{action.value}"
    return endpoint


for _action in CITIZEN_ACTIONS:
    router.add_api_route(
        f"/track/{{tracking_code}}/{_action.value}",
        _citizen_endpoint(_action),
        methods=["POST"],
        response_model=PublicTracking,
        summary=f"市民{_action.label_zh} ({_action.value})",
        tags=["citizen"],
    )


@router.post("/track/{tracking_code}/rate", response_model=PublicTracking, tags=["citizen"])
def citizen_rate(
    tracking_code: str,
    body: RateRequest,
    session: SessionDep,
    clock: ClockDep,
    phone_last4: Annotated[str, Query(min_length=4, max_length=4, pattern="^[0-9]{4}$")],
) -> PublicTracking:
    ticket = queries.find_for_citizen(session, tracking_code=tracking_code, phone_last4=phone_last4)
    principal = Principal(session=session, tracking_ticket_id=ticket.id)
    _rate(session, clock, principal, ticket.id, ticket.redo_count, body)
    return queries.public_tracking(session, ticket)
