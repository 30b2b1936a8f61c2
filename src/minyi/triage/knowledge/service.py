"""Use cases of the knowledge base: keep entries and notices, answer consultations at once.

Who may do what (the organisation has no editor role, so the dispatch centres stand in):
- write entries (create, edit, retire): administrators, and agents, dispatchers and
  supervisors of a dispatch centre (city or district) — the people who answer the hotline;
- approve entries: administrators, and dispatchers and supervisors of the city centre;
- post notices: the entry writers, and handlers and leaders of a public-service company
  (the water, power or gas company announces its own outages).
Every create, change, approval and retirement is in the audit trail.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.audit import service as audit
from minyi.core.clock import Clock, FixedClock, get_clock
from minyi.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from minyi.intake.domain import AppealType
from minyi.org.domain import AreaLevel, Role, UnitKind
from minyi.org.models import Area, Unit, User
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket
from minyi.triage.knowledge.domain import (
    DEFAULT_THRESHOLD,
    PRIVACY_LABEL_ZH,
    TOP_K,
    EntryStatus,
    Hit,
    IndexDoc,
    KnowledgeIndex,
    OfferOutcome,
    answer_with_source,
    in_scope,
    is_valid_at,
    notice_kinds_in,
    privacy_findings,
    source_line,
)
from minyi.triage.knowledge.models import KnowledgeEntry, KnowledgeNotice, KnowledgeOffer
from minyi.triage.knowledge.schemas import EntryCreate, EntryUpdate

_CENTRE_STAFF = {Role.AGENT.value, Role.DISPATCHER.value, Role.SUPERVISOR.value}
_APPROVERS = {Role.DISPATCHER.value, Role.SUPERVISOR.value}
_UTILITY_STAFF = {Role.HANDLER.value, Role.LEADER.value}


@dataclass(frozen=True)
class InstantAnswer:
    entry_id: int | None
    notice_id: int | None
    answer: str
    source: str
    score: float
    kind: str  # "entry" | "notice"


@dataclass(frozen=True)
class SearchResult:
    entry: KnowledgeEntry
    hit: Hit


# --- who may ----------------------------------------------------------------------------


def _unit(session: Session, user: User) -> Unit | None:
    return session.get(Unit, user.unit_id) if user.unit_id is not None else None


def _centre_level(session: Session, user: User) -> AreaLevel | None:
    unit = _unit(session, user)
    if unit is None or unit.kind != UnitKind.DISPATCH_CENTRE.value:
        return None
    area = session.get(Area, unit.area_id)
    return AreaLevel(area.level) if area is not None else None


def can_write(session: Session, user: User) -> bool:
    if user.role == Role.ADMIN.value:
        return True
    return user.role in _CENTRE_STAFF and _centre_level(session, user) is not None


def can_approve(session: Session, user: User) -> bool:
    if user.role == Role.ADMIN.value:
        return True
    return user.role in _APPROVERS and _centre_level(session, user) is AreaLevel.CITY


def can_post_notice(session: Session, user: User) -> bool:
    if can_write(session, user):
        return True
    unit = _unit(session, user)
    return user.role in _UTILITY_STAFF and unit is not None and unit.kind == UnitKind.UTILITY


def ensure_allowed(allowed: bool, what_zh: str, what_en: str) -> None:
    if not allowed:
        raise Forbidden(
            "knowledge_role_not_allowed", f"当前角色无权{what_zh}", f"Not allowed to {what_en}"
        )


# --- entries ------------------------------------------------------------------------------


def content_hash(entry: KnowledgeEntry) -> str:
    body = json.dumps(
        [entry.questions, entry.answer, entry.source_title, entry.source_url],
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def check_refs(session: Session, *, area_id: int | None, owner_unit_id: int | None) -> None:
    if area_id is not None and session.get(Area, area_id) is None:
        raise ValidationFailed("area_not_found", "找不到该区域", "No such area")
    if owner_unit_id is not None and session.get(Unit, owner_unit_id) is None:
        raise ValidationFailed("unit_not_found", "找不到该单位", "No such unit")


def _flags(entry: KnowledgeEntry) -> list[str]:
    return privacy_findings(entry.answer, *entry.questions)


def create_entry(
    session: Session,
    *,
    data: EntryCreate,
    actor: User | None,
    origin: str = "manual",
    origin_ref: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> KnowledgeEntry:
    """A draft; personal details are flagged now so an editor sees them before approving.
    `actor` None is the drafting command, acting for nobody in particular."""
    if actor is not None:
        ensure_allowed(can_write(session, actor), "编辑知识库", "edit the knowledge base")
    check_refs(session, area_id=data.area_id, owner_unit_id=data.owner_unit_id)
    now = (clock or get_clock()).now()
    entry = KnowledgeEntry(
        status=EntryStatus.DRAFT.value,
        questions=list(dict.fromkeys(data.questions)),
        answer=data.answer.strip(),
        source_title=data.source_title.strip(),
        source_url=data.source_url,
        owner_unit_id=data.owner_unit_id,
        area_id=data.area_id,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
        origin=origin,
        origin_ref=origin_ref or {},
        created_by=actor_label(actor),
        created_at=now,
        updated_at=now,
    )
    entry.privacy_flags = _flags(entry)
    entry.content_hash = content_hash(entry)
    session.add(entry)
    session.flush()
    _audit(session, actor, "knowledge.entry.create", entry, clock, origin=origin)
    return entry


def get_entry(session: Session, entry_id: int) -> KnowledgeEntry | None:
    return session.get(KnowledgeEntry, entry_id)


def get_entry_or_raise(session: Session, entry_id: int, *, lock: bool = False) -> KnowledgeEntry:
    stmt = select(KnowledgeEntry).where(KnowledgeEntry.id == entry_id)
    entry = session.scalar(stmt.with_for_update() if lock else stmt)
    if entry is None:
        raise NotFound("kb_entry_not_found", "找不到该知识条目", "No such knowledge entry")
    return entry


def list_entries(
    session: Session, *, status: EntryStatus | None = None, offset: int = 0, limit: int = 50
) -> tuple[list[KnowledgeEntry], int]:
    stmt = select(KnowledgeEntry)
    if status is not None:
        stmt = stmt.where(KnowledgeEntry.status == status.value)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(KnowledgeEntry.id).offset(offset).limit(limit)).all()
    return list(rows), total


def update_entry(
    session: Session, *, entry_id: int, data: EntryUpdate, actor: User, clock: Clock | None = None
) -> KnowledgeEntry:
    """Edit an entry; an approved one goes back to draft, since what was approved changed."""
    ensure_allowed(can_write(session, actor), "编辑知识库", "edit the knowledge base")
    entry = get_entry_or_raise(session, entry_id, lock=True)
    if entry.status == EntryStatus.RETIRED.value:
        raise Conflict(
            "kb_entry_retired", "该条目已停用，不能修改", "A retired entry cannot change"
        )
    fields = data.model_dump(exclude_unset=True)
    check_refs(
        session,
        area_id=fields.get("area_id"),
        owner_unit_id=fields.get("owner_unit_id"),
    )
    if "questions" in fields and fields["questions"] is None:
        raise ValidationFailed(
            "kb_questions_required", "至少需要一个问法", "At least one question is needed"
        )
    for name, value in fields.items():
        setattr(entry, name, list(dict.fromkeys(value)) if name == "questions" else value)
    if entry.valid_from and entry.valid_to and entry.valid_to <= entry.valid_from:
        raise ValidationFailed(
            "kb_window_invalid", "有效期结束时间必须晚于开始时间", "valid_to must follow valid_from"
        )
    now = (clock or get_clock()).now()
    was = entry.status
    entry.status = EntryStatus.DRAFT.value
    entry.approved_at = None
    entry.approved_by_id = None
    entry.privacy_flags = _flags(entry)
    entry.content_hash = content_hash(entry)
    entry.updated_at = now
    session.flush()
    _audit(session, actor, "knowledge.entry.update", entry, clock, was=was, fields=sorted(fields))
    return entry


def approve_entry(
    session: Session, *, entry_id: int, actor: User, clock: Clock | None = None
) -> KnowledgeEntry:
    """Draft → approved, by an approver, and only when no personal detail is found."""
    ensure_allowed(can_approve(session, actor), "审核知识条目", "approve knowledge entries")
    entry = get_entry_or_raise(session, entry_id, lock=True)
    if entry.status != EntryStatus.DRAFT.value:
        raise Conflict(
            "kb_entry_not_draft",
            "只有草稿可以审核通过",
            "Only a draft can be approved",
            details={"status": entry.status},
        )
    flags = _flags(entry)
    if flags:
        raise Conflict(
            "kb_entry_private",
            "条目涉及个人或个案信息，不能审核通过："
            + "、".join(PRIVACY_LABEL_ZH[f] for f in flags),
            "The entry names a person or one person's case and cannot be approved",
            details={"privacy_flags": flags},
        )
    now = (clock or get_clock()).now()
    entry.status = EntryStatus.APPROVED.value
    entry.approved_by_id = actor.id
    entry.approved_at = now
    entry.updated_at = now
    entry.privacy_flags = []
    session.flush()
    _audit(session, actor, "knowledge.entry.approve", entry, clock)
    return entry


def retire_entry(
    session: Session, *, entry_id: int, actor: User, clock: Clock | None = None
) -> KnowledgeEntry:
    ensure_allowed(can_write(session, actor), "停用知识条目", "retire knowledge entries")
    entry = get_entry_or_raise(session, entry_id, lock=True)
    if entry.status == EntryStatus.RETIRED.value:
        raise Conflict("kb_entry_retired", "该条目已停用", "The entry is already retired")
    now = (clock or get_clock()).now()
    was = entry.status
    entry.status = EntryStatus.RETIRED.value
    entry.retired_at = now
    entry.updated_at = now
    session.flush()
    _audit(session, actor, "knowledge.entry.retire", entry, clock, was=was)
    return entry


# --- matching -----------------------------------------------------------------------------

_index_lock = threading.Lock()
_index_cache: dict[str, KnowledgeIndex] = {}


def _approved(session: Session) -> list[KnowledgeEntry]:
    return list(
        session.scalars(
            select(KnowledgeEntry)
            .where(KnowledgeEntry.status == EntryStatus.APPROVED.value)
            .order_by(KnowledgeEntry.id)
        )
    )


def _index_for(entries: list[KnowledgeEntry]) -> KnowledgeIndex:
    """One index per set of approved contents, rebuilt in this process when any approved
    entry's content changes (content hashes, not timestamps: rolled-back work and other
    processes must never leave a stale index behind)."""
    signature = hashlib.sha256(
        "|".join(f"{e.id}:{e.content_hash}" for e in entries).encode()
    ).hexdigest()
    with _index_lock:
        index = _index_cache.get(signature)
        if index is None:
            index = KnowledgeIndex([IndexDoc(e.id, tuple(e.questions)) for e in entries])
            _index_cache.clear()
            _index_cache[signature] = index
        return index


def area_chain(session: Session, area_id: int | None) -> list[int]:
    """The area and every area above it; empty when the place is unknown."""
    chain: list[int] = []
    node = session.get(Area, area_id) if area_id is not None else None
    while node is not None and len(chain) < 10:
        chain.append(node.id)
        node = session.get(Area, node.parent_id) if node.parent_id is not None else None
    return chain


def search(
    session: Session,
    *,
    query: str,
    area_id: int | None,
    now: datetime,
    k: int = TOP_K,
    min_score: float = 0.0,
) -> list[SearchResult]:
    """Approved, currently valid, privacy-clean entries in scope for the area, best first."""
    entries = _approved(session)
    chain = area_chain(session, area_id)
    by_id = {
        e.id: e
        for e in entries
        if is_valid_at(e.valid_from, e.valid_to, now)
        and in_scope(e.area_id, chain)
        and not _flags(e)
    }
    hits = _index_for(entries).search(query, k=k, eligible=by_id.keys())
    return [SearchResult(by_id[h.key], h) for h in hits if h.score >= min_score]


def _active_notice(
    session: Session, *, text: str, chain: list[int], now: datetime
) -> KnowledgeNotice | None:
    kinds = notice_kinds_in(text)
    if not kinds:
        return None
    rows = session.scalars(
        select(KnowledgeNotice).where(
            KnowledgeNotice.kind.in_([k.value for k in kinds]),
            KnowledgeNotice.retired_at.is_(None),
            KnowledgeNotice.starts_at <= now,
            KnowledgeNotice.ends_at > now,
        )
    ).all()
    found = [n for n in rows if in_scope(n.area_id, chain)]
    # The most local notice says the most about this place (a street's works over a city's).
    depth = {area: len(chain) - i for i, area in enumerate(chain)}
    found.sort(key=lambda n: (-depth.get(n.area_id, 0) if n.area_id else 0, -n.id))
    return found[0] if found else None


def _open_offer(session: Session, ticket_id: int, *, lock: bool = False) -> KnowledgeOffer | None:
    stmt = (
        select(KnowledgeOffer)
        .where(
            KnowledgeOffer.ticket_id == ticket_id,
            KnowledgeOffer.outcome == OfferOutcome.OFFERED.value,
        )
        .order_by(KnowledgeOffer.id.desc())
        .limit(1)
    )
    return session.scalar(stmt.with_for_update() if lock else stmt)


def _as_answer(offer: KnowledgeOffer) -> InstantAnswer:
    return InstantAnswer(
        entry_id=offer.entry_id,
        notice_id=offer.notice_id,
        answer=offer.answer,
        source=offer.source,
        score=offer.score,
        kind="notice" if offer.notice_id is not None else "entry",
    )


def current_offer(session: Session, *, ticket: Ticket) -> KnowledgeOffer | None:
    return _open_offer(session, ticket.id)


def offer_for(
    session: Session, *, ticket: Ticket, now: datetime, threshold: float = DEFAULT_THRESHOLD
) -> InstantAnswer | None:
    """The instant answer (秒答) for a consultation, stored as an offer awaiting the
    citizen's decision; None when the appeal is not a consultation or nothing is confident.
    An active notice for the place wins over an entry: it is the news of the day."""
    if ticket.appeal_type != AppealType.CONSULTATION.value:
        return None
    existing = _open_offer(session, ticket.id)
    if existing is not None:
        return _as_answer(existing)
    text = f"{ticket.title}\n{ticket.text}"
    chain = area_chain(session, ticket.area_id)
    notice = _active_notice(session, text=text, chain=chain, now=now)
    offer: KnowledgeOffer | None = None
    if notice is not None:
        offer = KnowledgeOffer(
            ticket_id=ticket.id,
            notice_id=notice.id,
            score=1.0,
            answer=notice.text,
            source=notice.source_title,
        )
    else:
        results = search(session, query=text, area_id=ticket.area_id, now=now, k=1)
        if results and results[0].hit.score >= threshold:
            entry = results[0].entry
            offer = KnowledgeOffer(
                ticket_id=ticket.id,
                entry_id=entry.id,
                score=round(results[0].hit.score, 4),
                answer=entry.answer,
                source=source_line(entry.source_title, entry.source_url),
            )
    if offer is None:
        return None
    offer.outcome = OfferOutcome.OFFERED.value
    offer.offered_at = now
    session.add(offer)
    session.flush()
    return _as_answer(offer)


def accept_offer(
    session: Session, *, ticket: Ticket, now: datetime, clock: Clock | None = None
) -> Ticket:
    """The citizen takes the answer: the ticket is closed as answered (直接答复) through the
    workflow, by the system, with the answer and its source as the reply."""
    offer = _decide(session, ticket=ticket, now=now, outcome=OfferOutcome.ACCEPTED)
    answered = tickets.act(
        session,
        ticket_id=ticket.id,
        action=Action.ANSWER,
        principal=Principal(session=session, system=True),
        reason="市民接受知识库即时答复",
        payload={"text": answer_with_source(offer.answer, offer.source)},
        clock=clock,
    )
    return answered


def decline_offer(session: Session, *, ticket: Ticket, now: datetime) -> None:
    """The citizen asks for a person: the ticket stays where it is, in the dispatch queue."""
    _decide(session, ticket=ticket, now=now, outcome=OfferOutcome.DECLINED)


def _decide(
    session: Session, *, ticket: Ticket, now: datetime, outcome: OfferOutcome
) -> KnowledgeOffer:
    offer = _open_offer(session, ticket.id, lock=True)
    if offer is None:
        raise Conflict(
            "kb_no_open_offer",
            "该诉求没有待确认的即时答复",
            "This appeal has no instant answer awaiting a decision",
        )
    offer.outcome = outcome.value
    offer.decided_at = now
    session.flush()
    audit.record(
        session,
        actor=f"requester:ticket:{ticket.id}",
        action=f"knowledge.offer.{outcome.value}",
        object_type="kb_offer",
        object_id=offer.id,
        data={"ticket_id": ticket.id, "entry_id": offer.entry_id, "notice_id": offer.notice_id},
        clock=FixedClock(now),
    )
    return offer


# --- helpers ------------------------------------------------------------------------------


def actor_label(actor: User | None) -> str:
    return f"user:{actor.id}" if actor is not None else "system:knowledge-draft"


def _audit(
    session: Session,
    actor: User | None,
    action: str,
    entry: KnowledgeEntry,
    clock: Clock | None,
    **extra: Any,
) -> None:
    audit.record(
        session,
        actor=actor_label(actor),
        action=action,
        object_type="kb_entry",
        object_id=entry.id,
        data={"status": entry.status, "privacy_flags": list(entry.privacy_flags), **extra},
        clock=clock,
    )
