"""The lists over HTTP: items by level, batches, resolution, the crosswalk."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.catalogue import service
from minyi.catalogue.models import Batch
from minyi.org.domain import Role
from tests.factories import login, make_batch, make_items, make_town, make_unit, make_user


def seed_standard(session: Session, shared_data: Path) -> None:
    batch = make_batch(session, "2026-01", datetime(2026, 1, 1, tzinfo=UTC))
    rows = service.read_standard(service.standard_path(shared_data))
    service.seed_standard(session, batch=batch, rows=rows)


def test_items_by_level_are_paginated_with_total(
    client: TestClient, session: Session, shared_data: Path
) -> None:
    seed_standard(session, shared_data)
    first = client.get("/api/v1/catalogue/items", params={"level": 3, "limit": 100})
    assert first.status_code == 200
    body = first.json()
    assert body["total"] == 515 and len(body["items"]) == 100
    last = client.get(
        "/api/v1/catalogue/items", params={"level": 3, "limit": 100, "offset": 500}
    ).json()
    assert len(last["items"]) == 15
    top = client.get("/api/v1/catalogue/items", params={"level": 1}).json()
    assert top["total"] == 14
    twins = client.get("/api/v1/catalogue/items", params={"code": "090499"}).json()
    assert [i["display_name"] for i in twins["items"]] == ["其他生活服务", "其他民族宗教"]


def test_limit_over_the_maximum_is_refused(client: TestClient) -> None:
    response = client.get("/api/v1/catalogue/items", params={"limit": 100000})
    assert response.status_code == 422


def test_resolve_reports_no_owner_in_plain_words(client: TestClient, session: Session) -> None:
    town = make_town(session)
    jan = make_batch(session, "2026-01", datetime(2026, 1, 1, tzinfo=UTC))
    _, _, noise = make_items(session, jan)
    response = client.get(
        "/api/v1/catalogue/resolve", params={"item_id": noise.id, "area_id": town.grid.id}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["has_owner"] is False
    assert "无责任单位" in body["message"]


def test_resolve_names_unit_batch_and_deadlines(client: TestClient, session: Session) -> None:
    town = make_town(session)
    jan = make_batch(session, "2026-01", datetime(2026, 1, 1, tzinfo=UTC))
    _, _, noise = make_items(session, jan)
    unit = make_unit(session, "ENV", town.city)
    service.add_responsibility(
        session, batch=jan, item=noise, area=town.city, lead_unit_id=unit.id, legal_basis="某法"
    )
    service.add_implementation(session, batch=jan, item=noise, unit_id=None, completion_days=5)
    body = client.get(
        "/api/v1/catalogue/resolve", params={"item_id": noise.id, "area_id": town.grid.id}
    ).json()
    assert body["responsibility"]["lead_unit_id"] == unit.id
    assert body["responsibility"]["legal_basis"] == "某法"
    assert body["implementation"]["completion_days"] == 5
    assert body["batch_number"] == "2026-01"


def test_only_admins_open_batches_and_a_number_is_never_reused(
    client: TestClient, session: Session
) -> None:
    town = make_town(session)
    make_user(session, "root", Role.ADMIN)
    make_user(session, "disp", Role.DISPATCHER, make_unit(session, "C", town.city))
    payload = {
        "number": "2026-12",
        "reason": "职责调整",
        "effective_at": "2026-12-01T00:00:00+08:00",
    }

    assert (
        client.post("/api/v1/catalogue/batches", json=payload, headers=login(client, "disp"))
    ).status_code == 403
    admin = login(client, "root")
    created = client.post("/api/v1/catalogue/batches", json=payload, headers=admin)
    assert created.status_code == 201
    assert created.json()["author"] == "root"

    again = client.post("/api/v1/catalogue/batches", json=payload, headers=admin)
    assert again.status_code == 422
    assert again.json()["code"] == "batch_number_taken"
    assert session.scalar(select(func.count()).select_from(Batch)) == 1

    listed = client.get("/api/v1/catalogue/batches").json()
    assert [b["number"] for b in listed["items"]] == ["2026-12"]
    # the change to the lists is in the audit trail, under the admin who made it
    from minyi.audit.models import AuditEntry
    from minyi.org.models import User

    root = session.scalars(select(User).where(User.username == "root")).one()
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "catalogue.batch.create")
    ).one()
    assert (entry.actor, entry.object_id) == (f"user:{root.id}", "2026-12")


def test_batch_without_timezone_is_refused(client: TestClient, session: Session) -> None:
    make_user(session, "root", Role.ADMIN)
    payload = {"number": "2026-10", "reason": "x", "effective_at": "2026-10-01T00:00:00"}
    response = client.post("/api/v1/catalogue/batches", json=payload, headers=login(client, "root"))
    assert response.status_code == 422
    assert session.scalar(select(func.count()).select_from(Batch)) == 0


def test_crosswalk_points_into_the_real_standard(
    client: TestClient, session: Session, shared_data: Path
) -> None:
    seed_standard(session, shared_data)
    rows = client.get("/api/v1/catalogue/crosswalk").json()
    for row in rows:
        assert service.get_item_by_path(session, row["db44_path"]) is not None, row
    # every label the real training messages carry has at least one primary subtree
    with (shared_data / "appeals" / "train.csv").open(encoding="utf-8") as fh:
        used = {r["label"] for r in csv.DictReader(fh)}
    primary = {r["contest_label"] for r in rows if r["strength"] == "primary"}
    assert used and used <= primary
    labour = [r["db44_path"] for r in rows if r["contest_label"] == "劳动和社会保障"]
    assert "08" in labour
    trade = [r["db44_path"] for r in rows if r["contest_label"] == "商贸旅游"]
    assert {"10", "11", "01/0108"} <= set(trade)


def test_rule_history_lists_rows_of_each_batch(client: TestClient, session: Session) -> None:
    town = make_town(session)
    jan = make_batch(session, "2026-01", datetime(2026, 1, 1, tzinfo=UTC))
    aug = make_batch(session, "2026-08", datetime(2026, 8, 1, tzinfo=UTC))
    _, _, noise = make_items(session, jan)
    a = make_unit(session, "A", town.city)
    b = make_unit(session, "B", town.district)
    service.add_responsibility(session, batch=jan, item=noise, area=town.city, lead_unit_id=a.id)
    service.add_responsibility(
        session, batch=aug, item=noise, area=town.district, lead_unit_id=b.id
    )
    service.add_implementation(session, batch=jan, item=noise, unit_id=a.id, completion_days=5)
    everything = client.get(
        "/api/v1/catalogue/responsibility-rules", params={"item_id": noise.id}
    ).json()
    assert [r["batch_number"] for r in everything["items"]] == ["2026-01", "2026-08"]
    only_aug = client.get(
        "/api/v1/catalogue/responsibility-rules", params={"batch_id": aug.id}
    ).json()
    assert only_aug["total"] == 1 and only_aug["items"][0]["lead_unit_id"] == b.id
    impl = client.get("/api/v1/catalogue/implementation-rules", params={"unit_id": a.id}).json()
    assert impl["total"] == 1 and impl["items"][0]["completion_days"] == 5


def test_a_batch_cannot_take_effect_in_the_past(client: TestClient, session: Session) -> None:
    # the test clock stands at 2026-11-02
    make_user(session, "root", Role.ADMIN)
    payload = {"number": "2026-05", "reason": "补录", "effective_at": "2026-05-01T00:00:00+08:00"}
    response = client.post("/api/v1/catalogue/batches", json=payload, headers=login(client, "root"))
    assert response.status_code == 422
    assert response.json()["code"] == "batch_backdated"
