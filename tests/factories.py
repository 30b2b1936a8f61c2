"""Small factories that build test data through the services (never raw rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.catalogue.models import Batch, Item
from minyi.org import service as org
from minyi.org.domain import AreaLevel, Role, UnitKind
from minyi.org.models import Area, Unit, User

PASSWORD = "correct-horse-42"


@dataclass
class Town:
    """A small city: one district with two streets, a community and a grid under the first."""

    city: Area
    district: Area
    street: Area
    other_street: Area
    community: Area
    grid: Area


def make_town(session: Session, prefix: str = "T") -> Town:
    city = org.create_area(session, code=f"{prefix}", name=f"{prefix}市", level=AreaLevel.CITY)
    district = org.create_area(
        session, code=f"{prefix}1", name=f"{prefix}1区", level=AreaLevel.DISTRICT, parent=city
    )
    street = org.create_area(
        session, code=f"{prefix}1-01", name="东风街道", level=AreaLevel.STREET, parent=district
    )
    other = org.create_area(
        session, code=f"{prefix}1-02", name="西湖街道", level=AreaLevel.STREET, parent=district
    )
    community = org.create_area(
        session,
        code=f"{prefix}1-01-001",
        name="幸福社区",
        level=AreaLevel.COMMUNITY,
        parent=street,
    )
    grid = org.create_area(
        session,
        code=f"{prefix}1-01-001-01",
        name="幸福社区第一网格",
        level=AreaLevel.GRID,
        parent=community,
    )
    return Town(city, district, street, other, community, grid)


def make_unit(
    session: Session,
    code: str,
    area: Area,
    kind: UnitKind = UnitKind.DISTRICT_DEPARTMENT,
    name: str | None = None,
) -> Unit:
    return org.create_unit(session, code=code, name=name or f"单位{code}", kind=kind, area=area)


def make_user(session: Session, username: str, role: Role, unit: Unit | None = None) -> User:
    return org.create_user(
        session, username=username, display_name=username, password=PASSWORD, role=role, unit=unit
    )


def login(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def make_batch(session: Session, number: str, effective_at: datetime | None = None) -> Batch:
    return catalogue.create_batch(
        session,
        number=number,
        author="测试管理员",
        reason="测试批次",
        effective_at=effective_at or datetime(2026, 1, 1, tzinfo=UTC),
        allow_backdated=True,
    )


def make_items(session: Session, batch: Batch) -> tuple[Item, Item, Item]:
    """环境 > 噪声污染 > 建筑施工噪声: a three-level branch of our own (not the standard's)."""
    top = catalogue.add_item(session, batch=batch, code="T4", name="环境", parent=None)
    mid = catalogue.add_item(session, batch=batch, code="T402", name="噪声污染", parent=top)
    leaf = catalogue.add_item(
        session,
        batch=batch,
        code="T40201",
        name="建筑施工噪声",
        parent=mid,
        definition="夜间施工、打桩等建筑施工噪声",
    )
    return top, mid, leaf
