"""The whole transition table, allowed and refused, plus the guards that need only state."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from minyi.core.errors import Conflict, Forbidden, ValidationFailed
from minyi.tickets.domain import (
    ACTION_RELATIONS,
    NEEDS_REASON,
    TRANSITIONS,
    Action,
    Actor,
    CoUnitState,
    IllegalTransition,
    Relation,
    Status,
    TicketState,
    allowed_actions,
    apply,
    rating_action,
)

NOW = datetime(2026, 11, 2, tzinfo=UTC)
LEAD, OTHER, CO = 10, 20, 30


def prepared(status: Status, action: Action) -> tuple[TicketState, dict[str, Any], str | None]:
    """A state, payload and reason under which `action` passes its guards."""
    state = TicketState(status=status, lead_unit_id=LEAD, contacted=True)
    payload: dict[str, Any] = {}
    if action in (Action.DISPATCH, Action.RULE):
        payload = {"unit_id": OTHER}
    elif action is Action.SUMMON:
        payload = {"unit_ids": [CO]}
    elif action in (Action.REPORT, Action.CO_REPLY, Action.EXCUSE_CO_UNIT):
        state = replace(state, co_units=(CoUnitState(CO),))
        payload = {"unit_id": CO}
    elif action in (Action.APPROVE_EXTENSION, Action.DENY_EXTENSION):
        state = replace(state, extension_pending=True)
    elif action in (Action.APPROVE_SUSPENSION, Action.DENY_SUSPENSION):
        state = replace(state, suspension_pending=True)
    elif action is Action.RATE_UNSATISFIED_AFTER_REDO:
        state = replace(state, redo_count=1)
    reason = "理由" if action in NEEDS_REASON else None
    return state, payload, reason


def actor_for(action: Action) -> Actor:
    relation = sorted(ACTION_RELATIONS[action])[0]
    unit = CO if relation is Relation.CO_UNIT else LEAD
    return Actor(relation=relation, user_id=1, unit_id=unit)


@pytest.mark.parametrize(
    ("status", "action", "target"),
    [
        pytest.param(s, a, t, id=f"{s.value}--{a.value}--{t.value}")
        for (s, a), t in sorted(TRANSITIONS.items())
    ],
)
def test_every_allowed_transition(status: Status, action: Action, target: Status) -> None:
    state, payload, reason = prepared(status, action)
    new, events = apply(state, action, actor_for(action), NOW, reason=reason, payload=payload)
    assert new.status is target
    assert [(e.from_status, e.to_status, e.action) for e in events] == [(status, target, action)]


REFUSED = [(s, a) for s in Status for a in Action if (s, a) not in TRANSITIONS]


@pytest.mark.parametrize(
    ("status", "action"),
    [pytest.param(s, a, id=f"{s.value}--{a.value}") for s, a in REFUSED],
)
def test_every_refused_transition_is_a_409_listing_what_is_allowed(
    status: Status, action: Action
) -> None:
    state, payload, reason = prepared(status, action)
    with pytest.raises(IllegalTransition) as info:
        apply(state, action, actor_for(action), NOW, reason=reason, payload=payload)
    assert info.value.status_code == 409
    assert info.value.details["allowed"] == allowed_actions(status)


def test_terminal_statuses_allow_nothing_but_sharing_a_parent_reply() -> None:
    for status in Status:
        if status.is_terminal:
            assert allowed_actions(status) in ([], ["share_reply"]), status


def test_wrong_relation_is_refused() -> None:
    state = TicketState(status=Status.DISPATCHED, lead_unit_id=LEAD)
    with pytest.raises(Forbidden):
        apply(state, Action.ACCEPT, Actor(Relation.CO_UNIT, unit_id=CO), NOW)


def test_return_needs_a_reason() -> None:
    state = TicketState(status=Status.DISPATCHED, lead_unit_id=LEAD)
    with pytest.raises(ValidationFailed) as info:
        apply(state, Action.RETURN, Actor(Relation.LEAD, unit_id=LEAD), NOW, reason="  ")
    assert info.value.code == "reason_required"


def test_a_unit_returns_at_most_twice_then_needs_a_ruling() -> None:
    lead = Actor(Relation.LEAD, unit_id=LEAD)
    centre = Actor(Relation.CITY_CENTRE)
    state = TicketState(status=Status.DISPATCHED, lead_unit_id=LEAD)
    for _ in range(2):
        state, _ = apply(state, Action.RETURN, lead, NOW, reason="不属于本单位职责")
        state, _ = apply(state, Action.DISPATCH, centre, NOW, payload={"unit_id": LEAD})
    with pytest.raises(Conflict) as info:
        apply(state, Action.RETURN, lead, NOW, reason="第三次")
    assert info.value.code == "return_limit_reached"
    assert state.returns_by_unit == {LEAD: 2}


def test_after_a_ruling_the_owner_cannot_return() -> None:
    centre = Actor(Relation.CITY_CENTRE)
    state = TicketState(status=Status.RETURNED)
    state, _ = apply(
        state, Action.RULE, centre, NOW, reason="职责清单第3条", payload={"unit_id": LEAD}
    )
    assert state.ruled and state.lead_unit_id == LEAD
    with pytest.raises(Conflict) as info:
        apply(state, Action.RETURN, Actor(Relation.LEAD, unit_id=LEAD), NOW, reason="不服")
    assert info.value.code == "ruled_no_return"


def test_first_handler_keeps_an_ownerless_ticket_until_the_ruling() -> None:
    centre = Actor(Relation.CITY_CENTRE)
    lead = Actor(Relation.LEAD, unit_id=LEAD)
    state = TicketState(status=Status.PENDING_DISPATCH)
    state, _ = apply(
        state, Action.DISPATCH, centre, NOW, payload={"unit_id": LEAD, "no_owner": True}
    )
    with pytest.raises(Conflict) as info:
        apply(state, Action.RETURN, lead, NOW, reason="不是我们的")
    assert info.value.code == "first_handler_duty"
    state, _ = apply(state, Action.REQUEST_RULING, lead, NOW)
    assert state.ruling_requested
    state, _ = apply(state, Action.RULE, centre, NOW, reason="裁决", payload={"unit_id": OTHER})
    assert state.lead_unit_id == OTHER and state.ruled and not state.first_handler


def test_lead_cannot_reply_before_every_co_unit_answered_or_was_excused() -> None:
    lead = Actor(Relation.LEAD, unit_id=LEAD)
    state = TicketState(
        status=Status.IN_PROGRESS,
        lead_unit_id=LEAD,
        contacted=True,
        co_units=(CoUnitState(CO), CoUnitState(OTHER)),
    )
    with pytest.raises(Conflict) as info:
        apply(state, Action.REPLY, lead, NOW)
    assert info.value.details == {"waiting_unit_ids": [CO, OTHER]}
    state, _ = apply(state, Action.CO_REPLY, Actor(Relation.CO_UNIT, unit_id=CO), NOW)
    state, _ = apply(
        state,
        Action.EXCUSE_CO_UNIT,
        Actor(Relation.CITY_CENTRE),
        NOW,
        reason="与本案无关",
        payload={"unit_id": OTHER},
    )
    state, _ = apply(state, Action.REPLY, lead, NOW)
    assert state.status is Status.REPLIED


def test_reply_needs_the_citizen_contacted() -> None:
    state = TicketState(status=Status.REOPENED, lead_unit_id=LEAD, contacted=False)
    with pytest.raises(Conflict) as info:
        apply(state, Action.REPLY, Actor(Relation.LEAD, unit_id=LEAD), NOW)
    assert info.value.code == "citizen_not_contacted"


def test_bad_rating_redo_then_supervision() -> None:
    citizen = Actor(Relation.REQUESTER)
    lead = Actor(Relation.LEAD, unit_id=LEAD)
    state = TicketState(status=Status.AWAITING_RATING, lead_unit_id=LEAD, contacted=True)
    state, _ = apply(state, rating_action(False, state.redo_count), citizen, NOW)
    assert state.status is Status.REOPENED and state.redo_count == 1
    assert not state.contacted  # the redo starts by contacting the citizen again
    state, _ = apply(state, Action.START, lead, NOW)
    state, _ = apply(state, Action.CONTACT, lead, NOW)
    state, _ = apply(state, Action.REPLY, lead, NOW)
    state, _ = apply(state, Action.APPROVE_REPLY, Actor(Relation.CITY_CENTRE), NOW)
    state, _ = apply(state, rating_action(False, state.redo_count), citizen, NOW)
    assert state.status is Status.SUPERVISED


def test_extension_needs_a_pending_request() -> None:
    centre = Actor(Relation.CITY_CENTRE)
    state = TicketState(status=Status.IN_PROGRESS, lead_unit_id=LEAD)
    with pytest.raises(Conflict):
        apply(state, Action.APPROVE_EXTENSION, centre, NOW)
    state, _ = apply(
        state, Action.REQUEST_EXTENSION, Actor(Relation.LEAD, unit_id=LEAD), NOW, reason="需勘察"
    )
    state, _ = apply(state, Action.APPROVE_EXTENSION, centre, NOW)
    assert not state.extension_pending


def test_chases_are_counted() -> None:
    citizen = Actor(Relation.REQUESTER)
    state = TicketState(status=Status.IN_PROGRESS, lead_unit_id=LEAD)
    for _ in range(3):
        state, _ = apply(state, Action.CHASE, citizen, NOW)
    assert state.chase_count == 3 and state.status is Status.IN_PROGRESS
