"""Fixtures of the intake tests: a small city with its people, a file store in `tmp_path`,
and an app with the intake routes mounted even before app.py has them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.intake.filestore import DirectoryFileStore, get_file_store
from minyi.org import service as org
from minyi.org.domain import ClientScope, Role, UnitKind
from minyi.org.models import MachineClient, User
from tests.factories import Town, make_town, make_unit, make_user


@dataclass
class City:
    town: Town
    agent: User  # 12345 hotline agent at the city centre
    grid_worker: User  # a handler at a grid station
    bureau_handler: User  # a handler at a district department
    citizen: User
    system: MachineClient  # the district's own case system, allowed to create appeals
    system_key: str
    reader: MachineClient  # a client that may only read tickets
    reader_key: str


@pytest.fixture()
def city(session: Session, clock: FixedClock) -> City:
    town = make_town(session)
    centre = make_unit(session, "C12345", town.city, UnitKind.DISPATCH_CENTRE, "12345中心")
    grid = make_unit(session, "G01", town.grid, UnitKind.GRID_STATION, "第一网格工作站")
    bureau = make_unit(session, "HB", town.district, name="生态环境局")
    citizen = make_user(session, "resident", Role.CITIZEN)
    citizen.phone = "13812345678"
    system, system_key = org.create_machine_client(
        session, name="区案件系统", scopes=[ClientScope.APPEALS_CREATE], area=town.district
    )
    reader, reader_key = org.create_machine_client(
        session, name="只读系统", scopes=[ClientScope.TICKETS_READ], unit=bureau
    )
    session.flush()
    return City(
        town=town,
        agent=make_user(session, "agent", Role.AGENT, centre),
        grid_worker=make_user(session, "gridder", Role.HANDLER, grid),
        bureau_handler=make_user(session, "bureau", Role.HANDLER, bureau),
        citizen=citizen,
        system=system,
        system_key=system_key,
        reader=reader,
        reader_key=reader_key,
    )


@pytest.fixture()
def store(tmp_path: Path) -> DirectoryFileStore:
    return DirectoryFileStore(tmp_path / "files")


@pytest.fixture()
def api(client: TestClient, store: DirectoryFileStore) -> TestClient:
    """The shared client, with attachments going to this test's own file store."""
    app = cast(FastAPI, client.app)
    app.dependency_overrides[get_file_store] = lambda: store
    return client


def stored_files(store: DirectoryFileStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file()) if store.root.exists() else []
