"""Who is calling: staff bearer tokens and role checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import Forbidden, Unauthorized
from minyi.org import service
from minyi.org.domain import Role
from minyi.org.models import User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def current_user(
    session: SessionDep, clock: ClockDep, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> User:
    if not token:
        raise Unauthorized("not_authenticated", "请先登录", "Authentication required")
    return service.user_for_token(session, token, now=clock.now())


CurrentUser = Annotated[User, Depends(current_user)]


def require_roles(*roles: Role) -> Callable[[User], User]:
    allowed = {r.value for r in roles}

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(
                "role_not_allowed",
                "当前角色无权进行此操作",
                f"Role {user.role} may not do this; allowed: {', '.join(sorted(allowed))}",
            )
        return user

    return check


AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
