"""What triage costs at intake: appeals through the HTTP API with triage on and off, same run.

Run: `.venv/bin/python benchmarks/triage_intake.py [--appeals 600] [--rounds 3]
[--database postgresql|sqlite] [--models-dir DIR] [--json]`

A fresh database (a scratch PostgreSQL database by default, dropped afterwards) is
migrated and given the demo city (`minyi demo --tickets 0`: its areas, units, catalogue and
lists, so that routing has real rules to follow). A trained model is needed: the latest
under `--models-dir` (default `./var/models`), else one is trained into a temporary folder
with `minyi model train` first. Then a real server (`minyi serve`) takes appeals one at a
time from one client, in rounds that alternate triage off (`MINYI_TRIAGE_ENABLED=false`:
normalise nothing, store, answer) and on (classify, rank items, locate, urgency, route,
duplicate check, knowledge base, store the decision, dispatch or queue), so that drift of
the machine hits both alike. Texts are real messages (train.csv and test.csv of
shared/data/appeals, never printed), with no area given, so the locator works from the text.

Printed: latency p50/p95/p99 of each mode and the difference (the target: triage adds
≤ 5 ms at p99), the in-process triage time the server recorded for each decision
(`triage_decision.elapsed_ms`), and what triage decided (outcome shares).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

import intake as base

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run(cmd: list[str], env: dict[str, str], what: str) -> None:
    print(f"… {what}", file=sys.stderr, flush=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-2000:])
        raise SystemExit(f"{what} failed (exit {done.returncode})")


def latest_model(models_dir: Path) -> bool:
    return (models_dir / "latest").exists()


def send(base_url: str, bodies: list[bytes]) -> list[float]:
    latencies: list[float] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for body in bodies:
            started = time.perf_counter()
            r = client.post("/api/v1/appeals", content=body, headers=base.HEADERS)
            latencies.append((time.perf_counter() - started) * 1000)
            if r.status_code != 201:
                raise SystemExit(f"appeal answered {r.status_code}: {r.text[:300]}")
    return latencies


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50_ms": round(base.pct(ordered, 50), 2),
        "p95_ms": round(base.pct(ordered, 95), 2),
        "p99_ms": round(base.pct(ordered, 99), 2),
        "mean_ms": round(statistics.fmean(values), 2) if values else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appeals", type=int, default=600, help="appeals per mode")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg-admin", default=DEFAULT_PG)
    parser.add_argument("--models-dir", type=Path, default=REPO / "var" / "models")
    parser.add_argument("--data", type=Path, default=base.DEFAULT_DATA)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    appeals = base.Appeals(base.load_messages(args.data))
    per_round = max(1, args.appeals // args.rounds)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models_dir = args.models_dir
        env = {**os.environ, "MINYI_SHARED_DATA": str(args.data.parent)}
        if not latest_model(models_dir):
            models_dir = tmp / "models"
            run(
                [str(BIN / "minyi"), "model", "train", "--models-dir", str(models_dir)],
                {**env, "MINYI_MODELS_DIR": str(models_dir)},
                "training a model (none under --models-dir)",
            )
        with base.database(args.database, args.pg_admin, tmp) as url:
            env = {**env, "MINYI_DATABASE_URL": url, "MINYI_MODELS_DIR": str(models_dir)}
            run([str(BIN / "minyi"), "migrate"], env, "migrating")
            run([str(BIN / "minyi"), "demo", "--tickets", "0"], env, "building the demo city")
            lat: dict[str, list[float]] = {"off": [], "on": []}
            for r in range(args.rounds):
                for mode in ("off", "on"):
                    os.environ.update(env)
                    os.environ["MINYI_TRIAGE_ENABLED"] = "true" if mode == "on" else "false"
                    bodies = [appeals.next_body() for _ in range(per_round)]
                    log = tmp / f"server-{mode}-{r}.log"
                    with base.server(url, tmp, 1, True, [], log) as (base_url, _pid):
                        send(base_url, [appeals.next_body() for _ in range(20)])  # warm up
                        lat[mode].extend(send(base_url, bodies))
                    print(f"  round {r + 1} triage {mode}: {per_round} appeals", file=sys.stderr)
            engine = create_engine(url)
            with engine.connect() as conn:
                elapsed = [
                    float(x)
                    for (x,) in conn.execute(text("SELECT elapsed_ms FROM triage_decision"))
                    if x is not None
                ]
                outcomes = Counter(
                    str(o) for (o,) in conn.execute(text("SELECT outcome FROM triage_decision"))
                )
                version = conn.execute(
                    text("SELECT model_version FROM triage_decision LIMIT 1")
                ).scalar()
            engine.dispose()
    off, on = summary(lat["off"]), summary(lat["on"])
    total = sum(outcomes.values()) or 1
    result: dict[str, Any] = {
        "database": args.database,
        "model_version": version,
        "triage_off": off,
        "triage_on": on,
        "added_p50_ms": round(on["p50_ms"] - off["p50_ms"], 2),
        "added_p99_ms": round(on["p99_ms"] - off["p99_ms"], 2),
        "in_process_triage": summary(elapsed),
        "outcomes": {k: round(v / total, 4) for k, v in sorted(outcomes.items())},
        "target": "triage adds <= 5 ms at p99",
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    print(f"Intake with and without triage on {args.database} (model {version})")
    for name in ("triage_off", "triage_on"):
        s = result[name]
        print(
            f"  {name:11} n={s['n']:5}  p50 {s['p50_ms']:7.2f} ms  p95 {s['p95_ms']:7.2f} ms"
            f"  p99 {s['p99_ms']:7.2f} ms"
        )
    print(
        f"  added by triage: p50 {result['added_p50_ms']:+.2f} ms, "
        f"p99 {result['added_p99_ms']:+.2f} ms (target ≤ 5 ms at p99)"
    )
    t = result["in_process_triage"]
    print(
        f"  triage inside the server (elapsed_ms): p50 {t['p50_ms']:.2f} ms, "
        f"p99 {t['p99_ms']:.2f} ms over {t['n']} decisions"
    )
    print("  outcomes: " + ", ".join(f"{k} {v:.1%}" for k, v in result["outcomes"].items()))


if __name__ == "__main__":
    main()
