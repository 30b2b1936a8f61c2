"""`POST /api/v1/appeals` over HTTP: JSON and multipart, status codes, errors, size cap."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.intake import routes
from minyi.intake.domain import is_valid_tracking_code
from minyi.intake.filestore import DirectoryFileStore
from minyi.intake.models import Attachment, Requester
from minyi.tickets.models import Ticket
from tests.factories import login
from tests.intake import samples
from tests.intake.conftest import City, stored_files

TEXT = "小区门口路灯坏了一个星期，晚上很黑"


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": "web",
        "type": "request",
        "text": TEXT,
        "requester": {"name": "张先生", "phone": "13900001111"},
    }
    data.update(changes)
    return data


def count(session: Session, table: type[Any]) -> int:
    return session.scalar(select(func.count()).select_from(table)) or 0


def test_public_web_appeal_as_json(api: TestClient, session: Session, city: City) -> None:
    response = api.post("/api/v1/appeals", json=body())
    assert response.status_code == 201, response.text
    answer = response.json()
    # Triaged at once: with no trained model (the test default) it waits for a dispatcher.
    assert answer["created"] is True and answer["status"] == "received"
    assert answer["triage_outcome"] == "queue" and answer["urgency"] == "ordinary"
    assert is_valid_tracking_code(answer["tracking_code"])
    ticket = session.get(Ticket, answer["ticket_id"])
    assert ticket is not None and ticket.tracking_code == answer["tracking_code"]


def test_web_appeal_with_a_photo_is_stored_by_content_and_once(
    api: TestClient, session: Session, city: City, store: DirectoryFileStore
) -> None:
    image = samples.png(2, 2)
    first = api.post(
        "/api/v1/appeals",
        data={"data": json.dumps(body())},
        files=[("files", ("路灯.pdf", image, "application/pdf"))],
    )
    assert first.status_code == 201, first.text
    second = api.post(
        "/api/v1/appeals",
        data={"data": json.dumps(body(text="另一盏路灯也坏了"))},
        files=[("files", ("again.png", image, "image/png"))],
    )
    assert second.status_code == 201, second.text
    rows = list(session.scalars(select(Attachment).order_by(Attachment.id)))
    assert [(r.ticket_id, r.kind, r.mime) for r in rows] == [
        (first.json()["ticket_id"], "image", "image/png"),
        (second.json()["ticket_id"], "image", "image/png"),
    ]
    sha = rows[0].sha256
    assert rows[1].sha256 == sha
    assert stored_files(store) == [store.root / sha[:2] / sha[2:4] / sha]


def test_idempotency_key_header(api: TestClient, session: Session, city: City) -> None:
    headers = {"Idempotency-Key": "5f0c1c9e-0d7e-4a43-9b8f-1f0e2d3c4b5a"}
    first = api.post("/api/v1/appeals", json=body(), headers=headers)
    again = api.post("/api/v1/appeals", json=body(), headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["ticket_id"] == first.json()["ticket_id"]
    assert again.json()["created"] is False
    other = api.post("/api/v1/appeals", json=body(text="另一件事"), headers=headers)
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["message"] and other.json()["message_en"]
    assert count(session, Ticket) == 1


def test_a_repeat_without_a_key_within_ten_minutes_is_200(api: TestClient, city: City) -> None:
    first = api.post("/api/v1/appeals", json=body())
    again = api.post("/api/v1/appeals", json=body())
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["tracking_code"] == first.json()["tracking_code"]


def test_machine_client_files_on_the_system_channel(
    api: TestClient, session: Session, city: City
) -> None:
    response = api.post(
        "/api/v1/appeals", json=body(channel="system"), headers={"X-API-Key": city.system_key}
    )
    assert response.status_code == 201, response.text
    ticket = session.get(Ticket, response.json()["ticket_id"])
    assert ticket is not None and ticket.source_client_id == city.system.id


def test_machine_client_without_the_scope_is_403(api: TestClient, city: City) -> None:
    response = api.post(
        "/api/v1/appeals", json=body(channel="system"), headers={"X-API-Key": city.reader_key}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"


def test_staff_channel_needs_a_staff_token(api: TestClient, session: Session, city: City) -> None:
    nobody = api.post("/api/v1/appeals", json=body(channel="hotline"))
    assert nobody.status_code == 401
    citizen = api.post(
        "/api/v1/appeals", json=body(channel="hotline"), headers=login(api, "resident")
    )
    assert citizen.status_code == 403
    assert citizen.json()["code"] == "channel_not_allowed"
    agent = api.post("/api/v1/appeals", json=body(channel="hotline"), headers=login(api, "agent"))
    assert agent.status_code == 201
    assert count(session, Ticket) == 1


def test_anonymous_flag_is_stored(api: TestClient, session: Session, city: City) -> None:
    response = api.post("/api/v1/appeals", json=body(anonymous=True, requester=None))
    assert response.status_code == 201, response.text
    ticket = session.get(Ticket, response.json()["ticket_id"])
    assert ticket is not None and ticket.anonymous is True


def test_oversized_file_is_refused_and_nothing_is_stored(
    api: TestClient, session: Session, city: City, store: DirectoryFileStore
) -> None:
    huge = samples.png()[:8] + b"\x00" * (10 * 1024 * 1024 + 1)
    response = api.post(
        "/api/v1/appeals",
        data={"data": json.dumps(body())},
        files=[
            ("files", ("ok.png", samples.png(), "image/png")),
            ("files", ("big.png", huge, "image/png")),
        ],
    )
    assert response.status_code == 422
    answer = response.json()
    assert answer["code"] == "appeal_invalid"
    assert answer["details"] == [
        {
            "field": "files[1]",
            "code": "file_too_large",
            "reason": "图片不能超过 10 MB",
            "reason_en": "A file of kind image may be at most 10 MB",
            "file": "big.png",
        }
    ]
    assert (count(session, Ticket), count(session, Requester), count(session, Attachment)) == (
        0,
        0,
        0,
    )
    assert stored_files(store) == []


def test_random_bytes_named_jpg_are_refused(api: TestClient, city: City) -> None:
    response = api.post(
        "/api/v1/appeals",
        data={"data": json.dumps(body())},
        files=[("files", ("photo.jpg", bytes(range(256)) * 8, "image/jpeg"))],
    )
    assert response.status_code == 422
    assert response.json()["details"][0]["code"] == "file_type_unsupported"


def test_bad_fields_are_422_without_echoing_personal_data(api: TestClient, city: City) -> None:
    response = api.post(
        "/api/v1/appeals",
        json=body(requester={"phone": "99999", "id_number": "123"}, lon=300, lat=0),
    )
    assert response.status_code == 422
    codes = {d["code"] for d in response.json()["details"]}
    assert codes == {"phone_invalid", "id_number_invalid", "lon_invalid"}
    assert "99999" not in response.text


def test_malformed_json_and_unknown_types_are_422(api: TestClient, city: City) -> None:
    broken = api.post(
        "/api/v1/appeals", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422 and broken.json()["code"] == "validation_error"
    unknown = api.post("/api/v1/appeals", json=body(type="rumour", channel="fax"))
    assert unknown.status_code == 422
    assert {d["field"] for d in unknown.json()["details"]} == {"type", "channel"}
    missing = api.post(
        "/api/v1/appeals",
        data={"nothing": "here"},
        files=[("files", ("a.png", samples.png(), "image/png"))],
    )
    assert missing.status_code == 422 and missing.json()["details"][0]["field"] == "data"


def test_other_content_types_are_415(api: TestClient, city: City) -> None:
    response = api.post("/api/v1/appeals", content=b"text", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_giant_body_is_413(
    api: TestClient, session: Session, city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "MAX_REQUEST_BYTES", 4096)
    declared = api.post(
        "/api/v1/appeals",
        data={"data": json.dumps(body())},
        files=[("files", ("big.png", b"\x00" * 8192, "image/png"))],
    )
    assert declared.status_code == 413
    assert declared.json()["code"] == "request_too_large"
    assert declared.json()["message"] and declared.json()["message_en"]

    def chunks() -> Any:
        # No Content-Length: the cap counts what arrives.
        yield json.dumps(body())[:-1].encode()
        yield b', "address_text": "' + b"x" * 8192 + b'"}'

    streamed = api.post(
        "/api/v1/appeals", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert count(session, Ticket) == 0


def test_channel_and_type_lists_for_forms(api: TestClient) -> None:
    channels = api.get("/api/v1/appeals/channels").json()
    assert {"code": "hotline", "label": "12345热线", "access": "staff"} in channels
    assert len(channels) == 12
    types = api.get("/api/v1/appeals/types").json()
    assert [t["label"] for t in types] == ["投诉", "求助", "咨询", "建议", "举报", "表扬"]


def test_openapi_describes_both_bodies(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    content = spec["paths"]["/api/v1/appeals"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    assert "requester" in content["application/json"]["schema"]["properties"]
