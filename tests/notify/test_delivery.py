"""Delivery to a real HTTP server on 127.0.0.1: signed, retried with backoff, never twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.notify import service
from minyi.notify.delivery import DeliveryReport, HttpxTransport, deliver_due
from minyi.notify.models import OutboxMessage, WebhookSubscription
from minyi.org import service as org
from minyi.org.domain import AreaLevel, ClientScope, UnitKind
from minyi.org.models import Area, MachineClient, Unit, UnitJurisdiction
from tests.notify.conftest import World
from tests.notify.receiver import Receiver, running_receiver


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with running_receiver() as rec:
        yield rec


@pytest.fixture()
def transport() -> Iterator[HttpxTransport]:
    # trust_env off: a proxy configured on the machine must not swallow 127.0.0.1.
    with HttpxTransport(trust_env=False) as real:
        yield real


class FailingTransport:
    """A receiver that cannot be reached at all."""

    def __init__(self) -> None:
        self.calls = 0

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.calls += 1
        raise httpx.ConnectError("connection refused")


def _subscribe(session: Session, world: World, receiver: Receiver, clock: FixedClock) -> int:
    sub = service.create_subscription(
        session, client=world.housing.client, url=receiver.url, event_types=[], now=clock.now()
    )
    receiver.secret = sub.secret
    return sub.id


def _publish(session: Session, world: World, clock: FixedClock, event: str = "dispatch") -> None:
    service.publish_ticket_event(
        session,
        ticket_id=34,
        tracking_code="A20261102001",
        event_type=event,
        unit_ids=[world.housing.unit.id],
        payload={"to_status": "dispatched", "phone": "13812345678"},
        now=clock.now(),
    )


def _messages(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def test_a_due_webhook_is_posted_signed_and_marked_sent(
    session: Session, world: World, clock: FixedClock, receiver: Receiver, transport: HttpxTransport
) -> None:
    _subscribe(session, world, receiver, clock)
    _publish(session, world, clock)
    [message] = _messages(session)

    report = deliver_due(session, transport=transport, now=clock.now())

    assert report == DeliveryReport(picked=1, sent=1, retrying=0, dead=0)
    [got] = receiver.requests
    assert got.signature_ok and got.answered == 200
    assert got.delivery == str(message.id) and got.event == "dispatch"
    assert got.timestamp == str(int(clock.now().timestamp()))
    assert got.body == {
        "id": message.id,
        "event_type": "dispatch",
        "ticket_id": 34,
        "tracking_code": "A20261102001",
        "payload": {"to_status": "dispatched"},
        "created_at": "2026-11-02T01:00:00+00:00",
    }
    assert (message.status, message.attempts, message.sent_at) == ("sent", 1, clock.now())
    # and a second run finds nothing to send
    assert deliver_due(session, transport=transport, now=clock.now()).picked == 0
    assert len(receiver.requests) == 1


def test_a_failing_receiver_is_retried_with_backoff_then_served_once(
    session: Session, world: World, clock: FixedClock, receiver: Receiver, transport: HttpxTransport
) -> None:
    _subscribe(session, world, receiver, clock)
    _publish(session, world, clock)
    [message] = _messages(session)
    receiver.status = 500

    # when: the receiver fails twice
    first = deliver_due(session, transport=transport, now=clock.now())
    assert first.retrying == 1
    assert message.attempts == 1 and message.last_error == "HTTP 500"
    assert message.next_attempt_at == clock.now() + timedelta(seconds=30)
    # then: nothing is tried before the wait is over
    clock.advance(timedelta(seconds=29))
    assert deliver_due(session, transport=transport, now=clock.now()).picked == 0
    clock.advance(timedelta(seconds=1))
    deliver_due(session, transport=transport, now=clock.now())
    assert message.attempts == 2
    assert message.next_attempt_at == clock.now() + timedelta(minutes=2)

    # when: it recovers
    receiver.status = 204
    clock.advance(timedelta(minutes=2))
    recovered = deliver_due(session, transport=transport, now=clock.now())

    # then: delivered exactly once, and never again
    assert recovered.sent == 1
    assert (message.status, message.attempts, message.last_error) == ("sent", 3, None)
    clock.advance(timedelta(days=3))
    assert deliver_due(session, transport=transport, now=clock.now()).picked == 0
    assert [r.answered for r in receiver.requests] == [500, 500, 204]
    assert [r.delivery for r in receiver.accepted] == [str(message.id)]
    # every retry carries the same id and body, freshly signed
    assert len({r.delivery for r in receiver.requests}) == 1
    assert len({r.timestamp for r in receiver.requests}) == 3
    assert all(r.signature_ok for r in receiver.requests)


def test_dead_after_the_maximum_attempts(
    session: Session, world: World, clock: FixedClock, receiver: Receiver, transport: HttpxTransport
) -> None:
    _subscribe(session, world, receiver, clock)
    _publish(session, world, clock)
    [message] = _messages(session)
    receiver.status = 503

    reports = []
    for _ in range(4):
        reports.append(deliver_due(session, transport=transport, now=clock.now(), max_attempts=4))
        clock.advance(timedelta(days=1))

    assert [r.retrying for r in reports] == [1, 1, 1, 0]
    assert reports[-1].dead == 1
    assert (message.status, message.attempts, message.last_error) == ("dead", 4, "HTTP 503")
    assert deliver_due(session, transport=transport, now=clock.now()).picked == 0
    assert len(receiver.requests) == 4


def test_an_unreachable_receiver_is_retried_and_the_error_kept(
    session: Session, world: World, clock: FixedClock
) -> None:
    service.create_subscription(
        session,
        client=world.housing.client,
        url="https://zj.example/h",
        event_types=[],
        now=clock.now(),
    )
    _publish(session, world, clock)
    [message] = _messages(session)
    failing = FailingTransport()

    report = deliver_due(session, transport=failing, now=clock.now())

    assert report.retrying == 1 and failing.calls == 1
    assert message.last_error == "ConnectError: connection refused"
    assert message.status == "pending"


def test_a_wrong_secret_is_refused_by_the_receiver(
    session: Session, world: World, clock: FixedClock, receiver: Receiver, transport: HttpxTransport
) -> None:
    _subscribe(session, world, receiver, clock)
    receiver.secret = "whsec_someone_else"
    _publish(session, world, clock)
    deliver_due(session, transport=transport, now=clock.now())
    [got] = receiver.requests
    assert not got.signature_ok and got.answered == 401
    assert receiver.accepted == []


def test_other_channels_and_deleted_subscriptions(
    session: Session, world: World, clock: FixedClock
) -> None:
    sub_id = service.create_subscription(
        session,
        client=world.housing.client,
        url="https://zj.example/h",
        event_types=[],
        now=clock.now(),
    ).id
    _publish(session, world, clock)
    sms = service.notify_requester(
        session, ticket_id=34, channel="sms", event_type="received", text="已受理", now=clock.now()
    )
    inbox = service.notify_unit(
        session,
        unit_id=world.housing.unit.id,
        ticket_id=34,
        event_type="chase",
        text="催办",
        now=clock.now(),
    )
    # the client is switched off after the message was queued
    world.housing.client.active = False
    session.flush()
    failing = FailingTransport()

    report = deliver_due(session, transport=failing, now=clock.now())

    assert report == DeliveryReport(picked=1, sent=0, retrying=0, dead=1)
    assert failing.calls == 0
    webhook = session.scalars(
        select(OutboxMessage).where(OutboxMessage.subscription_id == sub_id)
    ).one()
    assert (webhook.status, webhook.last_error) == ("dead", "subscription inactive")
    assert (sms.status, sms.attempts) == ("pending", 0)  # the notification worker's
    assert (inbox.status, inbox.attempts) == ("pending", 0)


def test_limit_bounds_a_batch(
    session: Session, world: World, clock: FixedClock, receiver: Receiver, transport: HttpxTransport
) -> None:
    _subscribe(session, world, receiver, clock)
    for _ in range(5):
        _publish(session, world, clock)
    assert deliver_due(session, transport=transport, now=clock.now(), limit=3).sent == 3
    assert deliver_due(session, transport=transport, now=clock.now(), limit=3).sent == 2
    assert sorted(int(r.delivery) for r in receiver.accepted) == [m.id for m in _messages(session)]


# --- two workers at once (PostgreSQL) ----------------------------------------------------


def test_two_workers_at_once_send_each_message_exactly_once(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip(
            "SQLite serialises writers: a second worker waits for the first's lock, "
            "so there is no concurrency to test"
        )
    now = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)
    tag = uuid.uuid4().hex[:8]
    count = 20
    with running_receiver() as receiver:
        # given: committed rows, visible to both workers' connections
        with Session(engine) as setup:
            city = org.create_area(setup, code=f"W{tag}", name="并发市", level=AreaLevel.CITY)
            unit = org.create_unit(
                setup, code=f"W{tag}", name="并发局", kind=UnitKind.CITY_DEPARTMENT, area=city
            )
            client, _ = org.create_machine_client(
                setup, name=f"w-{tag}", scopes=[ClientScope.TICKETS_READ], unit=unit
            )
            # Built directly, not through create_subscription: that writes the shared
            # audit chain, which a committed-then-deleted row would break for later tests.
            sub = WebhookSubscription(
                client_id=client.id,
                url=receiver.url,
                secret="whsec_" + tag,
                event_types=[],
                active=True,
                created_at=now,
            )
            setup.add(sub)
            setup.flush()
            for n in range(count):
                service.publish_ticket_event(
                    setup,
                    ticket_id=n,
                    tracking_code=f"W{n:04d}",
                    event_type="dispatch",
                    unit_ids=[unit.id],
                    payload={},
                    now=now,
                )
            setup.commit()
            ids = (city.id, unit.id, client.id, sub.id)
        receiver.secret = "whsec_" + tag
        # The workers' first requests wait for each other: both really send at once, and
        # had the second worker blocked on the first one's rows instead of skipping them,
        # the rendezvous would break.
        receiver.rendezvous = threading.Barrier(2, timeout=10)
        start = threading.Barrier(2, timeout=10)

        def worker() -> int:
            sent = 0
            with HttpxTransport(timeout=15, trust_env=False) as transport:
                start.wait()
                while True:
                    with Session(engine) as s:
                        report = deliver_due(s, transport=transport, now=now, limit=5)
                        s.commit()
                    if report.picked == 0:
                        return sent
                    sent += report.sent

        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                results = [f.result() for f in [pool.submit(worker), pool.submit(worker)]]

            # then: every message was accepted once, and each worker sent some
            delivered = [int(r.delivery) for r in receiver.accepted]
            assert len(delivered) == count
            assert len(set(delivered)) == count
            assert sum(results) == count
            assert all(sent > 0 for sent in results)
            assert all(r.answered == 200 for r in receiver.requests)
        finally:
            with Session(engine) as cleanup:
                city_id, unit_id, client_id, sub_id = ids
                cleanup.execute(
                    delete(OutboxMessage).where(OutboxMessage.subscription_id == sub_id)
                )
                cleanup.execute(delete(WebhookSubscription).where(WebhookSubscription.id == sub_id))
                cleanup.execute(delete(MachineClient).where(MachineClient.id == client_id))
                cleanup.execute(delete(UnitJurisdiction).where(UnitJurisdiction.unit_id == unit_id))
                cleanup.execute(delete(Unit).where(Unit.id == unit_id))
                cleanup.execute(delete(Area).where(Area.id == city_id))
                cleanup.commit()
