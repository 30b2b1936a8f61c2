"""Mining the demo city's place names from the real messages (text in, places out).

The messages in `shared/data/appeals/` are real, with places masked as "A市", "A3区",
"K9县". The county-level divisions of the provincial capital A市 survive the masking
(A1区 … A6区, A7县, A8县, A9市), and the streets, communities and estates after them mostly
keep their real names: "A3区天顶街道青山新村社区", "A7县泉塘街道圣力华苑小区". Those are the
names citizens really write, so the demo city is built from them and the locator can be
measured on them.

Only names that follow a district token directly, in the same clause, are taken: that is
the one position where the district they belong to is known with some confidence. Other
cities' tokens ("B2区", "C4市", "K9县") end a clause's tail and are never A市. The masking
also cut some real names into pieces ("A1区A2区华庭" was a name containing two masked
words), so fragments shorter than two characters before the suffix are dropped.

Pure: no files, no database; deterministic for the same texts in any order.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

DISTRICT_NAMES: tuple[str, ...] = (
    "A1区",
    "A2区",
    "A3区",
    "A4区",
    "A5区",
    "A6区",
    "A7县",
    "A8县",
    "A9市",
)
_DISTRICT_ORDER = {name: i for i, name in enumerate(DISTRICT_NAMES)}


class PlaceKind(StrEnum):
    STREET = "street"  # 街道 / 镇 / 乡
    COMMUNITY = "community"  # 社区 / 村
    ESTATE = "estate"  # 小区 / 花园 / 苑 / 新城 / ... and landmarks (广场, 大厦)


@dataclass(frozen=True, slots=True)
class Mention:
    """One place name written right after a district name in one message."""

    district: str
    kind: PlaceKind
    name: str
    street: str | None = None  # the street written before it in the same tail, if any


@dataclass(frozen=True, slots=True)
class MinedPlace:
    district: str
    kind: PlaceKind
    name: str
    mentions: int
    street: str | None = None  # communities and estates: the street most written with them
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class MinedPlaces:
    streets: tuple[MinedPlace, ...] = ()
    communities: tuple[MinedPlace, ...] = ()
    estates: tuple[MinedPlace, ...] = ()
    texts: int = 0
    mentions: int = 0
    _by_key: dict[tuple[PlaceKind, str], list[MinedPlace]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def of(self, kind: PlaceKind, district: str) -> list[MinedPlace]:
        """The places of one kind in one district, most mentioned first."""
        if not self._by_key:
            for place in (*self.streets, *self.communities, *self.estates):
                self._by_key.setdefault((place.kind, place.district), []).append(place)
        return list(self._by_key.get((kind, district), ()))


# --- scanning ----------------------------------------------------------------------------

# Scrape residue (\n\t\t\t, \u3000, \xa0) and punctuation all end a clause.
_CLAUSE_SPLIT = re.compile(r"[^\u4e00-\u9fffA-Za-z0-9]+")
# Any masked token (A市, A3区, B2区, K9县, D12市): the end of a tail, and the start of a
# district mention when it is one of A市's nine.
_MASKED = re.compile(r"(?<![A-Za-z0-9])[A-Z]\d{0,2}[区县市省州]?(?![0-9])")
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]*")

_STREET_SUFFIXES = ("街道", "镇", "乡")
_COMMUNITY_SUFFIXES = ("社区", "村")
_ESTATE_SUFFIXES = (
    "小区",
    "花园",
    "家园",
    "新城",
    "公寓",
    "山庄",
    "苑",
    "华庭",
    "广场",
    "大厦",
    "公馆",
)
# What a name may end with before a trailing "小区" is dropped ("景城苑小区" is 景城苑).
_ESTATE_ENDINGS = (*_ESTATE_SUFFIXES, "城", "园", "湾", "庭", "府", "居", "院", "里", "郡")
_MAX_STEM = {PlaceKind.STREET: 4, PlaceKind.COMMUNITY: 6, PlaceKind.ESTATE: 8}

# A character that never stands inside a place name but often right before one in prose.
_STOP_CHARS = frozenset(
    "的了在是我你他她它们这那有与及或被把对从向给为将就都也还又很最更已不没请要想会能可该其各某此每个些吗呢吧啊哪谁么怎区县省号"
)
_STOP_STARTS = frozenset("之和及到至于以由原去往经办")
# A stem that starts with a road's direction is the rest of a masked name ("A1区北路街道"
# was "<masked>北路街道").
_ROAD_START = re.compile(r"^[东南西北中]?路")
# Generic words that are not an estate's name ("安置小区", "住宅小区").
_GENERIC_ESTATE = frozenset({"安置", "住宅", "老旧", "商品房", "高层", "居民", "该", "一个"})
_STOP_WORDS = (
    "投诉",
    "反映",
    "举报",
    "位于",
    "关于",
    "请问",
    "咨询",
    "建议",
    "要求",
    "希望",
    "附近",
    "周边",
    "门口",
    "旁边",
    "对面",
    "境内",
    "辖区",
    "管辖",
    "政府",
    "人民",
    "居民",
    "业主",
    "领导",
    "部门",
    "街道",
    "城乡",
    "农村",
    "乡村",
    "乡镇",
    "行政",
    "办事处",
    "自然村",
    "回复",
    "侵占",
    "局",
    "城中",
    "所在",
    "一个",
    "一些",
    "整个",
    "全县",
    "全区",
    "全市",
)
# "家乡", "老乡", "城镇", "新农村": a 镇/乡/村 that ends a word, not a place.
_BAD_LAST = {
    "镇": frozenset("乡重小"),
    "乡": frozenset("城家老下回丽故同返之他异水"),
    "村": frozenset("农乡城"),
}
_ROAD = re.compile(r"(?:大道|大街|路|街(?!道)|巷)")


def clean_text(text: str) -> list[str]:
    """The clauses of a message: scrape residue and punctuation split it."""
    return [part for part in _CLAUSE_SPLIT.split(text) if part]


def find_mentions(text: str) -> list[Mention]:
    """Every place written right after one of A市's district names in `text`."""
    mentions: list[Mention] = []
    for clause in clean_text(text):
        tokens = list(_MASKED.finditer(clause))
        for i, token in enumerate(tokens):
            district = token.group(0)
            if district not in _DISTRICT_ORDER:
                continue
            end = tokens[i + 1].start() if i + 1 < len(tokens) else len(clause)
            glued_before = (
                i > 0
                and tokens[i - 1].end() == token.start()
                and any(ch.isdigit() for ch in tokens[i - 1].group(0))
            )
            if end == token.end() or glued_before:
                # "A1区A2区华庭", "A4区A1区北路街道": the masking cut a real name in two, and
                # neither token is then the district the place belongs to.
                continue
            tail = clause[token.end() : end]
            if district.endswith("县") and tail.startswith("市"):
                # "A8县市双凫铺镇": a county that became a city, masked as county + 市.
                tail = tail[1:]
            mentions.extend(_parse_tail(district, tail))
    return mentions


def _parse_tail(district: str, tail: str) -> list[Mention]:
    run = _CJK_RUN.match(tail)
    rest = run.group(0) if run else ""
    found: list[Mention] = []
    street = _match(rest, PlaceKind.STREET)
    street_name: str | None = None
    if street is not None:
        street_name, used = street
        found.append(Mention(district, PlaceKind.STREET, street_name))
        rest = rest[used:]
    community = _match(rest, PlaceKind.COMMUNITY)
    if community is not None:
        name, used = community
        found.append(Mention(district, PlaceKind.COMMUNITY, name, street_name))
        rest = rest[used:]
    estate = _match(rest, PlaceKind.ESTATE)
    if estate is not None:
        found.append(Mention(district, PlaceKind.ESTATE, estate[0], street_name))
    return found


def _match(text: str, kind: PlaceKind) -> tuple[str, int] | None:
    """The place name `text` starts with, as (name, characters used), or None.

    Streets take the shortest name (their names are short and one can follow another);
    communities and estates the longest ("青山新村社区", not "青山新村").
    """
    suffixes = {
        PlaceKind.STREET: _STREET_SUFFIXES,
        PlaceKind.COMMUNITY: _COMMUNITY_SUFFIXES,
        PlaceKind.ESTATE: _ESTATE_SUFFIXES,
    }[kind]
    max_stem = _MAX_STEM[kind]
    best: tuple[str, int] | None = None
    for i in range(2, min(len(text), max_stem + 3)):
        for suffix in suffixes:
            if not text.startswith(suffix, i):
                continue
            end = i + len(suffix)
            stem = text[:i]
            if suffix == "村" and (stem.endswith("村") or text[end : end + 1] == "民"):
                continue  # "XX村村民", "XX村村委会": the second 村 starts the next word
            if kind is not PlaceKind.STREET:
                stem = _strip_road(stem)
            if len(stem) > max_stem or not _good_stem(stem, suffix):
                continue
            if kind is PlaceKind.ESTATE and (stem in _GENERIC_ESTATE or _ROAD.search(stem[-2:])):
                continue  # "安置小区", "劳动东路新城": no estate's own name
            name = stem + suffix
            if kind is PlaceKind.STREET:
                return name, end
            if best is None or end > best[1]:
                best = (name, end)
    return best


def _strip_road(stem: str) -> str:
    """ "劳动东路魅力之城" → "魅力之城": an estate is named after the road it stands on."""
    last = None
    for m in _ROAD.finditer(stem):
        last = m
    if last is None:
        return stem
    rest = stem[last.end() :]
    return rest if len(rest) >= 2 else stem


def _good_stem(stem: str, suffix: str) -> bool:
    if len(stem) < 2 or stem[0] in _STOP_STARTS or _ROAD_START.match(stem):
        return False
    if any(ch in _STOP_CHARS for ch in stem):
        return False
    if any(word in stem for word in _STOP_WORDS):
        return False
    bad_last = _BAD_LAST.get(suffix)
    return not (bad_last and stem[-1] in bad_last)


# --- aggregation -------------------------------------------------------------------------


def mine_places(texts: Iterable[str]) -> MinedPlaces:
    """Count every mention, attach each name to the district it is most written with.

    Streets written as 街道 and as 镇/乡 with the same stem in one district are one place
    (towns became 街道 over the years; citizens write both): the commoner form names it,
    the other is an alias. A community written with a street's stem in front
    ("泉塘泉星社区") is that street's community ("泉星社区") when that is written alone too or
    the street's stem is long enough not to be part of the community's own name ("青山新村").
    """
    counts: Counter[tuple[PlaceKind, str, str]] = Counter()
    streets_with: dict[tuple[PlaceKind, str, str], Counter[str]] = defaultdict(Counter)
    n_texts = 0
    n_mentions = 0
    for text in texts:
        n_texts += 1
        for m in find_mentions(text):
            n_mentions += 1
            key = (m.kind, m.district, m.name)
            counts[key] += 1
            if m.street:
                streets_with[key][m.street] += 1

    streets = _merge_streets(_by_majority(counts, PlaceKind.STREET))
    street_alias = {(p.district, alias): p.name for p in streets for alias in (p.name, *p.aliases)}

    def street_of(key: tuple[PlaceKind, str, str]) -> str | None:
        _, district, _ = key
        best = [
            (n, street_alias[(district, s)])
            for s, n in streets_with[key].items()
            if (district, s) in street_alias
        ]
        if not best:
            return None
        best.sort(key=lambda pair: (-pair[0], pair[1]))
        return best[0][1]

    community_counts = _by_majority(counts, PlaceKind.COMMUNITY)
    communities = _merge_communities(community_counts, streets, street_of)
    estates = tuple(
        MinedPlace(
            district=district,
            kind=PlaceKind.ESTATE,
            name=_estate_name(name),
            mentions=n,
            street=street_of((PlaceKind.ESTATE, district, name)),
            aliases=(name,) if _estate_name(name) != name else (),
        )
        for (district, name), n in _by_majority(counts, PlaceKind.ESTATE).items()
    )
    return MinedPlaces(
        streets=_ordered(streets),
        communities=_ordered(communities),
        estates=_ordered(_dedupe(estates)),
        texts=n_texts,
        mentions=n_mentions,
    )


def _by_majority(
    counts: Counter[tuple[PlaceKind, str, str]], kind: PlaceKind
) -> dict[tuple[str, str], int]:
    """(district, name) → mentions, each name kept only under its most-mentioned district."""
    per_name: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for (k, district, name), n in counts.items():
        if k is kind:
            per_name[name].append((n, district))
    result: dict[tuple[str, str], int] = {}
    for name, options in per_name.items():
        options.sort(key=lambda pair: (-pair[0], _DISTRICT_ORDER[pair[1]]))
        n, district = options[0]
        result[(district, name)] = sum(count for count, _ in options)
    return result


def _street_stem(name: str) -> str:
    for suffix in _STREET_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _merge_streets(found: dict[tuple[str, str], int]) -> list[MinedPlace]:
    groups: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for (district, name), n in found.items():
        groups[(district, _street_stem(name))].append((n, name))
    merged: list[MinedPlace] = []
    for (district, _stem), forms in groups.items():
        # 街道 wins a tie: it is the current form of the name.
        forms.sort(key=lambda pair: (-pair[0], not pair[1].endswith("街道"), pair[1]))
        merged.append(
            MinedPlace(
                district=district,
                kind=PlaceKind.STREET,
                name=forms[0][1],
                mentions=sum(n for n, _ in forms),
                aliases=tuple(sorted(name for _, name in forms[1:])),
            )
        )
    return merged


def _merge_communities(
    found: dict[tuple[str, str], int],
    streets: list[MinedPlace],
    street_of: Callable[[tuple[PlaceKind, str, str]], str | None],
) -> list[MinedPlace]:
    stems: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for place in streets:
        for form in (place.name, *place.aliases):
            stems[place.district].append((_street_stem(form), place.name))
    for district in stems:
        stems[district].sort(key=lambda pair: (-len(pair[0]), pair[0]))

    totals: Counter[tuple[str, str]] = Counter()
    street_votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    aliases: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (district, name), n in sorted(found.items()):
        target = name
        street = street_of((PlaceKind.COMMUNITY, district, name))
        for stem, street_name in stems.get(district, ()):
            rest = name[len(stem) :]
            known = (district, rest) in found
            if name.startswith(stem) and (known or (len(stem) >= 3 and _is_community(rest))):
                target, street = rest, street_name
                break
        # "青山新村" written without 社区 is the same community as "青山新村社区".
        if (district, target + "社区") in found:
            aliases[(district, target + "社区")].add(target)
            target = target + "社区"
        key = (district, target)
        totals[key] += n
        if street:
            street_votes[key][street] += n
    result: list[MinedPlace] = []
    for (district, name), n in totals.items():
        votes = sorted(street_votes[(district, name)].items(), key=lambda p: (-p[1], p[0]))
        alias_set = set(aliases[(district, name)])
        if name.endswith("社区") and len(name) >= 5:
            alias_set.add(name[:-2])
        alias_set.discard(name)
        result.append(
            MinedPlace(
                district=district,
                kind=PlaceKind.COMMUNITY,
                name=name,
                mentions=n,
                street=votes[0][0] if votes else None,
                aliases=tuple(sorted(alias_set)),
            )
        )
    return result


def _is_community(name: str) -> bool:
    return _match(name, PlaceKind.COMMUNITY) == (name, len(name))


def _estate_name(name: str) -> str:
    if name.endswith("小区"):
        bare = name[:-2]
        if len(bare) >= 3 and bare.endswith(_ESTATE_ENDINGS):
            return bare
    return name


def _dedupe(places: Iterable[MinedPlace]) -> list[MinedPlace]:
    """ "景城苑" and "景城苑小区" written in one district are one estate."""
    merged: dict[tuple[str, str], MinedPlace] = {}
    for p in sorted(places, key=lambda p: (p.district, p.name, p.aliases)):
        key = (p.district, p.name)
        old = merged.get(key)
        if old is None:
            merged[key] = p
            continue
        street = old.street if old.mentions >= p.mentions else p.street
        merged[key] = MinedPlace(
            district=p.district,
            kind=p.kind,
            name=p.name,
            mentions=old.mentions + p.mentions,
            street=street or old.street or p.street,
            aliases=tuple(sorted({*old.aliases, *p.aliases})),
        )
    # A name may now stand in two districts (as itself in one, as an alias in another).
    best: dict[str, MinedPlace] = {}
    for p in merged.values():
        other = best.get(p.name)
        if other is None or (-p.mentions, _DISTRICT_ORDER[p.district]) < (
            -other.mentions,
            _DISTRICT_ORDER[other.district],
        ):
            best[p.name] = p
    return list(best.values())


def _ordered(places: Iterable[MinedPlace]) -> tuple[MinedPlace, ...]:
    return tuple(sorted(places, key=lambda p: (_DISTRICT_ORDER[p.district], -p.mentions, p.name)))
