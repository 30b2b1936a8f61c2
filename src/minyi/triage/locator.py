"""The locator behind intake and triage: the organisation tree, read once, kept fresh.

The matching itself is pure (`locator_match`); this module reads the areas and keeps one
compiled `Locator` per database for the whole process. Before each use one cheap query
(the highest id, the newest area's name and aliases) tells whether the tree changed;
only then is the locator rebuilt, so a new community is found by the next appeal without
a restart.
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

Stamp = tuple[int, str, str]

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
    """One index look-up that changes when an area is added: the highest id, and that
    newest area's name and aliases.

    Areas are only ever added (the org service neither edits nor deletes them), so the
    highest id would do in production; the newest row's name guards test databases, where
    a rolled-back transaction hands the same ids to a different tree. Counting or reading
    every row made this query several times slower (about 0.5 ms more on PostgreSQL with
    the demo city); after editing or deleting areas in place, call `clear_locator_cache`.
    """
    newest = select(func.max(Area.id)).scalar_subquery()
    row = session.execute(
        select(
            newest,
            select(Area.name).where(Area.id == newest).scalar_subquery(),
            select(cast(Area.aliases, String)).where(Area.id == newest).scalar_subquery(),
        )
    ).one()
    return (int(row[0] or 0), str(row[1] or ""), str(row[2] or ""))


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
