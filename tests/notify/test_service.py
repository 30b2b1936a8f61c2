"""Queueing in the outbox, in the caller's transaction; subscriptions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from minyi.core.clock import FixedClock
from minyi.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from minyi.notify import service
from minyi.notify.models import OutboxMessage
from minyi.org import service as org
from minyi.org.domain import ClientScope
from tests.notify.conftest import World

NOW = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _outbox(session: Session) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def _publish(
    session: Session, unit_ids: list[int], event: str = "dispatch", **payload: object
) -> int:
    return service.publish_ticket_event(
        session,
        ticket_id=34,
        tracking_code="A20261102001",
        event_type=event,
        unit_ids=unit_ids,
        payload=payload or {"to_status": "dispatched"},
        now=NOW,
    )


def test_publish_reaches_only_subscriptions_of_the_units_and_event_types(
    session: Session, world: World
) -> None:
    # given: housing hears all events, environment only chases, the street everything
    all_housing = service.create_subscription(
        session, client=world.housing.client, url="https://zj.example/h", event_types=[], now=NOW
    )
    service.create_subscription(
        session,
        client=world.environment.client,
        url="https://hb.example/h",
        event_types=["chase"],
        now=NOW,
    )
    service.create_subscription(
        session, client=world.street.client, url="https://df.example/h", event_types=[], now=NOW
    )
    # when: a ticket led by housing with environment as co-unit is dispatched
    queued = _publish(session, [world.housing.unit.id, world.environment.unit.id])
    # then: only housing hears of it (environment wants chases only, the street is not concerned)
    assert queued == 1
    [message] = _outbox(session)
    assert message.channel == "webhook"
    assert message.subscription_id == all_housing.id
    assert message.target == "https://zj.example/h"
    assert message.status == "pending" and message.attempts == 0
    assert message.next_attempt_at == NOW
    assert message.payload == {
        "ticket_id": 34,
        "tracking_code": "A20261102001",
        "payload": {"to_status": "dispatched"},
    }
    # and a chase reaches both units' subscriptions
    assert _publish(session, [world.housing.unit.id, world.environment.unit.id], "chase") == 2


def test_inactive_subscriptions_and_clients_hear_nothing(session: Session, world: World) -> None:
    sub = service.create_subscription(
        session, client=world.housing.client, url="https://zj.example/h", event_types=[], now=NOW
    )
    service.delete_subscription(
        session, client=world.housing.client, subscription_id=sub.id, now=NOW
    )
    service.create_subscription(
        session, client=world.street.client, url="https://df.example/h", event_types=[], now=NOW
    )
    world.street.client.active = False
    session.flush()
    assert _publish(session, [world.housing.unit.id, world.street.unit.id]) == 0
    assert _publish(session, []) == 0
    assert _outbox(session) == []


def test_personal_data_never_reaches_the_outbox(session: Session, world: World) -> None:
    service.create_subscription(
        session, client=world.housing.client, url="https://zj.example/h", event_types=[], now=NOW
    )
    _publish(
        session,
        [world.housing.unit.id],
        phone="13812345678",
        requester={"name": "张女士", "id_number": "440301199001011234"},
        at=NOW,
    )
    [message] = _outbox(session)
    assert message.payload["payload"] == {
        "requester": {"name": "张女士"},
        "at": "2026-11-02T01:00:00+00:00",
    }
    assert "13812345678" not in str(message.payload)


def test_nothing_is_queued_when_the_transaction_rolls_back(session: Session, world: World) -> None:
    service.create_subscription(
        session, client=world.housing.client, url="https://zj.example/h", event_types=[], now=NOW
    )
    # given: the ticket change and its event happen in one transaction...
    change = session.begin_nested()
    assert _publish(session, [world.housing.unit.id]) == 1
    assert len(_outbox(session)) == 1
    # when: ...which fails
    change.rollback()
    # then: no message reports a change that never happened
    assert _outbox(session) == []


def _committed_outbox_rows(engine: Engine) -> int:
    """Counted through another connection: what any sender could see."""
    if engine.dialect.name == "sqlite":
        # A plain sqlite3 reader: SQLAlchemy's connections begin IMMEDIATE (a write lock),
        # which would wait for the test's own open transaction.
        path = engine.url.database
        assert path is not None
        with sqlite3.connect(path) as reader:
            row = reader.execute("SELECT count(*) FROM notify_outbox").fetchone()
        reader.close()
        return int(row[0])
    with engine.connect() as other:
        return int(other.scalar(text("SELECT count(*) FROM notify_outbox")) or 0)


def test_publish_flushes_but_never_commits(session: Session, world: World, engine: Engine) -> None:
    service.create_subscription(
        session, client=world.housing.client, url="https://zj.example/h", event_types=[], now=NOW
    )
    before = _committed_outbox_rows(engine)
    assert _publish(session, [world.housing.unit.id]) == 1
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == before + 1
    assert _committed_outbox_rows(engine) == before


def test_unit_and_requester_messages_are_addressed_by_reference(
    session: Session, world: World
) -> None:
    unit_msg = service.notify_unit(
        session,
        unit_id=world.housing.unit.id,
        ticket_id=34,
        event_type="chase",
        text="市民催办：工单 A20261102001 已催办 2 次",
        now=NOW,
    )
    sms = service.notify_requester(
        session,
        ticket_id=34,
        channel="sms",
        event_type="received",
        text="您的诉求已受理，查询码 A20261102001",
        now=NOW,
    )
    assert (unit_msg.channel, unit_msg.target) == ("inbox", f"unit:{world.housing.unit.id}")
    assert unit_msg.payload["ticket_id"] == 34
    assert (sms.channel, sms.target) == ("sms", "ticket:34:requester")
    assert sms.status == "pending" and sms.next_attempt_at == NOW
    wechat = service.notify_requester(
        session, ticket_id=34, channel="wechat", event_type="replied", text="已答复", now=NOW
    )
    assert wechat.channel == "wechat"


@pytest.mark.parametrize("channel", ["inbox", "webhook", "fax"])
def test_a_citizen_is_told_by_sms_or_wechat_only(session: Session, channel: str) -> None:
    with pytest.raises(ValueError):
        service.notify_requester(
            session, ticket_id=1, channel=channel, event_type="x", text="x", now=NOW
        )


def test_subscription_rules(session: Session, world: World, clock: FixedClock) -> None:
    with pytest.raises(ValidationFailed) as bad_url:
        service.create_subscription(
            session, client=world.housing.client, url="ftp://x", event_types=[], now=NOW
        )
    assert bad_url.value.code == "webhook_bad_url"
    with pytest.raises(ValidationFailed) as bad_type:
        service.create_subscription(
            session,
            client=world.housing.client,
            url="https://zj.example/h",
            event_types=["Dispatch!"],
            now=NOW,
        )
    assert bad_type.value.code == "webhook_bad_event_type"
    area_client, _ = org.create_machine_client(
        session, name="district-system", scopes=[ClientScope.TICKETS_READ]
    )
    with pytest.raises(Forbidden):
        service.create_subscription(
            session, client=area_client, url="https://d.example/h", event_types=[], now=NOW
        )
    for n in range(service.MAX_SUBSCRIPTIONS_PER_CLIENT):
        service.create_subscription(
            session,
            client=world.housing.client,
            url=f"https://zj.example/{n}",
            event_types=["chase", "chase"],
            now=NOW,
        )
    with pytest.raises(Conflict):
        service.create_subscription(
            session,
            client=world.housing.client,
            url="https://zj.example/x",
            event_types=[],
            now=NOW,
        )
    [first, *_] = service.list_subscriptions(session, client=world.housing.client)
    assert first.event_types == ["chase"]  # duplicates folded
    assert first.secret.startswith("whsec_") and len(first.secret) > 40


def test_deleting_a_subscription_gives_up_its_pending_messages(
    session: Session, world: World
) -> None:
    sub = service.create_subscription(
        session, client=world.housing.client, url="https://zj.example/h", event_types=[], now=NOW
    )
    _publish(session, [world.housing.unit.id])
    with pytest.raises(NotFound):
        service.delete_subscription(
            session, client=world.street.client, subscription_id=sub.id, now=NOW
        )
    service.delete_subscription(
        session, client=world.housing.client, subscription_id=sub.id, now=NOW
    )
    [message] = _outbox(session)
    assert (message.status, message.last_error) == ("dead", "subscription deleted")
    assert service.list_subscriptions(session, client=world.housing.client) == []
    with pytest.raises(NotFound):
        service.delete_subscription(
            session, client=world.housing.client, subscription_id=sub.id, now=NOW
        )
