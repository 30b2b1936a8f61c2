"""The schema comes from the migrations: they must describe exactly the tables in code."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from minyi.core.db import Base
from minyi.core.models_registry import import_all_models


def test_migrations_match_the_models(engine: Engine) -> None:
    import_all_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
