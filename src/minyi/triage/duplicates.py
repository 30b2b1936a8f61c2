"""Repeats (重复件) and near-duplicates at intake: find earlier tickets about the same matter.

Two kinds of link are offered to the dispatcher, who may merge with the existing bulk-merge
action; nothing here merges (SPEC §4: every machine decision can be overruled):

- **repeat**: the same requester about the same matter within 30 days, wherever it is
  (a caller chasing an unanswered appeal by filing it again);
- **duplicate**: an appeal of any requester about the same matter in the same district
  within 90 days (twelve neighbours reporting one building site).

How: every ticket's TF-IDF word signature (`duplicates_signature`) is stored with its 12
most distinctive words as keys (`duplicate_models`). Candidates are the recent tickets of
the district that share keys with the new appeal, most shared keys first, read through one
index; a requester's recent tickets are read through another. Each candidate is then
scored exactly (cosine of the stored vectors) and kept above the measured thresholds.

What keeps it within 5 ms at a million tickets (benchmarks/duplicates.py): each key's
postings are read newest first and cut at `POSTINGS_PER_KEY`, so a common word costs no
more than a rare one; on PostgreSQL the keys travel as one array parameter, so the
statement's text never changes and the driver prepares it; the candidates are scored in
one numpy pass.

Closed and merged tickets are still returned (with `is_open` false and the reason saying
so): the dispatcher may link the new appeal to the case that already answered it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    bindparam,
    delete,
    desc,
    func,
    insert,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from minyi.tickets.models import Ticket
from minyi.triage.duplicate_models import DuplicateKey, DuplicateSignature
from minyi.triage.duplicates_signature import (
    Signature,
    pack,
    packed_similarities,
    signature,
)

__all__ = [
    "DUPLICATE_THRESHOLD",
    "REPEAT_THRESHOLD",
    "Related",
    "find_related",
    "index_ticket",
    "related_for_ticket",
    "signature",
]

REPEAT_DAYS = 30
DUPLICATE_DAYS = 90
# Chosen on the real messages by benchmarks/duplicates.py. Duplicates: the lowest cosine
# with precision >= 0.95 on hot-issue and repeat-posting pairs against same-category pairs
# (0.20: precision 0.96, recall 0.47). Repeats: the best F1 among one user's messages
# (0.55: precision 0.65, recall 0.71). Repeats need more, not less, than duplicates: one
# person's other appeals name the same estate and street, so they share distinctive words.
DUPLICATE_THRESHOLD = 0.20
REPEAT_THRESHOLD = 0.55
# Candidates re-scored per look-up: the tickets sharing the most keys; and postings read
# per key, newest first (see _candidate_statement). Measured at 1,000,000 tickets
# (benchmarks/duplicates.py): 20 and 200 return 98.5% of the links that reading every
# posting with 40 candidates returns, at about two thirds of its median time and half its
# 99th percentile; 40 and 200 keep 99.7% but miss 5 ms at p99.
CANDIDATES = 20
POSTINGS_PER_KEY = 200
# A requester's tickets looked at for repeats (a requester with more in 30 days is rare).
REQUESTER_TICKETS = 50


class Kind(StrEnum):
    REPEAT = "repeat"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Related:
    ticket_id: int
    tracking_code: str
    kind: str  # Kind.REPEAT | Kind.DUPLICATE
    similarity: float  # 0..1
    is_open: bool
    reason: str  # plain Chinese, for the dispatcher


def index_ticket(session: Session, ticket: Ticket, *, new: bool = False) -> None:
    """Add the ticket to the index, in the caller's transaction (called at intake once the
    ticket has its id and district). Calling it again re-indexes: the text or the district
    may have changed; `new` (a ticket just opened, never indexed) skips clearing old rows."""
    conn = session.connection()
    if not new:
        conn.execute(delete(DuplicateKey).where(DuplicateKey.ticket_id == ticket.id))
        conn.execute(delete(DuplicateSignature).where(DuplicateSignature.ticket_id == ticket.id))
    sig = signature(ticket.text)
    if not sig:
        return
    # Core statements on the session's connection: no autoflush, no ORM bookkeeping, and
    # parameter lists, so the compiled statements are cached whatever the number of keys.
    conn.execute(
        insert(DuplicateSignature),
        [
            {
                "ticket_id": ticket.id,
                "requester_id": ticket.requester_id,
                "district_id": ticket.district_id,
                "received_at": ticket.received_at,
                "terms": pack(sig),
            }
        ],
    )
    conn.execute(
        insert(DuplicateKey),
        [
            {
                "ticket_id": ticket.id,
                "key": key,
                "district_id": ticket.district_id,
                "received_at": ticket.received_at,
            }
            for key in dict.fromkeys(sig.keys)
        ],
    )


def find_related(
    session: Session,
    *,
    text: str,
    requester_id: int | None,
    area_id: int | None,
    district_id: int | None,
    now: datetime,
    exclude_ticket_id: int | None = None,
    limit: int = 5,
) -> list[Related]:
    """Earlier tickets the appeal repeats or duplicates: repeats first, then by similarity.

    With `district_id` unknown, duplicates are looked for in the whole city."""
    sig = signature(text)
    if not sig:
        return []
    return _find(
        session,
        sig,
        requester_id=requester_id,
        area_id=area_id,
        district_id=district_id,
        now=now,
        exclude_ticket_id=exclude_ticket_id,
        limit=limit,
    )


def related_for_ticket(
    session: Session, ticket: Ticket, *, now: datetime, limit: int = 5
) -> list[Related]:
    """The links to offer on a ticket's page: earlier and later tickets, never itself."""
    return find_related(
        session,
        text=ticket.text,
        requester_id=ticket.requester_id,
        area_id=ticket.area_id,
        district_id=ticket.district_id,
        now=now,
        exclude_ticket_id=ticket.id,
        limit=limit,
    )


# --- the look-up ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    ticket_id: int
    tracking_code: str
    is_open: bool
    merged_into_id: int | None
    area_id: int | None
    district_id: int | None
    requester_id: int | None
    received_at: datetime
    score: float


def _find(
    session: Session,
    sig: Signature,
    *,
    requester_id: int | None,
    area_id: int | None,
    district_id: int | None,
    now: datetime,
    exclude_ticket_id: int | None,
    limit: int,
) -> list[Related]:
    found: list[Related] = []
    for c in _candidates(session, sig, requester_id, district_id, now, exclude_ticket_id):
        related = _judge(
            c, requester_id=requester_id, area_id=area_id, district_id=district_id, now=now
        )
        if related is not None:
            found.append(related)
    found.sort(key=lambda r: (r.kind != Kind.REPEAT, -r.similarity, -r.ticket_id))
    return found[:limit]


def _candidates(
    session: Session,
    sig: Signature,
    requester_id: int | None,
    district_id: int | None,
    now: datetime,
    exclude_ticket_id: int | None,
) -> list[_Candidate]:
    """The candidates with what scoring and judging need, in one statement (one round
    trip: at intake every millisecond counts): the recent tickets of the district sharing
    the most keys, and the requester's recent tickets."""
    conn = session.connection()
    keys = list(dict.fromkeys(sig.keys))
    lateral = conn.dialect.name == "postgresql"
    stmt = _candidate_statement(
        lateral,
        0 if lateral else len(keys),
        district_id is not None,
        requester_id is not None,
        exclude_ticket_id is not None,
    )
    params: dict[str, object] = (
        {"keys": keys} if lateral else {f"key{i}": key for i, key in enumerate(keys)}
    )
    params |= {
        "key_since": now - timedelta(days=DUPLICATE_DAYS),
        "repeat_since": now - timedelta(days=REPEAT_DAYS),
        "now": now,
        "district_id": district_id,
        "requester_id": requester_id,
        "exclude_id": exclude_ticket_id,
    }
    # Core, not ORM: plain rows, and the statement is built once per shape.
    rows = conn.execute(stmt, params).all()
    scores = packed_similarities(sig, [row.terms for row in rows])
    return [
        _Candidate(
            ticket_id=row.ticket_id,
            tracking_code=row.tracking_code,
            is_open=row.is_open,
            merged_into_id=row.merged_into_id,
            area_id=row.area_id,
            district_id=row.district_id,
            requester_id=row.requester_id,
            received_at=row.received_at,
            score=score,
        )
        for row, score in zip(rows, scores, strict=True)
    ]


_Row = Select[int, bytes, int | None, datetime, str, bool, int | None, int | None, int | None]


@lru_cache(maxsize=64)
def _candidate_statement(
    lateral: bool, keys: int, by_district: bool, by_requester: bool, excluding: bool
) -> _Row:
    """One statement per shape, compiled once. On PostgreSQL the keys are one array
    parameter read through LATERAL, so the text is the same for every appeal and short
    enough for psycopg to prepare it (it prepares nothing over 4 kB): planning the 12-way
    union took as long as running it. SQLite, without LATERAL, gets the union."""
    # Each key's postings read newest first and cut at POSTINGS_PER_KEY: a common word's
    # list in a district's 90 days runs to thousands of rows at a million tickets, and
    # counting them all was most of the look-up's time. A rare word's list is read whole.

    def postings(key: ColumnElement[int]) -> Select[int]:
        stmt = (
            select(DuplicateKey.ticket_id.label("ticket_id"))
            .where(
                DuplicateKey.key == key,
                DuplicateKey.received_at >= bindparam("key_since"),
                DuplicateKey.received_at <= bindparam("now"),
            )
            .order_by(desc(DuplicateKey.received_at))
            .limit(POSTINGS_PER_KEY)
        )
        if by_district:
            stmt = stmt.where(DuplicateKey.district_id == bindparam("district_id"))
        if excluding:
            stmt = stmt.where(DuplicateKey.ticket_id != bindparam("exclude_id"))
        return stmt

    if lateral:
        key_list = (
            func.unnest(bindparam("keys", type_=ARRAY(BigInteger)))
            .table_valued("key")
            .render_derived()
        )
        per_key = postings(key_list.c.key).lateral()
        hits = select(per_key.c.ticket_id).select_from(key_list).join(per_key, true()).subquery()
    else:
        lists = [select(postings(bindparam(f"key{i}")).subquery().c.ticket_id) for i in range(keys)]
        hits = (union_all(*lists) if len(lists) > 1 else lists[0]).subquery()
    shared = func.count().label("shared")
    keyed = (
        select(hits.c.ticket_id)
        .group_by(hits.c.ticket_id)
        .order_by(desc(shared), desc(hits.c.ticket_id))
        .limit(CANDIDATES)
    )
    parts = [select(keyed.subquery().c.ticket_id)]
    if by_requester:
        mine = (
            select(DuplicateSignature.ticket_id.label("ticket_id"))
            .where(
                DuplicateSignature.requester_id == bindparam("requester_id"),
                DuplicateSignature.received_at >= bindparam("repeat_since"),
                DuplicateSignature.received_at <= bindparam("now"),
            )
            .order_by(desc(DuplicateSignature.received_at))
            .limit(REQUESTER_TICKETS)
        )
        if excluding:
            mine = mine.where(DuplicateSignature.ticket_id != bindparam("exclude_id"))
        parts.append(select(mine.subquery().c.ticket_id))
    wanted = union(*parts).subquery() if len(parts) > 1 else parts[0].subquery()
    return (
        select(
            DuplicateSignature.ticket_id,
            DuplicateSignature.terms,
            DuplicateSignature.requester_id,
            DuplicateSignature.received_at,
            Ticket.tracking_code,
            Ticket.is_open,
            Ticket.merged_into_id,
            Ticket.area_id,
            Ticket.district_id,
        )
        .join(Ticket, Ticket.id == DuplicateSignature.ticket_id)
        .where(DuplicateSignature.ticket_id.in_(select(wanted.c.ticket_id)))
    )


def _judge(
    c: _Candidate,
    *,
    requester_id: int | None,
    area_id: int | None,
    district_id: int | None,
    now: datetime,
) -> Related | None:
    score = round(c.score, 2)
    age = now - c.received_at
    if (
        requester_id is not None
        and c.requester_id == requester_id
        and age <= timedelta(days=REPEAT_DAYS)
        and c.score >= REPEAT_THRESHOLD
    ):
        kind, reason = Kind.REPEAT, f"同一来电人{REPEAT_DAYS}天内反映同一事项（相似度{score:.2f}）"
    elif (
        c.score >= DUPLICATE_THRESHOLD
        and age <= timedelta(days=DUPLICATE_DAYS)
        and (district_id is None or c.district_id == district_id)
    ):
        place = "同一地点" if area_id is not None and c.area_id == area_id else "同一区内"
        kind, reason = Kind.DUPLICATE, f"{place}的相似诉求（相似度{score:.2f}）"
    else:
        return None
    if c.merged_into_id is not None:
        reason += f"；该工单已并入工单{c.merged_into_id}"
    elif not c.is_open:
        reason += "；该工单已办结"
    return Related(
        ticket_id=c.ticket_id,
        tracking_code=c.tracking_code,
        kind=kind.value,
        similarity=score,
        is_open=c.is_open,
        reason=reason,
    )
