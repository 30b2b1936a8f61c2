"""What an action does beyond the status: check its payload first, then apply its effects.

`prepare` validates and completes the payload before the state machine sees it (a
dispatch without a unit is routed by the lists; a unit must exist and, from a district
centre, lie in its district). `after` stores what the action carries (the reply, the
co-units' answers, the merge target). `followups` does what other tickets or people need
afterwards (a merged parent's reply goes to every merged requester).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.catalogue.domain import Resolution
from minyi.core.clock import Clock, local_text
from minyi.core.errors import ValidationFailed
from minyi.org.domain import AreaLevel, UnitKind
from minyi.org.models import Area, Unit
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action
from minyi.tickets.models import Ticket

EMERGENCY_LINES = {
    "110": "110 报警",
    "119": "119 火警",
    "120": "120 急救",
    "122": "122 交通事故",
    "gas": "燃气抢修热线",
}
INVALID_KINDS = ("duplicate", "unreasonable", "invalid")  # 重复 / 不合理 / 无效
DEFAULT_CONSULTATION_HOURS = 24.0


def _text(payload: dict[str, Any], key: str, zh: str, en: str, max_len: int = 5000) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(f"{key}_required", zh, en)
    if len(value) > max_len:
        raise ValidationFailed(
            f"{key}_too_long", f"内容不能超过 {max_len} 字", f"{key} is over {max_len} characters"
        )
    return value.strip()


def _unit(session: Session, unit_id: Any) -> Unit:
    unit = session.get(Unit, unit_id) if isinstance(unit_id, int) else None
    if unit is None or not unit.active:
        raise ValidationFailed("unit_not_found", "找不到该承办单位", f"No active unit {unit_id}")
    return unit


def _district_of_unit(unit: Unit) -> int | None:
    area: Area | None = unit.area
    while area is not None:
        if area.level == AreaLevel.DISTRICT.value:
            return area.id
        area = area.parent
    return None


def reply_hours(resolution: Resolution) -> float | None:
    """A rough length of the reply time in natural hours, for triage's explanation only;
    the ticket's reply deadline itself is `sla.deadlines` on the unit's working calendar."""
    impl = resolution.implementation
    if impl is None:
        return None
    level = impl.response_level
    candidates = [
        float(level.hours) if level.hours is not None else float((level.working_days or 15) * 24)
    ]
    if impl.completion_days is not None:
        candidates.append(float(impl.completion_days * 24))
    return min(candidates)


def prepare(
    session: Session,
    ticket: Ticket,
    action: Action,
    principal: Principal,
    payload: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    from minyi.tickets import service

    if action in (Action.DISPATCH, Action.RULE):
        if payload.get("item_id") is not None:
            # The dispatcher confirms or corrects the item; routing follows from it.
            from minyi.catalogue import service as catalogue

            item = catalogue.get_item(session, payload["item_id"])
            if item is None:
                raise ValidationFailed(
                    "item_not_found", "找不到该诉求事项", f"No catalogue item {payload['item_id']}"
                )
            ticket.item_id = item.id
        resolution = service.resolve_route(session, ticket, now)
        if payload.get("unit_id") is None:
            if resolution is None or resolution.responsibility is None:
                raise ValidationFailed(
                    "unit_required",
                    "清单中没有该事项在此区域的责任单位，请手工指定承办单位",
                    "The lists name no owner here: choose a unit",
                )
            payload["unit_id"] = resolution.responsibility.lead_unit_id
            payload.setdefault("co_unit_ids", list(resolution.responsibility.co_unit_ids))
            payload.setdefault("section_id", resolution.responsibility.lead_section_id)
            payload["routed_by_lists"] = True
        elif (
            resolution is not None
            and resolution.responsibility is not None
            and resolution.responsibility.lead_unit_id == payload["unit_id"]
            and "co_unit_ids" not in payload
        ):
            # The dispatcher chose the unit the lists name: its co-units come along.
            payload["co_unit_ids"] = list(resolution.responsibility.co_unit_ids)
        unit = _unit(session, payload["unit_id"])
        if unit.kind == UnitKind.DISPATCH_CENTRE.value:
            raise ValidationFailed(
                "dispatch_to_centre",
                "派往区级中心请使用“派至区级中心”",
                "Use dispatch_to_district to send a ticket to a district centre",
            )
        if ticket.status == "district_pending" and _district_of_unit(unit) != ticket.district_id:
            raise ValidationFailed(
                "unit_outside_district",
                "区级中心只能派给本区的单位",
                "A district centre dispatches within its district only",
            )
        co_ids = [u for u in payload.get("co_unit_ids") or [] if u != unit.id]
        for co in co_ids:
            _unit(session, co)
        payload["co_unit_ids"] = co_ids
        payload["unit_name"] = unit.name
        payload["no_owner"] = resolution is not None and resolution.responsibility is None
        if resolution is not None:
            payload["batch_number"] = resolution.batch_number
            if resolution.implementation is not None:
                # The reply and contact clocks' rules (sla.deadlines counts them).
                impl = resolution.implementation
                payload["response_level"] = impl.response_level.value
                payload["completion_days"] = impl.completion_days
                payload["contact_hours"] = impl.contact_hours
    elif action is Action.DISPATCH_TO_DISTRICT:
        district_id = payload.get("district_id", ticket.district_id)
        centre = (
            service.district_centre(session, district_id) if isinstance(district_id, int) else None
        )
        if centre is None:
            raise ValidationFailed(
                "district_centre_not_found",
                "找不到该区的派单中心",
                "No dispatch centre for that district",
            )
        payload["district_id"] = district_id
        payload["centre_unit_id"] = centre.id
        payload["unit_name"] = centre.name
    elif action in (Action.SUMMON, Action.OPEN_CONSULTATION):
        ids = payload.get("unit_ids") or []
        if not isinstance(ids, list) or not ids:
            raise ValidationFailed(
                "unit_ids_required", "必须指定单位", "unit_ids must list at least one unit"
            )
        payload["unit_names"] = [_unit(session, u).name for u in ids]
    elif action in (Action.REPLY, Action.CO_REPLY):
        payload["text"] = _text(payload, "text", "答复内容不能为空", "The reply needs a text")
    elif action is Action.ANSWER:
        payload["text"] = _text(payload, "text", "请填写答复内容", "The answer needs a text")
    elif action is Action.SUPPLEMENT:
        payload["text"] = _text(payload, "text", "补充内容不能为空", "The supplement needs a text")
    elif action is Action.HAND_OVER_EMERGENCY:
        line = str(payload.get("line", ""))
        if line not in EMERGENCY_LINES:
            raise ValidationFailed(
                "emergency_line_invalid",
                "请选择移交的应急热线：110、119、120、122 或燃气抢修",
                "line must be one of 110, 119, 120, 122, gas",
            )
        payload["line_name"] = EMERGENCY_LINES[line]
    elif action is Action.TRANSFER_OUT:
        payload["city"] = _text(payload, "city", "请填写转往的城市", "Name the city", 50)
    elif action is Action.MERGE:
        parent_id = payload.get("into_ticket_id")
        parent = session.get(Ticket, parent_id) if isinstance(parent_id, int) else None
        if parent is None or parent.id == ticket.id:
            raise ValidationFailed(
                "merge_target_invalid", "合并目标工单无效", "The ticket to merge into is invalid"
            )
        if not parent.is_open:
            raise ValidationFailed(
                "merge_target_closed",
                "不能合并到已办结的工单",
                "Cannot merge into a closed ticket",
            )
        payload["into_tracking_code"] = parent.tracking_code
    elif action is Action.APPROVE_EXTENSION:
        days = payload.get("days")
        if days is not None and (not isinstance(days, int) or not 0 < days <= 60):
            raise ValidationFailed(
                "extension_days_invalid", "延期天数应为 1 至 60 天", "days must be 1 to 60"
            )
    elif action is Action.INVALIDATE and payload.get("kind") not in (None, *INVALID_KINDS):
        raise ValidationFailed(
            "invalid_kind",
            "无效类型应为：重复诉求、不合理诉求或无效诉求",
            "kind must be duplicate, unreasonable or invalid",
        )
    elif action is Action.EXCUSE_CO_UNIT and not isinstance(payload.get("unit_id"), int):
        raise ValidationFailed("unit_required", "请指定要免除的协办单位", "unit_id is required")
    return payload


def after(
    session: Session,
    ticket: Ticket,
    action: Action,
    principal: Principal,
    payload: dict[str, Any],
    reason: str | None,
    now: datetime,
) -> None:
    if action in (Action.DISPATCH, Action.RULE):
        ticket.dispatched_at = now
        ticket.accepted_at = None
        ticket.lead_section_id = payload.get("section_id")
        if payload.get("batch_number") is not None or payload.get("routed_by_lists"):
            ticket.routing = {
                **(ticket.routing or {}),
                "batch_number": payload.get("batch_number"),
                "routed_by_lists": bool(payload.get("routed_by_lists")),
                "no_owner": bool(payload.get("no_owner")),
            }
        if not principal.system:
            # A person chose (or kept) the item: a labelled example for the next training.
            from minyi.triage import service as triage

            triage.record_dispatch(session, ticket=ticket, principal=principal, now=now)
    elif action is Action.DISPATCH_TO_DISTRICT:
        ticket.centre_unit_id = payload["centre_unit_id"]
    elif action is Action.RETURN_TO_CITY:
        ticket.centre_unit_id = None
    elif action is Action.ACCEPT:
        ticket.accepted_at = now
    elif action is Action.SUMMON:
        for co in ticket.co_units:
            if co.unit_id in payload["unit_ids"] and co.report_due_at is None:
                # Its report and sub-reply deadlines are the SLA clocks started below.
                co.summoned = True
    elif action in (Action.REPORT, Action.CO_REPLY, Action.EXCUSE_CO_UNIT):
        target = payload.get("unit_id", principal.unit_id)
        for co in ticket.co_units:
            if co.unit_id != target:
                continue
            if action is Action.REPORT and co.reported_at is None:
                co.reported_at = now
            elif action is Action.CO_REPLY:
                co.reported_at = co.reported_at or now
                co.replied_at = now
                co.sub_reply = payload["text"]
            elif action is Action.EXCUSE_CO_UNIT:
                co.excused = True
                co.excuse_reason = reason
    elif action in (Action.REPLY, Action.ANSWER):
        ticket.reply_text = payload["text"]
        ticket.replied_at = now
    elif action is Action.OPEN_CONSULTATION:
        ticket.consultation_unit_ids = list(payload["unit_ids"])
        ticket.consultation_due_at = now + timedelta(
            hours=float(payload.get("hours") or DEFAULT_CONSULTATION_HOURS)
        )
    elif action is Action.MERGE:
        ticket.merged_into_id = payload["into_ticket_id"]
    elif action in (Action.WITHDRAW, Action.INVALIDATE):
        ticket.excluded_from_assessment = True
    elif action is Action.SUPPLEMENT:
        from minyi.intake.models import Note

        session.add(
            Note(ticket_id=ticket.id, kind="supplement", text=payload["text"], created_at=now)
        )
        payload.pop("text", None)  # kept in the note, not copied into the timeline
    from minyi.sla import service as sla  # the ticket's timers follow every action

    sla.on_ticket_action(session, ticket=ticket, action=action, now=now, payload=payload)


# Steps the citizen hears of by SMS (the tracking page shows every step anyway).
REQUESTER_MESSAGES: dict[Action, str] = {
    Action.SHARE_REPLY: "您反映的问题已合并办理并答复，请凭受理编号查看。",
    Action.HAND_OVER_EMERGENCY: "您反映的紧急情况已移交应急部门处理。",
    Action.TRANSFER_OUT: "您的诉求属外地管辖，已转交当地12345热线。",
}
# What the handling unit is told of (its inbox), beyond the webhook every action sends.
UNIT_MESSAGES: dict[Action, str] = {
    Action.SUPPLEMENT: "诉求人补充了诉求内容",
    Action.CHASE: "诉求人催办，请加快办理",
    Action.REJECT_REPLY: "答复被退回，请完善后重新答复",
    Action.RATE_UNSATISFIED: "诉求人评价不满意，请重新办理",
    Action.SUPERVISE: "该工单已列入督办",
}


def notify(session: Session, ticket: Ticket, action: Action, now: datetime) -> None:
    """Queue, in this transaction, what people and connected systems must hear of."""
    from minyi.notify import service as notify_service

    units = [u for u in [ticket.lead_unit_id, *(c.unit_id for c in ticket.co_units)] if u]
    notify_service.publish_ticket_event(
        session,
        ticket_id=ticket.id,
        tracking_code=ticket.tracking_code,
        event_type=f"ticket.{action.value}",
        unit_ids=units,
        payload={"status": ticket.status, "version": ticket.version, "action": action.value},
        now=now,
    )
    if action in UNIT_MESSAGES and ticket.lead_unit_id is not None:
        notify_service.notify_unit(
            session,
            unit_id=ticket.lead_unit_id,
            ticket_id=ticket.id,
            event_type=f"ticket.{action.value}",
            text=f"{UNIT_MESSAGES[action]}（{ticket.tracking_code}）",
            now=now,
        )
    _templated(session, ticket, action, now)
    if action in REQUESTER_MESSAGES and ticket.requester_id is not None:
        notify_service.notify_requester(
            session,
            ticket_id=ticket.id,
            channel="sms",
            event_type=f"ticket.{action.value}",
            text=f"【12345】{REQUESTER_MESSAGES[action]}受理编号：{ticket.tracking_code}",
            now=now,
        )


# The key steps a citizen is told of by SMS (templates citizen.*, notify/data/templates.csv).
CITIZEN_TEMPLATES: dict[Action, tuple[str, ...]] = {
    Action.DISPATCH: ("citizen.dispatched",),
    Action.RULE: ("citizen.dispatched",),
    Action.CONTACT: ("citizen.contacted",),
    Action.APPROVE_REPLY: ("citizen.replied", "citizen.rate"),
}
# A reply in an SMS is cut here; the whole is on the tracking page.
SMS_REPLY_CHARS = 60


def _templated(session: Session, ticket: Ticket, action: Action, now: datetime) -> None:
    from minyi.notify import service as notify_service
    from minyi.tickets.queries import unit_name

    if action in (Action.DISPATCH, Action.RULE) and ticket.lead_unit_id is not None:
        # The unit's new ticket, with the caller masked (the unit reveals, audited, if needed).
        name, phone = _caller(session, ticket)
        notify_service.notify_template(
            session,
            channel="inbox",
            target=notify_service.unit_target(ticket.lead_unit_id),
            code="staff.new_ticket",
            params={
                "tracking_code": ticket.tracking_code,
                "summary": ticket.title[:40],
                "name": name,
                "phone": phone,
                "due": local_text(ticket.due_at) if ticket.due_at is not None else "清单规定时限",
            },
            event_type=f"ticket.{action.value}",
            ticket_id=ticket.id,
            now=now,
        )
    codes = CITIZEN_TEMPLATES.get(action, ())
    if ticket.requester_id is None or not codes:
        return
    unit = unit_name(session, ticket.lead_unit_id)
    reply = (ticket.reply_text or "")[:SMS_REPLY_CHARS]
    for code in codes:
        notify_service.notify_template(
            session,
            channel="sms",
            target=notify_service.requester_target(ticket.id),
            code=code,
            params={"tracking_code": ticket.tracking_code, "unit": unit, "reply": reply},
            event_type=f"ticket.{action.value}",
            ticket_id=ticket.id,
            now=now,
        )


def _caller(session: Session, ticket: Ticket) -> tuple[str, str]:
    """The requester's name and phone for a unit's message (the template masks both)."""
    from minyi.intake.models import Requester

    if ticket.anonymous:
        return "匿名", ""
    requester = session.get(Requester, ticket.requester_id) if ticket.requester_id else None
    if requester is None:
        return "市民", ""
    return requester.name or "市民", requester.phone or ""


def followups(
    session: Session,
    ticket: Ticket,
    action: Action,
    principal: Principal,
    now: datetime,
    *,
    clock: Clock | None = None,
) -> None:
    from minyi.sla import service as sla
    from minyi.tickets import service

    sla.record_pending_notes(session, now=now, clock=clock)
    notify(session, ticket, action, now)
    if action is Action.APPROVE_REPLY:
        children = session.scalars(
            select(Ticket).where(Ticket.merged_into_id == ticket.id, Ticket.status == "merged")
        ).all()
        system = Principal(session=session, system=True)
        for child in children:
            child.reply_text = ticket.reply_text
            child.replied_at = now
            service.act(
                session,
                ticket_id=child.id,
                action=Action.SHARE_REPLY,
                principal=system,
                payload={"parent_tracking_code": ticket.tracking_code},
                clock=clock,
            )
