"""Triage over HTTP: why a ticket went where it went, and a preview while typing."""

from __future__ import annotations

from fastapi import APIRouter

from minyi.core.deps import ClockDep, SessionDep, TriageDep
from minyi.core.errors import NotFound
from minyi.tickets import service as tickets
from minyi.tickets.access import ensure_can_view
from minyi.tickets.deps import OptionalPrincipal, RequiredPrincipal
from minyi.triage import service
from minyi.triage.domain import Related, emergency_advice
from minyi.triage.schemas import PreviewRead, PreviewRequest, RelatedRead, TriageRead

router = APIRouter(tags=["triage"])


def _related(items: list[Related] | tuple[Related, ...]) -> list[RelatedRead]:
    return [
        RelatedRead(
            ticket_id=r.ticket_id,
            tracking_code=r.tracking_code,
            kind=r.kind,
            similarity=r.similarity,
            is_open=r.is_open,
            reason=r.reason,
        )
        for r in items
    ]


@router.get("/tickets/{ticket_id}/triage", response_model=TriageRead)
def ticket_triage(
    ticket_id: int, session: SessionDep, clock: ClockDep, principal: RequiredPrincipal
) -> TriageRead:
    """The machine's decision on a ticket with every reason: model version, top features,
    item candidates and matched words, the place matched, urgency rules, the lists' rules
    and batch, and the tickets it may repeat (merge candidates)."""
    ticket = tickets.get_ticket_or_raise(session, ticket_id)
    ensure_can_view(principal, ticket)
    d = service.decision_for(session, ticket.id)
    if d is None:
        raise NotFound("triage_not_found", "该工单没有智能分拨记录", "This ticket was not triaged")
    return TriageRead(
        ticket_id=d.ticket_id,
        created_at=d.created_at,
        outcome=d.outcome,
        outcome_zh=str(d.explanation.get("outcome_zh", "")),
        auto_dispatched=d.auto_dispatched,
        model_version=d.model_version,
        label=d.label,
        label_confidence=d.label_confidence,
        item_id=d.item_id,
        item_path=d.item_path,
        item_confidence=d.item_confidence,
        area_id=d.area_id,
        urgency=d.urgency,
        emergency_lines=list(d.emergency_lines),
        lead_unit_id=d.lead_unit_id,
        co_unit_ids=list(d.co_unit_ids),
        batch_number=d.batch_number,
        reasons=list(d.explanation.get("reasons", [])),
        explanation=dict(d.explanation),
        elapsed_ms=d.elapsed_ms,
        related_now=_related(service.related_now(session, ticket, clock.now())),
    )


@router.post("/triage/preview", response_model=PreviewRead)
def triage_preview(
    body: PreviewRequest,
    session: SessionDep,
    clock: ClockDep,
    engine: TriageDep,
    principal: OptionalPrincipal,
) -> PreviewRead:
    """What triage makes of an appeal before it is submitted; nothing is stored. Everyone
    gets the urgency and, for an emergency, the lines to call now; staff also get the
    suggested item, place, unit and similar tickets."""
    found = service.preview(
        session,
        title=body.title,
        text=body.text,
        address=body.address_text,
        area_id=body.area_id,
        lon=body.lon,
        lat=body.lat,
        engine=engine,
        now=clock.now(),
    )
    lines = list(found.assessment.emergency_lines)
    answer = PreviewRead(
        urgency=found.assessment.level.value,
        emergency_lines=lines,
        emergency_advice=emergency_advice(lines) if lines else None,
    )
    if principal.user is None or principal.unit is None:
        # Citizens see no other people's tickets and no internal routing.
        return answer
    route = found.route
    return answer.model_copy(
        update={
            "label": found.label.label if found.label is not None else None,
            "label_confidence": found.label.confidence if found.label is not None else None,
            "items": [
                {"path": i.path, "code": i.code, "name": i.name, "score": i.score}
                for i in found.items
            ],
            "area_id": found.located.area_id,
            "location": found.located.info,
            "lead_unit_id": route.lead_unit_id if route is not None else None,
            "lead_unit_name": route.lead_unit_name if route is not None else None,
            "related": _related(found.related),
        }
    )
