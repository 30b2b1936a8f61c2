"""The duplicate index: one signature row per ticket and one key row per distinctive word.

The key table is the "band table" of the index: candidates for an appeal are the recent
tickets of its district that share one of its keys, read through one index
(`ix_triage_dup_key_lookup`, scanned backwards from the newest and cut after a few
hundred postings per key), so the cost of a look-up depends on neither how many tickets
are stored nor how common its words are. The signature row holds the stored
words and weights for exact re-scoring, and the requester for repeats (重复件).

Rows are written at intake in the ticket's transaction (`duplicates.index_ticket`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from minyi.core.db import Base, UTCDateTime


class DuplicateSignature(Base):
    __tablename__ = "triage_dup_signature"
    __table_args__ = (
        # A requester's tickets of the last 30 days, for repeats.
        Index("ix_triage_dup_signature_requester", "requester_id", "received_at"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    requester_id: Mapped[int | None] = mapped_column(Integer)
    district_id: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # duplicates_signature.pack: int64 word hashes then float32 weights.
    terms: Mapped[bytes] = mapped_column(LargeBinary)


class DuplicateKey(Base):
    __tablename__ = "triage_dup_key"
    __table_args__ = (
        # Covering: the look-up reads key, district and time from the index alone.
        Index("ix_triage_dup_key_lookup", "key", "district_id", "received_at", "ticket_id"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    district_id: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
