"""`minyi demo`: build the demo city A市 into an empty database, then its ticket history."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import typer
from sqlalchemy.orm import Session

from minyi.core.clock import Clock, get_clock
from minyi.core.config import get_settings
from minyi.core.db import session_scope
from minyi.core.errors import NotFound
from minyi.demo.city import DemoSummary, build_demo_city, city_exists
from minyi.demo.ticket_plan import DEFAULT_TICKETS, SEED
from minyi.demo.tickets import TicketSummary, build_demo_tickets
from minyi.tickets.domain import Status

Echo = Callable[[str], None]


def demo(
    if_empty: bool = typer.Option(False, "--if-empty", help="Do nothing when a city exists"),
    tickets: int = typer.Option(
        DEFAULT_TICKETS,
        "--tickets",
        min=0,
        help="Tickets of the last 90 days made from the real messages (0: none)",
    ),
    seed: int = typer.Option(SEED, "--seed", help="Seed of the ticket plan"),
) -> None:
    """Build the demo city A市 from the real messages' place names (users: docs/demo-users.md)
    and a ticket history in every state."""
    code = run_demo(
        scope=session_scope,
        shared_data=get_settings().shared_data,
        if_empty=if_empty,
        clock=get_clock(),
        echo=typer.echo,
        error=lambda message: typer.echo(message, err=True),
        tickets=tickets,
        seed=seed,
    )
    if code:
        raise typer.Exit(code=code)


def run_demo(
    *,
    scope: Callable[[], AbstractContextManager[Session]],
    shared_data: Path,
    if_empty: bool,
    clock: Clock,
    echo: Echo,
    error: Echo,
    tickets: int = 0,
    seed: int = SEED,
) -> int:
    """The command's work, returning its exit code: 0 built or already there, 1 refused,
    2 the real data is missing. The city is committed first; the tickets follow in
    transactions of a few hundred each."""
    started = time.perf_counter()
    try:
        with scope() as session:
            if city_exists(session):
                if if_empty:
                    echo("演示城市已存在，未做改动 / the demo city exists; nothing changed")
                    return 0
                error(
                    "数据库中已有区域，演示城市只能建在空数据库中（已存在时可用 --if-empty 跳过）\n"
                    "The database already holds areas; the demo city is only built into an "
                    "empty one (use --if-empty to skip when it exists)"
                )
                return 1
            summary = build_demo_city(session, shared_data=shared_data, clock=clock, progress=echo)
            seconds = time.perf_counter() - started
            session.commit()
            history = build_demo_tickets(
                session,
                shared_data=shared_data,
                count=tickets,
                clock=clock,
                seed=seed,
                progress=echo,
                commit=session.commit,
            )
    except NotFound as exc:
        error(exc.message)
        error(exc.message_en)
        return 2
    for line in summary_lines(summary, seconds) + ticket_lines(history):
        echo(line)
    return 0


def summary_lines(s: DemoSummary, seconds: float) -> list[str]:
    areas = s.areas
    return [
        f"演示城市 A市 已建成 / the demo city A市 is built ({seconds:.1f} s)",
        f"  区域 areas: city {areas['city']}, districts {areas['district']}, "
        f"streets {areas['street']} (real {s.streets_real}, generated {s.streets_generated}), "
        f"communities {areas['community']} (real {s.communities_real}, "
        f"generated {s.communities_generated}), grids {areas['grid']} (generated)",
        f"  地名 place names: {s.place_mentions} mentions in {s.texts_read} real texts; "
        f"{s.estates_real} real estate names attached to communities as aliases",
        f"  单位 units: {s.units}, sections {s.sections} ("
        + ", ".join(f"{kind} {n}" for kind, n in s.units_by_kind.items())
        + ")",
        f"  清单 lists: items {s.items} (refinements {s.refinements}), responsibility rules "
        f"{s.responsibility_rules}, implementation rules {s.implementation_rules}, district "
        f"choices {s.district_choices}; batches {', '.join(s.batches)}",
        f"  用户 users: {s.users} (usernames and passwords: docs/demo-users.md)",
        f"  对接系统 machine client key (shown only now): {s.machine_client_key}",
    ]


def ticket_lines(t: TicketSummary) -> list[str]:
    if not t.tickets:
        return ["  工单 tickets: none"]
    counts = [f"{Status(s).label_zh} {s} {n}" for s, n in t.by_status.items()]
    rows = [", ".join(counts[i : i + 6]) for i in range(0, len(counts), 6)]
    return [
        f"  工单 tickets: {t.tickets} over the last 90 days, {t.events} timeline events "
        f"({t.seconds:.1f} s); {t.people_created} handlers and dispatchers created "
        "(password minyi-<username>-2026)",
        *(f"    {row}" for row in rows),
    ]
