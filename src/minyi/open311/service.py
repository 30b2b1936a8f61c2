"""Use cases of Open311 GeoReport v2: services from the catalogue, requests from tickets.

- A service is one of the catalogue's finest items (a leaf of 目录清单): service_code is
  the item's code, group the top-level class, keywords the item's own plus its parents'.
- A new request is an appeal on the `open311` channel through `intake.submit_appeal`, so
  the checks, repeat detection, triage, deadlines and messages are those of every channel.
  The chosen service is handed to triage as the first item candidate (`_ChosenService`).
- service_request_id is the ticket id. The tracking code (查询码) is not published: with the
  last four phone digits it lets the citizen add to, chase, withdraw and rate the appeal,
  and the request list is public. The client that filed the request gets the code in
  service_notice; `tokens/{查询码}` turns a code back into the service_request_id.
- What the public sees of a ticket: status open/closed with the detailed Chinese status in
  status_notes, the service, the text with mobile and ID numbers masked, the handling
  unit, the dates, the place. Never the requester's name, phone or e-mail.

Reads select tickets directly (the public projection has filters the staff lists lack:
several ids, several items, open or closed). The appeal is written by intake; the one
write of this module is the `open311` entry it adds to the new ticket's `routing` (the
chosen service and the media URL), as no other domain has a place for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row, and_, or_, select
from sqlalchemy.orm import Session

from minyi.catalogue.models import Item
from minyi.core.clock import Clock, aware
from minyi.core.errors import DomainError, Forbidden, NotFound, Unauthorized, ValidationFailed
from minyi.intake import service as intake
from minyi.intake.domain import Channel, is_valid_tracking_code, normalise_tracking_code
from minyi.intake.filestore import FileStore
from minyi.intake.schemas import AppealCreate, RequesterIn
from minyi.notify.domain import mask_text
from minyi.open311 import domain
from minyi.open311.domain import Open311Error, Problem, PublicStatus, RequestForm
from minyi.open311.schemas import (
    AttributeOut,
    AttributeValueOut,
    DiscoveryOut,
    EndpointOut,
    RequestCreatedOut,
    RequestOut,
    ServiceDefinitionOut,
    ServiceOut,
    TokenOut,
)
from minyi.org import service as org
from minyi.org.domain import ClientScope
from minyi.org.models import Area, MachineClient, Unit
from minyi.tickets.access import Principal
from minyi.tickets.domain import Status
from minyi.tickets.models import Ticket
from minyi.triage.domain import ItemGuess, LabelGuess, emergency_advice
from minyi.triage.engine import TriageEngine

# Where a ticket keeps what only an Open311 client gives: its chosen service (the item,
# should no one have classified the ticket) and the media URL, kept as a reference only.
ROUTING_KEY = "open311"
CHOSEN_MARK = "Open311 客户端所选服务"


# --- the catalogue as services ---------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A catalogue item as plain values (read by column: a tenth of the cost of entities)."""

    id: int
    code: str
    path: str
    name: str
    parent_id: int | None
    definition: str
    keywords: tuple[str, ...]


class Services:
    """The catalogue as Open311 sees it, read once per call (a few hundred rows)."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        self._nodes = {node.id: node for node in nodes}
        parents = {node.parent_id for node in self._nodes.values()}
        counts: dict[str, int] = {}
        for node in self._nodes.values():
            counts[node.code] = counts.get(node.code, 0) + 1
        self._code = {
            node.id: domain.service_code(node.code, node.path, shared=counts[node.code] > 1)
            for node in self._nodes.values()
        }
        self._by_code = {code: node_id for node_id, code in self._code.items()}
        self._leaves = sorted(
            (n for n in self._nodes.values() if n.id not in parents), key=lambda n: n.path
        )
        self._leaf_ids = {n.id for n in self._leaves}

    @classmethod
    def load(cls, session: Session) -> Services:
        rows = session.execute(
            select(
                Item.id,
                Item.code,
                Item.path,
                Item.name,
                Item.parent_id,
                Item.definition,
                Item.keywords,
            )
        )
        return cls(
            Node(r.id, r.code, r.path, r.name, r.parent_id, r.definition or "", tuple(r.keywords))
            for r in rows
        )

    def display_name(self, node: Node) -> str:
        """As `catalogue.display_name`: a nameless item stands under its parent's name."""
        if node.name:
            return node.name
        parent = self._nodes.get(node.parent_id) if node.parent_id is not None else None
        return parent.name if parent is not None else node.code

    def code_of(self, item_id: int | None) -> str | None:
        return self._code.get(item_id) if item_id is not None else None

    def name_of(self, item_id: int | None) -> str | None:
        node = self._nodes.get(item_id) if item_id is not None else None
        return self.display_name(node) if node is not None else None

    def find(self, code: str) -> Node | None:
        """The leaf a service_code names (only the finest items are services)."""
        node_id = self._by_code.get(code)
        if node_id is None or node_id not in self._leaf_ids:
            return None
        return self._nodes[node_id]

    def find_or_404(self, code: str) -> Node:
        node = self.find(code)
        if node is None:
            raise domain.not_found(
                "service_code_not_found",
                "找不到该服务（service_code 不存在，或不是最细一级的事项）",
                "No such service_code (unknown, or not one of the finest catalogue items)",
            )
        return node

    def _ancestors(self, node: Node) -> list[Node]:
        chain: list[Node] = []
        parent = self._nodes.get(node.parent_id) if node.parent_id is not None else None
        while parent is not None:
            chain.append(parent)
            parent = self._nodes.get(parent.parent_id) if parent.parent_id is not None else None
        return list(reversed(chain))

    def service(self, node: Node) -> ServiceOut:
        ancestors = self._ancestors(node)
        group = self.display_name(ancestors[0]) if ancestors else None
        words = [*node.keywords, *(self.display_name(a) for a in ancestors[1:])]
        keywords = ",".join(dict.fromkeys(w.strip() for w in words if w.strip()))
        return ServiceOut(
            service_code=self._code[node.id],
            service_name=self.display_name(node),
            description=node.definition or None,
            metadata=True,
            type=domain.SERVICE_TYPE,
            keywords=keywords or None,
            group=group,
        )

    def services(self) -> list[ServiceOut]:
        return [self.service(node) for node in self._leaves]


def list_services(session: Session) -> list[ServiceOut]:
    return Services.load(session).services()


def service_definition(session: Session, *, code: str) -> ServiceDefinitionOut:
    """The same attributes for every service: the appeal's type, anonymity, and the
    emergency lines as information (12345 is not an emergency line, SPEC §2.6)."""
    services = Services.load(session)
    node = services.find_or_404(code)
    return ServiceDefinitionOut(
        service_code=services.code_of(node.id) or code,
        attributes=[
            AttributeOut(
                variable=a.variable,
                code=a.code,
                datatype=a.datatype.value,
                required=a.required,
                datatype_description=a.datatype_description,
                order=a.order,
                description=a.description,
                values=[AttributeValueOut(key=v.key, name=v.name) for v in a.values],
            )
            for a in domain.ATTRIBUTES
        ],
    )


def discovery(*, url: str) -> DiscoveryOut:
    return DiscoveryOut(
        changeset=domain.CHANGESET,
        contact="12345 政务服务便民热线（非紧急）；接口问题请联系市 12345 中心系统管理员",
        key_service="POST requests 需要 api_key：由市 12345 中心管理员创建机器客户端"
        "（权限 appeals:create）后发放，密钥只显示一次",
        endpoints=[
            EndpointOut(
                specification=domain.SPECIFICATION,
                url=url,
                changeset=domain.CHANGESET,
                type="production",
                formats=[domain.Format.XML.media_type.split(";")[0], "application/json"],
            )
        ],
    )


# --- new requests ----------------------------------------------------------------------------


class _ChosenService:
    """The triage engine, told which service the client chose: that item comes first among
    the candidates, with the model's own score for it (0 when the model did not rank it),
    so the ticket is classified as the client said, yet dispatched by the machine only
    when the model is as sure as for any appeal; otherwise a dispatcher decides."""

    def __init__(self, inner: TriageEngine, chosen: ItemGuess) -> None:
        self._inner = inner
        self._chosen = chosen

    @property
    def version(self) -> str | None:
        return self._inner.version

    @property
    def auto_threshold(self) -> float | None:
        return self._inner.auto_threshold

    def classify(self, text: str) -> LabelGuess | None:
        return self._inner.classify(text)

    def rank_items(self, text: str, label: LabelGuess | None, k: int = 5) -> list[ItemGuess]:
        ranked = self._inner.rank_items(text, label, k)
        own = next((g for g in ranked if g.path == self._chosen.path), None)
        first = ItemGuess(
            path=self._chosen.path,
            code=self._chosen.code,
            name=self._chosen.name,
            score=own.score if own is not None else 0.0,
            matched=(*(own.matched if own is not None else ()), CHOSEN_MARK),
        )
        return [first, *(g for g in ranked if g.path != self._chosen.path)][:k]


@dataclass(frozen=True)
class Intake:
    """How intake is set up in this process (the settings the JSON route passes too)."""

    store: FileStore
    clock: Clock
    triage: TriageEngine | None
    auto_dispatch: bool
    auto_item_threshold: float | None


def authenticate(session: Session, pairs: Sequence[tuple[str, str]]) -> MachineClient:
    """The machine client whose `api_key` came with the form, allowed to file appeals."""
    key = domain.api_key_of(pairs)
    if key is None:
        raise domain.forbidden(
            "api_key_missing",
            "缺少 api_key：提交诉求需要市 12345 中心发放的 API 密钥",
            "api_key is missing: creating a request needs an API key",
        )
    try:
        client = org.authenticate_client(session, key)
        org.ensure_scope(client, ClientScope.APPEALS_CREATE)
    except Unauthorized:
        raise domain.forbidden(
            "api_key_invalid", "api_key 无效或已停用", "The api_key is invalid or disabled"
        ) from None
    except Forbidden:
        raise domain.forbidden(
            "api_key_not_allowed",
            "该 api_key 没有提交诉求的权限（appeals:create）",
            "The api_key may not create requests (scope appeals:create)",
        ) from None
    return client


def create_request(
    session: Session, *, pairs: Sequence[tuple[str, str]], intake_setup: Intake
) -> RequestCreatedOut:
    """File a service request as an appeal; raises `Open311Error` (403 without a valid
    api_key, 404 for an unknown service_code, 400 for anything else) with nothing stored."""
    client = authenticate(session, pairs)
    form = domain.parse_request_form(pairs)
    services = Services.load(session)
    node = services.find_or_404(form.service_code)
    code = services.code_of(node.id) or form.service_code
    chosen = ItemGuess(path=node.path, code=node.code, name=services.display_name(node), score=0.0)
    engine = intake_setup.triage
    try:
        result = intake.submit_appeal(
            session,
            data=_appeal(form),
            files=[],
            principal=Principal(session=session, client=client),
            idempotency_key=None,
            store=intake_setup.store,
            clock=intake_setup.clock,
            triage=_ChosenService(engine, chosen) if engine is not None else None,
            auto_dispatch=intake_setup.auto_dispatch,
            auto_item_threshold=intake_setup.auto_item_threshold,
        )
    except DomainError as exc:
        raise _open311_error(exc) from None
    ticket = result.ticket
    if result.created:
        ticket.routing = {
            **(ticket.routing or {}),
            ROUTING_KEY: {"service_code": code, "media_url": form.media_url},
        }
        session.flush()
    return RequestCreatedOut(
        service_request_id=str(ticket.id),
        service_notice=_notice(ticket, result, form),
    )


def _appeal(form: RequestForm) -> AppealCreate:
    # Only a phone makes a requester worth keeping: it is how the unit calls back.
    requester = RequesterIn(name=form.name, phone=form.phone) if form.phone else None
    try:
        return AppealCreate(
            channel=Channel.OPEN311,
            appeal_type=form.appeal_type,
            text=form.description,
            address_text=form.address_string,
            lat=form.lat,
            lon=form.long,
            area_code=form.address_id,
            requester=requester,
            anonymous=form.anonymous,
        )
    except ValidationError:
        # The form's own checks keep to AppealCreate's limits; this is a safety net.
        raise domain.bad_request(
            "request_invalid", "诉求内容有误，未受理", "The request is invalid"
        ) from None


# Intake's field names, as the Open311 client called them.
_FIELDS = {
    "text": "description",
    "lon": "long",
    "lat": "lat",
    "address_text": "address_string",
    "area_code": "address_id",
    "requester.phone": "phone",
    "requester.name": "first_name/last_name",
}


def _open311_error(exc: DomainError) -> Open311Error:
    """Intake's refusal in the spec's shape: 403 for who may file, 404 for what does not
    exist, 400 for the rest (422 and 409 included: the spec knows only these three)."""
    if isinstance(exc, Unauthorized | Forbidden):
        status = 403
    elif isinstance(exc, NotFound):
        status = 404
    else:
        status = 400
    details = exc.details if isinstance(exc, ValidationFailed) else None
    if isinstance(details, list) and details:
        problems = [
            Problem(
                str(d.get("code", exc.code)),
                f"{_FIELDS.get(str(d.get('field')), d.get('field'))}：{d.get('reason', '')}",
                str(d.get("reason_en", "")),
            )
            for d in details
            if isinstance(d, dict)
        ]
        return Open311Error(status, problems)
    return Open311Error(status, [Problem(exc.code, exc.message, exc.message_en)])


def _notice(ticket: Ticket, result: intake.SubmitResult, form: RequestForm) -> str:
    if result.created:
        parts = [f"诉求已受理，查询码 {ticket.tracking_code}。"]
        if form.phone:
            parts.append("凭查询码和手机号后四位可在市民门户查询进度、补充、催办和评价。")
    else:
        parts = [
            f"同一诉求刚才已受理（查询码 {ticket.tracking_code}），本次未重复受理。",
        ]
    decision = result.decision
    if decision is not None and decision.emergency_lines:
        parts.append(emergency_advice(decision.emergency_lines))
    offer = (decision.explanation.get("knowledge") or None) if decision is not None else None
    if offer:
        parts.append(f"知识库答复：{offer['answer']}（来源：{offer['source']}）")
    return "".join(parts)


# --- reading requests ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Names:
    units: dict[int, str]
    areas: dict[int, tuple[str, str]]  # id → (code, name)


# What the public view reads of a ticket: by column, as a list of a thousand tickets is
# otherwise spent building entities and decoding JSON columns it never shows.
_PUBLIC = (
    Ticket.id,
    Ticket.item_id,
    Ticket.routing,
    Ticket.status,
    Ticket.is_open,
    Ticket.text,
    Ticket.lead_unit_id,
    Ticket.area_id,
    Ticket.address_text,
    Ticket.lat,
    Ticket.lon,
    Ticket.received_at,
    Ticket.updated_at,
    Ticket.closed_at,
    Ticket.due_at,
)


def _names(session: Session, rows: Sequence[Row[Any]]) -> _Names:
    unit_ids = {t.lead_unit_id for t in rows if t.lead_unit_id is not None}
    area_ids = {t.area_id for t in rows if t.area_id is not None}
    units = (
        {
            row.id: row.name
            for row in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids)))
        }
        if unit_ids
        else {}
    )
    areas = (
        {
            row.id: (row.code, row.name)
            for row in session.execute(
                select(Area.id, Area.code, Area.name).where(Area.id.in_(area_ids))
            )
        }
        if area_ids
        else {}
    )
    return _Names(units, areas)


def _chosen(ticket: Row[Any]) -> dict[str, Any]:
    found = (ticket.routing or {}).get(ROUTING_KEY)
    return found if isinstance(found, dict) else {}


def _request_out(
    ticket: Row[Any], services: Services, names: _Names, tz: tzinfo
) -> RequestOut | None:
    """The public view of a ticket, or None while it has no service (not yet classified,
    from a channel where no one chose one)."""
    chosen = _chosen(ticket)
    code = services.code_of(ticket.item_id)
    name = services.name_of(ticket.item_id)
    if code is None:
        node = services.find(str(chosen.get("service_code") or ""))
        if node is None:
            return None
        code, name = services.code_of(node.id), services.display_name(node)
    assert code is not None
    status = Status(ticket.status)
    closed = not ticket.is_open
    updated = ticket.closed_at if closed and ticket.closed_at is not None else ticket.updated_at
    area = names.areas.get(ticket.area_id) if ticket.area_id is not None else None
    return RequestOut(
        service_request_id=str(ticket.id),
        status=(PublicStatus.CLOSED if closed else PublicStatus.OPEN).value,
        status_notes=status.label_zh,
        service_name=name,
        service_code=code,
        description=domain.public_description(mask_text(ticket.text)),
        agency_responsible=names.units.get(ticket.lead_unit_id)
        if ticket.lead_unit_id is not None
        else None,
        service_notice=None,
        requested_datetime=domain.w3(aware(ticket.received_at), tz),
        updated_datetime=domain.w3(aware(updated), tz),
        expected_datetime=domain.w3(aware(ticket.due_at), tz) if ticket.due_at else None,
        address=ticket.address_text or (area[1] if area else None),
        address_id=area[0] if area else None,
        zipcode=None,
        lat=ticket.lat,
        long=ticket.lon,
        media_url=chosen.get("media_url") or None,
    )


def get_request(session: Session, *, request_id: str, tz: tzinfo) -> RequestOut:
    found = None
    if request_id.isascii() and request_id.isdigit() and len(request_id) <= 18:
        ticket = session.execute(select(*_PUBLIC).where(Ticket.id == int(request_id))).first()
        if ticket is not None:
            found = _request_out(ticket, Services.load(session), _names(session, [ticket]), tz)
    if found is None:
        raise domain.not_found(
            "service_request_not_found",
            "找不到该诉求（编号不存在，或尚未归入任何服务）",
            "No such service request (unknown id, or not yet under any service)",
        )
    return found


def list_requests(
    session: Session, *, params: Sequence[tuple[str, str]], now: datetime, tz: tzinfo
) -> list[RequestOut]:
    """GET requests: the filters of the spec, newest first, 90 days and 1,000 at most."""
    query = domain.parse_request_query(params, now)
    services = Services.load(session)
    with_service = or_(Ticket.item_id.is_not(None), Ticket.channel == Channel.OPEN311.value)
    stmt = select(*_PUBLIC)
    codes: set[str] = set()
    if query.ids:
        stmt = stmt.where(Ticket.id.in_(query.ids), with_service)
    else:
        stmt = stmt.where(Ticket.received_at >= query.start, Ticket.received_at <= query.end)
        if query.statuses == {PublicStatus.OPEN}:
            stmt = stmt.where(Ticket.is_open.is_(True))
        elif query.statuses == {PublicStatus.CLOSED}:
            stmt = stmt.where(Ticket.is_open.is_(False))
        if query.service_codes:
            items = [_known(services, code) for code in query.service_codes]
            codes = {services.code_of(i.id) or "" for i in items}
            # An Open311 ticket no one has classified yet carries only the chosen code.
            unclassified = and_(Ticket.item_id.is_(None), Ticket.channel == Channel.OPEN311.value)
            stmt = stmt.where(or_(Ticket.item_id.in_([i.id for i in items]), unclassified))
        else:
            stmt = stmt.where(with_service)
    rows = list(
        session.execute(
            stmt.order_by(Ticket.received_at.desc(), Ticket.id.desc()).limit(domain.MAX_REQUESTS)
        )
    )
    names = _names(session, rows)
    found = [_request_out(t, services, names, tz) for t in rows]
    return [r for r in found if r is not None and (not codes or r.service_code in codes)]


def _known(services: Services, code: str) -> Node:
    node = services.find(code)
    if node is None:
        raise domain.bad_request(
            "service_code_unknown",
            "筛选条件中的 service_code 不存在",
            "A service_code in the filter does not exist",
        )
    return node


def resolve_token(session: Session, *, token: str) -> TokenOut:
    """The tracking code (查询码) a citizen was given stands for the token: it turns into
    the service_request_id. A wrong code and an unknown one answer alike."""
    code = normalise_tracking_code(token)
    found = None
    if is_valid_tracking_code(code):
        found = session.scalar(select(Ticket.id).where(Ticket.tracking_code == code))
    if found is None:
        raise domain.not_found("token_not_found", "找不到该查询码", "No such token")
    return TokenOut(service_request_id=str(found), token=code)
