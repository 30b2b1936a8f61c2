"""The lists in the database: the real standard, batches in force, resolution."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.catalogue import service
from minyi.catalogue.domain import StandardKind
from minyi.catalogue.models import Batch, Item, ResponsibilityRule
from minyi.core.errors import ValidationFailed
from tests.factories import make_batch, make_items, make_town, make_unit

JAN = datetime(2026, 1, 1, tzinfo=UTC)
AUG = datetime(2026, 8, 1, tzinfo=UTC)


def seed(session: Session, shared_data: Path) -> Batch:
    batch = make_batch(session, "2026-01", JAN)
    rows = service.read_standard(service.standard_path(shared_data))
    service.seed_standard(session, batch=batch, rows=rows)
    return batch


def count_items(session: Session, level: int) -> int:
    return session.scalar(select(func.count()).where(Item.level == level)) or 0


def test_real_standard_loads_as_printed(session: Session, shared_data: Path) -> None:
    # given the printed standard DB44/T 2479-2024, table A.1
    batch = seed(session, shared_data)

    # then 14 first-level, 99 second-level and 515 third-level nodes exist
    assert (count_items(session, 1), count_items(session, 2), count_items(session, 3)) == (
        14,
        99,
        515,
    )
    assert batch.summary["items"] == 14 + 99 + 515
    # the duplicated printed code stays duplicated, told apart by its path
    twins = service.items_by_code(session, "090499")
    assert [i.path for i in twins] == ["09/0904/090499", "09/0905/090499"]
    assert {i.name for i in twins} == {"其他生活服务", "其他民族宗教"}
    assert all(i.source_anomaly == "duplicate_printed_code_090499" for i in twins)
    # 13 third-level rows printed without a name keep it empty and show their parent's
    nameless = session.scalars(select(Item).where(Item.level == 3, Item.name == "")).all()
    assert len(nameless) == 13
    prison = service.get_item_by_path_or_raise(session, "12/1203/120300")
    assert prison.name == "" and service.display_name(prison) == "监狱管理"
    # definitions come from the remark column
    noise = service.get_item_by_path_or_raise(session, "01/0101/010101")
    assert noise.definition.startswith("科技服务")


def test_seeding_twice_adds_nothing(session: Session, shared_data: Path) -> None:
    batch = seed(session, shared_data)
    rows = service.read_standard(service.standard_path(shared_data))
    assert service.seed_standard(session, batch=batch, rows=rows) == 0


def test_missing_shared_data_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(Exception) as info:
        service.standard_path(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_answer_changes_at_the_new_batch_effective_time(session: Session) -> None:
    # given construction noise led city-wide by unit A from January
    town = make_town(session)
    jan = make_batch(session, "2026-01", JAN)
    _, _, noise = make_items(session, jan)
    city_bureau = make_unit(session, "ENV", town.city, name="市生态环境局")
    district_bureau = make_unit(session, "ENV1", town.district, name="T1区生态环境分局")
    service.add_responsibility(
        session, batch=jan, item=noise, area=town.city, lead_unit_id=city_bureau.id
    )
    # and a batch effective in August that hands the district to its own bureau
    aug = make_batch(session, "2026-08", AUG)
    service.add_responsibility(
        session,
        batch=aug,
        item=noise,
        area=town.district,
        lead_unit_id=district_bureau.id,
        co_unit_ids=[city_bureau.id],
        legal_basis="《噪声污染防治法》第七十条",
    )
    session.flush()

    # when asked before and after August
    before = service.resolve(
        session, item_id=noise.id, area_id=town.grid.id, at=AUG.replace(month=7)
    )
    after = service.resolve(session, item_id=noise.id, area_id=town.grid.id, at=AUG)

    # then the answers differ, each naming the batch it came from
    assert before.responsibility is not None and after.responsibility is not None
    assert before.responsibility.lead_unit_id == city_bureau.id
    assert before.batch_number == "2026-01"
    assert after.responsibility.lead_unit_id == district_bureau.id
    assert after.responsibility.co_unit_ids == (city_bureau.id,)
    assert after.batch_number == "2026-08"
    # and another street of the same district is covered by the district's rule too
    other = service.resolve(session, item_id=noise.id, area_id=town.other_street.id, at=AUG)
    assert other.responsibility is not None
    assert other.responsibility.lead_unit_id == district_bureau.id
    # and the January batch's rows were never touched
    jan_rules = session.scalars(
        select(ResponsibilityRule).where(ResponsibilityRule.batch_id == jan.id)
    ).all()
    assert [r.lead_unit_id for r in jan_rules] == [city_bureau.id]


def test_a_later_batch_can_withdraw_a_rule(session: Session) -> None:
    town = make_town(session)
    jan = make_batch(session, "2026-01", JAN)
    _, _, noise = make_items(session, jan)
    unit = make_unit(session, "ENV", town.city)
    service.add_responsibility(session, batch=jan, item=noise, area=town.city, lead_unit_id=unit.id)
    aug = make_batch(session, "2026-08", AUG)
    service.add_responsibility(
        session, batch=aug, item=noise, area=town.city, lead_unit_id=None, removed=True
    )
    session.flush()
    assert service.resolve(session, item_id=noise.id, area_id=town.grid.id, at=JAN).has_owner
    assert not service.resolve(session, item_id=noise.id, area_id=town.grid.id, at=AUG).has_owner


def test_before_any_batch_nothing_is_in_force(session: Session) -> None:
    town = make_town(session)
    jan = make_batch(session, "2026-01", JAN)
    _, _, noise = make_items(session, jan)
    unit = make_unit(session, "ENV", town.city)
    service.add_responsibility(session, batch=jan, item=noise, area=town.city, lead_unit_id=unit.id)
    session.flush()
    res = service.resolve(
        session, item_id=noise.id, area_id=town.grid.id, at=datetime(2025, 12, 31, tzinfo=UTC)
    )
    assert res.batch_number is None and not res.has_owner


def test_resolution_gives_unit_and_deadlines(session: Session) -> None:
    town = make_town(session)
    jan = make_batch(session, "2026-01", JAN)
    _, _, noise = make_items(session, jan)
    unit = make_unit(session, "ENV1", town.district)
    service.add_responsibility(
        session, batch=jan, item=noise, area=town.district, lead_unit_id=unit.id
    )
    service.add_implementation(
        session,
        batch=jan,
        item=noise,
        unit_id=unit.id,
        standard_kind=StandardKind.RECOMMENDED,
        recommended_min_days=3,
        recommended_max_days=7,
    )
    service.add_district_choice(
        session, batch=jan, item=noise, unit_id=unit.id, district=town.district, completion_days=4
    )
    session.flush()
    res = service.resolve(session, item_id=noise.id, area_id=town.community.id, at=AUG)
    assert res.responsibility is not None and res.responsibility.lead_unit_id == unit.id
    assert res.implementation is not None
    assert res.implementation.completion_days == 4
    assert res.implementation.contact_hours == 24


def test_batch_numbers_are_never_reused(session: Session) -> None:
    make_batch(session, "2026-01", JAN)
    with pytest.raises(ValidationFailed) as info:
        make_batch(session, "2026-01", AUG)
    assert info.value.code == "batch_number_taken"


def test_recommended_standard_needs_a_valid_range(session: Session) -> None:
    town = make_town(session)
    jan = make_batch(session, "2026-01", JAN)
    _, _, noise = make_items(session, jan)
    unit = make_unit(session, "ENV", town.city)
    with pytest.raises(ValidationFailed) as info:
        service.add_implementation(
            session,
            batch=jan,
            item=noise,
            unit_id=unit.id,
            standard_kind=StandardKind.RECOMMENDED,
            recommended_min_days=7,
            recommended_max_days=3,
        )
    assert "最短天数" in info.value.message
