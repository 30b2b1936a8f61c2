"""What the citizen portal's tests share: the small world, a file store of the test's own,
the appeal form as a citizen fills it, and staff acting through the ticket service."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.intake.filestore import DirectoryFileStore, get_file_store
from minyi.org.models import User
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from minyi.triage.knowledge import notices
from minyi.triage.knowledge.domain import NoticeKind
from minyi.triage.knowledge.schemas import NoticeCreate
from tests.factories import World

NOISE = "东风街道幸福社区旁边的工地晚上十一点还在打桩，吵得孩子睡不着"
PHONE = "13812345678"
FORM = {
    "type": "complaint",
    "text": NOISE,
    "address_text": "T1区东风街道幸福社区3栋",
    "phone": PHONE,
    "name": "王小明",
}


def use_store(client: TestClient, tmp_path: Path) -> DirectoryFileStore:
    """Attachments go to the test's own directory."""
    files = DirectoryFileStore(tmp_path / "files")
    cast(FastAPI, client.app).dependency_overrides[get_file_store] = lambda: files
    return files


def stored(store: DirectoryFileStore) -> list[Path]:
    return sorted(p for p in store.root.rglob("*") if p.is_file()) if store.root.exists() else []


def count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Ticket)) or 0


def submit(
    client: TestClient, files: list[tuple[str, bytes, str]] | None = None, **changes: str
) -> httpx2.Response:
    """The appeal form as a browser posts it (multipart when there are files)."""
    data = {**FORM, **changes}
    parts = [("files", f) for f in files] if files else None
    return client.post("/appeal", data=data, files=parts, follow_redirects=False)


def labelled(html: str, label: str) -> bool:
    """A <label for=...> with this text, and the control it names."""
    found = re.search(rf'<label for="([^"]+)">{re.escape(label)}</label>', html)
    return found is not None and f'id="{found.group(1)}"' in html


def tracking_code(html: str) -> str:
    found = re.search(r'id="tracking-code"[^>]*>([^<]+)<', html)
    assert found is not None, "no element with id=tracking-code"
    return found.group(1).strip()


def status_of(html: str) -> str:
    found = re.search(r'id="ticket-status"[^>]*>([^<]+)<', html)
    assert found is not None, "no element with id=ticket-status"
    return found.group(1).strip()


def file_appeal(client: TestClient, **changes: str) -> str:
    """An appeal filed through the form: its tracking code (this browser holds the proof)."""
    answer = submit(client, None, **changes)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"]).rsplit("/", 1)[-1]


def staff(session: Session, username: str) -> Principal:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return Principal(session=session, user=user)


def act(session: Session, code: str, username: str, action: Action, **payload: Any) -> Ticket:
    """A member of staff acts on the ticket through the ticket service, as the API does."""
    session.expire_all()
    ticket = session.scalar(select(Ticket).where(Ticket.tracking_code == code))
    assert ticket is not None
    done = tickets.act(
        session,
        ticket_id=ticket.id,
        action=action,
        principal=staff(session, username),
        payload=payload,
    )
    session.commit()
    return done


def walk_to_rating(session: Session, world: World, code: str, reply: str) -> None:
    """Dispatch, accept, contact, start, reply and approve: the citizen may now rate."""
    act(session, code, "dispatcher", Action.DISPATCH, unit_id=world.bureau.id, co_unit_ids=[])
    act(session, code, "handler", Action.ACCEPT)
    act(session, code, "handler", Action.CONTACT)
    act(session, code, "handler", Action.START)
    act(session, code, "handler", Action.REPLY, text=reply)
    act(session, code, "dispatcher", Action.APPROVE_REPLY)


def post_notice(session: Session, world: World, text: str) -> None:
    admin = session.scalar(select(User).where(User.username == "admin"))
    assert admin is not None
    start = datetime(2026, 11, 1, tzinfo=UTC)
    notices.create_notice(
        session,
        data=NoticeCreate(
            kind=NoticeKind.WATER,
            area_id=world.town.street.id,
            starts_at=start,
            ends_at=start + timedelta(days=3),
            text=text,
            source_title="T市供水公司",
        ),
        actor=admin,
    )
    session.commit()
