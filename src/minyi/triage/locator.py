"""The locator behind intake and triage: the organisation tree, read once, kept fresh.

The matching itself is pure (`locator_match`); this module reads the areas and keeps one
compiled `Locator` per database for the whole process. Before each use a single aggregate
query over the area table (count, highest id, total name/alias/boundary lengths, sum of
parent ids) tells whether the tree changed; only then is the locator rebuilt, so a new
community is found by the next appeal without a restart.
"""

from __future__ import annotations

import threading

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from minyi.org.models import Area
from minyi.triage.locator_match import AreaRow, Location, Locator, PlaceMatch, normalise

__all__ = [
    "AreaRow",
    "Location",
    "Locator",
    "PlaceMatch",
    "area_rows",
    "clear_locator_cache",
    "get_locator",
    "normalise",
]

Stamp = tuple[int, ...]

_lock = threading.Lock()
_cache: dict[str, tuple[Stamp, Locator]] = {}


def area_rows(session: Session) -> list[AreaRow]:
    """Every area, as the plain rows the locator is built from."""
    result = session.execute(
        select(
            Area.id, Area.name, Area.level, Area.parent_id, Area.aliases, Area.boundary_wkt
        ).order_by(Area.id)
    )
    return [
        AreaRow(
            id=row.id,
            name=row.name,
            level=row.level,
            parent_id=row.parent_id,
            aliases=tuple(a for a in (row.aliases or ()) if isinstance(a, str)),
            boundary_wkt=row.boundary_wkt,
        )
        for row in result
    ]


def _stamp(session: Session) -> Stamp:
    """Cheap fingerprint of the area table: changes when an area is added, removed,
    renamed, re-parented, given aliases or a boundary."""
    row = session.execute(
        select(
            func.count(Area.id),
            func.coalesce(func.max(Area.id), 0),
            func.coalesce(func.sum(func.length(Area.name)), 0),
            func.coalesce(func.sum(func.length(cast(Area.aliases, String))), 0),
            func.coalesce(func.sum(func.length(Area.boundary_wkt)), 0),
            func.coalesce(func.sum(Area.parent_id), 0),
        )
    ).one()
    return tuple(int(v) for v in row)


def get_locator(session: Session) -> Locator:
    """The process-wide locator for the session's database, rebuilt when the areas change."""
    key = str(session.get_bind().engine.url)
    stamp = _stamp(session)
    cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        locator = Locator.build(area_rows(session))
        _cache[key] = (stamp, locator)
        return locator


def clear_locator_cache() -> None:
    """Forget every compiled locator (tests that rebuild the tree under the same stamp)."""
    with _lock:
        _cache.clear()
