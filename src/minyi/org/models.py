"""Tables of the organisation: areas, units, sections, users, machine clients, tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from minyi.core.db import Base, UTCDateTime


class Area(Base):
    __tablename__ = "org_area"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_area.id"), index=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    population: Mapped[int | None] = mapped_column(Integer)
    # WKT polygon in WGS-84 (lon lat); optional, grids use it for point-in-polygon.
    boundary_wkt: Mapped[str | None] = mapped_column(Text)

    parent: Mapped[Area | None] = relationship(remote_side="Area.id")


class Unit(Base):
    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    # The area the unit belongs to (the city for city departments, its district, its street).
    area_id: Mapped[int] = mapped_column(ForeignKey("org_area.id"), index=True)
    # A district department is led by its city department (line supervision).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    service: Mapped[str | None] = mapped_column(String(16))  # utilities: water/gas/power/...
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    area: Mapped[Area] = relationship()
    sections: Mapped[list[Section]] = relationship(back_populates="unit", order_by="Section.id")
    jurisdiction: Mapped[list[UnitJurisdiction]] = relationship(
        back_populates="unit", cascade="all, delete-orphan"
    )


class Section(Base):
    """An internal section (科室) of a unit: dispatch can go straight to it (一派到底)."""

    __tablename__ = "org_section"
    __table_args__ = (UniqueConstraint("unit_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))

    unit: Mapped[Unit] = relationship(back_populates="sections")


class UnitJurisdiction(Base):
    """The areas a unit answers for: a street office its street, a water company its districts."""

    __tablename__ = "org_unit_jurisdiction"
    __table_args__ = (UniqueConstraint("unit_id", "area_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("org_area.id"), index=True)

    unit: Mapped[Unit] = relationship(back_populates="jurisdiction")


class User(Base):
    __tablename__ = "org_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    # The area the user sees: a district leader sees the district, a street handler its street.
    area_id: Mapped[int | None] = mapped_column(ForeignKey("org_area.id"))
    phone: Mapped[str | None] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    unit: Mapped[Unit | None] = relationship()
    area: Mapped[Area | None] = relationship()


class MachineClient(Base):
    """A unit's or district's own case system, calling the API with its key."""

    __tablename__ = "org_machine_client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("org_area.id"))
    # The key is shown once at creation; only its prefix (to find it) and hash are kept.
    key_prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(255))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthToken(Base):
    """Opaque staff bearer tokens: stored as a SHA-256 digest, revocable, expiring."""

    __tablename__ = "org_auth_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("org_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()
