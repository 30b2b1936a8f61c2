"""Repeats and near-duplicates at intake, on a few hand-written appeals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.org import service as org
from minyi.org.domain import AreaLevel
from minyi.tickets.models import Ticket
from minyi.triage import duplicates
from minyi.triage.duplicates_signature import (
    pack,
    packed_similarities,
    signature,
    similarity,
    unpack,
)
from tests.factories import World, make_ticket, make_world

SITE = "幸福小区南门旁边的金龙建筑工地每天晚上十一点以后还在打桩施工，噪音很大，孩子睡不着觉"
REWORDED = "金龙工地在幸福小区南门夜间打桩，半夜噪音扰民，吵得孩子没法睡觉，请管一管"
UNRELATED = "我的社保卡丢失了，想咨询补办社保卡需要带哪些材料，在哪个窗口办理"
WATER = "光明路菜市场门口的下水道堵塞，污水漫到人行道上，气味难闻"


def _index(session: Session, world: World, text: str, **kwargs: object) -> Ticket:
    ticket = make_ticket(session, world, text=text, **kwargs)  # type: ignore[arg-type]
    duplicates.index_ticket(session, ticket)
    return ticket


def _age(session: Session, ticket: Ticket, days: float) -> None:
    """Move an indexed ticket back in time (tickets are made at the fixed clock's now)."""
    from minyi.triage.duplicate_models import DuplicateKey, DuplicateSignature

    at = ticket.received_at - timedelta(days=days)
    for table in (DuplicateKey, DuplicateSignature):
        session.execute(update(table).where(table.ticket_id == ticket.id).values(received_at=at))


def test_signature_is_pure_and_stored_losslessly() -> None:
    # given the same text twice, and a reworded one
    a, b = signature(SITE), signature(SITE)
    # then it is the same signature, it survives storage, and rewording keeps it close
    assert a == b
    assert abs(similarity(a, unpack(pack(a))) - 1.0) < 1e-3
    assert similarity(a, signature(REWORDED)) > similarity(a, signature(UNRELATED))
    assert not signature("。。！ ")


def test_reworded_appeal_about_the_same_place_is_a_duplicate(
    session: Session, clock: FixedClock
) -> None:
    # given an earlier appeal about the site by one citizen
    world = make_world(session)
    first = _index(session, world, SITE, phone="13800000001")
    _index(session, world, UNRELATED, phone="13800000002")
    # when a neighbour describes the same site in other words
    found = duplicates.find_related(
        session,
        text=REWORDED,
        requester_id=None,
        area_id=world.town.grid.id,
        district_id=world.town.district.id,
        now=clock.now(),
    )
    # then only the first appeal is offered, as a duplicate at the same place
    assert [r.ticket_id for r in found] == [first.id]
    assert found[0].kind == "duplicate"
    assert found[0].tracking_code == first.tracking_code
    assert found[0].is_open is True
    assert duplicates.DUPLICATE_THRESHOLD <= found[0].similarity <= 1
    assert found[0].reason.startswith("同一地点的相似诉求")


def test_unrelated_appeal_finds_nothing(session: Session, clock: FixedClock) -> None:
    world = make_world(session)
    _index(session, world, SITE)
    found = duplicates.find_related(
        session,
        text=WATER,
        requester_id=None,
        area_id=world.town.grid.id,
        district_id=world.town.district.id,
        now=clock.now(),
    )
    assert found == []


def test_same_requester_within_30_days_is_a_repeat(session: Session, clock: FixedClock) -> None:
    # given a citizen's appeal 20 days ago, in another street
    world = make_world(session)
    first = _index(session, world, SITE, area=world.town.other_street)
    _age(session, first, 20)
    # when the same person appeals again in other words
    found = duplicates.find_related(
        session,
        text=SITE + "，二十天了还没人管",
        requester_id=first.requester_id,
        area_id=world.town.grid.id,
        district_id=world.town.district.id,
        now=clock.now(),
    )
    # then it is a repeat, whatever the place
    assert [(r.ticket_id, r.kind) for r in found] == [(first.id, "repeat")]
    assert found[0].reason.startswith("同一来电人30天内反映同一事项")


def test_after_30_days_it_is_no_longer_a_repeat(session: Session, clock: FixedClock) -> None:
    world = make_world(session)
    first = _index(session, world, SITE)
    _age(session, first, 31)
    found = duplicates.find_related(
        session,
        text=SITE + "，一个月了还没人管",
        requester_id=first.requester_id,
        area_id=world.town.grid.id,
        district_id=world.town.district.id,
        now=clock.now(),
    )
    # still a duplicate of the same place (within 90 days), but not a repeat
    assert [(r.ticket_id, r.kind) for r in found] == [(first.id, "duplicate")]
    _age(session, first, 91)  # past the 90-day window for duplicates too
    assert (
        duplicates.find_related(
            session,
            text=SITE,
            requester_id=first.requester_id,
            area_id=world.town.grid.id,
            district_id=world.town.district.id,
            now=clock.now(),
        )
        == []
    )


def test_another_district_is_not_a_duplicate(session: Session, clock: FixedClock) -> None:
    # given the same words about a place in another district
    world = make_world(session)
    other = org.create_area(
        session, code="T2", name="T2区", level=AreaLevel.DISTRICT, parent=world.town.city
    )
    elsewhere = _index(session, world, SITE, area=other)
    assert elsewhere.district_id == other.id
    # when an appeal comes from the first district
    found = duplicates.find_related(
        session,
        text=REWORDED,
        requester_id=None,
        area_id=world.town.grid.id,
        district_id=world.town.district.id,
        now=clock.now(),
    )
    # then nothing; without a district the whole city is searched
    assert found == []
    anywhere = duplicates.find_related(
        session, text=REWORDED, requester_id=None, area_id=None, district_id=None, now=clock.now()
    )
    assert [r.ticket_id for r in anywhere] == [elsewhere.id]


def test_a_ticket_never_finds_itself(session: Session, clock: FixedClock) -> None:
    world = make_world(session)
    first = _index(session, world, SITE)
    second = _index(session, world, REWORDED, phone="13800000009")
    # then each finds the other, neither finds itself
    assert [
        r.ticket_id for r in duplicates.related_for_ticket(session, second, now=clock.now())
    ] == [first.id]
    assert [
        r.ticket_id for r in duplicates.related_for_ticket(session, first, now=clock.now())
    ] == [second.id]


def test_closed_and_merged_tickets_are_still_offered(session: Session, clock: FixedClock) -> None:
    # given two earlier appeals about the site, one closed and one merged into the other
    world = make_world(session)
    closed = _index(session, world, SITE)
    merged = _index(session, world, SITE + "，晚上十二点还在打桩", phone="13800000003")
    for ticket in (closed, merged):
        session.execute(update(Ticket).where(Ticket.id == ticket.id).values(is_open=False))
    session.execute(update(Ticket).where(Ticket.id == merged.id).values(merged_into_id=closed.id))
    session.expire_all()
    # when a new appeal about it comes in
    found = duplicates.find_related(
        session,
        text=REWORDED,
        requester_id=None,
        area_id=world.town.grid.id,
        district_id=world.town.district.id,
        now=clock.now(),
    )
    # then both are offered, marked as no longer open, so the dispatcher can link to them
    by_id = {r.ticket_id: r for r in found}
    assert set(by_id) == {closed.id, merged.id}
    assert not by_id[closed.id].is_open and by_id[closed.id].reason.endswith("该工单已办结")
    assert by_id[merged.id].reason.endswith(f"该工单已并入工单{closed.id}")


def test_reindexing_replaces_the_rows(session: Session, clock: FixedClock) -> None:
    # given a ticket indexed, then its text corrected and indexed again
    world = make_world(session)
    ticket = _index(session, world, SITE)
    session.execute(update(Ticket).where(Ticket.id == ticket.id).values(text=WATER))
    session.expire_all()
    duplicates.index_ticket(session, session.get_one(Ticket, ticket.id))

    # then it is found by its new words only
    def look(text: str) -> list[int]:
        return [
            r.ticket_id
            for r in duplicates.find_related(
                session,
                text=text,
                requester_id=None,
                area_id=None,
                district_id=world.town.district.id,
                now=clock.now(),
            )
        ]

    assert look(REWORDED) == []
    assert look(WATER) == [ticket.id]


def test_rare_words_still_find_an_older_appeal_behind_many_with_common_words(
    session: Session, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the site's appeal, then newer appeals sharing only its common words (noise,
    # children, sleep), more of them than the postings read per key
    monkeypatch.setattr(duplicates, "POSTINGS_PER_KEY", 2)
    duplicates._candidate_statement.cache_clear()
    world = make_world(session)
    first = _index(session, world, SITE, phone="13800000001")
    _age(session, first, 5)
    for n in range(4):
        _index(session, world, f"光明路{n}号酒吧晚上噪音很大，孩子睡不着觉", phone=f"1390000000{n}")
    # when a neighbour describes the site in other words
    found = duplicates.find_related(
        session,
        text=REWORDED,
        requester_id=None,
        area_id=world.town.grid.id,
        district_id=world.town.district.id,
        now=clock.now(),
    )
    duplicates._candidate_statement.cache_clear()
    # then the site's appeal is still offered first
    assert found and found[0].ticket_id == first.id


def test_stored_rows_score_as_their_signatures() -> None:
    a, b, c = signature(SITE), signature(REWORDED), signature(WATER)
    scores = packed_similarities(a, [pack(b), b"", pack(c), pack(a)])
    expected = [similarity(a, b), 0.0, similarity(a, c), similarity(a, a)]
    assert [round(x, 4) for x in scores] == [round(x, 4) for x in expected]
