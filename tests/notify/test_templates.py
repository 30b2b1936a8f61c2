"""Templates render in Chinese from the editable CSV, with personal data masked."""

from __future__ import annotations

import pytest

from minyi.notify.domain import mask_name, mask_phone, mask_text
from minyi.notify.templates import load_templates, render, template


def test_every_key_step_has_a_chinese_template() -> None:
    codes = set(load_templates())
    assert {
        "citizen.received",
        "citizen.dispatched",
        "citizen.contacted",
        "citizen.replied",
        "citizen.rate",
        "staff.new_ticket",
        "staff.warning",
        "staff.overdue",
        "staff.escalation",
    } <= codes


def test_citizen_is_told_the_tracking_code_and_the_unit() -> None:
    assert template("citizen.received", {"tracking_code": "A20261102001"}) == (
        "【民意】您的诉求已受理，查询码 A20261102001。可凭查询码和手机号后四位查询办理进度。"
    )
    rendered = render("citizen.dispatched", {"tracking_code": "A20261102001", "unit": "住建局"})
    assert rendered.subject == "诉求已转办"
    assert "已转交住建局办理" in rendered.text


def test_staff_see_the_phone_masked_and_no_id_number() -> None:
    text = template(
        "staff.new_ticket",
        {
            "tracking_code": "A20261102001",
            "summary": "楼下工地夜间施工，请联系13812345678，身份证110101199003078515",
            "name": "王小明",
            "phone": "13812345678",
            "due": "11月3日17:00",
        },
    )
    assert "138****5678" in text
    assert "13812345678" not in text
    assert "110101199003078515" not in text and "证件号已隐去" in text
    assert "王**" in text and "王小明" not in text


def test_id_numbers_and_addresses_are_refused_and_missing_params_named() -> None:
    with pytest.raises(ValueError, match="id_number"):
        template("citizen.received", {"tracking_code": "A1", "id_number": "110101199003078515"})
    with pytest.raises(ValueError, match="address"):
        template("citizen.received", {"tracking_code": "A1", "address": "东风路1号"})
    with pytest.raises(ValueError, match="unit"):
        template("citizen.dispatched", {"tracking_code": "A1"})
    with pytest.raises(KeyError):
        template("citizen.unknown", {})


def test_masking_rules() -> None:
    assert mask_phone("138-1234-5678") == "138****5678"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_text("电话 13912345678。") == "电话 139****5678。"
