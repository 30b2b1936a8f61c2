"""The organisation over HTTP: login, areas, units, admin-only machine clients."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.org.domain import Role
from tests.factories import login, make_town, make_unit, make_user


def test_login_with_password_form_then_me(client: TestClient, session: Session) -> None:
    town = make_town(session)
    unit = make_unit(session, "U1", town.district)
    make_user(session, "disp", Role.DISPATCHER, unit)
    headers = login(client, "disp")
    me = client.get("/api/v1/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["role"] == "dispatcher"


def test_wrong_password_is_401_in_two_languages(client: TestClient, session: Session) -> None:
    make_user(session, "someone", Role.CITIZEN)
    response = client.post("/api/v1/auth/token", data={"username": "someone", "password": "x"})
    assert response.status_code == 401
    assert response.json()["code"] == "bad_credentials"
    assert response.json()["message"] == "用户名或密码错误"


def test_me_without_token_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_areas_filter_by_level_and_paginate(client: TestClient, session: Session) -> None:
    make_town(session)
    response = client.get("/api/v1/areas", params={"level": "street", "limit": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2 and len(body["items"]) == 1
    assert body["items"][0]["level"] == "street"


def test_bad_level_is_a_422_with_the_field_named(client: TestClient) -> None:
    response = client.get("/api/v1/areas", params={"level": "planet"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["details"][0]["field"].endswith("level")


def test_only_admins_create_machine_clients(client: TestClient, session: Session) -> None:
    town = make_town(session)
    unit = make_unit(session, "U1", town.district)
    make_user(session, "handler", Role.HANDLER, unit)
    make_user(session, "root", Role.ADMIN)
    payload = {"name": "区案件系统", "area_code": town.district.code, "scopes": ["appeals:create"]}

    denied = client.post(
        "/api/v1/admin/machine-clients", json=payload, headers=login(client, "handler")
    )
    assert denied.status_code == 403
    assert denied.json()["code"] == "role_not_allowed"

    created = client.post(
        "/api/v1/admin/machine-clients", json=payload, headers=login(client, "root")
    )
    assert created.status_code == 201
    assert created.json()["api_key"].startswith("mk_")


def test_unit_detail_lists_sections(client: TestClient, session: Session) -> None:
    town = make_town(session)
    unit = make_unit(session, "U1", town.district)
    response = client.get(f"/api/v1/units/{unit.id}")
    assert response.status_code == 200
    assert response.json()["jurisdiction_area_ids"] == [town.district.id]
    assert client.get("/api/v1/units/999999").json()["code"] == "unit_not_found"
