"""One use case behind every channel: take an appeal in and open its ticket.

Everything is checked before anything is written, and every problem is reported at once;
then the files go to the store (durable before the ticket that names them commits), the
requester, the ticket, the idempotency claim and the attachment rows go in one SAVEPOINT.
A retried submission returns the ticket of the first one: by `Idempotency-Key`, or, without
a key, by the same channel, requester and text within ten minutes (SPEC §4: "a retried
submission does not create a second ticket"). When two copies race, the unique constraint
on (scope, key) decides; the loser's SAVEPOINT is rolled back and it answers with the
winner's ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from minyi.core.clock import Clock, get_clock
from minyi.core.errors import Conflict, Forbidden, Unauthorized
from minyi.intake import domain, media
from minyi.intake.checks import PreparedAppeal, RequesterValues, prepare_appeal
from minyi.intake.domain import Channel, ChannelAccess, RequesterKind
from minyi.intake.filestore import FileStore
from minyi.intake.models import Attachment, IdempotencyRecord, Requester
from minyi.intake.schemas import AppealCreate
from minyi.org import service as org
from minyi.org.domain import ClientScope
from minyi.tickets import service as tickets
from minyi.tickets.access import Principal
from minyi.tickets.models import Ticket
from minyi.triage import service as triage_service
from minyi.triage.domain import Thresholds
from minyi.triage.engine import TriageEngine
from minyi.triage.models import TriageDecision

log = logging.getLogger(__name__)

# Claims of key-less submissions share one scope; their key is the dedupe hash.
DEDUPE_SCOPE = "dedupe"
_ATTEMPTS = 3


@dataclass(frozen=True)
class SubmitResult:
    ticket: Ticket
    created: bool  # False: a repeat, answered with the ticket of the first submission
    # What triage made of a new appeal (None for a repeat, or when triage was not asked).
    decision: TriageDecision | None = None


class _LostRace(Exception):
    """Another transaction claimed the same appeal first."""


def submit_appeal(
    session: Session,
    *,
    data: AppealCreate,
    files: Sequence[media.IncomingFile],
    principal: Principal,
    idempotency_key: str | None,
    store: FileStore,
    clock: Clock | None = None,
    triage: TriageEngine | None = None,
    auto_dispatch: bool = True,
    auto_item_threshold: float | None = None,
) -> SubmitResult:
    """Take an appeal from any channel: the ticket, new (`created`) or the one a repeat of
    the same submission already opened. Raises `Unauthorized`/`Forbidden` when the
    principal may not use the channel, `ValidationFailed` (every problem in `details`,
    nothing stored) for bad input, `Conflict` when a key is reused for another appeal.
    With a `triage` engine, a new ticket is triaged in the same transaction (see
    `_triage`); without one it stays `received`."""
    clock = clock or get_clock()
    now = clock.now()
    ensure_may_submit(principal, data.channel)
    appeal = prepare_appeal(session, data, files, principal, idempotency_key, now)
    key = idempotency_key
    scope = key_scope(principal, data.channel) if key is not None else None

    found = _existing(session, appeal, scope, key, now)
    if found is not None:
        return found
    for f in appeal.files:
        store.put(f.data)
    for _ in range(_ATTEMPTS):
        try:
            with session.begin_nested():
                ticket = _create(session, appeal, principal, scope, key, now, clock)
        except (IntegrityError, _LostRace):
            # The SAVEPOINT is rolled back; whoever won is committed and visible now.
            found = _existing(session, appeal, scope, key, now)
            if found is not None:
                return found
            continue
        _tell_requester(session, ticket, now)
        decision = None
        if triage is not None:
            decision = _triage(session, ticket, triage, clock, auto_dispatch, auto_item_threshold)
        return SubmitResult(ticket, created=True, decision=decision)
    raise Conflict(
        "appeal_busy",
        "诉求受理繁忙，请稍后重试（未重复受理）",
        "Intake is busy: please retry (nothing was stored twice)",
    )


def _tell_requester(session: Session, ticket: Ticket, now: datetime) -> None:
    """The citizen's SMS with the tracking code, queued with the ticket (SPEC §2 step 1)."""
    if ticket.requester_id is None:
        return
    from minyi.notify import service as notify_service

    notify_service.notify_template(
        session,
        channel="sms",
        target=notify_service.requester_target(ticket.id),
        code="citizen.received",
        params={"tracking_code": ticket.tracking_code},
        event_type="ticket.receive",
        ticket_id=ticket.id,
        now=now,
    )


def _triage(
    session: Session,
    ticket: Ticket,
    engine: TriageEngine,
    clock: Clock,
    auto_dispatch: bool,
    auto_item_threshold: float | None,
) -> TriageDecision | None:
    """Triage in its own SAVEPOINT: a fault in the machine must never cost the citizen an
    appeal already accepted, so on any error the ticket simply waits for a dispatcher."""
    thresholds = (
        Thresholds(auto_item=auto_item_threshold) if auto_item_threshold is not None else None
    )
    try:
        with session.begin_nested():
            return triage_service.triage_ticket(
                session,
                ticket=ticket,
                engine=engine,
                clock=clock,
                thresholds=thresholds,
                auto_dispatch=auto_dispatch,
            )
    except Exception as exc:
        # Only the kind of error: its message may quote the appeal or the caller's details
        # (SQL parameters), which never go to a log. The ticket id is enough to find it.
        log.error(
            "triage failed for ticket %s (%s); queued for a dispatcher",
            ticket.id,
            type(exc).__name__,
        )
    # The ticket stays `received`: a dispatcher's queue shows it like any other.
    session.refresh(ticket)
    return None


def ensure_may_submit(principal: Principal, channel: Channel) -> None:
    """Machine channels need a client key with `appeals:create`, staff channels a staff
    member entitled to the channel; the public channels are open to all."""
    if principal.system:
        return
    access = channel.access
    client = principal.client
    if client is not None:
        org.ensure_scope(client, ClientScope.APPEALS_CREATE)
        if access is ChannelAccess.STAFF:
            raise _channel_forbidden(channel)
        return
    user = principal.user
    if access is ChannelAccess.PUBLIC:
        return
    if user is None:
        if access is ChannelAccess.MACHINE:
            raise Unauthorized(
                "api_key_required",
                f"渠道“{channel.label_zh}”需要使用 API 密钥提交",
                f"The channel {channel.value} needs a machine client's API key",
            )
        raise Unauthorized("not_authenticated", "请先登录", "Authentication required")
    unit = principal.unit
    if access is ChannelAccess.MACHINE or not domain.staff_may_submit(
        channel, user.role, unit.kind if unit is not None else None
    ):
        raise _channel_forbidden(channel)


def key_scope(principal: Principal, channel: Channel) -> str:
    """Whose keys an `Idempotency-Key` is unique among: a client's, a user's, or, for
    anonymous citizens, the channel's (keys are random, so citizens do not collide)."""
    if principal.client is not None:
        return f"client:{principal.client.id}"
    if principal.user is not None:
        return f"user:{principal.user.id}"
    if principal.system:
        return "system"
    return f"channel:{channel.value}"


def _channel_forbidden(channel: Channel) -> Forbidden:
    return Forbidden(
        "channel_not_allowed",
        f"当前身份不能通过“{channel.label_zh}”渠道提交诉求",
        f"You may not submit appeals on the channel {channel.value}",
    )


# --- repeats --------------------------------------------------------------------------------


def _existing(
    session: Session, appeal: PreparedAppeal, scope: str | None, key: str | None, now: datetime
) -> SubmitResult | None:
    """The ticket this submission repeats, if any."""
    if scope is not None and key is not None:
        record = session.scalar(
            select(IdempotencyRecord)
            .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
            .execution_options(populate_existing=True)
        )
        if record is None:
            return None
        ticket = tickets.get_ticket_or_raise(session, record.ticket_id)
        if not _same_appeal(session, ticket, appeal):
            raise Conflict(
                "idempotency_key_reused",
                "该 Idempotency-Key 已用于另一条不同的诉求",
                "This Idempotency-Key was already used for a different appeal",
            )
        return SubmitResult(ticket, created=False)
    duplicate = _recent_duplicate(session, appeal.dedupe_hash, now)
    return SubmitResult(duplicate, created=False) if duplicate is not None else None


def _recent_duplicate(session: Session, dedupe_hash: str, now: datetime) -> Ticket | None:
    since = now - timedelta(minutes=domain.DEDUPE_WINDOW_MINUTES)
    ticket = session.scalar(
        select(Ticket)
        .where(Ticket.dedupe_hash == dedupe_hash, Ticket.received_at >= since)
        .order_by(Ticket.received_at.desc(), Ticket.id.desc())
        .limit(1)
    )
    if ticket is not None:
        return ticket
    claim = session.scalar(
        select(IdempotencyRecord)
        .where(
            IdempotencyRecord.scope == DEDUPE_SCOPE,
            IdempotencyRecord.key == dedupe_hash,
            IdempotencyRecord.created_at >= since,
        )
        .execution_options(populate_existing=True)
    )
    return tickets.get_ticket(session, claim.ticket_id) if claim is not None else None


def _same_appeal(session: Session, ticket: Ticket, appeal: PreparedAppeal) -> bool:
    """Whether a keyed repeat carries the appeal stored under its key. Only what the
    citizen said is compared (staff may later reclassify or locate the ticket)."""
    if (ticket.channel, ticket.dedupe_hash, ticket.title, ticket.anonymous) != (
        appeal.channel.value,
        appeal.dedupe_hash,
        appeal.title,
        appeal.anonymous,
    ):
        return False
    stored = session.scalars(
        select(Attachment.sha256).where(
            Attachment.ticket_id == ticket.id, Attachment.purpose == "appeal"
        )
    )
    return sorted(stored) == sorted(f.sha256 for f in appeal.files)


# --- storing --------------------------------------------------------------------------------


def _create(
    session: Session,
    appeal: PreparedAppeal,
    principal: Principal,
    scope: str | None,
    key: str | None,
    now: datetime,
    clock: Clock,
) -> Ticket:
    requester_id = _store_requester(session, appeal.requester, now)
    ticket = tickets.open_ticket(
        session,
        new=tickets.NewTicket(
            tracking_code=_fresh_tracking_code(session),
            channel=appeal.channel.value,
            appeal_type=appeal.appeal_type,
            title=appeal.title,
            text=appeal.text,
            dedupe_hash=appeal.dedupe_hash,
            address_text=appeal.address_text,
            lon=appeal.lon,
            lat=appeal.lat,
            area_id=appeal.area_id,
            requester_id=requester_id,
            requester_kind=_kind(appeal.requester),
            anonymous=appeal.anonymous,
            source_client_id=appeal.source_client_id,
        ),
        principal=principal,
        clock=clock,
    )
    _claim(session, appeal, scope, key, ticket, now)
    if not appeal.files:
        # Everything after `open_ticket` runs under the audit head lock: no extra query.
        return ticket
    received = tickets.timeline(session, ticket.id)[0]
    for f in appeal.files:
        session.add(
            Attachment(
                ticket_id=ticket.id,
                sha256=f.sha256,
                kind=f.kind.value,
                mime=f.mime,
                size=len(f.data),
                original_name=f.name,
                purpose="appeal",
                event_id=received.id,
                created_at=now,
            )
        )
    session.flush()
    return ticket


def _claim(
    session: Session,
    appeal: PreparedAppeal,
    scope: str | None,
    key: str | None,
    ticket: Ticket,
    now: datetime,
) -> None:
    """Claim the submission for this ticket; a concurrent twin fails here (on the unique
    (scope, key), or finding the content's claim live) and rolls back its SAVEPOINT."""
    if scope is not None and key is not None:
        session.add(IdempotencyRecord(scope=scope, key=key, ticket_id=ticket.id, created_at=now))
        session.flush()
        return
    since = now - timedelta(minutes=domain.DEDUPE_WINDOW_MINUTES)
    # One statement, as it runs under the audit head lock: a new claim, or the takeover of
    # an expired one; a live claim (a twin committed first) is left alone and no row moves.
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    new = dialect_insert(IdempotencyRecord).values(
        scope=DEDUPE_SCOPE, key=appeal.dedupe_hash, ticket_id=ticket.id, created_at=now
    )
    moved = session.execute(
        new.on_conflict_do_update(
            index_elements=[IdempotencyRecord.scope, IdempotencyRecord.key],
            set_={"ticket_id": new.excluded.ticket_id, "created_at": new.excluded.created_at},
            where=IdempotencyRecord.created_at < since,
        ).returning(IdempotencyRecord.id)
    ).first()
    if moved is None:
        raise _LostRace


def _kind(requester: RequesterValues | None) -> str:
    return (requester.kind if requester is not None else RequesterKind.PERSON).value


def _store_requester(session: Session, values: RequesterValues | None, now: datetime) -> int | None:
    if values is None:
        return None
    requester = Requester(
        kind=values.kind.value,
        name=values.name,
        phone=values.phone,
        phone_last4=values.phone[-4:] if values.phone else None,
        id_number=values.id_number,
        company_name=values.company_name,
        credit_code=values.credit_code,
        user_id=values.user_id,
        created_at=now,
    )
    session.add(requester)
    session.flush()
    return requester.id


def _fresh_tracking_code(session: Session) -> str:
    # 31**9 codes: a clash is rare but, across tens of millions of tickets, not impossible.
    while True:
        code = domain.new_tracking_code()
        if session.scalar(select(Ticket.id).where(Ticket.tracking_code == code)) is None:
            return code
