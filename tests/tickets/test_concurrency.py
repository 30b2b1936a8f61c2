"""Two people acting on one ticket at the same moment, through a real server: exactly one
succeeds and the other gets a 409 (on PostgreSQL the row lock and the version decide)."""

from __future__ import annotations

import threading
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from minyi.tickets import service
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from tests.factories import PASSWORD, make_ticket, make_world
from tests.servers import running_server


def _prepare(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        world = make_world(session)
        ticket = make_ticket(session, world)
        dispatched = service.act(
            session,
            ticket_id=ticket.id,
            action=Action.DISPATCH,
            principal=Principal(session=session, system=True),
            payload={"unit_id": world.bureau.id, "co_unit_ids": []},
        )
        session.commit()
        return dispatched.id, dispatched.version


def _race(base: str, calls: list[tuple[str, dict[str, Any]]]) -> list[httpx.Response]:
    tokens = {}
    for user in {"handler", "leader"}:
        r = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": PASSWORD})
        tokens[user] = r.json()["access_token"]
    barrier = threading.Barrier(len(calls))
    results: list[httpx.Response] = [None] * len(calls)  # type: ignore[list-item]

    def go(i: int, path: str, body: dict[str, Any]) -> None:
        user = "handler" if i % 2 == 0 else "leader"
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            results[i] = http.post(
                f"{base}{path}", json=body, headers={"Authorization": f"Bearer {tokens[user]}"}
            )

    threads = [threading.Thread(target=go, args=(i, p, b)) for i, (p, b) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_accepts_at_once_one_wins(scratch_db: tuple[Engine, str]) -> None:
    engine, url = scratch_db
    ticket_id, version = _prepare(engine)
    path = f"/api/v1/tickets/{ticket_id}/accept"
    with running_server(url) as base:
        results = _race(base, [(path, {"version": version}), (path, {"version": version})])
    assert sorted(r.status_code for r in results) == [200, 409]
    loser = next(r for r in results if r.status_code == 409).json()
    assert loser["code"] in {"version_conflict", "illegal_transition"}


def test_accept_and_return_at_once_one_wins(scratch_db: tuple[Engine, str]) -> None:
    engine, url = scratch_db
    ticket_id, _ = _prepare(engine)
    base_path = f"/api/v1/tickets/{ticket_id}"
    with running_server(url) as base:
        results = _race(
            base,
            [(f"{base_path}/accept", {}), (f"{base_path}/return", {"reason": "不属于本单位"})],
        )
        final = httpx.get(f"{base}/healthz").status_code
    assert final == 200
    assert sorted(r.status_code for r in results) == [200, 409]
    loser = next(r for r in results if r.status_code == 409).json()
    assert loser["code"] in {"illegal_transition", "ticket_left_unit"}
    with Session(engine) as session:
        events = [e.action for e in service.timeline(session, ticket_id)]
    assert events[:2] == ["receive", "dispatch"]
    assert len(events) == 3  # exactly one of the two was recorded
