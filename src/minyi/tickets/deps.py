"""Who is calling, as a `Principal`: a staff or citizen bearer token, or a machine key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from minyi.core.deps import ClockDep, SessionDep
from minyi.core.errors import Unauthorized
from minyi.org import service as org
from minyi.org.auth import oauth2_scheme
from minyi.org.domain import ClientScope
from minyi.tickets.access import Principal


def optional_principal(
    session: SessionDep,
    clock: ClockDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
    x_api_key: Annotated[str | None, Header(description="A machine client's API key")] = None,
) -> Principal:
    """A user with a token, a machine client with a key, or nobody (a citizen on the
    public portal). Bad credentials are refused, never silently ignored."""
    if x_api_key:
        return Principal(session=session, client=org.authenticate_client(session, x_api_key))
    if token:
        return Principal(session=session, user=org.user_for_token(session, token, now=clock.now()))
    return Principal(session=session)


def required_principal(principal: Annotated[Principal, Depends(optional_principal)]) -> Principal:
    if principal.user is None and principal.client is None:
        raise Unauthorized("not_authenticated", "请先登录", "Authentication required")
    return principal


def require_scope(principal: Principal, scope: ClientScope) -> None:
    if principal.client is not None:
        org.ensure_scope(principal.client, scope)


OptionalPrincipal = Annotated[Principal, Depends(optional_principal)]
RequiredPrincipal = Annotated[Principal, Depends(required_principal)]
