"""POST requests over HTTP: a new request becomes an appeal on the open311 channel; every
bad request is refused in the spec's error shape (403 / 404 / 400) and stores nothing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.core.config import Settings, get_settings
from minyi.intake.domain import is_valid_tracking_code
from minyi.intake.models import Requester
from minyi.open311.service import CHOSEN_MARK
from minyi.tickets.models import Ticket
from minyi.triage.models import TriageDecision
from tests.open311.conftest import Open311World, Schemas

URL = "/open311/v2/requests"
TEXT = "幸福小区门口的路灯坏了一个星期，晚上很黑"


def form(o311: Open311World, **changes: str | None) -> dict[str, str]:
    data: dict[str, str | None] = {
        "api_key": o311.key,
        "jurisdiction_id": "minyi.example",
        "service_code": o311.lights.code,
        "lat": "22.5431",
        "long": "114.0579",
        "address_string": "东风街道幸福小区东门",
        "email": "wang@example.com",
        "first_name": "小明",
        "last_name": "王",
        "phone": "13812345678",
        "description": TEXT,
        "media_url": "https://photos.example.com/lamp.jpg",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def tickets(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Ticket)) or 0


def errors_of(response: Any, fmt: str) -> list[dict[str, str]]:
    if fmt == "json":
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        body: list[dict[str, str]] = response.json()
        return body
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(response.content)
    assert root.tag == "errors"
    return [{c.tag: c.text or "" for c in error} for error in root]


def test_a_request_becomes_an_open311_appeal_with_the_chosen_service(
    api: TestClient, session: Session, o311: Open311World, schemas: Schemas
) -> None:
    response = api.post(f"{URL}.json", data=form(o311))
    assert response.status_code == 200, response.text
    body = response.json()
    schemas.created.validate(body)
    (created,) = body
    assert set(created) == {"service_request_id", "service_notice"}  # no token: realtime
    ticket = session.get(Ticket, int(created["service_request_id"]))
    assert ticket is not None
    assert (ticket.channel, ticket.appeal_type, ticket.text) == ("open311", "request", TEXT)
    assert (ticket.lat, ticket.lon, ticket.address_text) == (
        22.5431,
        114.0579,
        "东风街道幸福小区东门",
    )
    # Triage (no model in tests) took the client's service as the item, and waits for a
    # dispatcher: the model did not confirm it.
    assert ticket.item_id == o311.lights.id and ticket.status == "received"
    decision = session.scalar(select(TriageDecision).where(TriageDecision.ticket_id == ticket.id))
    assert decision is not None and decision.outcome == "queue"
    assert CHOSEN_MARK in decision.explanation["items"][0]["matched"]
    assert ticket.routing["open311"]["media_url"] == "https://photos.example.com/lamp.jpg"
    assert ticket.source_client_id is not None and not ticket.anonymous
    requester = session.get(Requester, ticket.requester_id)
    assert requester is not None and (requester.name, requester.phone) == ("王小明", "13812345678")
    # The notice gives the tracking code to the client that filed it, and nothing personal.
    assert is_valid_tracking_code(ticket.tracking_code)
    assert ticket.tracking_code in created["service_notice"]
    assert "13812345678" not in response.text and "王" not in response.text


def test_the_xml_answer_and_a_request_without_phone_is_anonymous(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    data = form(o311, phone=None, first_name=None, last_name=None, lat=None, long=None)
    data["address_id"] = o311.world.town.community.code
    response = api.post(f"{URL}.xml", data=data)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(response.content)
    assert root.tag == "service_requests"
    (request,) = root
    assert request.tag == "request" and [c.tag for c in request] == [
        "service_request_id",
        "service_notice",
    ]
    ticket = session.get(Ticket, int(request.findtext("service_request_id") or "0"))
    assert ticket is not None and ticket.anonymous and ticket.requester_id is None
    assert ticket.area_id == o311.world.town.community.id


def test_attributes_set_the_appeal_type_and_anonymity(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    data = form(o311)
    data["attribute[appeal_type]"] = "complaint"
    data["attribute[anonymous]"] = "true"
    response = api.post(f"{URL}.json", data=data)
    assert response.status_code == 200, response.text
    ticket = session.get(Ticket, int(response.json()[0]["service_request_id"]))
    assert ticket is not None and ticket.appeal_type == "complaint" and ticket.anonymous
    assert ticket.requester_id is not None  # kept for the call-back, hidden from the unit


def test_a_service_printed_with_a_shared_code_is_named_by_its_path(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    response = api.post(f"{URL}.json", data=form(o311, service_code="T5-T502-T59999"))
    assert response.status_code == 200, response.text
    ticket = session.get(Ticket, int(response.json()[0]["service_request_id"]))
    assert ticket is not None and ticket.item_id == o311.shared_b.id


def test_with_triage_off_the_chosen_service_still_names_the_request(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    app = cast(FastAPI, api.app)
    app.dependency_overrides[get_settings] = lambda: Settings(triage_enabled=False)
    response = api.post(f"{URL}.json", data=form(o311))
    assert response.status_code == 200, response.text
    request_id = response.json()[0]["service_request_id"]
    ticket = session.get(Ticket, int(request_id))
    assert ticket is not None and ticket.item_id is None  # no one has classified it yet
    (row,) = api.get(f"{URL}/{request_id}.json").json()
    assert (row["service_code"], row["service_name"]) == ("T50101", "路灯不亮")
    listed = api.get(f"{URL}.json", params={"service_code": "T50101"}).json()
    assert [r["service_request_id"] for r in listed] == [request_id]
    assert api.get(f"{URL}.json", params={"service_code": "T40201"}).json() == []


def test_a_repeat_within_ten_minutes_opens_no_second_ticket(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    first = api.post(f"{URL}.json", data=form(o311))
    second = api.post(f"{URL}.json", data=form(o311))
    assert first.status_code == second.status_code == 200
    assert first.json()[0]["service_request_id"] == second.json()[0]["service_request_id"]
    assert "未重复受理" in second.json()[0]["service_notice"]
    assert tickets(session) == 1


def test_an_emergency_is_told_to_call_at_once(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    response = api.post(
        f"{URL}.json", data=form(o311, description="厨房燃气泄漏，闻到很大的煤气味")
    )
    assert response.status_code == 200, response.text
    assert "燃气抢修热线" in response.json()[0]["service_notice"]


def test_a_script_tag_is_refused_and_other_markup_is_returned_as_data(
    api: TestClient, session: Session, o311: Open311World, schemas: Schemas
) -> None:
    before = session.scalar(select(func.count()).select_from(Ticket))
    refused = api.post(f"{URL}.json", data=form(o311, description="<script>alert('x')</script>灯"))
    assert refused.status_code == 400, refused.text
    assert "网页代码" in refused.json()[0]["description"]
    assert session.scalar(select(func.count()).select_from(Ticket)) == before
    text = "<i>路灯</i> & 电线 <b>很危险</b>"
    created = api.post(f"{URL}.json", data=form(o311, description=text))
    assert created.status_code == 200, created.text
    request_id = created.json()[0]["service_request_id"]
    ticket = session.get(Ticket, int(request_id))
    assert ticket is not None and ticket.text == text
    as_json = api.get(f"{URL}/{request_id}.json")
    schemas.requests.validate(as_json.json())
    assert b"<" not in as_json.content and b"\\u003cb\\u003e" in as_json.content
    assert as_json.json()[0]["description"] == text
    as_xml = api.get(f"{URL}/{request_id}.xml")
    assert b"<b>" not in as_xml.content and b"&lt;b&gt;" in as_xml.content
    assert ET.fromstring(as_xml.content).findtext("request/description") == text
    assert as_xml.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"api_key": None}, 403, "api_key_missing"),
        ({"api_key": ""}, 403, "api_key_missing"),
        ({"api_key": "nope.not-a-key"}, 403, "api_key_invalid"),
        ({"service_code": None}, 400, "service_code_required"),
        ({"service_code": "NOPE"}, 404, "service_code_not_found"),
        ({"service_code": "T501"}, 404, "service_code_not_found"),  # not a finest item
        ({"service_code": "T59999"}, 404, "service_code_not_found"),  # ambiguous code
        ({"description": None}, 400, "description_required"),
        ({"description": "   "}, 400, "description_required"),
        ({"description": "灯" * 4001}, 400, "description_too_long"),
        ({"lat": "abc"}, 400, "lat_invalid"),
        ({"lat": "91"}, 400, "lat_invalid"),
        ({"long": "-180.5"}, 400, "long_invalid"),
        ({"lat": "nan"}, 400, "lat_invalid"),
        ({"long": "1e400"}, 400, "long_invalid"),
        ({"long": None}, 400, "lat_long_incomplete"),
        ({"lat": None, "long": None, "address_string": None}, 400, "location_required"),
        ({"media_url": "javascript:alert(1)"}, 400, "media_url_invalid"),
        ({"media_url": "not a url"}, 400, "media_url_invalid"),
        ({"phone": "12345"}, 400, "phone_invalid"),
        ({"address_id": "NO-SUCH-AREA"}, 400, "area_not_found"),
        ({"attribute[appeal_type]": "shouting"}, 400, "attribute_invalid"),
        ({"attribute[colour]": "red"}, 400, "attribute_unknown"),
        ({"attribute[emergency_notice]": "x"}, 400, "attribute_unknown"),
    ],
)
def test_bad_requests_are_refused_and_store_nothing(
    api: TestClient,
    session: Session,
    o311: Open311World,
    fmt: str,
    changes: dict[str, str | None],
    status: int,
    code: str,
) -> None:
    response = api.post(f"{URL}.{fmt}", data=form(o311, **changes))
    assert response.status_code == status, response.text
    errors = errors_of(response, fmt)
    assert code in [e["code"] for e in errors]
    assert all(e["description"] for e in errors)
    assert tickets(session) == 0


def test_a_key_without_the_appeals_scope_is_forbidden(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    response = api.post(f"{URL}.json", data=form(o311, api_key=o311.reader_key))
    assert response.status_code == 403
    assert errors_of(response, "json")[0]["code"] == "api_key_not_allowed"
    assert tickets(session) == 0


def test_every_problem_of_a_form_is_listed_at_once(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    response = api.post(
        f"{URL}.json",
        data=form(o311, description="", lat="north", media_url="ftp://x", service_code=None),
    )
    assert response.status_code == 400
    codes = {e["code"] for e in errors_of(response, "json")}
    assert codes == {
        "service_code_required",
        "description_required",
        "lat_invalid",
        "media_url_invalid",
    }


def test_ten_megabytes_of_text_are_refused_unread(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    response = api.post(f"{URL}.json", data=form(o311, description="灯" * (10 * 1024 * 1024 // 3)))
    assert response.status_code == 400
    assert errors_of(response, "json")[0]["code"] == "request_too_large"
    assert tickets(session) == 0


def test_only_url_encoded_forms_are_taken(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    multipart = api.post(
        f"{URL}.json", data=form(o311), files={"photo": ("a.jpg", b"\xff\xd8fake", "image/jpeg")}
    )
    assert multipart.status_code == 400
    assert errors_of(multipart, "json")[0]["code"] == "content_type_unsupported"
    as_json = api.post(f"{URL}.json", json=form(o311))
    assert as_json.status_code == 400
    not_utf8 = api.post(
        f"{URL}.json",
        content=b"description=%FF%FE&api_key=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_utf8.status_code == 400
    assert errors_of(not_utf8, "json")[0]["code"] == "form_invalid"
    assert tickets(session) == 0


def test_the_api_key_may_come_in_the_query_string(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    response = api.post(f"{URL}.json?api_key={o311.key}", data=form(o311, api_key=None))
    assert response.status_code == 200, response.text
    assert tickets(session) == 1


def test_an_unknown_format_is_a_bad_request_in_xml(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    response = api.post(f"{URL}.html", data=form(o311))
    assert response.status_code == 400
    assert errors_of(response, "xml")[0]["code"] == "format_unsupported"
    assert tickets(session) == 0
