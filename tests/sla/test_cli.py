"""`minyi worker`: a real process against a real database, one pass and a clean Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from minyi.assessment.models import Card
from minyi.catalogue import service as catalogue_service
from minyi.core.clock import FixedClock
from minyi.notify.models import OutboxMessage
from minyi.tickets.domain import Action
from tests.factories import make_ticket, make_world
from tests.sla.test_timers import START, act

MINYI = str(Path(sys.executable).with_name("minyi"))


def _overdue_ticket(engine: Engine) -> None:
    # Dispatched on 2 November 2026: long overdue by the wall clock the worker reads.
    catalogue_service.get_index().clear()
    with Session(engine) as setup:
        world = make_world(setup)
        act(setup, make_ticket(setup, world), Action.DISPATCH, "dispatcher", FixedClock(START))
        setup.commit()
    catalogue_service.get_index().clear()


def test_worker_once_fires_the_due_cards_and_delivers(scratch_db: tuple[Engine, str]) -> None:
    engine, url = scratch_db
    _overdue_ticket(engine)
    env = dict(os.environ, MINYI_DATABASE_URL=url)
    done = subprocess.run(
        [MINYI, "worker", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "亮牌 cards" in done.stdout
    with Session(engine) as check:
        assert (check.scalar(select(func.count()).select_from(Card)) or 0) >= 3
        sla_messages = select(OutboxMessage).where(OutboxMessage.event_type.like("sla.%"))
        assert all(m.status != "pending" for m in check.scalars(sla_messages))
    again = subprocess.run(
        [MINYI, "worker", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert again.returncode == 0 and "亮牌 cards" not in again.stdout  # nothing fired twice


def test_worker_stops_cleanly_on_ctrl_c(scratch_db: tuple[Engine, str]) -> None:
    engine, url = scratch_db
    _overdue_ticket(engine)
    env = dict(os.environ, MINYI_DATABASE_URL=url, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [MINYI, "worker", "--interval", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the first pass's progress line
        assert "亮牌 cards" in first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "worker stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
