"""Machine clients manage their own webhook subscriptions over HTTP with their API key."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.org.domain import ClientScope
from tests.notify.conftest import World, make_party


def test_create_list_get_delete_own_subscription(api: TestClient, world: World) -> None:
    headers = world.housing.headers
    created = api.post(
        "/api/v1/webhooks",
        json={"url": "https://zj.example/minyi", "event_types": ["dispatch", "chase"]},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["url"] == "https://zj.example/minyi"
    assert body["event_types"] == ["dispatch", "chase"]
    assert body["active"] is True
    assert body["secret"].startswith("whsec_")
    sub_id = body["id"]

    listed = api.get("/api/v1/webhooks", headers=headers)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()] == [sub_id]
    assert "secret" not in listed.json()[0]  # shown once, at creation
    one = api.get(f"/api/v1/webhooks/{sub_id}", headers=headers)
    assert one.status_code == 200 and "secret" not in one.json()

    deleted = api.delete(f"/api/v1/webhooks/{sub_id}", headers=headers)
    assert deleted.status_code == 204
    assert api.get("/api/v1/webhooks", headers=headers).json() == []
    assert api.delete(f"/api/v1/webhooks/{sub_id}", headers=headers).status_code == 404


def test_another_clients_subscription_is_not_found(api: TestClient, world: World) -> None:
    created = api.post(
        "/api/v1/webhooks", json={"url": "https://zj.example/h"}, headers=world.housing.headers
    )
    sub_id = created.json()["id"]
    other = world.environment.headers

    for response in (
        api.get(f"/api/v1/webhooks/{sub_id}", headers=other),
        api.delete(f"/api/v1/webhooks/{sub_id}", headers=other),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "webhook_not_found"
        assert response.json()["message"] == "找不到该订阅"
    assert api.get("/api/v1/webhooks", headers=other).json() == []
    # still there for its owner
    assert len(api.get("/api/v1/webhooks", headers=world.housing.headers).json()) == 1


def test_bad_url_is_422_in_two_languages(api: TestClient, world: World) -> None:
    response = api.post(
        "/api/v1/webhooks", json={"url": "ftp://zj.example/h"}, headers=world.housing.headers
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "webhook_bad_url"
    assert "http" in body["message"] and "http://" in body["message_en"]
    assert body["details"] == {"url": "ftp://zj.example/h"}


def test_bad_event_type_and_unknown_fields_are_422(api: TestClient, world: World) -> None:
    bad_type = api.post(
        "/api/v1/webhooks",
        json={"url": "https://zj.example/h", "event_types": ["DROP TABLE"]},
        headers=world.housing.headers,
    )
    assert bad_type.status_code == 422
    assert bad_type.json()["code"] == "webhook_bad_event_type"
    extra = api.post(
        "/api/v1/webhooks",
        json={"url": "https://zj.example/h", "secret": "mine"},
        headers=world.housing.headers,
    )
    assert extra.status_code == 422
    assert extra.json()["code"] == "validation_error"


def test_key_missing_wrong_or_without_scope(
    api: TestClient, session: Session, world: World
) -> None:
    missing = api.get("/api/v1/webhooks")
    assert missing.status_code == 401
    assert missing.json()["code"] == "api_key_missing"
    wrong = api.get("/api/v1/webhooks", headers={"X-API-Key": world.housing.key + "x"})
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_api_key"
    writer = make_party(session, world.housing.unit, "zj-intake", (ClientScope.APPEALS_CREATE,))
    no_scope = api.get("/api/v1/webhooks", headers=writer.headers)
    assert no_scope.status_code == 403
    assert no_scope.json()["code"] == "scope_missing"
