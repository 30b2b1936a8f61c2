"""A ticket's deadlines over HTTP: every clock with the time left, the cards it cost."""

from __future__ import annotations

from fastapi import APIRouter

from minyi.assessment import service as assessment
from minyi.core.deps import ClockDep, SessionDep
from minyi.org.domain import Role
from minyi.sla import service
from minyi.sla.deadlines import DeadlineKind
from minyi.sla.schemas import CardRead, ChargeRead, ClockRead, TicketDeadlinesRead
from minyi.tickets import service as tickets
from minyi.tickets.access import ensure_can_view
from minyi.tickets.deps import RequiredPrincipal

router = APIRouter(tags=["sla"])


@router.get("/tickets/{ticket_id}/deadlines", response_model=TicketDeadlinesRead)
def ticket_deadlines(
    ticket_id: int, session: SessionDep, clock: ClockDep, principal: RequiredPrincipal
) -> TicketDeadlinesRead:
    """Dispatch, acceptance, contact, reply and co-unit clocks with who answers for each,
    the time left on its own calendar (working time for units, natural time for the
    centres), paused clocks, the cards issued and the time charged for returns. A citizen
    sees only the reply deadline: the units' internal clocks and cards are staff matters."""
    ticket = tickets.get_ticket_or_raise(session, ticket_id)
    ensure_can_view(principal, ticket)
    now = clock.now()
    citizen = principal.role == Role.CITIZEN.value
    views = service.clocks_for_ticket(session, ticket, now)
    if citizen:
        views = [v for v in views if v.timer.kind == DeadlineKind.REPLY.value][:1]
    return TicketDeadlinesRead(
        ticket_id=ticket.id,
        now=now,
        due_at=ticket.due_at,
        clocks=[
            ClockRead(
                id=v.timer.id,
                kind=v.timer.kind,
                label_zh=v.label_zh,
                unit_id=None if citizen else v.timer.unit_id,
                unit_name=None if citizen else v.unit_name,
                time_base=v.time_base.value,
                span_kind=v.timer.span_kind,
                span_amount=v.timer.span_amount,
                started_at=v.timer.started_at,
                due_at=v.timer.due_at,
                warn_at=v.timer.warn_at,
                state=v.timer.state,
                state_zh=v.state_zh,
                escalation_level=v.timer.escalation_level,
                paused=v.timer.remaining_seconds is not None,
                seconds_left=v.seconds_left,
                time_left_zh=v.time_left_zh,
            )
            for v in views
        ],
        cards=[]
        if citizen
        else [
            CardRead.model_validate(c, from_attributes=True)
            for c in assessment.cards_for_ticket(session, ticket.id)
        ],
        charges=[]
        if citizen
        else [
            ChargeRead.model_validate(c, from_attributes=True)
            for c in assessment.charges_for_ticket(session, ticket.id)
        ],
    )
