"""Re-create the hand-labelled item sample and check the labels file against it.

The sample behind `src/minyi/triage/data/item_labels.csv` was drawn with the procedure below
*before* any message text was read (see `docs/triage/item-labels.md`): 320 messages of
`test.csv`, stratified by the contest's first-level label, proportional to the label
distribution (largest-remainder rounding), drawn with `random.Random(44)`, sorted by id.

Run: `.venv/bin/python benchmarks/item_sample.py [--data-dir ../shared/data]`

Checks, and exits non-zero when one fails:
- the ids in the labels file are exactly the re-created sample (nothing added, dropped or
  swapped by hand), in the same order;
- every `db44_path` (and every runner-up path in `note`) is a third-level node of
  DB44/T 2479-2024 appendix A, written as its full path `LL/LLMM/LLMMNN`;
- `confidence` is `sure` or `unsure`; a `sure` row has an empty note, an `unsure` row names
  one other node as the runner-up, nothing else.

Only ids, paths and counts are printed, never message text (the texts are personal data and
stay in `../shared`).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "src/minyi/triage/data/item_labels.csv"
DEFAULT_DATA = ROOT.parent / "shared" / "data"

SEED = 44
SAMPLE_SIZE = 320
COLUMNS = ["id", "db44_path", "confidence", "note"]


def allocate(counts: dict[str, int], n: int) -> dict[str, int]:
    """Proportional allocation of n over the strata, largest remainder (ties: label order)."""
    total = sum(counts.values())
    exact = {label: n * c / total for label, c in counts.items()}
    alloc = {label: int(x) for label, x in exact.items()}
    rest = n - sum(alloc.values())
    by_remainder = sorted(counts, key=lambda label: (-(exact[label] - alloc[label]), label))
    for label in by_remainder[:rest]:
        alloc[label] += 1
    return alloc


def sample_ids(test_csv: Path, n: int = SAMPLE_SIZE, seed: int = SEED) -> list[str]:
    """The fixed sampling procedure: stratified by label, proportional, Random(44), by id."""
    with test_csv.open(encoding="utf-8", newline="") as f:
        rows = [(r["id"], r["label"]) for r in csv.DictReader(f)]
    strata: dict[str, list[str]] = {}
    for id_, label in rows:
        strata.setdefault(label, []).append(id_)
    alloc = allocate({label: len(ids) for label, ids in strata.items()}, n)
    rng = random.Random(seed)
    chosen: list[str] = []
    for label in sorted(strata):  # fixed order: label strings, code-point order
        chosen.extend(rng.sample(sorted(strata[label], key=int), alloc[label]))
    return sorted(chosen, key=int)


def catalogue_paths(catalogue_csv: Path) -> dict[str, str]:
    """Full path `LL/LLMM/LLMMNN` → display name (the level-2 name stands for an empty one)."""
    paths: dict[str, str] = {}
    with catalogue_csv.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            path = f"{r['level_1_code']}/{r['level_2_code']}/{r['level_3_code']}"
            paths[path] = r["level_3_name"] or r["level_2_name"]
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--labels", type=Path, default=LABELS)
    args = parser.parse_args()
    test_csv = args.data_dir / "appeals" / "test.csv"
    catalogue_csv = args.data_dir / "catalogue" / "db44t2479-2024-appendix-a.csv"

    errors: list[str] = []
    expected = sample_ids(test_csv)
    with args.labels.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != COLUMNS:
            errors.append(f"columns are {reader.fieldnames}, expected {COLUMNS}")
        labels = list(reader)
    got = [r["id"] for r in labels]
    if got != expected:
        missing = sorted(set(expected) - set(got), key=int)
        extra = sorted(set(got) - set(expected), key=int)
        errors.append(
            f"ids differ from the re-created sample: {len(missing)} missing {missing[:10]}, "
            f"{len(extra)} not in the sample {extra[:10]}"
            + (", same ids but out of order" if not missing and not extra else "")
        )

    paths = catalogue_paths(catalogue_csv)
    for r in labels:
        where = f"id {r['id']}"
        if r["db44_path"] not in paths:
            errors.append(f"{where}: {r['db44_path']!r} is not a DB44 third-level path")
        if r["confidence"] == "sure":
            if r["note"]:
                errors.append(f"{where}: a sure row must have an empty note")
        elif r["confidence"] == "unsure":
            if r["note"] not in paths or r["note"] == r["db44_path"]:
                errors.append(f"{where}: note must be the runner-up path, got {r['note']!r}")
        else:
            errors.append(f"{where}: confidence {r['confidence']!r} is not sure/unsure")

    with test_csv.open(encoding="utf-8", newline="") as f:
        label_of = {r["id"]: r["label"] for r in csv.DictReader(f)}
    print(f"{len(labels)} rows, sample re-created from seed {SEED}: {len(expected)} ids")
    print("per contest label:", dict(Counter(label_of.get(i, "?") for i in got).most_common()))
    print(
        "per DB44 first level:",
        dict(sorted(Counter(r["db44_path"][:2] for r in labels).items())),
    )
    print("unsure:", sum(r["confidence"] == "unsure" for r in labels))
    print("distinct items:", len({r["db44_path"] for r in labels}))
    for e in errors:
        print("ERROR", e, file=sys.stderr)
    print("OK" if not errors else f"{len(errors)} problem(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
