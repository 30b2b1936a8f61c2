"""Temporary notices (停水、停电、燃气停供、道路施工): posted for an area and a time window,
they answer "why is there no water" at once while they are in force (see service.offer_for)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.audit import service as audit
from minyi.core.clock import Clock, get_clock
from minyi.core.errors import Conflict, NotFound, ValidationFailed
from minyi.org.models import User
from minyi.triage.knowledge import service
from minyi.triage.knowledge.models import KnowledgeNotice
from minyi.triage.knowledge.schemas import NoticeCreate, NoticeUpdate


def create_notice(
    session: Session, *, data: NoticeCreate, actor: User, clock: Clock | None = None
) -> KnowledgeNotice:
    service.ensure_allowed(service.can_post_notice(session, actor), "发布临时公告", "post notices")
    service.check_refs(session, area_id=data.area_id, owner_unit_id=data.owner_unit_id)
    now = (clock or get_clock()).now()
    notice = KnowledgeNotice(
        kind=data.kind.value,
        area_id=data.area_id,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        text=data.text.strip(),
        source_title=data.source_title.strip(),
        owner_unit_id=data.owner_unit_id if data.owner_unit_id is not None else actor.unit_id,
        created_by=service.actor_label(actor),
        created_at=now,
    )
    session.add(notice)
    session.flush()
    audit.record(
        session,
        actor=service.actor_label(actor),
        action="knowledge.notice.create",
        object_type="kb_notice",
        object_id=notice.id,
        data={"kind": notice.kind, "area_id": notice.area_id},
        clock=clock,
    )
    return notice


def get_notice_or_raise(session: Session, notice_id: int, *, lock: bool = False) -> KnowledgeNotice:
    stmt = select(KnowledgeNotice).where(KnowledgeNotice.id == notice_id)
    notice = session.scalar(stmt.with_for_update() if lock else stmt)
    if notice is None:
        raise NotFound("kb_notice_not_found", "找不到该公告", "No such notice")
    return notice


def list_notices(
    session: Session,
    *,
    active_at: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[KnowledgeNotice], int]:
    stmt = select(KnowledgeNotice)
    if active_at is not None:
        stmt = stmt.where(
            KnowledgeNotice.retired_at.is_(None),
            KnowledgeNotice.starts_at <= active_at,
            KnowledgeNotice.ends_at > active_at,
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(KnowledgeNotice.id).offset(offset).limit(limit)).all()
    return list(rows), total


def update_notice(
    session: Session, *, notice_id: int, data: NoticeUpdate, actor: User, clock: Clock | None = None
) -> KnowledgeNotice:
    service.ensure_allowed(
        service.can_post_notice(session, actor), "修改临时公告", "change notices"
    )
    notice = get_notice_or_raise(session, notice_id, lock=True)
    if notice.retired_at is not None:
        raise Conflict("kb_notice_retired", "该公告已撤销", "The notice is withdrawn")
    fields = data.model_dump(exclude_unset=True)
    for required in ("starts_at", "ends_at", "text", "source_title"):
        if required in fields and fields[required] is None:
            raise ValidationFailed(
                "kb_notice_field_required", "该项不能为空", f"{required} cannot be empty"
            )
    service.check_refs(session, area_id=fields.get("area_id"), owner_unit_id=None)
    for name, value in fields.items():
        setattr(notice, name, value)
    if notice.ends_at <= notice.starts_at:
        raise ValidationFailed(
            "kb_window_invalid", "结束时间必须晚于开始时间", "ends_at must follow starts_at"
        )
    session.flush()
    audit.record(
        session,
        actor=service.actor_label(actor),
        action="knowledge.notice.update",
        object_type="kb_notice",
        object_id=notice.id,
        data={"fields": sorted(fields)},
        clock=clock,
    )
    return notice


def retire_notice(
    session: Session, *, notice_id: int, actor: User, clock: Clock | None = None
) -> KnowledgeNotice:
    service.ensure_allowed(
        service.can_post_notice(session, actor), "撤销临时公告", "withdraw notices"
    )
    notice = get_notice_or_raise(session, notice_id, lock=True)
    if notice.retired_at is not None:
        raise Conflict("kb_notice_retired", "该公告已撤销", "The notice is already withdrawn")
    notice.retired_at = (clock or get_clock()).now()
    session.flush()
    audit.record(
        session,
        actor=service.actor_label(actor),
        action="knowledge.notice.retire",
        object_type="kb_notice",
        object_id=notice.id,
        data={"kind": notice.kind},
        clock=clock,
    )
    return notice
