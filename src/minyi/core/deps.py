"""FastAPI dependencies: one session (one transaction) per request, settings, clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from minyi.core.clock import Clock, get_clock
from minyi.core.config import Settings, get_settings
from minyi.core.db import session_factory
from minyi.triage.engine import TriageEngine, get_engine


def get_session() -> Iterator[Session]:
    """Commit when the request succeeds, roll back on any error: nothing half-stored."""
    session = session_factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit happens before the response is sent, so a client is never
# told "done" (a tracking code, a 200) for a change whose commit then fails.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]


def get_triage_engine(settings: Annotated[Settings, Depends(get_settings)]) -> TriageEngine:
    return get_engine(settings)


TriageDep = Annotated[TriageEngine, Depends(get_triage_engine)]
