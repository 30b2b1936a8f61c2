"""The knowledge base against the database: approval, serving rules, notices, offers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.audit.models import AuditEntry
from minyi.core.errors import Conflict, Forbidden
from minyi.tickets.domain import Status
from minyi.triage.knowledge import notices
from minyi.triage.knowledge import service as kb
from minyi.triage.knowledge.domain import NoticeKind
from minyi.triage.knowledge.models import KnowledgeOffer
from minyi.triage.knowledge.schemas import EntryCreate, NoticeCreate
from tests.factories import make_world
from tests.triage.knowledge.helpers import (
    NOW,
    RESIDENCE_ANSWER,
    RESIDENCE_QUESTIONS,
    approved_entry,
    consultation,
    user,
)


def _draft(session: Session, answer: str = RESIDENCE_ANSWER) -> int:
    entry = kb.create_entry(
        session,
        data=EntryCreate(questions=RESIDENCE_QUESTIONS, answer=answer, source_title="办事指南"),
        actor=user(session, "agent"),
    )
    return entry.id


def test_a_draft_is_served_only_once_approved(session: Session) -> None:
    world = make_world(session)
    entry_id = _draft(session)
    ticket = consultation(session, world, title="请问居住证怎么办理")
    assert kb.offer_for(session, ticket=ticket, now=NOW) is None

    kb.approve_entry(session, entry_id=entry_id, actor=user(session, "dispatcher"))
    answer = kb.offer_for(session, ticket=ticket, now=NOW)

    assert answer is not None
    assert (answer.kind, answer.entry_id, answer.answer) == ("entry", entry_id, RESIDENCE_ANSWER)
    assert answer.source == "办事指南"
    actions = session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "kb_entry")
    ).all()
    assert actions == ["knowledge.entry.create", "knowledge.entry.approve"]


def test_a_draft_naming_a_person_cannot_be_approved(session: Session) -> None:
    make_world(session)
    entry_id = _draft(session, answer="经核实，王某于2003年购得该宅基地，不符合补偿条件。")
    assert kb.get_entry_or_raise(session, entry_id).privacy_flags == ["person_name"]

    with pytest.raises(Conflict) as refused:
        kb.approve_entry(session, entry_id=entry_id, actor=user(session, "admin"))

    assert refused.value.code == "kb_entry_private"
    assert kb.get_entry_or_raise(session, entry_id).status == "draft"


def test_only_approvers_approve(session: Session) -> None:
    make_world(session)
    entry_id = _draft(session)
    for username in ("agent", "district-dispatcher", "handler"):
        with pytest.raises(Forbidden):
            kb.approve_entry(session, entry_id=entry_id, actor=user(session, username))
    with pytest.raises(Forbidden):
        _ = kb.create_entry(
            session,
            data=EntryCreate(questions=["问题一"], answer="答案一", source_title="文件"),
            actor=user(session, "handler"),
        )


@pytest.mark.parametrize(
    ("start", "end"),
    [(-30, -1), (1, 30)],
    ids=["expired", "not-yet-valid"],
)
def test_an_entry_outside_its_validity_is_not_served(
    session: Session, start: int, end: int
) -> None:
    world = make_world(session)
    approved_entry(
        session,
        questions=RESIDENCE_QUESTIONS,
        answer=RESIDENCE_ANSWER,
        valid_from=NOW + timedelta(days=start),
        valid_to=NOW + timedelta(days=end),
    )
    ticket = consultation(session, world, title="请问居住证怎么办理")
    assert kb.offer_for(session, ticket=ticket, now=NOW) is None
    assert kb.search(session, query="居住证怎么办理", area_id=None, now=NOW) == []


def test_a_districts_entry_answers_its_district_and_below_only(session: Session) -> None:
    world = make_world(session)
    approved_entry(
        session, questions=RESIDENCE_QUESTIONS, answer=RESIDENCE_ANSWER, area=world.town.street
    )
    inside = consultation(session, world, title="居住证怎么办理", area=world.town.grid)
    elsewhere = consultation(session, world, title="居住证怎么办理", area=world.town.other_street)
    nowhere = consultation(session, world, title="居住证怎么办理", located=False)

    assert kb.offer_for(session, ticket=inside, now=NOW) is not None
    assert kb.offer_for(session, ticket=elsewhere, now=NOW) is None
    assert kb.offer_for(session, ticket=nowhere, now=NOW) is None


def test_a_retired_entry_is_not_served(session: Session) -> None:
    world = make_world(session)
    entry = approved_entry(session, questions=RESIDENCE_QUESTIONS, answer=RESIDENCE_ANSWER)
    kb.retire_entry(session, entry_id=entry.id, actor=user(session, "admin"))
    ticket = consultation(session, world, title="居住证怎么办理")
    assert kb.offer_for(session, ticket=ticket, now=NOW) is None


def _water_notice(session: Session, area_id: int) -> int:
    notice = notices.create_notice(
        session,
        data=NoticeCreate(
            kind=NoticeKind.WATER,
            area_id=area_id,
            starts_at=NOW - timedelta(hours=2),
            ends_at=NOW + timedelta(hours=6),
            text="因主管道维修，东风街道11月2日9时至15时停水，请提前储水。",
            source_title="T市自来水公司停水通知",
        ),
        actor=user(session, "dispatcher"),
    )
    return notice.id


def test_a_notice_answers_why_no_water_in_its_area_and_window(session: Session) -> None:
    world = make_world(session)
    notice_id = _water_notice(session, world.town.street.id)
    ticket = consultation(session, world, title="幸福小区为什么停水了", area=world.town.community)
    answer = kb.offer_for(session, ticket=ticket, now=NOW)
    assert answer is not None
    assert (answer.kind, answer.notice_id) == ("notice", notice_id)
    assert "停水" in answer.answer


@pytest.mark.parametrize(
    ("where", "hours_later"),
    [("other_street", 0), ("community", 7), ("community", -3)],
    ids=["other-area", "after-window", "before-window"],
)
def test_a_notice_does_not_answer_outside_its_area_or_window(
    session: Session, where: str, hours_later: int
) -> None:
    world = make_world(session)
    _water_notice(session, world.town.street.id)
    ticket = consultation(session, world, title="小区为什么停水了", area=getattr(world.town, where))
    assert kb.offer_for(session, ticket=ticket, now=NOW + timedelta(hours=hours_later)) is None


def test_a_complaint_gets_no_offer(session: Session) -> None:
    world = make_world(session)
    approved_entry(session, questions=RESIDENCE_QUESTIONS, answer=RESIDENCE_ANSWER)
    ticket = consultation(session, world, title="居住证怎么办理", appeal_type="complaint")
    assert kb.offer_for(session, ticket=ticket, now=NOW) is None


def test_accepting_closes_the_ticket_as_answered_with_the_answer(session: Session) -> None:
    world = make_world(session)
    approved_entry(session, questions=RESIDENCE_QUESTIONS, answer=RESIDENCE_ANSWER)
    ticket = consultation(session, world, title="居住证怎么办理")
    assert kb.offer_for(session, ticket=ticket, now=NOW) is not None

    closed = kb.accept_offer(session, ticket=ticket, now=NOW)

    assert closed.status == Status.ANSWERED.value
    assert closed.reply_text is not None
    assert RESIDENCE_ANSWER in closed.reply_text
    assert "《居住证暂行条例》" in closed.reply_text
    offer = session.scalar(select(KnowledgeOffer).where(KnowledgeOffer.ticket_id == ticket.id))
    assert offer is not None and offer.outcome == "accepted"


def test_declining_keeps_the_ticket_queued(session: Session) -> None:
    world = make_world(session)
    approved_entry(session, questions=RESIDENCE_QUESTIONS, answer=RESIDENCE_ANSWER)
    ticket = consultation(session, world, title="居住证怎么办理")
    assert kb.offer_for(session, ticket=ticket, now=NOW) is not None

    kb.decline_offer(session, ticket=ticket, now=NOW)

    assert ticket.status == Status.PENDING_DISPATCH.value
    with pytest.raises(Conflict):
        kb.accept_offer(session, ticket=ticket, now=NOW)
    assert ticket.status == Status.PENDING_DISPATCH.value


def test_no_offer_no_decision(session: Session) -> None:
    world = make_world(session)
    ticket = consultation(session, world, title="居住证怎么办理")
    with pytest.raises(Conflict):
        kb.decline_offer(session, ticket=ticket, now=NOW)
    count = session.scalar(select(func.count()).select_from(KnowledgeOffer))
    assert count == 0
