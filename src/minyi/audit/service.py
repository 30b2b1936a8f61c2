"""Writing to and checking the audit trail.

Every writer locks the single head row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite's
write lock does the same), reads the last hash, appends, and moves the head — so however
many transactions write at once, the entries form one chain in commit order.
Call `record` late in a transaction: the head stays locked until commit.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.audit.domain import Break, ChainRow, entry_hash, first_break
from minyi.audit.models import AuditEntry, AuditHead
from minyi.core.clock import Clock, get_clock


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    data: Mapping[str, Any] | None = None,
    clock: Clock | None = None,
) -> AuditEntry:
    """Append one entry. `data` must never hold unmasked personal data."""
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:  # the migration creates it; only a hand-made database lacks it
        raise RuntimeError("audit_head row missing: run the migrations")
    # Hashed as stored (UTC): a clock in another zone must not break verification later.
    now = (clock or get_clock()).now().astimezone(UTC)
    payload = dict(data or {})
    seq = head.seq + 1
    digest = entry_hash(
        prev_hash=head.hash,
        seq=seq,
        at=now,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        data=payload,
    )
    entry = AuditEntry(
        seq=seq,
        at=now,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        data=payload,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(entry)
    head.seq, head.hash = seq, digest
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _rows(session: Session, batch: int = 5_000) -> Iterator[ChainRow]:
    last = 0
    while True:
        chunk = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not chunk:
            return
        for e in chunk:
            yield ChainRow(
                e.seq,
                e.at,
                e.actor,
                e.action,
                e.object_type,
                e.object_id,
                e.data,
                e.prev_hash,
                e.hash,
            )
        last = chunk[-1].seq


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; report the first entry that was edited, removed or moved."""
    count = 0

    def counted() -> Iterator[ChainRow]:
        nonlocal count
        for row in _rows(session):
            count += 1
            yield row

    broken = first_break(counted())
    head = session.get(AuditHead, 1)
    if broken is None and head is not None and head.seq != count:
        broken = Break(count + 1, f"the head says {head.seq} entries, the trail has {count}")
    return VerifyResult(entries=count, broken=broken)


def list_entries(
    session: Session,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[AuditEntry]:
    stmt = select(AuditEntry)
    if object_type:
        stmt = stmt.where(AuditEntry.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEntry.object_id == object_id)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    return list(session.scalars(stmt.order_by(AuditEntry.seq).offset(offset).limit(limit)))
