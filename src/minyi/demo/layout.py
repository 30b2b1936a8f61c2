"""Planning the demo city's areas: real mined names first, generated names to fill up.

Pure: from the mined places and a seed, the same plan every time. The plan is a list of
areas in creation order (city, districts, streets, communities, grids), each with its
code, name, aliases, population and a rectangle; the builder only writes it down.

Estates (小区, 花园, 苑 ...) do not become areas of their own: a 社区 usually holds several
estates, and citizens name the estate, not the 社区. So each real estate becomes an alias
of one community of its district (of its street, when the messages name the street), and
the locator finds "景城苑" as that community. The community's own short form ("青山新村"
for "青山新村社区") is an alias too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from minyi.demo.places import MinedPlace, MinedPlaces, PlaceKind
from minyi.org.domain import AreaLevel

SEED = 2026
CITY_CODE = "A"
CITY_NAME = "A市"
# Fewer mentions than this and a mined name is too likely a typo or a fragment.
MIN_MENTIONS = 2

Rect = tuple[float, float, float, float]  # west, south, east, north (WGS-84 degrees)


@dataclass(frozen=True, slots=True)
class DistrictSpec:
    code: str
    name: str
    population: int
    rect: Rect
    streets: int
    communities: int
    # Urban districts have 街道 and 社区; the counties and A9市 mostly 镇/乡 and 村.
    urban: bool
    # Rank of resources: 0 is the best-resourced; districts pick faster recommended values.
    resource_rank: int


# The layout follows the real city's shape loosely: a ring of urban districts around the
# centre (A1区), the counties and A9市 to the west and east. Rectangles tile the city.
DISTRICTS: tuple[DistrictSpec, ...] = (
    DistrictSpec("A1", "A1区", 650_000, (112.95, 28.18, 113.10, 28.25), 6, 36, True, 0),
    DistrictSpec("A2", "A2区", 800_000, (112.95, 27.95, 113.02, 28.18), 6, 36, True, 1),
    DistrictSpec("A3", "A3区", 1_550_000, (112.75, 27.95, 112.95, 28.30), 8, 52, True, 0),
    DistrictSpec("A4", "A4区", 850_000, (112.95, 28.25, 113.10, 28.45), 6, 40, True, 1),
    DistrictSpec("A5", "A5区", 1_400_000, (113.02, 27.95, 113.10, 28.18), 6, 40, True, 1),
    DistrictSpec("A6", "A6区", 900_000, (112.75, 28.30, 112.95, 28.45), 6, 40, True, 2),
    DistrictSpec("A7", "A7县", 1_450_000, (113.10, 27.95, 113.40, 28.45), 8, 60, False, 2),
    DistrictSpec("A8", "A8县", 1_450_000, (112.30, 27.95, 112.75, 28.45), 7, 52, False, 3),
    DistrictSpec("A9", "A9市", 1_450_000, (113.40, 27.95, 114.20, 28.45), 7, 44, False, 3),
)
CITY_RECT: Rect = (112.30, 27.95, 114.20, 28.45)
GRIDS = 2_000


@dataclass(frozen=True, slots=True)
class PlannedArea:
    code: str
    name: str
    level: AreaLevel
    parent_code: str | None
    population: int
    rect: Rect
    aliases: tuple[str, ...] = ()
    real: bool = False  # the name comes from the real messages

    @property
    def wkt(self) -> str:
        return rect_wkt(self.rect)


@dataclass(frozen=True)
class CityPlan:
    areas: tuple[PlannedArea, ...]
    estates_attached: int

    def of_level(self, level: AreaLevel) -> list[PlannedArea]:
        return [a for a in self.areas if a.level is level]

    def count(self, level: AreaLevel, *, real: bool | None = None) -> int:
        return sum(1 for a in self.of_level(level) if real is None or a.real is real)


def rect_wkt(rect: Rect) -> str:
    w, s, e, n = rect
    corners = [(w, s), (e, s), (e, n), (w, n), (w, s)]
    return "POLYGON((" + ", ".join(f"{x:.6f} {y:.6f}" for x, y in corners) + "))"


def split_rect(rect: Rect, parts: int) -> list[Rect]:
    """`parts` rectangles that tile `rect` exactly, in rows from the north-west."""
    if parts <= 0:
        return []
    w, s, e, n = rect
    cols = max(1, round(parts**0.5))
    rows = -(-parts // cols)
    cells: list[Rect] = []
    height = (n - s) / rows
    left = parts
    for r in range(rows):
        in_row = min(cols, left) if r < rows - 1 else left
        left -= in_row
        top = n - r * height
        bottom = s if r == rows - 1 else top - height
        width = (e - w) / in_row
        for c in range(in_row):
            west = w + c * width
            east = e if c == in_row - 1 else west + width
            cells.append((west, bottom, east, top))
    return cells


def contains(outer: Rect, inner: Rect, eps: float = 1e-9) -> bool:
    return (
        inner[0] >= outer[0] - eps
        and inner[1] >= outer[1] - eps
        and inner[2] <= outer[2] + eps
        and inner[3] <= outer[3] + eps
    )


_CHINESE_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十 (grids are numbered like this: 第十二网格)."""
    if n < 10:
        return _CHINESE_DIGITS[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CHINESE_DIGITS[tens]
    return head + "十" + (_CHINESE_DIGITS[ones] if ones else "")


# Characters for generated names: common in the region's real place names.
_FIRST = "东西南北青金银龙凤桂枫柳梅竹松杉兰荷明新清永安福德康泰兴华光文雅秀锦瑞丰盛白石黄马杨"
_SECOND = "山湖塘岭坪桥港洲冲坡湾溪林田河江岗门铺园亭堤源圳垅湘"


class NameMaker:
    """Generated two-character stems that never repeat and never hit a real name."""

    def __init__(self, rng: random.Random, taken: set[str]) -> None:
        self._rng = rng
        self._taken = taken
        self._stems = sorted({a + b for a in _FIRST for b in _SECOND if a != b})
        rng.shuffle(self._stems)

    def make(self, suffix: str) -> str:
        while self._stems:
            name = self._stems.pop() + suffix
            if name not in self._taken:
                self._taken.add(name)
                return name
        raise RuntimeError("ran out of generated place names")  # pragma: no cover


def plan_city(mined: MinedPlaces, *, seed: int = SEED, grids: int = GRIDS) -> CityPlan:
    """The whole area tree of A市: about 60 streets, 400 communities and `grids` grids."""
    rng = random.Random(seed)
    taken = {
        name
        for place in (*mined.streets, *mined.communities, *mined.estates)
        for name in (place.name, *place.aliases)
    }
    maker = NameMaker(rng, taken)
    areas: list[PlannedArea] = [
        PlannedArea(
            CITY_CODE,
            CITY_NAME,
            AreaLevel.CITY,
            None,
            sum(d.population for d in DISTRICTS),
            CITY_RECT,
        )
    ]
    communities: list[PlannedArea] = []
    estates_attached = 0
    for spec in DISTRICTS:
        areas.append(
            PlannedArea(
                spec.code, spec.name, AreaLevel.DISTRICT, CITY_CODE, spec.population, spec.rect
            )
        )
        streets, district_communities, attached = _plan_district(spec, mined, rng, maker)
        estates_attached += attached
        areas.extend(streets)
        communities.extend(district_communities)
    areas.extend(communities)
    areas.extend(_plan_grids(communities, rng, grids))
    return CityPlan(areas=tuple(areas), estates_attached=estates_attached)


@dataclass
class _Street:
    name: str
    aliases: tuple[str, ...]
    real: bool
    communities: list[_Community]


@dataclass
class _Community:
    name: str
    aliases: list[str]
    real: bool


def _plan_district(
    spec: DistrictSpec, mined: MinedPlaces, rng: random.Random, maker: NameMaker
) -> tuple[list[PlannedArea], list[PlannedArea], int]:
    real_streets = _frequent(mined.of(PlaceKind.STREET, spec.name))[: spec.streets]
    streets = [_Street(*_current_form(p, spec.urban), True, []) for p in real_streets]
    while len(streets) < spec.streets:
        suffix = "街道" if spec.urban or rng.random() < 0.15 else rng.choice(("镇", "镇", "乡"))
        streets.append(_Street(maker.make(suffix), (), False, []))
    by_name = {s.name: s for s in streets}

    quota = _spread(spec.communities, len(streets))
    real_communities = _frequent(mined.of(PlaceKind.COMMUNITY, spec.name))
    loose: list[MinedPlace] = []
    placed = 0
    for place in real_communities:
        if placed >= spec.communities:
            break
        street = by_name.get(place.street or "")
        if street is None:
            loose.append(place)
            continue
        street.communities.append(_Community(place.name, list(place.aliases), True))
        placed += 1
    for place in loose:
        if placed >= spec.communities:
            break
        # Unplaced real names go where there is most room left.
        street = max(
            streets, key=lambda s: (quota[streets.index(s)] - len(s.communities), -streets.index(s))
        )
        street.communities.append(_Community(place.name, list(place.aliases), True))
        placed += 1
    for i, street in enumerate(streets):
        town = not (spec.urban or street.name.endswith("街道"))
        while len(street.communities) < max(quota[i], 2):
            # A town's seat is a 社区, its other communities are villages (村).
            suffix = "村" if town and street.communities else "社区"
            street.communities.append(_Community(maker.make(suffix), [], False))

    attached = _attach_estates(spec, mined, streets)

    street_rects = split_rect(spec.rect, len(streets))
    street_pops = _split_population(spec.population, len(streets), rng)
    planned_streets: list[PlannedArea] = []
    planned_communities: list[PlannedArea] = []
    for i, street in enumerate(streets):
        code = f"{spec.code}-{i + 1:02d}"
        planned_streets.append(
            PlannedArea(
                code,
                street.name,
                AreaLevel.STREET,
                spec.code,
                street_pops[i],
                street_rects[i],
                street.aliases,
                street.real,
            )
        )
        rects = split_rect(street_rects[i], len(street.communities))
        pops = _split_population(street_pops[i], len(street.communities), rng)
        for j, community in enumerate(street.communities):
            planned_communities.append(
                PlannedArea(
                    f"{code}-{j + 1:03d}",
                    community.name,
                    AreaLevel.COMMUNITY,
                    code,
                    pops[j],
                    rects[j],
                    tuple(dict.fromkeys(community.aliases)),
                    community.real,
                )
            )
    return planned_streets, planned_communities, attached


def _attach_estates(spec: DistrictSpec, mined: MinedPlaces, streets: list[_Street]) -> int:
    """Each real estate becomes an alias of the least-loaded community of its street."""
    load: dict[int, int] = {}
    all_communities = [c for s in streets for c in s.communities]
    names = {c.name for c in all_communities} | {a for c in all_communities for a in c.aliases}
    attached = 0
    for estate in _frequent(mined.of(PlaceKind.ESTATE, spec.name)):
        if estate.name in names:
            continue
        candidates = next(
            (s.communities for s in streets if s.name == estate.street), all_communities
        )
        target = min(candidates, key=lambda c: (load.get(id(c), 0), all_communities.index(c)))
        load[id(target)] = load.get(id(target), 0) + 1
        for alias in (estate.name, *estate.aliases):
            if alias not in names:
                target.aliases.append(alias)
                names.add(alias)
        attached += 1
    return attached


def _plan_grids(
    communities: list[PlannedArea], rng: random.Random, total: int
) -> list[PlannedArea]:
    counts = [rng.randint(3, 7) for _ in communities]
    # Nudge random communities until the total is exact; every community keeps 2 to 9.
    while sum(counts) != total:
        i = rng.randrange(len(counts))
        if sum(counts) > total and counts[i] > 2:
            counts[i] -= 1
        elif sum(counts) < total and counts[i] < 9:
            counts[i] += 1
    grids: list[PlannedArea] = []
    for community, n in zip(communities, counts, strict=True):
        rects = split_rect(community.rect, n)
        pops = _split_population(community.population, n, rng)
        for k in range(n):
            grids.append(
                PlannedArea(
                    f"{community.code}-{k + 1:02d}",
                    f"{community.name}第{chinese_number(k + 1)}网格",
                    AreaLevel.GRID,
                    community.code,
                    pops[k],
                    rects[k],
                )
            )
    return grids


def _current_form(street: MinedPlace, urban: bool) -> tuple[str, tuple[str, ...]]:
    """An urban district's towns have all become 街道: name the street by that form."""
    forms = (street.name, *street.aliases)
    if urban and not street.name.endswith("街道"):
        current = next((f for f in forms if f.endswith("街道")), street.name)
        return current, tuple(f for f in forms if f != current)
    return street.name, street.aliases


def _frequent(places: list[MinedPlace]) -> list[MinedPlace]:
    return [p for p in places if p.mentions >= MIN_MENTIONS]


def _spread(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _split_population(total: int, parts: int, rng: random.Random) -> list[int]:
    weights = [rng.uniform(0.6, 1.4) for _ in range(parts)]
    scale = total / sum(weights)
    pops = [int(w * scale) for w in weights]
    pops[0] += total - sum(pops)
    return pops
