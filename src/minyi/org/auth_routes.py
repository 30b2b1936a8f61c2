"""`POST /api/v1/auth/token` (OAuth2 password form) and `GET /api/v1/auth/me`."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from minyi.core.deps import ClockDep, SessionDep, SettingsDep
from minyi.org import service
from minyi.org.auth import CurrentUser
from minyi.org.domain import Role, mask_phone
from minyi.org.models import User
from minyi.org.schemas import TokenRead, UserRead

router = APIRouter(prefix="/auth", tags=["auth"])


def user_read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        unit_id=user.unit_id,
        area_id=user.area_id,
        phone_masked=mask_phone(user.phone),
    )


@router.post("/token", response_model=TokenRead)
def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TokenRead:
    user = service.authenticate(session, username=form.username, password=form.password)
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    token = service.issue_token(session, user=user, ttl=ttl, clock=clock)
    return TokenRead(access_token=token, expires_in=int(ttl.total_seconds()), user=user_read(user))


@router.get("/me", response_model=UserRead)
def me(user: CurrentUser) -> UserRead:
    return user_read(user)
