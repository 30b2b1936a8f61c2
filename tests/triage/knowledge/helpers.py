"""Small builders for the knowledge-base tests: consultation tickets, entries, notices."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

from sqlalchemy.orm import Session

from minyi.intake.models import Requester
from minyi.org.models import Area, User
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from minyi.triage.knowledge import service as kb
from minyi.triage.knowledge.models import KnowledgeEntry
from minyi.triage.knowledge.schemas import EntryCreate
from tests.factories import World

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
_numbers = count(1)


def consultation(
    session: Session,
    world: World,
    *,
    title: str,
    text: str = "",
    area: Area | None = None,
    located: bool = True,
    appeal_type: str = "consultation",
    phone: str = "13900001234",
    queued: bool = True,
) -> Ticket:
    """A consultation received on the portal and queued for dispatch, as the router leaves it."""
    n = next(_numbers)
    requester = Requester(
        kind="person", name="市民", phone=phone, phone_last4=phone[-4:], created_at=NOW
    )
    session.add(requester)
    session.flush()
    new = tickets.NewTicket(
        tracking_code=f"KB{n:08d}",
        channel="web",
        appeal_type=appeal_type,
        title=title,
        text=text or title,
        dedupe_hash=f"kb{n}",
        area_id=(area or world.town.grid).id if located else None,
        requester_id=requester.id,
    )
    system = Principal(session=session, system=True)
    ticket = tickets.open_ticket(session, new=new, principal=system)
    if queued:
        tickets.act(session, ticket_id=ticket.id, action=Action.QUEUE, principal=system)
    return ticket


def user(session: Session, username: str) -> User:
    from sqlalchemy import select

    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def approved_entry(
    session: Session,
    *,
    questions: list[str],
    answer: str,
    area: Area | None = None,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
) -> KnowledgeEntry:
    editor = user(session, "dispatcher")
    entry = kb.create_entry(
        session,
        data=EntryCreate(
            questions=questions,
            answer=answer,
            source_title="《居住证暂行条例》",
            source_url="https://example.gov.cn/jzz",
            area_id=area.id if area else None,
            valid_from=valid_from,
            valid_to=valid_to,
        ),
        actor=editor,
    )
    return kb.approve_entry(session, entry_id=entry.id, actor=editor)


RESIDENCE_QUESTIONS = ["居住证怎么办理", "办理居住证需要什么材料", "在哪里申请居住证"]
RESIDENCE_ANSWER = "持身份证、居住证明到居住地派出所申领，15个工作日内发证。"
