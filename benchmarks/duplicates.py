"""Repeats and near-duplicates: quality on the real messages, and look-up speed at scale.

Run:
    .venv/bin/python benchmarks/duplicates.py                     # quality + PostgreSQL 100,000
    .venv/bin/python benchmarks/duplicates.py --tickets 1000000   # the issue's figure
    .venv/bin/python benchmarks/duplicates.py --databases postgresql,sqlite --json
    .venv/bin/python benchmarks/duplicates.py --skip-speed        # quality only
    .venv/bin/python benchmarks/duplicates.py --skip-quality --tickets 1000000 --keep
    .venv/bin/python benchmarks/duplicates.py --skip-quality --reuse URL   # no 4-minute fill

**Quality** (shared/data/appeals, read at run time, never printed). Texts are the message
bodies (留言详情 / body) only; titles are used to pick repeat postings, never to score.

- duplicate positives: (a) pairs of messages in the same hot-issue cluster of the same
  team (`hotspot_team_clusters.csv`, texts from `hotspot_messages.csv`) — silver labels:
  the teams' clusters are topics ("A市人才购房补贴"), so many pairs are the same matter told
  very differently, and some are wrong; (b) repeat postings: messages of the same user
  (`hotspot_messages.csv`, `test.csv`) whose titles share at least half their character
  bigrams. Exact copies (identical normalised body) are left out of every positive set.
- duplicate negatives: (c) pairs from the same team's clusters but different issues;
  (d) random pairs of `train.csv` messages with the same first-level label.
- repeat negatives: (e) messages of the same user whose titles share under a fifth of their
  bigrams (the same person about another matter).

Printed: pair counts by source, precision/recall over thresholds (word TF-IDF cosine, the
index's measure, and character-bigram Jaccard for comparison), the share of positives the
index can retrieve (sharing a key), and the thresholds picked by the rules below.

**Speed**: a scratch database (PostgreSQL created here and dropped afterwards; SQLite in a
temporary folder), migrated, then `--tickets` minimal ticket rows and their index rows
written in bulk (COPY / executemany). Signatures are computed for real bodies (train.csv,
test.csv, hotspot_messages.csv), and each ticket varies one: a random place word (one of
20,000 estate names) is added to its vector, and it gets one of 11 districts, one of
`--tickets`/3 requesters and a time in the last 180 days. Then `find_related` (including
the signature of the text) is timed on `--queries` real bodies with varied districts and
requesters: median and p99.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import math
import os
import random
import re
import statistics
import sys
import time
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from minyi.core.db import make_engine
from minyi.core.migrate import upgrade
from minyi.org import service as org
from minyi.org.domain import AreaLevel
from minyi.triage import duplicates
from minyi.triage.duplicates_signature import (
    INDEX_KEYS,
    STORED_TERMS,
    Signature,
    normalised,
    pack,
    signature,
    similarity,
    term_hash,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MINYI_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SEED = 2026
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 15)]
# Rules for picking thresholds (stated, not tuned per run): duplicates, the lowest
# threshold whose precision on the pooled pairs is at least 0.95; repeats, the best F1
# among the same user's messages (no threshold reaches 0.9 precision there).
DUP_PRECISION = 0.95


# --- the real messages -------------------------------------------------------------------


def read(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / "appeals" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def plain(s: str) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]+", "", unicodedata.normalize("NFKC", s).lower())


def bigrams(s: str) -> set[str]:
    s = plain(s)
    return {s[i : i + 2] for i in range(max(1, len(s) - 1))}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(1, len(a | b))


def pairs(folder: Path, rng: random.Random) -> dict[str, Any]:
    """Every pair set: id pairs with their texts, by source."""
    hot = {r["留言编号"]: r for r in read(folder, "hotspot_messages.csv")}
    test = read(folder, "test.csv")
    train = [r for r in read(folder, "train.csv") if r["body"].strip()]
    body: dict[str, str] = {f"h{k}": r["留言详情"] for k, r in hot.items()}
    body.update({f"t{r['id']}": r["body"] for r in test})
    body.update({f"r{r['id']}": r["body"] for r in train})
    same = {k: normalised(v) for k, v in body.items()}

    def distinct(a: str, b: str) -> bool:
        return same[a] != same[b] and bool(same[a]) and bool(same[b])

    clusters: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in read(folder, "hotspot_team_clusters.csv"):
        if r["留言编号"] in hot:
            clusters[(r["team_repo"], r["issue_id"])].add(f"h{r['留言编号']}")
    cluster_pos: set[tuple[str, str]] = set()
    exact = 0
    for members in clusters.values():
        for a, b in itertools.combinations(sorted(members), 2):
            if distinct(a, b):
                cluster_pos.add((a, b))
            else:
                exact += 1
    by_team: dict[str, list[set[str]]] = defaultdict(list)
    for (team, _), members in clusters.items():
        by_team[team].append(members)
    in_same_issue = {p for p in cluster_pos} | {
        (a, b) for m in clusters.values() for a, b in itertools.combinations(sorted(m), 2)
    }
    cluster_neg: set[tuple[str, str]] = set()
    for _team, groups in sorted(by_team.items()):
        for _ in range(2_000):
            x, y = rng.sample(groups, 2)
            a, b = sorted((rng.choice(sorted(x)), rng.choice(sorted(y))))
            if a != b and (a, b) not in in_same_issue and distinct(a, b):
                cluster_neg.add((a, b))

    # The same user's messages: repeat postings (similar titles) and other matters.
    users: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for k, r in hot.items():
        users["h" + r["留言用户"]].append((f"h{k}", r["留言主题"]))
    for r in test:
        users["t" + r["user"]].append((f"t{r['id']}", r["title"]))
    repeat_pos: set[tuple[str, str]] = set()
    repeat_neg: set[tuple[str, str]] = set()
    repeat_exact = 0
    for messages in users.values():
        for (a, ta), (b, tb) in itertools.combinations(sorted(messages), 2):
            overlap = jaccard(bigrams(ta), bigrams(tb))
            if overlap >= 0.5:
                if distinct(a, b):
                    repeat_pos.add((a, b))
                else:
                    repeat_exact += 1
            elif overlap < 0.2 and distinct(a, b):
                repeat_neg.add((a, b))

    by_label: dict[str, list[str]] = defaultdict(list)
    for r in train:
        by_label[r["label"]].append(f"r{r['id']}")
    label_neg: set[tuple[str, str]] = set()
    labels = sorted(by_label)
    while len(label_neg) < 6_000:
        ids = by_label[rng.choice(labels)]
        a, b = sorted(rng.sample(ids, 2))
        if distinct(a, b):
            label_neg.add((a, b))
    return {
        "body": body,
        "sets": {
            "cluster_pos": sorted(cluster_pos),
            "repeat_pos": sorted(repeat_pos),
            "cluster_neg": sorted(cluster_neg),
            "label_neg": sorted(label_neg),
            "repeat_neg": sorted(repeat_neg),
        },
        "exact_copies_left_out": {"cluster": exact, "repeat": repeat_exact},
    }


def curve(pos: list[float], neg: list[float]) -> list[dict[str, float]]:
    rows = []
    for t in THRESHOLDS:
        tp = sum(s >= t for s in pos)
        fp = sum(s >= t for s in neg)
        rows.append(
            {
                "threshold": t,
                "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
                "recall": round(tp / len(pos), 3) if pos else 0.0,
                "false_positive_rate": round(fp / len(neg), 4) if neg else 0.0,
            }
        )
    return rows


def pick(rows: list[dict[str, float]], precision: float) -> dict[str, float]:
    ok = [r for r in rows if r["precision"] >= precision]
    return ok[0] if ok else rows[-1]


def best_f1(rows: list[dict[str, float]]) -> dict[str, float]:
    def f1(r: dict[str, float]) -> float:
        p, q = r["precision"], r["recall"]
        return 2 * p * q / (p + q) if p + q else 0.0

    return max(rows, key=f1)


def quality(folder: Path) -> dict[str, Any]:
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    data = pairs(folder, rng)
    body, sets = data["body"], data["sets"]
    needed = {i for s in sets.values() for p in s for i in p}
    sigs = {i: signature(body[i]) for i in sorted(needed)}
    grams = {i: bigrams(body[i]) for i in sorted(needed)}
    sig_s = time.perf_counter() - t0

    def scores(name: str, measure: str = "cosine") -> list[float]:
        if measure == "cosine":
            return [similarity(sigs[a], sigs[b]) for a, b in sets[name]]
        return [jaccard(grams[a], grams[b]) for a, b in sets[name]]

    def keyed(name: str) -> float:
        hit = sum(bool(set(sigs[a].keys) & set(sigs[b].keys)) for a, b in sets[name])
        return round(hit / max(1, len(sets[name])), 3)

    dup_pos = scores("cluster_pos") + scores("repeat_pos")
    dup_neg = scores("cluster_neg") + scores("label_neg")
    dup_curve = curve(dup_pos, dup_neg)
    rep_curve = curve(scores("repeat_pos"), scores("repeat_neg"))
    dup_pick = pick(dup_curve, DUP_PRECISION)
    rep_pick = best_f1(rep_curve)
    # The index finds a pair only if it shares a key; recall at the threshold through it.
    t = duplicates.DUPLICATE_THRESHOLD
    through_index = [
        similarity(sigs[a], sigs[b]) >= t and bool(set(sigs[a].keys) & set(sigs[b].keys))
        for name in ("cluster_pos", "repeat_pos")
        for a, b in sets[name]
    ]
    by_source = {
        name: curve(scores(name), dup_neg) if name.endswith("pos") else None
        for name in ("cluster_pos", "repeat_pos")
    }
    return {
        "data": "shared/data/appeals: hotspot_team_clusters.csv + hotspot_messages.csv "
        "(clusters, repeat postings), test.csv (repeat postings), train.csv (negatives)",
        "silver_labels": "hot-issue clusters are the contest teams' topics, not verified "
        "duplicates; repeat postings are picked by title overlap: both are noisy",
        "pairs": {k: len(v) for k, v in sets.items()},
        "exact_copies_left_out": data["exact_copies_left_out"],
        "signature_s": round(sig_s, 1),
        "index_keys": INDEX_KEYS,
        "positives_sharing_a_key": {n: keyed(n) for n in ("cluster_pos", "repeat_pos")},
        "negatives_sharing_a_key": {n: keyed(n) for n in ("cluster_neg", "label_neg")},
        "duplicate_curve": dup_curve,
        "duplicate_curve_by_positive_source": by_source,
        "duplicate_curve_char_bigram_jaccard": curve(
            scores("cluster_pos", "jaccard") + scores("repeat_pos", "jaccard"),
            scores("cluster_neg", "jaccard") + scores("label_neg", "jaccard"),
        ),
        "repeat_curve": rep_curve,
        "picked": {"duplicate": dup_pick, "repeat": rep_pick},
        "in_use": {
            "duplicate_threshold": duplicates.DUPLICATE_THRESHOLD,
            "repeat_threshold": duplicates.REPEAT_THRESHOLD,
            "duplicate_at_threshold": next(
                r for r in dup_curve if r["threshold"] == duplicates.DUPLICATE_THRESHOLD
            ),
            "repeat_at_threshold": next(
                r for r in rep_curve if r["threshold"] == duplicates.REPEAT_THRESHOLD
            ),
            "duplicate_recall_through_index": round(
                sum(through_index) / max(1, len(through_index)), 3
            ),
        },
    }


# --- speed -----------------------------------------------------------------------------------


def pool_of_signatures(folder: Path, n: int) -> tuple[list[str], list[Signature]]:
    texts = [r["留言详情"] for r in read(folder, "hotspot_messages.csv")]
    texts += [r["body"] for r in read(folder, "test.csv")]
    texts = [t for t in texts if t.strip()]
    random.Random(SEED).shuffle(texts)
    texts = texts[:n]
    return texts, [signature(t) for t in texts]


def varied(sig: Signature, place: int) -> Signature:
    """The signature of the text with one more distinctive word (an estate's name)."""
    w = 0.3
    scale = math.sqrt(1 - w * w)
    hashes = (term_hash(f"小区{place}"), *sig.hashes[: STORED_TERMS - 1])
    weights = (w, *(x * scale for x in sig.weights[: STORED_TERMS - 1]))
    return Signature(hashes, tuple(round(x, 6) for x in weights))


def ticket_values(engine: Engine) -> list[tuple[str, Any]]:
    """Every ticket column with a filler: NOT NULL columns only, filled by type; the rest
    NULL (so the script survives columns added by later migrations)."""
    out: list[tuple[str, Any]] = []
    for col in inspect(engine).get_columns("ticket"):
        name, kind = col["name"], str(col["type"]).upper()
        if col["nullable"] or name == "id":
            continue
        if "BOOL" in kind:
            value: Any = False
        elif "INT" in kind or "FLOAT" in kind or "DOUBLE" in kind or "REAL" in kind:
            value = 1 if name == "version" else 0
        elif "JSON" in kind:
            value = "[]" if name.endswith("_ids") else "{}"
        elif "TIME" in kind or "DATE" in kind:
            value = None  # received_at
        else:
            value = ""
        out.append((name, value))
    return out


def fill_postgresql(engine: Engine, n: int, sigs: list[Signature], districts: list[int]) -> None:
    rng = random.Random(SEED)
    fixed = ticket_values(engine)
    cols = ["id", "tracking_code", "district_id", "area_id", "status", "is_open"] + [
        c for c, _ in fixed if c not in {"tracking_code", "status", "is_open"}
    ]
    fill = {c: v for c, v in fixed}
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        with raw.cursor() as cur:
            # Bulk load without the secondary index, then build it once (as a restore would).
            cur.execute("DROP INDEX ix_triage_dup_key_lookup")
            rows_t, rows_s, rows_k = [], [], []
            for i in range(n):
                tid = i + 1
                received = NOW - timedelta(days=rng.random() * 180)
                district = rng.choice(districts)
                sig = varied(sigs[i % len(sigs)], rng.randrange(20_000))
                open_ = rng.random() < 0.3
                values = {**fill, "received_at": received, "updated_at": received}
                row = [tid, f"D{tid:010d}", district, district, "dispatched", open_]
                row += [values[c] if values.get(c) is not None else received for c in cols[6:]]
                rows_t.append(row)
                rows_s.append((tid, rng.randrange(n // 3 + 1), district, received, pack(sig)))
                rows_k.extend((tid, k, district, received) for k in dict.fromkeys(sig.keys))
                if len(rows_t) >= 50_000 or tid == n:
                    _copy(cur, f"COPY ticket ({', '.join(cols)}) FROM STDIN", rows_t)
                    _copy(
                        cur,
                        "COPY triage_dup_signature (ticket_id, requester_id, district_id, "
                        "received_at, terms) FROM STDIN",
                        rows_s,
                    )
                    _copy(
                        cur,
                        "COPY triage_dup_key (ticket_id, key, district_id, received_at) FROM STDIN",
                        rows_k,
                    )
                    rows_t, rows_s, rows_k = [], [], []
            cur.execute(
                "CREATE INDEX ix_triage_dup_key_lookup ON triage_dup_key "
                "(key, district_id, received_at, ticket_id)"
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("ticket", "triage_dup_signature", "triage_dup_key"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))


def _copy(cur: Any, statement: str, rows: list[Any]) -> None:
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def exhaustive_agreement(
    session: Session, asked: list[tuple[Signature, dict[str, Any], set[int]]]
) -> float:
    """The share of the links found by reading every posting of every key (with 40
    candidates) that the capped look-up also returns: what the caps cost in recall."""
    capped = (duplicates.POSTINGS_PER_KEY, duplicates.CANDIDATES)
    duplicates.POSTINGS_PER_KEY, duplicates.CANDIDATES = 10**9, 40
    duplicates._candidate_statement.cache_clear()
    try:
        both = total = 0
        for sig, args, got in asked:
            full = duplicates._find(session, sig, exclude_ticket_id=None, limit=5, **args)
            want = {r.ticket_id for r in full}
            both += len(want & got)
            total += len(want)
            session.rollback()
    finally:
        duplicates.POSTINGS_PER_KEY, duplicates.CANDIDATES = capped
        duplicates._candidate_statement.cache_clear()
    return round(both / max(1, total), 3)


def summary(ms: list[float]) -> dict[str, float]:
    s = sorted(ms)
    return {
        "p50_ms": round(statistics.median(s), 2),
        "p99_ms": round(s[min(len(s) - 1, int(len(s) * 0.99))], 2),
        "max_ms": round(s[-1], 2),
    }


@contextlib.contextmanager
def scratch_postgresql(admin: str, keep: bool = False) -> Iterator[str]:
    name = f"minyi_bench_dups_{uuid.uuid4().hex[:8]}"
    conninfo = admin.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        if keep:
            print(f"kept: --reuse {url}", file=sys.stderr)
        else:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def reused(url: str) -> Iterator[str]:
    yield url


def districts_of(engine: Engine) -> list[int]:
    """The benchmark's districts in a database filled by an earlier `--keep` run."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM org_area WHERE code LIKE 'B_%' ORDER BY id"))
        return [int(r[0]) for r in rows]


def speed(
    folder: Path,
    admin: str,
    n: int,
    queries: int,
    keep: bool = False,
    reuse: str | None = None,
) -> dict[str, Any]:
    texts, sigs = pool_of_signatures(folder, 3_000)
    database = reused(reuse) if reuse else scratch_postgresql(admin, keep)
    with database as url:
        engine = make_engine(url)
        try:
            # On a reused database this only applies migrations added since it was filled.
            upgrade(engine)
            fill_s = 0.0
            if reuse:
                districts = districts_of(engine)
                with engine.connect() as conn:
                    n = conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()
            else:
                with Session(engine) as session:
                    city = org.create_area(session, code="B", name="B市", level=AreaLevel.CITY)
                    districts = [
                        org.create_area(
                            session,
                            code=f"B{d}",
                            name=f"B{d}区",
                            level=AreaLevel.DISTRICT,
                            parent=city,
                        ).id
                        for d in range(11)
                    ]
                    session.commit()
                t0 = time.perf_counter()
                fill_postgresql(engine, n, sigs, districts)
                fill_s = time.perf_counter() - t0
            rng = random.Random(SEED + 1)
            cold, whole, lookup, found = [], [], [], []
            asked: list[tuple[Signature, dict[str, Any], set[int]]] = []
            with Session(engine) as session:
                for q in range(queries + 20):
                    i = rng.randrange(len(texts))
                    args = {
                        "requester_id": rng.randrange(n // 3 + 1),
                        "area_id": None,
                        "district_id": rng.choice(districts),
                        "now": NOW,
                    }
                    # The first look-up of a (text, district) reads pages that are not in
                    # PostgreSQL's buffers (128 MB here, 2.2 GB of index): timed apart, so
                    # that the other two figures compare the signature's cost alone.
                    signature.cache_clear()
                    t0 = time.perf_counter()
                    duplicates._find(session, sigs[i], exclude_ticket_id=None, limit=5, **args)
                    t1 = time.perf_counter()
                    related = duplicates.find_related(session, text=texts[i], **args)
                    t2 = time.perf_counter()
                    duplicates._find(session, sigs[i], exclude_ticket_id=None, limit=5, **args)
                    t3 = time.perf_counter()
                    session.rollback()
                    if q >= 20:
                        cold.append((t1 - t0) * 1000)
                        whole.append((t2 - t1) * 1000)
                        lookup.append((t3 - t2) * 1000)
                        found.append(len(related))
                        asked.append((sigs[i], args, {r.ticket_id for r in related}))
                kept = exhaustive_agreement(session, asked)
            with engine.connect() as conn:
                sizes = {
                    t: conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one()
                    for t in ("triage_dup_key", "triage_dup_signature")
                }
        finally:
            engine.dispose()
    return {
        "database": "postgresql",
        "tickets": n,
        "key_rows_per_ticket": INDEX_KEYS,
        "fill_s": round(fill_s, 1),
        "index_mb": {t: round(b / 2**20) for t, b in sizes.items()},
        "queries": queries,
        "find_related_with_signature": summary(whole),
        "lookup_given_signature": summary(lookup),
        "lookup_given_signature_first_time": summary(cold),
        "mean_related_found": round(statistics.mean(found), 2),
        "share_of_exhaustive_links_kept": kept,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pg-url", default=DEFAULT_PG, help="admin URL to create DBs from")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--keep", action="store_true", help="keep the filled database (prints its URL)"
    )
    parser.add_argument("--reuse", metavar="URL", help="time on a database kept by --keep")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if not args.skip_quality:
        out["quality"] = quality(args.data)
    if not args.skip_speed:
        out["speed"] = speed(
            args.data, args.pg_url, args.tickets, args.queries, args.keep, args.reuse
        )
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return
    q = out.get("quality")
    if q:
        print(f"data: {q['data']}\nnote: {q['silver_labels']}")
        print("pairs:", q["pairs"], "exact copies left out:", q["exact_copies_left_out"])
        print("positives sharing an index key:", q["positives_sharing_a_key"])
        print("negatives sharing an index key:", q["negatives_sharing_a_key"])
        for name in ("duplicate_curve", "duplicate_curve_char_bigram_jaccard", "repeat_curve"):
            print(f"\n{name}\n  thr   prec  recall  FPR")
            for r in q[name]:
                print(
                    f"  {r['threshold']:.2f}  {r['precision']:.3f}  {r['recall']:.3f}"
                    f"  {r['false_positive_rate']:.4f}"
                )
        print("\npicked by the rules:", q["picked"])
        print("in use:", q["in_use"])
    s = out.get("speed")
    if s:
        print("\nspeed:", json.dumps(s, ensure_ascii=False))


if __name__ == "__main__":
    main()
