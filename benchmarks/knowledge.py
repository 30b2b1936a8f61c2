"""Instant answers (秒答) on real replies, split by time.

Run: `.venv/bin/python benchmarks/knowledge.py [--shared ../shared/data] [--json]`

Data: ../shared/data/appeals/replies.csv (附件4), ordered by reply time (答复时间, else
留言时间); the earlier 70 % build the knowledge base, the later 30 % are held out.

- Knowledge base: the drafts `minyi knowledge draft` proposes from the earlier part
  (clusters of near-identical replies, cosine ≥ 0.85 of character 2–3-gram TF-IDF after
  stripping greetings, handles, dates and numbers), as if an editor approved every draft
  without a privacy flag. Acknowledgements ("留言已收悉，已转…") are not drafted (a receipt
  closing an appeal would be wrong); the `with acknowledgements` lines show what serving
  them would do.
- Recurring held-out message: its real reply is near-identical (same test, ≥ 0.85) to at
  least one reply of the earlier part. Correct: the served entry's answer is near-identical
  to that real reply. Top-1 / top-3 are over all recurring held-out messages and over those
  whose template is in the knowledge base (reachable).
- Non-recurring held-out message: anything served at all above the threshold is wrong.
- Query: the message's subject and body, as a ticket's title and text reach `offer_for`.
- Latency: `KnowledgeIndex.search` per query (one thread), median and p99.

Only counts and figures are printed, never message text.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from minyi.core.config import get_settings
from minyi.triage.knowledge.domain import DEFAULT_THRESHOLD, IndexDoc, KnowledgeIndex
from minyi.triage.knowledge.drafts import (
    SAME_REPLY,
    DraftCandidate,
    ReplyRow,
    key_vectors,
    propose,
    read_replies,
    reply_key,
    split_by_time,
)

REPO = Path(__file__).resolve().parents[1]
THRESHOLDS = [0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9]


@dataclass
class Case:
    position: int
    row: ReplyRow
    query: str
    recurring: bool
    reachable: bool
    ranked: list[tuple[int, float]]  # (candidate position, score), best first


def _bodies(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["留言编号"].strip(): (r["留言详情"] or "") for r in csv.DictReader(fh)}


def evaluate(shared: Path, *, include_acks: bool, query_mode: str) -> dict[str, Any]:
    path = shared / "appeals" / "replies.csv"
    rows = read_replies(path)
    bodies = _bodies(path)
    earlier, later = split_by_time(rows)
    drafts = [
        d
        for d in propose(earlier)
        if not d.privacy_flags and (include_acks or not d.acknowledgement)
    ]
    index = KnowledgeIndex([IndexDoc(i, d.questions) for i, d in enumerate(drafts)])

    # One TF-IDF space for every reply and draft answer: "is this the same reply?"
    keys = [reply_key(r.reply) for r in earlier + later] + [reply_key(d.answer) for d in drafts]
    vectors = key_vectors(keys)
    n_early, n_late = len(earlier), len(later)
    early_v = vectors[:n_early]
    late_v = vectors[n_early : n_early + n_late]
    draft_v = vectors[n_early + n_late :]
    late_vs_early = (late_v @ early_v.T).toarray()
    late_vs_draft = (late_v @ draft_v.T).toarray() if drafts else np.zeros((n_late, 0))

    cases: list[Case] = []
    latencies: list[float] = []
    for i, row in enumerate(later):
        body = bodies.get(row.message_id, "")
        query = row.subject if query_mode == "subject" else f"{row.subject}\n{body}"
        started = time.perf_counter()
        hits = index.search(query, k=3)
        latencies.append((time.perf_counter() - started) * 1000)
        recurring = bool(reply_key(row.reply)) and late_vs_early[i].max(initial=0) >= SAME_REPLY
        reachable = recurring and late_vs_draft[i].max(initial=0) >= SAME_REPLY
        cases.append(Case(i, row, query, recurring, reachable, [(h.key, h.score) for h in hits]))

    def correct(case: Case, k: int, threshold: float) -> bool:
        return any(
            score >= threshold and late_vs_draft[case.position, key] >= SAME_REPLY
            for key, score in case.ranked[:k]
        )

    recurring = [c for c in cases if c.recurring]
    reachable = [c for c in cases if c.reachable]
    other = [c for c in cases if not c.recurring]

    def at(threshold: float) -> dict[str, Any]:
        served_other = sum(1 for c in other if c.ranked and c.ranked[0][1] >= threshold)
        served_rec = [c for c in recurring if c.ranked and c.ranked[0][1] >= threshold]
        right = sum(1 for c in recurring if correct(c, 1, threshold))
        return {
            "threshold": threshold,
            "recurring_top1": _share(right, len(recurring)),
            "recurring_top3": _share(
                sum(1 for c in recurring if correct(c, 3, threshold)), len(recurring)
            ),
            "reachable_top1": _share(
                sum(1 for c in reachable if correct(c, 1, threshold)), len(reachable)
            ),
            "recurring_served": len(served_rec),
            "precision_of_served_recurring": _share(right, len(served_rec)),
            "non_recurring_wrongly_served": served_other,
            "non_recurring_wrong_rate": _share(served_other, len(other)),
        }

    return {
        "data": "appeals/replies.csv, time split 70/30 by 答复时间 (else 留言时间)",
        "include_acknowledgements": include_acks,
        "query": query_mode,
        "rows": len(rows),
        "earlier": len(earlier),
        "held_out": len(later),
        "held_out_period": [later[0].time, later[-1].time] if later else None,
        "drafts_proposed": len(propose(earlier)),
        "entries_served": len(drafts),
        "held_out_recurring": len(recurring),
        "held_out_reachable": len(reachable),
        "held_out_non_recurring": len(other),
        "at_default": at(DEFAULT_THRESHOLD),
        "curve": [at(t) for t in THRESHOLDS],
        "latency_ms": {
            "median": round(statistics.median(latencies), 3),
            "p99": round(float(np.percentile(latencies, 99)), 3),
            "queries": len(latencies),
            "variants": sum(len(d.questions) for d in drafts),
        },
    }


def leave_one_out(shared: Path) -> dict[str, Any]:
    """Retrieval when the template is known: every message of a served recurring reply
    (whole file), asked with its own subject left out of the entry's variants (and the entry
    dropped when only its copies remained). Not a time split: a check of the matcher."""
    path = shared / "appeals" / "replies.csv"
    rows = read_replies(path)
    bodies = _bodies(path)
    by_id = {r.message_id: r for r in rows}
    drafts = [d for d in propose(rows) if not d.privacy_flags and not d.acknowledgement]
    top1 = {t: 0 for t in THRESHOLDS}
    top3 = 0
    cases = 0
    for position, draft in enumerate(drafts):
        for message_id in draft.message_ids:
            row = by_id[message_id]
            rest = [m for m in draft.message_ids if m != message_id]
            subjects = {by_id[m].subject for m in rest}
            docs = [
                IndexDoc(i, d.questions if i != position else tuple(sorted(subjects)))
                for i, d in enumerate(drafts)
                if i != position or len(rest) >= 2
            ]
            hits = KnowledgeIndex(docs).search(f"{row.subject}\n{bodies.get(message_id, '')}")
            cases += 1
            top3 += any(h.key == position for h in hits)
            for t in THRESHOLDS:
                top1[t] += bool(hits) and hits[0].key == position and hits[0].score >= t
    return {
        "data": "appeals/replies.csv, all rows; each message of a served template in turn",
        "cases": cases,
        "top3_any_score": _share(top3, cases),
        "top1_by_threshold": {str(t): _share(n, cases) for t, n in top1.items()},
    }


def _share(n: int, d: int) -> dict[str, Any]:
    return {"n": n, "of": d, "rate": round(n / d, 4) if d else None}


def _draft_summary(drafts: list[DraftCandidate]) -> dict[str, int]:
    return {
        "all": len(drafts),
        "acknowledgements": sum(d.acknowledgement for d in drafts),
        "privacy_flagged": sum(bool(d.privacy_flags) for d in drafts),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=None)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    shared = args.shared or get_settings().shared_data
    if not shared.is_absolute():
        shared = (REPO / shared).resolve()
    earlier, _ = split_by_time(read_replies(shared / "appeals" / "replies.csv"))
    report = {
        "threshold": DEFAULT_THRESHOLD,
        "drafts_from_earlier": _draft_summary(propose(earlier)),
        "served": evaluate(shared, include_acks=False, query_mode="subject+body"),
        "with_acknowledgements": evaluate(shared, include_acks=True, query_mode="subject+body"),
        "subject_only": evaluate(shared, include_acks=False, query_mode="subject"),
        "leave_one_out": leave_one_out(shared),
    }
    if args.json:
        json.dump(report, sys.stdout, ensure_ascii=False)
        print()
        return 0
    _print(report)
    return 0


def _fmt(share: dict[str, Any]) -> str:
    rate = share["rate"]
    return f"{share['n']}/{share['of']} ({rate:.1%})" if rate is not None else "n/a"


def _print(report: dict[str, Any]) -> None:
    _print_split(report)
    loo = report["leave_one_out"]
    print(f"\n== leave one out: {loo['data']}; {loo['cases']} cases")
    print(f"top-3 (any score): {_fmt(loo['top3_any_score'])}")
    for t, share in loo["top1_by_threshold"].items():
        print(f"  top-1 at threshold {t}: {_fmt(share)}")


def _print_split(report: dict[str, Any]) -> None:
    d = report["drafts_from_earlier"]
    print(f"threshold {report['threshold']}")
    print(
        f"drafts from the earlier 70 %: {d['all']} "
        f"({d['acknowledgements']} acknowledgements, {d['privacy_flagged']} privacy-flagged)"
    )
    for name in ("served", "with_acknowledgements", "subject_only"):
        r = report[name]
        print(f"\n== {name}: {r['data']}; query {r['query']}")
        print(
            f"rows {r['rows']}: earlier {r['earlier']}, held out {r['held_out']} "
            f"({r['held_out_period'][0]} .. {r['held_out_period'][1]}); "
            f"entries {r['entries_served']}"
        )
        print(
            f"held out: recurring {r['held_out_recurring']} "
            f"(template in the base: {r['held_out_reachable']}), "
            f"non-recurring {r['held_out_non_recurring']}"
        )
        print(
            f"{'thr':>5} {'recurring top-1':>18} {'top-3':>16} {'reachable top-1':>16} "
            f"{'precision served':>17} {'non-rec. served':>18}"
        )
        for p in r["curve"]:
            print(
                f"{p['threshold']:>5} {_fmt(p['recurring_top1']):>18} "
                f"{_fmt(p['recurring_top3']):>16} {_fmt(p['reachable_top1']):>16} "
                f"{_fmt(p['precision_of_served_recurring']):>17} "
                f"{_fmt(p['non_recurring_wrong_rate']):>18}"
            )
        lat = r["latency_ms"]
        print(
            f"latency per match: median {lat['median']} ms, p99 {lat['p99']} ms "
            f"({lat['queries']} queries, {lat['variants']} variants)"
        )


if __name__ == "__main__":
    raise SystemExit(main())
