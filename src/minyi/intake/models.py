"""Tables of intake: the requester (personal data, stored once), attachments, idempotency."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class Requester(Base):
    """Who filed an appeal. Phone and ID number live here only, and leave masked."""

    __tablename__ = "intake_requester"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # person / company
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    # The last four digits let a citizen find a ticket with the tracking code.
    phone_last4: Mapped[str | None] = mapped_column(String(4))
    id_number: Mapped[str | None] = mapped_column(String(32))
    company_name: Mapped[str | None] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18))  # 统一社会信用代码
    user_id: Mapped[int | None] = mapped_column(ForeignKey("org_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Attachment(Base):
    """A file of a ticket, stored once by content (sha256) in the file store."""

    __tablename__ = "intake_attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image / audio / video / pdf
    mime: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(255))
    # Which step added it: the appeal itself, a supplement, a reply's evidence.
    purpose: Mapped[str] = mapped_column(String(16), default="appeal")
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_event.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdempotencyRecord(Base):
    """An `Idempotency-Key` already answered: the same key returns the same ticket."""

    __tablename__ = "intake_idempotency"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))  # the client or channel the key belongs to
    key: Mapped[str] = mapped_column(String(200))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Note(Base):
    """Free text kept apart from the ticket row: supplements (补充) and internal notes."""

    __tablename__ = "intake_note"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # supplement / internal
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
