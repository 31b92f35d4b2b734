"""The FastAPI application: routers, error bodies, limits, CORS, the dashboard and the live feeds."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import redis.exceptions as redis_exc
import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import dashboard
from api.deps import ApiState
from api.limits import BodyLimit
from api.live import RunFeeds
from api.metrics import RequestMetrics
from api.routes import channels, discoveries, live, ops, runs
from api.schemas import ErrorBody
from pipeline.context import Context
from pipeline.runs import Sender

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
# A run of 100,000 inputs of ~100 bytes is ~10 MB of JSON; far more is a mistake or an attack.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
# A watchlist or a cycle holds at most 100 keywords of 200 characters: three such lists (an edit's
# keywords, add_keywords, remove_keywords) are under 400 KB even with every character \u-escaped.
DISCOVERY_MAX_BODY_BYTES = 1024 * 1024
DISCOVERY_PATHS = ("/v1/watchlists", "/v1/discoveries")


def _sentence(exc: RequestValidationError) -> str:
    """The first validation problem as one sentence: where it is and what is wrong."""
    errors = exc.errors()
    if not errors:
        return "the request is malformed"
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body") or "body"
    message = str(first.get("msg", "is invalid"))
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{where}: {message}{more}"


def create_app(
    ctx: Context,
    *,
    send: Sender,
    local_owner: str | None = None,
    cors_origins: Sequence[str] = (),
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    metrics: RequestMetrics | None = None,
) -> FastAPI:
    """The app on ``ctx``; ``send`` enqueues the next stages; ``local_owner`` allows token-less loopback use."""
    feeds = RunFeeds(ctx)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        feeds.close()

    app = FastAPI(
        title="ytcollect",
        version="1",
        summary="Resolve YouTube channel inputs, collect their statistics, follow runs live.",
        description=(
            "Every `/v1` route needs `Authorization: Bearer <token>` (from `ytcollect tokens create OWNER`) "
            "and sees only the token owner's runs, channels, watchlists and discovery cycles: another "
            "owner's run, watchlist or cycle is 404."
        ),
        lifespan=lifespan,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.api = ApiState(ctx=ctx, send=send, local_owner=local_owner, feeds=feeds)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _sentence(exc)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the body is not valid JSON"
        return JSONResponse(status_code=exc.status_code, content={"detail": detail}, headers=exc.headers)

    @app.exception_handler(sa_exc.OperationalError)
    @app.exception_handler(redis_exc.ConnectionError)
    @app.exception_handler(redis_exc.TimeoutError)
    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        # The message names hosts and users: the log has the traceback, the caller one sentence.
        log.warning(
            "%s %s: a service is not answering (%s)", request.method, request.url.path, type(exc).__name__
        )
        return JSONResponse(
            status_code=503,
            content={"detail": "a service this API needs is not answering: try again shortly"},
            headers={"Retry-After": "5"},
        )

    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(cors_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        )
    app.add_middleware(
        BodyLimit,
        max_bytes=max_body_bytes,
        by_prefix=dict.fromkeys(DISCOVERY_PATHS, DISCOVERY_MAX_BODY_BYTES),
    )
    if metrics is not None:
        metrics.install(app)
    for module in (runs, live, channels, discoveries, ops):
        app.include_router(module.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    _error_schema(app)
    return app


def _error_schema(app: FastAPI) -> None:
    """Validation errors answer ``{"detail": sentence}``: say so in the OpenAPI document too."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["HTTPValidationError"] = ErrorBody.model_json_schema()
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
