"""Building the demo city A市 into an empty database, from the real messages' place names.

The order matters: areas first (units hang on them), then units (rules name them), then
the lists, then the users. Everything goes through the org and catalogue services, in the
caller's transaction: the builder flushes, the caller commits (or rolls back, in tests).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.core.clock import Clock
from minyi.core.errors import Conflict
from minyi.demo.layout import CITY_CODE, DISTRICTS, CityPlan, plan_city
from minyi.demo.lists import build_lists
from minyi.demo.places import MinedPlaces, mine_places
from minyi.demo.sources import check_shared_data, read_message_texts
from minyi.demo.units import COMMUNITY_COMMITTEES, create_units
from minyi.demo.users import create_machine_client, create_users
from minyi.org import service as org
from minyi.org.domain import AreaLevel
from minyi.org.models import Area, Section

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoSummary:
    areas: dict[str, int]  # level → count
    streets_real: int
    streets_generated: int
    communities_real: int
    communities_generated: int
    estates_real: int  # real estate names attached to communities as aliases
    texts_read: int
    place_mentions: int
    units: int
    units_by_kind: dict[str, int]
    sections: int
    items: int
    refinements: int
    responsibility_rules: int
    implementation_rules: int
    district_choices: int
    batches: tuple[str, ...]
    users: int
    machine_clients: int
    machine_client_key: str


def city_exists(session: Session) -> bool:
    """Any area at all means someone built an organisation here: the demo must not mix in."""
    return bool(session.scalar(select(func.count()).select_from(Area)))


def plan_from_shared_data(shared_data: Path) -> tuple[MinedPlaces, CityPlan]:
    """Mine the real messages and plan the areas; pure apart from reading the files."""
    check_shared_data(shared_data)
    mined = mine_places(read_message_texts(shared_data))
    return mined, plan_city(mined)


def build_demo_city(
    session: Session,
    *,
    shared_data: Path,
    clock: Clock,
    progress: Progress | None = None,
    planned: tuple[MinedPlaces, CityPlan] | None = None,
) -> DemoSummary:
    """Build A市 with its areas, units, three lists, users and a machine client.

    Refuses (Conflict) when any area exists, and (NotFound, naming the folder) when the
    real data is missing. `planned` lets a caller reuse a plan it already made.
    """
    say = progress or (lambda _message: None)
    if city_exists(session):
        raise Conflict(
            "demo_city_exists",
            "数据库中已有区域，演示城市只能建在空数据库中",
            "The database already holds areas; the demo city is only built into an empty one",
        )
    check_shared_data(shared_data)
    say("读取真实留言，挖掘地名 / reading the real messages, mining place names")
    mined, plan = planned or plan_from_shared_data(shared_data)
    say(
        f"  {mined.texts} 段文本，{mined.mentions} 处地名 / texts, place mentions: "
        f"街道 streets {len(mined.streets)}，社区/村 communities {len(mined.communities)}，"
        f"小区 estates {len(mined.estates)}"
    )

    areas = _create_areas(session, plan)
    say(
        "区域 / areas: " + "，".join(f"{level.label_zh} {plan.count(level)}" for level in AreaLevel)
    )
    city = areas[CITY_CODE]
    districts = [areas[d.code] for d in DISTRICTS]
    streets = {
        d.code: [areas[a.code] for a in plan.of_level(AreaLevel.STREET) if a.parent_code == d.code]
        for d in DISTRICTS
    }
    committees_for = _committee_communities(plan, areas)
    units = create_units(
        session, city=city, districts=districts, streets=streets, committees_for=committees_for
    )
    all_units = units.all()
    kinds = Counter(u.kind for u in all_units)
    say(
        f"单位 / units: {len(all_units)}（" + "，".join(f"{k} {n}" for k, n in kinds.items()) + "）"
    )

    counts = build_lists(
        session,
        shared_data=shared_data,
        clock=clock,
        city=city,
        districts=districts,
        streets=streets,
        units=units,
    )
    say(
        f"清单 / lists: 事项 items {counts.items}（细化 refined {counts.refinements}），"
        f"职责 responsibility {counts.responsibility}，实施 implementation "
        f"{counts.implementation}，区级取值 district choices {counts.district_choices}，"
        f"批次 batches {', '.join(counts.batches)}"
    )

    first_streets = {code: s[0].code for code, s in streets.items()}
    users = create_users(session, units=units, first_streets=first_streets, clock=clock)
    key = create_machine_client(session, units=units, clock=clock)
    say(f"用户 / users: {len(users)}，对接系统 / machine clients: 1")
    session.flush()
    sections = session.scalar(
        select(func.count())
        .select_from(Section)
        .where(Section.unit_id.in_([u.id for u in all_units]))
    )
    return DemoSummary(
        areas={level.value: plan.count(level) for level in AreaLevel},
        streets_real=plan.count(AreaLevel.STREET, real=True),
        streets_generated=plan.count(AreaLevel.STREET, real=False),
        communities_real=plan.count(AreaLevel.COMMUNITY, real=True),
        communities_generated=plan.count(AreaLevel.COMMUNITY, real=False),
        estates_real=plan.estates_attached,
        texts_read=mined.texts,
        place_mentions=mined.mentions,
        units=len(all_units),
        units_by_kind=dict(kinds),
        sections=sections or 0,
        items=counts.items,
        refinements=counts.refinements,
        responsibility_rules=counts.responsibility,
        implementation_rules=counts.implementation,
        district_choices=counts.district_choices,
        batches=tuple(counts.batches),
        users=len(users),
        machine_clients=1,
        machine_client_key=key,
    )


def _create_areas(session: Session, plan: CityPlan) -> dict[str, Area]:
    areas: dict[str, Area] = {}
    for planned in plan.areas:
        areas[planned.code] = org.create_area(
            session,
            code=planned.code,
            name=planned.name,
            level=planned.level,
            parent=areas[planned.parent_code] if planned.parent_code else None,
            aliases=planned.aliases,
            population=planned.population,
            boundary_wkt=planned.wkt,
        )
    return areas


def _committee_communities(plan: CityPlan, areas: dict[str, Area]) -> list[Area]:
    """The first real community of the first districts' first streets get a committee unit."""
    chosen: list[Area] = []
    seen: set[str] = set()
    for community in plan.of_level(AreaLevel.COMMUNITY):
        district = community.code.split("-")[0]
        if community.real and district not in seen and len(chosen) < COMMUNITY_COMMITTEES:
            seen.add(district)
            chosen.append(areas[community.code])
    return chosen
