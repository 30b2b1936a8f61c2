"""Urgency and emergency detection against the fixed cases, and its speed.

Run: `.venv/bin/python benchmarks/urgency.py [--shared ../shared/data] [--rules FILE]`

Cases: tests/triage/data/urgency_cases.csv. Written ones (W… written with the rules, H…
written after the rules were frozen) carry their text; real ones (R…) name a message of
../shared/data/appeals/train.csv (ids r…) or test.csv (numeric ids), read here as
"title。body". Prints, for the written, the real and all cases:

- recall on emergencies (handed over to the expected line), on urgent cases (urgent or
  higher) and on both together;
- the false-alarm rate: look-alikes (an emergency's words, not an emergency) handed over;
- the confusion of kind × level found;
- throughput, texts per CPU second on one core (one Python thread), with the mean length.

Then, as a check without labels, how many of the other real messages in ../shared (the
hotspot, reply and test-phase files, none of them among the cases) would be handed over.
Only ids and figures are printed, never message text.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from minyi.core.config import get_settings
from minyi.triage.urgency import UrgencyLevel, UrgencyRules, load_rules

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "tests" / "triage" / "data" / "urgency_cases.csv"
LEVELS = [level.value for level in UrgencyLevel]
KINDS = ["emergency", "urgent", "lookalike", "ordinary"]


@dataclass(frozen=True)
class Case:
    case_id: str
    source: str
    text: str
    expected_level: str
    expected_line: str
    kind: str


def read_cases(appeals: Path) -> list[Case]:
    with CASES.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    wanted = {row["message_id"] for row in rows if row["source"] == "real"}
    texts: dict[str, str] = {}
    for name in ("train.csv", "test.csv"):
        with (appeals / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["id"] in wanted:
                    texts[row["id"]] = f"{row['title']}。{row['body']}"
    missing = sorted(wanted - texts.keys())
    if missing:
        sys.exit(f"message ids not found in {appeals}: {missing}")
    return [
        Case(
            case_id=row["case_id"],
            source=row["source"],
            text=row["text"] if row["source"] == "written" else texts[row["message_id"]],
            expected_level=row["expected_level"],
            expected_line=row["expected_line"],
            kind=row["kind"],
        )
        for row in rows
    ]


def other_messages(appeals: Path) -> list[tuple[str, str]]:
    """Real messages outside the labelled files, without repeats."""
    seen: set[str] = set()
    for name in ("train.csv", "test.csv"):
        with (appeals / name).open(encoding="utf-8", newline="") as fh:
            seen.update(f"{row['title']}。{row['body']}" for row in csv.DictReader(fh))
    out: dict[str, str] = {}
    for name in ("hotspot_messages.csv", "replies.csv", "test_phase_unlabeled.csv"):
        with (appeals / name).open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                text = f"{row['留言主题']}。{row['留言详情']}"
                if text not in seen:
                    out.setdefault(text, f"{name.split('.')[0]}:{row['留言编号']}")
    return [(ident, text) for text, ident in out.items()]


def rate(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.3f}" if whole else "n/a"


def report(name: str, cases: Sequence[Case], rules: UrgencyRules) -> None:
    confusion: Counter[tuple[str, str]] = Counter()
    emergencies = caught_emergency = right_line = 0
    urgent = caught_urgent = lookalikes = false_alarms = exact = 0
    misses: list[str] = []
    alarms: list[str] = []
    for case in cases:
        result = rules.assess(case.text)
        found = result.level.value
        confusion[case.kind, found] += 1
        exact += found == case.expected_level
        if case.kind == "emergency":
            emergencies += 1
            caught_emergency += result.is_emergency
            ok = result.is_emergency and result.emergency_line == case.expected_line
            right_line += ok
            if not ok:
                misses.append(f"{case.case_id}→{found}/{result.emergency_line}")
        elif case.kind == "urgent":
            urgent += 1
            ok = result.level is UrgencyLevel.URGENT
            caught_urgent += ok
            if not ok:
                misses.append(f"{case.case_id}→{found}")
        elif case.kind == "lookalike":
            lookalikes += 1
            if result.is_emergency:
                false_alarms += 1
                alarms.append(f"{case.case_id}→{result.emergency_line}")
    print(f"\n== {name}: {len(cases)} cases ==")
    print(f"recall, emergency with the right line: {rate(right_line, emergencies)}")
    print(f"recall, emergency on any line:         {rate(caught_emergency, emergencies)}")
    print(f"recall, urgent (found urgent):         {rate(caught_urgent, urgent)}")
    both = rate(right_line + caught_urgent, emergencies + urgent)
    print(f"recall, emergency + urgent:            {both}")
    print(f"false-alarm rate on look-alikes:       {rate(false_alarms, lookalikes)}")
    print(f"exact level:                           {rate(exact, len(cases))}")
    if misses:
        print("missed:", " ".join(misses))
    if alarms:
        print("false alarms:", " ".join(alarms))
    print("kind / found" + "".join(f"{level:>11}" for level in LEVELS))
    for kind in KINDS:
        counts = [confusion[kind, level] for level in LEVELS]
        if sum(counts):
            print(f"{kind:<12}" + "".join(f"{n:>11}" for n in counts))


def throughput(name: str, texts: Sequence[str], rules: UrgencyRules, seconds: float) -> None:
    if not texts:
        return
    # CPU time of this process, so other work on a shared machine counts less.
    runs = 0
    start = time.process_time()
    while True:
        for text in texts:
            rules.assess(text)
        runs += 1
        elapsed = time.process_time() - start
        if elapsed >= seconds:
            break
    per_second = runs * len(texts) / elapsed
    mean_chars = statistics.fmean(len(t) for t in texts)
    print(f"{name:<44} {per_second:>10,.0f} texts/s  (mean {mean_chars:,.0f} characters)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, help="the shared data folder (../shared/data)")
    parser.add_argument("--rules", type=Path, help="a rule list other than the shipped one")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per throughput run")
    args = parser.parse_args()
    shared = args.shared or get_settings().shared_data
    if not shared.is_absolute():
        shared = (REPO / shared).resolve()
    appeals = shared / "appeals"
    rules = load_rules(args.rules)
    print(f"rules version {rules.version}: {len(rules.rule_ids)} rules")
    cases = read_cases(appeals)
    written = [c for c in cases if c.source == "written"]
    frozen = [c for c in written if c.case_id.startswith("H")]
    real = [c for c in cases if c.source == "real"]
    report("written", written, rules)
    report("written after the rules were frozen (H…)", frozen, rules)
    report("real (appeals train.csv/test.csv)", real, rules)
    report("all", cases, rules)

    others = other_messages(appeals)
    flagged = Counter(rules.assess(text).level.value for _, text in others)
    print(
        f"\n== other real messages, unlabelled: {len(others)} ==\n"
        + ", ".join(f"{level} {flagged[level]}" for level in LEVELS)
        + f"  (handed over: {flagged['emergency'] / len(others):.2%})"
    )

    print("\n== throughput, one core ==")
    throughput("written cases", [c.text for c in written], rules, args.seconds)
    throughput("real cases (board messages)", [c.text for c in real], rules, args.seconds)
    throughput("all cases", [c.text for c in cases], rules, args.seconds)
    throughput("other real messages", [t for _, t in others], rules, args.seconds)
    # A typed hotline appeal is far shorter than a board post: the same real texts, cut.
    for length in (100, 200):
        cut = [t[:length] for _, t in others]
        throughput(f"other real messages, first {length} characters", cut, rules, args.seconds)


if __name__ == "__main__":
    main()
