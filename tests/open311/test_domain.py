"""Pure rules of Open311: dates and the 90-day window, the form of a new request, service
codes, and the XML / JSON writers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from minyi.intake.domain import AppealType
from minyi.open311 import domain
from minyi.open311.domain import Open311Error, PublicStatus
from minyi.open311.xml import to_json, to_xml

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def codes(exc: pytest.ExceptionInfo[Open311Error]) -> list[str]:
    return [p.code for p in exc.value.problems]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2010-01-01T00:00:00Z", datetime(2010, 1, 1, tzinfo=UTC)),
        ("2026-11-02T09:00:00+08:00", datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),
        ("2026-11-02T09:00:00 08:00", datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),
        ("2026-11-02T09:00+08:00", datetime(2026, 11, 2, 1, 0, tzinfo=UTC)),
    ],
)
def test_w3_dates_with_a_time_zone_are_read(raw: str, expected: datetime) -> None:
    assert domain.parse_w3(raw, "start_date") == expected


@pytest.mark.parametrize("raw", ["2026-11-02", "2026-11-02T09:00:00", "tomorrow", ""])
def test_dates_without_time_or_zone_are_refused(raw: str) -> None:
    with pytest.raises(Open311Error) as exc:
        domain.parse_w3(raw, "end_date")
    assert exc.value.status == 400 and codes(exc) == ["end_date_invalid"]


def test_the_window_is_ninety_days_at_most() -> None:
    day = timedelta(days=1)
    assert domain.window(None, None, NOW) == (NOW - 90 * day, NOW)
    assert domain.window(NOW - day, None, NOW) == (NOW - day, NOW + 89 * day)
    assert domain.window(None, NOW, NOW) == (NOW - 90 * day, NOW)
    assert domain.window(NOW - 90 * day, NOW, NOW) == (NOW - 90 * day, NOW)
    with pytest.raises(Open311Error):
        domain.window(NOW - 91 * day, NOW, NOW)
    with pytest.raises(Open311Error):
        domain.window(NOW, NOW - day, NOW)


def test_request_filters_are_read_from_comma_lists_and_repeats() -> None:
    query = domain.parse_request_query(
        [
            ("service_code", "A, B"),
            ("service_code", "C"),
            ("status", "open,CLOSED"),
            ("service_request_id", "3,1,3"),
        ],
        NOW,
    )
    assert query.service_codes == ("A", "B", "C")
    assert query.statuses == {PublicStatus.OPEN, PublicStatus.CLOSED}
    assert query.ids == (3, 1)
    assert (query.start, query.end) == (NOW - domain.WINDOW, NOW)


def test_every_bad_filter_is_named() -> None:
    with pytest.raises(Open311Error) as exc:
        domain.parse_request_query(
            [("status", "done"), ("start_date", "x"), ("service_request_id", "1;2")], NOW
        )
    assert codes(exc) == ["service_request_id_invalid", "status_invalid", "start_date_invalid"]


def test_a_form_is_read_with_defaults() -> None:
    form = domain.parse_request_form(
        [
            ("service_code", "T50101"),
            ("description", "  路灯不亮  "),
            ("address_string", "幸福小区"),
            ("first_name", "小明"),
            ("last_name", "王"),
            ("phone", "13812345678"),
            ("email", "dropped@example.com"),
            ("device_id", "dropped"),
            ("anything_else", "ignored"),
        ]
    )
    assert form.description == "路灯不亮" and form.name == "王小明"
    assert form.appeal_type is AppealType.REQUEST and form.anonymous is False
    assert (form.lat, form.long, form.media_url) == (None, None, None)
    assert not hasattr(form, "email")


def test_without_a_phone_a_request_is_anonymous() -> None:
    form = domain.parse_request_form(
        [("service_code", "X"), ("description", "d"), ("lat", "-22.5"), ("long", "+114")]
    )
    assert form.anonymous and form.phone is None and (form.lat, form.long) == (-22.5, 114.0)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("lat", "1"), ("lat", "2"), ("long", "3")], "lat_repeated"),
        ([("lat", "0x10"), ("long", "3")], "lat_invalid"),
        ([("lat", "inf"), ("long", "3")], "lat_invalid"),
        ([("address_string", "地" * 501)], "address_string_too_long"),
        ([("address_id", "A"), ("first_name", "名" * 101)], "name_too_long"),
        (
            [
                ("address_id", "A"),
                ("attribute[appeal_type][]", "praise"),
                ("attribute[appeal_type][]", "report"),
            ],
            "attribute_invalid",
        ),
        ([("address_id", "A"), ("media_url", "http://")], "media_url_invalid"),
        ([("address_id", "A"), ("media_url", "https://x.example/a b.jpg")], "media_url_invalid"),
    ],
)
def test_bad_fields_are_named(pairs: list[tuple[str, str]], expected: str) -> None:
    with pytest.raises(Open311Error) as exc:
        domain.parse_request_form([("service_code", "X"), ("description", "d"), *pairs])
    assert expected in codes(exc)


def test_service_codes_are_the_item_codes_or_the_path_when_shared() -> None:
    assert domain.service_code("090499", "09/0904/090499", shared=False) == "090499"
    assert domain.service_code("090499", "09/0904/090499", shared=True) == "09-0904-090499"


def test_descriptions_are_cut_to_the_specs_limit() -> None:
    assert domain.public_description("短") == "短"
    cut = domain.public_description("字" * 5000)
    assert len(cut) == domain.MAX_DESCRIPTION and cut.endswith("…")


def test_xml_escapes_markup_and_replaces_what_xml_cannot_carry() -> None:
    body = [{"description": "<b>&</b>\x00\x1b end", "lat": 22.5, "metadata": True, "x": None}]
    document = to_xml("service_requests", body)
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<service_requests>')
    assert b"&lt;b&gt;&amp;&lt;/b&gt;" in document
    request = ET.fromstring(document).find("request")
    assert request is not None
    assert request.findtext("description") == "<b>&</b>\ufffd\ufffd end"
    assert (request.findtext("lat"), request.findtext("metadata")) == ("22.5", "true")
    assert request.find("x") is not None and request.findtext("x") == ""


def test_json_writes_markup_characters_as_escapes() -> None:
    body = {"description": "<script>alert('&')</script>", "n": None, "ok": True}
    text = to_json(body)
    assert b"<" not in text and b">" not in text and b"&" not in text
    assert json.loads(text) == body
    assert "中文".encode() in to_json({"name": "中文"})
