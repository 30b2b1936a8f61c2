"""SLA timers and notifications at scale: issue 5's three performance targets.

Run:
    .venv/bin/python benchmarks/sla.py                        # 1,000,000 tickets, all three
    .venv/bin/python benchmarks/sla.py --tickets 100000 --json
    .venv/bin/python benchmarks/sla.py --keep                 # keep the filled database …
    .venv/bin/python benchmarks/sla.py --reuse URL            # … and time on it again
    .venv/bin/python benchmarks/sla.py --skip-lookup          # firing and outbox only
    .venv/bin/python benchmarks/sla.py --skip-lookup --gateway-delay-ms 20

Targets (issue 5): with 1,000,000 open tickets, finding the timers due in the next minute
takes ≤ 100 ms on PostgreSQL; a worker fires 10,000 due timers in ≤ 30 s; the outbox sends
10,000 messages to a local gateway in ≤ 30 s.

1. **Due look-up** (`--tickets`, default 1,000,000). A scratch PostgreSQL database, migrated,
   100 units made through the org service, then the open tickets and their timers written in
   bulk with COPY (never through the services): acceptance, contact and reply clocks, three a
   ticket, most of them done or running towards a deadline in the future (spans of 2 h, 24 h,
   7 and 15 days, a few escalated to the leader), 1 % of tickets suspended (their clocks
   stopped, half of them past their old due time), and `--due-now` (3,000) reply clocks whose
   warning or deadline falls in the next minute. Then VACUUM ANALYZE and, `--runs` times each
   (a fresh session per run, as the worker has per pass): `sla.tasks._claim(now + 1 min,
   limit=500)` itself, the worker's statement with FOR UPDATE SKIP LOCKED, rolled back; and a
   count of the timers due within the minute. The first line of each EXPLAIN (ANALYZE,
   BUFFERS) plan and the indexes it reads are printed (`--explain`: the whole plans).
2. **Firing** (`--timers`, default 10,000). A fresh scratch database with a small city made
   through the services (areas, a centre, 10 bureaus each owning one item in the lists, their
   staff); `--timers` tickets opened with `tickets.open_ticket` (a requester each) and
   dispatched with `tickets.act`, so the timers, timelines, audit chain and outbox are what
   the product writes. Half are dispatched at 09:00 on a Monday and half at 09:20; at 11:00
   the first half's acceptance deadline (2 working hours) has passed (yellow card, leader
   escalation) and the second half's 80 % warning is due. Then `fire_due(session, now=11:00,
   limit=100)` and a commit per batch, as `minyi worker` does with a backlog, until nothing
   is claimed. Meanwhile a thread writes one audit entry every 100 ms: how long any
   audited change waits while the worker fires. The SQL statements sent are counted.
3. **Outbox** (`--messages`, default 10,000), same database. A local gateway answering the
   contract of docs/notify-gateway.md runs in a process of its own (so it does not share this
   process's GIL). What the dispatches and firing queued is delivered first and reported
   apart; then `--messages` citizen SMS are queued with `notify.service.notify_template` and
   sent by `notify.delivery.deliver_once` (the real `GatewaySender`, configured through
   `Settings.sms_gateway_url`/`sms_gateway_token`), a commit per call, until none is left.
   The gateway counts every message id it receives: each must arrive exactly once.
   `--gateway-delay-ms` makes it think before answering, as a gateway on another network.

Every phase prints the CPU it saw used: this process, PostgreSQL's backends of the scratch
database, the gateway, and the rest of the machine (others' work skews figures).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))

from duplicates import DEFAULT_PG, reused, scratch_postgresql, ticket_values

from intake import backends, busy_pct, free_port, machine_cpu, own_cpu, pct, proc_cpu
from minyi.assessment.models import Card
from minyi.audit import service as audit
from minyi.audit.models import AuditEntry
from minyi.catalogue import service as catalogue
from minyi.core.clock import FixedClock
from minyi.core.config import Settings
from minyi.core.db import make_engine
from minyi.core.migrate import upgrade
from minyi.intake.models import Requester
from minyi.notify import service as notify
from minyi.notify.delivery import deliver_once
from minyi.notify.domain import Channel
from minyi.notify.models import OutboxMessage
from minyi.org import service as org
from minyi.org.domain import AreaLevel, Role, UnitKind
from minyi.org.models import User
from minyi.sla import service as sla
from minyi.sla import tasks
from minyi.sla.calendar import service as calendar_service
from minyi.sla.models import SlaTimer, next_fire_at
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket, TicketEvent

SEED = 2026
# The look-up's moment (a Friday, 14:00 in Shanghai): every time in the big fill is relative.
NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=1)
CLAIM_LIMIT = 500  # the look-up's batch: fire_due's default (the issue's figure)
FIRE_BATCH = 100  # what `minyi worker` passes to fire_due (src/minyi/sla/cli.py)
# The firing scenario: Monday 2 November 2026, 09:00 in Shanghai, a working day.
START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
LATE = timedelta(minutes=20)  # the second half's dispatch: only its warning is due at FIRE_AT
FIRE_AT = START + timedelta(hours=2)
HOUR = 3600.0
# Reply spans in hours with their shares (Beijing's levels, 2 h / 24 h / 7 d / 15 d).
REPLY_SPANS = ((2.0, 0.05), (24.0, 0.25), (7 * 24.0, 0.4), (15 * 24.0, 0.3))
OPEN_STATUSES = (
    ("dispatched", 0.03),
    ("suspended", 0.01),
    ("accepted", 0.2),
    ("contacted", 0.3),
    ("in_progress", 0.46),
)
TIMER_COLUMNS = (
    "ticket_id",
    "kind",
    "unit_id",
    "span_kind",
    "span_amount",
    "started_at",
    "due_at",
    "warn_at",
    "state",
    "escalation_level",
    "remaining_seconds",
    "fired_at",
    "updated_at",
    "next_fire_at",
)
PROBE = "bench.probe"
NOTE_KINDS = ("deadline_warning", "yellow_card", "red_card", "escalate")


def summary(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {
        "runs": len(s),
        "p50_ms": round(pct(s, 50), 2),
        "p99_ms": round(pct(s, 99), 2),
        "max_ms": round(s[-1], 2),
    }


class Meter:
    """Seconds and CPU seconds of a phase: this process, the database's backends, the
    gateway, and what the rest of the machine used meanwhile (in cores)."""

    def __init__(self, url: str, gateway_pid: int | None = None) -> None:
        self.url, self.gateway_pid = url, gateway_pid
        self.t0, self.m0, self.c0 = time.perf_counter(), machine_cpu(), own_cpu()
        self.g0 = proc_cpu(gateway_pid) if gateway_pid else 0.0
        self.p0 = {p: proc_cpu(p) for p in backends(url)}

    def stop(self) -> dict[str, float]:
        elapsed = time.perf_counter() - self.t0
        mine = own_cpu() - self.c0
        db = sum(proc_cpu(p) - self.p0.get(p, 0.0) for p in backends(self.url))
        gateway = proc_cpu(self.gateway_pid) - self.g0 if self.gateway_pid else 0.0
        busy_s = (machine_cpu()[0] - self.m0[0]) / 100  # jiffies: USER_HZ is 100 on Linux
        return {
            "seconds": round(elapsed, 2),
            "bench_cpu_s": round(mine, 1),
            "db_cpu_s": round(db, 1),
            "gateway_cpu_s": round(gateway, 1),
            "machine_busy_pct": busy_pct(self.m0),
            "others_cores": round(max(0.0, busy_s - mine - db - gateway) / elapsed, 2),
        }


# --- 1. the due look-up --------------------------------------------------------------------


def make_units(session: Session) -> list[int]:
    """10 districts of 10 bureaus each, through the org service."""
    city = org.create_area(session, code="S", name="S市", level=AreaLevel.CITY)
    units: list[int] = []
    for d in range(10):
        district = org.create_area(
            session, code=f"S{d}", name=f"S{d}区", level=AreaLevel.DISTRICT, parent=city
        )
        for u in range(10):
            unit = org.create_unit(
                session,
                code=f"S{d}-{u}",
                name=f"S{d}区第{u}局",
                kind=UnitKind.DISTRICT_DEPARTMENT,
                area=district,
            )
            units.append(unit.id)
    return units


def _timer(
    ticket_id: int,
    kind: str,
    unit: int,
    span_h: float,
    start: datetime,
    state: str | None = None,
    *,
    remaining: float | None = None,
) -> tuple[Any, ...]:
    """One timer row: done, or running (warned once its 80 % has passed)."""
    due = start + timedelta(hours=span_h)
    warn = start + timedelta(hours=0.8 * span_h)
    if state is None:
        state = sla.WARNED if warn <= NOW else sla.PENDING
    fired = warn if state == sla.WARNED else None
    span_kind = "natural" if span_h <= 24 else "working_days"
    amount = span_h if span_h <= 24 else span_h / 24
    updated = NOW - timedelta(minutes=5)
    # COPY bypasses the mapper event that keeps the worker's column: the same rule, by hand.
    when = next_fire_at(
        SlaTimer(state=state, warn_at=warn, due_at=due, remaining_seconds=remaining)
    )
    row = (ticket_id, kind, unit, span_kind, amount, start, due, warn, state, 0, remaining)
    return (*row, fired, updated, when)


def ticket_timers(
    rng: random.Random, tid: int, unit: int, status: str, due_now: bool
) -> tuple[datetime, datetime, list[tuple[Any, ...]]]:
    """(dispatched at, reply due, timer rows) of one open ticket."""
    span = rng.choices([s for s, _ in REPLY_SPANS], [w for _, w in REPLY_SPANS])[0]
    # Accepted and not yet contacted: within the contact clock's 24 h.
    cap = {"dispatched": 2.0, "accepted": min(span, 24.0)}.get(status, span)
    elapsed = rng.random() * cap
    dispatched = NOW - timedelta(hours=elapsed)
    reply = _timer(tid, "reply", unit, span, dispatched)
    if status == "suspended":
        # Stopped with time left; half have sat past their old due time since.
        old_due = NOW + timedelta(hours=(rng.random() - 0.6) * 240)
        state = sla.WARNED if rng.random() < 0.5 else sla.PENDING
        start, left = old_due - timedelta(hours=span), rng.random() * span * HOUR
        reply = _timer(tid, "reply", unit, span, start, state, remaining=left)
    elif due_now:
        # Due in the next minute: a warning (pending) or a deadline (already warned).
        at = NOW + WINDOW * rng.random()
        if rng.random() < 0.5:
            reply = _timer(tid, "reply", unit, span, at - timedelta(hours=0.8 * span))
        else:
            reply = _timer(tid, "reply", unit, span, at - timedelta(hours=span), sla.WARNED)
    elif rng.random() < 0.02:
        # Escalated to the leader, whose own deadline is ahead.
        row = list(_timer(tid, "reply", unit, span, dispatched, sla.ESCALATED_LEADER))
        row[6], row[7], row[9] = NOW + timedelta(hours=rng.random() * 24), None, 1
        row[13] = row[6]  # its next firing is the leader's deadline
        reply = tuple(row)
    accepted = status != "dispatched"
    acceptance = _timer(tid, "acceptance", unit, 2.0, dispatched, sla.DONE if accepted else None)
    contacted = status in ("contacted", "in_progress", "suspended")
    contact = _timer(tid, "contact", unit, 24.0, dispatched, sla.DONE if contacted else None)
    due = dispatched + timedelta(hours=span)
    return dispatched, due, [acceptance, contact, reply]


def fill(engine: Engine, n: int, due_now: int, units: list[int]) -> dict[str, Any]:
    rng = random.Random(SEED)
    fixed = dict(ticket_values(engine))
    own = ["id", "tracking_code", "status", "is_open", "lead_unit_id", "received_at"]
    own += ["updated_at", "dispatched_at", "due_at"]
    extra = [c for c in fixed if c not in own]
    due_set = set(rng.sample(range(1, n + 1), min(due_now, n)))
    statuses = [s for s, _ in OPEN_STATUSES]
    weights = [w for _, w in OPEN_STATUSES]
    copy_tickets = f"COPY ticket ({', '.join(own + extra)}) FROM STDIN"
    copy_timers = f"COPY sla_timer ({', '.join(TIMER_COLUMNS)}) FROM STDIN"
    timers = 0
    t0 = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        with raw.cursor() as cur:
            ticket_rows: list[list[Any]] = []
            timer_rows: list[tuple[Any, ...]] = []
            for tid in range(1, n + 1):
                status = rng.choices(statuses, weights)[0]
                unit = units[tid % len(units)]
                dispatched, due, rows_of = ticket_timers(rng, tid, unit, status, tid in due_set)
                received = dispatched - timedelta(minutes=30)
                row = [tid, f"S{tid:010d}", status, True, unit, received, NOW, dispatched, due]
                row += [received if fixed[c] is None else fixed[c] for c in extra]
                ticket_rows.append(row)
                timer_rows.extend(rows_of)
                if tid % 50_000 == 0 or tid == n:
                    with cur.copy(copy_tickets) as copy:
                        for r in ticket_rows:
                            copy.write_row(r)
                    with cur.copy(copy_timers) as copy:
                        for t in timer_rows:
                            copy.write_row(t)
                    timers += len(timer_rows)
                    ticket_rows, timer_rows = [], []
                    print(f"… {tid:,} tickets ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
            cur.execute("SELECT setval(pg_get_serial_sequence('ticket', 'id'), %s)", (n,))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE ticket"))
        conn.execute(text("VACUUM ANALYZE sla_timer"))
    return {"fill_s": round(time.perf_counter() - t0, 1), "timers_written": timers}


def count_due(session: Session, at: datetime) -> int:
    """The timers due by `at`, by the condition `tasks._claim` uses."""
    query = select(func.count()).select_from(SlaTimer).where(SlaTimer.next_fire_at <= at)
    return session.scalar(query) or 0


def explain(engine: Engine, run: Callable[[Session], object]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements `run` issues, rolled back."""
    captured: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "sla_timer" in statement:
            captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        with Session(engine) as session:
            run(session)
            session.rollback()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    plans: list[str] = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        for statement, params in captured:
            with raw.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                plans.append(statement + "\n" + "\n".join(str(r[0]) for r in cur.fetchall()))
        conn.rollback()
    return plans


def plan_facts(plan: str) -> dict[str, Any]:
    lines = plan.split("\n")
    first = next(i for i, line in enumerate(lines) if "(cost=" in line)
    used = sorted({m for line in lines for m in re.findall(r"(?:Index Scan on|using) (\w+)", line)})
    timing = [line.strip() for line in lines if line.strip().startswith("Execution Time")]
    # The planner's guess against the truth for the timers read: a wrong guess picks the plan.
    scan = next((line for line in lines if " on sla_timer" in line), "")
    guess = re.findall(r"rows=(\d+)", scan)
    loops = re.findall(r"loops=(\d+)", scan)  # a parallel scan's rows are per process
    return {
        "top": lines[first].strip(),
        "indexes": used,
        "execution": timing[0] if timing else "",
        "sla_timer_rows_estimated": int(guess[0]) if guess else None,
        "sla_timer_rows_actual": int(guess[1]) * int(loops[0]) if len(guess) > 1 else None,
        "jit": any(line.startswith("JIT:") for line in lines),
    }


def lookup(args: argparse.Namespace) -> dict[str, Any]:
    database = reused(args.reuse) if args.reuse else scratch_postgresql(args.pg_url, args.keep)
    with database as url:
        engine = make_engine(url)
        try:
            upgrade(engine)  # on a reused database: only migrations added since it was filled
            with Session(engine) as session:
                stored = session.scalar(select(func.count()).select_from(Ticket)) or 0
            filled: dict[str, Any] = {"fill_s": 0.0}
            if stored:
                # A migration since the fill may have added or backfilled a column: without
                # statistics the planner guesses, as it would until autovacuum's next analyse.
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("ANALYZE ticket"))
                    conn.execute(text("ANALYZE sla_timer"))
            else:
                with Session(engine) as session:
                    units = make_units(session)
                    session.commit()
                meter = Meter(url)
                filled = fill(engine, args.tickets, args.due_now, units)
                filled["fill_cpu"] = meter.stop()
            at = NOW + WINDOW
            with Session(engine) as session:
                facts = {
                    "tickets_open": session.scalar(
                        select(func.count()).select_from(Ticket).where(Ticket.is_open.is_(True))
                    ),
                    "timers": session.scalar(select(func.count()).select_from(SlaTimer)),
                    "timers_running": session.scalar(
                        select(func.count())
                        .select_from(SlaTimer)
                        .where(SlaTimer.state.in_(sla.ACTIVE))
                    ),
                    "timers_suspended": session.scalar(
                        select(func.count())
                        .select_from(SlaTimer)
                        .where(SlaTimer.remaining_seconds.is_not(None))
                    ),
                }
            claim_ms: list[float] = []
            count_ms: list[float] = []
            claimed = due = 0
            meter = Meter(url)
            for i in range(args.runs + 1):
                with Session(engine) as session:
                    t0 = time.perf_counter()
                    claimed = len(tasks._claim(session, now=at, limit=CLAIM_LIMIT))
                    t1 = time.perf_counter()
                    session.rollback()
                with Session(engine) as session:
                    t2 = time.perf_counter()
                    due = count_due(session, at)
                    t3 = time.perf_counter()
                if i == 0:
                    first = {"claim_ms": round((t1 - t0) * 1000, 1)}
                    first["count_ms"] = round((t3 - t2) * 1000, 1)
                    continue
                claim_ms.append((t1 - t0) * 1000)
                count_ms.append((t3 - t2) * 1000)
            cpu = meter.stop()
            plans = explain(engine, lambda s: tasks._claim(s, now=at, limit=CLAIM_LIMIT))
            plans += explain(engine, lambda s: count_due(s, at))
        finally:
            engine.dispose()
    return {
        **facts,
        **filled,
        "at": at.isoformat(),
        "due_within_minute": due,
        "claimed": claimed,
        "first_run": first,
        "claim": summary(claim_ms),
        "count": summary(count_ms),
        "cpu": cpu,
        "plans": [plan_facts(p) for p in plans],
        "plans_full": plans,
        "target_ms": 100,
    }


# --- 2. firing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    grid_id: int
    dispatcher_id: int
    items: list[int]  # one per bureau


def make_city(session: Session, bureaus: int = 10) -> City:
    """A city, a district, a street down to a grid; the city centre and its dispatcher;
    `bureaus` district bureaus, each the lead for one item, with a handler and a leader."""
    city = org.create_area(session, code="W", name="W市", level=AreaLevel.CITY)
    district = org.create_area(
        session, code="W1", name="W1区", level=AreaLevel.DISTRICT, parent=city
    )
    street = org.create_area(
        session, code="W1-01", name="东风街道", level=AreaLevel.STREET, parent=district
    )
    community = org.create_area(
        session, code="W1-01-001", name="幸福社区", level=AreaLevel.COMMUNITY, parent=street
    )
    grid = org.create_area(
        session, code="W1-01-001-01", name="第一网格", level=AreaLevel.GRID, parent=community
    )
    centre = org.create_unit(
        session, code="W-12345", name="W市12345中心", kind=UnitKind.DISPATCH_CENTRE, area=city
    )
    password = secrets.token_urlsafe(12)

    def user(name: str, role: Role, unit: Any) -> User:
        return org.create_user(
            session, username=name, display_name=name, password=password, role=role, unit=unit
        )

    dispatcher = user("dispatcher", Role.DISPATCHER, centre)
    batch = catalogue.create_batch(
        session,
        number="2026-01",
        author="基准测试",
        reason="基准测试清单",
        effective_at=datetime(2026, 1, 1, tzinfo=UTC),
        allow_backdated=True,
    )
    top = catalogue.add_item(session, batch=batch, code="W4", name="城市管理", parent=None)
    items: list[int] = []
    for b in range(bureaus):
        unit = org.create_unit(
            session,
            code=f"W1-B{b}",
            name=f"W1区第{b}局",
            kind=UnitKind.DISTRICT_DEPARTMENT,
            area=district,
        )
        item = catalogue.add_item(session, batch=batch, code=f"W40{b}", name=f"事项{b}", parent=top)
        catalogue.add_responsibility(
            session, batch=batch, item=item, area=district, lead_unit_id=unit.id
        )
        catalogue.add_implementation(
            session, batch=batch, item=item, unit_id=unit.id, completion_days=5
        )
        user(f"handler-{b}", Role.HANDLER, unit)
        user(f"leader-{b}", Role.LEADER, unit)
        items.append(item.id)
    session.flush()
    return City(grid.id, dispatcher.id, items)


def make_tickets(engine: Engine, city: City, n: int) -> list[int]:
    """`n` tickets opened and dispatched through the ticket service, 200 per transaction."""
    ids: list[int] = []
    t0 = time.perf_counter()
    with Session(engine) as session:
        dispatcher = session.get(User, city.dispatcher_id)
        assert dispatcher is not None
        for i in range(n):
            at = START + (LATE if i >= n // 2 else timedelta())
            requester = Requester(
                kind="person",
                name="王小明",
                phone=f"139{i:08d}",
                phone_last4=f"{i % 10_000:04d}",
                created_at=at,
            )
            session.add(requester)
            session.flush()
            new = tickets.NewTicket(
                tracking_code=f"W{i:09d}",
                channel="hotline",
                appeal_type="complaint",
                title="夜间施工噪声",
                text="工地晚上十一点还在打桩，吵得孩子睡不着",
                dedupe_hash=f"w{i}",
                area_id=city.grid_id,
                requester_id=requester.id,
                item_id=city.items[i % len(city.items)],
            )
            system = Principal(session=session, system=True)
            ticket = tickets.open_ticket(
                session, new=new, principal=system, clock=FixedClock(at - timedelta(minutes=10))
            )
            tickets.act(
                session,
                ticket_id=ticket.id,
                action=Action.DISPATCH,
                principal=Principal(session=session, user=dispatcher),
                reason="按清单派单",
                clock=FixedClock(at),
            )
            ids.append(ticket.id)
            if i % 200 == 199:
                session.commit()
            if i % 2_000 == 1_999:
                print(f"… {i + 1:,} tickets ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        session.commit()
    return ids


def counts(session: Session) -> dict[str, Any]:
    events = session.execute(
        select(TicketEvent.action, func.count())
        .where(TicketEvent.action.in_(NOTE_KINDS))
        .group_by(TicketEvent.action)
    ).all()
    outbox = session.execute(
        select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.channel, OutboxMessage.status
        )
    ).all()
    states = session.execute(select(SlaTimer.state, func.count()).group_by(SlaTimer.state)).all()
    return {
        "cards": session.scalar(select(func.count()).select_from(Card)) or 0,
        "notes": {a: c for a, c in events},
        "audit_entries": session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action != PROBE)
        )
        or 0,
        "outbox": {f"{ch}/{st}": c for ch, st, c in outbox},
        "timer_states": {s: c for s, c in states},
    }


def delta(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in after.items():
        if isinstance(value, dict):
            out[key] = {k: v - before[key].get(k, 0) for k, v in value.items()}
            out[key] = {k: v for k, v in out[key].items() if v}
        else:
            out[key] = value - before[key]
    return out


@contextlib.contextmanager
def statements(engine: Engine) -> Iterator[Counter[str]]:
    """The SQL statements `engine` sends meanwhile, by their first word: each is a round
    trip, and their number does not depend on how busy the machine is."""
    sent: Counter[str] = Counter()

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        sent[statement.split(None, 1)[0].upper()] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", count)


def probe(url: str, stop: threading.Event, waits: list[float]) -> None:
    """What any audited change (an appeal received, a ticket action) waits for while the
    worker fires: one audit entry every 100 ms, each in its own transaction."""
    engine = make_engine(url)
    while not stop.is_set():
        t0 = time.perf_counter()
        with Session(engine) as session:
            audit.record(session, actor="bench", action=PROBE, object_type="bench", object_id=0)
            session.commit()
        waits.append((time.perf_counter() - t0) * 1000)
        stop.wait(0.1)
    engine.dispose()


def fire(engine: Engine, url: str, n: int, time_limit: float) -> dict[str, Any]:
    with Session(engine) as session:
        before = counts(session)
    passes: list[float] = []
    fired = Counter[str]()
    waits: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=probe, args=(url, stop, waits), daemon=True)
    meter = Meter(url)
    prober.start()
    deadline = time.monotonic() + time_limit
    with statements(engine) as sent:
        while time.monotonic() < deadline:
            t0 = time.perf_counter()
            with Session(engine) as session:
                report = tasks.fire_due(session, now=FIRE_AT, limit=FIRE_BATCH)
                session.commit()
            if not report.claimed:
                break
            passes.append((time.perf_counter() - t0) * 1000)
            fired.update(
                claimed=report.claimed,
                warnings=report.warnings,
                cards=report.cards,
                escalations=report.escalations,
            )
    cpu = meter.stop()
    stop.set()
    prober.join()
    with Session(engine) as session:
        created = delta(counts(session), before)
    seconds = cpu["seconds"]
    return {
        "timers_due": n,
        "audit_probe": summary(waits),
        "fired": dict(fired),
        "batches": len(passes),
        "batch_ms": summary(passes) if passes else {},
        "batch_ms_each": [round(ms) for ms in passes],
        "seconds": seconds,
        "timers_per_s": round(fired["claimed"] / seconds, 1),
        "statements_per_timer": round(sum(sent.values()) / max(1, fired["claimed"]), 1),
        "statements": dict(sent),
        "created": created,
        "cpu": cpu,
        "target_s": 30,
    }


# --- 3. the outbox --------------------------------------------------------------------------


class GatewayHandler(BaseHTTPRequestHandler):
    """docs/notify-gateway.md: one message id is sent once; a repeat is answered 409."""

    protocol_version = "HTTP/1.1"  # keep-alive: GatewaySender's client reuses its connection
    token = ""
    delay = 0.0  # seconds before each answer: a remote gateway's round trip
    seen: Counter[int] = Counter()  # noqa: RUF012 (one gateway per process)
    problems: Counter[str] = Counter()  # noqa: RUF012
    lock = threading.Lock()

    def setup(self) -> None:
        super().setup()
        # As a real gateway's server does: a small answer must not wait for the client's
        # delayed ACK of the last one (Nagle), which would add 40 ms to every message.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Authorization") != f"Bearer {self.token}":
            with self.lock:
                self.problems["unauthorised"] += 1
            self._answer(401, {"accepted": False})
            return
        body = json.loads(raw)
        mid = int(body["message_id"])
        with self.lock:
            self.seen[mid] += 1
            first = self.seen[mid] == 1
            if self.headers.get("Idempotency-Key") != str(mid):
                self.problems["idempotency_key_mismatch"] += 1
            if not body.get("to") or not body.get("text"):
                self.problems["no_number_or_text"] += 1
        if self.delay:
            time.sleep(self.delay)
        self._answer(200 if first else 409, {"accepted": True, "provider_id": f"gw-{mid}"})

    def do_GET(self) -> None:
        with self.lock:
            ids = {str(k): v for k, v in self.seen.items()}
            self._answer(200, {"requests": sum(self.seen.values()), "ids": ids, **self.problems})

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve_gateway(port: int, token: str, delay: float) -> None:
    GatewayHandler.token, GatewayHandler.delay = token, delay
    server = ThreadingHTTPServer(("127.0.0.1", port), GatewayHandler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


@dataclass
class Gateway:
    url: str
    token: str
    process: subprocess.Popen[str]

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(self.url, timeout=30, trust_env=False).json()
        return data


def start_gateway(delay_ms: float) -> Gateway:
    port, token = free_port(), secrets.token_urlsafe(16)
    cmd = [sys.executable, __file__, "--serve-gateway", str(port), "--gateway-token", token]
    cmd += ["--gateway-delay-ms", str(delay_ms)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise SystemExit("the local gateway did not start")
    return Gateway(f"http://127.0.0.1:{port}/send", token, process)


def drain(engine: Engine, settings: Settings, now: datetime, limit: float) -> tuple[int, int]:
    """deliver_once and a commit, as the worker does, until a pass picks nothing:
    (messages picked, passes)."""
    picked = passes = 0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with Session(engine) as session:
            report = deliver_once(session, settings, now=now, trust_env=False)
            session.commit()
        if not report.picked:
            break
        picked += report.picked
        passes += 1
        if report.retrying or report.dead:
            print(f"retrying {report.retrying}, dead {report.dead}", file=sys.stderr)
    return picked, passes


def outbox(
    engine: Engine, url: str, ticket_ids: list[int], args: argparse.Namespace
) -> dict[str, Any]:
    m, time_limit = args.messages, args.time_limit
    gateway = start_gateway(args.gateway_delay_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="minyi-bench-sla-") as tmp:
            settings = Settings(
                database_url=url,
                sms_gateway_url=gateway.url,
                sms_gateway_token=gateway.token,
                notify_log_path=Path(tmp) / "notify.log",
            )
            with Session(engine) as session:
                backlog_before = counts(session)["outbox"]
            meter = Meter(url, gateway.process.pid)
            backlog, _ = drain(engine, settings, FIRE_AT + WINDOW, time_limit)
            backlog_cpu = meter.stop()
            with Session(engine) as session:
                backlog_after = counts(session)["outbox"]
            backlog_sent = {
                k: v - backlog_before.get(k, 0)
                for k, v in backlog_after.items()
                if v > backlog_before.get(k, 0) and not k.endswith("/pending")
            }

            queued_at = FIRE_AT + 2 * WINDOW
            codes = itertools.cycle(("citizen.contacted", "citizen.replied", "citizen.rate"))
            t0 = time.perf_counter()
            with Session(engine) as session:
                queued: list[int] = []
                for k in range(m):
                    tid = ticket_ids[k % len(ticket_ids)]
                    message = notify.notify_template(
                        session,
                        channel=Channel.SMS,
                        target=notify.requester_target(tid),
                        code=next(codes),
                        params={
                            "tracking_code": f"W{tid:09d}",
                            "unit": "W1区第1局",
                            "reply": "经现场核查，施工单位已停止夜间作业。",
                        },
                        event_type="bench.sms",
                        ticket_id=tid,
                        now=queued_at,
                    )
                    queued.append(message.id)
                session.commit()
            queue_s = time.perf_counter() - t0
            seen_before = gateway.stats()
            meter = Meter(url, gateway.process.pid)
            with statements(engine) as sent:
                picked, passes = drain(engine, settings, queued_at, time_limit)
            cpu = meter.stop()
            seen = gateway.stats()
            with Session(engine) as session:
                rows = session.execute(
                    select(OutboxMessage.status, func.count())
                    .where(OutboxMessage.event_type == "bench.sms")
                    .group_by(OutboxMessage.status)
                ).all()
                with_provider = session.scalar(
                    select(func.count())
                    .select_from(OutboxMessage)
                    .where(
                        OutboxMessage.event_type == "bench.sms",
                        OutboxMessage.provider_id == func.concat("gw-", OutboxMessage.id),
                    )
                )
    finally:
        gateway.process.terminate()
        gateway.process.wait(timeout=10)
    ids = seen["ids"]
    received = [ids.get(str(i), 0) for i in queued]
    seconds = cpu["seconds"]
    return {
        "backlog": {
            "messages": backlog,
            "by_channel": backlog_sent,
            "seconds": backlog_cpu["seconds"],
            "messages_per_s": round(backlog / backlog_cpu["seconds"], 1) if backlog else 0,
            "cpu": backlog_cpu,
        },
        "gateway_delay_ms": args.gateway_delay_ms,
        "queued": m,
        "queue_s": round(queue_s, 1),
        "picked": picked,
        "deliver_once_calls": passes,
        "seconds": seconds,
        "messages_per_s": round(picked / seconds, 1),
        "statements_per_message": round(sum(sent.values()) / max(1, picked), 2),
        "statements": dict(sent),
        "outbox_status": {s: c for s, c in rows},
        "provider_id_kept": with_provider,
        "gateway": {
            "requests": seen["requests"] - seen_before["requests"],
            "received_once": sum(1 for c in received if c == 1),
            "received_twice_or_more": sum(1 for c in received if c > 1),
            "never_received": sum(1 for c in received if c == 0),
            "problems": {k: v for k, v in seen.items() if k not in ("requests", "ids")},
        },
        "cpu": cpu,
        "target_s": 30,
    }


def worker_phases(args: argparse.Namespace) -> dict[str, Any]:
    catalogue.get_index().clear()  # the lists of this database only
    calendar_service.clear_cache()
    with scratch_postgresql(args.pg_url) as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            with Session(engine) as session:
                city = make_city(session)
                session.commit()
            t0 = time.perf_counter()
            ids = make_tickets(engine, city, args.timers)
            made = {"tickets": len(ids), "seconds": round(time.perf_counter() - t0, 1)}
            out: dict[str, Any] = {"setup": made}
            out["fire"] = fire(engine, url, len(ids), args.time_limit)
            if args.messages:
                out["outbox"] = outbox(engine, url, ids, args)
        finally:
            engine.dispose()
    return out


# --- report ---------------------------------------------------------------------------------


def cpu_line(cpu: dict[str, float]) -> str:
    return (
        f"    cpu s: bench {cpu['bench_cpu_s']}, postgres {cpu['db_cpu_s']}, gateway "
        f"{cpu['gateway_cpu_s']}; machine busy {cpu['machine_busy_pct']} %, others "
        f"{cpu['others_cores']} cores"
    )


def report(out: dict[str, Any], full_plans: bool) -> None:
    lk = out.get("lookup")
    if lk:
        print(
            f"1. due look-up: {lk['tickets_open']:,} open tickets, {lk['timers']:,} timers "
            f"({lk['timers_running']:,} running, {lk['timers_suspended']:,} suspended); "
            f"fill {lk['fill_s']} s"
        )
        print(f"   due within a minute of {lk['at']}: {lk['due_within_minute']:,}")
        c, n = lk["claim"], lk["count"]
        print(
            f"   _claim(limit {CLAIM_LIMIT}, FOR UPDATE SKIP LOCKED): {lk['claimed']} rows, "
            f"p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms, max {c['max_ms']} ms "
            f"({c['runs']} runs; first {lk['first_run']['claim_ms']} ms)  target ≤ 100 ms"
        )
        print(
            f"   count due in the minute: p50 {n['p50_ms']} ms, p99 {n['p99_ms']} ms, "
            f"max {n['max_ms']} ms (first {lk['first_run']['count_ms']} ms)"
        )
        for name, plan in zip(("claim", "count"), lk["plans"], strict=False):
            print(f"   plan {name}: {plan['top']}")
            print(
                f"     indexes {', '.join(plan['indexes']) or 'none'}; timers estimated "
                f"{plan['sla_timer_rows_estimated']:,}, read {plan['sla_timer_rows_actual']:,}; "
                f"JIT {'on' if plan['jit'] else 'off'}; {plan['execution']}"
            )
        print(cpu_line(lk["cpu"]))
        if full_plans:
            for plan in lk["plans_full"]:
                print("\n" + plan + "\n")
    setup = out.get("worker", {}).get("setup")
    if setup:
        print(
            f"2. firing: {setup['tickets']:,} tickets opened and dispatched through the "
            f"services in {setup['seconds']} s"
        )
        f = out["worker"]["fire"]
        print(
            f"   fire_due(limit {FIRE_BATCH}) + commit: {f['fired'].get('claimed', 0):,} timers "
            f"in {f['seconds']} s = {f['timers_per_s']}/s ({f['batches']} batches, p50 "
            f"{f['batch_ms'].get('p50_ms')} ms each)  target ≤ 30 s"
        )
        print(f"   fired: {f['fired']}; each batch (ms): {f['batch_ms_each']}")
        print(f"   SQL statements: {f['statements_per_timer']} a timer {f['statements']}")
        cr = f["created"]
        print(
            f"   created: cards {cr['cards']}, notes {cr['notes']}, audit entries "
            f"{cr['audit_entries']}, outbox {cr['outbox']}"
        )
        print(f"   timer states changed: {cr['timer_states']}")
        a = f["audit_probe"]
        print(
            f"   an audited change meanwhile (one every 100 ms) waited p50 {a['p50_ms']} ms, "
            f"p99 {a['p99_ms']} ms, max {a['max_ms']} ms ({a['runs']} changes)"
        )
        print(cpu_line(f["cpu"]))
    o = out.get("worker", {}).get("outbox")
    if o:
        b = o["backlog"]
        print(
            f"3. outbox: backlog from the dispatches and firing: {b['messages']:,} messages "
            f"{b['by_channel']} in {b['seconds']} s = {b['messages_per_s']}/s"
        )
        print(
            f"   {o['queued']:,} SMS queued in {o['queue_s']} s; deliver_once + commit: "
            f"{o['picked']:,} sent in {o['seconds']} s = {o['messages_per_s']}/s "
            f"({o['deliver_once_calls']} calls; gateway answers after "
            f"{o['gateway_delay_ms']} ms)  target ≤ 30 s"
        )
        print(f"   SQL statements: {o['statements_per_message']} a message {o['statements']}")
        g = o["gateway"]
        print(
            f"   gateway: {g['requests']:,} requests, {g['received_once']:,} ids once, "
            f"{g['received_twice_or_more']} twice or more, {g['never_received']} never; "
            f"problems {g['problems'] or 'none'}; outbox {o['outbox_status']}, "
            f"provider ids kept {o['provider_id_kept']:,}"
        )
        print(cpu_line(o["cpu"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="admin URL to create DBs from")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--due-now", type=int, default=3_000, help="reply clocks due in 1 min")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--gateway-delay-ms", type=float, default=0.0, help="the gateway's time to answer"
    )
    parser.add_argument("--time-limit", type=float, default=900, help="per firing/sending loop")
    parser.add_argument("--skip-lookup", action="store_true")
    parser.add_argument("--skip-worker", action="store_true", help="no firing, no outbox")
    parser.add_argument("--explain", action="store_true", help="print the whole plans")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the filled database")
    parser.add_argument("--reuse", metavar="URL", help="time on a database kept by --keep")
    parser.add_argument("--serve-gateway", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--gateway-token", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_gateway:
        serve_gateway(args.serve_gateway, args.gateway_token, args.gateway_delay_ms / 1000)
        return
    out: dict[str, Any] = {}
    if not args.skip_lookup:
        out["lookup"] = lookup(args)
    if not args.skip_worker:
        out["worker"] = worker_phases(args)
    if args.json:
        if "lookup" in out and not args.explain:
            del out["lookup"]["plans_full"]
        print(json.dumps(out, ensure_ascii=False))
    else:
        report(out, args.explain)


if __name__ == "__main__":
    main()
