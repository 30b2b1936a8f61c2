"""The audit trail is one hash chain; editing any row behind the application's back shows."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session

from minyi.audit import service
from minyi.audit.domain import GENESIS, ChainRow, entry_hash, first_break
from minyi.audit.models import AuditEntry

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def write(session: Session, n: int) -> None:
    for i in range(n):
        service.record(
            session, actor="user:1", action="ticket.accept", object_type="ticket", object_id=i
        )


def test_entries_chain_and_verify(session: Session) -> None:
    write(session, 5)
    result = service.verify(session)
    assert result.ok and result.entries == 5


def test_an_edited_row_is_caught_at_its_place(session: Session) -> None:
    write(session, 5)
    # behind the application's back: plain SQL, as someone with database access would
    session.execute(text("UPDATE audit_entry SET actor = 'user:999' WHERE seq = 3"))
    session.expire_all()
    result = service.verify(session)
    assert not result.ok
    assert result.broken is not None and result.broken.seq == 3
    assert "edited" in result.broken.reason


def test_a_deleted_row_is_caught(session: Session) -> None:
    write(session, 4)
    session.execute(text("DELETE FROM audit_entry WHERE seq = 2"))
    session.expire_all()
    broken = service.verify(session).broken
    assert broken is not None and broken.seq == 2


def test_a_rewritten_row_with_a_fresh_hash_still_breaks_the_next_link(session: Session) -> None:
    write(session, 3)
    row = session.query(AuditEntry).filter_by(seq=2).one()
    forged = entry_hash(
        prev_hash=row.prev_hash,
        seq=2,
        at=row.at,
        actor="user:666",
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        data=row.data,
    )
    session.execute(
        update(AuditEntry).where(AuditEntry.seq == 2).values(actor="user:666", hash=forged)
    )
    session.expire_all()
    broken = service.verify(session).broken
    assert broken is not None and broken.seq == 3


def test_pure_chain_check() -> None:
    h1 = entry_hash(
        prev_hash=GENESIS,
        seq=1,
        at=NOW,
        actor="a",
        action="x",
        object_type="t",
        object_id="1",
        data={},
    )
    row = ChainRow(1, NOW, "a", "x", "t", "1", {}, GENESIS, h1)
    assert first_break([row]) is None
    assert first_break([ChainRow(1, NOW, "b", "x", "t", "1", {}, GENESIS, h1)]) is not None


def test_cli_verify_reports_the_first_broken_link(scratch_db: tuple[Engine, str]) -> None:
    engine, url = scratch_db
    with Session(engine) as session:
        write(session, 3)
        session.commit()
    minyi = str(Path(sys.executable).with_name("minyi"))
    env = dict(os.environ, MINYI_DATABASE_URL=url)
    ok = subprocess.run([minyi, "audit", "verify"], env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "3 entries" in ok.stdout
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_entry SET data = '{\"x\": 1}' WHERE seq = 2"))
    bad = subprocess.run([minyi, "audit", "verify"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1
    assert "entry 2" in bad.stderr
    engine.dispose()


def test_concurrent_writers_make_one_chain(scratch_db: tuple[Engine, str]) -> None:
    engine, _ = scratch_db
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(10):
                with Session(engine) as session, session.begin():
                    service.record(
                        session, actor=f"user:{n}", action="x", object_type="t", object_id=i
                    )
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as session:
        result = service.verify(session)
    assert result.ok and result.entries == 60


def test_a_clock_in_china_time_still_verifies(session: Session) -> None:
    from zoneinfo import ZoneInfo

    from minyi.core.clock import FixedClock

    beijing = FixedClock(datetime(2026, 11, 2, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")))
    service.record(session, actor="cli", action="x", object_type="t", object_id=1, clock=beijing)
    session.expire_all()
    assert service.verify(session).ok
