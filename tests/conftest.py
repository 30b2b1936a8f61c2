"""Test fixtures: a real database (SQLite, or PostgreSQL with MINYI_TEST_DB=postgresql),
migrated with Alembic once per run; each test runs inside a transaction rolled back at the
end, and the HTTP client shares that transaction.
"""

from __future__ import annotations

import os
import uuid

# Cheap password hashing in tests (same code path, lower cost); set before settings load.
os.environ.setdefault("MINYI_ARGON2_TIME_COST", "1")
os.environ.setdefault("MINYI_ARGON2_MEMORY_KIB", "1024")
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from minyi.api.app import create_app
from minyi.catalogue import service as catalogue_service
from minyi.core import clock as clock_module
from minyi.core.clock import FixedClock
from minyi.core.config import get_settings
from minyi.core.db import make_engine
from minyi.core.deps import get_session, get_triage_engine
from minyi.core.migrate import upgrade
from minyi.triage.engine import NoModel
from minyi.triage.locator import clear_locator_cache

REPO = Path(__file__).resolve().parents[1]


def _pg_admin_url() -> str:
    return os.environ.get("MINYI_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    kind = os.environ.get("MINYI_TEST_DB", "sqlite")
    if kind == "postgresql":
        # A database of its own per run, so that runs side by side never meet.
        admin_url = _pg_admin_url()
        name = f"minyi_test_{uuid.uuid4().hex[:10]}"
        conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        eng = make_engine(url)
        try:
            upgrade(eng)
            yield eng
        finally:
            eng.dispose()
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        eng = make_engine(f"sqlite:///{path}")
        upgrade(eng)
        yield eng
        eng.dispose()


@pytest.fixture()
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture()
def session(connection: Connection) -> Iterator[Session]:
    # Commits inside the code under test only release a savepoint: the outer transaction
    # is rolled back when the test ends, so every test starts from the migrated schema.
    sess = Session(bind=connection, join_transaction_mode="create_savepoint")
    catalogue_service.get_index().clear()
    clear_locator_cache()
    try:
        yield sess
    finally:
        sess.close()
        catalogue_service.get_index().clear()
        clear_locator_cache()


@pytest.fixture()
def clock() -> Iterator[FixedClock]:
    fixed = FixedClock(datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    previous = clock_module.get_clock()
    clock_module.set_clock(fixed)
    yield fixed
    clock_module.set_clock(previous)


@pytest.fixture()
def client(session: Session, clock: FixedClock) -> Iterator[TestClient]:
    app = create_app()

    def _session() -> Iterator[Session]:
        # Like the real dependency: what the test set up is kept, the request's own
        # changes are committed on success and rolled back on error.
        session.commit()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    app.dependency_overrides[get_session] = _session
    # No trained model unless a test passes one in: a developer's var/models stays out.
    app.dependency_overrides[get_triage_engine] = NoModel
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = get_settings().shared_data
    if not path.is_absolute():
        path = (REPO / path).resolve()
    if not (path / "catalogue").is_dir():
        pytest.fail(f"the real data is missing at {path} (set MINYI_SHARED_DATA)")
    return path


@pytest.fixture()
def scratch_db(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    """A migrated database of its own, for tests that commit or run several connections
    (concurrency, real server processes). Dropped afterwards."""
    kind = os.environ.get("MINYI_TEST_DB", "sqlite")
    if kind == "postgresql":
        admin_url = _pg_admin_url()
        name = f"minyi_scratch_{uuid.uuid4().hex[:10]}"
        conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        eng = make_engine(url)
        try:
            upgrade(eng)
            yield eng, url
        finally:
            eng.dispose()
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        url = f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        eng = make_engine(url)
        upgrade(eng)
        yield eng, url
        eng.dispose()
