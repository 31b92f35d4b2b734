"""What every route is handed: the pipeline Context, the sender and the caller (bearer-token auth)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from pipeline import tokens
from pipeline.context import Context
from pipeline.runs import Sender
from pipeline.tokens import Principal

SESSION_COOKIE = "ytc_session"  # the dashboard's copy of the bearer token (HttpOnly, SameSite=Strict)
_bearer = HTTPBearer(auto_error=False, description="a token from `ytcollect tokens create OWNER`")


@dataclass
class ApiState:
    """Everything the app holds: set once by ``create_app``."""

    ctx: Context
    send: Sender
    # Embedded and bound to loopback: requests without a token act for this owner (an admin).
    local_owner: str | None = None
    feeds: Any = None  # api.live.RunFeeds
    extra: dict[str, Any] = field(default_factory=dict)


def state_of(conn: HTTPConnection) -> ApiState:
    return conn.app.state.api  # type: ignore[no-any-return]


def _loopback(conn: HTTPConnection) -> bool:
    host = conn.client.host if conn.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


def unauthorized(message: str = "a bearer token is required: Authorization: Bearer <token>") -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


async def principal_of(conn: HTTPConnection, token: str | None) -> Principal | None:
    """The caller, from a token (header or dashboard cookie), or the local owner in embedded mode."""
    state = state_of(conn)
    token = token or conn.cookies.get(SESSION_COOKIE)
    if token:
        return await run_in_threadpool(tokens.authenticate, state.ctx.sessions, token)
    if state.local_owner is not None and _loopback(conn):
        return Principal(owner_id=state.local_owner, admin=True)
    return None


async def caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    principal = await principal_of(request, credentials.credentials if credentials else None)
    if principal is None:
        raise unauthorized()
    return principal


async def admin(principal: Annotated[Principal, Depends(caller)]) -> Principal:
    if not principal.admin:
        # Not 404: the route exists for everyone, only its scope is missing.
        raise HTTPException(
            status_code=403, detail="this needs an admin token (`ytcollect tokens create --admin`)"
        )
    return principal


def api_state(request: Request) -> ApiState:
    return state_of(request)


Caller = Annotated[Principal, Depends(caller)]
Admin = Annotated[Principal, Depends(admin)]
State = Annotated[ApiState, Depends(api_state)]
