"""Finding an appeal's place: names in the address and text → area, coordinates → grid.

Pure: built once from the organisation tree's rows (`AreaRow`), then `locate` does no I/O.

Names. One Aho-Corasick automaton holds every area's name, its aliases (the demo puts real
estate names on communities: citizens name the estate, not the 社区) and a few safe short
forms ("桂花坪街道" → "桂花坪"). Overlapping hits keep the longest. Each candidate area is
scored by the names that support it (itself or an ancestor named), so a community whose
street or district is also written beats a lone street, and a chain beats a lone name of
another branch, which is then reported as a conflict. Equal scores on different branches
(the same name in two districts, nothing else written) leave the result at their common
ancestor with a lower confidence: a wrong district sends the ticket to the wrong office,
a district-less one only to the dispatcher.

Coordinates. Grid polygons sit in a shapely STRtree; a point inside a grid decides the
place outright (confidence 1) and names that disagree with it become conflicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick
import shapely
from shapely import STRtree

LEVELS: tuple[str, ...] = ("city", "district", "street", "community", "grid")
_DEPTH = {level: i for i, level in enumerate(LEVELS)}

# How much one written name counts: the official name, an alias (estate names, older town
# names) and a derived short form, which is likelier to be an ordinary word.
W_NAME = 1.0
W_ALIAS = 0.9
W_SHORT = 0.6
# The address is where the citizen says the problem is; the text may name other places
# ("I moved here from A2区").
ADDRESS_FACTOR = 1.5

# Suffixes whose removal leaves a name citizens still write ("桂花坪街道" → "桂花坪").
_SHORT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "street": ("街道", "镇", "乡"),
    "community": ("社区", "小区"),
}
# A short form under three characters is too often an ordinary word ("朝阳", "火星").
_MIN_SHORT = 3
# Short forms that are generic words, not one place's name.
_GENERIC = frozenset({"开发区", "工业园", "新城区", "老城区", "火车站", "高新区", "经开区"})

_TRANSLATE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_TRANSLATE |= {c: c - 0x20 for c in range(ord("a"), ord("z") + 1)}
_TRANSLATE |= {c: c - 0x20 - 0xFEE0 for c in range(0xFF41, 0xFF5B)}


@dataclass(frozen=True, slots=True)
class AreaRow:
    id: int
    name: str
    level: str  # city / district / street / community / grid
    parent_id: int | None
    aliases: tuple[str, ...] = ()
    boundary_wkt: str | None = None


@dataclass(frozen=True, slots=True)
class PlaceMatch:
    area_id: int
    name: str  # the area's official name
    level: str
    start: int  # the span in the searched string (see `source`)
    end: int
    source: str = "text"  # "address" or "text"
    form: str = ""  # what was written: the name, an alias or a short form


@dataclass(frozen=True)
class Location:
    area_id: int | None  # the deepest area found
    district_id: int | None
    street_id: int | None
    community_id: int | None
    grid_id: int | None
    method: str  # "coordinates" | "names" | "none"
    confidence: float  # 0..1
    matched: list[PlaceMatch] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Form:
    """One string in the automaton and the areas it may name."""

    text: str
    candidates: tuple[int, ...]
    weight: float


@dataclass(frozen=True, slots=True)
class _Hit:
    form: _Form
    start: int
    end: int
    source: str
    weight: float


def normalise(text: str) -> str:
    """Full-width letters and digits to half width, lower-case letters to upper case, one
    character for one so that spans still point into the original."""
    return text.translate(_TRANSLATE)


class Locator:
    """The organisation tree compiled for `locate`; build once, share between threads."""

    def __init__(
        self,
        rows: dict[int, AreaRow],
        automaton: Any,
        tree: STRtree | None,
        grid_ids: list[int],
    ) -> None:
        self._rows = rows
        self._automaton = automaton
        self._tree = tree
        self._grid_ids = grid_ids
        self._chains: dict[int, tuple[int, ...]] = {a: self._chain(a) for a in rows}

    # --- building ---------------------------------------------------------------------

    @classmethod
    def build(cls, areas: Sequence[AreaRow]) -> Locator:
        rows = {row.id: row for row in areas}
        forms = _forms(rows)
        automaton = ahocorasick.Automaton()
        for text, form in forms.items():
            automaton.add_word(text, form)
        if forms:
            automaton.make_automaton()
        geoms = []
        grid_ids: list[int] = []
        for row in areas:
            if row.level == "grid" and row.boundary_wkt:
                geom = shapely.from_wkt(row.boundary_wkt)
                if geom is not None and not geom.is_empty:
                    geoms.append(geom)
                    grid_ids.append(row.id)
        tree = STRtree(geoms) if geoms else None
        return cls(rows, automaton if forms else None, tree, grid_ids)

    def _chain(self, area_id: int) -> tuple[int, ...]:
        """The area and its ancestors, deepest first (cycles in bad data stop the walk)."""
        chain: list[int] = []
        node: int | None = area_id
        while node is not None and node in self._rows and node not in chain:
            chain.append(node)
            node = self._rows[node].parent_id
        return tuple(chain)

    # --- locating ---------------------------------------------------------------------

    def locate(
        self,
        *,
        text: str,
        address: str | None = None,
        lon: float | None = None,
        lat: float | None = None,
    ) -> Location:
        hits = self._hits(address, "address") + self._hits(text, "text")
        grid = self._grid_at(lon, lat)
        if grid is not None:
            return self._from_grid(grid, hits)
        return self._from_names(hits)

    def _hits(self, text: str | None, source: str) -> list[_Hit]:
        if not text or self._automaton is None:
            return []
        factor = ADDRESS_FACTOR if source == "address" else 1.0
        found: list[_Hit] = []
        for last, form in self._automaton.iter(normalise(text)):
            start = last - len(form.text) + 1
            found.append(_Hit(form, start, last + 1, source, form.weight * factor))
        # Longest first, then leftmost: "青山新村社区" hides "青山新村" inside it.
        found.sort(key=lambda h: (h.start - h.end, h.start))
        kept: list[_Hit] = []
        taken: list[tuple[int, int]] = []
        for hit in found:
            if all(hit.end <= s or hit.start >= e for s, e in taken):
                kept.append(hit)
                taken.append((hit.start, hit.end))
        kept.sort(key=lambda h: h.start)
        return kept

    def _grid_at(self, lon: float | None, lat: float | None) -> int | None:
        if self._tree is None or lon is None or lat is None:
            return None
        found = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        if len(found) == 0:
            return None
        # A point on the edge of two grids: the lower id, so the answer never flickers.
        return min(self._grid_ids[int(i)] for i in found)

    def _from_grid(self, grid_id: int, hits: list[_Hit]) -> Location:
        chain = set(self._chains[grid_id])
        matched: list[PlaceMatch] = []
        conflicts: list[str] = []
        for hit in hits:
            agreeing = [c for c in hit.form.candidates if c in chain]
            if agreeing:
                if all(m.area_id != agreeing[0] or m.form != hit.form.text for m in matched):
                    matched.append(self._match(hit, agreeing[0]))
            elif not any(grid_id in self._chains[c] for c in hit.form.candidates):
                _add_once(conflicts, self._conflict(hit, "坐标 / coordinates"))
        return self._location(grid_id, "coordinates", 1.0, matched, conflicts)

    def _from_names(self, hits: list[_Hit]) -> Location:
        if not hits:
            return _NOWHERE
        # Each area counts once, with its strongest mention.
        weight: dict[int, float] = {}
        for hit in hits:
            for c in hit.form.candidates:
                weight[c] = max(weight.get(c, 0.0), hit.weight)
        scores = {t: sum(weight.get(a, 0.0) for a in self._chains[t]) for t in weight}
        best = max(scores.values())
        top = [t for t, s in scores.items() if s >= best - 1e-9]
        # Among equal scores an area beats its own ancestors (same support, more precise).
        top = [t for t in top if not any(o != t and t in self._chains[o] for o in top)]
        target = top[0] if len(top) == 1 else self._common_ancestor(top)
        rival = max(
            (s for t, s in scores.items() if not self._comparable(t, top)),
            default=0.0,
        )
        evidence = best / (best + 0.25)  # one name alone 0.8, a name and its parent 0.89
        # A tie sends the answer up to the common ancestor, so it is worth less.
        share = 0.5 / len(top) if len(top) > 1 else best / (best + rival)
        confidence = evidence * share
        if target is None:  # names from two unrelated trees: nothing to stand on
            return _NOWHERE
        support = set().union(*(self._chains[t] for t in top))
        matched: list[PlaceMatch] = []
        conflicts: list[str] = []
        seen: set[tuple[int, str]] = set()
        for hit in hits:
            used = [c for c in hit.form.candidates if c in support]
            if used:
                # One entry per place and written form: "A市" ten times explains nothing more.
                fresh = [c for c in used if (c, hit.form.text) not in seen]
                seen.update((c, hit.form.text) for c in used)
                matched.extend(self._match(hit, c) for c in fresh)
            elif not any(any(t in self._chains[c] for t in top) for c in hit.form.candidates):
                _add_once(conflicts, self._conflict(hit, self._path(target)))
        return self._location(target, "names", confidence, matched, conflicts)

    def _comparable(self, area: int, top: list[int]) -> bool:
        """`area` lies on the chain of one of `top` (above it) or below one of them."""
        return any(area in self._chains[t] or t in self._chains[area] for t in top)

    def _common_ancestor(self, areas: list[int]) -> int | None:
        common = set(self._chains[areas[0]])
        for a in areas[1:]:
            common &= set(self._chains[a])
        return next((a for a in self._chains[areas[0]] if a in common), None)

    def _location(
        self,
        area_id: int,
        method: str,
        confidence: float,
        matched: list[PlaceMatch],
        conflicts: list[str],
    ) -> Location:
        by_level = {self._rows[a].level: a for a in self._chains[area_id]}
        return Location(
            area_id=area_id,
            district_id=by_level.get("district"),
            street_id=by_level.get("street"),
            community_id=by_level.get("community"),
            grid_id=by_level.get("grid"),
            method=method,
            confidence=round(min(1.0, confidence), 3),
            matched=matched,
            conflicts=conflicts,
        )

    def _match(self, hit: _Hit, area_id: int) -> PlaceMatch:
        row = self._rows[area_id]
        return PlaceMatch(
            area_id=area_id,
            name=row.name,
            level=row.level,
            start=hit.start,
            end=hit.end,
            source=hit.source,
            form=hit.form.text,
        )

    def _path(self, area_id: int) -> str:
        """ "A3区天顶街道青山新村社区": the names from the district down."""
        chain = [self._rows[a] for a in reversed(self._chains[area_id])]
        below_city = [row.name for row in chain if row.level != "city"]
        return "".join(below_city) or chain[0].name

    def _conflict(self, hit: _Hit, kept_label: str) -> str:
        places = "、".join(self._path(c) for c in hit.form.candidates)
        return (
            f"“{hit.form.text}”指向{places}，与{kept_label}不一致，已忽略 / "
            f"'{hit.form.text}' names {places}, which disagrees with {kept_label}; dropped"
        )


def _add_once(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


_NOWHERE = Location(None, None, None, None, None, "none", 0.0, [], [])


def _forms(rows: dict[int, AreaRow]) -> dict[str, _Form]:
    """Every string to look for, with the areas it names and how much it counts.

    A full name or alias written for several areas stays ambiguous (the other names in the
    text decide). A short form is kept only when it names one area and is nobody's full
    name: a short form that collides is more likely a coincidence than a reference.
    """
    full: dict[str, list[int]] = {}
    full_weight: dict[str, float] = {}
    for row in rows.values():
        for text, weight in ((row.name, W_NAME), *((a, W_ALIAS) for a in row.aliases)):
            text = normalise(text.strip())
            if not text:
                continue
            ids = full.setdefault(text, [])
            if row.id not in ids:
                ids.append(row.id)
            full_weight[text] = max(full_weight.get(text, 0.0), weight)
    short: dict[str, set[int]] = {}
    for row in rows.values():
        for text in (row.name, *row.aliases):
            stem = _short_form(normalise(text.strip()), row.level)
            if stem and stem not in full:
                short.setdefault(stem, set()).add(row.id)
    forms = {text: _Form(text, tuple(sorted(ids)), full_weight[text]) for text, ids in full.items()}
    for stem, owners in short.items():
        if len(owners) == 1:
            forms[stem] = _Form(stem, tuple(owners), W_SHORT)
    return forms


def _short_form(name: str, level: str) -> str | None:
    for suffix in _SHORT_SUFFIXES.get(level, ()):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            if len(stem) >= _MIN_SHORT and stem not in _GENERIC:
                return stem
    return None
