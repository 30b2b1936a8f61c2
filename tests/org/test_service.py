"""The organisation: area levels, units with jurisdiction, users, tokens, machine clients."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.core.errors import Forbidden, Unauthorized, ValidationFailed
from minyi.org import service
from minyi.org.domain import AreaLevel, ClientScope, Role, UnitKind, mask_phone
from tests.factories import PASSWORD, make_town, make_unit, make_user


def test_an_area_must_hang_one_level_below_its_parent(session: Session) -> None:
    town = make_town(session)
    with pytest.raises(ValidationFailed) as info:
        service.create_area(
            session, code="X", name="错层社区", level=AreaLevel.COMMUNITY, parent=town.district
        )
    assert info.value.code == "area_level_mismatch"
    assert "街道" in info.value.message


def test_area_codes_are_unique(session: Session) -> None:
    town = make_town(session)
    with pytest.raises(ValidationFailed) as info:
        service.create_area(
            session,
            code=town.street.code,
            name="重复",
            level=AreaLevel.STREET,
            parent=town.district,
        )
    assert info.value.code == "area_code_taken"


def test_districts_are_found_for_every_level(session: Session) -> None:
    town = make_town(session)
    parents = service.area_parents(session)
    levels = {a.id: a.level for a in (town.city, town.district, town.street, town.grid)}
    levels |= {town.community.id: "community", town.other_street.id: "street"}
    districts = service.district_of(parents, levels)
    assert districts[town.grid.id] == town.district.id
    assert districts[town.district.id] == town.district.id
    assert districts[town.city.id] is None


def test_unit_answers_for_its_own_area_unless_told_otherwise(session: Session) -> None:
    town = make_town(session)
    street_office = make_unit(session, "S1", town.street, kind=UnitKind.STREET_OFFICE)
    assert [j.area_id for j in street_office.jurisdiction] == [town.street.id]
    water = service.create_unit(
        session,
        code="WATER",
        name="T市自来水公司",
        kind=UnitKind.UTILITY,
        area=town.city,
        service="water",
        jurisdiction=[town.street, town.other_street],
        sections=[("NET", "管网科"), ("SVC", "客服中心")],
    )
    assert sorted(j.area_id for j in water.jurisdiction) == sorted(
        [town.street.id, town.other_street.id]
    )
    assert [s.name for s in water.sections] == ["管网科", "客服中心"]


def test_staff_roles_need_a_unit(session: Session) -> None:
    with pytest.raises(ValidationFailed) as info:
        make_user(session, "handler1", Role.HANDLER)
    assert info.value.code == "user_needs_unit"
    citizen = make_user(session, "citizen1", Role.CITIZEN)
    assert citizen.unit_id is None


def test_login_and_token_expiry(session: Session, clock: FixedClock) -> None:
    town = make_town(session)
    unit = make_unit(session, "U1", town.district)
    user = make_user(session, "handler1", Role.HANDLER, unit)
    assert user.area_id == town.district.id

    with pytest.raises(Unauthorized):
        service.authenticate(session, username="handler1", password="wrong-password")
    with pytest.raises(Unauthorized):
        service.authenticate(session, username="nobody", password=PASSWORD)

    same = service.authenticate(session, username="handler1", password=PASSWORD)
    token = service.issue_token(session, user=same, ttl=timedelta(hours=1), clock=clock)
    assert service.user_for_token(session, token, now=clock.now()).id == user.id
    assert user.password_hash != PASSWORD  # stored as an argon2 hash
    clock.advance(timedelta(hours=2))
    with pytest.raises(Unauthorized):
        service.user_for_token(session, token, now=clock.now())


def test_machine_client_key_and_scopes(session: Session) -> None:
    town = make_town(session)
    _, key = service.create_machine_client(
        session, name="T1区案件系统", scopes=[ClientScope.APPEALS_CREATE], area=town.district
    )
    client = service.client_for_key(session, key, scope=ClientScope.APPEALS_CREATE)
    assert client.name == "T1区案件系统"
    assert client.key_hash != key
    with pytest.raises(Forbidden):
        service.client_for_key(session, key, scope=ClientScope.TICKETS_ACT)
    with pytest.raises(Unauthorized):
        service.client_for_key(session, key[:-2] + "xx", scope=ClientScope.APPEALS_CREATE)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "138****5678"), ("075512345", "075**2345"), ("1234", "****"), ("", "")],
)
def test_phone_masking(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked
