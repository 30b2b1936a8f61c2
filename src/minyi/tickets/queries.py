"""Reading tickets: lists with filters, the centre's queue, views for staff and citizens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, case, func, select, union, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BooleanClauseList

from minyi.audit import service as audit
from minyi.core.errors import Forbidden, NotFound
from minyi.intake.models import Requester
from minyi.org.domain import AreaLevel, Role, mask_phone
from minyi.org.models import Area, Unit
from minyi.tickets.access import (
    Principal,
    anonymised_for,
    ensure_can_view,
    relations,
    visibility_filter,
)
from minyi.tickets.domain import (
    ACTION_RELATIONS,
    AT_CENTRE,
    NOTE_ZH,
    RECEIVE,
    TRANSITIONS,
    Action,
    Relation,
    Status,
)
from minyi.tickets.models import Ticket, TicketEvent
from minyi.tickets.schemas import (
    CoUnitRead,
    EventRead,
    PublicStep,
    PublicTracking,
    RequesterRead,
    TicketRead,
)


@dataclass(frozen=True)
class TicketFilter:
    status: tuple[str, ...] = ()
    open_only: bool = False
    unit_id: int | None = None
    area_id: int | None = None
    item_id: int | None = None
    channel: str | None = None
    appeal_type: str | None = None
    requester_kind: str | None = None
    overdue: bool | None = None
    chased: bool | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    sort: str = "-received_at"


SORTS: dict[str, UnaryExpression[Any]] = {
    "received_at": Ticket.received_at.asc(),
    "-received_at": Ticket.received_at.desc(),
    "updated_at": Ticket.updated_at.asc(),
    "-updated_at": Ticket.updated_at.desc(),
    "due_at": Ticket.due_at.asc(),
    "id": Ticket.id.asc(),
    "-id": Ticket.id.desc(),
}


def _conditions(session: Session, f: TicketFilter, now: datetime) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if f.status:
        found.append(Ticket.status.in_(f.status))
    if f.open_only:
        found.append(Ticket.is_open.is_(True))
    if f.unit_id is not None:
        found.append(Ticket.lead_unit_id == f.unit_id)
    if f.area_id is not None:
        found.append(Ticket.area_id.in_(_area_and_below(session, f.area_id)))
    if f.item_id is not None:
        found.append(Ticket.item_id == f.item_id)
    if f.channel:
        found.append(Ticket.channel == f.channel)
    if f.appeal_type:
        found.append(Ticket.appeal_type == f.appeal_type)
    if f.requester_kind:
        found.append(Ticket.requester_kind == f.requester_kind)
    if f.overdue is True:
        found.extend((Ticket.is_open.is_(True), Ticket.due_at < now))
    elif f.overdue is False:
        found.append((Ticket.due_at.is_(None)) | (Ticket.due_at >= now))
    if f.chased is True:
        found.append(Ticket.chase_count > 0)
    elif f.chased is False:
        found.append(Ticket.chase_count == 0)
    if f.received_from is not None:
        found.append(Ticket.received_at >= f.received_from)
    if f.received_to is not None:
        found.append(Ticket.received_at < f.received_to)
    return found


def _alternatives(clause: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """The parts of an OR, or the clause alone."""
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.or_:
        return list(clause.clauses)
    return [clause]


def list_tickets(
    session: Session,
    *,
    principal: Principal,
    filters: TicketFilter,
    now: datetime,
    offset: int = 0,
    limit: int = 50,
    with_total: bool = True,
) -> tuple[list[Ticket], int | None]:
    """Tickets the principal may see, filtered, one page in the order asked for.

    A unit sees what it leads OR what it co-handles: asked as one OR, PostgreSQL can use no
    index for either part and reads every open ticket (1,000,000 tickets: 60-120 ms for a
    page and its total). So each part of such a visibility is asked on its own, on its own
    index, and the parts are joined: a UNION for the total, and for the page the first
    `offset + limit` of each part (the page is among them), sorted once more.
    `benchmarks/listing.py` measures it."""
    conditions = _conditions(session, filters, now)
    order = SORTS.get(filters.sort, SORTS["-received_at"])
    parts = _alternatives(visibility_filter(principal))
    total = None
    if len(parts) == 1:
        stmt = select(Ticket).where(parts[0], *conditions)
        if with_total:
            total = session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = session.scalars(stmt.order_by(order, Ticket.id.desc()).offset(offset).limit(limit))
        return list(rows), total
    if with_total:
        ids = union(*(select(Ticket.id).where(part, *conditions) for part in parts))
        total = session.scalar(select(func.count()).select_from(ids.subquery()))
    firsts = [
        select(Ticket.id)
        .where(part, *conditions)
        .order_by(order, Ticket.id.desc())
        .limit(offset + limit)
        .subquery()
        for part in parts
    ]
    candidates = union_all(*(select(first.c.id) for first in firsts))
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.id.in_(candidates))
        .order_by(order, Ticket.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total


def centre_queue(
    session: Session, *, principal: Principal, offset: int = 0, limit: int = 50
) -> tuple[list[Ticket], int]:
    """The dispatcher's queue: tickets waiting for their centre, the most urgent and oldest
    first. The city centre holds tickets no district centre holds; a district centre its own."""
    if principal.centre_level is None:
        raise Forbidden("not_a_dispatcher", "仅派单中心可查看派单队列", "Dispatch centres only")
    waiting = {s.value for s in AT_CENTRE} | {Status.DISTRICT_PENDING.value}
    stmt = select(Ticket).where(Ticket.status.in_(waiting))
    if principal.centre_level is AreaLevel.CITY:
        stmt = stmt.where(Ticket.centre_unit_id.is_(None))
    else:
        stmt = stmt.where(Ticket.centre_unit_id == principal.unit_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    urgency = case(
        (Ticket.urgency == "emergency", 0),
        (Ticket.urgency == "urgent", 1),
        (Ticket.urgency == "fast", 2),
        else_=3,
    )
    # Within a level, the dispatch deadline (a returned ticket keeps its first deadline, so
    # it comes back ahead of newer ones), then the time received.
    rows = session.scalars(
        stmt.order_by(
            urgency,
            Ticket.dispatch_due_at.asc().nulls_last(),
            Ticket.received_at.asc(),
            Ticket.id.asc(),
        )
        .offset(offset)
        .limit(limit)
    )
    return list(rows), total


def _area_and_below(session: Session, area_id: int) -> list[int]:
    ids = [area_id]
    frontier = [area_id]
    while frontier:
        frontier = list(session.scalars(select(Area.id).where(Area.parent_id.in_(frontier))))
        ids.extend(frontier)
    return ids


def requester_view(
    session: Session, principal: Principal, ticket: Ticket, *, reveal: bool, reason: str | None
) -> RequesterRead | None:
    """The requester, masked — or in full for those who need it, with the read audited."""
    if ticket.requester_id is None or anonymised_for(principal, ticket):
        return None
    requester = session.get(Requester, ticket.requester_id)
    if requester is None:
        return None
    if reveal:
        may = principal.is_city_staff or Relation.LEAD in relations(principal, ticket)
        if not may or principal.user is None or principal.user.role == Role.EVALUATOR.value:
            raise Forbidden(
                "reveal_not_allowed",
                "您无权查看诉求人完整信息",
                "You may not see the requester's full details",
            )
        if not (reason and reason.strip()):
            from minyi.core.errors import ValidationFailed

            raise ValidationFailed(
                "reason_required", "查看完整信息必须说明用途", "Give a reason to see full details"
            )
        audit.record(
            session,
            actor=principal.label,
            action="requester.reveal",
            object_type="ticket",
            object_id=ticket.id,
            data={"reason": reason.strip()},
        )
        return RequesterRead(
            kind=requester.kind,
            name=requester.name,
            phone=requester.phone,
            id_number=requester.id_number,
            company_name=requester.company_name,
            credit_code=requester.credit_code,
            masked=False,
        )
    return RequesterRead(
        kind=requester.kind,
        name=mask_name(requester.name),
        phone=mask_phone(requester.phone),
        id_number=mask_id(requester.id_number),
        company_name=requester.company_name,
        credit_code=requester.credit_code,
        masked=True,
    )


def mask_name(name: str | None) -> str | None:
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1) if len(name) > 1 else "*"


def mask_id(value: str | None) -> str | None:
    if not value:
        return value
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:] if len(value) > 7 else "****"


def allowed_for_principal(principal: Principal, ticket: Ticket) -> list[str]:
    found = relations(principal, ticket)
    return sorted(
        a.value
        for (s, a) in TRANSITIONS
        if s.value == ticket.status and found & ACTION_RELATIONS[a] and a is not Action.SHARE_REPLY
    )


def ticket_read(
    session: Session, principal: Principal, ticket: Ticket, *, just_acted: bool = False
) -> TicketRead:
    """`just_acted`: the answer to the principal's own action, shown even when the action
    took the ticket out of their sight (a unit that returned it)."""
    if not just_acted:
        ensure_can_view(principal, ticket)
    hide_identity = anonymised_for(principal, ticket)
    return TicketRead(
        id=ticket.id,
        tracking_code=ticket.tracking_code,
        version=ticket.version,
        status=ticket.status,
        status_label=Status(ticket.status).label_zh,
        channel=ticket.channel,
        appeal_type=ticket.appeal_type,
        title=ticket.title,
        text=ticket.text,
        address_text=None if hide_identity else ticket.address_text,
        area_id=ticket.area_id,
        district_id=ticket.district_id,
        item_id=ticket.item_id,
        urgency=ticket.urgency,
        anonymous=ticket.anonymous,
        requester=requester_view(session, principal, ticket, reveal=False, reason=None),
        centre_unit_id=ticket.centre_unit_id,
        lead_unit_id=ticket.lead_unit_id,
        lead_section_id=ticket.lead_section_id,
        co_units=[
            CoUnitRead(
                unit_id=c.unit_id,
                summoned=c.summoned,
                report_due_at=c.report_due_at,
                reply_due_at=c.reply_due_at,
                reported_at=c.reported_at,
                replied_at=c.replied_at,
                sub_reply=c.sub_reply,
                excused=c.excused,
            )
            for c in ticket.co_units
        ],
        ruled=ticket.ruled,
        first_handler=ticket.first_handler,
        returns_by_unit=dict(ticket.returns_by_unit or {}),
        chase_count=ticket.chase_count,
        redo_count=ticket.redo_count,
        merged_into_id=ticket.merged_into_id,
        excluded_from_assessment=ticket.excluded_from_assessment,
        routing=dict(ticket.routing or {}),
        reply_text=ticket.reply_text,
        received_at=ticket.received_at,
        updated_at=ticket.updated_at,
        dispatch_due_at=ticket.dispatch_due_at,
        due_at=ticket.due_at,
        dispatched_at=ticket.dispatched_at,
        accepted_at=ticket.accepted_at,
        replied_at=ticket.replied_at,
        closed_at=ticket.closed_at,
        allowed_actions=allowed_for_principal(principal, ticket),
    )


def event_read(event: TicketEvent) -> EventRead:
    known = {a.value for a in Action}
    if event.action in known:
        label = Action(event.action).label_zh
    else:
        label = NOTE_ZH.get(event.action, "受理")  # else RECEIVE
    return EventRead(
        seq=event.seq,
        at=event.at,
        action=event.action,
        action_label=label,
        from_status=event.from_status,
        to_status=event.to_status,
        actor_role=event.actor_role,
        actor_unit_id=event.actor_unit_id,
        actor_user_id=event.actor_user_id,
        reason=event.reason,
        payload=dict(event.payload or {}),
    )


def find_for_citizen(session: Session, *, tracking_code: str, phone_last4: str) -> Ticket:
    """Tracking code + the last four digits of the phone given: nothing else is needed, and
    either wrong gives the same answer, so codes cannot be probed."""
    ticket = session.scalar(
        select(Ticket).where(Ticket.tracking_code == tracking_code.strip().upper())
    )
    requester = (
        session.get(Requester, ticket.requester_id) if ticket and ticket.requester_id else None
    )
    if ticket is None or requester is None or requester.phone_last4 != phone_last4.strip():
        raise NotFound(
            "tracking_not_found",
            "查询不到该诉求，请核对受理编号和手机号后四位",
            "No appeal matches that tracking code and phone digits",
        )
    return ticket


def unit_name(session: Session, unit_id: object) -> str:
    """A unit's name for citizens' texts, or a plain word when there is none."""
    unit = session.get(Unit, unit_id) if isinstance(unit_id, int) else None
    return unit.name if unit is not None else "承办单位"


def _citizen_text(session: Session, event: TicketEvent) -> str | None:
    """Plain Chinese for the steps a citizen should see; None hides internal steps."""
    p = event.payload or {}
    a = event.action
    texts: dict[str, str] = {
        RECEIVE: "您的诉求已受理",
        Action.ACCEPT.value: "承办单位已签收",
        Action.RETURN.value: "正在重新确定承办单位",
        Action.CONTACT.value: "承办单位已与您联系",
        Action.START.value: "正在办理",
        Action.SUMMON.value: "已召集相关单位协同办理",
        Action.APPROVE_EXTENSION.value: "办理期限已依规延长",
        Action.APPROVE_SUSPENSION.value: "等待您补充情况，办理暂停计时",
        Action.RESUME.value: "已恢复办理",
        Action.REPLY.value: "承办单位已提交答复，正在审核",
        Action.APPROVE_REPLY.value: "承办单位已答复，请您评价",
        Action.RATE_SATISFIED.value: "您已评价：满意。感谢您的评价",
        Action.RATE_UNSATISFIED.value: "您已评价：不满意。工单已退回承办单位重新办理",
        Action.RATE_UNSATISFIED_AFTER_REDO.value: "您已评价：不满意。该诉求已列入督办",
        Action.CLOSE_UNRATED.value: "已办结",
        Action.SUPERVISE.value: "该诉求已列入督办",
        Action.SUPPLEMENT.value: "您补充了诉求内容，已转告承办单位",
        Action.CHASE.value: "您催办了一次，已提醒承办单位",
        Action.WITHDRAW.value: "您已撤回该诉求",
        Action.MERGE.value: "已与同一事件的其他诉求合并办理",
        Action.SHARE_REPLY.value: "合并办理的诉求已答复",
        Action.INVALIDATE.value: "经核实，该诉求不予受理",
        Action.ANSWER.value: "已为您直接答复",
    }
    if a in (Action.DISPATCH.value, Action.RULE.value):
        return f"已派至「{unit_name(session, p.get('unit_id'))}」办理"
    if a == Action.DISPATCH_TO_DISTRICT.value:
        return f"已转至「{p.get('unit_name') or '区级派单中心'}」派单"
    if a == Action.HAND_OVER_EMERGENCY.value:
        return f"已移交{p.get('line_name') or '应急部门'}处理"
    if a == Action.TRANSFER_OUT.value:
        return f"已转至{p.get('city') or '外地'}12345热线办理"
    return texts.get(a)


def public_tracking(session: Session, ticket: Ticket) -> PublicTracking:
    events = session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.seq)
    ).all()
    steps = []
    for event in events:
        text = _citizen_text(session, event)
        if text is not None:
            steps.append(
                PublicStep(at=event.at, text=text, status_label=Status(event.to_status).label_zh)
            )
    shows_reply = ticket.status in (
        Status.AWAITING_RATING.value,
        Status.CLOSED.value,
        Status.ANSWERED.value,
        Status.REOPENED.value,
        Status.SUPERVISED.value,
        Status.MERGED.value,
    )
    return PublicTracking(
        tracking_code=ticket.tracking_code,
        title=ticket.title,
        status=ticket.status,
        status_label=Status(ticket.status).label_zh,
        received_at=ticket.received_at,
        handling_unit=unit_name(session, ticket.lead_unit_id) if ticket.lead_unit_id else None,
        reply_text=ticket.reply_text if shows_reply else None,
        steps=steps,
    )
