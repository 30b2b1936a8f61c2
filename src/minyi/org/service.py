"""Use cases of the organisation. Functions take a session, flush, and never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from minyi.core.clock import Clock, get_clock
from minyi.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from minyi.org import security
from minyi.org.domain import (
    ROLES_NEEDING_UNIT,
    AreaLevel,
    ClientScope,
    Role,
    UnitKind,
    parent_level,
)
from minyi.org.models import Area, AuthToken, MachineClient, Section, Unit, UnitJurisdiction, User

# --- areas -------------------------------------------------------------------------------


def get_area(session: Session, area_id: int) -> Area | None:
    return session.get(Area, area_id)


def get_area_by_code(session: Session, code: str) -> Area | None:
    return session.scalar(select(Area).where(Area.code == code))


def get_area_by_code_or_raise(session: Session, code: str) -> Area:
    area = get_area_by_code(session, code)
    if area is None:
        raise NotFound("area_not_found", f"找不到区域编码 {code}", f"No area with code {code}")
    return area


def create_area(
    session: Session,
    *,
    code: str,
    name: str,
    level: AreaLevel,
    parent: Area | None = None,
    aliases: Sequence[str] = (),
    population: int | None = None,
    boundary_wkt: str | None = None,
) -> Area:
    """Add an area under its parent; the parent must sit exactly one level up."""
    expected = parent_level(level)
    if expected is None and parent is not None:
        raise ValidationFailed(
            "area_level_mismatch", "市级区域不能有上级", "A city has no parent area"
        )
    if expected is not None and (parent is None or parent.level != expected.value):
        raise ValidationFailed(
            "area_level_mismatch",
            f"{level.label_zh}的上级必须是{expected.label_zh}",
            f"The parent of a {level.value} must be a {expected.value}",
        )
    if get_area_by_code(session, code) is not None:
        raise ValidationFailed(
            "area_code_taken", f"区域编码 {code} 已存在", f"Area code {code} already exists"
        )
    area = Area(
        code=code,
        name=name,
        level=level.value,
        parent_id=parent.id if parent else None,
        aliases=list(aliases),
        population=population,
        boundary_wkt=boundary_wkt,
    )
    session.add(area)
    session.flush()
    return area


def list_areas(
    session: Session,
    *,
    level: AreaLevel | None = None,
    parent_id: int | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Area], int]:
    stmt = select(Area)
    if level is not None:
        stmt = stmt.where(Area.level == level.value)
    if parent_id is not None:
        stmt = stmt.where(Area.parent_id == parent_id)
    if q:
        stmt = stmt.where(Area.name.contains(q))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Area.id).offset(offset).limit(limit)).all()
    return list(rows), total


def area_parents(session: Session) -> dict[int, int | None]:
    return {row.id: row.parent_id for row in session.execute(select(Area.id, Area.parent_id))}


def district_of(parents: dict[int, int | None], levels: dict[int, str]) -> dict[int, int | None]:
    """Each area's district (itself for a district; None for the city)."""
    result: dict[int, int | None] = {}
    for area_id in parents:
        node: int | None = area_id
        found: int | None = None
        while node is not None:
            if levels.get(node) == AreaLevel.DISTRICT.value:
                found = node
                break
            node = parents.get(node)
        result[area_id] = found
    return result


# --- units -------------------------------------------------------------------------------


def get_unit(session: Session, unit_id: int) -> Unit | None:
    return session.get(Unit, unit_id)


def get_unit_by_code(session: Session, code: str) -> Unit | None:
    return session.scalar(select(Unit).where(Unit.code == code))


def get_unit_by_code_or_raise(session: Session, code: str) -> Unit:
    unit = get_unit_by_code(session, code)
    if unit is None:
        raise NotFound("unit_not_found", f"找不到单位编码 {code}", f"No unit with code {code}")
    return unit


def create_unit(
    session: Session,
    *,
    code: str,
    name: str,
    kind: UnitKind,
    area: Area,
    parent: Unit | None = None,
    service: str | None = None,
    phone: str | None = None,
    jurisdiction: Iterable[Area] = (),
    sections: Iterable[tuple[str, str]] = (),
) -> Unit:
    """Add a unit; with no jurisdiction given it answers for its own area."""
    if get_unit_by_code(session, code) is not None:
        raise ValidationFailed(
            "unit_code_taken", f"单位编码 {code} 已存在", f"Unit code {code} already exists"
        )
    unit = Unit(
        code=code,
        name=name,
        kind=kind.value,
        area_id=area.id,
        parent_id=parent.id if parent else None,
        service=service,
        phone=phone,
        active=True,
    )
    session.add(unit)
    session.flush()
    areas = list(jurisdiction) or [area]
    for a in {a.id: a for a in areas}.values():
        session.add(UnitJurisdiction(unit_id=unit.id, area_id=a.id))
    for sec_code, sec_name in sections:
        session.add(Section(unit_id=unit.id, code=sec_code, name=sec_name))
    session.flush()
    return unit


def list_units(
    session: Session,
    *,
    kind: UnitKind | None = None,
    area_id: int | None = None,
    q: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Unit], int]:
    stmt = select(Unit)
    if kind is not None:
        stmt = stmt.where(Unit.kind == kind.value)
    if area_id is not None:
        stmt = stmt.where(Unit.area_id == area_id)
    if q:
        stmt = stmt.where(Unit.name.contains(q))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(Unit.sections), selectinload(Unit.jurisdiction))
        .order_by(Unit.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total


# --- users and authentication ------------------------------------------------------------


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    unit: Unit | None = None,
    area: Area | None = None,
    phone: str | None = None,
    clock: Clock | None = None,
) -> User:
    if role in ROLES_NEEDING_UNIT and unit is None:
        raise ValidationFailed(
            "user_needs_unit",
            f"{role.label_zh}必须属于一个单位",
            f"A user with role {role.value} must belong to a unit",
        )
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValidationFailed(
            "username_taken", f"用户名 {username} 已存在", f"Username {username} already exists"
        )
    if len(password) < 8:
        raise ValidationFailed(
            "password_too_short", "密码至少 8 位", "A password needs at least 8 characters"
        )
    user = User(
        username=username,
        display_name=display_name,
        password_hash=security.hash_password(password),
        role=role.value,
        unit_id=unit.id if unit else None,
        area_id=area.id if area else (unit.area_id if unit else None),
        phone=phone,
        active=True,
        created_at=(clock or get_clock()).now(),
    )
    session.add(user)
    session.flush()
    return user


_BAD_LOGIN = Unauthorized("bad_credentials", "用户名或密码错误", "Wrong username or password")


def authenticate(session: Session, *, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        # Hash anyway so that a wrong username takes as long as a wrong password.
        security.verify_password(_dummy_hash(), password)
        raise _BAD_LOGIN
    if not security.verify_password(user.password_hash, password):
        raise _BAD_LOGIN
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return security.hash_password("not-a-real-password")


def issue_token(session: Session, *, user: User, ttl: timedelta, clock: Clock | None = None) -> str:
    now = (clock or get_clock()).now()
    token = security.new_token()
    session.add(
        AuthToken(
            token_digest=security.digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + ttl,
            revoked=False,
        )
    )
    session.flush()
    return token


def user_for_token(session: Session, token: str, *, now: datetime) -> User:
    row = session.scalar(select(AuthToken).where(AuthToken.token_digest == security.digest(token)))
    if row is None or row.revoked or row.expires_at <= now or not row.user.active:
        raise Unauthorized(
            "invalid_token", "登录已失效，请重新登录", "The token is invalid or expired"
        )
    return row.user


def create_machine_client(
    session: Session,
    *,
    name: str,
    scopes: Sequence[ClientScope],
    unit: Unit | None = None,
    area: Area | None = None,
    clock: Clock | None = None,
) -> tuple[MachineClient, str]:
    """Register a unit's or district's own system; the key is returned once, never stored."""
    prefix, key = security.new_api_key()
    client = MachineClient(
        name=name,
        unit_id=unit.id if unit else None,
        area_id=area.id if area else None,
        key_prefix=prefix,
        key_hash=security.digest(key),
        scopes=[s.value for s in scopes],
        active=True,
        created_at=(clock or get_clock()).now(),
    )
    session.add(client)
    session.flush()
    return client, key


def authenticate_client(session: Session, key: str) -> MachineClient:
    prefix = key.split(".", 1)[0]
    client = session.scalar(select(MachineClient).where(MachineClient.key_prefix == prefix))
    if client is None or not client.active or client.key_hash != security.digest(key):
        raise Unauthorized("invalid_api_key", "API 密钥无效", "The API key is invalid")
    return client


def client_for_key(session: Session, key: str, *, scope: ClientScope) -> MachineClient:
    client = authenticate_client(session, key)
    ensure_scope(client, scope)
    return client


def ensure_scope(client: MachineClient, scope: ClientScope) -> None:
    """Machine clients act only within the scopes their key was given."""
    if scope.value not in client.scopes:
        raise Forbidden(
            "scope_missing",
            f"该密钥没有 {scope.value} 权限",
            f"The API key lacks the scope {scope.value}",
        )
