"""Channels against real local servers: an HTTP gateway, an aiosmtpd server, a log file."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.core.config import Settings
from minyi.notify import service
from minyi.notify.channels import GatewaySender, SmtpSender, build_senders, close_senders
from minyi.notify.delivery import (
    DeliveryReport,
    HttpxTransport,
    WebhookSender,
    deliver_channels,
    deliver_once,
)
from minyi.notify.domain import Channel
from minyi.notify.models import InboxItem, OutboxMessage
from minyi.org import service as org
from minyi.org.domain import AreaLevel, Role, UnitKind
from minyi.org.models import User
from minyi.tickets.models import Ticket
from tests.factories import World, make_ticket, make_town, make_unit, make_world
from tests.notify.conftest import make_party
from tests.notify.receiver import Gateway, running_gateway, running_receiver


@pytest.fixture()
def town(session: Session) -> World:
    return make_world(session)


@pytest.fixture()
def ticket(session: Session, town: World) -> Ticket:
    return make_ticket(session, town, phone="13812345678")


@pytest.fixture()
def gateway() -> Iterator[Gateway]:
    with running_gateway() as gw:
        yield gw


def _sms(session: Session, ticket: Ticket, clock: FixedClock) -> OutboxMessage:
    return service.notify_template(
        session,
        channel=Channel.SMS,
        target=service.requester_target(ticket.id),
        code="citizen.dispatched",
        params={"tracking_code": ticket.tracking_code, "unit": "T1区生态环境分局"},
        event_type="dispatch",
        ticket_id=ticket.id,
        now=clock.now(),
    )


def _deliver(session: Session, sender: Any, clock: FixedClock) -> DeliveryReport:
    return deliver_channels(session, senders={Channel.SMS.value: sender}, now=clock.now())


def test_a_failing_gateway_is_retried_after_the_backoff_and_texts_once(
    session: Session, ticket: Ticket, clock: FixedClock, gateway: Gateway
) -> None:
    message = _sms(session, ticket, clock)
    gateway.script = [(503, 0.0), (429, 0.0)]
    with GatewaySender(Channel.SMS, gateway.url, "s3cret", trust_env=False) as sms:
        assert _deliver(session, sms, clock).retrying == 1
        assert (message.status, message.last_error) == ("pending", "HTTP 503")
        # nothing is tried before the wait is over
        clock.advance(timedelta(seconds=29))
        assert _deliver(session, sms, clock).picked == 0
        clock.advance(timedelta(seconds=1))
        assert _deliver(session, sms, clock).retrying == 1  # 429: busy, later
        clock.advance(timedelta(minutes=2))
        assert _deliver(session, sms, clock) == DeliveryReport(picked=1, sent=1)
        clock.advance(timedelta(days=1))
        assert _deliver(session, sms, clock).picked == 0

    assert (message.status, message.attempts) == ("sent", 3)
    assert message.provider_id == f"gw-{message.id}"
    [sent] = gateway.texts_sent
    assert sent == {
        "message_id": message.id,
        "channel": "sms",
        "to": "13812345678",
        "template": "citizen.dispatched",
        "params": {"tracking_code": ticket.tracking_code, "unit": "T1区生态环境分局"},
        "text": f"【民意】您的诉求（查询码 {ticket.tracking_code}）已转交T1区生态环境分局办理，"
        "请留意来电。",
    }
    assert {c.authorization for c in gateway.calls} == {"Bearer s3cret"}
    assert {c.idempotency_key for c in gateway.calls} == {str(message.id)}
    # the number was read at send time: the outbox never held it
    assert "13812345678" not in str(message.payload)


def test_a_slow_gateway_times_out_and_the_retry_is_not_a_second_text(
    session: Session, ticket: Ticket, clock: FixedClock, gateway: Gateway
) -> None:
    message = _sms(session, ticket, clock)
    # The gateway takes the message but answers after we stopped waiting.
    gateway.script = [(200, 1.5)]
    with GatewaySender(Channel.SMS, gateway.url, None, timeout=0.3, trust_env=False) as sms:
        assert _deliver(session, sms, clock).retrying == 1
        assert message.last_error is not None and "Timeout" in message.last_error
        clock.advance(timedelta(seconds=30))
        assert _deliver(session, sms, clock).sent == 1
    assert message.status == "sent"
    # the retry was answered "duplicate": one text reached the citizen
    assert [c.answered for c in gateway.calls] == [200, 409]
    assert len(gateway.texts_sent) == 1


def test_a_duplicate_answer_marks_the_message_sent_and_it_is_not_resent(
    session: Session, ticket: Ticket, clock: FixedClock, gateway: Gateway
) -> None:
    message = _sms(session, ticket, clock)
    gateway.status = 409
    with GatewaySender(Channel.SMS, gateway.url, None, trust_env=False) as sms:
        assert _deliver(session, sms, clock) == DeliveryReport(picked=1, sent=1)
        clock.advance(timedelta(days=2))
        assert _deliver(session, sms, clock).picked == 0
    assert (message.status, message.attempts, message.provider_id) == (
        "sent",
        1,
        f"gw-{message.id}",
    )
    assert len(gateway.calls) == 1


def test_a_permanent_refusal_is_dead_at_once_and_never_retried(
    session: Session, ticket: Ticket, clock: FixedClock, gateway: Gateway
) -> None:
    message = _sms(session, ticket, clock)
    gateway.status = 400
    with GatewaySender(Channel.SMS, gateway.url, None, trust_env=False) as sms:
        assert _deliver(session, sms, clock) == DeliveryReport(picked=1, dead=1)
        clock.advance(timedelta(days=3))
        assert _deliver(session, sms, clock).picked == 0
    assert (message.status, message.attempts, message.last_error) == ("dead", 1, "HTTP 400")
    assert len(gateway.calls) == 1 and gateway.texts_sent == []


class _Mailbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append((list(envelope.rcpt_tos), mail))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture()
def mailbox() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def test_an_overdue_notice_is_mailed_with_its_subject_and_text(
    session: Session, ticket: Ticket, clock: FixedClock, mailbox: tuple[_Mailbox, int]
) -> None:
    box, port = mailbox
    message = service.notify_template(
        session,
        channel=Channel.EMAIL,
        target=service.email_target("duty@env.example.gov.cn"),
        code="staff.overdue",
        params={"tracking_code": ticket.tracking_code, "due": "11月6日 17:00"},
        event_type="overdue",
        ticket_id=ticket.id,
        now=clock.now(),
    )
    smtp = SmtpSender("127.0.0.1", port, "minyi@example.gov.cn")

    report = deliver_channels(session, senders={Channel.EMAIL.value: smtp}, now=clock.now())

    assert report == DeliveryReport(picked=1, sent=1)
    [(recipients, mail)] = box.mails
    assert recipients == ["duty@env.example.gov.cn"]
    assert mail["Subject"] == "工单已超期"
    assert mail["From"] == "minyi@example.gov.cn"
    assert mail["Message-ID"] == f"<minyi-outbox-{message.id}@minyi>"
    body = mail.get_content()
    assert f"超期：工单 {ticket.tracking_code} 应于 11月6日 17:00 办结" in body
    assert message.status == "sent"


def test_an_unreachable_mail_server_is_retried(
    session: Session, ticket: Ticket, clock: FixedClock
) -> None:
    message = service.notify_template(
        session,
        channel=Channel.EMAIL,
        target=service.email_target("duty@env.example.gov.cn"),
        code="staff.warning",
        params={"tracking_code": ticket.tracking_code, "due": "11月6日"},
        event_type="warning",
        ticket_id=ticket.id,
        now=clock.now(),
    )
    smtp = SmtpSender("127.0.0.1", _free_port(), "minyi@example.gov.cn", timeout=2)
    report = deliver_channels(session, senders={Channel.EMAIL.value: smtp}, now=clock.now())
    assert report.retrying == 1 and message.status == "pending"


def test_the_log_channel_writes_a_line_and_fills_the_units_inboxes(
    session: Session, town: World, ticket: Ticket, clock: FixedClock, tmp_path: Path
) -> None:
    log_path = tmp_path / "notify.log"
    settings = Settings(notify_log_path=log_path)  # no gateway, no SMTP: all to the log
    warning = service.notify_template(
        session,
        channel=Channel.LOG,
        target=service.unit_target(town.bureau.id),
        code="staff.warning",
        params={"tracking_code": ticket.tracking_code, "due": "11月6日 17:00"},
        event_type="warning",
        ticket_id=ticket.id,
        now=clock.now(),
    )
    sms = _sms(session, ticket, clock)  # no SMS gateway configured: logged instead
    senders = build_senders(session, settings, now=clock.now())
    try:
        report = deliver_channels(session, senders=senders, now=clock.now())
    finally:
        close_senders(senders)

    assert report == DeliveryReport(picked=2, sent=2)
    lines = log_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert f"message={warning.id}" in lines[0] and "channel=log" in lines[0]
    assert f"target=unit:{town.bureau.id}" in lines[0] and "template=staff.warning" in lines[0]
    assert f"message={sms.id}" in lines[1] and "channel=sms" in lines[1]
    # no personal data, nor the text, in the log
    assert "13812345678" not in log_path.read_text(encoding="utf-8")
    assert "超期" not in lines[0] and "预警" not in lines[0]

    inboxes = session.execute(
        select(User.username, InboxItem.text)
        .join(InboxItem, InboxItem.user_id == User.id)
        .where(InboxItem.outbox_id == warning.id)
        .order_by(User.username)
    ).all()
    expected = f"预警：工单 {ticket.tracking_code} 将于 11月6日 17:00 到期，请尽快办理。"
    assert [tuple(row) for row in inboxes] == [("handler", expected), ("leader", expected)]


def test_wechat_goes_to_its_own_gateway_while_sms_without_one_is_logged(
    session: Session, ticket: Ticket, clock: FixedClock, gateway: Gateway, tmp_path: Path
) -> None:
    settings = Settings(
        wechat_gateway_url=gateway.url,
        wechat_gateway_token="wx",
        notify_log_path=tmp_path / "notify.log",
    )
    wechat = service.notify_template(
        session,
        channel=Channel.WECHAT,
        target=service.requester_target(ticket.id),
        code="citizen.received",
        params={"tracking_code": ticket.tracking_code},
        event_type="received",
        ticket_id=ticket.id,
        now=clock.now(),
    )
    sms = _sms(session, ticket, clock)
    senders = build_senders(session, settings, now=clock.now(), trust_env=False)
    try:
        assert deliver_channels(session, senders=senders, now=clock.now()).sent == 2
    finally:
        close_senders(senders)
    [call] = gateway.calls
    assert call.body["channel"] == "wechat" and call.body["message_id"] == wechat.id
    assert call.authorization == "Bearer wx"
    assert sms.provider_id == f"log:{sms.id}"
    assert f"message={sms.id}" in (tmp_path / "notify.log").read_text(encoding="utf-8")


def test_two_workers_at_once_text_each_citizen_exactly_once(
    scratch_db: tuple[Engine, str], gateway: Gateway
) -> None:
    engine, _ = scratch_db
    if engine.dialect.name != "postgresql":
        pytest.skip(
            "SQLite serialises writers: a second worker waits for the first's lock, "
            "so there is no concurrency to test"
        )
    now = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    count = 20
    with Session(engine) as setup:
        area = org.create_area(setup, code="W", name="并发市", level=AreaLevel.CITY)
        unit = org.create_unit(
            setup, code="W", name="并发局", kind=UnitKind.CITY_DEPARTMENT, area=area
        )
        user = org.create_user(
            setup,
            username="duty",
            display_name="值班",
            password="pw-123456789",
            role=Role.HANDLER,
            unit=unit,
            phone="13900001111",
        )
        for n in range(count):
            service.notify_template(
                setup,
                channel=Channel.SMS,
                target=service.user_target(user.id),
                code="staff.warning",
                params={"tracking_code": f"W{n:04d}", "due": "11月6日"},
                event_type="warning",
                ticket_id=None,
                now=now,
            )
        setup.commit()
    # The workers' first requests wait for each other: had the second worker blocked on
    # the first one's rows instead of skipping them, the rendezvous would break.
    gateway.rendezvous = threading.Barrier(2, timeout=10)
    start = threading.Barrier(2, timeout=10)

    def worker() -> int:
        sent = 0
        with GatewaySender(Channel.SMS, gateway.url, None, timeout=15, trust_env=False) as sms:
            start.wait()
            while True:
                with Session(engine) as s:
                    report = deliver_channels(s, senders={"sms": sms}, now=now, limit=5)
                    s.commit()
                if report.picked == 0:
                    return sent
                sent += report.sent

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result() for f in [pool.submit(worker), pool.submit(worker)]]

    ids = [c.body["message_id"] for c in gateway.calls]
    assert len(ids) == count and len(set(ids)) == count
    assert all(c.answered == 200 and c.body["to"] == "13900001111" for c in gateway.calls)
    assert sum(results) == count and all(sent > 0 for sent in results)


def test_one_worker_pass_sends_every_channel_by_the_settings(
    session: Session, town: World, ticket: Ticket, clock: FixedClock, tmp_path: Path
) -> None:
    # A message queued the old way, with a plain text, still reaches the unit's inboxes.
    service.notify_unit(
        session,
        unit_id=town.bureau.id,
        ticket_id=ticket.id,
        event_type="chase",
        text="群众催办，请尽快处理",
        now=clock.now(),
    )
    sms = _sms(session, ticket, clock)
    settings = Settings(notify_log_path=tmp_path / "notify.log")

    report = deliver_once(session, settings, now=clock.now(), trust_env=False)

    assert report == DeliveryReport(picked=2, sent=2)
    assert sms.status == "sent"
    texts = session.scalars(select(InboxItem.text).where(InboxItem.event_type == "chase")).all()
    assert list(texts) == ["群众催办，请尽快处理", "群众催办，请尽快处理"]  # handler, leader


def test_a_unit_is_texted_on_its_duty_phone(
    session: Session, town: World, ticket: Ticket, clock: FixedClock, gateway: Gateway
) -> None:
    town.bureau.phone = "13700002222"
    session.flush()
    service.notify_template(
        session,
        channel=Channel.SMS,
        target=service.unit_target(town.bureau.id),
        code="staff.escalation",
        params={"tracking_code": ticket.tracking_code, "level": "区督办", "reason": "超期两天"},
        event_type="escalation",
        ticket_id=ticket.id,
        now=clock.now(),
    )
    with GatewaySender(Channel.SMS, gateway.url, None, trust_env=False) as sms:
        assert _deliver(session, sms, clock).sent == 1
    [call] = gateway.calls
    assert call.body["to"] == "13700002222"
    assert (
        call.body["text"] == f"督办：工单 {ticket.tracking_code} 已升级至区督办，原因：超期两天。"
    )


def test_webhooks_go_through_the_same_interface(
    session: Session, clock: FixedClock, tmp_path: Path
) -> None:
    town = make_town(session)
    party = make_party(session, make_unit(session, "ZJ", town.district, name="住建局"), "zj")
    with running_receiver() as receiver, HttpxTransport(trust_env=False) as transport:
        sub = service.create_subscription(
            session, client=party.client, url=receiver.url, event_types=[], now=clock.now()
        )
        receiver.secret = sub.secret
        service.publish_ticket_event(
            session,
            ticket_id=34,
            tracking_code="A20261102001",
            event_type="dispatch",
            unit_ids=[party.unit.id],
            payload={},
            now=clock.now(),
        )
        receiver.status = 503
        hook = WebhookSender(session, transport=transport, now=clock.now())
        senders = {Channel.WEBHOOK.value: hook}
        assert deliver_channels(session, senders=senders, now=clock.now()).retrying == 1
        receiver.status = 200
        clock.advance(timedelta(seconds=30))
        hook.now = clock.now()
        assert deliver_channels(session, senders=senders, now=clock.now()).sent == 1
        # a deleted subscription's messages are given up, unsent
        service.publish_ticket_event(
            session,
            ticket_id=35,
            tracking_code="A20261102002",
            event_type="dispatch",
            unit_ids=[party.unit.id],
            payload={},
            now=clock.now(),
        )
        sub.active = False
        session.flush()
        assert deliver_channels(session, senders=senders, now=clock.now()).dead == 1

    assert [r.answered for r in receiver.requests] == [503, 200]
    assert all(r.signature_ok for r in receiver.requests)
