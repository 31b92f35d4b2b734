"""The dashboard: server-rendered pages over the same pipeline functions as the JSON API.

No build step: Jinja templates, one stylesheet, one small script (``static/live.js``) that follows a
run's Server-Sent Events, and charts drawn on the server as SVG (``api.charts``). The browser signs
in by pasting its token once; it is kept in an HttpOnly, SameSite=Strict cookie, so a form posted
from another site carries no credential (and forms also check ``Origin``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api import charts
from api.deps import SESSION_COOKIE, principal_of, state_of
from api.routes.common import checked_id
from pipeline import channels, runs, stats, tokens
from pipeline.errors import InvalidRequest, RunNotFound
from pipeline.tokens import Principal

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters["short"] = charts.short
templates.env.filters["num"] = lambda v: (
    "–" if v is None else (f"{v:,.1f}" if isinstance(v, float) else f"{v:,}")
)
templates.env.filters["when"] = lambda iso: (iso or "")[:19].replace("T", " ")
LIVE_BARS_ON_LIST = 3  # each EventSource holds a connection; browsers allow six per host over HTTP/1.1
STATUS_ORDER = ("DONE", "IN_PROGRESS", "WAITING_QUOTA", "NEEDS_SEARCH", "FAILED", "CANCELLED")


class LoginRequired(Exception):
    pass


async def _who(request: Request) -> Principal:
    principal = await principal_of(request, None)
    if principal is None:
        raise LoginRequired()
    return principal


def _same_origin(request: Request) -> None:
    """Forms are accepted only from this site (the cookie is SameSite=Strict too)."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise HTTPException(status_code=403, detail="cross-site form refused")


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def _login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _safe_next(target: str | None) -> str:
    # Only a local path: never an open redirect to another site.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


# --- sign in ------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _page(request, "login.html", next=_safe_next(next), error=None, principal=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    _same_origin(request)
    principal = await run_in_threadpool(tokens.authenticate, state_of(request).ctx.sessions, token.strip())
    if principal is None:
        return _page(
            request, "login.html", 401, next=_safe_next(next), error="that token is not valid", principal=None
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=30 * 86_400,
    )
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    _same_origin(request)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- runs ---------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, offset: int = 0) -> Response:
    try:
        principal = await _who(request)
    except LoginRequired:
        return _login_redirect(request)
    ctx = state_of(request).ctx
    offset = max(0, min(offset, 1_000_000_000))
    page = await run_in_threadpool(
        lambda: runs.list_runs(principal.owner_id, offset=offset, limit=25, ctx=ctx)
    )
    live = 0
    for item in page["items"]:
        item["live"] = item["run_status"] in ("PENDING", "RUNNING") and live < LIVE_BARS_ON_LIST
        live += int(item["live"])
    return _page(request, "runs.html", principal=principal, page=page, error=None, form={})


@router.post("/runs", response_class=HTMLResponse)
async def start_from_form(
    request: Request,
    inputs: Annotated[str, Form()] = "",
    analysis_id: Annotated[str, Form()] = "dashboard",
    allow_search: Annotated[bool, Form()] = False,
) -> Response:
    _same_origin(request)
    try:
        principal = await _who(request)
    except LoginRequired:
        return _login_redirect(request)
    state = state_of(request)
    lines = [line for line in inputs.splitlines() if line.strip()]
    options: dict[str, Any] = {"allow_search": True} if allow_search else {}
    try:
        if not lines:
            raise InvalidRequest("paste at least one channel input, one per line")
        run_id = await run_in_threadpool(
            lambda: runs.start_run(
                analysis_id.strip() or "dashboard",
                principal.owner_id,
                lines,
                options,
                ctx=state.ctx,
                send=state.send,
            )
        )
    except InvalidRequest as exc:
        page = await run_in_threadpool(lambda: runs.list_runs(principal.owner_id, limit=25, ctx=state.ctx))
        form = {"inputs": inputs, "analysis_id": analysis_id, "allow_search": allow_search}
        return _page(request, "runs.html", 422, principal=principal, page=page, error=str(exc), form=form)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


def _counts(status: dict[str, Any]) -> list[tuple[str, int]]:
    counts = (status.get("summary") or {}).get("counts_by_status") or status["status_counts"]
    return sorted(
        counts.items(), key=lambda kv: (STATUS_ORDER.index(kv[0]) if kv[0] in STATUS_ORDER else 99, kv[0])
    )


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(request: Request, run_id: str) -> Response:
    try:
        principal = await _who(request)
    except LoginRequired:
        return _login_redirect(request)
    ctx = state_of(request).ctx
    try:
        status = await run_in_threadpool(
            runs.get_run_status, checked_id(run_id, "run"), principal.owner_id, ctx=ctx
        )
    except (RunNotFound, HTTPException):
        return _page(request, "not_found.html", 404, principal=principal, what="run", ident=run_id)
    summary = status.get("summary") or {}
    units = summary.get("quota_units") or status["quota_units"]
    channels_ranked = summary.get("channels") or []
    chart = charts.bar_chart(
        [(c["title"] or c["channel_id"], c["subscribers"]) for c in channels_ranked[:12]],
        title="subscribers of the channels found",
    )
    views_chart = charts.bar_chart(
        [(c["title"] or c["channel_id"], c["views_per_video"]) for c in channels_ranked[:12]],
        title="views per video",
        none_label="–",
    )
    return _page(
        request,
        "run.html",
        principal=principal,
        run=status,
        counts=_counts(status),
        summary=summary,
        buckets=stats.by_bucket(units.get("by_method") or {}),
        units_total=units.get("total", 0),
        channels=channels_ranked,
        attention=summary.get("needs_attention") or [],
        chart=chart,
        views_chart=views_chart,
        live=status["run_status"] in ("PENDING", "RUNNING"),
        nothing_retried=request.query_params.get("retried") == "none",
        negative_cache_hours=ctx.settings.negative_cache_hours,
    )


@router.post("/runs/{run_id}/retry")
async def retry_from_form(
    request: Request, run_id: str, allow_search: Annotated[bool, Form()] = False
) -> Response:
    _same_origin(request)
    try:
        principal = await _who(request)
    except LoginRequired:
        return _login_redirect(request)
    state = state_of(request)
    try:
        new_id = await run_in_threadpool(
            lambda: runs.retry_run(
                checked_id(run_id, "run"),
                principal.owner_id,
                allow_search=allow_search,
                ctx=state.ctx,
                send=state.send,
            )
        )
    except (RunNotFound, HTTPException):
        return _page(request, "not_found.html", 404, principal=principal, what="run", ident=run_id)
    except InvalidRequest:
        new_id = None
    if new_id is None:  # every input would only fail the same way again: say so on the run's page
        return RedirectResponse(f"/runs/{run_id}?retried=none", status_code=303)
    return RedirectResponse(f"/runs/{new_id}", status_code=303)


@router.post("/runs/{run_id}/cancel")
async def cancel_from_form(request: Request, run_id: str) -> Response:
    _same_origin(request)
    try:
        principal = await _who(request)
    except LoginRequired:
        return _login_redirect(request)
    ctx = state_of(request).ctx
    try:
        await run_in_threadpool(runs.cancel_run, checked_id(run_id, "run"), principal.owner_id, ctx=ctx)
    except (RunNotFound, HTTPException):
        return _page(request, "not_found.html", 404, principal=principal, what="run", ident=run_id)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


# --- channels and quota -------------------------------------------------------------------------


@router.get("/channels/{channel_id}", response_class=HTMLResponse)
async def channel_page(request: Request, channel_id: str, interval: str = "day") -> Response:
    try:
        principal = await _who(request)
    except LoginRequired:
        return _login_redirect(request)
    ctx = state_of(request).ctx
    interval = interval if interval in channels.INTERVALS else "day"
    try:
        cid = checked_id(channel_id, "channel")
        channel = await run_in_threadpool(lambda: channels.get_channel(ctx, cid, owner_id=principal.owner_id))
        hist = await run_in_threadpool(
            lambda: channels.get_channel_history(ctx, cid, owner_id=principal.owner_id, interval=interval)
        )
        videos = await run_in_threadpool(
            lambda: channels.channel_videos(ctx, cid, owner_id=principal.owner_id)
        )
    except (channels.ChannelNotFound, HTTPException):
        return _page(request, "not_found.html", 404, principal=principal, what="channel", ident=channel_id)
    points = hist["points"]

    def series(name: str) -> list[tuple[datetime, float | None]]:
        return [(datetime.fromisoformat(p["fetched_at"]), p[name]) for p in points]

    return _page(
        request,
        "channel.html",
        principal=principal,
        channel=channel,
        points=points,
        interval=interval,
        videos=videos["videos"],
        subs_chart=charts.line_chart([("subscribers", series("subscribers"))], title="subscribers"),
        views_chart=charts.line_chart([("views", series("views"))], title="views"),
    )


@router.get("/quota", response_class=HTMLResponse)
async def quota_page(request: Request) -> Response:
    try:
        principal = await _who(request)
    except LoginRequired:
        return _login_redirect(request)
    ctx = state_of(request).ctx
    if not principal.admin:
        return _page(
            request, "not_found.html", 403, principal=principal, what="page", ident="quota (admins only)"
        )
    today = await run_in_threadpool(stats.quota, ctx)
    history = await run_in_threadpool(lambda: stats.owner_stats(ctx, owner_id=None, days=14))
    chart = charts.bar_chart(
        [(d["day"], d["units"]) for d in history["quota_by_day"]], title="units per day (UTC), all owners"
    )
    return _page(request, "quota.html", principal=principal, today=today, history=history, chart=chart)
