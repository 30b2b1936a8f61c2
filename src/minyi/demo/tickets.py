"""`minyi demo`'s ticket history: about 5,000 appeals of the last 90 days, in every state.

The plan (`ticket_plan`) says what happens when; this module makes it happen through the
services, as people would have: each appeal is submitted through intake at its receive
time (a `FixedClock`), then every step goes through `tickets.service.act`, so the
timelines, audit chain and outbox are what the product itself writes. All steps of all
tickets run in time order, so ticket ids follow the order of arrival and the audit chain
runs forward in time. One transaction per chunk of tickets keeps memory flat and shows
progress.

The people: the demo users where they fit (the city dispatcher, the agent for calls and
return visits, the supervisor, A3区's dispatcher and handlers); for every other unit that
handles a ticket, one handler `handler-<unit code>` is created on first need, and one
dispatcher `dispatcher-<district code>` per district centre, all with the password
`minyi-<username>-2026` (docs/demo-users.md). Citizens act by their tracking code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.catalogue import crosswalk
from minyi.catalogue import service as catalogue
from minyi.core.clock import Clock, FixedClock
from minyi.core.errors import DomainError
from minyi.demo.texts import read_bursts, read_messages, read_replies
from minyi.demo.ticket_matching import Leaf, leaf_terms
from minyi.demo.ticket_paths import CO_REPLIES, Target, Who
from minyi.demo.ticket_plan import SEED, WINDOW, CityFacts, TicketPlan, plan_tickets
from minyi.demo.units import CENTRE_GROUPS
from minyi.intake import service as intake
from minyi.intake.domain import ChannelAccess, RequesterKind
from minyi.intake.schemas import AppealCreate, RequesterIn
from minyi.org import service as org
from minyi.org.domain import AreaLevel, Role, UnitKind
from minyi.org.models import Area, MachineClient, Unit, User
from minyi.sla.tasks import FireReport, fire_due
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action, Status
from minyi.tickets.models import Ticket, TicketEvent

Progress = Callable[[str], None]
CHUNK = 200  # tickets per transaction
FIRE_EVERY = timedelta(hours=1)  # how often the simulated SLA worker runs


@dataclass(frozen=True)
class TicketSummary:
    tickets: int = 0
    events: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    people_created: int = 0
    seconds: float = 0.0


class _NoFiles:
    """The demo's appeals carry no attachments; a store that is never written to."""

    def put(self, data: bytes) -> str:
        raise RuntimeError("the demo tickets have no attachments")

    def open(self, sha256: str) -> BinaryIO:
        raise FileNotFoundError(sha256)

    def exists(self, sha256: str) -> bool:
        return False


def build_demo_tickets(
    session: Session,
    *,
    shared_data: Path,
    count: int,
    clock: Clock,
    seed: int = SEED,
    progress: Progress | None = None,
    commit: Callable[[], None] | None = None,
    chunk: int = CHUNK,
    every_status: bool = True,
) -> TicketSummary:
    """Plan `count` tickets over the 90 days before `clock.now()` and play them through the
    services. `commit` is called after every `chunk` tickets (the caller's transaction)."""
    if count <= 0:
        return TicketSummary()
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    now = clock.now()
    not_before = lists_in_force_from(session)
    if not_before is None or not_before > now - timedelta(days=1):
        # Without lists in force nothing could be dispatched: no history to tell.
        say("工单 / tickets: 清单尚未生效，不生成工单 / no lists in force yet, no tickets")
        return TicketSummary()
    plans = plan_tickets(
        count,
        now=now,
        messages=read_messages(shared_data),
        replies=read_replies(shared_data),
        bursts=read_bursts(shared_data),
        facts=city_facts(session),
        seed=seed,
        not_before=not_before,
        every_status=every_status,
    )
    say(f"工单 / tickets: 已规划 planned {len(plans)}，按时间顺序受理和办理 / playing them")
    runner = _Runner(session, since=now - WINDOW - timedelta(days=1))
    received = 0
    for plan, step_no in _in_time_order(plans):
        if step_no < 0:
            runner.receive(plan)
            received += 1
            if received % chunk == 0 and commit is not None:
                commit()
            if received % 1000 == 0:
                say(f"  {received}/{len(plans)} ({time.perf_counter() - started:.0f} s)")
        else:
            runner.step(plan, step_no)
    runner.fire_timers(now)
    say(
        f"  时限 SLA: 预警 warnings {runner.fired.warnings}，亮牌 cards {runner.fired.cards}，"
        f"升级 escalations {runner.fired.escalations}"
    )
    session.flush()
    if commit is not None:
        commit()
    return TicketSummary(
        tickets=len(plans),
        events=session.scalar(select(func.count()).select_from(TicketEvent)) or 0,
        by_status=status_counts(session),
        people_created=runner.people.created,
        seconds=time.perf_counter() - started,
    )


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
    found = {str(status): int(n) for status, n in rows}
    return {s.value: found[s.value] for s in Status if s.value in found}


def _in_time_order(plans: list[TicketPlan]) -> Iterator[tuple[TicketPlan, int]]:
    """Every receive (step -1) and step of every ticket, earliest first."""
    moments: list[tuple[datetime, int, int]] = []
    for plan in plans:
        moments.append((plan.received_at, plan.index, -1))
        moments.extend((s.at, plan.index, i) for i, s in enumerate(plan.steps))
    moments.sort()
    for _, index, step_no in moments:
        yield plans[index], step_no


def lists_in_force_from(session: Session) -> datetime | None:
    batches, _ = catalogue.list_batches(session, limit=1)
    return batches[0].effective_at if batches else None


def city_facts(session: Session) -> CityFacts:
    """What the plan needs of the built city: catalogue leaves per label, places, grids."""
    items, _ = catalogue.list_items(session, limit=1_000_000)
    parents = {i.parent_id for i in items}
    leaves = [
        Leaf(i.path, i.name, leaf_terms(i.name, i.keywords or []))
        for i in items
        # The 12345 centre's own items (the hotline, invalid appeals) are never dispatched.
        if i.id not in parents and not set(i.path.split("/")) & set(CENTRE_GROUPS)
    ]

    def under(prefixes: list[str]) -> tuple[Leaf, ...]:
        return tuple(
            leaf
            for leaf in leaves
            if any(leaf.path == p or leaf.path.startswith(p + "/") for p in prefixes)
        )

    by_label: dict[str, tuple[tuple[Leaf, ...], tuple[Leaf, ...]]] = {}
    for label in crosswalk.labels():
        primary = crosswalk.subtrees_for(label, include_secondary=False)
        every = crosswalk.subtrees_for(label)
        main = under(primary)
        if main:
            by_label[label] = (main, under([p for p in every if p not in primary]))
    areas, _ = org.list_areas(session, limit=1_000_000)
    places: list[tuple[str, str]] = []
    grids: dict[str, list[str]] = {}
    districts: list[tuple[str, int]] = []
    for area in areas:
        if area.level == AreaLevel.CITY.value:
            continue
        places.extend((name, area.code) for name in (area.name, *(area.aliases or [])))
        if area.level == AreaLevel.GRID.value:
            grids.setdefault(area.code.split("-")[0], []).append(area.code)
        elif area.level == AreaLevel.DISTRICT.value:
            districts.append((area.code, area.population or 1))
    client = session.scalar(select(MachineClient).order_by(MachineClient.id).limit(1))
    machine_area = session.get(Area, client.area_id) if client and client.area_id else None
    return CityFacts(
        leaves=by_label,
        places=places,
        grids=grids,
        districts=[(code, n) for code, n in districts if grids.get(code)],
        machine_district=machine_area.code if machine_area else None,
    )


class _People:
    """Who acts for a role: the demo users, and handlers created on first need."""

    def __init__(self, session: Session, since: datetime) -> None:
        self.session = session
        self.clock = FixedClock(since)  # they joined before the history begins
        self.created = 0
        users = list(session.scalars(select(User).where(User.active).order_by(User.id)))
        by_name = {u.username: u for u in users}
        try:
            self.city = Principal(session, user=by_name["dispatcher"])
            self.agent = Principal(session, user=by_name["agent"])
            self.supervisor = Principal(session, user=by_name["supervisor"])
        except KeyError as missing:
            raise RuntimeError(f"the demo user {missing} is missing") from None
        self.system = Principal(session, system=True)
        self.public = Principal(session)
        client = session.scalar(select(MachineClient).order_by(MachineClient.id).limit(1))
        self.machine = Principal(session, client=client) if client is not None else None
        self.handlers: dict[int, Principal] = {}
        self.dispatchers: dict[int, Principal] = {}  # by centre unit
        self.by_district: dict[int, Principal] = {}
        for user in users:
            if user.unit_id is None:
                continue
            if user.role == Role.HANDLER.value:
                self.handlers.setdefault(user.unit_id, Principal(session, user=user))
            elif user.role == Role.DISPATCHER.value and user.unit_id != self.city.unit_id:
                self.dispatchers.setdefault(user.unit_id, Principal(session, user=user))

    def handler(self, unit_id: int) -> Principal:
        if unit_id not in self.handlers:
            unit = org.get_unit(self.session, unit_id)
            if unit is None:
                raise RuntimeError(f"no unit {unit_id}")
            self.handlers[unit_id] = self._create(f"handler-{unit.code.lower()}", unit, "承办人")
        return self.handlers[unit_id]

    def district_dispatcher(self, district_id: int) -> Principal:
        if district_id in self.by_district:
            return self.by_district[district_id]
        centre = tickets.district_centre(self.session, district_id)
        if centre is None:
            raise RuntimeError(f"no dispatch centre in district {district_id}")
        if centre.id not in self.dispatchers:
            code = centre.area.code.lower()
            self.dispatchers[centre.id] = self._create(f"dispatcher-{code}", centre, "派单员")
        self.by_district[district_id] = self.dispatchers[centre.id]
        return self.by_district[district_id]

    def _create(self, username: str, unit: Unit, title: str) -> Principal:
        role = Role.DISPATCHER if unit.kind == UnitKind.DISPATCH_CENTRE.value else Role.HANDLER
        user = org.create_user(
            self.session,
            username=username,
            display_name=f"{unit.name}{title}",
            password=f"minyi-{username}-2026",
            role=role,
            unit=unit,
            clock=self.clock,
        )
        self.created += 1
        return Principal(self.session, user=user)

    def submitter(self, plan: TicketPlan) -> Principal:
        """Calls and counters are typed in by the hotline; the public files its own; the
        district's case system files through its key."""
        access = plan.channel.access
        if access is ChannelAccess.PUBLIC:
            return self.public
        if access is ChannelAccess.MACHINE and self.machine is not None:
            return self.machine
        return self.agent


class _Places:
    """Areas and the units where a problem is (for re-dispatches and whistles)."""

    def __init__(self, session: Session) -> None:
        areas, _ = org.list_areas(session, limit=1_000_000)
        self.ids = {a.code: a.id for a in areas}
        self.code = {a.id: a.code for a in areas}
        self.parent = {a.id: a.parent_id for a in areas}
        self.level = {a.id: a.level for a in areas}
        units, _ = org.list_units(session, limit=1_000_000)
        self.unit_ids = {u.code: u.id for u in units if u.active}
        self.unit_area = {u.id: u.area_id for u in units}
        self.centres = {u.id for u in units if u.kind == UnitKind.DISPATCH_CENTRE.value}

    def district_of(self, area_id: int | None) -> int | None:
        node = area_id
        while node is not None and self.level[node] != AreaLevel.DISTRICT.value:
            node = self.parent[node]
        return node

    def local_units(self, area_id: int | None) -> list[int]:
        """The street office of the place, then the district's city-management, housing
        and ecology bureaus (the units that take most street-level appeals)."""
        found: list[int] = []
        node = area_id
        while node is not None:
            if self.level[node] == AreaLevel.STREET.value:
                found.append(self.unit_ids.get(f"{self.code[node]}-JD", 0))
            if self.level[node] == AreaLevel.DISTRICT.value:
                district = self.code[node]
                found += [self.unit_ids.get(f"{district}-{k}", 0) for k in _LOCAL_BUREAUS]
            node = self.parent[node]
        return [u for u in found if u]

    def local_unit(self, area_id: int | None, avoid: set[int]) -> int:
        for unit_id in self.local_units(area_id):
            if unit_id not in avoid:
                return unit_id
        raise RuntimeError(f"no local unit for area {area_id}")


_LOCAL_BUREAUS = ("URBAN", "HOUSING", "ECOLOGY")


class _Runner:
    def __init__(self, session: Session, *, since: datetime) -> None:
        self.session = session
        self.clock = FixedClock(since)
        self.people = _People(session, since)
        self.places = _Places(session)
        items, _ = catalogue.list_items(session, limit=1_000_000)
        self.items = {i.path: i.id for i in items}
        self.ids: dict[int, int] = {}  # plan index → ticket id
        # Held, so that each step finds its ticket (and co-units) loaded, not reloaded.
        self.tickets: dict[int, Ticket] = {}
        self.returned_by: dict[int, int] = {}  # ticket id → the unit that last returned it
        self.store = _NoFiles()
        self.fired_until = since
        self.fired = FireReport()

    def fire_timers(self, until: datetime) -> None:
        """The SLA worker as it would have run along the history (hourly): warnings, cards and
        escalations land when they fell due, not all at once when the real worker starts."""
        while self.fired_until + FIRE_EVERY <= until:
            self.fired_until += FIRE_EVERY
            while True:
                report = fire_due(self.session, now=self.fired_until, limit=500)
                self.fired = FireReport(
                    self.fired.claimed + report.claimed,
                    self.fired.warnings + report.warnings,
                    self.fired.cards + report.cards,
                    self.fired.escalations + report.escalations,
                )
                if report.claimed < 500:
                    break

    def receive(self, plan: TicketPlan) -> None:
        self.fire_timers(plan.received_at.astimezone(UTC))
        self.clock.set(plan.received_at.astimezone(UTC))
        r = plan.requester
        requester = RequesterIn(
            kind=RequesterKind.COMPANY if r.company_name else RequesterKind.PERSON,
            name=r.name,
            phone=r.phone,
            company_name=r.company_name,
            credit_code=r.credit_code,
        )
        data = AppealCreate.model_validate(
            {
                "channel": plan.channel,
                "type": plan.appeal_type,
                "title": plan.title,
                "text": plan.text,
                "area_id": self.places.ids[plan.area_code] if plan.area_code else None,
                "requester": requester,
                "anonymous": r.anonymous,
            }
        )
        result = intake.submit_appeal(
            self.session,
            data=data,
            files=(),
            principal=self.people.submitter(plan),
            idempotency_key=None,
            store=self.store,
            clock=self.clock,
        )
        if not result.created:
            raise RuntimeError(f"demo ticket {plan.index} was taken as a repeat")
        # Triage is not built yet: the demo classifies as a dispatcher would have.
        result.ticket.item_id = self.items[plan.item_path]
        self.ids[plan.index] = result.ticket.id
        self.tickets[result.ticket.id] = result.ticket

    def step(self, plan: TicketPlan, step_no: int) -> None:
        step = plan.steps[step_no]
        ticket_id = self.ids[plan.index]
        self.fire_timers(step.at.astimezone(UTC))
        self.clock.set(step.at.astimezone(UTC))
        ticket = self.tickets[ticket_id]
        try:
            if step.who is Who.CO:
                self._co_units(ticket, step.action, step.text)
            elif step.action is Action.EXCUSE_CO_UNIT:
                for unit_id in self._pending_co_units(ticket):
                    payload = {"unit_id": unit_id}
                    self._act(ticket, step.action, self.people.city, step.reason, payload)
            else:
                if step.action is Action.REPLY:
                    self._co_units(ticket, Action.CO_REPLY, CO_REPLIES[0])
                if step.action is Action.RETURN and ticket.lead_unit_id is not None:
                    self.returned_by[ticket.id] = ticket.lead_unit_id
                principal = self._principal(step.who, ticket)
                payload = self._payload(ticket, plan, step_no)
                self._act(ticket, step.action, principal, step.reason, payload)
        except DomainError as exc:
            raise RuntimeError(
                f"demo ticket {plan.index}, step {step_no} ({step.action.value}): {exc.code}"
            ) from exc

    def _act(
        self,
        ticket: Ticket,
        action: Action,
        principal: Principal,
        reason: str | None,
        payload: dict[str, Any],
    ) -> None:
        tickets.act(
            self.session,
            ticket_id=ticket.id,
            action=action,
            principal=principal,
            reason=reason,
            payload=payload,
            clock=self.clock,
        )

    def _principal(self, who: Who, ticket: Ticket) -> Principal:
        if who is Who.CITY:
            return self.people.city
        if who is Who.VISIT:
            return self.people.agent
        if who is Who.SUPERVISOR:
            return self.people.supervisor
        if who is Who.SYSTEM:
            return self.people.system
        if who is Who.CITIZEN:
            return Principal(self.session, tracking_ticket_id=ticket.id)
        if who is Who.DISTRICT and ticket.district_id is not None:
            return self.people.district_dispatcher(ticket.district_id)
        if who is Who.LEAD and ticket.lead_unit_id is not None:
            return self.people.handler(ticket.lead_unit_id)
        raise RuntimeError(f"nobody to act as {who.value} on ticket {ticket.id}")

    def _pending_co_units(self, ticket: Ticket) -> list[int]:
        return [c.unit_id for c in ticket.co_units if c.replied_at is None and not c.excused]

    def _co_units(self, ticket: Ticket, action: Action, text: str | None) -> None:
        """Each co-unit reports (when summoned) or answers, in turn."""
        for co in list(ticket.co_units):
            if action is Action.REPORT and (co.reported_at is not None or not co.summoned):
                continue
            if action is Action.CO_REPLY and (co.replied_at is not None or co.excused):
                continue
            payload = {"text": text or CO_REPLIES[0]} if action is Action.CO_REPLY else {}
            self._act(ticket, action, self.people.handler(co.unit_id), None, payload)

    def _payload(self, ticket: Ticket, plan: TicketPlan, step_no: int) -> dict[str, Any]:
        step = plan.steps[step_no]
        action = step.action
        if action in (Action.DISPATCH, Action.RULE):
            return self._dispatch_payload(ticket, step.target, step.who)
        if action is Action.SUMMON:
            lead = ticket.lead_unit_id or 0
            avoid = {lead, *(c.unit_id for c in ticket.co_units)}
            unit_id = self.places.local_unit(ticket.area_id, avoid)
            return {"unit_ids": [unit_id], "report_hours": 2, "reply_hours": 72}
        if action is Action.OPEN_CONSULTATION:
            first = self._lists_lead(ticket)
            avoid = {first} if first is not None else set()
            units = [*avoid, self.places.local_unit(ticket.area_id, avoid)]
            return {"unit_ids": units, "hours": 24}
        if action in (Action.REPLY, Action.ANSWER, Action.SUPPLEMENT):
            return {"text": step.text}
        if action is Action.HAND_OVER_EMERGENCY:
            return {"line": step.line}
        if action is Action.TRANSFER_OUT:
            return {"city": step.city}
        if action is Action.MERGE and step.into is not None:
            return {"into_ticket_id": self.ids[step.into]}
        if action is Action.APPROVE_EXTENSION:
            return {"days": step.days}
        if step.scores is not None:
            speed, result, attitude, quality = step.scores
            return {
                "speed": speed,
                "result": result,
                "attitude": attitude,
                "quality": quality,
                "comment": "",
            }
        return {}

    def _dispatch_payload(self, ticket: Ticket, target: Target | None, who: Who) -> dict[str, Any]:
        if target is Target.SAME and ticket.id in self.returned_by:
            return {"unit_id": self.returned_by[ticket.id]}
        if target is Target.LOCAL:
            avoid = {self.returned_by.get(ticket.id, 0)}
            return {"unit_id": self.places.local_unit(ticket.area_id, avoid)}
        if who is Who.DISTRICT:
            # A district centre dispatches inside its district: the lists' unit when it is
            # one of the district's, else the unit where the problem is.
            lead = self._lists_lead(ticket)
            if lead is None or self.places.district_of(self.places.unit_area.get(lead)) != (
                ticket.district_id
            ):
                return {"unit_id": self.places.local_unit(ticket.area_id, set())}
        return {}

    def _lists_lead(self, ticket: Ticket) -> int | None:
        resolution = tickets.resolve_route(self.session, ticket, self.clock.now())
        if resolution is None or resolution.responsibility is None:
            return None
        lead = resolution.responsibility.lead_unit_id
        return None if lead in self.places.centres else lead
