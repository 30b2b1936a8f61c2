"""Fixtures of the Open311 tests: the small world with a few more services, machine
clients, and validators built from the GeoReport v2 JSON schemas in the shared data
(read at run time, never copied here)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.catalogue.models import Item
from minyi.core.clock import FixedClock
from minyi.intake.filestore import DirectoryFileStore, get_file_store
from minyi.org import service as org
from minyi.org.domain import ClientScope
from tests.factories import World, make_batch, make_world

_SCHEMAS = ("service.json", "services.json", "service-definition.json", "request.json")


@dataclass
class Open311World:
    world: World
    key: str  # a machine client allowed to file appeals
    reader_key: str  # a machine client that may only read tickets
    lights: Item  # 市政 > 路灯 > 路灯不亮
    shared_a: Item  # two leaves printed with the same code, as 090499 is
    shared_b: Item


def add_services(session: Session, world: World) -> tuple[Item, Item, Item]:
    batch = make_batch(session, "2026-02")
    top = catalogue.add_item(session, batch=batch, code="T5", name="市政", parent=None)
    mid = catalogue.add_item(session, batch=batch, code="T501", name="路灯", parent=top)
    lights = catalogue.add_item(
        session,
        batch=batch,
        code="T50101",
        name="路灯不亮",
        parent=mid,
        definition="路灯损坏、夜间不亮",
        keywords=["路灯", "照明"],
    )
    other = catalogue.add_item(session, batch=batch, code="T502", name="生活服务", parent=top)
    shared_a = catalogue.add_item(session, batch=batch, code="T59999", name="其他", parent=mid)
    shared_b = catalogue.add_item(session, batch=batch, code="T59999", name="", parent=other)
    catalogue.add_responsibility(
        session, batch=batch, item=lights, area=world.town.district, lead_unit_id=world.bureau.id
    )
    return lights, shared_a, shared_b


def make_open311_world(session: Session) -> Open311World:
    world = make_world(session)
    lights, shared_a, shared_b = add_services(session, world)
    _, key = org.create_machine_client(
        session, name="市民随手拍", scopes=[ClientScope.APPEALS_CREATE]
    )
    _, reader_key = org.create_machine_client(
        session, name="只读系统", scopes=[ClientScope.TICKETS_READ], unit=world.bureau
    )
    session.flush()
    return Open311World(world, key, reader_key, lights, shared_a, shared_b)


@pytest.fixture()
def o311(session: Session, clock: FixedClock) -> Open311World:
    return make_open311_world(session)


@pytest.fixture()
def api(client: TestClient, tmp_path: Path) -> TestClient:
    """The shared client, with any file going to this test's own store (none should)."""
    app = cast(FastAPI, client.app)
    store = DirectoryFileStore(tmp_path / "files")
    app.dependency_overrides[get_file_store] = lambda: store
    return client


class Schemas:
    """Validators of the GeoReport v2 JSON schemas, and of the Swagger file's answers to
    POST requests and tokens (which have no schema file of their own)."""

    def __init__(self, folder: Path) -> None:
        contents = {name: json.loads((folder / name).read_text("utf-8")) for name in _SCHEMAS}
        contents["requests.json"] = json.loads((folder / "requests.json").read_text("utf-8"))
        registry: Registry[Any] = Registry().with_resources(
            (name, Resource.from_contents(body, default_specification=DRAFT202012))
            for name, body in contents.items()
        )
        swagger = json.loads((folder / "swagger.json").read_text("utf-8"))["definitions"]

        def validator(schema: dict[str, Any]) -> Draft202012Validator:
            Draft202012Validator.check_schema(schema)
            return Draft202012Validator(schema, registry=registry)

        self.services = validator(contents["services.json"])
        self.definition = validator(contents["service-definition.json"])
        self.requests = validator(contents["requests.json"])
        self.created = validator({"type": "array", "items": swagger["RequestResponse"]})
        self.token = validator({"type": "array", "items": swagger["TokenResponse"]})

    @staticmethod
    def dates_ok(rows: list[dict[str, Any]]) -> None:
        # jsonschema checks "format": "date-time" only with optional packages: by hand.
        for row in rows:
            for key, value in row.items():
                if key.endswith("_datetime") and value is not None:
                    assert datetime.fromisoformat(value).tzinfo is not None, (key, value)


@pytest.fixture(scope="session")
def schemas(shared_data: Path) -> Schemas:
    return Schemas(shared_data / "open311" / "schema")
