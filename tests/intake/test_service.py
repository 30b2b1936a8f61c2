"""Intake against the database: one service behind every channel, nothing half-stored,
repeats answered with the first ticket."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from minyi.audit.models import AuditEntry
from minyi.core.clock import FixedClock
from minyi.core.errors import Conflict, DomainError, Forbidden, Unauthorized, ValidationFailed
from minyi.intake import media, service
from minyi.intake.domain import is_valid_tracking_code
from minyi.intake.filestore import DirectoryFileStore
from minyi.intake.models import Attachment, IdempotencyRecord, Requester
from minyi.intake.schemas import AppealCreate
from minyi.tickets.access import Principal
from minyi.tickets.models import Ticket, TicketEvent
from tests.intake import samples
from tests.intake.conftest import City, stored_files

TEXT = "工地晚上十一点还在打桩，吵得孩子睡不着"
PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"


def appeal(**changes: Any) -> AppealCreate:
    body: dict[str, Any] = {
        "channel": "web",
        "type": "complaint",
        "text": TEXT,
        "address_text": "幸福小区东门",
        "requester": {"name": "王女士", "phone": PHONE},
    }
    body.update(changes)
    return AppealCreate.model_validate(body)


def submit(
    session: Session,
    store: DirectoryFileStore,
    clock: FixedClock,
    data: AppealCreate,
    *,
    principal: Principal | None = None,
    files: Sequence[media.IncomingFile] = (),
    key: str | None = None,
) -> service.SubmitResult:
    return service.submit_appeal(
        session,
        data=data,
        files=files,
        principal=principal or Principal(session=session),
        idempotency_key=key,
        store=store,
        clock=clock,
    )


def counts(session: Session) -> dict[str, int]:
    tables = {
        "tickets": Ticket,
        "requesters": Requester,
        "attachments": Attachment,
        "claims": IdempotencyRecord,
    }
    return {
        name: session.scalar(select(func.count()).select_from(table)) or 0
        for name, table in tables.items()
    }


def photo(name: str = "现场.jpg") -> media.IncomingFile:
    return media.IncomingFile(name, samples.png(), "image/jpeg")


# --- taking an appeal in --------------------------------------------------------------------


def test_hotline_agent_files_a_call(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    # given a call taken by a hotline agent, with the recording
    data = appeal(
        channel="hotline",
        title="夜间施工噪声",
        lon=114.05,
        lat=22.54,
        area_code=city.town.community.code,
        requester={"name": "王女士", "phone": "138 1234 5678", "id_number": ID_NUMBER},
    )
    recording = media.IncomingFile("call-0001.mp3", samples.mp3(), "audio/mpeg")
    # when
    result = submit(
        session,
        store,
        clock,
        data,
        principal=Principal(session, user=city.agent),
        files=[recording],
    )
    # then
    ticket = result.ticket
    assert result.created
    assert ticket.status == "received" and ticket.channel == "hotline"
    assert is_valid_tracking_code(ticket.tracking_code)
    assert (ticket.title, ticket.appeal_type, ticket.lon, ticket.lat) == (
        "夜间施工噪声",
        "complaint",
        114.05,
        22.54,
    )
    assert ticket.area_id == city.town.community.id
    assert ticket.district_id == city.town.district.id
    assert ticket.received_at == clock.now()
    requester = session.get(Requester, ticket.requester_id)
    assert requester is not None
    assert (requester.phone, requester.phone_last4, requester.id_number) == (
        PHONE,
        "5678",
        ID_NUMBER,
    )
    attachment = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)).one()
    assert (attachment.kind, attachment.mime, attachment.purpose) == (
        "audio",
        "audio/mpeg",
        "appeal",
    )
    assert attachment.event_id is not None
    assert store.exists(attachment.sha256)


def test_a_title_is_made_from_the_text_when_none_is_given(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    long_text = "小区门口" * 20
    ticket = submit(session, store, clock, appeal(text=long_text)).ticket
    assert ticket.title.startswith("小区门口") and ticket.title.endswith("…")
    assert len(ticket.title) == 31


def test_personal_data_stays_in_the_requester_row(
    session: Session,
    store: DirectoryFileStore,
    clock: FixedClock,
    city: City,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    data = appeal(requester={"name": "王女士", "phone": PHONE, "id_number": ID_NUMBER})
    ticket = submit(session, store, clock, data).ticket
    written = [
        json.dumps(e.data, ensure_ascii=False) for e in session.scalars(select(AuditEntry))
    ] + [
        json.dumps(e.payload, ensure_ascii=False)
        for e in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id))
    ]
    for secret in (PHONE, ID_NUMBER, "王女士"):
        assert not any(secret in w for w in written)
        assert secret not in caplog.text
        assert secret not in ticket.text + ticket.title + (ticket.address_text or "")


def test_anonymous_appeal_needs_no_requester_and_is_flagged(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    ticket = submit(session, store, clock, appeal(requester=None, anonymous=True)).ticket
    assert ticket.anonymous is True
    assert ticket.requester_id is None
    with_phone = submit(session, store, clock, appeal(anonymous=True, text="另一件事")).ticket
    assert with_phone.anonymous is True
    assert with_phone.requester_id is not None  # the hotline can still call back


def test_company_requester_with_a_valid_credit_code(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    data = appeal(
        type="request",
        requester={
            "kind": "company",
            "company_name": "某某科技有限公司",
            "credit_code": "91350100m000100y43",
            "name": "李经理",
            "phone": "0755-87654321",
        },
    )
    ticket = submit(session, store, clock, data).ticket
    requester = session.get(Requester, ticket.requester_id)
    assert requester is not None
    assert ticket.requester_kind == "company"
    assert (requester.credit_code, requester.phone_last4) == ("91350100M000100Y43", "4321")


def test_a_citizens_account_is_linked_and_lends_its_phone(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    principal = Principal(session, user=city.citizen)
    ticket = submit(
        session, store, clock, appeal(channel="app", requester=None), principal=principal
    ).ticket
    requester = session.get(Requester, ticket.requester_id)
    assert requester is not None
    assert (requester.user_id, requester.phone, requester.name) == (
        city.citizen.id,
        PHONE,
        city.citizen.display_name,
    )


def test_a_district_system_files_on_the_system_channel(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    principal = Principal(session, client=city.system)
    ticket = submit(session, store, clock, appeal(channel="system"), principal=principal).ticket
    assert ticket.source_client_id == city.system.id
    # Without an area of its own, the appeal is the district's.
    assert ticket.area_id == city.town.district.id


# --- who may use which channel --------------------------------------------------------------


def test_system_channel_needs_the_appeals_create_scope(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    with pytest.raises(Forbidden) as caught:
        submit(
            session,
            store,
            clock,
            appeal(channel="system"),
            principal=Principal(session, client=city.reader),
        )
    assert caught.value.code == "scope_missing"
    with pytest.raises(Unauthorized):
        submit(session, store, clock, appeal(channel="system"))
    with pytest.raises(Forbidden):
        submit(
            session,
            store,
            clock,
            appeal(channel="system"),
            principal=Principal(session, user=city.agent),
        )


@pytest.mark.parametrize("channel", ["hotline", "window", "email", "grid_worker", "import"])
def test_staff_channels_refuse_nobody(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City, channel: str
) -> None:
    with pytest.raises(Unauthorized):
        submit(session, store, clock, appeal(channel=channel))
    with pytest.raises(Forbidden):
        submit(
            session,
            store,
            clock,
            appeal(channel=channel),
            principal=Principal(session, user=city.citizen),
        )
    with pytest.raises(Forbidden):
        submit(
            session,
            store,
            clock,
            appeal(channel=channel),
            principal=Principal(session, client=city.system),
        )
    assert counts(session)["tickets"] == 0


def test_grid_workers_report_on_their_channel_only(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    worker = Principal(session, user=city.grid_worker)
    assert submit(session, store, clock, appeal(channel="grid_worker"), principal=worker).created
    with pytest.raises(Forbidden):
        submit(session, store, clock, appeal(channel="hotline", text="别的"), principal=worker)
    with pytest.raises(Forbidden):
        submit(
            session,
            store,
            clock,
            appeal(channel="grid_worker", text="别的"),
            principal=Principal(session, user=city.bureau_handler),
        )


# --- nothing half-stored --------------------------------------------------------------------


def test_every_problem_is_named_at_once_and_nothing_is_stored(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    before = counts(session)
    data = appeal(
        lon=200.0,
        lat=22.5,
        area_code="NOWHERE",
        requester={"phone": "12345", "id_number": "110105194912310021"},
    )
    with pytest.raises(ValidationFailed) as caught:
        submit(
            session, store, clock, data, files=[photo(), media.IncomingFile("x.jpg", b"\x00" * 10)]
        )
    error = caught.value
    assert error.code == "appeal_invalid" and error.status_code == 422
    found = {(d["field"], d["code"]) for d in error.details}
    assert found == {
        ("lon", "lon_invalid"),
        ("area_code", "area_not_found"),
        ("requester.phone", "phone_invalid"),
        ("requester.id_number", "id_number_invalid"),
        ("files[1]", "file_type_unsupported"),
    }
    assert all(d["reason"] and d["reason_en"] for d in error.details)
    assert "12345" not in json.dumps(error.to_dict(), ensure_ascii=False)
    assert counts(session) == before
    assert stored_files(store) == []


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert('x')</script>路灯不亮",
        '路灯不亮<img src=x onerror="steal()">',
        "<iframe src='//evil'></iframe>",
        "看这里 javascript:alert(1)",
    ],
)
def test_active_web_code_is_refused_and_nothing_is_stored(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City, text: str
) -> None:
    before = counts(session)
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, appeal(text=text))
    assert [(d["field"], d["code"]) for d in caught.value.details] == [("text", "text_markup")]
    assert "网页代码" in caught.value.details[0]["reason"]
    assert counts(session) == before


def test_ordinary_angle_brackets_are_text(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    result = submit(session, store, clock, appeal(text="井盖缺了<b>半个</b>，坑深<50厘米"))
    assert result.created and result.ticket.text == "井盖缺了<b>半个</b>，坑深<50厘米"


def test_an_oversized_file_refuses_the_whole_appeal(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    before = counts(session)
    huge = media.IncomingFile("big.png", samples.png()[:8] + b"\x00" * (10 * media.MIB + 1))
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, appeal(), files=[photo(), huge])
    assert [(d["field"], d["code"], d["file"]) for d in caught.value.details] == [
        ("files[1]", "file_too_large", "big.png")
    ]
    assert counts(session) == before
    assert stored_files(store) == []


def test_a_truncated_photo_refuses_the_whole_appeal(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    before = counts(session)
    cut = media.IncomingFile("现场.jpg", samples.jpeg()[:-2], "image/jpeg")
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, appeal(), files=[photo(), cut])
    assert caught.value.details[0]["code"] == "file_corrupt"
    assert counts(session) == before
    assert stored_files(store) == []


def test_too_many_files(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, appeal(), files=[photo()] * (media.MAX_FILES_PER_APPEAL + 1))
    assert caught.value.details[0]["code"] == "too_many_files"


def test_a_requester_without_a_phone_must_say_anonymous(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, appeal(requester={"name": "王女士"}))
    assert caught.value.details[0]["code"] == "phone_required"
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, appeal(requester=None))
    assert caught.value.details[0]["code"] == "requester_required"


def test_company_fields_are_checked(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    data = appeal(
        requester={"kind": "company", "credit_code": "91350100M000100Y44", "phone": PHONE}
    )
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, data)
    assert {d["code"] for d in caught.value.details} == {
        "company_name_required",
        "credit_code_invalid",
    }


def test_area_id_and_code_must_agree_and_coordinates_come_in_pairs(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    data = appeal(area_id=city.town.street.id, area_code=city.town.other_street.code, lon=114.0)
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, data)
    assert {d["code"] for d in caught.value.details} == {"area_mismatch", "coordinates_incomplete"}
    with pytest.raises(ValidationFailed):
        submit(session, store, clock, appeal(area_id=999_999))


# --- files ----------------------------------------------------------------------------------


def test_a_png_named_pdf_is_stored_as_an_image_once_by_content(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    disguised = media.IncomingFile("证明材料.pdf", samples.png(), "application/pdf")
    first = submit(session, store, clock, appeal(), files=[disguised]).ticket
    second = submit(session, store, clock, appeal(text="第二件事"), files=[disguised]).ticket
    rows = list(session.scalars(select(Attachment).order_by(Attachment.id)))
    assert [r.ticket_id for r in rows] == [first.id, second.id]
    assert {(r.kind, r.mime, r.original_name) for r in rows} == {
        ("image", "image/png", "证明材料.pdf")
    }
    sha = rows[0].sha256
    assert rows[1].sha256 == sha
    assert stored_files(store) == [store.root / sha[:2] / sha[2:4] / sha]
    with store.open(sha) as stored:
        assert stored.read() == samples.png()


# --- repeats --------------------------------------------------------------------------------


def test_the_same_key_returns_the_same_ticket(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    first = submit(session, store, clock, appeal(), files=[photo()], key="k-1")
    clock.advance(timedelta(hours=2))
    again = submit(session, store, clock, appeal(), files=[photo()], key="k-1")
    assert first.created and not again.created
    assert again.ticket.id == first.ticket.id
    assert counts(session)["tickets"] == 1
    assert counts(session)["attachments"] == 1


def test_the_same_key_with_another_body_is_a_conflict(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    submit(session, store, clock, appeal(), key="k-1")
    for changed in (appeal(text="完全不同的诉求"), appeal(anonymous=True)):
        with pytest.raises(Conflict) as caught:
            submit(session, store, clock, changed, key="k-1")
        assert caught.value.code == "idempotency_key_reused"
        assert caught.value.status_code == 409
    with pytest.raises(Conflict):
        submit(session, store, clock, appeal(), files=[photo()], key="k-1")
    assert counts(session)["tickets"] == 1


def test_keys_belong_to_whoever_sent_them(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    anonymous_web = submit(session, store, clock, appeal(), key="shared")
    by_system = submit(
        session,
        store,
        clock,
        appeal(channel="system"),
        principal=Principal(session, client=city.system),
        key="shared",
    )
    assert by_system.created and by_system.ticket.id != anonymous_web.ticket.id


def test_a_bad_key_is_refused(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        submit(session, store, clock, appeal(), key="空格 不行")
    assert caught.value.details[0]["code"] == "idempotency_key_invalid"


def test_same_content_within_ten_minutes_is_the_same_appeal(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    first = submit(session, store, clock, appeal())
    clock.advance(timedelta(minutes=9, seconds=59))
    retyped = appeal(text=f"  {TEXT[:6]} {TEXT[6:]}\n", requester={"phone": "138-1234-5678"})
    again = submit(session, store, clock, retyped)
    assert not again.created and again.ticket.id == first.ticket.id
    # A different requester, or another channel, is another appeal.
    assert submit(session, store, clock, appeal(requester={"phone": "13900001111"})).created
    assert submit(session, store, clock, appeal(channel="app")).created


def test_same_content_after_ten_minutes_is_a_new_appeal(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    first = submit(session, store, clock, appeal())
    clock.advance(timedelta(minutes=10, seconds=1))
    later = submit(session, store, clock, appeal())
    assert later.created and later.ticket.id != first.ticket.id
    clock.advance(timedelta(minutes=3))
    assert submit(session, store, clock, appeal()).ticket.id == later.ticket.id
    assert counts(session)["tickets"] == 2
    assert counts(session)["claims"] == 1  # the expired claim was taken over


def test_a_lost_race_on_the_key_answers_with_the_winner(
    session: Session,
    store: DirectoryFileStore,
    clock: FixedClock,
    city: City,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    winner = submit(session, store, clock, appeal(), key="race")
    _blind_first_lookup(monkeypatch)
    loser = submit(session, store, clock, appeal(), key="race")
    assert not loser.created and loser.ticket.id == winner.ticket.id
    assert counts(session)["tickets"] == 1
    assert counts(session)["requesters"] == 1


def test_a_lost_race_on_the_content_answers_with_the_winner(
    session: Session,
    store: DirectoryFileStore,
    clock: FixedClock,
    city: City,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    winner = submit(session, store, clock, appeal())
    _blind_first_lookup(monkeypatch)
    loser = submit(session, store, clock, appeal())
    assert not loser.created and loser.ticket.id == winner.ticket.id
    assert counts(session)["tickets"] == 1


def _blind_first_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the first look for a repeat miss, as a concurrent twin's would (its winner had
    not committed yet): the claim in the SAVEPOINT must then decide."""
    real = service._existing
    calls = {"n": 0}

    def blind(*args: Any, **kwargs: Any) -> service.SubmitResult | None:
        calls["n"] += 1
        return None if calls["n"] == 1 else real(*args, **kwargs)

    monkeypatch.setattr(service, "_existing", blind)


def test_domain_errors_carry_both_languages(
    session: Session, store: DirectoryFileStore, clock: FixedClock, city: City
) -> None:
    with pytest.raises(DomainError) as caught:
        submit(session, store, clock, appeal(channel="hotline"))
    body = caught.value.to_dict()
    assert body["code"] == "not_authenticated" and body["message"] and body["message_en"]


def test_the_citizen_is_texted_the_tracking_code_with_the_ticket(
    session: Session, city: City, store: DirectoryFileStore, clock: FixedClock
) -> None:
    from minyi.notify.models import OutboxMessage

    result = submit(session, store, clock, appeal())
    (message,) = session.scalars(
        select(OutboxMessage).where(OutboxMessage.event_type == "ticket.receive")
    ).all()
    assert message.channel == "sms"
    assert message.target == f"ticket:{result.ticket.id}:requester"
    assert result.ticket.tracking_code in str(message.payload)
    assert PHONE not in str(message.payload) and PHONE not in message.target
