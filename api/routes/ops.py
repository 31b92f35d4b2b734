"""Statistics, quota (admin), liveness and readiness."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import Admin, Caller, State
from api.routes.common import errors
from api.schemas import Health, Quota, Ready, Stats
from pipeline import health, stats

router = APIRouter(tags=["operations"])


@router.get("/v1/stats", response_model=Stats, responses=errors(401, 403, 422))
def get_stats(
    principal: Caller,
    state: State,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    all_owners: Annotated[bool, Query(description="every owner's totals (admin tokens only)")] = False,
) -> dict[str, object]:
    """Runs and jobs by status, success rate, mean run time and quota by day and bucket."""
    if all_owners and not principal.admin:
        return JSONResponse(  # type: ignore[return-value]
            status_code=403,
            content={"detail": "all_owners needs an admin token (`ytcollect tokens create --admin`)"},
        )
    return stats.owner_stats(state.ctx, owner_id=None if all_owners else principal.owner_id, days=days)


@router.get("/v1/quota", response_model=Quota, responses=errors(401, 403))
def get_quota(principal: Admin, state: State) -> dict[str, object]:
    """Today's units per API key (by fingerprint), by bucket and method, and when the day resets."""
    return stats.quota(state.ctx)


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process answers (no service is asked)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Ready, responses={503: {"model": Ready}})
def readyz(state: State) -> JSONResponse:
    """Each service this process needs: the database and its migrations, Redis, the broker."""
    checks = health.readiness(state.ctx)
    body = Ready(
        status="ok" if all(c.ok for c in checks) else "unavailable",
        services={c.name: {"ok": c.ok, "detail": c.detail, "latency_ms": c.latency_ms} for c in checks},  # type: ignore[misc]
    )
    return JSONResponse(status_code=200 if body.status == "ok" else 503, content=body.model_dump())
