"""Intake through the HTTP API with real message texts, on SQLite and PostgreSQL in one run.

Run: `.venv/bin/python benchmarks/intake.py [--databases sqlite,postgresql] [--workers 1]
[--requests 3000] [--json]`

For each database: a fresh database (an SQLite file in a temporary folder, or a scratch
PostgreSQL database created here and dropped afterwards), `minyi migrate`, then a real
server process (`minyi serve`, or with `--workers N > 1` uvicorn itself with the same app,
`minyi.api.main:app`, since `serve` has no `--workers` option yet) on 127.0.0.1, driven from
this process with asyncio + httpx:

(a) saturation: `--concurrency` clients (32) each send the next appeal as soon as the last
    is answered, until `--requests` are done or `--time-limit` passes: appeals/s, errors;
(b) open loop: appeals sent at a constant `--rate` (100/s) for `--duration` (20 s) whatever
    the answers do; latency is counted from the moment a request was *due*, so a lagging
    server or client cannot hide queueing (no coordinated omission).

Every request is `POST /api/v1/appeals`, channel `web`, with the title and body of a real
message (train.csv and test.csv of shared/data/appeals, read at run time, never printed),
a serial number appended to the text and a distinct phone number, so that the ten-minute
duplicate rule does not fold them together. Anything but 201 counts as an error. The
load generator shares the machine's cores with the server: the CPU seconds each side used
are printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from minyi.core.db import make_engine
from minyi.core.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "appeals"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TYPES = ("complaint", "request", "consultation", "suggestion", "report")
MAX_TEXT = 9_900  # AppealCreate.text allows 10,000 characters; room for the serial


# --- the messages --------------------------------------------------------------------------


def load_messages(folder: Path) -> list[tuple[str, str]]:
    """(title, body) of every real message with a body, from train.csv and test.csv."""
    messages: list[tuple[str, str]] = []
    for name in ("train.csv", "test.csv"):
        with (folder / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                body = (row.get("body") or "").strip()
                if body:
                    messages.append(((row.get("title") or "").strip()[:200], body[:MAX_TEXT]))
    if not messages:
        raise SystemExit(f"no messages with a body in {folder}")
    return messages


class Appeals:
    """An endless supply of distinct appeals built from the real messages."""

    def __init__(self, messages: list[tuple[str, str]]) -> None:
        self.messages = messages
        self.serial = 0

    def next_body(self) -> bytes:
        n = self.serial
        self.serial += 1
        title, body = self.messages[n % len(self.messages)]
        data = {
            "channel": "web",
            "type": TYPES[n % len(TYPES)],
            "title": title or None,
            "text": f"{body}（编号{n}）",
            # A distinct, well-formed mobile number per appeal (139 + 8 digits).
            "requester": {"name": "市民", "phone": f"139{n % 100_000_000:08d}"},
        }
        return json.dumps(data, ensure_ascii=False).encode("utf-8")


# --- results -------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    sent: int = 0
    ok: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    per_second: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    max_send_lag_ms: float | None = None
    machine_busy_pct: float = 0.0
    server_cpu_s: float = 0.0
    db_cpu_s: float = 0.0
    others_cores: float = 0.0
    client_cpu_s: float = 0.0
    stopped_by_time_limit: bool = False


def pct(sorted_ms: list[float], p: float) -> float:
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, round(p / 100 * len(sorted_ms) + 0.5) - 1))
    return sorted_ms[k]


def finish(phase: Phase, latencies: list[float], statuses: Counter[str], seconds: float) -> None:
    phase.statuses = dict(sorted(statuses.items()))
    phase.ok = statuses.get("201", 0)
    phase.errors = phase.sent - phase.ok
    phase.seconds = round(seconds, 2)
    phase.per_second = round(phase.ok / seconds, 1) if seconds else 0.0
    lat = sorted(latencies)
    if lat:
        phase.p50_ms = round(statistics.median(lat), 1)
        phase.p95_ms = round(pct(lat, 95), 1)
        phase.p99_ms = round(pct(lat, 99), 1)
        phase.max_ms = round(lat[-1], 1)


# --- CPU accounting (Linux /proc) ----------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> Iterator[int]:
    yield pid
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            children = (task / "children").read_text().split()
            for child in children:
                yield from _tree(int(child))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (uvicorn's workers)."""
    total = 0
    for p in set(_tree(pid)):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / _TICK


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine: the server, PostgreSQL, the generator."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def busy_pct(before: tuple[int, int]) -> float:
    busy, total = machine_cpu()
    return round(100 * (busy - before[0]) / max(1, total - before[1]), 1)


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def proc_cpu(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    return 0.0


class Meter:
    """CPU seconds used during a phase by the server, the load generator, the database's
    own backends (PostgreSQL), and by anything else on the machine (other people's work)."""

    def __init__(self, pid: int, db_pids: Callable[[], list[int]]) -> None:
        self.pid, self.db_pids = pid, db_pids
        self.t0, self.m0 = time.perf_counter(), machine_cpu()
        self.s0, self.c0 = cpu_seconds(pid), own_cpu()
        self.p0 = {p: proc_cpu(p) for p in db_pids()}

    def stop(self, phase: Phase) -> None:
        elapsed = time.perf_counter() - self.t0
        server, client = cpu_seconds(self.pid) - self.s0, own_cpu() - self.c0
        database = sum(proc_cpu(p) - self.p0.get(p, 0.0) for p in self.db_pids())
        busy = (machine_cpu()[0] - self.m0[0]) / _TICK
        phase.server_cpu_s = round(server, 1)
        phase.client_cpu_s = round(client, 1)
        phase.db_cpu_s = round(database, 1)
        phase.machine_busy_pct = busy_pct(self.m0)
        phase.others_cores = round(max(0.0, busy - server - client - database) / elapsed, 2)


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def database(kind: str, pg_admin: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.sqlite3'}"
        return
    name = f"minyi_bench_{uuid.uuid4().hex[:10]}"
    conninfo = pg_admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_command(use_serve: bool, workers: int, port: int, extra: list[str]) -> list[str]:
    """`minyi serve`, or uvicorn with the same app and options (and `--workers`, and any
    further uvicorn options to try)."""
    if use_serve and workers == 1 and not extra:
        return [str(BIN / "minyi"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return [
        *(str(BIN / "python"), "-m", "uvicorn", "minyi.api.main:app"),
        *("--host", "127.0.0.1", "--port", str(port), "--log-level", "info"),
        *(("--workers", str(workers)) if workers > 1 else ()),
        *extra,
    ]


def describe(cmd: list[str]) -> str:
    """The server command as a person would type it, without host and port."""
    words = [Path(cmd[0]).name, *cmd[1:]]
    for flag in ("--host", "--port"):
        i = words.index(flag)
        del words[i : i + 2]
    return " ".join(words[2:] if words[:3] == ["python", "-m", "uvicorn"] else words)


@contextlib.contextmanager
def server(
    url: str, tmp: Path, workers: int, use_serve: bool, extra: list[str], log_path: Path
) -> Iterator[tuple[str, int]]:
    env = {
        **os.environ,
        "MINYI_DATABASE_URL": url,
        "MINYI_FILES_DIR": str(tmp / "files"),
    }
    engine = make_engine(url)
    upgrade(engine)  # what `minyi migrate` does
    engine.dispose()
    cmd = server_command(use_serve, workers, free_port(), extra)
    port = cmd[cmd.index("--port") + 1]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server stopped at start; see {log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not answer /healthz within 60 s")
                time.sleep(0.2)
            if workers > 1:
                # Every worker must be up before timing starts.
                for _ in range(workers * 20):
                    httpx.get(f"{base}/healthz", timeout=5)
            yield base, proc.pid
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


# --- the load ------------------------------------------------------------------------------

HEADERS = {"content-type": "application/json"}


async def _post(client: httpx.AsyncClient, body: bytes) -> str:
    try:
        r = await client.post("/api/v1/appeals", content=body, headers=HEADERS)
        return str(r.status_code)
    except httpx.HTTPError as exc:
        return type(exc).__name__


async def saturate(
    base: str,
    appeals: Appeals,
    n: int,
    concurrency: int,
    limit_s: float,
    meter: Callable[[], Meter],
) -> Phase:
    phase = Phase(f"saturation, {concurrency} clients")
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        metered = meter()
        t0 = time.perf_counter()
        deadline = t0 + limit_s

        async def one_client() -> None:
            while phase.sent < n:
                if time.perf_counter() > deadline:
                    phase.stopped_by_time_limit = True
                    return
                phase.sent += 1
                body = appeals.next_body()
                t = time.perf_counter()
                statuses[await _post(client, body)] += 1
                latencies.append((time.perf_counter() - t) * 1000)

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
        metered.stop(phase)
    finish(phase, latencies, statuses, seconds)
    return phase


async def open_loop(
    base: str, appeals: Appeals, rate: float, duration: float, meter: Callable[[], Meter]
) -> Phase:
    phase = Phase(f"open loop, {rate:g}/s for {duration:g} s")
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    lags: list[float] = []
    n = int(rate * duration)
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:

        async def one(due: float, body: bytes) -> None:
            lags.append((time.perf_counter() - due) * 1000)
            statuses[await _post(client, body)] += 1
            # From when it was due, not when it left: queueing anywhere counts.
            latencies.append((time.perf_counter() - due) * 1000)

        metered = meter()
        t0 = time.perf_counter()
        tasks = []
        for i in range(n):
            due = t0 + i / rate
            body = appeals.next_body()
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(due, body)))
            phase.sent += 1
        # Bounded: whatever is still unanswered 60 s after the last was sent is an error.
        _, pending = await asyncio.wait(tasks, timeout=60)
        for task in pending:
            task.cancel()
            statuses["unanswered"] += 1
            latencies.append(float("inf"))
        seconds = time.perf_counter() - t0
        metered.stop(phase)
    finish(phase, latencies, statuses, seconds)
    phase.per_second = round(phase.ok / seconds, 1)
    phase.max_send_lag_ms = round(max(lags), 1) if lags else None
    return phase


async def warm_up(base: str, appeals: Appeals, n: int) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for _ in range(n):
            await _post(client, appeals.next_body())


# --- main ----------------------------------------------------------------------------------


def backends(url: str) -> list[int]:
    """The PostgreSQL backend processes serving this database (the server's pool)."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def wait_quiet(limit_s: float) -> float:
    """Wait (at most `limit_s`) until the machine is under 25 % busy over 3 s; the share
    last seen. Others may share the machine: that is part of the result."""
    deadline = time.monotonic() + limit_s
    while True:
        before = machine_cpu()
        time.sleep(3)
        busy = busy_pct(before)
        if busy < 25 or time.monotonic() > deadline:
            return busy


def run_one(kind: str, args: argparse.Namespace, appeals: Appeals) -> dict[str, Any]:
    busy_before = wait_quiet(args.quiet_wait) if args.quiet_wait else None
    load_before = Path("/proc/loadavg").read_text().split()[0]
    with (
        tempfile.TemporaryDirectory(prefix="minyi-bench-") as tmpdir,
        database(kind, args.pg_url, Path(tmpdir)) as url,
    ):
        tmp = Path(tmpdir)
        log = tmp / "server.log"
        serve = args.server == "serve"
        with server(url, tmp, args.workers, serve, args.uvicorn_arg, log) as (base, pid):

            def meter() -> Meter:
                return Meter(pid, lambda: backends(url) if kind == "postgresql" else [])

            asyncio.run(warm_up(base, appeals, args.warmup))
            sat = asyncio.run(
                saturate(base, appeals, args.requests, args.concurrency, args.time_limit, meter)
            )
            time.sleep(1)
            steady = asyncio.run(open_loop(base, appeals, args.rate, args.duration, meter))
        if args.keep_log:
            args.keep_log.mkdir(parents=True, exist_ok=True)
            (args.keep_log / f"server-{kind}.log").write_bytes((tmp / "server.log").read_bytes())
    return {
        "database": kind,
        "workers": args.workers,
        "server": describe(server_command(serve, args.workers, 0, args.uvicorn_arg)),
        "load_average_before": load_before,
        "machine_busy_pct_before": busy_before,
        "phases": [asdict(sat), asdict(steady)],
    }


def print_table(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"intake benchmark: POST /api/v1/appeals, channel web, real texts "
        f"(train.csv + test.csv), {os.cpu_count()} cores shared by server and load generator"
    )
    head = (
        f"{'database':<11}{'workers':>7}  {'phase':<28}{'ok':>6}{'errors':>7}{'s':>7}"
        f"{'appeals/s':>10}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}"
        f"{'srv cpu s':>10}{'db cpu s':>9}{'gen cpu s':>10}{'others':>7}"
    )
    print(head)
    print("-" * len(head))
    for res in results:
        for ph in res["phases"]:
            print(
                f"{res['database']:<11}{res['workers']:>7}  {ph['name']:<28}{ph['ok']:>6}"
                f"{ph['errors']:>7}{ph['seconds']:>7.1f}{ph['per_second']:>10.1f}"
                f"{ph['p50_ms']:>8.1f}{ph['p95_ms']:>8.1f}{ph['p99_ms']:>8.1f}"
                f"{ph['max_ms']:>8.1f}{ph['server_cpu_s']:>10.1f}{ph['db_cpu_s']:>9.1f}"
                f"{ph['client_cpu_s']:>10.1f}{ph['others_cores']:>7.2f}"
            )
            if ph is res["phases"][0]:
                print(f"{'':<20}server: {res['server']}")
                print(
                    f"{'':<20}before this database: load average {res['load_average_before']}"
                    + (
                        f", machine {res['machine_busy_pct_before']} % busy"
                        if res["machine_busy_pct_before"] is not None
                        else ""
                    )
                )
            if ph["errors"]:
                print(f"{'':<20}statuses: {ph['statuses']}")
            if ph["stopped_by_time_limit"]:
                print(f"{'':<20}stopped by the {args.time_limit:g} s time limit")
    print(
        "targets: saturation >= 300 appeals/s on PostgreSQL; p99 <= 50 ms at 100 appeals/s "
        "(open-loop latency is counted from when each request was due)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="an admin URL to create DBs from")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--server",
        choices=("serve", "uvicorn"),
        default="serve",
        help="`minyi serve`, or uvicorn with the same app and options (always with --workers)",
    )
    parser.add_argument("--requests", type=int, default=3_000, help="saturation: requests")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--time-limit", type=float, default=120, help="saturation: at most s")
    parser.add_argument("--rate", type=float, default=100, help="open loop: appeals/s")
    parser.add_argument("--duration", type=float, default=20, help="open loop: seconds")
    parser.add_argument(
        "--uvicorn-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="a further uvicorn option to try, e.g. --uvicorn-arg=--no-access-log (repeatable)",
    )
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60,
        help="wait up to this many s for the machine to be idle before each database",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--keep-log", type=Path, help="copy the server logs to this folder")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    appeals = Appeals(load_messages(args.data))
    results = [run_one(kind.strip(), args, appeals) for kind in args.databases.split(",")]
    if args.json:
        print(json.dumps({"messages": len(appeals.messages), "results": results}))
    else:
        print_table(results, args)


if __name__ == "__main__":
    main()
