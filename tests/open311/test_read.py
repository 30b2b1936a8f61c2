"""The read endpoints over HTTP, as JSON (checked against the GeoReport v2 schemas) and as
XML: discovery, services, service definitions, requests (with the spec's filters), one
request, tokens; unknown things are 404 and bad filters 400, in the spec's error shape."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.open311 import domain
from minyi.org.models import User
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from tests.factories import make_ticket
from tests.open311.conftest import Open311World, Schemas
from tests.open311.test_post import errors_of, form

BASE = "/open311/v2"


def xml_rows(content: bytes, root: str) -> list[dict[str, Any]]:
    assert content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    element = ET.fromstring(content)
    assert element.tag == root
    return [{c.tag: c.text for c in child} for child in element]


def post(api: TestClient, o311: Open311World, **changes: str | None) -> str:
    response = api.post(f"{BASE}/requests.json", data=form(o311, **changes))
    assert response.status_code == 200, response.text
    request_id: str = response.json()[0]["service_request_id"]
    return request_id


def act(session: Session, ticket: Ticket, action: Action, username: str | None) -> None:
    if username is None:
        principal = Principal(session=session, tracking_ticket_id=ticket.id)
    else:
        user = session.query(User).filter_by(username=username).one()
        principal = Principal(session=session, user=user)
    tickets.act(session, ticket_id=ticket.id, action=action, principal=principal, reason="测试")


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [str(r["service_request_id"]) for r in rows]


def test_discovery_names_this_endpoint_and_both_formats(api: TestClient) -> None:
    answer = api.get(f"{BASE}/discovery.json")
    assert answer.status_code == 200
    (endpoint,) = answer.json()["endpoints"]
    assert endpoint["url"] == "http://testserver/open311/v2"
    assert endpoint["specification"] == domain.SPECIFICATION
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = ET.fromstring(api.get(f"{BASE}/discovery.xml").content)
    assert root.tag == "discovery"
    assert [f.text for f in root.iterfind("endpoints/endpoint/formats/format")] == [
        "text/xml",
        "application/json",
    ]


def test_services_are_the_finest_catalogue_items(
    api: TestClient, o311: Open311World, schemas: Schemas
) -> None:
    answer = api.get(f"{BASE}/services.json")
    assert answer.status_code == 200
    services = answer.json()
    schemas.services.validate(services)
    by_code = {s["service_code"]: s for s in services}
    # Leaves only; a code printed twice is named by its path; a nameless item by its parent.
    assert set(by_code) == {"T40201", "T50101", "T5-T501-T59999", "T5-T502-T59999"}
    assert by_code["T50101"] == {
        "service_code": "T50101",
        "service_name": "路灯不亮",
        "description": "路灯损坏、夜间不亮",
        "metadata": True,
        "type": "realtime",
        "keywords": "路灯,照明",
        "group": "市政",
    }
    assert by_code["T5-T502-T59999"]["service_name"] == "生活服务"
    assert by_code["T40201"]["keywords"] == "噪声污染"
    rows = xml_rows(api.get(f"{BASE}/services.xml").content, "services")
    assert {r["service_code"] for r in rows} == set(by_code)
    lights = next(r for r in rows if r["service_code"] == "T50101")
    assert (lights["metadata"], lights["type"], lights["group"]) == ("true", "realtime", "市政")


def test_a_service_definition_lists_its_attributes(
    api: TestClient, o311: Open311World, schemas: Schemas
) -> None:
    answer = api.get(f"{BASE}/services/T50101.json")
    assert answer.status_code == 200
    definition = answer.json()
    schemas.definition.validate(definition)
    assert definition["service_code"] == "T50101"
    attributes = {a["code"]: a for a in definition["attributes"]}
    assert [v["key"] for v in attributes["appeal_type"]["values"]] == [
        "complaint",
        "request",
        "consultation",
        "suggestion",
        "report",
        "praise",
    ]
    assert attributes["emergency_notice"]["variable"] is False
    assert "119" in attributes["emergency_notice"]["description"]
    shared = api.get(f"{BASE}/services/T5-T501-T59999.json")
    assert shared.status_code == 200 and shared.json()["service_code"] == "T5-T501-T59999"
    root = ET.fromstring(api.get(f"{BASE}/services/T50101.xml").content)
    assert root.tag == "service_definition" and root.findtext("service_code") == "T50101"
    keys = [k.text for k in root.iterfind("attributes/attribute/values/value/key")]
    assert keys[:2] == ["complaint", "request"] and "true" in keys


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("code", ["NOPE", "T5", "T501", "T59999"])
def test_an_unknown_service_is_404(
    api: TestClient, o311: Open311World, fmt: str, code: str
) -> None:
    answer = api.get(f"{BASE}/services/{code}.{fmt}")
    assert answer.status_code == 404
    assert errors_of(answer, fmt)[0]["code"] == "service_code_not_found"


def test_a_request_as_the_public_sees_it(
    api: TestClient, session: Session, o311: Open311World, schemas: Schemas
) -> None:
    request_id = post(api, o311)
    answer = api.get(f"{BASE}/requests/{request_id}.json")
    assert answer.status_code == 200
    body = answer.json()
    schemas.requests.validate(body)
    schemas.dates_ok(body)
    (row,) = body
    assert row == {
        "service_request_id": request_id,
        "status": "open",
        "status_notes": "已受理",
        "service_name": "路灯不亮",
        "service_code": "T50101",
        "description": "幸福小区门口的路灯坏了一个星期，晚上很黑",
        "agency_responsible": None,
        "service_notice": None,
        "requested_datetime": "2026-11-02T09:00:00+08:00",
        "updated_datetime": "2026-11-02T09:00:00+08:00",
        "expected_datetime": None,
        "address": "东风街道幸福小区东门",
        "address_id": "T1-01",  # triage placed it in 东风街道 from the address
        "zipcode": None,
        "lat": 22.5431,
        "long": 114.0579,
        "media_url": "https://photos.example.com/lamp.jpg",
    }
    # Once dispatched: the unit, the reply deadline, the detailed status.
    ticket = session.get(Ticket, int(request_id))
    assert ticket is not None
    act(session, ticket, Action.DISPATCH, "dispatcher")
    session.commit()
    (row,) = api.get(f"{BASE}/requests/{request_id}.json").json()
    assert (row["status"], row["status_notes"]) == ("open", "已派单")
    assert row["agency_responsible"] == o311.world.bureau.name
    assert row["expected_datetime"] is not None
    (xml_row,) = xml_rows(api.get(f"{BASE}/requests/{request_id}.xml").content, "service_requests")
    assert xml_row["service_request_id"] == request_id
    assert xml_row["agency_responsible"] == o311.world.bureau.name
    assert xml_row["zipcode"] is None and xml_row["lat"] == "22.5431"


def test_the_public_never_sees_who_asked(
    api: TestClient, session: Session, o311: Open311World, schemas: Schemas
) -> None:
    # A hotline ticket: 王小明, 13812345678, ID number on file; the text has a number too.
    ticket = make_ticket(
        session, o311.world, text="工地夜间打桩，请回电13912345678，身份证110101199003078515"
    )
    session.commit()
    answer = api.get(f"{BASE}/requests/{ticket.id}.json")
    assert answer.status_code == 200
    schemas.requests.validate(answer.json())
    assert (
        answer.json()[0]["description"] == "工地夜间打桩，请回电139****5678，身份证[证件号已隐去]"
    )
    assert answer.json()[0]["address_id"] == o311.world.town.grid.code
    for secret in (
        "王小明",
        "13812345678",
        "13912345678",
        "110101199003078515",
        ticket.tracking_code,
    ):
        assert secret not in answer.text
        assert secret not in api.get(f"{BASE}/requests.json").text


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("request_id", ["999999", "abc", "1e3", "-1"])
def test_an_unknown_request_is_404(
    api: TestClient, o311: Open311World, fmt: str, request_id: str
) -> None:
    answer = api.get(f"{BASE}/requests/{request_id}.{fmt}")
    assert answer.status_code == 404
    assert errors_of(answer, fmt)[0]["code"] == "service_request_not_found"


def test_a_ticket_no_one_has_classified_is_not_a_service_request(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    ticket = make_ticket(session, o311.world)
    ticket.item_id = None
    session.commit()
    assert api.get(f"{BASE}/requests/{ticket.id}.json").status_code == 404
    assert str(ticket.id) not in ids(api.get(f"{BASE}/requests.json").json())


def test_request_lists_cover_the_last_ninety_days_by_default(
    api: TestClient, session: Session, o311: Open311World, clock: FixedClock, schemas: Schemas
) -> None:
    old = post(api, o311, description="旧的路灯诉求")
    clock.advance(timedelta(days=100))
    new = post(api, o311, description="新的路灯诉求")
    listed = api.get(f"{BASE}/requests.json")
    schemas.requests.validate(listed.json())
    assert ids(listed.json()) == [new]
    window = {"start_date": "2026-11-01T00:00:00Z", "end_date": "2026-11-03T00:00:00+08:00"}
    assert ids(api.get(f"{BASE}/requests.json", params=window).json()) == [old]
    # The id list overrides every other filter.
    both = api.get(f"{BASE}/requests.json", params={"service_request_id": f"{old},{new}", **window})
    assert sorted(ids(both.json())) == sorted([old, new])
    # A "+" typed into a URL unencoded arrives as a space.
    spaced = api.get(f"{BASE}/requests.json?start_date=2026-11-02T08:00:00 08:00")
    assert spaced.status_code == 200 and ids(spaced.json()) == [old]
    rows = xml_rows(api.get(f"{BASE}/requests.xml", params=window).content, "service_requests")
    assert ids(rows) == [old]


def test_request_lists_filter_by_service_and_status(
    api: TestClient, session: Session, o311: Open311World
) -> None:
    lamp = post(api, o311)
    other = post(api, o311, service_code="T5-T501-T59999", description="别的事情")
    noise = make_ticket(session, o311.world)
    withdrawn = session.get(Ticket, int(other))
    assert withdrawn is not None
    act(session, withdrawn, Action.WITHDRAW, None)
    session.commit()
    everything = ids(api.get(f"{BASE}/requests.json").json())
    assert sorted(everything) == sorted([lamp, other, str(noise.id)])
    by_code = api.get(f"{BASE}/requests.json", params={"service_code": "T50101,T40201"})
    assert sorted(ids(by_code.json())) == sorted([lamp, str(noise.id)])
    repeated = api.get(f"{BASE}/requests.json?service_code=T50101&service_code=T5-T501-T59999")
    assert sorted(ids(repeated.json())) == sorted([lamp, other])
    closed = api.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert [(r["service_request_id"], r["status"], r["status_notes"]) for r in closed] == [
        (other, "closed", "已撤诉")
    ]
    opened = ids(api.get(f"{BASE}/requests.json", params={"status": "open"}).json())
    assert sorted(opened) == sorted([lamp, str(noise.id)])
    assert len(api.get(f"{BASE}/requests.json", params={"status": "open,closed"}).json()) == 3
    # Optional arguments given empty count as not given.
    empty = {"status": "", "service_code": "", "start_date": "", "service_request_id": ""}
    assert len(api.get(f"{BASE}/requests.json", params=empty).json()) == 3


def test_a_list_holds_at_most_the_limit_newest_first(
    api: TestClient, o311: Open311World, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = []
    for n in range(3):
        made.append(post(api, o311, description=f"第{n}盏路灯不亮"))
        clock.advance(timedelta(minutes=1))
    monkeypatch.setattr(domain, "MAX_REQUESTS", 2)
    assert ids(api.get(f"{BASE}/requests.json").json()) == [made[2], made[1]]


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start_date": "yesterday"}, "start_date_invalid"),
        ({"start_date": "2026-11-01"}, "start_date_invalid"),
        ({"end_date": "2026-11-01T00:00:00"}, "end_date_invalid"),
        (
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
            "date_range_too_long",
        ),
        (
            {"start_date": "2026-11-02T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
            "date_range_invalid",
        ),
        ({"status": "pending"}, "status_invalid"),
        ({"service_request_id": "12,abc"}, "service_request_id_invalid"),
        ({"service_code": "NOPE"}, "service_code_unknown"),
    ],
)
def test_bad_filters_are_400(
    api: TestClient, o311: Open311World, fmt: str, params: dict[str, str], code: str
) -> None:
    answer = api.get(f"{BASE}/requests.{fmt}", params=params)
    assert answer.status_code == 400
    assert code in [e["code"] for e in errors_of(answer, fmt)]


def test_a_tracking_code_is_the_token_for_its_request(
    api: TestClient, session: Session, o311: Open311World, schemas: Schemas
) -> None:
    request_id = post(api, o311)
    ticket = session.get(Ticket, int(request_id))
    assert ticket is not None
    code = ticket.tracking_code
    answer = api.get(f"{BASE}/tokens/{code}.json")
    assert answer.status_code == 200
    schemas.token.validate(answer.json())
    assert answer.json() == [{"service_request_id": request_id, "token": code}]
    typed = f"{code[:5].lower()}-{code[5:]}"
    assert api.get(f"{BASE}/tokens/{typed}.json").json()[0]["service_request_id"] == request_id
    rows = xml_rows(api.get(f"{BASE}/tokens/{code}.xml").content, "service_requests")
    assert rows == [{"service_request_id": request_id, "token": code}]
    # A code with a wrong check character, an unknown code, and garbage answer alike.
    wrong = code[:-1] + ("2" if code[-1] != "2" else "3")
    for token in (wrong, "ABCDEFGHJK", "x"):
        miss = api.get(f"{BASE}/tokens/{token}.json")
        assert miss.status_code == 404
        assert errors_of(miss, "json")[0]["code"] == "token_not_found"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_anything_else_under_the_prefix_is_404_in_the_spec_shape(api: TestClient, fmt: str) -> None:
    answer = api.get(f"{BASE}/nothing-here.{fmt}")
    assert answer.status_code == 404
    assert errors_of(answer, fmt)[0]["code"] == "resource_not_found"
    assert api.delete(f"{BASE}/requests.{fmt}").status_code == 404
