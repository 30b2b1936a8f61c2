"""Page 1 of a unit's open tickets with 1,000,000 tickets stored, as a handler sees it.

Run: `.venv/bin/python benchmarks/listing.py [--databases postgresql,sqlite]
[--tickets 1000000] [--runs 200] [--explain] [--json]`

For each database: a scratch database (PostgreSQL: created here and dropped afterwards;
SQLite: a file in a temporary folder), `alembic upgrade head`, a city of 9 districts and
100 units made through the org service, then `--tickets` tickets written in bulk (COPY on
PostgreSQL, batched executemany INSERTs on SQLite; never through the ticket service): spread over 90
days, units chosen with a skew (weight 1/sqrt(rank)) so some units are much busier than
others, about 15 % open (recent tickets more often), about 10 % with a co-unit
(`ticket_co_unit`) and 1 % still at the centre. The texts are real messages (train.csv and
test.csv of shared/data/appeals, read at run time, never printed), so rows have a real width.
Then VACUUM ANALYZE and, for a handler of the busiest, the median and the quietest unit:

- in process: `tickets.queries.list_tickets` exactly as `GET /api/v1/tickets?open_only=true`
  calls it (visibility filter for a handler, `total` counted, newest first), a fresh session
  per call, `--runs` times for limit 20 and limit 50;
- over HTTP: a real `minyi serve` process and `GET /api/v1/tickets?open_only=true&limit=N`
  with the handler's bearer token.

`--explain` prints the plans of the statements (EXPLAIN ANALYZE, BUFFERS on PostgreSQL;
EXPLAIN QUERY PLAN on SQLite).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import Engine, event, func, select, text
from sqlalchemy.orm import Session

from minyi.core.db import make_engine
from minyi.core.migrate import upgrade
from minyi.org import service as org
from minyi.org.domain import AreaLevel, Role, UnitKind
from minyi.org.models import Unit, User
from minyi.tickets import queries
from minyi.tickets.access import Principal
from minyi.tickets.models import Ticket, TicketCoUnit

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_DATA = Path(os.environ.get("MINYI_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SEED = 2026
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
DAYS = 90
N_UNITS = 100
OPEN = (
    ["dispatched"] * 2
    + ["accepted"] * 3
    + ["contacted"] * 3
    + ["in_progress"] * 6
    + ["suspended", "replied", "reply_review", "awaiting_rating", "reopened", "supervised"]
)
CLOSED = ["closed"] * 16 + ["answered", "withdrawn", "merged", "invalid"]
AT_CENTRE = ["received", "pending_dispatch", "returned"]
CHANNELS = ["hotline"] * 6 + ["app"] * 3 + ["web", "window", "grid_worker"]
TYPES = ["complaint"] * 4 + ["request"] * 3 + ["consultation"] * 2 + ["suggestion", "report"]
PASSWORD = "bench-password-42"

# Columns written in bulk: every NOT NULL one and those the listing reads.
COLUMNS = (
    "id",
    "tracking_code",
    "channel",
    "appeal_type",
    "title",
    "text",
    "area_id",
    "district_id",
    "requester_kind",
    "anonymous",
    "dedupe_hash",
    "urgency",
    "status",
    "is_open",
    "version",
    "lead_unit_id",
    "ruled",
    "first_handler",
    "ruling_requested",
    "returns_by_unit",
    "contacted",
    "redo_count",
    "extension_pending",
    "suspension_pending",
    "chase_count",
    "consultation_unit_ids",
    "excluded_from_assessment",
    "routing",
    "received_at",
    "updated_at",
    "dispatched_at",
    "closed_at",
)
CO_COLUMNS = ("ticket_id", "unit_id", "summoned", "added_at", "excused")


def load_texts(folder: Path, limit: int = 5_000) -> list[tuple[str, str]]:
    texts: list[tuple[str, str]] = []
    for name in ("train.csv", "test.csv"):
        with (folder / "appeals" / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                body = (row.get("body") or "").strip()
                if body:
                    texts.append(((row.get("title") or "")[:200] or body[:30], body[:10_000]))
    return texts[:limit]


# --- the data ------------------------------------------------------------------------------


def make_org(session: Session) -> tuple[list[int], dict[int, int]]:
    """9 districts, 100 units (district departments and street offices); unit → district."""
    city = org.create_area(session, code="B", name="B市", level=AreaLevel.CITY)
    districts = [
        org.create_area(
            session, code=f"B{d}", name=f"B{d}区", level=AreaLevel.DISTRICT, parent=city
        )
        for d in range(9)
    ]
    units, district_of = [], {}
    for u in range(N_UNITS):
        district = districts[u % 9]
        unit = org.create_unit(
            session,
            code=f"U{u:03d}",
            name=f"单位{u:03d}",
            kind=UnitKind.DISTRICT_DEPARTMENT,
            area=district,
        )
        units.append(unit.id)
        district_of[unit.id] = district.id
    session.flush()
    return units, district_of


def ticket_rows(
    n: int, units: list[int], district_of: dict[int, int], texts: list[tuple[str, str]]
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...] | None]]:
    """(ticket row, co-unit row or None), deterministic for a given n."""
    rng = random.Random(SEED)
    weights = [1 / (rank + 1) ** 0.5 for rank in range(len(units))]
    unit_choices = rng.choices(units, weights=weights, k=n)
    for i in range(n):
        tid = i + 1
        at_centre = rng.random() < 0.01
        # Tickets wait at the centre for hours, not weeks.
        age = rng.random() * (0.5 if at_centre else DAYS)
        received = NOW - timedelta(days=age)
        title, body = texts[i % len(texts)]
        co = None
        if at_centre:
            status, unit, district = rng.choice(AT_CENTRE), None, None
        else:
            unit = unit_choices[i]
            district = district_of[unit]
            # Recent tickets are open more often: about 15 % open in all.
            is_open = rng.random() < 0.85 * 2.718281828 ** (-age / 16)
            status = rng.choice(OPEN if is_open else CLOSED)
            if rng.random() < 0.105:
                other = rng.choice(units)
                if other != unit:
                    co = (tid, other, False, received + timedelta(hours=1), False)
        open_ = status not in CLOSED
        row = (
            tid,
            f"B{tid:09d}",
            rng.choice(CHANNELS),
            rng.choice(TYPES),
            title,
            body,
            district,
            district,
            "person",
            False,
            f"{tid:064x}",
            "ordinary",
            status,
            open_,
            1,
            unit,
            False,
            False,
            False,
            "{}",
            False,
            0,
            False,
            False,
            0,
            "[]",
            False,
            "{}",
            received,
            received + timedelta(hours=2),
            received + timedelta(hours=1) if unit is not None else None,
            None if open_ else received + timedelta(days=3),
        )
        yield row, co


def fill_postgresql(
    engine: Engine, n: int, units: list[int], district_of: dict[int, int], texts: Any
) -> None:
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        co_rows = []
        with raw.cursor() as cur:
            with cur.copy(f"COPY ticket ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row, co in ticket_rows(n, units, district_of, texts):
                    copy.write_row(row)
                    if co is not None:
                        co_rows.append(co)
            with cur.copy(f"COPY ticket_co_unit ({', '.join(CO_COLUMNS)}) FROM STDIN") as copy:
                for co in co_rows:
                    copy.write_row(co)
            cur.execute("SELECT setval(pg_get_serial_sequence('ticket', 'id'), %s)", (n,))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE ticket"))
        conn.execute(text("VACUUM ANALYZE ticket_co_unit"))


def fill_sqlite(
    engine: Engine, n: int, units: list[int], district_of: dict[int, int], texts: Any
) -> None:
    # Column types need Python values the SQLite driver takes: JSON stays text.
    ticket_sql = (
        f"INSERT INTO ticket ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    )
    co_sql = f"INSERT INTO ticket_co_unit ({', '.join(CO_COLUMNS)}) VALUES (?, ?, ?, ?, ?)"

    def stamp(v: Any) -> Any:
        # UTCDateTime on SQLite stores naive UTC text.
        return v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v

    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        batch, co_batch = [], []
        for row, co in ticket_rows(n, units, district_of, texts):
            batch.append(tuple(stamp(v) for v in row))
            if co is not None:
                co_batch.append(tuple(stamp(v) for v in co))
            if len(batch) >= 10_000:
                raw.executemany(ticket_sql, batch)
                batch = []
        raw.executemany(ticket_sql, batch)
        raw.executemany(co_sql, co_batch)
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


# --- timing --------------------------------------------------------------------------------


def summary(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {
        "p50_ms": round(statistics.median(s), 2),
        "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))], 2),
        "max_ms": round(s[-1], 2),
    }


def time_in_process(engine: Engine, user_id: int, limit: int, runs: int) -> dict[str, Any]:
    samples, total, rows = [], 0, 0
    filters = queries.TicketFilter(open_only=True)
    for _ in range(runs + 5):
        with Session(engine) as session:
            t0 = time.perf_counter()
            user = session.get(User, user_id)
            principal = Principal(session=session, user=user)
            found, count = queries.list_tickets(
                session, principal=principal, filters=filters, now=NOW, limit=limit
            )
            samples.append((time.perf_counter() - t0) * 1000)
            total, rows = count or 0, len(found)
    return {"limit": limit, "rows": rows, "total": total, **summary(samples[5:])}


def explain(engine: Engine, user_id: int, limit: int) -> list[str]:
    captured: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM ticket" in statement:
            captured.append((statement, params))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        with Session(engine) as session:
            principal = Principal(session=session, user=session.get(User, user_id))
            queries.list_tickets(
                session,
                principal=principal,
                filters=queries.TicketFilter(open_only=True),
                now=NOW,
                limit=limit,
            )
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    pg = engine.dialect.name == "postgresql"
    plans = []
    with engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, params in captured:
            cur = raw.cursor()
            cur.execute(
                ("EXPLAIN (ANALYZE, BUFFERS) " if pg else "EXPLAIN QUERY PLAN ") + statement, params
            )
            lines = [str(r[0] if pg else r[-1]) for r in cur.fetchall()]
            cur.close()
            plans.append(statement + "\n" + "\n".join(lines))
    return plans


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_http(
    url: str,
    tokens: list[tuple[str, str]],
    limits: list[int],
    runs: int,
    tmp: Path,
    use_serve: bool = True,
) -> dict[str, list[dict[str, Any]]]:
    env = {**os.environ, "MINYI_DATABASE_URL": url, "MINYI_FILES_DIR": str(tmp / "files")}
    port = free_port()
    cmd = [str(BIN / "minyi"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    if not use_serve:  # the same app and options as `minyi serve`
        cmd = [str(BIN / "python"), "-m", "uvicorn", "minyi.api.main:app", *cmd[2:]]
    out: dict[str, list[dict[str, Any]]] = {}
    with (tmp / "server.log").open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            for label, token in tokens:
                out[label] = []
                headers = {"Authorization": f"Bearer {token}"}
                with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                    for limit in limits:
                        samples, errors, total = [], 0, 0
                        params = {"open_only": "true", "limit": str(limit)}
                        for _ in range(runs + 5):
                            t0 = time.perf_counter()
                            r = client.get("/api/v1/tickets", params=params)
                            samples.append((time.perf_counter() - t0) * 1000)
                            if r.status_code != 200:
                                errors += 1
                            else:
                                total = r.json()["total"]
                        out[label].append(
                            {
                                "limit": limit,
                                "total": total,
                                "errors": errors,
                                **summary(samples[5:]),
                            }
                        )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return out


# --- main ----------------------------------------------------------------------------------


@contextlib.contextmanager
def database(kind: str, pg_admin: str, tmp: Path, keep: bool) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'listing.sqlite3'}"
        return
    name = f"minyi_bench_{uuid.uuid4().hex[:10]}"
    conninfo = pg_admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = pg_admin.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if keep:
            print(f"kept: {url}", file=sys.stderr)
        else:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, n: int, texts: list[tuple[str, str]]) -> dict[str, Any]:
    """Migrate and fill an empty database, or take one filled before (`--reuse`)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            try:
                filled = session.scalar(select(func.count()).select_from(Ticket)) or 0
            except Exception:
                session.rollback()
                filled = 0
        fill_s = 0.0
        if not filled:
            upgrade(engine)
            with Session(engine) as session:
                units, district_of = make_org(session)
                session.commit()
            t0 = time.perf_counter()
            if engine.dialect.name == "postgresql":
                fill_postgresql(engine, n, units, district_of, texts)
            else:
                fill_sqlite(engine, n, units, district_of, texts)
            fill_s = time.perf_counter() - t0
        with Session(engine) as session:
            facts = {
                "tickets": session.scalar(select(func.count()).select_from(Ticket)),
                "open": session.scalar(
                    select(func.count()).select_from(Ticket).where(Ticket.is_open.is_(True))
                ),
                "co_unit_rows": session.scalar(select(func.count()).select_from(TicketCoUnit)),
                "fill_s": round(fill_s, 1),
                "units": [unit_facts(session, unit_id, label) for label, unit_id in pick(session)],
            }
            session.commit()
        return facts
    finally:
        engine.dispose()


def pick(session: Session) -> list[tuple[str, int]]:
    """The busiest, the median and the quietest unit by open tickets they lead."""
    open_leads = dict(
        session.execute(
            select(Ticket.lead_unit_id, func.count())
            .where(Ticket.is_open.is_(True), Ticket.lead_unit_id.is_not(None))
            .group_by(Ticket.lead_unit_id)
        ).all()
    )
    units = sorted(
        session.scalars(select(Unit.id).where(Unit.code.like("U%"))),
        key=lambda u: (-open_leads.get(u, 0), u),
    )
    return [("busiest", units[0]), ("median", units[len(units) // 2]), ("quietest", units[-1])]


def unit_facts(session: Session, unit_id: int, label: str) -> dict[str, Any]:
    """A handler of the unit (made once) with a fresh token, and what the unit holds."""
    username = f"bench-handler-{unit_id}"
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        unit = org.get_unit(session, unit_id)
        assert unit is not None
        user = org.create_user(
            session,
            username=username,
            display_name="bench",
            password=PASSWORD,
            role=Role.HANDLER,
            unit=unit,
        )
    count = select(func.count()).select_from(Ticket)
    return {
        "label": label,
        "unit_id": unit_id,
        "leads": session.scalar(count.where(Ticket.lead_unit_id == unit_id)),
        "open_leads": session.scalar(
            count.where(Ticket.lead_unit_id == unit_id, Ticket.is_open.is_(True))
        ),
        "co_rows": session.scalar(
            select(func.count()).select_from(TicketCoUnit).where(TicketCoUnit.unit_id == unit_id)
        ),
        "user_id": user.id,
        "token": org.issue_token(session, user=user, ttl=timedelta(hours=2)),
    }


def apply_settings(url: str, settings: list[str]) -> dict[str, str]:
    """`name=value` for this database's new sessions (ALTER DATABASE … SET), or reset."""
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            name = conn.scalar(text("SELECT current_database()"))
            conn.execute(text(f'ALTER DATABASE "{name}" RESET ALL'))
            for setting in settings:
                key, value = setting.split("=", 1)
                if not key.replace("_", "").isalnum() or not value.replace(".", "").isalnum():
                    raise SystemExit(f"not a plain setting: {setting}")
                conn.execute(text(f"ALTER DATABASE \"{name}\" SET {key} = '{value}'"))
    finally:
        engine.dispose()
    return dict(s.split("=", 1) for s in settings)


def run_one(kind: str, args: argparse.Namespace, texts: list[tuple[str, str]]) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="minyi-listing-")))
        if args.reuse and kind == "postgresql":
            url = args.reuse
        else:
            url = stack.enter_context(database(kind, args.pg_url, tmp, args.keep))
        facts = prepare(url, args.tickets, texts)
        if kind == "postgresql":
            facts["settings"] = apply_settings(url, args.pg_setting)
        engine = make_engine(url)
        try:
            for unit in facts["units"]:
                unit["in_process"] = [
                    time_in_process(engine, unit["user_id"], lim, args.runs) for lim in (20, 50)
                ]
                unit["plans"] = explain(engine, unit["user_id"], 50) if args.explain else []
        finally:
            engine.dispose()
        tokens = [(u["label"], u.pop("token")) for u in facts["units"]]
        http = time_http(url, tokens, [20, 50], args.runs, tmp, args.server == "serve")
        for unit in facts["units"]:
            unit["http"] = http[unit["label"]]
    return {"database": kind, **facts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="an admin URL to create DBs from")
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--reuse", help="a PostgreSQL URL filled by an earlier --keep run")
    parser.add_argument(
        "--pg-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting for the database, e.g. random_page_cost=1.1 (repeatable)",
    )
    parser.add_argument(
        "--server",
        choices=("serve", "uvicorn"),
        default="serve",
        help="`minyi serve`, or uvicorn with the same app and options",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    texts = load_texts(args.data)
    results = [run_one(kind.strip(), args, texts) for kind in args.databases.split(",")]
    if args.json:
        print(json.dumps(results))
        return
    print(f"listing benchmark: GET /api/v1/tickets?open_only=true as a handler, {args.runs} runs")
    for r in results:
        print(
            f"{r['database']}: {r['tickets']:,} tickets ({r['open']:,} open, "
            f"{r['co_unit_rows']:,} co-unit rows)"
            + (f", filled in {r['fill_s']} s" if r["fill_s"] else "")
            + (f"; settings {r['settings']}" if r.get("settings") else "")
        )
        for u in r["units"]:
            print(
                f"  {u['label']} unit {u['unit_id']}: leads {u['leads']:,} "
                f"({u['open_leads']:,} open), co-unit on {u['co_rows']:,}"
            )
            for where in ("in_process", "http"):
                for t in u[where]:
                    print(
                        f"    {where:<10} limit {t['limit']:>3}: p50 {t['p50_ms']:7.2f} ms  "
                        f"p99 {t['p99_ms']:7.2f} ms  max {t['max_ms']:7.2f} ms  "
                        f"(total {t['total']:,}"
                        + (f", {t['errors']} errors)" if "errors" in t else ")")
                    )
            for plan in u["plans"]:
                print(textwrap.indent(plan, "      "))
    print("target: page 1 of a unit's open tickets <= 50 ms")


if __name__ == "__main__":
    main()
