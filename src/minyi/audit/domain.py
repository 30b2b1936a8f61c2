"""Hash chaining of the audit trail: each entry's hash covers its content and the previous hash.

Editing, deleting or reordering any entry breaks every link after it, so `verify` finds
the first entry that no longer fits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    data: Mapping[str, Any],
) -> str:
    body = json.dumps(
        {
            "prev": prev_hash,
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "type": object_type,
            "id": object_id,
            "data": data,
        },
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainRow:
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    data: Mapping[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Break:
    seq: int
    reason: str


def first_break(
    rows: Iterable[ChainRow], *, start_hash: str = GENESIS, start_seq: int = 0
) -> Break | None:
    """The first entry (in sequence order) whose link or content does not check out."""
    prev_hash, expected_seq = start_hash, start_seq + 1
    for row in rows:
        if row.seq != expected_seq:
            return Break(expected_seq, f"entry {expected_seq} is missing (found {row.seq})")
        if row.prev_hash != prev_hash:
            return Break(row.seq, "link to the previous entry is broken")
        computed = entry_hash(
            prev_hash=row.prev_hash,
            seq=row.seq,
            at=row.at,
            actor=row.actor,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            data=row.data,
        )
        if computed != row.hash:
            return Break(row.seq, "content does not match its hash (edited)")
        prev_hash, expected_seq = row.hash, row.seq + 1
    return None
