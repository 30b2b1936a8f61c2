"""What the citizen's pages show, gathered from the services and put in plain words.

No rule is decided here: the status, the steps, the deadline, the urgency and the similar
appeals come from tickets, sla and triage; this module only chooses what a citizen sees of
them (never another person's identity) and how it is laid out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from minyi.catalogue import service as catalogue
from minyi.core.clock import aware
from minyi.intake import media
from minyi.intake.models import Attachment
from minyi.org import service as org
from minyi.org.domain import AreaLevel, UnitKind, UtilityService
from minyi.org.models import Area
from minyi.sla import service as sla
from minyi.sla.deadlines import DeadlineKind, TimeBase
from minyi.tickets import queries
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.domain import Action, Status
from minyi.tickets.models import Ticket
from minyi.tickets.schemas import PublicTracking
from minyi.triage.domain import Related
from minyi.triage.knowledge import notices as kb_notices
from minyi.triage.knowledge import service as knowledge
from minyi.triage.knowledge.domain import NoticeKind, in_scope, notice_kinds_in, source_line
from minyi.web.citizen_proof import follow_token

# --- emergencies --------------------------------------------------------------------------


@dataclass(frozen=True)
class CallLine:
    number: str  # what goes after tel:
    label: str  # what it is for, in plain words
    note: str = ""


_LINES: dict[str, CallLine] = {
    "119": CallLine("119", "119 火警、抢险救援"),
    "110": CallLine("110", "110 报警"),
    "120": CallLine("120", "120 急救"),
    "122": CallLine("122", "122 交通事故"),
}


def call_lines(session: Session, lines: tuple[str, ...] | list[str]) -> list[CallLine]:
    """The lines triage says to call, in its order, each as a tap-to-call number. A gas
    company's line comes from the organisation tree when a company has one on file; the
    citizen is told where else to find it and that 119 always answers."""
    found: list[CallLine] = []
    for line in lines:
        if line == "gas":
            found.extend(_gas_lines(session))
        elif line in _LINES:
            found.append(_LINES[line])
    numbers = [c.number for c in found]
    return [c for i, c in enumerate(found) if c.number not in numbers[:i]]


def _gas_lines(session: Session) -> list[CallLine]:
    units, _ = org.list_units(session, kind=UnitKind.UTILITY, limit=200)
    gas = [
        CallLine(u.phone, f"燃气抢修 {u.phone}", u.name)
        for u in units
        if u.service == UtilityService.GAS.value and u.phone and u.active
    ]
    return [
        *gas[:2],
        CallLine(
            "119",
            "119（燃气泄漏、火警、抢险）",
            "燃气泄漏时：不要开关电灯电器，不要在屋里打电话；先开窗、关燃气总阀，"
            "到室外再拨打。燃气公司的抢修电话一般印在燃气表或缴费单上。",
        ),
    ]


def advice_before_submitting(lines: list[CallLine]) -> str | None:
    """What the live box says while the appeal is still being typed (nothing is recorded
    yet, unlike triage's advice after intake)."""
    if not lines:
        return None
    return "您说的情况可能有危险。12345 不是紧急电话，请马上拨打下面的电话，不要等待网上办理。"


# --- similar appeals ----------------------------------------------------------------------

# Long digit runs are phone, ID or account numbers: never shown, not even in part (the last
# four digits of a phone next to a tracking code would be its proof).
_NUMBER = re.compile(r"\d[\d\s\-]{5,}[\dXx]")


def mask_numbers(text: str) -> str:
    return _NUMBER.sub(lambda m: "*" * len(m.group(0)), text)


@dataclass(frozen=True)
class SimilarAppeal:
    tracking_code: str
    follow_url: str
    title: str
    item_name: str | None
    place: str | None
    status_label: str
    received_at: datetime


def similar_appeals(session: Session, related: tuple[Related, ...]) -> list[SimilarAppeal]:
    """Open appeals triage found about the same matter nearby, as the public may see them:
    the first words (numbers masked), the matter, the place and the status. Anonymous
    appeals are left out: their authors asked for discretion."""
    found: list[SimilarAppeal] = []
    for r in related:
        ticket = session.get(Ticket, r.ticket_id) if r.is_open else None
        if ticket is None or not ticket.is_open or ticket.anonymous:
            continue
        item = catalogue.get_item(session, ticket.item_id) if ticket.item_id else None
        area = org.get_area(session, ticket.area_id) if ticket.area_id else None
        found.append(
            SimilarAppeal(
                tracking_code=ticket.tracking_code,
                follow_url=f"/track/{ticket.tracking_code}?follow={follow_token(ticket)}",
                title=mask_numbers(ticket.title),
                item_name=item.name if item is not None else None,
                place=area_path(area) if area is not None else None,
                status_label=Status(ticket.status).label_zh,
                received_at=ticket.received_at,
            )
        )
    return found


# --- places -------------------------------------------------------------------------------


def area_path(area: Area) -> str:
    """ "T1区东风街道幸福社区": the district down to the place, as addresses are written."""
    names: list[str] = []
    node: Area | None = area
    while node is not None and node.level != AreaLevel.CITY.value and len(names) < 6:
        names.append(node.name)
        node = node.parent
    return "".join(reversed(names)) or area.name


_SUGGESTED = (AreaLevel.DISTRICT, AreaLevel.STREET, AreaLevel.COMMUNITY)


def place_suggestions(session: Session, typed: str, limit: int = 12) -> list[str]:
    """Places of the organisation tree for the address field: those whose name holds what
    was typed, or, with nothing typed, the districts and streets."""
    typed = typed.strip()[:50]
    areas: list[Area] = []
    if typed:
        # The last few characters are what is being typed now ("...幸福" of "东风街道幸福").
        for probe in dict.fromkeys((typed, typed[-4:], typed[-2:])):
            if len(probe) < 2:
                continue
            rows, _ = org.list_areas(session, q=probe, limit=limit * 2)
            areas.extend(a for a in rows if a.level in {lv.value for lv in _SUGGESTED})
            if len(areas) >= limit:
                break
    else:
        for level in _SUGGESTED[:2]:
            rows, _ = org.list_areas(session, level=level, limit=200)
            areas.extend(rows)
    return list(dict.fromkeys(area_path(a) for a in areas))[: limit if typed else 250]


def find_area(session: Session, name: str) -> Area | None:
    """The place a citizen named in the search form (exact name or full path first)."""
    name = name.strip()[:50]
    if len(name) < 2:
        return None
    rows, _ = org.list_areas(session, q=name[-10:], limit=50)
    exact = [a for a in rows if a.name == name or area_path(a) == name]
    found = exact or rows
    return found[0] if found else None


# --- search -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    source: str


@dataclass(frozen=True)
class NoticeView:
    kind_label: str
    text: str
    place: str
    starts_at: datetime
    ends_at: datetime
    source: str


def search_answers(session: Session, query: str, area: Area | None, now: datetime) -> list[Answer]:
    results = knowledge.search(
        session, query=query, area_id=area.id if area else None, now=now, k=5, min_score=0.2
    )
    return [
        Answer(
            r.hit.question, r.entry.answer, source_line(r.entry.source_title, r.entry.source_url)
        )
        for r in results
    ]


def current_notices(
    session: Session, now: datetime, *, query: str = "", area: Area | None = None, limit: int = 5
) -> list[NoticeView]:
    """Notices in force now: for a query, those of the kind it names (停水, 停电...) or
    whose words or place it mentions; for a place, those covering it."""
    rows, _ = kb_notices.list_notices(session, active_at=now, limit=500)
    chain = knowledge.area_chain(session, area.id) if area is not None else []
    kinds = {k.value for k in notice_kinds_in(query)} if query else set()
    found: list[NoticeView] = []
    for n in sorted(rows, key=lambda n: aware(n.starts_at), reverse=True):
        place_area = org.get_area(session, n.area_id) if n.area_id else None
        place = area_path(place_area) if place_area is not None else "全市"
        if area is not None and not in_scope(n.area_id, chain):
            continue
        if query and not (
            n.kind in kinds
            or query in n.text
            or (place_area is not None and place_area.name in query)
        ):
            continue
        found.append(
            NoticeView(
                kind_label=NoticeKind(n.kind).label_zh,
                text=n.text,
                place=place,
                starts_at=n.starts_at,
                ends_at=n.ends_at,
                source=n.source_title,
            )
        )
        if len(found) >= limit:
            break
    return found


# --- tracking -----------------------------------------------------------------------------


def ticket_by_code(session: Session, code: str) -> Ticket | None:
    """Only to check a follow token or a phoneless confirmation: anything shown beyond that
    goes through the proof of `tickets.queries.find_for_citizen`."""
    return session.scalar(select(Ticket).where(Ticket.tracking_code == code))


STAGES = ("已受理", "已派单", "已联系", "办理中", "已答复")
_STAGE_OF: dict[Status, int] = {
    Status.RECEIVED: 0,
    Status.PENDING_DISPATCH: 0,
    Status.DISTRICT_PENDING: 0,
    Status.RETURNED: 0,
    Status.CONSULTATION: 0,
    Status.DISPATCHED: 1,
    Status.ACCEPTED: 1,
    Status.CONTACTED: 2,
    Status.IN_PROGRESS: 3,
    Status.SUSPENDED: 3,
    Status.REPLIED: 3,
    Status.REPLY_REVIEW: 3,
    Status.REOPENED: 3,
    Status.SUPERVISED: 3,
    Status.AWAITING_RATING: 4,
    Status.CLOSED: 4,
    Status.ANSWERED: 4,
}
# How an appeal ended when it ended off the usual road, in the citizen's words.
ENDINGS: dict[Status, str] = {
    Status.WITHDRAWN: "您已撤回该诉求，不再办理。",
    Status.MERGED: "该诉求已与同一件事的其他诉求合并办理，答复会一并告诉您。",
    Status.INVALID: "经核实，该诉求不予受理。",
    Status.EMERGENCY_HANDED_OVER: "该诉求属于紧急情况，已移交应急部门处理。",
    Status.TRANSFERRED_OUT: "该诉求属于外地事项，已转当地 12345 热线办理。",
    Status.ANSWERED: "已根据政策或公告直接答复您。",
}


@dataclass(frozen=True)
class Stage:
    label: str
    state: str  # done | current | todo
    at: datetime | None


def stages(session: Session, ticket: Ticket, unit_name: str | None) -> list[Stage]:
    """The five steps of the parcel-like bar, each done, current or still to come."""
    status = Status(ticket.status)
    events = tickets.timeline(session, ticket.id)
    first_at: dict[int, datetime] = {}
    reached = 0
    for e in events:
        stage = _STAGE_OF.get(Status(e.to_status))
        if stage is not None:
            reached = max(reached, stage)
            for s in range(stage + 1):
                first_at.setdefault(s, e.at)
    current = _STAGE_OF.get(status, reached) if ticket.is_open else reached
    finished = status in (Status.CLOSED, Status.ANSWERED, Status.AWAITING_RATING)
    result = []
    for i, label in enumerate(STAGES):
        if i == 1 and unit_name and current >= 1:
            label = f"已派单（{unit_name}）"
        state = "done" if i < current or (i == current and finished) else "todo"
        if i == current and not finished:
            state = "current"
        result.append(Stage(label, state, first_at.get(i) if i <= current else None))
    return result


@dataclass(frozen=True)
class Deadline:
    due_at: datetime
    time_left: str  # "剩余…" / "已超时…" / "暂停中，剩余…"
    running: bool
    working_time: bool  # counted on working days (holidays and weekends do not count)
    overdue: bool


def reply_deadline(session: Session, ticket: Ticket, now: datetime) -> Deadline | None:
    """The unit's reply clock, the one deadline a citizen is shown (as the API shows it)."""
    for view in sla.clocks_for_ticket(session, ticket, now):
        if view.timer.kind != DeadlineKind.REPLY.value:
            continue
        running = view.seconds_left is not None
        return Deadline(
            due_at=view.timer.due_at,
            time_left=view.time_left_zh if running else view.state_zh,
            running=running,
            working_time=view.time_base is TimeBase.UNIT_CALENDAR,
            overdue=running and (view.seconds_left or 0) < 0,
        )
    return None


@dataclass(frozen=True)
class AttachmentView:
    id: int
    name: str
    kind_label: str
    is_image: bool
    size_label: str
    purpose_label: str


_PURPOSE_ZH = {"appeal": "您提交的", "supplement": "您补充的", "reply": "承办单位答复附带"}


def attachments(session: Session, ticket: Ticket) -> list[AttachmentView]:
    rows = session.scalars(
        select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)
    ).all()
    return [
        AttachmentView(
            id=a.id,
            name=a.original_name,
            kind_label=media.FileKind(a.kind).label_zh,
            is_image=a.kind == media.FileKind.IMAGE.value,
            size_label=_size(a.size),
            purpose_label=_PURPOSE_ZH.get(a.purpose, "附件"),
        )
        for a in rows
    ]


def attachment_of(session: Session, ticket: Ticket, attachment_id: int) -> Attachment | None:
    found = session.get(Attachment, attachment_id)
    return found if found is not None and found.ticket_id == ticket.id else None


def _size(n: int) -> str:
    if n >= media.MIB:
        return f"{n / media.MIB:.1f} MB"
    return f"{max(n // 1024, 1)} KB"


def without_phone(session: Session, ticket: Ticket) -> bool:
    """Whether the appeal left no phone (so no proof can ever be made for it)."""
    requester = queries.requester_view(
        session,
        Principal(session=session, tracking_ticket_id=ticket.id),
        ticket,
        reveal=False,
        reason=None,
    )
    return requester is None or not requester.phone


# The unit has answered: until a redo, no reply deadline runs for the citizen to watch.
_REPLY_IN = frozenset({Status.REPLIED, Status.REPLY_REVIEW, Status.AWAITING_RATING, Status.CLOSED})


@dataclass(frozen=True)
class TrackingView:
    ticket: Ticket
    public: PublicTracking
    stages: list[Stage]
    ending: str | None
    deadline: Deadline | None
    replied_at: datetime | None  # the reply is in: its time replaces the deadline
    attachments: list[AttachmentView]
    allowed: set[str]
    place: str | None
    supplements: list[tuple[datetime, str]]


def tracking_view(session: Session, ticket: Ticket, now: datetime, *, owner: bool) -> TrackingView:
    """The tracking page's content. A follower (not `owner`) sees no reply, no files, and
    can do nothing: those belong to the person who filed it."""
    public = queries.public_tracking(session, ticket)
    status = Status(ticket.status)
    allowed: set[str] = set()
    if owner:
        principal = Principal(session=session, tracking_ticket_id=ticket.id)
        allowed = set(queries.allowed_for_principal(principal, ticket))
    else:
        public = public.model_copy(update={"reply_text": None})
    area = org.get_area(session, ticket.area_id) if ticket.area_id else None
    waiting = ticket.is_open and status not in _REPLY_IN
    return TrackingView(
        ticket=ticket,
        public=public,
        stages=stages(session, ticket, public.handling_unit),
        ending=ENDINGS.get(status),
        deadline=reply_deadline(session, ticket, now) if waiting else None,
        replied_at=ticket.replied_at if status in _REPLY_IN else None,
        attachments=attachments(session, ticket) if owner else [],
        allowed=allowed,
        place=area_path(area) if area is not None else None,
        supplements=_supplements(session, ticket) if owner else [],
    )


def _supplements(session: Session, ticket: Ticket) -> list[tuple[datetime, str]]:
    """What the citizen added (补充), as they wrote it: it is theirs to see again."""
    return [
        (e.at, str(e.payload["text"]))
        for e in tickets.timeline(session, ticket.id)
        if e.action == Action.SUPPLEMENT.value and isinstance((e.payload or {}).get("text"), str)
    ]
