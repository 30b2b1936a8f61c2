"""Fixtures of the notify tests: a unit with a machine client, an app with the webhook routes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.org import service as org
from minyi.org.domain import ClientScope, UnitKind
from minyi.org.models import MachineClient, Unit
from tests.factories import make_town, make_unit


@dataclass
class Party:
    """A unit and its own case system, with the system's API key."""

    unit: Unit
    client: MachineClient
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key}


def make_party(
    session: Session,
    unit: Unit,
    name: str,
    scopes: tuple[ClientScope, ...] = (ClientScope.TICKETS_READ,),
) -> Party:
    client, key = org.create_machine_client(session, name=name, scopes=scopes, unit=unit)
    return Party(unit, client, key)


@dataclass
class World:
    housing: Party  # 住建局
    environment: Party  # 生态环境局
    street: Party  # 东风街道办


@pytest.fixture()
def world(session: Session, clock: FixedClock) -> World:
    town = make_town(session)
    housing = make_unit(session, "ZJ", town.district, name="住建局")
    environment = make_unit(session, "HB", town.district, name="生态环境局")
    street = make_unit(session, "DF", town.street, UnitKind.STREET_OFFICE, name="东风街道办")
    return World(
        housing=make_party(session, housing, "zj-system"),
        environment=make_party(session, environment, "hb-system"),
        street=make_party(session, street, "df-system"),
    )


@pytest.fixture()
def api(client: TestClient) -> TestClient:
    return client
