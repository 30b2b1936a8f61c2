"""The admin import/export endpoints and the coverage report, through HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.catalogue.models import Batch, ResponsibilityRule
from minyi.org.domain import Role
from tests.catalogue.test_io import LEAF, World, count, csv, make_world
from tests.factories import login, make_user

FORM = {"batch_number": "2026-12", "reason": "职责调整", "effective_at": "2026-12-01T00:00+08:00"}


@pytest.fixture()
def world(session: Session) -> World:
    world = make_world(session)
    make_user(session, "admin", Role.ADMIN)
    make_user(session, "handler", Role.HANDLER, unit=world.bureau)
    make_user(session, "analyst", Role.ANALYST)
    return world


def test_a_bad_upload_is_refused_with_every_bad_row(
    client: TestClient, session: Session, world: World
) -> None:
    # given
    data = csv(
        "事项路径,区域编码,牵头单位",
        f"{LEAF},T1,EEB",
        f"{LEAF},T9,EEB",
        "T4/T402/T49999,T1,XX",
    )
    before = (count(session, Batch), count(session, ResponsibilityRule))

    # when
    response = client.post(
        "/api/v1/admin/lists/responsibility/import",
        headers=login(client, "admin"),
        files={"file": ("职责清单.csv", data, "text/csv")},
        data=FORM,
    )

    # then
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "message", "message_en", "details"}
    assert body["code"] == "import_invalid"
    assert "未导入任何内容" in body["message"]
    assert "nothing was imported" in body["message_en"]
    assert [(d["file"], d["row"], d["column"]) for d in body["details"]] == [
        ("职责清单.csv", 3, "area_code"),
        ("职责清单.csv", 4, "item_path"),
        ("职责清单.csv", 4, "lead_unit_code"),
    ]
    assert all(d["reason"] and d["reason_en"] for d in body["details"])
    assert (count(session, Batch), count(session, ResponsibilityRule)) == before


def test_an_admin_imports_a_file_as_one_batch(
    client: TestClient, session: Session, world: World
) -> None:
    data = csv("事项路径,区域编码,牵头单位,协办单位", f"{LEAF},T1,EEB,SO1", f"{LEAF},T1-02,SO1,")

    response = client.post(
        "/api/v1/admin/lists/responsibility/import",
        headers=login(client, "admin"),
        files={"file": ("resp.csv", data, "text/csv")},
        data=FORM,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["created"] == {"responsibility": 2}
    assert body["batch"]["number"] == "2026-12"
    assert body["batch"]["author"] == "admin"
    effective = datetime.fromisoformat(body["batch"]["effective_at"])
    assert effective == datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    resolved = client.get(
        "/api/v1/catalogue/resolve",
        params={
            "item_id": world.leaf.id,
            "area_id": world.town.other_street.id,
            "at": "2026-12-02T00:00:00Z",
        },
    ).json()
    assert resolved["batch_number"] == "2026-12"
    assert resolved["responsibility"]["lead_unit_id"] == world.office.id


def test_importing_rules_needs_a_batch_number(client: TestClient, world: World) -> None:
    response = client.post(
        "/api/v1/admin/lists/responsibility/import",
        headers=login(client, "admin"),
        files={"file": ("resp.csv", csv("item_path,area_code,lead_unit_code"), "text/csv")},
        data={"reason": "无批次号"},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "batch_fields_missing"


def test_only_an_admin_imports_and_exports(client: TestClient, world: World) -> None:
    upload = {"file": ("areas.csv", csv("code,name,level"), "text/csv")}

    assert client.post("/api/v1/admin/lists/areas/import", files=upload).status_code == 401
    as_handler = client.post(
        "/api/v1/admin/lists/areas/import", headers=login(client, "handler"), files=upload
    )
    assert as_handler.status_code == 403
    assert as_handler.json()["code"] == "role_not_allowed"
    exported = client.get("/api/v1/admin/lists/areas/export", headers=login(client, "handler"))
    assert exported.status_code == 403


def test_exports_download_as_csv_or_excel(
    client: TestClient, session: Session, world: World
) -> None:
    catalogue.add_responsibility(
        session,
        batch=world.batch,
        item=world.leaf,
        area=world.town.district,
        lead_unit_id=world.bureau.id,
    )
    session.flush()
    admin = login(client, "admin")

    as_csv = client.get(
        "/api/v1/admin/lists/responsibility/export", headers=admin, params={"headers": "zh"}
    )
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in as_csv.headers["content-disposition"]
    lines = as_csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("事项路径,区域编码,牵头单位")
    assert lines[1].startswith(f"{LEAF},T1,EEB")

    as_xlsx = client.get(
        "/api/v1/admin/lists/lists/export", headers=admin, params={"format": "xlsx"}
    )
    assert as_xlsx.status_code == 200
    assert as_xlsx.content[:2] == b"PK"

    # the download goes straight back in: every row is already in force
    again = client.post(
        "/api/v1/admin/lists/lists/import",
        headers=admin,
        files={"file": ("lists.xlsx", as_xlsx.content, "application/octet-stream")},
        data=FORM,
    )
    assert again.status_code == 200, again.text
    assert again.json()["batch"] is None
    assert again.json()["unchanged"]["responsibility"] == 1

    unknown = client.get("/api/v1/admin/lists/rules/export", headers=admin)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "list_kind_unknown")
    whole_as_csv = client.get("/api/v1/admin/lists/lists/export", headers=admin)
    assert (whole_as_csv.status_code, whole_as_csv.json()["code"]) == (422, "csv_one_table")


def test_the_coverage_report_is_for_staff(client: TestClient, world: World) -> None:
    response = client.get("/api/v1/catalogue/coverage", headers=login(client, "analyst"))

    assert response.status_code == 200
    body = response.json()
    assert body["batch_number"] == "2026-01"
    assert (body["leaf_items"], body["uncovered_count"]) == (1, 1)
    assert body["uncovered_items"][0]["item_path"] == LEAF
    assert client.get("/api/v1/catalogue/coverage").status_code == 401
