"""Admins keep the calendar's days; staff can check where a deadline would fall."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from minyi.core.clock import CHINA_TZ
from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import Forbidden, ValidationFailed
from minyi.org.auth import AdminUser, require_roles
from minyi.org.domain import Role, UnitKind
from minyi.org.models import User
from minyi.sla.calendar import service
from minyi.sla.calendar.domain import Duration, DurationKind, warning_text
from minyi.sla.calendar.schemas import (
    CalendarDayCreate,
    CalendarDayList,
    CalendarDayRead,
    CalendarWarning,
    DeadlineRead,
    HorizonRead,
)

router = APIRouter(prefix="/calendar", tags=["calendar"])

StaffUser = Annotated[User, Depends(require_roles(*(r for r in Role if r is not Role.CITIZEN)))]
# The people who answer for deadlines across units: admins and the dispatch centres' staff
# (checked against the unit below).
CentreUser = Annotated[
    User,
    Depends(require_roles(Role.ADMIN, Role.AGENT, Role.DISPATCHER, Role.SUPERVISOR)),
]


@router.get("/days", response_model=CalendarDayList)
def list_days(
    session: SessionDep,
    _: AdminUser,
    clock: ClockDep,
    year: int | None = Query(default=None, ge=1900, le=9999),
) -> CalendarDayList:
    rows = service.list_days(session, year=year)
    this_year = clock.now().astimezone(CHINA_TZ).year
    return CalendarDayList(
        items=[CalendarDayRead.model_validate(r) for r in rows],
        unknown_years=list(service.get_calendar(session).unknown_years(this_year, this_year + 1)),
    )


@router.post("/days", response_model=CalendarDayRead, status_code=201)
def add_day(
    body: CalendarDayCreate, session: SessionDep, user: AdminUser, clock: ClockDep
) -> CalendarDayRead:
    row = service.add_day(
        session,
        day=body.day,
        kind=body.kind,
        name=body.name,
        actor=f"user:{user.id}",
        clock=clock,
    )
    return CalendarDayRead.model_validate(row)


@router.delete("/days/{day_id}", status_code=204)
def delete_day(day_id: int, session: SessionDep, user: AdminUser, clock: ClockDep) -> Response:
    service.delete_day(session, day_id=day_id, actor=f"user:{user.id}", clock=clock)
    return Response(status_code=204)


@router.get("/deadline", response_model=DeadlineRead)
def deadline(
    session: SessionDep,
    _: StaffUser,
    start: datetime,
    kind: DurationKind,
    amount: float = Query(ge=0, le=3650),
) -> DeadlineRead:
    if start.tzinfo is None:
        raise ValidationFailed(
            "calendar_start_naive",
            "开始时间须带时区",
            "The start time needs a timezone (e.g. +08:00 or Z)",
        )
    result = service.get_calendar(session).add(start, Duration(kind, amount))
    return DeadlineRead(
        start=start.astimezone(UTC),
        kind=kind,
        amount=amount,
        due_at=result.due_at,
        warnings=[
            CalendarWarning(code=c, message=warning_text(c)[0], message_en=warning_text(c)[1])
            for c in result.warnings
        ],
    )


@router.get("/horizon", response_model=HorizonRead)
def horizon(session: SessionDep, user: CentreUser, clock: ClockDep) -> HorizonRead:
    if user.role != Role.ADMIN.value and (
        user.unit is None or user.unit.kind != UnitKind.DISPATCH_CENTRE.value
    ):
        raise Forbidden(
            "calendar_centre_only",
            "仅管理员和派单中心人员可查看节假日录入情况",
            "Only admins and dispatch-centre staff may see the calendar's horizon",
        )
    today = clock.now().astimezone(CHINA_TZ).date()
    seen = service.horizon(session, today)
    return HorizonRead(
        today=seen.today,
        covered_until=seen.covered_until,
        missing_years=list(seen.missing_years),
        remind=seen.remind,
        message=seen.message_zh,
        message_en=seen.message_en,
    )
