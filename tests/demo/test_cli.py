"""`minyi demo`'s guards: an existing city, missing real data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.core.errors import NotFound
from minyi.demo.city import build_demo_city
from minyi.demo.cli import run_demo
from tests.factories import make_town

CLOCK = FixedClock(datetime(2026, 1, 1, tzinfo=UTC))


def run(session: Session, shared_data: Path, *, if_empty: bool) -> tuple[int, list[str]]:
    @contextmanager
    def scope() -> Iterator[Session]:
        yield session

    out: list[str] = []
    code = run_demo(
        scope=scope,
        shared_data=shared_data,
        if_empty=if_empty,
        clock=CLOCK,
        echo=out.append,
        error=out.append,
    )
    return code, out


def test_missing_shared_data_stops_with_the_path(session: Session, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-such-data"

    code, out = run(session, nowhere, if_empty=False)

    assert code == 2
    assert any(str(nowhere) in line and "MINYI_SHARED_DATA" in line for line in out)


def test_builder_names_the_missing_files(session: Session, tmp_path: Path) -> None:
    (tmp_path / "appeals").mkdir()
    (tmp_path / "appeals" / "train.csv").write_text("id,title,body\n", encoding="utf-8")
    with pytest.raises(NotFound) as info:
        build_demo_city(session, shared_data=tmp_path, clock=CLOCK)
    assert str(tmp_path) in info.value.message_en
    assert "appeals/test.csv" in info.value.message_en
    assert "appeals/train.csv" not in info.value.message_en


def test_existing_city_is_left_alone(session: Session, shared_data: Path) -> None:
    make_town(session)

    assert run(session, shared_data, if_empty=True)[0] == 0
    code, out = run(session, shared_data, if_empty=False)
    assert code == 1 and "--if-empty" in out[0]
