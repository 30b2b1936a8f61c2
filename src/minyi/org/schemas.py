"""API shapes of the organisation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from minyi.org.domain import AreaLevel, ClientScope, Role, UnitKind


class AreaCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    level: AreaLevel
    parent_code: str | None = None
    aliases: list[str] = Field(default_factory=list)
    population: int | None = Field(default=None, ge=0)
    boundary_wkt: str | None = None


class AreaRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    level: AreaLevel
    parent_id: int | None
    aliases: list[str]
    population: int | None
    has_boundary: bool = False


class SectionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str


class UnitCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    kind: UnitKind
    area_code: str
    parent_code: str | None = None
    service: str | None = None
    phone: str | None = None
    jurisdiction_codes: list[str] = Field(default_factory=list)
    sections: list[tuple[str, str]] = Field(default_factory=list)


class UnitRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: UnitKind
    area_id: int
    parent_id: int | None
    service: str | None
    active: bool
    sections: list[SectionRead] = Field(default_factory=list)
    jurisdiction_area_ids: list[int] = Field(default_factory=list)


class UserRead(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    unit_id: int | None
    area_id: int | None
    phone_masked: str | None


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserRead


class MachineClientCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    unit_code: str | None = None
    area_code: str | None = None
    scopes: list[ClientScope]


class MachineClientCreated(BaseModel):
    id: int
    name: str
    scopes: list[ClientScope]
    api_key: str = Field(description="Shown once; only its hash is kept.")
