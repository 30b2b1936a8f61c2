"""Imports every domain's tables so that metadata (and Alembic) sees the whole schema."""

from __future__ import annotations


def import_all_models() -> None:
    import minyi.catalogue.models
    import minyi.org.models  # noqa: F401
