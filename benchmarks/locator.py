"""The locator on real messages: the district from place names alone, and the grid from a point.

Run: `.venv/bin/python benchmarks/locator.py [--data ../shared/data] [--json]`

What is measured. Real messages in `shared/data/appeals/` that name a street, community or
estate but no district (none of A1区 … A9市, and no other city's masked token such as
"C4市"): the locator reads the title and body ("title。body", no address, no coordinates)
and proposes a district; the proposal is compared with the truth.

The truth. Other messages write the same place right after its district ("A3区天顶街道
青山新村社区"); `minyi.demo.places.find_mentions` reads those mentions. A place name is a
truth name when at least 80 % of its mentions (one is enough) give one district, and
likewise for the street of a community or estate; a street's or community's name without
its suffix ("新开铺" for 新开铺街道) is a truth name too when it points to one district. A
message is evaluable when it contains truth names (longest match, at least 3 characters)
that all agree on one district; that district is its truth.

Circularity. The demo city is mined from the same mentions, so in the first setting
("in_sample": demo city built from all five files, truth from all five files) the
placement of a name and its truth come from the same counts; what it measures is the
locator's matching (longest match, short forms, ties, conflicts), not the tree. The
second setting ("held_out") builds the city with the demo's planner from train.csv's
mentions only, and takes truth and messages from the four other files (texts also found in
train.csv dropped): the tree and the truth share no message. Coverage is bounded by the
tree (the demo keeps 60 streets and 403 communities, names written at least twice), so the
figures are also given for the messages whose truth name the tree knows ("in_tree").

Both cities are built by `minyi.demo.city.build_demo_city` (areas, units, lists, users;
no tickets) into scratch SQLite databases in a temporary folder, read back with
`area_rows`. Grids: random points inside random grids of the demo city must find that grid;
random points outside the city must find none. Only figures are printed, never text.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("MINYI_ARGON2_TIME_COST", "1")  # demo users: cheap hashes will do
os.environ.setdefault("MINYI_ARGON2_MEMORY_KIB", "1024")

import ahocorasick
import shapely
from sqlalchemy.orm import Session

from minyi.core.clock import get_clock
from minyi.core.config import get_settings
from minyi.core.db import make_engine
from minyi.core.migrate import upgrade
from minyi.demo.city import build_demo_city
from minyi.demo.layout import CITY_RECT, plan_city
from minyi.demo.places import DISTRICT_NAMES, PlaceKind, find_mentions, mine_places
from minyi.demo.sources import APPEAL_FILES
from minyi.triage.locator import AreaRow, Locator, area_rows, get_locator

ALL_FILES = tuple(name for name, _ in APPEAL_FILES)
TREE_FILES_HELD_OUT = ("train.csv",)
EVAL_FILES_HELD_OUT = (
    "test.csv",
    "test_phase_unlabeled.csv",
    "hotspot_messages.csv",
    "replies.csv",
)
# One message writing "A3区天顶街道" is evidence enough that 天顶街道 is in A3区.
MIN_MENTIONS = 1
MIN_SHARE = 0.8
MIN_NAME = 3
# Any other city's masked district token: such a message is about somewhere else.
OTHER_CITY = re.compile(r"(?<![A-Za-z0-9])[B-Z]\d{1,2}[区县市州]")
STREET_SUFFIXES = ("街道", "镇", "乡")
# Citizens write a street or community without its suffix ("新开铺" for 新开铺街道).
STEM_SUFFIXES = ("街道", "镇", "乡", "社区")


@dataclass(frozen=True)
class Message:
    file: str
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}。{self.body}"


def read_messages(appeals: Path, files: Iterable[str]) -> list[Message]:
    columns = dict(APPEAL_FILES)
    seen: set[str] = set()
    out: list[Message] = []
    for name in files:
        title_col, body_col = columns[name]
        with (appeals / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                m = Message(name, (row[title_col] or "").strip(), (row[body_col] or "").strip())
                if m.text not in seen:
                    seen.add(m.text)
                    out.append(m)
    return out


def names_a_district(text: str) -> bool:
    return any(d in text for d in DISTRICT_NAMES)


def street_stem(name: str) -> str:
    for suffix in STREET_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


# --- truth --------------------------------------------------------------------------------


@dataclass
class Truth:
    district: dict[str, str]  # place name → its district
    street: dict[str, str]  # place name → the stem of its street (streets: their own)
    kind: dict[str, str]
    automaton: Any

    @classmethod
    def from_messages(cls, messages: Sequence[Message]) -> Truth:
        districts: dict[str, Counter[str]] = defaultdict(Counter)
        streets: dict[str, Counter[str]] = defaultdict(Counter)
        kinds: dict[str, Counter[str]] = defaultdict(Counter)
        for m in messages:
            for part in (m.title, m.body):
                for mention in find_mentions(part):
                    districts[mention.name][mention.district] += 1
                    kinds[mention.name][mention.kind.value] += 1
                    if mention.kind is PlaceKind.STREET:
                        streets[mention.name][street_stem(mention.name)] += 1
                    elif mention.street:
                        streets[mention.name][street_stem(mention.street)] += 1
        district = {n: d for n, c in districts.items() if (d := _clear(c)) and len(n) >= MIN_NAME}
        street = {n: s for n, c in streets.items() if n in district and (s := _clear(c))}
        kind = {n: kinds[n].most_common(1)[0][0] for n in district}
        stems: dict[str, set[tuple[str, str, str | None]]] = defaultdict(set)
        for name, d in district.items():
            for suffix in STEM_SUFFIXES:
                stem = name[: -len(suffix)]
                if name.endswith(suffix) and len(stem) >= MIN_NAME and stem not in district:
                    stems[stem].add((d, kind[name], street.get(name)))
        for stem, owners in stems.items():
            if len({d for d, _, _ in owners}) == 1:
                d, k, s = min(owners, key=lambda o: (o[0], o[1], o[2] or ""))
                district[stem], kind[stem] = d, k
                if s is not None and len(owners) == 1:
                    street[stem] = s
        automaton = ahocorasick.Automaton()
        for name in district:
            automaton.add_word(name, name)
        automaton.make_automaton()
        return cls(district, street, kind, automaton)

    def names_in(self, text: str) -> list[str]:
        hits = sorted(
            ((end - len(n) + 1, end + 1, n) for end, n in self.automaton.iter(text)),
            key=lambda h: (h[0] - h[1], h[0]),
        )
        taken: list[tuple[int, int]] = []
        names: list[str] = []
        for start, end, name in hits:
            if all(end <= s or start >= e for s, e in taken):
                taken.append((start, end))
                names.append(name)
        return names


def _clear(counts: Counter[str]) -> str | None:
    total = sum(counts.values())
    top, n = counts.most_common(1)[0]
    return top if total >= MIN_MENTIONS and n / total >= MIN_SHARE else None


# --- evaluation ---------------------------------------------------------------------------


def evaluate(
    locator: Locator, rows: Sequence[AreaRow], messages: Sequence[Message], truth: Truth
) -> dict[str, Any]:
    by_id = {r.id: r for r in rows}
    stems_of = {
        r.id: {street_stem(n) for n in (r.name, *r.aliases)} for r in rows if r.level == "street"
    }
    in_tree = tree_strings(rows)
    counts: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    confident: Counter[str] = Counter()
    wall: list[float] = []
    cpu: list[float] = []
    for m in messages:
        text = m.text
        if names_a_district(text):
            continue
        counts["without_district"] += 1
        if OTHER_CITY.search(text):
            counts["other_city_skipped"] += 1
            continue
        gc_was = gc.isenabled()
        gc.disable()
        c0, t0 = time.process_time(), time.perf_counter()
        loc = locator.locate(text=text)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if gc_was:
            gc.enable()
        counts["located_messages"] += 1
        found = truth.names_in(text)
        if not found:
            counts["no_truth_name"] += 1
            counts["proposed_without_truth"] += loc.district_id is not None
            continue
        districts = {truth.district[n] for n in found}
        if len(districts) > 1:
            counts["truth_disagrees"] += 1
            continue
        want = districts.pop()
        kind = _deepest_kind(truth, found)
        known = any(n in in_tree for n in found)
        counts["evaluable"] += 1
        by_kind[kind]["evaluable"] += 1
        counts["evaluable_in_tree"] += known
        got = by_id[loc.district_id].name if loc.district_id is not None else None
        if got is not None:
            counts["proposed"] += 1
            by_kind[kind]["proposed"] += 1
            ok = got == want
            counts["correct"] += ok
            by_kind[kind]["correct"] += ok
            counts["proposed_in_tree"] += known
            counts["correct_in_tree"] += known and ok
            if loc.confidence >= 0.7:
                confident["proposed"] += 1
                confident["correct"] += ok
        want_streets = {truth.street[n] for n in found if n in truth.street}
        if len(want_streets) == 1:
            counts["street_evaluable"] += 1
            if loc.street_id is not None:
                counts["street_proposed"] += 1
                counts["street_correct"] += want_streets.pop() in stems_of[loc.street_id]
    n = counts["evaluable"]
    return {
        "messages_read": len(messages),
        "messages_without_district": counts["without_district"],
        "skipped_other_city": counts["other_city_skipped"],
        "without_truth_name": counts["no_truth_name"],
        "truth_names_disagree": counts["truth_disagrees"],
        "evaluable": n,
        "district_proposed": counts["proposed"],
        "coverage": _ratio(counts["proposed"], n),
        "district_accuracy": _ratio(counts["correct"], counts["proposed"]),
        "district_correct_of_evaluable": _ratio(counts["correct"], n),
        "in_tree": {
            "evaluable": counts["evaluable_in_tree"],
            "coverage": _ratio(counts["proposed_in_tree"], counts["evaluable_in_tree"]),
            "accuracy": _ratio(counts["correct_in_tree"], counts["proposed_in_tree"]),
        },
        "confident_0_7": {
            "share_of_evaluable": _ratio(confident["proposed"], n),
            "accuracy": _ratio(confident["correct"], confident["proposed"]),
        },
        "by_deepest_truth_kind": {
            k: {
                "evaluable": c["evaluable"],
                "coverage": _ratio(c["proposed"], c["evaluable"]),
                "accuracy": _ratio(c["correct"], c["proposed"]),
            }
            for k, c in sorted(by_kind.items())
        },
        "street_evaluable": counts["street_evaluable"],
        "street_coverage": _ratio(counts["street_proposed"], counts["street_evaluable"]),
        "street_accuracy": _ratio(counts["street_correct"], counts["street_proposed"]),
        "no_truth_name_but_district_proposed": counts["proposed_without_truth"],
        "latency_us": {
            "calls": len(wall),
            "median": round(statistics.median(wall) * 1e6, 1) if wall else None,
            "p99": round(_quantile(wall, 0.99) * 1e6, 1) if wall else None,
            "cpu_median": round(statistics.median(cpu) * 1e6, 1) if cpu else None,
            "cpu_p99": round(_quantile(cpu, 0.99) * 1e6, 1) if cpu else None,
        },
    }


def tree_strings(rows: Sequence[AreaRow]) -> set[str]:
    """The names, aliases and suffix-less forms of the tree: a truth name outside them is
    one the city does not know, whatever the locator does."""
    known: set[str] = set()
    for r in rows:
        for n in (r.name, *r.aliases):
            known.add(n)
            for suffix in (*STEM_SUFFIXES, "小区"):
                if n.endswith(suffix) and len(n) - len(suffix) >= MIN_NAME:
                    known.add(n[: -len(suffix)])
    return known


def _deepest_kind(truth: Truth, names: list[str]) -> str:
    order = [PlaceKind.ESTATE.value, PlaceKind.COMMUNITY.value, PlaceKind.STREET.value]
    kinds = {truth.kind[n] for n in names}
    return next(k for k in order if k in kinds)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- the cities ---------------------------------------------------------------------------


def build_city(
    folder: Path, name: str, shared: Path, tree_messages: Sequence[Message] | None
) -> tuple[list[AreaRow], float, float, float]:
    """A scratch SQLite database with the demo city: its area rows, the seconds to build the
    city and the locator, and the median seconds of a cached `get_locator` (one query)."""
    engine = make_engine(f"sqlite:///{folder / name}.sqlite3")
    upgrade(engine)
    planned = None
    if tree_messages is not None:
        mined = mine_places(t for m in tree_messages for t in (m.title, m.body) if t)
        planned = (mined, plan_city(mined))
    with Session(engine) as session:
        started = time.perf_counter()
        build_demo_city(session, shared_data=shared, clock=get_clock(), planned=planned)
        session.commit()
        city_s = time.perf_counter() - started
        rows = area_rows(session)
        get_locator(session)  # builds and caches
        checks = []
        for _ in range(200):
            started = time.perf_counter()
            get_locator(session)  # only the freshness query: the areas did not change
            checks.append(time.perf_counter() - started)
    engine.dispose()
    started = time.perf_counter()
    Locator.build(rows)
    return rows, city_s, time.perf_counter() - started, statistics.median(checks)


def grid_check(locator: Locator, rows: Sequence[AreaRow], points: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    grids = [r for r in rows if r.level == "grid" and r.boundary_wkt]
    found = 0
    cpu: list[float] = []
    for _ in range(points):
        grid = rng.choice(grids)
        west, south, east, north = shapely.from_wkt(grid.boundary_wkt).bounds
        # Strictly inside: a point on a shared edge belongs to either neighbour.
        lon = west + (east - west) * rng.uniform(0.001, 0.999)
        lat = south + (north - south) * rng.uniform(0.001, 0.999)
        c0 = time.process_time()
        loc = locator.locate(text="", lon=lon, lat=lat)
        cpu.append(time.process_time() - c0)
        found += loc.grid_id == grid.id
    w, s, e, n = CITY_RECT
    outside_none = 0
    for _ in range(points):
        while True:
            lon, lat = rng.uniform(w - 1, e + 1), rng.uniform(s - 1, n + 1)
            if not (w <= lon <= e and s <= lat <= n):
                break
        outside_none += locator.locate(text="", lon=lon, lat=lat).grid_id is None
    return {
        "grids": len(grids),
        "points_inside": points,
        "inside_found_their_grid": round(found / points, 4),
        "points_outside": points,
        "outside_found_none": round(outside_none / points, 4),
        "cpu_us_median": round(statistics.median(cpu) * 1e6, 1),
        "cpu_us_p99": round(_quantile(cpu, 0.99) * 1e6, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="shared data folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--points", type=int, default=10_000, help="grid points each way")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args(argv)
    shared = (args.data or get_settings().shared_data).resolve()
    appeals = shared / "appeals"
    if not appeals.is_dir():
        sys.exit(f"no appeals folder at {appeals} (set MINYI_SHARED_DATA or --data)")

    everything = read_messages(appeals, ALL_FILES)
    train = read_messages(appeals, TREE_FILES_HELD_OUT)
    train_texts = {m.text for m in train}
    held = [m for m in read_messages(appeals, EVAL_FILES_HELD_OUT) if m.text not in train_texts]

    with tempfile.TemporaryDirectory(prefix="minyi-locator-") as tmp:
        rows_all, city_all_s, build_all_s, check_s = build_city(Path(tmp), "all", shared, None)
        rows_train, _, _, _ = build_city(Path(tmp), "train", shared, train)
    loc_all = Locator.build(rows_all)
    loc_train = Locator.build(rows_train)

    result: dict[str, Any] = {
        "data": str(appeals),
        "truth": (
            f"a place name's district (and a community's or estate's street) is the one given "
            f"by >= {MIN_SHARE:.0%} of >= {MIN_MENTIONS} mentions written right after a "
            "district name in other messages (minyi.demo.places.find_mentions), suffix-less "
            "street/community forms included; a message is evaluable when its truth names "
            "(>= 3 chars, longest match) agree on one district"
        ),
        "demo_city": {
            "areas": dict(Counter(r.level for r in rows_all)),
            "build_demo_city_s": round(city_all_s, 2),
            "locator_build_s": round(build_all_s, 3),
            "get_locator_cached_us_sqlite": round(check_s * 1e6, 1),
        },
        "in_sample": {
            "tree": "demo city mined from all five appeals files",
            "truth_and_messages": "all five files (" + ", ".join(ALL_FILES) + "), deduplicated",
            **evaluate(loc_all, rows_all, everything, Truth.from_messages(everything)),
        },
        "held_out": {
            "tree": "demo planner on train.csv mentions only",
            "truth_and_messages": " + ".join(EVAL_FILES_HELD_OUT)
            + " (texts also in train.csv dropped)",
            "areas": dict(Counter(r.level for r in rows_train)),
            **evaluate(loc_train, rows_train, held, Truth.from_messages(held)),
        },
        "grid": grid_check(loc_all, rows_all, args.points, args.seed),
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print_table(result)
    return 0


def print_table(r: dict[str, Any]) -> None:
    print(f"data: {r['data']}")
    print(f"truth: {r['truth']}")
    d = r["demo_city"]
    print(
        f"demo city: {d['areas']}; build_demo_city {d['build_demo_city_s']} s, "
        f"Locator.build {d['locator_build_s']} s, cached get_locator (freshness query, SQLite) "
        f"{d['get_locator_cached_us_sqlite']} us"
    )
    for key in ("in_sample", "held_out"):
        s = r[key]
        print(f"\n[{key}] tree: {s['tree']}; truth and messages: {s['truth_and_messages']}")
        print(
            f"  messages {s['messages_read']}, without a district {s['messages_without_district']}"
            f" (other city skipped {s['skipped_other_city']}), no truth name "
            f"{s['without_truth_name']}, truth names disagree {s['truth_names_disagree']}"
        )
        print(
            f"  evaluable {s['evaluable']}: district proposed {s['district_proposed']}, "
            f"coverage {s['coverage']}, accuracy {s['district_accuracy']} "
            f"(correct of evaluable {s['district_correct_of_evaluable']})"
        )
        t = s["in_tree"]
        print(
            f"  of which the truth name is in the tree (name, alias or without suffix): "
            f"{t['evaluable']}, coverage {t['coverage']}, accuracy {t['accuracy']}"
        )
        c = s["confident_0_7"]
        print(f"  confidence >= 0.7: share {c['share_of_evaluable']}, accuracy {c['accuracy']}")
        for kind, k in s["by_deepest_truth_kind"].items():
            print(
                f"    deepest named {kind:<9} evaluable {k['evaluable']:>5}, coverage "
                f"{k['coverage']}, accuracy {k['accuracy']}"
            )
        print(
            f"  street: evaluable {s['street_evaluable']}, coverage {s['street_coverage']}, "
            f"accuracy {s['street_accuracy']}"
        )
        print(
            f"  no truth name but a district proposed: {s['no_truth_name_but_district_proposed']}"
        )
        lat = s["latency_us"]
        print(
            f"  locate: {lat['calls']} calls, median {lat['median']} us, p99 {lat['p99']} us "
            f"(wall); CPU median {lat['cpu_median']} us, p99 {lat['cpu_p99']} us"
        )
    g = r["grid"]
    print(
        f"\ngrid: {g['grids']} grids; {g['points_inside']} points inside → own grid "
        f"{g['inside_found_their_grid']:.2%}; {g['points_outside']} outside → none "
        f"{g['outside_found_none']:.2%}; CPU per point median {g['cpu_us_median']} us, "
        f"p99 {g['cpu_us_p99']} us"
    )


if __name__ == "__main__":
    raise SystemExit(main())
