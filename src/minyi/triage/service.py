"""Triage at intake: understand the appeal, place it, weigh its urgency, route it by the
lists, look for repeats and instant answers, and carry out the router's verdict.

Runs in the intake transaction, right after the ticket is opened, so the decision, its
explanation and the first dispatch commit together with the ticket (or not at all). The
verdict itself is `domain.decide`; this module only gathers its inputs and acts on it
through the ticket state machine (`tickets.service.act`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.catalogue.domain import Resolution, ResponseLevel
from minyi.core.clock import Clock, get_clock
from minyi.org import service as org
from minyi.org.domain import AreaLevel
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from minyi.triage import domain, urgency
from minyi.triage.classifier import appeal_text
from minyi.triage.domain import (
    Inputs,
    ItemGuess,
    LabelGuess,
    Outcome,
    Related,
    Route,
    Thresholds,
)
from minyi.triage.engine import TriageEngine
from minyi.triage.models import TriageDecision, TriageExample

_DEEP_ENOUGH = frozenset({AreaLevel.STREET.value, AreaLevel.COMMUNITY.value, AreaLevel.GRID.value})

# The item's own default urgency (STYLE: "rules as data"): the implementation list's
# response level says how fast the unit must answer, so it says how fast to dispatch too.
_LEVEL_URGENCY: dict[ResponseLevel, str] = {
    ResponseLevel.H2: "urgent",
    ResponseLevel.H24: "fast",
}


@dataclass(frozen=True)
class Located:
    area_id: int | None
    deep_enough: bool
    info: dict[str, Any]
    district_id: int | None = None


def triage_ticket(
    session: Session,
    *,
    ticket: Ticket,
    engine: TriageEngine,
    clock: Clock | None = None,
    thresholds: Thresholds | None = None,
    auto_dispatch: bool = True,
) -> TriageDecision:
    """Triage a ticket just received: store the decision with its explanation, set the
    ticket's urgency, place and dispatch deadline, and dispatch it when the verdict allows
    (else queue it for a dispatcher)."""
    started = time.perf_counter()
    clock = clock or get_clock()
    now = clock.now()
    limits = thresholds or Thresholds(auto_item=engine.auto_threshold)
    text = appeal_text(ticket.title, ticket.text)

    label = engine.classify(text)
    items = tuple(engine.rank_items(text, label, k=5))
    item = catalogue.get_item_by_path(session, items[0].path) if items else None

    located = _locate(session, ticket)
    if ticket.area_id is None and located.area_id is not None:
        ticket.area_id = located.area_id
        ticket.district_id = located.district_id

    resolution = (
        catalogue.resolve(session, item_id=item.id, area_id=located.area_id, at=ticket.received_at)
        if item is not None and located.area_id is not None
        else None
    )
    route = _route(session, resolution)
    assessment = urgency.assess(text, item_default=_item_default(resolution))
    level = assessment.level

    related = _related(session, ticket, now)
    knowledge = None
    if not assessment.is_emergency:
        knowledge = _offer(session, ticket, now)

    verdict = domain.decide(
        Inputs(
            urgency=level,
            emergency_lines=assessment.emergency_lines,
            label=label,
            items=items,
            item_id=item.id if item is not None else None,
            area_id=located.area_id,
            area_depth_ok=located.deep_enough,
            route=route,
            related=related,
            knowledge_offered=knowledge is not None,
            thresholds=limits,
        )
    )
    explanation = domain.explanation(
        model_version=engine.version,
        label=label,
        items=items,
        location=located.info,
        urgency={
            "level": level.value,
            "emergency_lines": list(assessment.emergency_lines),
            "rules_version": assessment.rules_version,
            "rule_ids": list(assessment.rule_ids),
            "reasons": assessment.explain(),
        },
        route=route,
        related=related,
        knowledge=knowledge,
        verdict=verdict,
        thresholds=limits,
    )
    ticket.urgency = level.value
    ticket.dispatch_due_at = domain.dispatch_due(ticket.received_at, level)
    if item is not None and ticket.item_id is None:
        ticket.item_id = item.id
    decision = TriageDecision(
        ticket_id=ticket.id,
        created_at=now,
        model_version=engine.version,
        label=label.label if label is not None else None,
        label_confidence=label.confidence if label is not None else None,
        item_id=item.id if item is not None else None,
        item_path=items[0].path if items else None,
        item_confidence=items[0].score if items else None,
        area_id=located.area_id,
        urgency=level.value,
        emergency_lines=list(assessment.emergency_lines),
        lead_unit_id=route.lead_unit_id if route is not None else None,
        co_unit_ids=list(route.co_unit_ids) if route is not None else [],
        batch_number=route.batch_number if route is not None else None,
        outcome=verdict.outcome.value,
        auto_dispatched=verdict.auto_dispatch and auto_dispatch,
        explanation=explanation,
    )
    ticket.routing = {**(ticket.routing or {}), "triage": _summary(verdict.outcome, explanation)}
    # The time to decide (a dispatch that follows is the workflow's, not triage's), taken
    # before the one flush that stores the decision with the ticket's new fields.
    decision.elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
    session.add(decision)
    session.flush()
    from minyi.sla import service as sla  # the dispatch clock, from receipt

    sla.start_dispatch_timer(session, ticket=ticket, now=now)
    _carry_out(session, ticket, decision, clock)
    return decision


def _carry_out(session: Session, ticket: Ticket, decision: TriageDecision, clock: Clock) -> None:
    """Dispatch when the verdict allows. Anything else stays `received`, which is already
    in the dispatcher's queue (ordered by urgency and dispatch deadline); the decision
    says why it waits, so no further transition (and its audit entry) is spent on it."""
    system = Principal(session=session, system=True)
    if decision.auto_dispatched and decision.item_id is not None:
        tickets.act(
            session,
            ticket_id=ticket.id,
            action=Action.DISPATCH,
            principal=system,
            payload={"item_id": decision.item_id, "auto": True},
            clock=clock,
        )


def _summary(outcome: Outcome, explanation: Mapping[str, Any]) -> dict[str, Any]:
    """The part of the explanation every ticket view shows; the whole is at /triage."""
    label = explanation.get("label") or {}
    items = explanation.get("items") or []
    return {
        "outcome": outcome.value,
        "outcome_zh": explanation["outcome_zh"],
        "reasons": explanation["reasons"],
        "model_version": explanation["model_version"],
        "label": label.get("label"),
        "label_confidence": label.get("confidence"),
        "item_path": items[0]["path"] if items else None,
        "item_confidence": items[0]["score"] if items else None,
        "urgency": explanation["urgency"]["level"],
    }


def _locate(session: Session, ticket: Ticket) -> Located:
    return locate(
        session,
        area_id=ticket.area_id,
        text=ticket.text,
        address=ticket.address_text,
        lon=ticket.lon,
        lat=ticket.lat,
    )


def locate(
    session: Session,
    *,
    area_id: int | None,
    text: str,
    address: str | None,
    lon: float | None,
    lat: float | None,
) -> Located:
    """The area an appeal is about: the one given (by the citizen's pick or the agent),
    else what the locator finds from the coordinates, the address and the text."""
    if area_id is not None:
        area = org.get_area(session, area_id)
        level = area.level if area is not None else None
        return Located(
            area_id, level in _DEEP_ENOUGH, {"method": "given", "area_id": area_id, "level": level}
        )
    from minyi.triage import locator

    found = locator.get_locator(session).locate(text=text, address=address, lon=lon, lat=lat)
    deep = any(x is not None for x in (found.street_id, found.community_id, found.grid_id))
    return Located(
        area_id=found.area_id,
        deep_enough=deep,
        district_id=found.district_id,
        info={
            "method": found.method,
            "area_id": found.area_id,
            "confidence": round(found.confidence, 3),
            "matched": [{"name": m.name, "level": m.level} for m in found.matched],
            "conflicts": list(found.conflicts),
        },
    )


@dataclass(frozen=True)
class Preview:
    assessment: urgency.UrgencyAssessment
    label: LabelGuess | None
    items: tuple[ItemGuess, ...]
    located: Located
    route: Route | None
    related: tuple[Related, ...]


def preview(
    session: Session,
    *,
    title: str,
    text: str,
    address: str | None,
    area_id: int | None,
    lon: float | None,
    lat: float | None,
    engine: TriageEngine,
    now: datetime,
) -> Preview:
    """What triage would make of an appeal still being typed: nothing is stored. The
    portal uses the urgency (to say "call 119" before the citizen submits); an agent's
    screen shows the suggestion and similar open tickets."""
    full = appeal_text(title, text)
    label = engine.classify(full)
    items = tuple(engine.rank_items(full, label, k=5))
    item = catalogue.get_item_by_path(session, items[0].path) if items else None
    located = locate(session, area_id=area_id, text=text, address=address, lon=lon, lat=lat)
    resolution = (
        catalogue.resolve(session, item_id=item.id, area_id=located.area_id, at=now)
        if item is not None and located.area_id is not None
        else None
    )
    from minyi.triage import duplicates

    district_id = tickets.district_of(session, located.area_id)
    found = duplicates.find_related(
        session,
        text=full,
        requester_id=None,
        area_id=located.area_id,
        district_id=district_id,
        now=now,
    )
    return Preview(
        assessment=urgency.assess(full, item_default=_item_default(resolution)),
        label=label,
        items=items,
        located=located,
        route=_route(session, resolution),
        related=tuple(_as_related(r) for r in found),
    )


def _route(session: Session, resolution: Resolution | None) -> Route | None:
    if resolution is None:
        return None
    resp = resolution.responsibility
    impl = resolution.implementation
    unit = org.get_unit(session, resp.lead_unit_id) if resp is not None else None
    from minyi.tickets.effects import reply_hours

    return Route(
        lead_unit_id=resp.lead_unit_id if resp is not None else None,
        lead_unit_name=unit.name if unit is not None else None,
        co_unit_ids=tuple(resp.co_unit_ids) if resp is not None else (),
        batch_number=resolution.batch_number,
        responsibility_rule_id=resp.rule_id if resp is not None else None,
        implementation_rule_id=impl.rule_id if impl is not None else None,
        process=impl.process.value if impl is not None else None,
        reply_hours=reply_hours(resolution),
    )


def _item_default(resolution: Resolution | None) -> str | None:
    if resolution is None or resolution.implementation is None:
        return None
    return _LEVEL_URGENCY.get(resolution.implementation.response_level)


def _related(session: Session, ticket: Ticket, now: datetime) -> tuple[Related, ...]:
    from minyi.triage import duplicates

    found = duplicates.find_related(
        session,
        # The body, as the index holds it (`index_ticket`), so both sides compare alike.
        text=ticket.text,
        requester_id=ticket.requester_id,
        area_id=ticket.area_id,
        district_id=ticket.district_id,
        now=now,
        exclude_ticket_id=ticket.id,
    )
    duplicates.index_ticket(session, ticket, new=True)
    return tuple(_as_related(r) for r in found)


def related_now(session: Session, ticket: Ticket, now: datetime) -> list[Related]:
    """Tickets related to this one as of now, including those that came after it."""
    from minyi.triage import duplicates

    return [_as_related(r) for r in duplicates.related_for_ticket(session, ticket, now=now)]


def _as_related(r: Any) -> Related:
    return Related(
        ticket_id=r.ticket_id,
        tracking_code=r.tracking_code,
        kind=str(r.kind),
        similarity=float(r.similarity),
        is_open=bool(r.is_open),
        reason=str(r.reason),
    )


def _offer(session: Session, ticket: Ticket, now: datetime) -> dict[str, Any] | None:
    from minyi.triage.knowledge import service as knowledge

    offer = knowledge.offer_for(session, ticket=ticket, now=now)
    if offer is None:
        return None
    return {
        "kind": offer.kind,
        "entry_id": offer.entry_id,
        "notice_id": offer.notice_id,
        "answer": offer.answer,
        "source": offer.source,
        "score": round(offer.score, 4),
    }


def warm_up(session: Session, engine: TriageEngine) -> None:
    """Load what triage keeps in memory (the model, the place names, the word lists, the
    urgency rules) before the first appeal arrives, so that no citizen waits seconds for
    it. Runs at `minyi serve`; tests and one-off commands skip it."""
    sample = "预热：小区门口路灯不亮"
    engine.rank_items(sample, engine.classify(sample))
    urgency.assess(sample)
    from minyi.triage import duplicates, locator

    duplicates.signature(sample)
    locator.get_locator(session)


# --- what people make of it ------------------------------------------------------------------


def decision_for(session: Session, ticket_id: int) -> TriageDecision | None:
    """The latest triage decision on a ticket."""
    return session.scalar(
        select(TriageDecision)
        .where(TriageDecision.ticket_id == ticket_id)
        .order_by(TriageDecision.id.desc())
        .limit(1)
    )


def record_dispatch(
    session: Session, *, ticket: Ticket, principal: Principal, now: datetime
) -> TriageExample | None:
    """A person dispatched the ticket with an item: keep it as a labelled example for the
    next training run, marked as the machine's item confirmed or corrected."""
    if principal.system or principal.user is None or ticket.item_id is None:
        return None
    item = catalogue.get_item(session, ticket.item_id)
    if item is None:
        return None
    decision = decision_for(session, ticket.id)
    predicted = decision.item_path if decision is not None else None
    example = TriageExample(
        ticket_id=ticket.id,
        text=appeal_text(ticket.title, ticket.text),
        item_path=item.path,
        label=decision.label if decision is not None and predicted == item.path else None,
        predicted_item_path=predicted,
        kind="confirmed" if predicted == item.path else "corrected",
        user_id=principal.user.id,
        created_at=now,
    )
    session.add(example)
    session.flush()
    return example


def examples(session: Session) -> list[tuple[str, str, str | None]]:
    """Every labelled example, oldest first: (text, item path, first-level label or None)."""
    rows = session.execute(
        select(TriageExample.text, TriageExample.item_path, TriageExample.label).order_by(
            TriageExample.created_at, TriageExample.id
        )
    )
    return [(text, path, label) for text, path, label in rows]


__all__ = [
    "ItemGuess",
    "LabelGuess",
    "appeal_text",
    "decision_for",
    "examples",
    "record_dispatch",
    "triage_ticket",
]
