"""The knowledge base over HTTP: staff keep entries and notices, anyone searches, and the
citizen decides on an instant answer with the tracking code + last four phone digits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import NotFound
from minyi.core.pagination import LimitParam, OffsetParam, Page
from minyi.org.auth import CurrentUser
from minyi.tickets import queries
from minyi.tickets.schemas import PublicTracking
from minyi.triage.knowledge import notices, service
from minyi.triage.knowledge.domain import PRIVACY_LABEL_ZH, EntryStatus, NoticeKind, source_line
from minyi.triage.knowledge.models import KnowledgeEntry, KnowledgeNotice, KnowledgeOffer
from minyi.triage.knowledge.schemas import (
    EntryCreate,
    EntryRead,
    EntryUpdate,
    InstantAnswerRead,
    NoticeCreate,
    NoticeRead,
    NoticeUpdate,
    SearchHitRead,
)

router = APIRouter(tags=["knowledge"])
Last4 = Annotated[str, Query(min_length=4, max_length=4, pattern="^[0-9]{4}$")]


def entry_read(entry: KnowledgeEntry) -> EntryRead:
    status = EntryStatus(entry.status)
    return EntryRead(
        id=entry.id,
        status=status,
        status_label=status.label_zh,
        questions=list(entry.questions),
        answer=entry.answer,
        source_title=entry.source_title,
        source_url=entry.source_url,
        owner_unit_id=entry.owner_unit_id,
        area_id=entry.area_id,
        valid_from=entry.valid_from,
        valid_to=entry.valid_to,
        privacy_flags=list(entry.privacy_flags),
        privacy_labels=[PRIVACY_LABEL_ZH.get(f, f) for f in entry.privacy_flags],
        origin=entry.origin,
        created_at=entry.created_at,
        updated_at=entry.updated_at,
        approved_by_id=entry.approved_by_id,
        approved_at=entry.approved_at,
        retired_at=entry.retired_at,
    )


def notice_read(notice: KnowledgeNotice) -> NoticeRead:
    kind = NoticeKind(notice.kind)
    return NoticeRead(
        id=notice.id,
        kind=kind,
        kind_label=kind.label_zh,
        area_id=notice.area_id,
        starts_at=notice.starts_at,
        ends_at=notice.ends_at,
        text=notice.text,
        source_title=notice.source_title,
        owner_unit_id=notice.owner_unit_id,
        created_at=notice.created_at,
        retired_at=notice.retired_at,
    )


def offer_read(offer: KnowledgeOffer) -> InstantAnswerRead:
    return InstantAnswerRead(
        kind="notice" if offer.notice_id is not None else "entry",
        entry_id=offer.entry_id,
        notice_id=offer.notice_id,
        answer=offer.answer,
        source=offer.source,
        score=offer.score,
        outcome=offer.outcome,
    )


# --- public search ------------------------------------------------------------------------


@router.get("/knowledge/search", response_model=list[SearchHitRead], tags=["citizen"])
def search(
    session: SessionDep,
    clock: ClockDep,
    q: Annotated[str, Query(min_length=2, max_length=500)],
    area_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> list[SearchHitRead]:
    """Approved, currently valid answers for a question, so a citizen can look before
    submitting; without `area_id` only city-wide answers."""
    results = service.search(
        session, query=q, area_id=area_id, now=clock.now(), k=limit, min_score=0.2
    )
    return [
        SearchHitRead(
            entry_id=r.entry.id,
            question=r.hit.question,
            answer=r.entry.answer,
            source=source_line(r.entry.source_title, r.entry.source_url),
            score=round(r.hit.score, 4),
        )
        for r in results
    ]


# --- entries ------------------------------------------------------------------------------


def _staff(session: SessionDep, user: CurrentUser) -> None:
    if not (service.can_write(session, user) or service.can_approve(session, user)):
        service.ensure_allowed(False, "查看知识库草稿", "read the knowledge base's drafts")


@router.get("/knowledge/entries", response_model=Page[EntryRead])
def list_entries(
    session: SessionDep,
    user: CurrentUser,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
    status: EntryStatus | None = None,
) -> Page[EntryRead]:
    _staff(session, user)
    rows, total = service.list_entries(session, status=status, offset=offset, limit=limit)
    return Page(items=[entry_read(e) for e in rows], total=total, offset=offset, limit=limit)


@router.post("/knowledge/entries", response_model=EntryRead, status_code=201)
def create_entry(
    body: EntryCreate, session: SessionDep, clock: ClockDep, user: CurrentUser
) -> EntryRead:
    return entry_read(service.create_entry(session, data=body, actor=user, clock=clock))


@router.get("/knowledge/entries/{entry_id}", response_model=EntryRead)
def get_entry(entry_id: int, session: SessionDep, user: CurrentUser) -> EntryRead:
    _staff(session, user)
    return entry_read(service.get_entry_or_raise(session, entry_id))


@router.patch("/knowledge/entries/{entry_id}", response_model=EntryRead)
def update_entry(
    entry_id: int, body: EntryUpdate, session: SessionDep, clock: ClockDep, user: CurrentUser
) -> EntryRead:
    entry = service.update_entry(session, entry_id=entry_id, data=body, actor=user, clock=clock)
    return entry_read(entry)


@router.post("/knowledge/entries/{entry_id}/approve", response_model=EntryRead)
def approve_entry(
    entry_id: int, session: SessionDep, clock: ClockDep, user: CurrentUser
) -> EntryRead:
    return entry_read(service.approve_entry(session, entry_id=entry_id, actor=user, clock=clock))


@router.post("/knowledge/entries/{entry_id}/retire", response_model=EntryRead)
def retire_entry(
    entry_id: int, session: SessionDep, clock: ClockDep, user: CurrentUser
) -> EntryRead:
    return entry_read(service.retire_entry(session, entry_id=entry_id, actor=user, clock=clock))


# --- notices ------------------------------------------------------------------------------


@router.get("/knowledge/notices", response_model=Page[NoticeRead])
def list_notices(
    session: SessionDep,
    clock: ClockDep,
    offset: OffsetParam = 0,
    limit: LimitParam = 50,
    active: bool = True,
) -> Page[NoticeRead]:
    """Notices are public by nature (they are posted to be read); by default those in force."""
    rows, total = notices.list_notices(
        session, active_at=clock.now() if active else None, offset=offset, limit=limit
    )
    return Page(items=[notice_read(n) for n in rows], total=total, offset=offset, limit=limit)


@router.post("/knowledge/notices", response_model=NoticeRead, status_code=201)
def create_notice(
    body: NoticeCreate, session: SessionDep, clock: ClockDep, user: CurrentUser
) -> NoticeRead:
    return notice_read(notices.create_notice(session, data=body, actor=user, clock=clock))


@router.get("/knowledge/notices/{notice_id}", response_model=NoticeRead)
def get_notice(notice_id: int, session: SessionDep) -> NoticeRead:
    return notice_read(notices.get_notice_or_raise(session, notice_id))


@router.patch("/knowledge/notices/{notice_id}", response_model=NoticeRead)
def update_notice(
    notice_id: int, body: NoticeUpdate, session: SessionDep, clock: ClockDep, user: CurrentUser
) -> NoticeRead:
    notice = notices.update_notice(session, notice_id=notice_id, data=body, actor=user, clock=clock)
    return notice_read(notice)


@router.post("/knowledge/notices/{notice_id}/retire", response_model=NoticeRead)
def retire_notice(
    notice_id: int, session: SessionDep, clock: ClockDep, user: CurrentUser
) -> NoticeRead:
    return notice_read(notices.retire_notice(session, notice_id=notice_id, actor=user, clock=clock))


# --- the citizen's decision -----------------------------------------------------------------


@router.get(
    "/track/{tracking_code}/instant-answer", response_model=InstantAnswerRead, tags=["citizen"]
)
def instant_answer(
    tracking_code: str, session: SessionDep, phone_last4: Last4
) -> InstantAnswerRead:
    """The instant answer waiting for the citizen's decision, if any."""
    ticket = queries.find_for_citizen(session, tracking_code=tracking_code, phone_last4=phone_last4)
    offer = service.current_offer(session, ticket=ticket)
    if offer is None:
        raise NotFound(
            "kb_no_open_offer",
            "该诉求没有待确认的即时答复",
            "This appeal has no instant answer awaiting a decision",
        )
    return offer_read(offer)


@router.post(
    "/track/{tracking_code}/instant-answer/accept", response_model=PublicTracking, tags=["citizen"]
)
def accept(
    tracking_code: str, session: SessionDep, clock: ClockDep, phone_last4: Last4
) -> PublicTracking:
    """The answer solved it: the appeal is closed as answered, with the answer as reply."""
    ticket = queries.find_for_citizen(session, tracking_code=tracking_code, phone_last4=phone_last4)
    service.accept_offer(session, ticket=ticket, now=clock.now(), clock=clock)
    return queries.public_tracking(session, ticket)


@router.post(
    "/track/{tracking_code}/instant-answer/decline",
    response_model=PublicTracking,
    tags=["citizen"],
)
def decline(
    tracking_code: str, session: SessionDep, clock: ClockDep, phone_last4: Last4
) -> PublicTracking:
    """The citizen wants a person: the appeal stays in the dispatcher's queue."""
    ticket = queries.find_for_citizen(session, tracking_code=tracking_code, phone_last4=phone_last4)
    service.decline_offer(session, ticket=ticket, now=clock.now())
    return queries.public_tracking(session, ticket)
