"""The demo's ticket history: the plan (pure) and the tickets it makes through the services.

The database tests build A市 and a small history once for the module, through `run_demo`
as `minyi demo --tickets 300` would, and only read afterwards; the transaction is rolled
back at the end.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from minyi.audit import service as audit
from minyi.catalogue import service as catalogue
from minyi.cli import app
from minyi.core.clock import FixedClock
from minyi.demo.cli import run_demo, ticket_lines
from minyi.demo.texts import (
    Burst,
    Message,
    Reply,
    clean,
    read_bursts,
    read_messages,
    read_replies,
    remask,
)
from minyi.demo.ticket_matching import ItemChooser, Leaf, PlaceFinder, leaf_terms
from minyi.demo.ticket_paths import walk
from minyi.demo.ticket_plan import (
    PHONE_PREFIX,
    CityFacts,
    TicketPlan,
    credit_code,
    plan_tickets,
)
from minyi.demo.tickets import TicketSummary, city_facts, lists_in_force_from, status_counts
from minyi.intake.domain import is_valid_credit_code
from minyi.intake.models import Requester
from minyi.org.models import User
from minyi.tickets.domain import RECEIVE, Status
from minyi.tickets.models import Ticket, TicketEvent

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
SMALL = 300


# --- the plan, without a database ------------------------------------------------------------


def small_facts() -> CityFacts:
    leaf = Leaf("04/0402/040201/04020101", "建筑施工噪声", leaf_terms("建筑施工噪声", ["打桩"]))
    other = Leaf("03/0306/030699", "其他物业管理", leaf_terms("其他物业管理", []))
    leaves = {
        label: ((leaf, other), ())
        for label in ("城乡建设", "环境保护", "劳动和社会保障", "教育文体", "商贸旅游")
    }
    leaves |= {label: ((other,), ()) for label in ("卫生计生", "交通运输")}
    return CityFacts(
        leaves=leaves,
        places=[("A3区", "A3"), ("天顶街道", "A3-01"), ("丽发新城", "A2-01-001")],
        grids={"A2": ["A2-01-001-01"], "A3": ["A3-01-001-01", "A3-01-001-02"]},
        districts=[("A2", 800_000), ("A3", 1_550_000)],
        machine_district="A3",
    )


@pytest.fixture(scope="module")
def texts(shared_data: Path) -> tuple[list[Message], list[Burst]]:
    return read_messages(shared_data), read_bursts(shared_data)


def plan(texts: tuple[list[Message], list[Burst]], n: int, seed: int = 7) -> list[TicketPlan]:
    messages, bursts = texts
    replies = [Reply("小区噪音扰民", "经核查，已责令施工单位夜间停工。")]
    return plan_tickets(
        n,
        now=NOW,
        messages=messages,
        replies=replies,
        bursts=bursts,
        facts=small_facts(),
        seed=seed,
    )


def test_the_same_seed_gives_the_same_plan(texts: tuple[list[Message], list[Burst]]) -> None:
    first, again, other = plan(texts, 200), plan(texts, 200), plan(texts, 200, seed=8)

    assert first == again
    assert first != other


def test_a_small_plan_still_shows_every_status(texts: tuple[list[Message], list[Burst]]) -> None:
    plans = plan(texts, 80)

    assert {p.final for p in plans} == set(Status)
    assert len(plans) == 80


def test_planned_steps_are_legal_and_in_time(texts: tuple[list[Message], list[Burst]]) -> None:
    plans = plan(texts, SMALL)

    assert [p.index for p in plans] == list(range(SMALL))
    assert [p.received_at for p in plans] == sorted(p.received_at for p in plans)
    for p in plans:
        assert NOW - timedelta(days=90) <= p.received_at <= NOW
        times = [p.received_at, *(s.at for s in p.steps)]
        assert times == sorted(times) and times[-1] <= NOW
        assert all(t.utcoffset() == timedelta(0) for t in times)
        statuses = walk(p.steps)  # raises on a step the transition table does not allow
        assert (statuses[-1] if statuses else Status.RECEIVED) is p.final
        for s in p.steps:
            if s.into is not None:
                assert plans[s.into].received_at < p.received_at


def test_requesters_are_clearly_fake(texts: tuple[list[Message], list[Burst]]) -> None:
    plans = plan(texts, SMALL)

    phones = [p.requester.phone for p in plans]
    assert all(re.fullmatch(PHONE_PREFIX + r"\d{4}", phone) for phone in phones)
    assert len(set(phones)) == len(phones)
    assert all(p.requester.name.endswith(("先生", "女士")) for p in plans)
    codes = [p.requester.credit_code for p in plans if p.requester.credit_code]
    assert codes and all(is_valid_credit_code(c) and c[2:8] == "999999" for c in codes)
    assert is_valid_credit_code(credit_code(42))


def test_texts_are_cleaned_and_remasked() -> None:
    assert clean("\n\t\t\t小区\u3000噪音\xa0扰民\n\t\t") == "小区 噪音 扰民"
    moved = remask("K市K9县某小区，B区3栋")
    assert moved.startswith("A市A") and moved[4] == "县" and moved.endswith("B区3栋")
    assert remask(moved) == moved


def test_the_item_shares_words_with_the_text() -> None:
    chooser = ItemChooser(small_facts().leaves)
    rng = random.Random(1)

    noisy = chooser.choose("环境保护", "工地晚上十一点还在打桩", rng)
    unknown = chooser.choose("环境保护", "一段没有线索的话", rng)

    assert noisy == "04/0402/040201/04020101"
    assert unknown == "03/0306/030699"  # the main subtrees' "other" item


def test_the_most_precise_place_named() -> None:
    finder = PlaceFinder(small_facts().places)

    assert finder.find("A3区天顶街道某路口积水") == "A3-01"
    assert finder.find("投诉丽发新城旁搅拌站") == "A2-01-001"
    assert finder.find("没有地名") is None


def test_the_command_takes_a_ticket_count() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})

    assert result.exit_code == 0 and "--tickets" in result.output and "--if-empty" in result.output
    assert ticket_lines(TicketSummary()) == ["  工单 tickets: none"]


# --- the history in the database -------------------------------------------------------------


@dataclass
class Built:
    session: Session
    out: list[str]
    code: int


@pytest.fixture(scope="module")
def built(engine: Engine, shared_data: Path) -> Iterator[Built]:
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint")
    catalogue.get_index().clear()

    @contextmanager
    def scope() -> Iterator[Session]:
        yield session

    out: list[str] = []
    try:
        code = run_demo(
            scope=scope,
            shared_data=shared_data,
            if_empty=False,
            clock=FixedClock(NOW),
            echo=out.append,
            error=out.append,
            tickets=SMALL,
        )
        yield Built(session, out, code)
    finally:
        session.close()
        catalogue.get_index().clear()
        transaction.rollback()
        connection.close()


def test_every_status_occurs_as_planned(built: Built, shared_data: Path) -> None:
    s = built.session
    assert built.code == 0
    counts = status_counts(s)

    assert set(counts) == {status.value for status in Status}
    assert sum(counts.values()) == SMALL
    # what the database holds is what the plan said would become of each ticket
    planned = plan_tickets(
        SMALL,
        now=NOW,
        messages=read_messages(shared_data),
        replies=read_replies(shared_data),
        bursts=read_bursts(shared_data),
        facts=city_facts(s),
        not_before=lists_in_force_from(s),
    )
    assert counts == {k.value: n for k, n in Counter(p.final for p in planned).items()}
    summary = "\n".join(built.out)
    assert f"工单 tickets: {SMALL}" in summary and "已合并 merged" in summary


def test_timelines_are_consistent(built: Built) -> None:
    s = built.session
    events: dict[int, list[TicketEvent]] = {}
    for e in s.scalars(select(TicketEvent).order_by(TicketEvent.ticket_id, TicketEvent.seq)):
        events.setdefault(e.ticket_id, []).append(e)
    tickets = {t.id: t for t in s.scalars(select(Ticket))}

    assert set(events) == set(tickets)
    for ticket_id, timeline in events.items():
        assert timeline[0].action == RECEIVE and timeline[0].from_status is None
        assert [e.seq for e in timeline] == list(range(1, len(timeline) + 1))
        for before, after in itertools.pairwise(timeline):
            assert after.from_status == before.to_status, (ticket_id, after.action)
            assert after.at >= before.at
        assert timeline[-1].at <= NOW
        assert timeline[-1].to_status == tickets[ticket_id].status


def test_arrival_order_and_a_lived_in_mix(built: Built) -> None:
    s = built.session
    rows = s.execute(select(Ticket.id, Ticket.received_at).order_by(Ticket.id)).all()
    assert [r.received_at for r in rows] == sorted(r.received_at for r in rows)
    assert rows[0].received_at >= NOW - timedelta(days=90)
    tickets = list(s.scalars(select(Ticket)))
    channels = Counter(t.channel for t in tickets)
    assert channels.most_common(2)[0][0] == "hotline" and {"app", "web"} <= set(channels)
    assert {"complaint", "request", "consultation"} <= {t.appeal_type for t in tickets}
    assert all(t.item_id is not None for t in tickets)
    # a burst of near-duplicates shares its parent's reply
    merged = [t for t in tickets if t.status == Status.MERGED.value]
    assert merged and all(t.merged_into_id is not None for t in merged)


def test_people_and_phones(built: Built) -> None:
    s = built.session
    phones = list(s.scalars(select(Requester.phone)))
    assert phones and all(p is not None and p.startswith(PHONE_PREFIX) for p in phones)
    # units without a demo user act through their own documented handler
    handlers = list(s.scalars(select(User.username).where(User.username.like("handler-%"))))
    assert handlers and all(re.fullmatch(r"handler-[a-z0-9-]+", h) for h in handlers)
    actors = {
        e.actor_role
        for e in s.scalars(select(TicketEvent).where(TicketEvent.actor_user_id.is_not(None)))
    }
    assert {"dispatcher", "handler", "agent"} <= actors


def test_the_audit_chain_holds(built: Built) -> None:
    result = audit.verify(built.session)
    assert result.ok, result.broken
