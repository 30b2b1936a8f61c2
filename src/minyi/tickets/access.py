"""Who may see a ticket and how an actor stands to it.

Handlers see and act only on tickets of their unit (lead or co-unit); leaders see their
unit's and their area's; district dispatchers their district's; city dispatchers, agents
and supervisors all; evaluators read anonymised data only; citizens only their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from minyi.org.domain import AreaLevel, Role, UnitKind
from minyi.org.models import Area, MachineClient, Unit, User
from minyi.tickets.domain import Relation
from minyi.tickets.models import Ticket, TicketCoUnit


@dataclass
class Principal:
    """The person or system acting: a staff user, a citizen, a machine client or the system."""

    session: Session
    user: User | None = None
    client: MachineClient | None = None
    system: bool = False
    # A citizen proven by tracking code + last four phone digits, without an account.
    tracking_ticket_id: int | None = None

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"user:{self.user.id}"
        if self.client is not None:
            return f"client:{self.client.id}"
        if self.tracking_ticket_id is not None:
            return f"requester:ticket:{self.tracking_ticket_id}"
        return "system" if self.system else "public"

    @property
    def role(self) -> str | None:
        if self.user is not None:
            return self.user.role
        if self.client is not None:
            return "machine"
        if self.tracking_ticket_id is not None:
            return Role.CITIZEN.value
        return "system" if self.system else "public"

    @property
    def unit_id(self) -> int | None:
        if self.user is not None:
            return self.user.unit_id
        if self.client is not None:
            return self.client.unit_id
        return None

    @cached_property
    def unit(self) -> Unit | None:
        return self.session.get(Unit, self.unit_id) if self.unit_id is not None else None

    @cached_property
    def centre_level(self) -> AreaLevel | None:
        """City or district, when the principal works at (or is the system of) a centre."""
        unit = self.unit
        if unit is not None and unit.kind == UnitKind.DISPATCH_CENTRE.value:
            return AreaLevel(unit.area.level)
        if self.user is None and self.client is not None and self.client.area_id is not None:
            area = self.session.get(Area, self.client.area_id)
            if area is not None and area.level == AreaLevel.DISTRICT.value:
                return AreaLevel.DISTRICT
        return None

    @cached_property
    def centre_area_id(self) -> int | None:
        if self.unit is not None and self.centre_level is not None:
            return self.unit.area_id
        if self.client is not None:
            return self.client.area_id
        return None

    @property
    def is_city_staff(self) -> bool:
        return self.user is not None and (
            self.user.role in (Role.SUPERVISOR.value, Role.ADMIN.value)
            or (
                self.user.role in (Role.DISPATCHER.value, Role.AGENT.value)
                and self.centre_level is AreaLevel.CITY
            )
        )


def relations(principal: Principal, ticket: Ticket) -> set[Relation]:
    """Every way the principal stands to this ticket (a ticket may be reached several ways)."""
    found: set[Relation] = set()
    if principal.system:
        found.add(Relation.SYSTEM)
    if principal.tracking_ticket_id == ticket.id:
        found.add(Relation.REQUESTER)
    user = principal.user
    if user is not None:
        if user.role == Role.CITIZEN.value and _owns(principal, ticket):
            found.add(Relation.REQUESTER)
        if user.role == Role.SUPERVISOR.value:
            found.add(Relation.SUPERVISOR)
        if user.role in (Role.DISPATCHER.value, Role.AGENT.value):
            if principal.centre_level is AreaLevel.CITY:
                found.add(Relation.CITY_CENTRE)
            elif _is_ticket_district_centre(principal, ticket):
                found.add(Relation.DISTRICT_CENTRE)
    elif principal.client is not None and _is_ticket_district_centre(principal, ticket):
        found.add(Relation.DISTRICT_CENTRE)
    unit_id = principal.unit_id
    if unit_id is not None and (user is None or user.role in _UNIT_STAFF):
        if ticket.lead_unit_id == unit_id:
            found.add(Relation.LEAD)
        if any(c.unit_id == unit_id for c in ticket.co_units):
            found.add(Relation.CO_UNIT)
    return found


_UNIT_STAFF = frozenset({Role.HANDLER.value, Role.LEADER.value})


def _is_ticket_district_centre(principal: Principal, ticket: Ticket) -> bool:
    return (
        principal.centre_level is AreaLevel.DISTRICT
        and ticket.district_id is not None
        and ticket.district_id == principal.centre_area_id
    )


def _owns(principal: Principal, ticket: Ticket) -> bool:
    from minyi.intake.models import Requester

    if ticket.requester_id is None or principal.user is None:
        return False
    requester = principal.session.get(Requester, ticket.requester_id)
    return requester is not None and requester.user_id == principal.user.id


def visibility_filter(principal: Principal) -> ColumnElement[bool]:
    """A WHERE clause limiting a ticket query to what the principal may see."""
    from minyi.intake.models import Requester

    user = principal.user
    if principal.system or principal.is_city_staff:
        return true()
    if user is not None and user.role in (Role.ANALYST.value, Role.EVALUATOR.value):
        return true()  # evaluators get anonymised views; see `anonymised_for`
    if principal.centre_level is AreaLevel.DISTRICT:
        return Ticket.district_id == principal.centre_area_id
    if user is not None and user.role == Role.CITIZEN.value:
        own = select(Requester.id).where(Requester.user_id == user.id)
        return Ticket.requester_id.in_(own)
    unit_id = principal.unit_id
    if unit_id is None:
        return false()
    co = select(TicketCoUnit.ticket_id).where(TicketCoUnit.unit_id == unit_id)
    clauses: list[ColumnElement[bool]] = [Ticket.lead_unit_id == unit_id, Ticket.id.in_(co)]
    if user is not None and user.role == Role.LEADER.value and user.area_id is not None:
        area = principal.session.get(Area, user.area_id)
        if area is not None and area.level == AreaLevel.DISTRICT.value:
            clauses.append(Ticket.district_id == area.id)
    return or_(*clauses)


def can_view(principal: Principal, ticket: Ticket) -> bool:
    if principal.tracking_ticket_id == ticket.id:
        return True
    session = principal.session
    found = session.scalar(
        select(Ticket.id).where(Ticket.id == ticket.id, visibility_filter(principal))
    )
    return found is not None


def ensure_can_view(principal: Principal, ticket: Ticket) -> None:
    if not can_view(principal, ticket):
        # Say "not found" rather than "forbidden": a ticket's existence is itself private.
        from minyi.core.errors import NotFound

        raise NotFound("ticket_not_found", "找不到该工单", "No such ticket")


def anonymised_for(principal: Principal, ticket: Ticket) -> bool:
    """Whether the requester's identity must be hidden from this principal."""
    user = principal.user
    if user is not None and user.role in (Role.EVALUATOR.value, Role.ANALYST.value):
        return True
    if ticket.anonymous:
        # Anonymous appeals hide the requester from handling units, not from the hotline.
        return not (principal.is_city_staff or Relation.REQUESTER in relations(principal, ticket))
    return False
