"""``/v1/watchlists`` and ``/v1/discoveries``: keyword sets, what they found, and cycles started by hand."""

from __future__ import annotations

import csv
import io
import re
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Response

from api.deps import Caller, State
from api.routes.common import checked_id, errors
from api.schemas import (
    CycleStatusOut,
    DiscoveryAccepted,
    DiscoveryPage,
    NewWatchlist,
    StartDiscovery,
    WatchlistEdit,
    WatchlistList,
    WatchlistOut,
)
from pipeline import discovery
from pipeline.discovery.requests import WATCHLIST_SETTINGS, clean_name, clean_settings
from pipeline.errors import CycleNotFound, InvalidRequest, WatchlistNotFound
from pipeline.stages import storable_id

router = APIRouter(tags=["discovery"], responses=errors(401))

WATCHLIST_REF = 200  # a name (100 characters) or an id (a UUID); longer names nothing
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")  # a header is Latin-1: the file name keeps only these


def _not_found(exc: WatchlistNotFound | CycleNotFound) -> HTTPException:
    return HTTPException(status_code=404, detail=str(exc))


def _invalid(exc: InvalidRequest) -> HTTPException:
    return HTTPException(status_code=422, detail=str(exc))


def _taken(name: Any, owner_id: str, state: State, *, other_than: str | None = None) -> bool:
    """Whether the owner already has another watchlist of this name (once cleaned as it would be stored).

    Asked first so a taken name is a 409; the database's unique name still decides a race (then 422).
    """
    try:
        found = discovery.get_watchlist(owner_id, clean_name(name), ctx=state.ctx)
    except (InvalidRequest, WatchlistNotFound):
        return False  # a bad name is answered by the call that follows
    return found["name"] == clean_name(name) and found["id"] != other_than


def _conflict(name: str) -> HTTPException:
    return HTTPException(
        status_code=409, detail=f"a watchlist named {clean_name(name)[:80]!r} already exists"
    )


# --- watchlists -------------------------------------------------------------------------------------------


@router.get("/v1/watchlists", response_model=WatchlistList)
def list_watchlists(principal: Caller, state: State) -> dict[str, object]:
    """The caller's watchlists, by name."""
    return {"items": discovery.list_watchlists(principal.owner_id, ctx=state.ctx)}


@router.post(
    "/v1/watchlists", status_code=201, response_model=WatchlistOut, responses=errors(400, 409, 413, 422)
)
def add_watchlist(body: NewWatchlist, principal: Caller, state: State, response: Response) -> dict[str, Any]:
    """Create a watchlist: a name unique to the caller, its keywords and settings."""
    if _taken(body.name, principal.owner_id, state):
        raise _conflict(body.name)
    try:
        created = discovery.add_watchlist(
            principal.owner_id, body.name, body.keywords, body.settings, ctx=state.ctx
        )
    except InvalidRequest as exc:
        raise _invalid(exc) from None
    # By id: a name may hold a "/", which no path segment can.
    response.headers["Location"] = f"/v1/watchlists/{created['id']}"
    return created


@router.get("/v1/watchlists/{watchlist}", response_model=WatchlistOut, responses=errors(404))
def get_watchlist(watchlist: str, principal: Caller, state: State) -> dict[str, Any]:
    """One of the caller's watchlists, by name or id."""
    try:
        return discovery.get_watchlist(
            principal.owner_id, checked_id(watchlist, "watchlist", WATCHLIST_REF), ctx=state.ctx
        )
    except WatchlistNotFound as exc:
        raise _not_found(exc) from None


@router.patch(
    "/v1/watchlists/{watchlist}", response_model=WatchlistOut, responses=errors(400, 404, 409, 413, 422)
)
def edit_watchlist(watchlist: str, body: WatchlistEdit, principal: Caller, state: State) -> dict[str, Any]:
    """Rename it, replace, add or remove keywords, change settings: all or nothing."""
    ref = checked_id(watchlist, "watchlist", WATCHLIST_REF)
    try:
        clean_settings(body.settings, WATCHLIST_SETTINGS)  # so no setting can pass for a keyword change
        changes = body.model_dump(exclude_unset=True, exclude={"settings"}) | body.settings
        if "name" in changes:
            current = discovery.get_watchlist(principal.owner_id, ref, ctx=state.ctx)
            if _taken(changes["name"], principal.owner_id, state, other_than=current["id"]):
                raise _conflict(changes["name"])
        return discovery.edit_watchlist(principal.owner_id, ref, changes, ctx=state.ctx)
    except WatchlistNotFound as exc:
        raise _not_found(exc) from None
    except InvalidRequest as exc:
        raise _invalid(exc) from None


@router.delete("/v1/watchlists/{watchlist}", status_code=204, responses=errors(404))
def delete_watchlist(watchlist: str, principal: Caller, state: State) -> Response:
    """Delete a watchlist and what it found; its open cycles finish at once, saying why."""
    try:
        discovery.delete_watchlist(
            principal.owner_id, checked_id(watchlist, "watchlist", WATCHLIST_REF), ctx=state.ctx
        )
    except WatchlistNotFound as exc:
        raise _not_found(exc) from None
    return Response(status_code=204)


@router.get(
    "/v1/watchlists/{watchlist}/discoveries",
    response_model=DiscoveryPage,
    responses={**errors(404, 422), 200: {"content": {"text/csv": {}}}},
)
def list_discoveries(
    watchlist: str,
    principal: Caller,
    state: State,
    new: Annotated[bool, Query(description="only the channels new since the last cycle")] = False,
    format: Literal["json", "csv"] = "json",
    limit: Annotated[int, Query(ge=1, le=1_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> object:
    """What the watchlist found, one channel a row: new since the last cycle first, then by score
    (computed by ytcollect). JSON a page at a time, or every row as CSV."""
    ref = checked_id(watchlist, "watchlist", WATCHLIST_REF)
    try:
        rows = discovery.list_discoveries(principal.owner_id, ref, new_only=new, ctx=state.ctx)
    except WatchlistNotFound as exc:
        raise _not_found(exc) from None
    if format == "csv":
        return Response(
            _csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="discoveries-{_SAFE_NAME.sub("_", ref)[:64]}.csv"'
            },
        )
    more = len(rows) > offset + limit
    return {
        "watchlist": ref,
        "new_only": new,
        "items": rows[offset : offset + limit],
        "total": len(rows),
        "offset": offset,
        "limit": limit,
        "next_offset": offset + limit if more else None,
    }


def _csv(rows: list[dict[str, Any]]) -> str:
    """Every row (a watchlist's discoveries are read whole), keywords joined as the CLI joins them."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(discovery.DISCOVERY_CSV_FIELDS), extrasaction="ignore")
    writer.writeheader()
    writer.writerows({**row, "keywords": "; ".join(row["keywords"])} for row in rows)
    return buffer.getvalue()


# --- cycles -------------------------------------------------------------------------------------------


def _path(cycle_id: str) -> str:
    """The cycle's URL path: a client-chosen id may hold any printable character, so it is quoted."""
    return f"/v1/discoveries/{quote(cycle_id, safe='')}"


def _accepted(cycle_id: str, status: str, created: bool) -> DiscoveryAccepted:
    return DiscoveryAccepted(cycle_id=cycle_id, status=status, created=created, status_url=_path(cycle_id))


@router.post(
    "/v1/discoveries",
    status_code=202,
    response_model=DiscoveryAccepted,
    responses=errors(400, 404, 409, 413, 422),
)
def discover(body: StartDiscovery, principal: Caller, state: State, response: Response) -> DiscoveryAccepted:
    """Start a discovery cycle now (manual: it may use the searches kept for people). Send your own
    ``cycle_id`` (a UUID) to make a resend harmless."""
    if body.cycle_id is not None and storable_id(body.cycle_id, 64):  # else discover refuses it below
        try:
            existing = discovery.get_cycle_status(body.cycle_id, ctx=state.ctx)
        except CycleNotFound:
            existing = None
        if existing is not None:
            if existing["owner_id"] != principal.owner_id:
                raise HTTPException(
                    status_code=409, detail="this cycle_id is already taken: choose another UUID"
                )
            response.headers["Location"] = _path(body.cycle_id)
            return _accepted(body.cycle_id, existing["status"], created=False)
    try:
        cycle_id = discovery.discover(
            principal.owner_id,
            body.watchlist,
            body.keywords,
            body.options,
            ctx=state.ctx,
            send=state.send,
            cycle_id=body.cycle_id,
        )
    except WatchlistNotFound as exc:
        raise _not_found(exc) from None
    except InvalidRequest as exc:
        raise _invalid(exc) from None
    response.headers["Location"] = _path(cycle_id)
    return _accepted(cycle_id, "PENDING", created=True)


@router.get("/v1/discoveries/{cycle_id}", response_model=CycleStatusOut, responses=errors(404))
def get_cycle(cycle_id: str, principal: Caller, state: State) -> dict[str, Any]:
    """The cycle's status (why and until when it waits, when it does); its report, new channels first,
    once finished."""
    try:
        return discovery.get_cycle_status(
            checked_id(cycle_id, "discovery cycle"), principal.owner_id, ctx=state.ctx
        )
    except CycleNotFound as exc:
        raise _not_found(exc) from None
