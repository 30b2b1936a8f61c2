"""Triage at intake against a real database: the decision, its explanation, and what is
done with the ticket (dispatched, queued, emergency), with a simple engine passed in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from minyi.triage import service as triage
from minyi.triage.domain import ItemGuess, LabelGuess
from minyi.triage.engine import NoModel
from minyi.triage.models import TriageDecision, TriageExample
from tests.factories import World, make_ticket, make_world


@dataclass
class SimpleEngine:
    """Says every appeal is the world's noise item, with a fixed confidence."""

    item_path: str
    score: float
    version: str | None = "test-1"
    auto_threshold: float | None = 0.9
    fail: bool = False

    def classify(self, text: str) -> LabelGuess | None:
        if self.fail:
            raise RuntimeError("model file damaged")
        return LabelGuess(
            "环境保护", 0.9, (("环境保护", 0.9),), {"环境保护": 0.9}, (("打桩", 1.0),)
        )

    def rank_items(self, text: str, label: LabelGuess | None, k: int = 5) -> list[ItemGuess]:
        code = self.item_path.rsplit("/", 1)[-1]
        return [ItemGuess(self.item_path, code, "建筑施工噪声", self.score, ("打桩",))]


def _engine(world: World, score: float = 0.97) -> SimpleEngine:
    return SimpleEngine(item_path=world.noise.path, score=score)


def _fresh(session: Session, world: World, **kw: object) -> Ticket:
    ticket = make_ticket(session, world, **kw)  # type: ignore[arg-type]
    ticket.item_id = None  # as it comes from intake: the machine chooses the item
    session.flush()
    return ticket


def test_confident_appeal_goes_to_the_unit_the_lists_name(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = _fresh(session, world)
    decision = triage.triage_ticket(session, ticket=ticket, engine=_engine(world), clock=clock)
    assert decision.outcome == "auto_dispatch" and decision.auto_dispatched
    assert ticket.status == "dispatched" and ticket.lead_unit_id == world.bureau.id
    assert ticket.item_id == world.noise.id
    assert ticket.dispatch_due_at is not None and ticket.dispatch_due_at > ticket.received_at
    explained = decision.explanation
    assert explained["route"]["lead_unit_name"] == "T1区生态环境分局"
    assert explained["route"]["batch_number"] == "2026-01"
    assert explained["model_version"] == "test-1"
    assert ticket.routing["triage"]["outcome"] == "auto_dispatch"
    events = [e.action for e in tickets.timeline(session, ticket.id)]
    assert events[-1] == "dispatch"


def test_unsure_appeal_waits_in_the_queue_with_the_reason(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = _fresh(session, world)
    decision = triage.triage_ticket(session, ticket=ticket, engine=_engine(world, 0.4), clock=clock)
    assert decision.outcome == "queue" and not decision.auto_dispatched
    assert ticket.status == "received" and ticket.lead_unit_id is None
    assert any("低于自动派单门槛" in r for r in decision.explanation["reasons"])


def test_switching_auto_dispatch_off_queues_even_confident_appeals(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = _fresh(session, world)
    decision = triage.triage_ticket(
        session, ticket=ticket, engine=_engine(world), clock=clock, auto_dispatch=False
    )
    assert decision.outcome == "auto_dispatch" and not decision.auto_dispatched
    assert ticket.status == "received"


def test_emergency_is_flagged_queued_first_and_never_dispatched(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    calm = _fresh(session, world, text="小区路灯坏了一个月没人修")
    triage.triage_ticket(session, ticket=calm, engine=NoModel(), clock=clock)
    gas = _fresh(session, world, text="楼道里燃气泄漏，味道很浓，邻居家没人")
    decision = triage.triage_ticket(session, ticket=gas, engine=_engine(world), clock=clock)
    assert decision.outcome == "emergency" and decision.emergency_lines
    assert gas.urgency == "emergency" and gas.status == "received"
    assert gas.dispatch_due_at == gas.received_at
    dispatcher = Principal(session=session, user=_user(session, "dispatcher"))
    from minyi.tickets import queries

    queue, _ = queries.centre_queue(session, principal=dispatcher)
    assert [t.id for t in queue][:2] == [gas.id, calm.id]


def test_without_a_trained_model_everything_waits_for_a_dispatcher(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = _fresh(session, world)
    decision = triage.triage_ticket(session, ticket=ticket, engine=NoModel(), clock=clock)
    assert decision.outcome == "queue" and decision.model_version is None
    assert ticket.status == "received"
    assert "未能判断诉求事项" in decision.explanation["reasons"]


def test_place_named_in_the_text_locates_an_appeal_without_an_area(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = _fresh(session, world, text="幸福社区旁边的工地晚上一直打桩")
    ticket.area_id = None
    ticket.district_id = None
    ticket.address_text = None
    session.flush()
    decision = triage.triage_ticket(session, ticket=ticket, engine=_engine(world), clock=clock)
    assert ticket.area_id == world.town.community.id
    assert ticket.district_id == world.town.district.id
    assert decision.explanation["location"]["method"] == "names"
    assert decision.outcome == "auto_dispatch"


def test_dispatcher_correction_and_confirmation_become_labelled_examples(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    dispatcher = Principal(session=session, user=_user(session, "dispatcher"))
    unsure = _fresh(session, world)
    triage.triage_ticket(session, ticket=unsure, engine=_engine(world, 0.5), clock=clock)
    tickets.act(
        session,
        ticket_id=unsure.id,
        action=Action.DISPATCH,
        principal=dispatcher,
        payload={"item_id": world.noise.id},
        clock=clock,
    )
    other = _fresh(session, world)
    triage.triage_ticket(
        session,
        ticket=other,
        engine=SimpleEngine(item_path="X/Y/Z", score=0.5),
        clock=clock,
    )
    tickets.act(
        session,
        ticket_id=other.id,
        action=Action.DISPATCH,
        principal=dispatcher,
        payload={"item_id": world.noise.id},
        clock=clock,
    )
    rows = session.scalars(select(TriageExample).order_by(TriageExample.id)).all()
    assert [(r.ticket_id, r.kind, r.item_path) for r in rows] == [
        (unsure.id, "confirmed", world.noise.path),
        (other.id, "corrected", world.noise.path),
    ]
    assert rows[1].predicted_item_path == "X/Y/Z"
    assert [path for _, path, _ in triage.examples(session)] == [world.noise.path] * 2


def test_machine_dispatch_is_not_taken_as_a_person_confirming(
    session: Session, clock: FixedClock
) -> None:
    world = make_world(session)
    ticket = _fresh(session, world)
    triage.triage_ticket(session, ticket=ticket, engine=_engine(world), clock=clock)
    assert session.scalars(select(TriageExample)).all() == []
    assert triage.decision_for(session, ticket.id) is not None


def test_every_decision_is_kept(session: Session, clock: FixedClock) -> None:
    world = make_world(session)
    ticket = _fresh(session, world)
    triage.triage_ticket(session, ticket=ticket, engine=NoModel(), clock=clock)
    stored = session.scalars(select(TriageDecision).where(TriageDecision.ticket_id == ticket.id))
    (decision,) = stored.all()
    assert decision.elapsed_ms is not None and decision.urgency == ticket.urgency


def _user(session: Session, username: str):  # type: ignore[no-untyped-def]
    from minyi.org.models import User

    return session.scalars(select(User).where(User.username == username)).one()
