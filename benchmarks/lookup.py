"""Lookup at real scale: (item, area) → lead unit + deadlines, with 70,000 implementation
entries and 5,000 responsibility rules loaded (Shenzhen's list held 70,077 entries, 2023).

Run: `.venv/bin/python benchmarks/lookup.py [--database URL] [--queries N]`
Prints how long the snapshot takes to build and the per-lookup time, both for the pure
in-memory resolver and for the full service call (which also checks, with one query,
which batch is in force and whether the lists changed).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from minyi.catalogue import service
from minyi.catalogue.models import Batch, ImplementationRule, Item, ResponsibilityRule
from minyi.core.db import make_engine
from minyi.core.migrate import upgrade
from minyi.org.domain import AreaLevel
from minyi.org.models import Area, Unit

SEED = 2026
N_ITEMS = 700  # leaves
N_UNITS = 100
N_RESP = 5_000
N_IMPL = 70_000


def populate(session: Session) -> tuple[list[int], list[int]]:
    rng = random.Random(SEED)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    batch = Batch(
        number="bench-1",
        author="bench",
        reason="bench",
        effective_at=now,
        created_at=now,
        summary={},
    )
    session.add(batch)
    session.flush()

    city = Area(code="C", name="C市", level=AreaLevel.CITY.value, aliases=[])
    session.add(city)
    session.flush()
    districts: list[Area] = []
    streets: list[Area] = []
    communities: list[Area] = []
    for d in range(9):
        area = Area(code=f"D{d}", name=f"D{d}区", level="district", parent_id=city.id, aliases=[])
        session.add(area)
        districts.append(area)
    session.flush()
    for s in range(60):
        area = Area(
            code=f"S{s}",
            name=f"S{s}街道",
            level="street",
            parent_id=districts[s % 9].id,
            aliases=[],
        )
        session.add(area)
        streets.append(area)
    session.flush()
    for c in range(400):
        area = Area(
            code=f"M{c}",
            name=f"M{c}社区",
            level="community",
            parent_id=streets[c % 60].id,
            aliases=[],
        )
        session.add(area)
        communities.append(area)
    session.flush()
    session.execute(
        insert(Area),
        [
            {
                "code": f"G{g}",
                "name": f"G{g}网格",
                "level": "grid",
                "parent_id": communities[g % 400].id,
                "aliases": [],
            }
            for g in range(2_000)
        ],
    )
    grid_ids = list(session.scalars(select(Area.id).where(Area.level == "grid")))
    session.execute(
        insert(Unit),
        [
            {
                "code": f"U{u}",
                "name": f"单位{u}",
                "kind": "district_department",
                "area_id": districts[u % 9].id,
                "active": True,
            }
            for u in range(N_UNITS)
        ],
    )
    unit_ids = list(session.scalars(select(Unit.id)))

    top = Item(
        path="B",
        code="B",
        name="大类",
        level=1,
        definition="",
        keywords=[],
        introduced_batch_id=batch.id,
    )
    session.add(top)
    session.flush()
    mids = []
    for m in range(50):
        mid = Item(
            path=f"B/B{m:02d}",
            code=f"B{m:02d}",
            name=f"中类{m}",
            level=2,
            parent_id=top.id,
            definition="",
            keywords=[],
            introduced_batch_id=batch.id,
        )
        session.add(mid)
        mids.append(mid)
    session.flush()
    session.execute(
        insert(Item),
        [
            {
                "path": f"B/B{i % 50:02d}/L{i:04d}",
                "code": f"L{i:04d}",
                "name": f"细项{i}",
                "level": 3,
                "parent_id": mids[i % 50].id,
                "definition": "",
                "keywords": [],
                "introduced_batch_id": batch.id,
            }
            for i in range(N_ITEMS)
        ],
    )
    leaf_ids = list(session.scalars(select(Item.id).where(Item.level == 3)))

    # 5,000 responsibility rules: a city-wide rule per leaf, the rest district or street ones.
    resp = [
        {
            "batch_id": batch.id,
            "item_id": i,
            "area_id": city.id,
            "lead_unit_id": rng.choice(unit_ids),
            "co_unit_ids": [],
            "legal_basis": "",
            "removed": False,
        }
        for i in leaf_ids
    ]
    seen = {(r["item_id"], r["area_id"]) for r in resp}
    local_areas = [a.id for a in districts + streets]
    while len(resp) < N_RESP:
        key = (rng.choice(leaf_ids), rng.choice(local_areas))
        if key in seen:
            continue
        seen.add(key)
        resp.append(
            {
                "batch_id": batch.id,
                "item_id": key[0],
                "area_id": key[1],
                "lead_unit_id": rng.choice(unit_ids),
                "co_unit_ids": [rng.choice(unit_ids)],
                "legal_basis": "",
                "removed": False,
            }
        )
    session.execute(insert(ResponsibilityRule), resp)

    # 70,000 implementation entries: every (leaf, unit) pair.
    impl = [
        {
            "batch_id": batch.id,
            "item_id": i,
            "unit_id": u,
            "process": "standard",
            "response_level": rng.choice(["2h", "24h", "7d", "15d"]),
            "contact_hours": 24,
            "completion_days": rng.randint(1, 15),
            "standard_kind": "mandatory",
            "closing_requirements": ["citizen_contacted"],
            "removed": False,
        }
        for i in leaf_ids
        for u in unit_ids
    ][:N_IMPL]
    session.execute(insert(ImplementationRule), impl)
    session.flush()
    return leaf_ids, grid_ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="SQLAlchemy URL (default: a temporary SQLite file)")
    parser.add_argument("--queries", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        engine = make_engine(url)
        upgrade(engine)
        with Session(engine) as session:
            t0 = time.perf_counter()
            leaf_ids, grid_ids = populate(session)
            session.commit()
            load_s = time.perf_counter() - t0
            counts = {
                "implementation": session.query(ImplementationRule).count(),
                "responsibility": session.query(ResponsibilityRule).count(),
                "areas": session.query(Area).count(),
            }
            at = datetime(2026, 6, 1, tzinfo=UTC)

            t0 = time.perf_counter()
            snap = service.get_index().snapshot(session, at)
            build_s = time.perf_counter() - t0

            rng = random.Random(SEED + 1)
            pairs = [(rng.choice(leaf_ids), rng.choice(grid_ids)) for _ in range(args.queries)]
            found = 0
            t0 = time.perf_counter()
            for item_id, area_id in pairs:
                res = snap.resolve(item_id, area_id)
                found += res.implementation is not None
            pure_us = (time.perf_counter() - t0) / len(pairs) * 1e6

            samples = []
            for item_id, area_id in pairs[:2_000]:
                t1 = time.perf_counter()
                service.resolve(session, item_id=item_id, area_id=area_id, at=at)
                samples.append((time.perf_counter() - t1) * 1e6)
            samples.sort()
        engine.dispose()

    print(f"database: {engine.dialect.name}")
    print(f"loaded: {counts} in {load_s:.1f} s")
    print(f"snapshot build (once per batch change): {build_s * 1000:.0f} ms")
    print(
        f"pure resolve: {pure_us:.2f} µs per lookup over {len(pairs)} lookups "
        f"({found} with unit and deadlines)"
    )
    print(
        f"service resolve (with freshness query): median {statistics.median(samples):.0f} µs, "
        f"p99 {samples[int(len(samples) * 0.99)]:.0f} µs over {len(samples)} lookups"
    )


if __name__ == "__main__":
    main()
